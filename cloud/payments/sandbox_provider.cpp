// The sandbox payment gateway; see sandbox_provider.hpp.
#include "cloud/payments/sandbox_provider.hpp"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloud/payments/webhook.hpp"
#include "cloud/payments/webhook_sender.hpp"
#include "common/db/migration.hpp"
#include "common/security/encoding.hpp"

namespace shopeasy::cloud::payments {
namespace {

const db::Migration kMigrations[] = {
    {1, "sandbox payments",
     "CREATE TABLE intents ("
     " id TEXT PRIMARY KEY,"
     " order_id TEXT NOT NULL,"
     " amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),"
     " currency TEXT NOT NULL,"
     " status TEXT NOT NULL CHECK (status IN"
     "   ('requires_confirmation', 'succeeded', 'failed', 'refunded')),"
     " refunded_cents INTEGER NOT NULL DEFAULT 0"
     "   CHECK (refunded_cents >= 0 AND refunded_cents <= amount_cents),"
     " idempotency_key TEXT NOT NULL UNIQUE,"
     " created_ms INTEGER NOT NULL,"
     " updated_ms INTEGER NOT NULL);"
     "CREATE TABLE refunds ("
     " id TEXT PRIMARY KEY,"
     " intent_id TEXT NOT NULL REFERENCES intents(id),"
     " amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),"
     " idempotency_key TEXT NOT NULL UNIQUE,"
     " created_ms INTEGER NOT NULL);"
     "CREATE TABLE webhook_outbox ("
     " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
     " event_id TEXT NOT NULL UNIQUE,"
     " type TEXT NOT NULL,"
     " body TEXT NOT NULL,"
     " created_ms INTEGER NOT NULL,"
     " attempts INTEGER NOT NULL DEFAULT 0,"
     " next_attempt_ms INTEGER NOT NULL,"
     " delivered_ms INTEGER,"
     " abandoned INTEGER NOT NULL DEFAULT 0,"
     " last_error TEXT);"
     "CREATE INDEX webhook_outbox_due ON webhook_outbox(next_attempt_ms)"
     " WHERE delivered_ms IS NULL AND abandoned = 0;"}};

constexpr std::string_view kIntentColumns =
    "id, order_id, amount_cents, currency, status, created_ms, refunded_cents";

std::int64_t now_ms(const Clock& clock) { return to_unix_ms(clock.wall_now()); }

Status check_amount(std::int64_t amount_cents) {
  if (amount_cents <= 0) return invalid_argument("amount must be positive", "amount_cents");
  if (amount_cents > kMaxAmountCents) {
    return invalid_argument("amount must be at most 1000000000 cents", "amount_cents");
  }
  return Status::ok();
}

Status check_text(const std::string& value, std::size_t max, const char* field) {
  if (value.empty() || value.size() > max) {
    return invalid_argument(
        std::string(field) + " must have 1 to " + std::to_string(max) + " characters", field);
  }
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) {
      return invalid_argument(std::string(field) + " must not contain control characters", field);
    }
  }
  return Status::ok();
}

Status check_currency(const std::string& currency) {
  if (currency.size() != 3 ||
      !std::all_of(currency.begin(), currency.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    return invalid_argument("currency must be three upper-case letters (ISO 4217)", "currency");
  }
  return Status::ok();
}

// Splits "http(s)://host[:port][/path]" into base and path.
Status split_url(const std::string& url, const char* field, std::string* base, std::string* path) {
  std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos ||
      (url.compare(0, scheme_end, "http") != 0 && url.compare(0, scheme_end, "https") != 0)) {
    return invalid_argument(std::string(field) + " must start with http:// or https://", field);
  }
  std::size_t slash = url.find('/', scheme_end + 3);
  *base = url.substr(0, slash);
  if (base->size() <= scheme_end + 3) {
    return invalid_argument(std::string(field) + " has no host", field);
  }
  *path = slash == std::string::npos ? "/" : url.substr(slash);
  return Status::ok();
}

