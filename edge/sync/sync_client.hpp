// SyncClient: drains the edge's outbox (the events table) to the cloud and applies
// what the cloud sends back. Transport is at-least-once; effects are exactly-once
// because the cloud applies a store's changes only in sequence order and the edge
// stores the downstream cursor in the same transaction as the items' effects.
//
// One thread: read the changes after the acknowledged sequence (bounded by rows and
// bytes), POST them gzip-compressed, record the acknowledgement, apply downstream
// items, trim acknowledged events beyond a retention window. Failures back off
// exponentially with jitter; a restart resumes from the stored acknowledgement. The
// store keeps serving while the cloud is away for hours or days.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
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
#include "common/wire/sync.hpp"
#include "edge/events/event_bus.hpp"
#include "edge/store/edge_store.hpp"

namespace shopeasy::edge::sync {

struct SyncOptions {
  std::string cloud_url;  // "https://cloud.example:8090"
  std::string store_id;
  std::string store_secret;  // sent as Bearer <store_id>:<secret>
  std::string ca_file;       // pin the cloud's CA
  std::size_t max_changes = 2000;
  std::size_t max_bytes = 4 << 20;
  std::chrono::milliseconds min_backoff{250};
  std::chrono::milliseconds max_backoff{30000};
  // With nothing to send, poll the cloud (heartbeat, downstream) this often.
  std::chrono::milliseconds heartbeat{5000};
  // Acknowledged events kept for live-stream replay; older ones are deleted.
  std::int64_t keep_acked_events = 100000;
  // Alert (log + metric) when the backlog passes this many changes.
  std::int64_t backlog_alert = 1000000;
  std::chrono::seconds lag_alert{60};
  // Order history (order.status per history row) of orders updated within this window
  // is re-sent with a full snapshot, so the cloud's orders converge too.
  std::chrono::hours resync_order_window{24};
  // When caught up, send reconciliation checksums this often (0: never).
  std::chrono::milliseconds reconcile_every{30000};
  int reconcile_buckets = 64;
  // The store's load, sent with every batch for the cloud's surge pricing (nullopt, or
  // no function: none sent). Called on the sync thread.
  std::function<std::optional<wire::StoreLoadReport>()> load;
  // The lots expiring soon, for the cloud's markdowns (nullopt, or no function: none
  // sent). Called on the sync thread before each batch; the list rides along when it
  // differs from the one the cloud last acknowledged, or that is older than
  // near_expiry_refresh (so the cloud can tell a silent store's list has aged).
  std::function<std::optional<std::vector<wire::NearExpiryLot>>()> near_expiry;
  std::chrono::milliseconds near_expiry_refresh{60000};
  // The SKUs overstocked or scarce against their forecast demand, for the cloud's
  // inventory rule (nullopt, or no function: none sent). Called on the sync thread
  // before each batch, so it must be cheap; sent like near_expiry: when it differs from
  // the list the cloud last acknowledged, or that is older than stock_cover_refresh.
  std::function<std::optional<std::vector<wire::StockCover>>()> stock_cover;
  std::chrono::milliseconds stock_cover_refresh{60000};
};

// Applies one downstream item inside the write that also advances the cursor.
using DownstreamApplier = std::function<Status(store::WriteContext&, const std::string& kind,
                                               const nlohmann::json& body)>;

class SyncClient {
 public:
  SyncClient(SyncOptions options, store::EdgeStore& store, events::EventBus& bus,
             DownstreamApplier apply, const Clock& clock, log::Logger logger,
             metrics::Registry& metrics);
  ~SyncClient();

  // Loads the stored position and starts the thread.
  Status start();
  void stop();

  // Loads the stored position without starting the thread, for a test that drives
  // sync_once() itself (start() does this first).
  Status load();

  // One exchange with the cloud (used by the thread; exposed for tests). Returns how
  // many changes were acknowledged, or the error.
  StatusOr<std::int64_t> sync_once() EXCLUDES(status_mutex_);

  // For /health: acked seq, backlog, lag, last error, last success. The newest seq and
  // the lag are read from the outbox as committed now, not as the last exchange saw it.
  nlohmann::json status() const EXCLUDES(status_mutex_);

