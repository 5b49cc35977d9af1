#include "cloud/notify/notify_service.hpp"

#include <algorithm>
#include <map>
#include <random>

#include "cloud/payments/webhook.hpp"
#include "common/security/encoding.hpp"

namespace shopeasy::cloud::notify {

StatusOr<WebhookTarget> parse_webhook_url(const std::string& url) {
  const std::size_t scheme = url.find("://");
  if (scheme == std::string::npos ||
      (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)) {
    return invalid_argument("must be an http:// or https:// URL", "webhook_url");
  }
  const std::size_t slash = url.find('/', scheme + 3);
  WebhookTarget t;
  t.base = url.substr(0, slash);
  t.path = slash == std::string::npos ? "/" : url.substr(slash);
  if (t.base.size() <= scheme + 3) return invalid_argument("names no host", "webhook_url");
  return t;
}

StatusOr<std::unique_ptr<NotifyService>> NotifyService::create(
    NotifyOptions options, storage::NotificationStore& store, accounts::AccountStore* accounts,
    accounts::SmsProvider* sms, const Clock& clock, log::Logger logger,
    metrics::Registry& metrics) {
  WebhookTarget target;
  if (!options.webhook_url.empty()) {
    StatusOr<WebhookTarget> parsed = parse_webhook_url(options.webhook_url);
    if (!parsed.ok()) return parsed.status();
    target = std::move(*parsed);
    if (options.webhook_secret.size() < payments::kMinSecretBytes) {
      return invalid_argument("must have at least 32 bytes with a webhook_url", "webhook_secret");
    }
  }
  if (options.batch_size < 1 || options.batch_size > 10'000) {
    return invalid_argument("must be 1..10000", "batch_size");
  }
  if (options.senders < 1 || options.senders > 64)
    return invalid_argument("must be 1..64", "senders");
  if ((sms == nullptr) != (accounts == nullptr)) {
    return invalid_argument("SMS needs both the provider and the account store", "sms");
  }
  StatusOr<std::string> owner = security::random_hex(8);
  if (!owner.ok()) return owner.status();
  return std::unique_ptr<NotifyService>(new NotifyService(std::move(options), std::move(target),
                                                          store, accounts, sms, clock,
                                                          std::move(logger), metrics, *owner));
}

NotifyService::NotifyService(NotifyOptions options, WebhookTarget target,
                             storage::NotificationStore& store, accounts::AccountStore* accounts,
                             accounts::SmsProvider* sms, const Clock& clock, log::Logger logger,
                             metrics::Registry& metrics, std::string owner)
    : options_(std::move(options)),
      target_(std::move(target)),
      store_(store),
      accounts_(accounts),
      sms_(sms),
      clock_(clock),
      logger_(std::move(logger)),
      owner_(std::move(owner)),
      sent_(metrics.counter_family("cloud_notify_sent_total",
                                   "Customer notifications delivered, by channel", {"channel"})),
      failed_(metrics.counter_family(
          "cloud_notify_failed_total",
          "Customer notifications refused for good by the receiver (not retried), by channel",
          {"channel"})),
      retrying_(metrics.counter_family(
          "cloud_notify_retries_total",
          "Customer notification attempts that failed and were scheduled again, by channel",
          {"channel"})),
      dead_(metrics.counter_family(
          "cloud_notify_dead_total",
          "Customer notifications given up after failing for notify.max_age_s, by channel",
          {"channel"})),
      skipped_(metrics.counter_family(
          "cloud_notify_skipped_total",
          "Customer notifications not sent: switched off by the customer, or no phone number",
          {"channel"})),
      pending_(metrics.gauge_family("cloud_notify_pending",
                                    "Customer notifications waiting to be sent, by channel",
                                    {"channel"})),
      oldest_age_(metrics.gauge_family(
          "cloud_notify_oldest_pending_age_seconds",
          "Age of the oldest customer notification still waiting, by channel", {"channel"})),
      errors_(metrics.counter("cloud_notify_store_errors_total",
                              "Outbox reads or writes that failed (retried next poll)")) {
  for (const std::string& c : channels()) {
    sent_.with({c});
    failed_.with({c});
    retrying_.with({c});
    dead_.with({c});
    skipped_.with({c});
    pending_.with({c}).set(0);
    oldest_age_.with({c}).set(0);
  }
  clients_.resize(static_cast<std::size_t>(options_.senders));
}

NotifyService::~NotifyService() { stop(); }

std::vector<std::string> NotifyService::channels() const {
  std::vector<std::string> out;
  if (sms_ != nullptr) out.emplace_back(kSms);
  if (!target_.base.empty()) out.emplace_back(kWebhook);
  return out;
}

void NotifyService::start() {
  {
    sync::MutexLock lock(mutex_);
    stopping_ = false;
  }
  if (!worker_.joinable()) worker_ = std::thread([this] { loop(); });
}

void NotifyService::stop() {
  {
    sync::MutexLock lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void NotifyService::loop() {
  auto last_backlog = std::chrono::steady_clock::time_point{};
  for (;;) {
    StatusOr<int> claimed = run_once();
    if (std::chrono::steady_clock::now() - last_backlog >= std::chrono::seconds(1)) {
      last_backlog = std::chrono::steady_clock::now();
      refresh_backlog();
    }
    sync::MutexLock lock(mutex_);
    if (stopping_) return;
    // A full batch means more are likely due: go again at once.
    if (claimed.ok() && *claimed >= options_.batch_size) continue;
    wake_.wait_for(mutex_, options_.poll_interval);
    if (stopping_) return;
  }
}

StatusOr<int> NotifyService::run_once() {
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  StatusOr<std::vector<storage::NotificationRow>> claimed =
      store_.claim_notifications(owner_, now, options_.lease_ms, options_.batch_size);
  if (!claimed.ok()) {
    errors_.inc();
    logger_.warn("notify_claim_failed", {{"error", claimed.status().to_string()}});
    return claimed.status();
  }
  std::vector<storage::NotificationRow>& rows = *claimed;
  if (rows.empty()) return 0;
  // In the order they were queued; every row of one order goes to the same sender, so a
  // customer hears of an order's changes in the order they happened (unless a retry
  // holds one back).
  std::sort(rows.begin(), rows.end(),
            [](const storage::NotificationRow& a, const storage::NotificationRow& b) {
              return a.id < b.id;
            });

  // What each customer allows and each SMS recipient's number, read once per batch.
  std::map<std::string, Preferences> prefs;
  std::map<std::string, std::string> phone_of;  // "" when the account is gone
  std::vector<std::string> phones(rows.size());
  std::vector<storage::NotificationOutcome> outcomes(rows.size());
  std::vector<std::vector<std::size_t>> slices(clients_.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const storage::NotificationRow& row = rows[i];
    // Unless sent or skipped below, a row keeps its state and gives its lease back.
    outcomes[i] = storage::NotificationOutcome{.id = row.id,
                                               .state = "pending",
                                               .attempts = row.attempts,
                                               .next_at_ms = row.next_at_ms,
                                               .error = ""};
    auto p = prefs.find(row.customer_id);
    if (p == prefs.end()) {
      StatusOr<std::optional<nlohmann::json>> stored = store_.notification_prefs(row.customer_id);
      if (!stored.ok()) {
        errors_.inc();
        continue;
      }
      p = prefs
              .emplace(row.customer_id,
                       stored->has_value() ? stored_preferences(**stored) : default_preferences())
              .first;
    }
    std::string skip;
    if (!p->second.allows(row.channel, row.kind)) skip = "switched off by the customer";
    if (skip.empty() && row.channel == kSms) {
      if (sms_ == nullptr) {
        skip = "no SMS provider";
      } else {
        auto ph = phone_of.find(row.customer_id);
        if (ph == phone_of.end()) {
          StatusOr<std::string> phone = accounts_->phone_of(row.customer_id);
          if (!phone.ok() && phone.status().code() != StatusCode::kNotFound) {
            errors_.inc();
            continue;
          }
          ph = phone_of.emplace(row.customer_id, phone.ok() ? *phone : std::string()).first;
        }
        if (ph->second.empty()) skip = "no account with a phone number";
        phones[i] = ph->second;
      }
    }
    if (skip.empty() && row.channel == kWebhook && target_.base.empty()) skip = "no webhook_url";
    if (skip.empty() && row.channel != kSms && row.channel != kWebhook) skip = "unknown channel";
    if (!skip.empty()) {
      outcomes[i].state = "skipped";
      outcomes[i].error = skip;
      continue;
    }
    slices[std::hash<std::string>{}(row.order_id) % slices.size()].push_back(i);
  }

  // Rows not tried before this are left for the next claim rather than sent after the
  // lease ended (when another instance may have them).
  const std::int64_t give_up_at = now + options_.lease_ms - options_.webhook_timeout.count() * 2;
  std::vector<std::thread> threads;
  for (std::size_t s = 1; s < slices.size(); ++s) {
    if (slices[s].empty()) continue;
    threads.emplace_back([&, s] { send_slice(s, rows, slices[s], phones, outcomes, give_up_at); });
  }
  send_slice(0, rows, slices[0], phones, outcomes, give_up_at);
  for (std::thread& t : threads) t.join();

  const std::int64_t done = to_unix_ms(clock_.wall_now());
  StatusOr<std::int64_t> finished = store_.finish_notifications(owner_, outcomes, done);
  if (!finished.ok()) {
    // The rows come back once their lease ends; a webhook receiver drops the repeat.
    errors_.inc();
    logger_.warn("notify_finish_failed", {{"error", finished.status().to_string()},
                                          {"rows", static_cast<std::int64_t>(rows.size())}});
    return finished.status();
  }
  for (std::size_t i = 0; i < rows.size(); ++i) count(rows[i], outcomes[i]);
  return static_cast<int>(rows.size());
}

void NotifyService::send_slice(std::size_t sender,
                               const std::vector<storage::NotificationRow>& rows,
                               const std::vector<std::size_t>& slice,
                               const std::vector<std::string>& phones,
                               std::vector<storage::NotificationOutcome>& outcomes,
                               std::int64_t give_up_at_ms) {
  // Jitter needs no secrecy; one generator per sender keeps threads apart.
  std::mt19937_64 rng(std::hash<std::string>{}(owner_) ^ (sender * 0x9E3779B97F4A7C15ULL) ^
                      static_cast<std::uint64_t>(to_unix_ms(clock_.wall_now())));
  for (std::size_t i : slice) {
    const std::int64_t now = to_unix_ms(clock_.wall_now());
    if (now >= give_up_at_ms) return;
    const storage::NotificationRow& row = rows[i];
    std::string error;
    Attempt attempt = Attempt::kTransient;
    if (row.channel == kSms) {
      const Status sent = sms_->send(phones[i], sms_text(row), row.dedupe_key);
      attempt = classify_status(sent);
      if (!sent.is_ok()) error = sent.to_string();
    } else {
      attempt = send_webhook(sender, row, error);
    }
    outcomes[i] = decide(row, attempt, error, to_unix_ms(clock_.wall_now()), options_.retry, rng);
  }
}

Attempt NotifyService::send_webhook(std::size_t sender, const storage::NotificationRow& row,
                                    std::string& error) {
  std::unique_ptr<http::HttpClient>& client = clients_[sender];
  if (!client) {
    http::ClientOptions o;
    o.connect_timeout = options_.webhook_timeout;
    o.read_timeout = options_.webhook_timeout;
    o.write_timeout = options_.webhook_timeout;
    o.max_response_bytes = 64 * 1024;
    StatusOr<std::unique_ptr<http::HttpClient>> created = http::HttpClient::create(target_.base, o);
    if (!created.ok()) {
      error = created.status().to_string();
      return Attempt::kPermanent;
    }
    client = std::move(*created);
  }
  const std::string body = webhook_payload(row).dump();
  const std::int64_t t = to_unix_ms(clock_.wall_now()) / 1000;
  StatusOr<http::ClientResponse> reply =
      client->post(target_.path, body, "application/json",
                   {{std::string(payments::kSignatureHeader),
                     payments::webhook_signature_header(options_.webhook_secret, t, body)},
                    {"Idempotency-Key", row.dedupe_key}});
  if (!reply.ok()) {
    // A broken connection is not reused.
    client.reset();
    error = reply.status().to_string();
    return Attempt::kTransient;
  }
  const Attempt attempt = classify_http(reply->status);
  if (attempt != Attempt::kDelivered) error = "HTTP " + std::to_string(reply->status);
  return attempt;
}

void NotifyService::count(const storage::NotificationRow& row,
                          const storage::NotificationOutcome& o) {
  const std::vector<std::string> channel = {row.channel};
  if (o.state == "sent") {
    sent_.with(channel).inc();
  } else if (o.state == "failed") {
    failed_.with(channel).inc();
    logger_.warn("notification_refused", {{"key", row.dedupe_key}, {"error", o.error}});
  } else if (o.state == "dead") {
    dead_.with(channel).inc();
    logger_.warn("notification_dead",
                 {{"key", row.dedupe_key}, {"attempts", o.attempts}, {"error", o.error}});
  } else if (o.state == "skipped") {
    skipped_.with(channel).inc();
  } else if (o.attempts > row.attempts) {
    retrying_.with(channel).inc();
  }
}

void NotifyService::refresh_backlog() {
  StatusOr<std::vector<storage::NotificationBacklog>> backlog = store_.notification_backlog();
  if (!backlog.ok()) {
    errors_.inc();
    return;
  }
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  for (const std::string& c : channels()) {
    double pending = 0;
    double age = 0;
    for (const storage::NotificationBacklog& b : *backlog) {
      if (b.channel != c) continue;
      pending = static_cast<double>(b.pending);
      if (b.oldest_created_at_ms > 0) {
        age = static_cast<double>(std::max<std::int64_t>(0, now - b.oldest_created_at_ms)) / 1000.0;
      }
    }
    pending_.with({c}).set(pending);
    oldest_age_.with({c}).set(age);
  }
}

StatusOr<std::int64_t> NotifyService::purge() {
  const std::int64_t before = to_unix_ms(clock_.wall_now()) - options_.purge_after_ms;
  std::int64_t total = 0;
  // In slices, so the writer is never held long.
  for (int round = 0; round < 100; ++round) {
    StatusOr<std::int64_t> n = store_.purge_notifications(before, 5000);
    if (!n.ok()) return n.status();
    total += *n;
    if (*n < 5000) break;
  }
  return total;
}

}  // namespace shopeasy::cloud::notify
