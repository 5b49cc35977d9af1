// FleetStats: the fleet dashboard's reads of the cloud database (orders placed per
// minute, orders delivered in a window, open orders by status, failed notifications),
// kept apart from CloudStore so the dashboard's queries do not grow the store's
// interface. Each backend opens its own connection to the database CloudStore migrated:
// the SQLite file read-only, or the PostgreSQL server from the same connection string.
//
// Every read is bounded: by a time window on an indexed column (schema version 12,
// "fleet_stats": orders by created_at_ms, by (status, updated_at_ms, store_id), by
// (store_id, status, updated_at_ms) and by (store_id, created_at_ms)) and by a row cap.
// Timestamps are the cloud's: an order's delivery time is when the cloud applied the
// store's "delivered" change, so a store's sync lag adds to it. Thread-safe (calls are
// serialised on the one connection).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status/status.hpp"

namespace shopeasy::cloud::fleet {

// An order whose last status change, in the window, was to "delivered".
struct DeliveredOrder {
  std::string order_id{};
  std::string store_id{};
  std::int64_t created_at_ms = 0;
  std::int64_t delivered_at_ms = 0;
  std::int64_t promised_at_ms = 0;  // 0: no promise recorded
};

// How many orders of one store are in one open status.
struct StatusCount {
  std::string store_id{};
  std::string status{};
  std::int64_t count = 0;
};

// Notification rows of a channel that ended in `state` ("failed" or "dead").
struct ChannelStateCount {
  std::string channel{};
  std::string state{};
  std::int64_t count = 0;
};

// Statuses an order is still moving through.
inline constexpr const char* kOpenStatuses[] = {
    "pending_payment", "confirmed", "routed", "accepted", "picking", "packed", "out_for_delivery"};

class FleetStats {
 public:
  virtual ~FleetStats() = default;

  // Orders created in [since_ms, since_ms + minutes * 60000), counted per minute, oldest
  // minute first (`minutes` entries, 1..1440). `store_id` empty: the whole fleet.
  virtual StatusOr<std::vector<std::int64_t>> orders_per_minute(std::int64_t since_ms, int minutes,
                                                                const std::string& store_id) = 0;
  // Orders delivered in [since_ms, until_ms), newest first, at most `limit`
  // (1..100000). `store_id` empty: every store.
  virtual StatusOr<std::vector<DeliveredOrder>> delivered(std::int64_t since_ms,
                                                          std::int64_t until_ms,
                                                          const std::string& store_id,
                                                          int limit) = 0;
  // Open orders (kOpenStatuses) counted by store and status; `store_id` empty: all.
  virtual StatusOr<std::vector<StatusCount>> open_orders(const std::string& store_id) = 0;
  // Notification rows that ended failed or dead, last changed at or after `since_ms`.
  virtual StatusOr<std::vector<ChannelStateCount>> notification_failures(std::int64_t since_ms) = 0;
};

// The SQLite file CloudStore keeps (it must have been migrated), opened read-only.
// kUnavailable when it cannot be opened.
StatusOr<std::unique_ptr<FleetStats>> open_sqlite_fleet_stats(const std::string& path);
// A connection to the PostgreSQL database CloudStore uses (libpq connection string),
// made at once (kUnavailable when it fails) and again after the server drops it.
StatusOr<std::unique_ptr<FleetStats>> open_postgres_fleet_stats(const std::string& dsn);

}  // namespace shopeasy::cloud::fleet