 private:
  void run() EXCLUDES(status_mutex_);
  StatusOr<std::int64_t> load_position() EXCLUDES(status_mutex_);
  // Checksums of the store's stock in one read snapshot, with the newest seq they cover.
  StatusOr<nlohmann::json> reconcile_snapshot();
  // Re-sends the current totals of every SKU in the given buckets as stock.snapshot,
  // then a stock.snapshot_end naming the buckets, so the cloud drops the rows of SKUs
  // the store no longer has.
  Status resend_buckets(const std::vector<int>& buckets);
  // The cloud cannot continue from our outbox (it lost changes we trimmed, or our
  // database went back in time): in one transaction, move the outbox's numbering past
  // the cloud's `cloud_acked`, write a full snapshot (every SKU's totals, recent order
  // history, stock.snapshot_end) and mark its first seq as the resync point.
  Status resync(std::int64_t cloud_acked, const std::string& reason) EXCLUDES(status_mutex_);
  std::chrono::milliseconds next_backoff();
  // The outbox's newest seq and the time of its oldest change after `acked` (0: none).
  struct OutboxHead {
    std::int64_t newest_seq = 0;
    std::int64_t oldest_unacked_ts_ms = 0;
  };
  StatusOr<OutboxHead> read_outbox_head(std::int64_t acked) const;

  SyncOptions options_;
  store::EdgeStore& store_;
  events::EventBus& bus_;
  DownstreamApplier apply_;
  const Clock& clock_;
  log::Logger logger_;

  std::unique_ptr<http::HttpClient> client_;  // used by one thread at a time
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mt19937 rng_{std::random_device{}()};
  std::chrono::milliseconds backoff_;

  // Sync thread only.
  MonoTime next_reconcile_{};
  // The near-expiry list the cloud last acknowledged, and when.
  std::optional<nlohmann::json> near_expiry_acked_{};
  MonoTime near_expiry_acked_at_{};
  // The stock cover list the cloud last acknowledged, and when.
  std::optional<nlohmann::json> stock_cover_acked_{};
  MonoTime stock_cover_acked_at_{};
  bool lag_alerting_ = false;
  bool backlog_alerting_ = false;
  std::int64_t reconcile_mismatches_ = 0;

  // Guards the position and progress below: the sync thread (or a test's sync_once)
  // writes them, status() reads them for /health.
  mutable shopeasy::sync::Mutex status_mutex_;
  std::int64_t acked_seq_ GUARDED_BY(status_mutex_) = 0;
  std::int64_t downstream_cursor_ GUARDED_BY(status_mutex_) = 0;
  // wire::downstream_item_hash of the item at downstream_cursor_ ("" before the first).
  std::string downstream_hash_ GUARDED_BY(status_mutex_);
  std::int64_t newest_seq_ GUARDED_BY(status_mutex_) = 0;
  std::int64_t oldest_unacked_ts_ms_ GUARDED_BY(status_mutex_) = 0;
  std::string last_error_ GUARDED_BY(status_mutex_);
  std::int64_t last_success_ms_ GUARDED_BY(status_mutex_) = 0;
  // 32 hex digits, made once per outbox.
  std::string outbox_id_ GUARDED_BY(status_mutex_);
  // First seq of the last full snapshot (0: none).
  std::int64_t resync_from_seq_ GUARDED_BY(status_mutex_) = 0;
  std::int64_t resyncs_ GUARDED_BY(status_mutex_) = 0;
  // {"reason","at_ms","from_seq","cloud_acked"} or null.
  nlohmann::json last_resync_ GUARDED_BY(status_mutex_);

  metrics::Gauge& acked_gauge_;
  metrics::Gauge& backlog_gauge_;
  metrics::Gauge& backlog_bytes_gauge_;
  metrics::Gauge& lag_gauge_;
  metrics::Counter& sent_changes_;
  metrics::Counter& wire_bytes_;
  metrics::Counter& duplicates_;
  metrics::CounterFamily& failures_;
  metrics::Counter& downstream_applied_;
  metrics::Histogram& round_trip_;
  metrics::Counter& reconcile_rounds_;
  metrics::Counter& reconcile_repairs_;
  metrics::CounterFamily& resync_counter_;
  log::RateLimiter failure_log_{3, std::chrono::seconds(60)};
};

}  // namespace shopeasy::edge::sync