std::string html_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string format_amount(std::int64_t cents) {
  std::string frac = std::to_string(cents % 100);
  if (frac.size() < 2) frac.insert(0, "0");
  return std::to_string(cents / 100) + "." + frac;
}

nlohmann::json intent_json(const PaymentIntent& intent) {
  return {{"id", intent.id},
          {"order_id", intent.order_id},
          {"amount_cents", intent.amount_cents},
          {"currency", intent.currency},
          {"status", intent.status},
          {"confirm_url", intent.confirm_url},
          {"created_ms", intent.created_ms},
          {"refunded_cents", intent.refunded_cents}};
}

}  // namespace

StatusOr<std::unique_ptr<SandboxProvider>> SandboxProvider::open(SandboxOptions options,
                                                                 log::Logger logger,
                                                                 metrics::Registry& metrics) {
  if (options.db_path.empty()) return invalid_argument("db_path is required", "db_path");
  if (options.webhook_secret.size() < kMinSecretBytes) {
    return invalid_argument("webhook secret must have at least 32 bytes", "webhook_secret");
  }
  std::string base, path;
  SHOPEASY_RETURN_IF_ERROR(split_url(options.webhook_url, "webhook_url", &base, &path));
  std::string public_base, public_path;
  SHOPEASY_RETURN_IF_ERROR(
      split_url(options.public_base_url, "public_base_url", &public_base, &public_path));
  while (!options.public_base_url.empty() && options.public_base_url.back() == '/') {
    options.public_base_url.pop_back();
  }
  if (options.retry_initial <= std::chrono::milliseconds(0) ||
      options.retry_max < options.retry_initial) {
    return invalid_argument("retry_initial must be positive and at most retry_max",
                            "retry_initial");
  }
  if (!options.clock) options.clock = std::make_shared<SystemClock>();

  StatusOr<db::Database> db = db::Database::open(options.db_path);
  if (!db.ok()) return db.status();
  SHOPEASY_RETURN_IF_ERROR(db::migrate(*db, kMigrations, *options.clock));

  std::unique_ptr<SandboxProvider> provider(
      new SandboxProvider(std::move(options), std::move(logger), metrics, std::move(db).value()));
  provider->webhook_base_ = std::move(base);
  provider->webhook_path_ = std::move(path);
  if (provider->options_.deliver_in_background) {
    provider->thread_ = std::thread([p = provider.get()] { p->run(); });
  }
  return provider;
}

SandboxProvider::SandboxProvider(SandboxOptions options, log::Logger logger,
                                 metrics::Registry& metrics, db::Database db)
    : options_(std::move(options)),
      logger_(std::move(logger)),
      delivered_(metrics.counter("shopeasy_payment_webhook_deliveries_total",
                                 "Outgoing sandbox webhook delivery attempts, by result.",
                                 {{"result", "delivered"}})),
      failed_attempts_(metrics.counter("shopeasy_payment_webhook_deliveries_total",
                                       "Outgoing sandbox webhook delivery attempts, by result.",
                                       {{"result", "failed"}})),
      abandoned_(metrics.counter("shopeasy_payment_webhook_deliveries_total",
                                 "Outgoing sandbox webhook delivery attempts, by result.",
                                 {{"result", "abandoned"}})),
      db_(std::move(db)) {}

