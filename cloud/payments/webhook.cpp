// Signing and verifying payment webhooks; see webhook.hpp.
#include "cloud/payments/webhook.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <charconv>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/security/encoding.hpp"

namespace shopeasy::cloud::payments {
namespace {

constexpr std::size_t kMaxHeaderBytes = 1024;
constexpr std::size_t kMaxIdBytes = 128;
constexpr std::array<const char*, 6> kReasons = {
    "missing_header", "malformed_header", "bad_signature", "timestamp", "replay", "malformed_body"};

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  std::size_t len = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, sizeof(out),
                &len) == nullptr) {
    return {};  // compared against a 32-byte MAC, so an empty result never matches
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string signed_payload(std::int64_t t, std::string_view body) {
  std::string payload = std::to_string(t);
  payload += '.';
  payload.append(body);
  return payload;
}

bool parse_int64(std::string_view text, std::int64_t* out) {
  if (text.empty() || text.size() > 12) return false;  // seconds fit in 12 digits for ages
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

struct ParsedHeader {
  std::int64_t t = 0;
  std::vector<std::string> v1;  // raw MAC bytes; several while a secret is rotated
};

// "t=<digits>,v1=<64 hex>[,v1=...]"; unknown schemes are ignored so a gateway can add
// one without breaking receivers.
StatusOr<ParsedHeader> parse_header(std::string_view header, std::string_view name) {
  auto bad = [name](std::string what) {
    return invalid_argument("malformed " + std::string(name) + " header: " + what,
                            std::string(name));
  };
  if (header.size() > kMaxHeaderBytes) return bad("longer than 1024 bytes");
  ParsedHeader parsed;
  bool have_t = false;
  while (!header.empty()) {
    std::size_t comma = header.find(',');
    std::string_view item = trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    std::size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0) return bad("expected key=value items");
    std::string_view key = item.substr(0, eq);
    std::string_view value = item.substr(eq + 1);
    if (key == "t") {
      if (have_t) return bad("t given twice");
      if (!parse_int64(value, &parsed.t)) return bad("t is not a unix time in seconds");
      have_t = true;
    } else if (key == "v1") {
      if (value.size() != 64) return bad("v1 is not 64 hex digits");
      StatusOr<std::string> mac = security::hex_decode(value);
      if (!mac.ok()) return bad("v1 is not 64 hex digits");
      parsed.v1.push_back(std::move(mac).value());
    }
  }
  if (!have_t) return bad("no t= timestamp");
  if (parsed.v1.empty()) return bad("no v1= signature");
  return parsed;
}

StatusOr<PaymentEvent> parse_event(std::string_view body) {
  auto bad = [](std::string what, std::string field) {
    return invalid_argument("malformed event body: " + what, std::move(field));
  };
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return bad("not JSON", "");
  if (!doc.is_object()) return bad("not a JSON object", "");
  auto text = [&](const nlohmann::json& obj, const char* key, std::string field,
                  std::string* out) -> Status {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_string()) return bad(field + " must be a string", field);
    const auto& s = it->get_ref<const std::string&>();
    if (s.empty() || s.size() > kMaxIdBytes) {
      return bad(field + " must have 1 to 128 characters", field);
    }
    *out = s;
    return Status::ok();
  };
  PaymentEvent event;
  SHOPEASY_RETURN_IF_ERROR(text(doc, "id", "id", &event.event_id));
  SHOPEASY_RETURN_IF_ERROR(text(doc, "type", "type", &event.type));
  auto created = doc.find("created");
  if (created == doc.end() || !created->is_number_integer()) {
    return bad("created must be an integer", "created");
  }
  event.created_s = created->get<std::int64_t>();
  auto data = doc.find("data");
  if (data == doc.end() || !data->is_object()) return bad("data must be an object", "data");
  SHOPEASY_RETURN_IF_ERROR(text(*data, "intent_id", "data.intent_id", &event.intent_id));
  SHOPEASY_RETURN_IF_ERROR(text(*data, "order_id", "data.order_id", &event.order_id));
  auto amount = data->find("amount_cents");
  if (amount == data->end() || !amount->is_number_integer()) {
    return bad("data.amount_cents must be an integer", "data.amount_cents");
  }
  event.amount_cents = amount->get<std::int64_t>();
  if (event.amount_cents <= 0 || event.amount_cents > kMaxAmountCents) {
    return bad("data.amount_cents out of range", "data.amount_cents");
  }
  return event;
}

std::int64_t unix_seconds(const Clock& clock) {
  return std::chrono::duration_cast<std::chrono::seconds>(clock.wall_now().time_since_epoch())
      .count();
}

}  // namespace

