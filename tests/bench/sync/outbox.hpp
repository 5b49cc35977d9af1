// Raw SQLite work for the sync benchmark, outside the code under test: filling an edge's
// outbox (its events table) with a long offline period's worth of stock changes in one
// fast bulk insert, and the baseline a sync drain is compared with: the same replica
// upserts done directly on a local SQLite file with the cloud's durability settings.
// Functions are independent; each opens and closes its own connection.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/status/status.hpp"
#include "tests/bench/sync/stock_events.hpp"

namespace shopeasy::syncbench {

// What the cloud's replica takes from one change.
struct ReplicaRow {
  std::int32_t sku_index = 0;
  std::int64_t on_hand = 0;
  std::int64_t reserved = 0;
  std::int64_t version = 0;
};

struct OutboxFill {
  std::int64_t rows = 0;
  std::int64_t body_bytes = 0;
  double seconds = 0;
  std::vector<ReplicaRow> replica;  // one per row, in seq order (when asked for)
};

// Appends `count` stock.changed events with seqs 1..count to the events table of the
// migrated edge database `db_path`, whose outbox must be empty, stamped from
// `first_ts_ms` every `spacing_ms`. kFailedPrecondition if events already has rows;
// kUnavailable for SQLite errors.
StatusOr<OutboxFill> fill_outbox(const std::filesystem::path& db_path, StoreSimulator& store,
                                 std::int64_t count, std::int64_t first_ts_ms,
                                 std::int64_t spacing_ms, bool keep_replica_rows);

// The baseline: creates `db_path` (WAL, synchronous FULL), a table shaped like the
// cloud's replica, and upserts one row per change for `store_id`, `batch` changes per
// transaction. Returns the seconds taken (table creation excluded).
StatusOr<double> raw_replica_upserts(const std::filesystem::path& db_path,
                                     const std::string& store_id, const StoreSimulator& store,
                                     const std::vector<ReplicaRow>& rows, std::int64_t batch);

}  // namespace shopeasy::syncbench
