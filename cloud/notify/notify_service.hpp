// Delivers the customer notification outbox: a worker thread claims due rows in batches
// (with a lease, so instances sharing a database never send one row at the same time),
// checks what the customer allows, sends each through its channel (SMS through the
// accounts module's provider; signed webhooks to the customer app's backend) on a few
// sender threads, and records every outcome in one transaction per batch. A row that
// keeps failing is retried with exponential backoff and full jitter until it is
// max_age old, then marked dead; a receiver's permanent refusal marks it failed.
//
// Delivery is at least once: an instance killed after a send and before the batch's
// outcomes commit sends those rows again once their lease ends. Webhooks carry the
// row's key as Idempotency-Key (and as "id" in the body) so receivers drop the repeat;
// SMS gateways have no such key.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cloud/accounts/account_store.hpp"
#include "cloud/accounts/sms.hpp"
#include "cloud/notify/outbox_rules.hpp"
#include "cloud/storage/cloud_store.hpp"
#include "common/clock/clock.hpp"
#include "common/http/client.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/status/status.hpp"
#include "common/sync/mutex.hpp"

namespace shopeasy::cloud::notify {

struct NotifyOptions {
  std::string webhook_url{};     // empty: no webhook channel
  std::string webhook_secret{};  // HMAC-SHA256 key of the signature header; never logged
  std::chrono::milliseconds webhook_timeout{5000};
  RetryPolicy retry{};
  std::int64_t lease_ms = 60'000;
  int batch_size = 200;
  std::chrono::milliseconds poll_interval{200};
  int senders = 4;  // threads sending one batch's rows in parallel
  std::int64_t purge_after_ms = 7LL * 24 * 3600 * 1000;
};

// Splits "http://host:port/path" into base and path ("/" when none); kInvalidArgument
// for anything else.
struct WebhookTarget {
  std::string base;
  std::string path;
};
StatusOr<WebhookTarget> parse_webhook_url(const std::string& url);

class NotifyService {
 public:
  // `sms` and `accounts` may be null (no SMS channel). The owner id naming this
  // instance's leases is drawn at random.
  static StatusOr<std::unique_ptr<NotifyService>> create(NotifyOptions options,
                                                         storage::NotificationStore& store,
                                                         accounts::AccountStore* accounts,
                                                         accounts::SmsProvider* sms,
                                                         const Clock& clock, log::Logger logger,
                                                         metrics::Registry& metrics);
  ~NotifyService();
  NotifyService(const NotifyService&) = delete;
  NotifyService& operator=(const NotifyService&) = delete;

  // The channels rows are queued for (what the store should be told).
  std::vector<std::string> channels() const;

  void start();
  void stop();
  // One batch: claims, sends, records. Returns the rows claimed. For the worker and tests.
  StatusOr<int> run_once();
  // Deletes rows finished more than purge_after ago. Returns the rows deleted.
  StatusOr<std::int64_t> purge();
  // Reads the backlog into the pending gauges.
  void refresh_backlog();

 private:
  NotifyService(NotifyOptions options, WebhookTarget target, storage::NotificationStore& store,
                accounts::AccountStore* accounts, accounts::SmsProvider* sms, const Clock& clock,
                log::Logger logger, metrics::Registry& metrics, std::string owner);
  void loop();
  // Sends rows[i] for every i in `slice`, filling outcomes[i]. Rows not tried before
  // `give_up_at_ms` (the lease would end mid-send) keep their state.
  void send_slice(std::size_t sender, const std::vector<storage::NotificationRow>& rows,
                  const std::vector<std::size_t>& slice, const std::vector<std::string>& phones,
                  std::vector<storage::NotificationOutcome>& outcomes, std::int64_t give_up_at_ms);
  Attempt send_webhook(std::size_t sender, const storage::NotificationRow& row, std::string& error);
  void count(const storage::NotificationRow& row, const storage::NotificationOutcome& outcome);

  const NotifyOptions options_;
  const WebhookTarget target_;
  storage::NotificationStore& store_;
  accounts::AccountStore* accounts_;
  accounts::SmsProvider* sms_;
  const Clock& clock_;
  log::Logger logger_;
  const std::string owner_;
  // One keep-alive client per sender thread, each used only by its thread.
  std::vector<std::unique_ptr<http::HttpClient>> clients_;

  metrics::CounterFamily& sent_;
  metrics::CounterFamily& failed_;
  metrics::CounterFamily& retrying_;
  metrics::CounterFamily& dead_;
  metrics::CounterFamily& skipped_;
  metrics::GaugeFamily& pending_;
  metrics::GaugeFamily& oldest_age_;
  metrics::Counter& errors_;

  sync::Mutex mutex_;
  sync::CondVar wake_;
  bool stopping_ GUARDED_BY(mutex_) = false;
  std::thread worker_;
};

}  // namespace shopeasy::cloud::notify