std::string_view signature_header_name(WebhookScheme scheme) {
  switch (scheme) {
    case WebhookScheme::kStripe:
      return kStripeSignatureHeader;
    case WebhookScheme::kRazorpay:
      return kRazorpaySignatureHeader;
    case WebhookScheme::kShopEasy:
      break;
  }
  return kSignatureHeader;
}

std::string webhook_hmac_hex(std::string_view secret, std::int64_t t, std::string_view body) {
  return security::hex_encode(hmac_sha256(secret, signed_payload(t, body)));
}

std::string webhook_signature_header(std::string_view secret, std::int64_t t,
                                     std::string_view body) {
  return "t=" + std::to_string(t) + ",v1=" + webhook_hmac_hex(secret, t, body);
}

StatusOr<std::unique_ptr<WebhookVerifier>> WebhookVerifier::create(WebhookVerifierOptions options,
                                                                   log::Logger logger,
                                                                   metrics::Registry& metrics) {
  if (options.secret.size() < kMinSecretBytes) {
    return invalid_argument("webhook secret must have at least 32 bytes", "webhook_secret");
  }
  const auto max_tolerance = options.scheme == WebhookScheme::kRazorpay
                                 ? std::chrono::seconds(std::chrono::hours(24 * 7))
                                 : std::chrono::seconds(std::chrono::hours(1));
  if (options.tolerance < std::chrono::seconds(1) || options.tolerance > max_tolerance) {
    return invalid_argument(options.scheme == WebhookScheme::kRazorpay
                                ? "webhook tolerance must be between 1 s and 7 days"
                                : "webhook tolerance must be between 1 s and 1 h",
                            "tolerance");
  }
  if (options.max_remembered == 0) {
    return invalid_argument("max_remembered must be positive", "max_remembered");
  }
  if (!options.clock) options.clock = std::make_shared<SystemClock>();
  std::unique_ptr<WebhookVerifier> verifier(
      new WebhookVerifier(std::move(options), std::move(logger), metrics));
  if (!verifier->options_.db_path.empty()) {
    StatusOr<db::Database> db = db::Database::open(verifier->options_.db_path);
    if (!db.ok()) return db.status();
    SHOPEASY_RETURN_IF_ERROR(
        db->exec("CREATE TABLE IF NOT EXISTS webhook_seen ("
                 " event_id TEXT PRIMARY KEY, signed_t INTEGER NOT NULL,"
                 " seen_s INTEGER NOT NULL);"
                 "CREATE INDEX IF NOT EXISTS webhook_seen_by_time ON webhook_seen(seen_s);"));
    // Not yet shared; locked only so the analysis sees db_ written under its lock.
    sync::MutexLock lock(verifier->mutex_);
    verifier->db_ = std::move(db).value();
  }
  return verifier;
}

WebhookVerifier::WebhookVerifier(WebhookVerifierOptions options, log::Logger logger,
                                 metrics::Registry& metrics)
    : options_(std::move(options)),
      logger_(std::move(logger)),
      refused_family_(metrics.counter_family("shopeasy_payment_webhooks_refused_total",
                                             "Incoming payment webhooks refused, by reason.",
                                             {"reason"})),
      accepted_(metrics.counter("shopeasy_payment_webhooks_accepted_total",
                                "Incoming payment webhooks verified and handled.")),
      redeliveries_(metrics.counter(
          "shopeasy_payment_webhooks_redelivered_total",
          "Incoming payment webhooks for events already handled, acknowledged again.")) {
  for (const char* reason : kReasons) refused_family_.with({reason});  // export zeros
}

WebhookVerifier::~WebhookVerifier() = default;

std::uint64_t WebhookVerifier::refused(std::string_view reason) const {
  return refused_family_.with({std::string(reason)}).value();
}

Status WebhookVerifier::refuse(std::string_view reason, Status status) {
  refused_family_.with({std::string(reason)}).inc();
  std::uint64_t suppressed = 0;
  if (log_limiter_.allow(options_.clock->mono_now(), &suppressed)) {
    logger_.warn("webhook_refused",
                 {{"reason", reason}, {"message", status.message()}, {"suppressed", suppressed}});
  }
  return status;
}

StatusOr<PaymentEvent> WebhookVerifier::verify(std::string_view signature_header,
                                               std::string_view body) {
  return verify(WebhookDelivery{signature_header, {}, body});
}