SandboxProvider::~SandboxProvider() {
  {
    sync::MutexLock lock(wake_mutex_);
    stopping_ = true;
  }
  wake_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

StatusOr<PaymentIntent> SandboxProvider::load(const std::string& id) {
  db::Query q = db_.query(
      "SELECT id, order_id, amount_cents, currency, status, created_ms, refunded_cents "
      "FROM intents WHERE id = ?",
      id);
  const db::Statement* row = q.next();
  if (row == nullptr) {
    if (!q.status().is_ok()) return q.status();
    return not_found("no payment intent " + id);
  }
  PaymentIntent intent;
  intent.id = row->column_text(0);
  intent.order_id = row->column_text(1);
  intent.amount_cents = row->column_int64(2);
  intent.currency = row->column_text(3);
  intent.status = row->column_text(4);
  intent.created_ms = row->column_int64(5);
  intent.refunded_cents = row->column_int64(6);
  intent.confirm_url = options_.public_base_url + "/sandbox/pay/" + intent.id;
  return intent;
}

StatusOr<PaymentIntent> SandboxProvider::create_intent(const std::string& order_id,
                                                       std::int64_t amount_cents,
                                                       const std::string& currency,
                                                       const std::string& idempotency_key) {
  SHOPEASY_RETURN_IF_ERROR(check_text(order_id, 128, "order_id"));
  SHOPEASY_RETURN_IF_ERROR(check_amount(amount_cents));
  SHOPEASY_RETURN_IF_ERROR(check_currency(currency));
  SHOPEASY_RETURN_IF_ERROR(check_text(idempotency_key, 255, "idempotency_key"));
  StatusOr<std::string> token = security::random_hex(16);
  if (!token.ok()) return token.status();

  sync::MutexLock lock(db_mutex_);
  StatusOr<db::Transaction> tx = db_.begin();
  if (!tx.ok()) return tx.status();
  {
    db::Query q = db_.query(
        "SELECT id, order_id, amount_cents, currency FROM intents WHERE idempotency_key = ?",
        idempotency_key);
    if (const db::Statement* row = q.next()) {
      const bool same = row->column_text(1) == order_id && row->column_int64(2) == amount_cents &&
                        row->column_text(3) == currency;
      if (!same) {
        return invalid_argument(
            "idempotency key was already used for a different payment intent request",
            "idempotency_key");
      }
      return load(row->column_text(0));
    }
    if (!q.status().is_ok()) return q.status();
  }
  const std::int64_t now = now_ms(*options_.clock);
  const std::string id = "pi_" + *token;
  SHOPEASY_RETURN_IF_ERROR(
      db_.run("INSERT INTO intents(id, order_id, amount_cents, currency, status, idempotency_key, "
              "created_ms, updated_ms) VALUES(?, ?, ?, ?, 'requires_confirmation', ?, ?, ?)",
              id, order_id, amount_cents, currency, idempotency_key, now, now));
  SHOPEASY_RETURN_IF_ERROR(tx->commit());
  logger_.info("intent_created",
               {{"intent_id", id}, {"order_id", order_id}, {"amount_cents", amount_cents}});
  return load(id);
}

StatusOr<PaymentIntent> SandboxProvider::get_intent(const std::string& id) {
  sync::MutexLock lock(db_mutex_);
  return load(id);
}

Status SandboxProvider::enqueue(const std::string& type, const PaymentIntent& intent,
                                std::int64_t amount_cents) {
  StatusOr<std::string> token = security::random_hex(16);
  if (!token.ok()) return token.status();
  const std::int64_t now = now_ms(*options_.clock);
  const std::string event_id = "evt_" + *token;
  nlohmann::json body = {
      {"id", event_id},
      {"type", type},
      {"created", now / 1000},
      {"data",
       {{"intent_id", intent.id}, {"order_id", intent.order_id}, {"amount_cents", amount_cents}}}};
  return db_.run(
      "INSERT INTO webhook_outbox(event_id, type, body, created_ms, next_attempt_ms) "
      "VALUES(?, ?, ?, ?, ?)",
      event_id, type, body.dump(), now, now);
}

StatusOr<PaymentIntent> SandboxProvider::confirm(const std::string& intent_id, bool succeed) {
  {
    sync::MutexLock lock(db_mutex_);
    StatusOr<db::Transaction> tx = db_.begin();
    if (!tx.ok()) return tx.status();
    StatusOr<PaymentIntent> intent = load(intent_id);
    if (!intent.ok()) return intent.status();
    if (intent->status != kRequiresConfirmation) {
      const bool same_answer = succeed ? intent->status != kFailed : intent->status == kFailed;
      if (same_answer) return intent;
      return failed_precondition("payment intent " + intent_id + " was already answered (" +
                                 intent->status + ")");
    }
    const char* status = succeed ? kSucceeded : kFailed;
    SHOPEASY_RETURN_IF_ERROR(db_.run("UPDATE intents SET status = ?, updated_ms = ? WHERE id = ?",
                                     status, now_ms(*options_.clock), intent_id));
    SHOPEASY_RETURN_IF_ERROR(
        enqueue(succeed ? kEventSucceeded : kEventFailed, *intent, intent->amount_cents));
    SHOPEASY_RETURN_IF_ERROR(tx->commit());
    logger_.info("intent_confirmed", {{"intent_id", intent_id}, {"status", status}});
  }
  wake();
  return get_intent(intent_id);
}

StatusOr<PaymentIntent> SandboxProvider::refund(const std::string& intent_id,
                                                std::int64_t amount_cents,
                                                const std::string& idempotency_key) {
  SHOPEASY_RETURN_IF_ERROR(check_amount(amount_cents));
  SHOPEASY_RETURN_IF_ERROR(check_text(idempotency_key, 255, "idempotency_key"));
  StatusOr<std::string> token = security::random_hex(16);
  if (!token.ok()) return token.status();
  {
    sync::MutexLock lock(db_mutex_);
    StatusOr<db::Transaction> tx = db_.begin();
    if (!tx.ok()) return tx.status();
    {
      db::Query q = db_.query(
          "SELECT intent_id, amount_cents FROM refunds WHERE idempotency_key = ?", idempotency_key);
      if (const db::Statement* row = q.next()) {
        if (row->column_text(0) != intent_id || row->column_int64(1) != amount_cents) {
          return invalid_argument("idempotency key was already used for a different refund",
                                  "idempotency_key");
        }
        return load(intent_id);
      }
      if (!q.status().is_ok()) return q.status();
    }
    StatusOr<PaymentIntent> intent = load(intent_id);
    if (!intent.ok()) return intent.status();
    if (intent->status != kSucceeded) {
      return failed_precondition("payment intent " + intent_id + " is " + intent->status +
                                 "; only a succeeded payment can be refunded");
    }
    const std::int64_t remaining = intent->amount_cents - intent->refunded_cents;
    if (amount_cents > remaining) {
      return failed_precondition("refund of " + std::to_string(amount_cents) +
                                 " cents exceeds the " + std::to_string(remaining) +
                                 " cents still captured");
    }
    const std::int64_t now = now_ms(*options_.clock);
    SHOPEASY_RETURN_IF_ERROR(
        db_.run("INSERT INTO refunds(id, intent_id, amount_cents, idempotency_key, created_ms) "
                "VALUES(?, ?, ?, ?, ?)",
                "re_" + *token, intent_id, amount_cents, idempotency_key, now));
    SHOPEASY_RETURN_IF_ERROR(
        db_.run("UPDATE intents SET refunded_cents = refunded_cents + ?, status = CASE WHEN "
                "refunded_cents + ? = amount_cents THEN 'refunded' ELSE status END, updated_ms = ? "
                "WHERE id = ?",
                amount_cents, amount_cents, now, intent_id));
    SHOPEASY_RETURN_IF_ERROR(enqueue(kEventRefunded, *intent, amount_cents));
    SHOPEASY_RETURN_IF_ERROR(tx->commit());
    logger_.info("intent_refunded", {{"intent_id", intent_id}, {"amount_cents", amount_cents}});
  }
  wake();
  return get_intent(intent_id);
}

void SandboxProvider::wake() {
  {
    sync::MutexLock lock(wake_mutex_);
    woken_ = true;
  }
  wake_cv_.notify_all();
}

std::size_t SandboxProvider::deliver_due() {
  sync::MutexLock delivery_lock(delivery_mutex_);
  struct Due {
    std::int64_t seq;
    std::string event_id;
    std::string body;
    std::int64_t created_ms;
    std::int64_t attempts;
  };
  std::vector<Due> due;
  {
    sync::MutexLock lock(db_mutex_);
    db::Query q = db_.query(
        "SELECT seq, event_id, body, created_ms, attempts FROM webhook_outbox "
        "WHERE delivered_ms IS NULL AND abandoned = 0 AND next_attempt_ms <= ? "
        "ORDER BY next_attempt_ms, seq LIMIT 64",
        now_ms(*options_.clock));
    while (const db::Statement* row = q.next()) {
      due.push_back({row->column_int64(0), row->column_text(1), row->column_text(2),
                     row->column_int64(3), row->column_int64(4)});
    }
    if (!q.status().is_ok()) {
      logger_.error("outbox_read_failed", {{"error", q.status().to_string()}});
      return 0;
    }
  }
  if (due.empty()) return 0;
  if (!client_) {
    http::ClientOptions client_options;
    client_options.connect_timeout =
        std::min(options_.delivery_timeout, std::chrono::milliseconds(3000));
    client_options.read_timeout = options_.delivery_timeout;
    client_options.write_timeout = options_.delivery_timeout;
    client_options.ca_file = options_.webhook_ca_file;
    StatusOr<std::unique_ptr<WebhookSender>> client =
        WebhookSender::create(webhook_base_, client_options);
    if (!client.ok()) {
      logger_.error("webhook_client_failed", {{"error", client.status().to_string()}});
      return 0;
    }
    client_ = std::move(client).value();
  }

  std::size_t delivered = 0;
  for (const Due& event : due) {
    const std::int64_t t = now_ms(*options_.clock) / 1000;
    // Signed per attempt, so a retry after a long backoff is still inside the receiver's
    // tolerance window.
    StatusOr<http::ClientResponse> response =
        client_->post(webhook_path_, event.body, "application/json",
                      {{std::string(kSignatureHeader),
                        webhook_signature_header(options_.webhook_secret, t, event.body)}});
    const std::int64_t now = now_ms(*options_.clock);
    std::string error;
    if (!response.ok()) {
      error = response.status().to_string();
    } else if (response->status < 200 || response->status > 299) {
      error = "HTTP " + std::to_string(response->status) + ": " + response->body.substr(0, 200);
    }
    sync::MutexLock lock(db_mutex_);
    Status updated;
    if (error.empty()) {
      updated = db_.run(
          "UPDATE webhook_outbox SET delivered_ms = ?, attempts = attempts + 1, "
          "last_error = NULL WHERE seq = ?",
          now, event.seq);
      ++delivered;
      delivered_.inc();
      logger_.info("webhook_delivered",
                   {{"event_id", event.event_id}, {"attempts", event.attempts + 1}});
    } else if (now - event.created_ms >=
               std::chrono::duration_cast<std::chrono::milliseconds>(options_.give_up_after)
                   .count()) {
      updated = db_.run(
          "UPDATE webhook_outbox SET abandoned = 1, attempts = attempts + 1, last_error = ? "
          "WHERE seq = ?",
          error, event.seq);
      abandoned_.inc();
      logger_.error(
          "webhook_abandoned",
          {{"event_id", event.event_id}, {"attempts", event.attempts + 1}, {"error", error}});
    } else {
      const std::int64_t shift = std::min<std::int64_t>(event.attempts, 30);
      const std::int64_t delay = std::min<std::int64_t>(options_.retry_initial.count() << shift,
                                                        options_.retry_max.count());
      updated = db_.run(
          "UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_ms = ?, "
          "last_error = ? WHERE seq = ?",
          now + delay, error, event.seq);
      failed_attempts_.inc();
      logger_.warn("webhook_delivery_failed", {{"event_id", event.event_id},
                                               {"attempts", event.attempts + 1},
                                               {"retry_in_ms", delay},
                                               {"error", error}});
    }
    if (!updated.is_ok()) {
      logger_.error("outbox_update_failed", {{"error", updated.to_string()}});
    }
  }
  return delivered;
}

StatusOr<OutboxStats> SandboxProvider::outbox_stats() {
  sync::MutexLock lock(db_mutex_);
  db::Query q = db_.query(
      "SELECT "
      " COALESCE(SUM(delivered_ms IS NULL AND abandoned = 0), 0),"
      " COALESCE(SUM(delivered_ms IS NOT NULL), 0),"
      " COALESCE(SUM(abandoned), 0),"
      " COALESCE(SUM(CASE WHEN delivered_ms IS NULL THEN attempts ELSE attempts - 1 END), 0)"
      " FROM webhook_outbox");
  OutboxStats stats;
  if (const db::Statement* row = q.next()) {
    stats.pending = row->column_int64(0);
    stats.delivered = row->column_int64(1);
    stats.abandoned = row->column_int64(2);
    stats.failed_attempts = row->column_int64(3);
  }
  if (!q.status().is_ok()) return q.status();
  return stats;
}

void SandboxProvider::run() {
  constexpr std::int64_t kMaxIdleMs = 5000;  // also bounds the lag behind a moved wall clock
  for (;;) {
    deliver_due();
    std::int64_t wait_ms = kMaxIdleMs;
    {
      sync::MutexLock lock(db_mutex_);
      StatusOr<std::optional<std::int64_t>> next = db_.query_one<std::int64_t>(
          "SELECT MIN(next_attempt_ms) FROM webhook_outbox "
          "WHERE delivered_ms IS NULL AND abandoned = 0");
      if (next.ok() && next->has_value()) {
        wait_ms = std::clamp<std::int64_t>(**next - now_ms(*options_.clock), 0, kMaxIdleMs);
      }
    }
    sync::MutexLock lock(wake_mutex_);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    while (!woken_ && !stopping_) {
      if (wake_cv_.wait_until(wake_mutex_, deadline) == std::cv_status::timeout) break;
    }
    if (stopping_) return;
    woken_ = false;
  }
}

void register_sandbox_routes(http::HttpServer& server, SandboxProvider& provider) {
  const std::string pattern = R"(/sandbox/pay/([A-Za-z0-9_]{1,80}))";
  server.route("GET", pattern, http::Access::public_route(), [&provider](const http::Request& req) {
    StatusOr<PaymentIntent> intent = provider.get_intent(req.params[0]);
    if (!intent.ok()) return http::Response::error(intent.status());
    const bool open = intent->status == kRequiresConfirmation;
    std::string html =
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>ShopEasy sandbox "
        "payment</title></head><body><h1>Sandbox payment</h1><p>Order <b>" +
        html_escape(intent->order_id) + "</b>: " + format_amount(intent->amount_cents) + " " +
        html_escape(intent->currency) + "</p><p>Status: <span id=\"s\">" +
        html_escape(intent->status) + "</span></p>";
    if (open) {
      html +=
          "<button onclick=\"pay('succeed')\">Pay</button> "
          "<button onclick=\"pay('decline')\">Decline</button>"
          "<script>function pay(o){fetch(location.pathname,{method:'POST',headers:"
          "{'Content-Type':'application/json'},body:JSON.stringify({outcome:o})})"
          ".then(r=>r.json()).then(j=>{document.getElementById('s').textContent="
          "j.status||(j.error&&j.error.message);})}</script>";
    }
    html += "</body></html>";
    return http::Response::text(200, std::move(html), "text/html; charset=utf-8")
        .with_header("Cache-Control", "no-store");
  });
  server.route(
      "POST", pattern, http::Access::public_route(), [&provider](const http::Request& req) {
        if (!req.is_json()) {
          return http::Response::error(
              Status(StatusCode::kUnsupportedMediaType, "body must be application/json"));
        }
        nlohmann::json doc = nlohmann::json::parse(req.body, nullptr, false);
        if (doc.is_discarded() || !doc.is_object()) {
          return http::Response::error(invalid_argument("body must be a JSON object"));
        }
        auto outcome = doc.find("outcome");
        if (outcome == doc.end() || !outcome->is_string() ||
            (*outcome != "succeed" && *outcome != "decline")) {
          return http::Response::error(
              invalid_argument("outcome must be \"succeed\" or \"decline\"", "outcome"));
        }
        StatusOr<PaymentIntent> intent = provider.confirm(req.params[0], *outcome == "succeed");
        if (!intent.ok()) return http::Response::error(intent.status());
        return http::Response::json(200, intent_json(*intent));
      });
}

}  // namespace shopeasy::cloud::payments
