#include "tests/bench/inventory/ledger_baseline.hpp"

#include <chrono>
#include <cstdio>
#include <random>

#include "tests/bench/inventory/raw_sqlite.hpp"

namespace shopeasy::bench {

namespace {

constexpr const char* kStoreId = "bench-store";
constexpr const char* kActor = "bench";
constexpr const char* kSource = "api";

struct Statements {
  RawStatement stock;
  RawStatement totals;
  RawStatement ledger;
  RawStatement event;
  RawStatement applied;
};

StatusOr<Statements> prepare_all(RawDb& db) {
  auto stock = db.prepare(
      "INSERT INTO stock (sku, bin, lot_id, on_hand, reserved) VALUES (?1, ?2, 0, ?3, 0) "
      "ON CONFLICT (sku, bin, lot_id) DO UPDATE SET on_hand = on_hand + excluded.on_hand, "
      "reserved = reserved + excluded.reserved RETURNING on_hand, reserved");
  if (!stock.ok()) return stock.status();
  auto totals = db.prepare(
      "INSERT INTO sku_totals (sku, on_hand, reserved, version) VALUES (?1, ?2, 0, 1) "
      "ON CONFLICT (sku) DO UPDATE SET on_hand = on_hand + excluded.on_hand, "
      "reserved = reserved + excluded.reserved, version = version + 1 "
      "RETURNING on_hand, reserved, version");
  if (!totals.ok()) return totals.status();
  auto ledger = db.prepare(
      "INSERT INTO ledger (ts_ms, sku, bin, lot_id, delta, reserved_delta, reason, actor, "
      "source, ref, note, on_hand_after) VALUES (?1, ?2, ?3, 0, ?4, 0, 'receive', ?5, ?6, ?7, "
      "NULL, ?8)");
  if (!ledger.ok()) return ledger.status();
  auto event =
      db.prepare("INSERT INTO events (ts_ms, type, body) VALUES (?1, 'stock.changed', ?2)");
  if (!event.ok()) return event.status();
  auto applied =
      db.prepare("INSERT INTO applied_scans (scan_id, ts_ms, response) VALUES (?1, ?2, ?3)");
  if (!applied.ok()) return applied.status();
  return Statements{std::move(*stock), std::move(*totals), std::move(*ledger), std::move(*event),
                    std::move(*applied)};
}

// Reads the single RETURNING row of an upsert into `out`, then finishes the statement.
Status returning_row(RawStatement& s, std::int64_t* out, int columns, RawDb& db) {
  if (s.step() != SQLITE_ROW) {
    s.reset();
    return internal_error("upsert returned no row: " + db.error_message());
  }
  for (int i = 0; i < columns; ++i) out[i] = s.column_int64(i);
  return s.run_to_end();
}

// The stock.changed body the inventory module stores, with the same keys and the same
// kind of values, so the events rows weigh the same.
std::string event_body(const BenchProduct& p, const std::string& ref, std::int64_t ts_ms,
                       std::int64_t on_hand, std::int64_t sku_on_hand, std::int64_t version,
                       std::int64_t ledger_id) {
  char buf[768];
  std::snprintf(buf, sizeof buf,
                "{\"actor\":\"%s\",\"bin\":\"%s\",\"delta\":1,\"ledger_id\":%lld,"
                "\"on_hand_after\":%lld,\"reason\":\"receive\",\"ref\":\"%s\","
                "\"reserved_after\":0,\"reserved_delta\":0,\"sku\":\"%s\",\"sku_available\":%lld,"
                "\"sku_on_hand\":%lld,\"sku_reserved\":0,\"source\":\"%s\",\"store_id\":\"%s\","
                "\"ts_ms\":%lld,\"version\":%lld}",
                kActor, p.home_bin.c_str(), static_cast<long long>(ledger_id),
                static_cast<long long>(on_hand), ref.c_str(), p.sku.c_str(),
                static_cast<long long>(sku_on_hand), static_cast<long long>(sku_on_hand), kSource,
                kStoreId, static_cast<long long>(ts_ms), static_cast<long long>(version));
  return buf;
}

}  // namespace

StatusOr<BaselineResult> run_ledger_baseline(const BaselineSpec& spec,
                                             const std::vector<BenchProduct>& catalog) {
  if (catalog.empty()) return invalid_argument("empty catalog", "catalog");
  if (spec.scans_per_transaction == 0) {
    return invalid_argument("must be at least 1", "scans_per_transaction");
  }
  auto db = RawDb::open(spec.path);
  if (!db.ok()) return db.status();
  SHOPEASY_RETURN_IF_ERROR(db->exec(
      std::string("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = ") +
      (spec.durable ? "FULL" : "NORMAL") + "; PRAGMA cache_size = -" +
      std::to_string(spec.cache_size_kib)));
  auto st = prepare_all(*db);
  if (!st.ok()) return st.status();
  auto begin = db->prepare("BEGIN IMMEDIATE");
  if (!begin.ok()) return begin.status();
  auto commit = db->prepare("COMMIT");
  if (!commit.ok()) return commit.status();

  std::mt19937_64 rng(spec.seed);
  std::uniform_int_distribution<std::size_t> pick(0, catalog.size() - 1);
  BaselineResult result;
  const auto started = std::chrono::steady_clock::now();
  std::size_t done = 0;
  while (done < spec.scans) {
    SHOPEASY_RETURN_IF_ERROR(begin->run_to_end());
    const std::int64_t ts_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
    const std::size_t end = std::min(spec.scans, done + spec.scans_per_transaction);
    for (; done < end; ++done) {
      const BenchProduct& p = catalog[pick(rng)];
      const std::string scan_id = spec.scan_id_prefix + "-" + std::to_string(done);
      std::int64_t stock_row[2];
      st->stock.bind(1, p.sku);
      st->stock.bind(2, p.home_bin);
      st->stock.bind(3, std::int64_t{1});
      SHOPEASY_RETURN_IF_ERROR(returning_row(st->stock, stock_row, 2, *db));
      std::int64_t totals_row[3];
      st->totals.bind(1, p.sku);
      st->totals.bind(2, std::int64_t{1});
      SHOPEASY_RETURN_IF_ERROR(returning_row(st->totals, totals_row, 3, *db));
      st->ledger.bind(1, ts_ms);
      st->ledger.bind(2, p.sku);
      st->ledger.bind(3, p.home_bin);
      st->ledger.bind(4, std::int64_t{1});
      st->ledger.bind(5, std::string_view(kActor));
      st->ledger.bind(6, std::string_view(kSource));
      st->ledger.bind(7, scan_id);
      st->ledger.bind(8, stock_row[0]);
      SHOPEASY_RETURN_IF_ERROR(st->ledger.run_to_end());
      const std::int64_t ledger_id = db->last_insert_rowid();
      const std::string body =
          event_body(p, scan_id, ts_ms, stock_row[0], totals_row[0], totals_row[2], ledger_id);
      st->event.bind(1, ts_ms);
      st->event.bind(2, body);
      SHOPEASY_RETURN_IF_ERROR(st->event.run_to_end());
      const std::int64_t seq = db->last_insert_rowid();
      const std::string response =
          "{\"action\":\"receive\",\"movements\":[" + body.substr(0, body.size() - 1) +
          ",\"seq\":" + std::to_string(seq) + "}],\"name\":\"" + p.name +
          "\",\"qty\":1,\"scan_id\":\"" + scan_id + "\",\"sku\":\"" + p.sku + "\"}";
      st->applied.bind(1, scan_id);
      st->applied.bind(2, ts_ms);
      st->applied.bind(3, response);
      SHOPEASY_RETURN_IF_ERROR(st->applied.run_to_end());
    }
    SHOPEASY_RETURN_IF_ERROR(commit->run_to_end());
    ++result.transactions;
  }
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  result.scans = done;
  return result;
}

}  // namespace shopeasy::bench
