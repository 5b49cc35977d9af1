#include "edge/pricing/pricing_follower.hpp"

#include <algorithm>

#include "common/wire/json_fields.hpp"

namespace shopeasy::edge::pricing {

PricingFollower::PricingFollower(PricingFollowerOptions options, store::EdgeStore& store,
                                 events::EventBus& bus, const Clock& clock, log::Logger logger,
                                 metrics::Registry& metrics)
    : options_(std::move(options)),
      store_(store),
      bus_(bus),
      clock_(clock),
      logger_(std::move(logger)),
      backoff_(options_.min_backoff),
      views_(metrics.counter("edge_pricing_views_received_total",
                             "New versions of the cloud's pricing view received")),
      failures_(metrics.counter_family("edge_pricing_failures_total",
                                       "Pricing view requests that failed, by reason", {"reason"})),
      age_gauge_(metrics.gauge_fn(
          "edge_pricing_view_age_seconds",
          "Age of the pricing view this store holds (-1: none yet)", [this] {
            const PricingState s = state();
            if (s.received_ms == 0) return -1.0;
            return static_cast<double>(to_unix_ms(clock_.wall_now()) - s.received_ms) / 1000.0;
          })) {}

PricingFollower::~PricingFollower() { stop(); }

Status PricingFollower::load_stored() {
  struct Stored {
    std::string body;
    std::int64_t received_ms = 0;
  };
  auto stored = store_.read([](db::Database& db) -> StatusOr<std::optional<Stored>> {
    auto q = db.query("SELECT body, received_ms FROM pricing_view WHERE id = 1");
    const db::Statement* row = q.next();
    if (row == nullptr) {
      SHOPEASY_RETURN_IF_ERROR(q.status());
      return std::optional<Stored>();
    }
    return std::optional<Stored>(Stored{row->column_text(0), row->column_int64(1)});
  });
  if (!stored.ok()) return stored.status();
  if (!*stored) return Status::ok();
  auto view = wire::parse_json((*stored)->body, 64u << 20);
  if (!view.ok() || !check_view(*view, options_.store_id).is_ok()) {
    // Not fatal: the next answer from the cloud replaces it.
    logger_.warn("pricing_view_unreadable", {{"effect", "ignored until the cloud answers"}});
    return Status::ok();
  }
  shopeasy::sync::MutexLock lock(mutex_);
  state_.view = std::move(*view);
  state_.received_ms = (*stored)->received_ms;
  return Status::ok();
}

Status PricingFollower::start() {
  SHOPEASY_RETURN_IF_ERROR(load_stored());
  logger_.info("pricing_follow_starting", {{"cloud", options_.cloud_url}});
  thread_ = std::thread([this] { run(); });
  return Status::ok();
}

void PricingFollower::stop() {
  if (stop_.exchange(true)) return;
  {
    shopeasy::sync::MutexLock lock(client_mutex_);
    if (client_) client_->cancel();  // a request the cloud holds open ends now
  }
  {
    // pause() reads stop_ under mutex_: taking it here means the thread is either not yet
    // checking (and will see stop_) or already waiting (and gets the notify).
    shopeasy::sync::MutexLock lock(mutex_);
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PricingFollower::pause(std::chrono::milliseconds d) {
  const auto deadline = std::chrono::steady_clock::now() + d;
  shopeasy::sync::MutexLock lock(mutex_);
  while (!stop_.load()) {
    if (wake_.wait_until(mutex_, deadline) == std::cv_status::timeout) return;
  }
}

std::chrono::milliseconds PricingFollower::next_backoff() {
  std::uniform_int_distribution<std::int64_t> pick(
      options_.min_backoff.count(), std::max(options_.min_backoff.count(), backoff_.count()));
  const std::chrono::milliseconds wait(pick(rng_));
  backoff_ = std::min(backoff_ * 2, options_.max_backoff);
  return wait;
}

Status PricingFollower::check_view(const nlohmann::json& view, const std::string& store_id) {
  if (!view.is_object()) return invalid_argument("the pricing view must be an object");
  if (!view.contains("version") || !view["version"].is_string() ||
      view["version"].get<std::string>().empty() ||
      view["version"].get<std::string>().size() > 32) {
    return invalid_argument("must be a string of 1 to 32 characters", "version");
  }
  if (view.value("store_id", "") != store_id) {
    return invalid_argument("is not this store's", "store_id");
  }
  if (!view.contains("enabled") || !view["enabled"].is_boolean()) {
    return invalid_argument("must be true or false", "enabled");
  }
  if (!view.contains("delivery_fee") || !view["delivery_fee"].is_object() ||
      !view["delivery_fee"].contains("amount_cents") ||
      !view["delivery_fee"]["amount_cents"].is_number_integer()) {
    return invalid_argument("must be an object with amount_cents", "delivery_fee");
  }
  for (const char* list : {"prices", "markdowns", "overrides"}) {
    if (!view.contains(list) || !view[list].is_array()) {
      return invalid_argument("must be an array", list);
    }
  }
  return Status::ok();
}

StatusOr<bool> PricingFollower::follow_once(std::chrono::milliseconds wait) {
  std::string version;
  {
    shopeasy::sync::MutexLock lock(mutex_);
    if (state_.view) version = (*state_.view)["version"].get<std::string>();
  }
  http::HttpClient* client = nullptr;
  {
    shopeasy::sync::MutexLock lock(client_mutex_);
    // stop() sets stop_ before it cancels under this lock: a request not yet begun is
    // not begun at all. (One begun in the instant between this check and the send can
    // still be held until its wait ends.)
    if (stop_.load()) return Status(StatusCode::kUnavailable, "stopping");
    if (!client_) {
      auto created = http::HttpClient::create(
          options_.cloud_url,
          http::ClientOptions{.ca_file = options_.ca_file,
                              .bearer_token = options_.store_id + ":" + options_.store_secret,
                              .max_response_bytes = 16u << 20});
      if (!created.ok()) return created.status();
      client_ = std::move(*created);
    }
    client = client_.get();
  }
  std::string path = "/v1/stores/" + options_.store_id + "/pricing";
  if (!version.empty() && wait.count() > 0) {
    path += "?version=" + version + "&wait_ms=" + std::to_string(wait.count());
  }
  auto fail = [&](const char* reason, Status st) -> StatusOr<bool> {
    failures_.with({reason}).inc();
    shopeasy::sync::MutexLock lock(mutex_);
    state_.last_error = st.to_string();
    return st;
  };
  StatusOr<http::ClientResponse> response = client->get(path);
  if (!response.ok()) {
    shopeasy::sync::MutexLock lock(client_mutex_);
    client_.reset();  // a fresh connection next time
    return fail("unreachable", response.status());
  }
  if (response->status == 429 || response->status == 503) {
    return fail("busy", Status(StatusCode::kResourceExhausted,
                               "the cloud declined to hold the request (HTTP " +
                                   std::to_string(response->status) + ")"));
  }
  if (response->status != 200) {
    return fail("refused", Status(StatusCode::kUnavailable,
                                  "the cloud answered HTTP " + std::to_string(response->status) +
                                      ": " + response->body.substr(0, 200)));
  }
  auto view = wire::parse_json(response->body, 16u << 20);
  if (!view.ok()) return fail("malformed", view.status());
  if (Status st = check_view(*view, options_.store_id); !st.is_ok()) return fail("malformed", st);
  const std::string got = (*view)["version"].get<std::string>();
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  if (got == version) {
    shopeasy::sync::MutexLock lock(mutex_);
    state_.last_error.clear();
    state_.last_success_ms = now;
    return false;
  }
  // Stored before it is shown: what the page shows is what a restart will show.
  const std::string body = view->dump();
  Status saved = store_.write([&](store::WriteContext& ctx) -> Status {
    return ctx.db().run(
        "INSERT INTO pricing_view (id, version, body, received_ms) VALUES (1, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET version = excluded.version, body = excluded.body, "
        "received_ms = excluded.received_ms",
        got, body, now);
  });
  if (!saved.is_ok()) return fail("not_stored", saved);
  const bool enabled = (*view)["enabled"].get<bool>();
  const nlohmann::json& fee = (*view)["delivery_fee"];
  bool switched = false;
  {
    shopeasy::sync::MutexLock lock(mutex_);
    switched = state_.view && (*state_.view)["enabled"].get<bool>() != enabled;
    state_.view = *view;
    state_.received_ms = now;
    state_.last_error.clear();
    state_.last_success_ms = now;
  }
  views_.inc();
  const std::string surge_step = std::to_string(fee.value("step", 0));
  const std::string fee_cents = std::to_string(fee["amount_cents"].get<std::int64_t>());
  const std::initializer_list<log::Field> fields = {
      {"version", got},
      {"enabled", enabled},
      {"delivery_fee_cents", fee_cents},
      {"surge_step", surge_step},
      {"prices_off_base", (*view)["prices"].size()},
      {"lots_marked_down", (*view)["markdowns"].size()}};
  if (switched) {
    logger_.warn(enabled ? "pricing_dynamic_on" : "pricing_dynamic_off", fields);
  } else {
    logger_.info("pricing_view_received", fields);
  }
  bus_.publish(events::Event{.seq = 0,
                             .type = "pricing.updated",
                             .body = {{"version", got},
                                      {"enabled", enabled},
                                      {"delivery_fee", fee},
                                      {"received_at_ms", now}},
                             .ts_ms = now});
  return true;
}

void PricingFollower::run() {
  while (!stop_.load()) {
    const bool polling = clock_.mono_now() < poll_until_;
    StatusOr<bool> r = follow_once(polling ? std::chrono::milliseconds(0) : options_.wait);
    if (stop_.load()) return;
    if (r.ok()) {
      backoff_ = options_.min_backoff;
      if (polling) pause(options_.poll_every);
      continue;
    }
    if (r.status().code() == StatusCode::kResourceExhausted) {
      // The cloud's stream slots are full: ask plainly for a while, then try holding again.
      poll_until_ = clock_.mono_now() + std::chrono::minutes(1);
      pause(options_.poll_every);
      continue;
    }
    std::uint64_t suppressed = 0;
    if (failure_log_.allow(clock_.mono_now(), &suppressed)) {
      logger_.warn("pricing_follow_failed",
                   {{"error", r.status().to_string()}, {"suppressed", suppressed}});
    }
    pause(next_backoff());
  }
}

PricingState PricingFollower::state() const {
  shopeasy::sync::MutexLock lock(mutex_);
  return state_;
}

nlohmann::json PricingFollower::status_json() const {
  const PricingState s = state();
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  return {{"view", s.view ? *s.view : nlohmann::json(nullptr)},
          {"received_at_ms", s.received_ms},
          {"age_ms", s.received_ms > 0 ? now - s.received_ms : -1},
          {"last_error", s.last_error},
          {"last_success_ms", s.last_success_ms},
          {"cloud_reachable", s.last_error.empty() && s.last_success_ms > 0}};
}

}  // namespace shopeasy::edge::pricing
