#include "cloud/notify/outbox_rules.hpp"

#include <algorithm>

#include "cloud/notify/notification_text.hpp"
#include "cloud/storage/order_rules.hpp"

namespace shopeasy::cloud::notify {

const std::vector<std::string>& channel_names() {
  static const std::vector<std::string> names = {std::string(kSms), std::string(kWebhook)};
  return names;
}

const std::vector<std::string>& event_kinds() {
  static const std::vector<std::string> kinds = {
      "confirmed", "packed", "out_for_delivery", "delivered", "cancelled", "refunded", "failed"};
  return kinds;
}

Attempt classify_http(int status) {
  if (status >= 200 && status < 300) return Attempt::kDelivered;
  if (status == 408 || status == 429 || status >= 500) return Attempt::kTransient;
  // Any other answer (a 4xx, or a redirect we do not follow) will not change by itself.
  return Attempt::kPermanent;
}

Attempt classify_status(const Status& status) {
  if (status.is_ok()) return Attempt::kDelivered;
  return status.code() == StatusCode::kInvalidArgument ? Attempt::kPermanent : Attempt::kTransient;
}

std::int64_t backoff_ms(std::int64_t attempts, const RetryPolicy& policy, std::mt19937_64& rng) {
  const std::int64_t base = std::max<std::int64_t>(policy.base_ms, 1);
  // Doubling stops once past the cap, so the shift cannot overflow.
  std::int64_t ceiling = base;
  for (std::int64_t i = 1; i < attempts && ceiling < policy.cap_ms; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, policy.cap_ms);
  std::uniform_int_distribution<std::int64_t> wait(0, std::max<std::int64_t>(ceiling, 0));
  return wait(rng);
}

storage::NotificationOutcome decide(const storage::NotificationRow& row, Attempt attempt,
                                    const std::string& error, std::int64_t now_ms,
                                    const RetryPolicy& policy, std::mt19937_64& rng) {
  storage::NotificationOutcome out{.id = row.id,
                                   .state = "pending",
                                   .attempts = row.attempts + 1,
                                   .next_at_ms = row.next_at_ms,
                                   .error = error};
  switch (attempt) {
    case Attempt::kDelivered:
      out.state = "sent";
      out.error.clear();
      return out;
    case Attempt::kPermanent:
      out.state = "failed";
      return out;
    case Attempt::kTransient:
      break;
  }
  const std::int64_t next = now_ms + backoff_ms(out.attempts, policy, rng);
  if (next - row.created_at_ms > policy.max_age_ms) {
    out.state = "dead";
    return out;
  }
  out.next_at_ms = next;
  return out;
}

bool Preferences::allows(std::string_view channel, std::string_view kind) const {
  auto c = channels.find(std::string(channel));
  if (c != channels.end() && !c->second) return false;
  auto e = events.find(std::string(kind));
  return e == events.end() || e->second;
}

nlohmann::json Preferences::to_json() const { return {{"channels", channels}, {"events", events}}; }

Preferences default_preferences() {
  Preferences p;
  for (const std::string& c : channel_names()) p.channels[c] = true;
  for (const std::string& k : event_kinds()) p.events[k] = true;
  return p;
}

namespace {

Status read_switches(const nlohmann::json& body, const std::string& group,
                     const std::vector<std::string>& known, std::map<std::string, bool>& out) {
  if (!body.contains(group)) return Status::ok();
  const nlohmann::json& j = body.at(group);
  if (!j.is_object()) return invalid_argument("must be an object", group);
  for (const auto& [name, value] : j.items()) {
    const std::string field = group + "." + name;
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string list;
      for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
      return invalid_argument("unknown " + group.substr(0, group.size() - 1) + "; known: " + list,
                              field);
    }
    if (!value.is_boolean()) return invalid_argument("must be true or false", field);
    out[name] = value.get<bool>();
  }
  return Status::ok();
}

}  // namespace

StatusOr<Preferences> parse_preferences(const nlohmann::json& body) {
  if (!body.is_object()) return invalid_argument("must be a JSON object", "body");
  for (const auto& [key, value] : body.items()) {
    (void)value;
    if (key != "channels" && key != "events") {
      return invalid_argument("unknown field; expected channels and/or events", key);
    }
  }
  Preferences p = default_preferences();
  SHOPEASY_RETURN_IF_ERROR(read_switches(body, "channels", channel_names(), p.channels));
  SHOPEASY_RETURN_IF_ERROR(read_switches(body, "events", event_kinds(), p.events));
  return p;
}

Preferences stored_preferences(const nlohmann::json& stored) {
  Preferences p = default_preferences();
  auto copy = [](const nlohmann::json& j, std::map<std::string, bool>& out) {
    if (!j.is_object()) return;
    for (const auto& [name, value] : j.items()) {
      if (out.count(name) != 0 && value.is_boolean()) out[name] = value.get<bool>();
    }
  };
  if (stored.is_object()) {
    if (stored.contains("channels")) copy(stored["channels"], p.channels);
    if (stored.contains("events")) copy(stored["events"], p.events);
  }
  return p;
}

nlohmann::json webhook_payload(const storage::NotificationRow& row) {
  nlohmann::json data = {{"order_id", row.order_id},
                         {"customer_id", row.customer_id},
                         {"event_seq", row.event_seq},
                         {"status", row.body.value("status", row.kind)}};
  for (const char* key : {"eta_ms", "reason", "store_id", "runner_id", "at_ms"}) {
    if (row.body.contains(key)) data[key] = row.body[key];
  }
  return {{"id", row.dedupe_key},
          {"type", "order." + row.kind},
          {"created_at_ms", row.created_at_ms},
          {"data", std::move(data)}};
}

std::string sms_text(const storage::NotificationRow& row) {
  return notification_text(row.kind, row.order_id, row.body, row.created_at_ms);
}

}  // namespace shopeasy::cloud::notify