StatusOr<PaymentEvent> WebhookVerifier::verify(const WebhookDelivery& delivery) {
  bool redelivery = false;
  StatusOr<PaymentEvent> event = check(delivery, &redelivery);
  if (event.ok() && redelivery) {
    return refuse("replay", Status(StatusCode::kAlreadyExists,
                                   "event " + event->event_id + " was already processed"));
  }
  return event;
}

StatusOr<PaymentEvent> WebhookVerifier::check(const WebhookDelivery& delivery, bool* redelivery) {
  *redelivery = false;
  const std::string header_name(signature_header_name(options_.scheme));
  const std::string_view signature = trim(delivery.signature);
  const std::string_view body = delivery.body;
  if (signature.empty()) {
    return refuse("missing_header",
                  Status(StatusCode::kUnauthenticated, "missing " + header_name + " header"));
  }
  const bool razorpay = options_.scheme == WebhookScheme::kRazorpay;
  std::int64_t signed_t = 0;  // the signature's time; Razorpay's is the event's created_at
  bool match = false;
  if (razorpay) {
    StatusOr<std::string> mac = signature.size() == 64
                                    ? security::hex_decode(signature)
                                    : StatusOr<std::string>(invalid_argument("length"));
    if (!mac.ok()) {
      return refuse(
          "malformed_header",
          invalid_argument("malformed " + header_name + " header: not 64 hex digits", header_name));
    }
    const std::string expected = hmac_sha256(options_.secret, body);
    match = mac->size() == expected.size() &&
            CRYPTO_memcmp(mac->data(), expected.data(), expected.size()) == 0;
  } else {
    StatusOr<ParsedHeader> header = parse_header(signature, header_name);
    if (!header.ok()) return refuse("malformed_header", header.status());
    const std::string expected = hmac_sha256(options_.secret, signed_payload(header->t, body));
    for (const std::string& mac : header->v1) {
      // Constant time, so the comparison leaks nothing about how much of a guess matched.
      if (mac.size() == expected.size() &&
          CRYPTO_memcmp(mac.data(), expected.data(), expected.size()) == 0) {
        match = true;
      }
    }
    signed_t = header->t;
  }
  if (!match) {
    return refuse("bad_signature", Status(StatusCode::kUnauthenticated,
                                          "webhook signature does not match the payload"));
  }

  const std::int64_t now = unix_seconds(*options_.clock);
  const std::int64_t tolerance = options_.tolerance.count();
  auto check_time = [&](std::int64_t t) -> Status {
    const char* what = razorpay ? "webhook event created_at" : "webhook timestamp";
    if (t < now - tolerance) {
      return refuse("timestamp", Status(StatusCode::kUnauthenticated,
                                        std::string(what) + " is " + std::to_string(now - t) +
                                            " s old, outside the " + std::to_string(tolerance) +
                                            " s tolerance"));
    }
    if (t > now + tolerance) {
      return refuse("timestamp", Status(StatusCode::kUnauthenticated,
                                        std::string(what) + " is " + std::to_string(t - now) +
                                            " s in the future, outside the " +
                                            std::to_string(tolerance) + " s tolerance"));
    }
    return Status::ok();
  };
  if (!razorpay) SHOPEASY_RETURN_IF_ERROR(check_time(signed_t));

  StatusOr<PaymentEvent> event =
      options_.parser ? options_.parser(body, delivery.event_id) : parse_event(body);
  if (!event.ok()) return refuse("malformed_body", event.status());
  if (razorpay) {
    signed_t = event->created_s;
    SHOPEASY_RETURN_IF_ERROR(check_time(signed_t));
  }

  StatusOr<std::optional<Seen>> seen = lookup(event->event_id);
  if (!seen.ok()) return seen.status();
  if (seen->has_value()) {
    // Razorpay resends the very same signed body when it missed our acknowledgement, so
    // a repeat is acknowledged without being handled again; a captured copy gains an
    // attacker nothing more than that.
    if (!razorpay && (*seen)->signed_t >= signed_t) {
      return refuse("replay", Status(StatusCode::kAlreadyExists,
                                     "replayed webhook: event " + event->event_id +
                                         " with this signature was already accepted"));
    }
    *redelivery = true;
  }
  return event;
}

StatusOr<std::optional<WebhookVerifier::Seen>> WebhookVerifier::lookup(
    const std::string& event_id) {
  sync::MutexLock lock(mutex_);
  forget_expired(unix_seconds(*options_.clock));
  if (db_) {
    db::Query q =
        db_->query("SELECT signed_t, seen_s FROM webhook_seen WHERE event_id = ?", event_id);
    std::optional<Seen> found;
    if (const db::Statement* row = q.next()) {
      found = Seen{row->column_int64(0), row->column_int64(1)};
    }
    if (!q.status().is_ok()) return q.status();
    return found;
  }
  auto it = seen_.find(event_id);
  if (it == seen_.end()) return std::optional<Seen>();
  return std::optional<Seen>(it->second);
}

