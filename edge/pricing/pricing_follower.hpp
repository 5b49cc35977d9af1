// PricingFollower: keeps the store's copy of what the cloud says about its prices (the
// kill switch, the delivery fee and its surge step, SKUs off base with their reasons,
// lots marked down, overrides; see cloud/pricing/store_view.hpp).
//
// One thread asks GET /v1/stores/{id}/pricing with the version it holds and lets the
// cloud hold the request until the view changes (or wait_ms passes), so a change, the
// kill switch above all, reaches the store within a round trip instead of a polling
// period. Each new view is stored (table pricing_view) before it is shown, so the
// command center still shows the last one after a restart with the cloud out of reach,
// with its age. Failures back off with jitter; a cloud that will not hold the request
// (its stream cap reached) is polled instead.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/clock/clock.hpp"
#include "common/http/client.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/status/status.hpp"
#include "common/sync/mutex.hpp"
#include "edge/events/event_bus.hpp"
#include "edge/store/edge_store.hpp"

namespace shopeasy::edge::pricing {

struct PricingFollowerOptions {
  std::string cloud_url;
  std::string store_id;
  std::string store_secret;  // sent as Bearer <store_id>:<secret>
  std::string ca_file;
  // How long the cloud may hold a request open (it caps this at 10 s, under the
  // client's 15 s read timeout).
  std::chrono::milliseconds wait{8'000};
  std::chrono::milliseconds min_backoff{500};
  std::chrono::milliseconds max_backoff{30'000};
  // Between plain requests when the cloud declines to hold one.
  std::chrono::milliseconds poll_every{5'000};
};

// What the store holds, for GET /api/pricing.
struct PricingState {
  std::optional<nlohmann::json> view{};  // the cloud's view as last received
  std::int64_t received_ms = 0;          // when it arrived (0: never)
  std::string last_error{};              // of the last exchange ("" when it succeeded)
  std::int64_t last_success_ms = 0;
};

class PricingFollower {
 public:
  PricingFollower(PricingFollowerOptions options, store::EdgeStore& store, events::EventBus& bus,
                  const Clock& clock, log::Logger logger, metrics::Registry& metrics);
  ~PricingFollower();
  PricingFollower(const PricingFollower&) = delete;
  PricingFollower& operator=(const PricingFollower&) = delete;

  // Loads the stored view and starts the thread.
  Status start() EXCLUDES(mutex_);
  void stop() EXCLUDES(client_mutex_, mutex_);

  // One exchange, holding the request open for `wait` (0: answer at once). Returns
  // whether a new version arrived. Used by the thread; exposed for tests.
  StatusOr<bool> follow_once(std::chrono::milliseconds wait) EXCLUDES(mutex_, client_mutex_);

  PricingState state() const EXCLUDES(mutex_);
  // {"view": ... | null, "received_at_ms", "age_ms", "last_error", "last_success_ms",
  //  "cloud_reachable"}: what the command center shows.
  nlohmann::json status_json() const EXCLUDES(mutex_);

 private:
  void run() EXCLUDES(mutex_, client_mutex_);
  // Waits `d` or until stop().
  void pause(std::chrono::milliseconds d) EXCLUDES(mutex_);
  Status load_stored() EXCLUDES(mutex_);
  // Checks the shape the page relies on; kInvalidArgument naming the field.
  static Status check_view(const nlohmann::json& view, const std::string& store_id);
  std::chrono::milliseconds next_backoff();

  PricingFollowerOptions options_;
  store::EdgeStore& store_;
  events::EventBus& bus_;
  const Clock& clock_;
  log::Logger logger_;

  // Guards client_'s lifetime: the follower thread (or a test) makes requests on it
  // without the lock, but creates and drops it under it, so stop() may cancel it.
  mutable shopeasy::sync::Mutex client_mutex_;
  std::unique_ptr<http::HttpClient> client_ GUARDED_BY(client_mutex_);
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mt19937 rng_{std::random_device{}()};
  std::chrono::milliseconds backoff_;
  // Set when the cloud declined to hold a request: poll until then.
  MonoTime poll_until_{};

  // Guards the state the thread writes and the routes read.
  mutable shopeasy::sync::Mutex mutex_;
  PricingState state_ GUARDED_BY(mutex_);
  // Wakes the thread's backoff wait at stop().
  shopeasy::sync::CondVar wake_;

  metrics::Counter& views_;
  metrics::CounterFamily& failures_;
  log::RateLimiter failure_log_{3, std::chrono::seconds(60)};
  metrics::CallbackGauge age_gauge_;  // last: unregistered before the rest goes
};

}  // namespace shopeasy::edge::pricing
