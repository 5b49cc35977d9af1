// SandboxProvider: a built-in payment gateway that behaves like a real one, for
// development, the demo and tests. It keeps intents, refunds and an outgoing webhook
// queue in its own SQLite file; the customer "pays" on a hosted page
// (register_sandbox_routes) that confirms or declines the intent; each change queues a
// signed webhook, which a background thread delivers with exponential backoff until the
// receiver answers 2xx (at least once, across restarts, since the queue is on disk).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "cloud/payments/payment_types.hpp"
#include "common/clock/clock.hpp"
#include "common/db/database.hpp"
#include "common/http/server.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/status/status.hpp"
#include "common/sync/mutex.hpp"

namespace shopeasy::cloud::payments {

class WebhookSender;

struct SandboxOptions {
  std::string db_path;  // the sandbox's own SQLite file
  // Where events are POSTed: "http://host:port/path" (or https).
  std::string webhook_url;
  std::string webhook_secret;  // at least 32 bytes, shared with the receiver
  // https webhook_url: trust only this CA for the receiver's certificate (empty: the
  // system's trust store).
  std::string webhook_ca_file;
  // Base of the hosted payment page in confirm_url ("https://pay.example.com").
  std::string public_base_url;
  std::shared_ptr<const Clock> clock;  // system clock when null
  // Retry delay after the n-th failed attempt: initial * 2^(n-1), at most max.
  std::chrono::milliseconds retry_initial{1000};
  std::chrono::milliseconds retry_max{std::chrono::minutes(10)};
  // Events still undelivered this long after they were queued are given up (logged).
  std::chrono::hours give_up_after{72};
  std::chrono::milliseconds delivery_timeout{10000};
  // False leaves delivery to explicit deliver_due() calls (tests driving a FakeClock).
  bool deliver_in_background = true;
};

// Counts of the webhook queue.
struct OutboxStats {
  std::int64_t pending = 0;
  std::int64_t delivered = 0;
  std::int64_t abandoned = 0;
  std::int64_t failed_attempts = 0;  // summed over all events
};

class SandboxProvider final : public PaymentProvider {
 public:
  // Opens or creates the database and starts the delivery thread. kInvalidArgument
  // naming the option for a bad webhook_url, public_base_url, short secret or retry
  // settings; database errors as reported.
  static StatusOr<std::unique_ptr<SandboxProvider>> open(SandboxOptions options, log::Logger logger,
                                                         metrics::Registry& metrics);
  // Stops the delivery thread; undelivered events stay queued for the next open().
  ~SandboxProvider() override;
  SandboxProvider(const SandboxProvider&) = delete;
  SandboxProvider& operator=(const SandboxProvider&) = delete;

  StatusOr<PaymentIntent> create_intent(const std::string& order_id, std::int64_t amount_cents,
                                        const std::string& currency,
                                        const std::string& idempotency_key) override
      EXCLUDES(db_mutex_);
  StatusOr<PaymentIntent> get_intent(const std::string& id) override EXCLUDES(db_mutex_);
  StatusOr<PaymentIntent> refund(const std::string& intent_id, std::int64_t amount_cents,
                                 const std::string& idempotency_key) override EXCLUDES(db_mutex_);

  // The customer's answer on the hosted page: `succeed` true pays, false declines.
  // Repeating the same answer returns the intent unchanged; a different answer after
  // the first is kFailedPrecondition. Queues payment_intent.succeeded or
  // payment_intent.payment_failed.
  StatusOr<PaymentIntent> confirm(const std::string& intent_id, bool succeed) EXCLUDES(db_mutex_);

  // Delivers every event that is due now, on the calling thread (the delivery thread
  // does the same on its own). Returns how many were delivered.
  std::size_t deliver_due() EXCLUDES(delivery_mutex_, db_mutex_);
  // Wakes the delivery thread to look at the queue now, e.g. after a receiver came back.
  void wake() EXCLUDES(wake_mutex_);

  StatusOr<OutboxStats> outbox_stats() EXCLUDES(db_mutex_);

 private:
  SandboxProvider(SandboxOptions options, log::Logger logger, metrics::Registry& metrics,
                  db::Database db);
  StatusOr<PaymentIntent> load(const std::string& id) REQUIRES(db_mutex_);
  Status enqueue(const std::string& type, const PaymentIntent& intent, std::int64_t amount_cents)
      REQUIRES(db_mutex_);
  void run() EXCLUDES(delivery_mutex_, db_mutex_, wake_mutex_);

  SandboxOptions options_;
  log::Logger logger_;
  std::string webhook_base_;  // "http://host:port"
  std::string webhook_path_;  // "/path"
  metrics::Counter& delivered_;
  metrics::Counter& failed_attempts_;
  metrics::Counter& abandoned_;

  // Guards db_: one connection for the request threads and the delivery thread.
  sync::Mutex db_mutex_;
  db::Database db_ GUARDED_BY(db_mutex_);

  sync::Mutex delivery_mutex_;  // one delivery pass at a time; guards client_
  std::unique_ptr<WebhookSender> client_ GUARDED_BY(delivery_mutex_);

  // Guards the delivery thread's wake and stop flags.
  sync::Mutex wake_mutex_;
  sync::CondVar wake_cv_;
  bool woken_ GUARDED_BY(wake_mutex_) = false;
  bool stopping_ GUARDED_BY(wake_mutex_) = false;
  std::thread thread_;
};

// The hosted payment page: GET /sandbox/pay/{intent_id} (HTML with Pay and Decline) and
// POST /sandbox/pay/{intent_id} {"outcome":"succeed"|"decline"}. Public, as a gateway's
// page is: the intent id is an unguessable 128-bit token.
void register_sandbox_routes(http::HttpServer& server, SandboxProvider& provider);

}  // namespace shopeasy::cloud::payments