void WebhookVerifier::forget_expired(std::int64_t now_s) {
  // Twice the tolerance: a captured request is refused by its timestamp by then.
  const std::int64_t cutoff = now_s - 2 * options_.tolerance.count();
  if (db_) {
    if (now_s - last_prune_s_ < 60) return;
    last_prune_s_ = now_s;
    Status pruned = db_->run("DELETE FROM webhook_seen WHERE seen_s < ?", cutoff);
    if (!pruned.is_ok()) logger_.warn("webhook_seen_prune_failed", {{"error", pruned.message()}});
    return;
  }
  while (!seen_order_.empty() && seen_order_.front().first < cutoff) {
    seen_.erase(seen_order_.front().second);
    seen_order_.pop_front();
  }
}

Status WebhookVerifier::mark_seen(const PaymentEvent& event) {
  sync::MutexLock lock(mutex_);
  const std::int64_t now = unix_seconds(*options_.clock);
  // The newest signature time still acceptable now. Every copy of this delivery (and any
  // other signed so far) is at or below it and counts as a replay; only a delivery the
  // gateway signs after that is a redelivery, acknowledged without handling it again.
  const std::int64_t signed_t = now + options_.tolerance.count();
  if (db_) {
    return db_->run(
        "INSERT INTO webhook_seen(event_id, signed_t, seen_s) VALUES(?, ?, ?) "
        "ON CONFLICT(event_id) DO UPDATE SET signed_t = excluded.signed_t, seen_s = "
        "excluded.seen_s",
        event.event_id, signed_t, now);
  }
  forget_expired(now);
  if (seen_.size() >= options_.max_remembered && !seen_.contains(event.event_id)) {
    return Status(StatusCode::kResourceExhausted,
                  "too many recent webhook events remembered; retry later");
  }
  auto [it, inserted] = seen_.insert_or_assign(event.event_id, Seen{signed_t, now});
  (void)it;
  if (inserted) seen_order_.emplace_back(now, event.event_id);
  return Status::ok();
}

bool WebhookVerifier::claim(const std::string& event_id) {
  sync::MutexLock lock(mutex_);
  return in_flight_.insert(event_id).second;
}

void WebhookVerifier::release(const std::string& event_id) {
  sync::MutexLock lock(mutex_);
  in_flight_.erase(event_id);
}

void register_webhook_route(http::HttpServer& server, WebhookVerifier& verifier,
                            std::function<Status(const PaymentEvent&)> on_event) {
  server.route(
      "POST", "/v1/payments/webhook", http::Access::public_route(),
      [&verifier, on_event = std::move(on_event)](const http::Request& req) {
        bool redelivery = false;
        const std::string signature = req.header(signature_header_name(verifier.options_.scheme));
        const std::string event_id = req.header(kRazorpayEventIdHeader);
        StatusOr<PaymentEvent> event =
            verifier.check(WebhookDelivery{signature, event_id, req.body}, &redelivery);
        if (!event.ok()) return http::Response::error(event.status());
        if (redelivery) {
          // Handled before; the gateway missed our acknowledgement. Acknowledge again
          // without handling it twice.
          verifier.redeliveries_.inc();
          return http::Response::json(200, {{"received", true}, {"duplicate", true}});
        }
        if (!verifier.claim(event->event_id)) {
          return http::Response::error(
              conflict("event " + event->event_id + " is being handled; retry later"));
        }
        Status handled = on_event(*event);
        if (handled.is_ok()) handled = verifier.mark_seen(*event);
        verifier.release(event->event_id);
        if (!handled.is_ok()) {
          verifier.logger_.warn("webhook_handler_failed", {{"event_id", event->event_id},
                                                           {"type", event->type},
                                                           {"error", handled.to_string()}});
          // 503 whatever the cause: the gateway retries, and the event was not remembered.
          return http::Response::error(
              unavailable("payment event not handled: " + handled.message()));
        }
        verifier.accepted_.inc();
        verifier.logger_.info("webhook_accepted", {{"event_id", event->event_id},
                                                   {"type", event->type},
                                                   {"intent_id", event->intent_id}});
        return http::Response::json(200, {{"received", true}});
      });
}

}  // namespace shopeasy::cloud::payments
