#include "tests/bench/inventory/big_store.hpp"

#include <chrono>
#include <cstdio>
#include <random>

#include "tests/bench/inventory/raw_sqlite.hpp"

namespace shopeasy::bench {

namespace {
constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;
}

std::string utc_date_of(std::int64_t unix_ms) {
  // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
  std::int64_t z = unix_ms / kDayMs + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lld", static_cast<long long>(y),
                static_cast<long long>(m), static_cast<long long>(d));
  return buf;
}

StatusOr<BigStoreSummary> build_big_store(const BigStoreSpec& spec,
                                          const std::vector<BenchProduct>& catalog) {
  if (catalog.empty()) return invalid_argument("empty catalog", "catalog");
  if (spec.lots_per_sku == 0) return invalid_argument("must be at least 1", "lots_per_sku");
  const auto started = std::chrono::steady_clock::now();
  auto db = RawDb::open(spec.db_path);
  if (!db.ok()) return db.status();
  // A generator, not the product: no fsyncs, a rollback journal for the bulk load (the
  // daemon's WAL mode is restored at the end) and a big cache for the random index
  // inserts.
  SHOPEASY_RETURN_IF_ERROR(
      db->exec("PRAGMA journal_mode = DELETE; PRAGMA synchronous = OFF; "
               "PRAGMA cache_size = -262144; PRAGMA foreign_keys = OFF; BEGIN"));

  BigStoreSummary summary;
  {
    auto bin = db->prepare("INSERT INTO bins (code, walk_order, zone) VALUES (?1, ?2, ?3)");
    if (!bin.ok()) return bin.status();
    for (std::size_t i = 0; i < spec.bins.size(); ++i) {
      bin->bind(1, spec.bins[i]);
      bin->bind(2, static_cast<std::int64_t>(i));
      bin->bind(3, "Z" + std::to_string(i / 25));
      SHOPEASY_RETURN_IF_ERROR(bin->run_to_end());
    }
  }
  {
    auto product = db->prepare(
        "INSERT INTO products (sku, name, category, price_cents, unit, home_bin, reorder_point, "
        "active, updated_at_ms) VALUES (?1, ?2, ?3, ?4, 'each', ?5, ?6, 1, ?7)");
    if (!product.ok()) return product.status();
    auto barcode = db->prepare("INSERT INTO barcodes (gtin, sku) VALUES (?1, ?2)");
    if (!barcode.ok()) return barcode.status();
    for (const auto& p : catalog) {
      product->bind(1, p.sku);
      product->bind(2, p.name);
      product->bind(3, p.category);
      product->bind(4, p.price_cents);
      product->bind(5, p.home_bin);
      product->bind(6, p.reorder_point);
      product->bind(7, spec.now_ms);
      SHOPEASY_RETURN_IF_ERROR(product->run_to_end());
      barcode->bind(1, "0" + p.ean13);  // stored as GTIN-14
      barcode->bind(2, p.sku);
      SHOPEASY_RETURN_IF_ERROR(barcode->run_to_end());
    }
    summary.products = catalog.size();
  }

  std::mt19937_64 rng(spec.seed);
  const std::size_t slots = catalog.size() * spec.lots_per_sku;
  std::vector<std::int64_t> lot_ids(slots);
  {
    auto lot = db->prepare("INSERT INTO lots (sku, lot_code, expiry) VALUES (?1, ?2, ?3)");
    if (!lot.ok()) return lot.status();
    // Expiries from ten days ago to about ten months ahead, so some lots are expired,
    // some expiring soon and most fine.
    std::uniform_int_distribution<std::int64_t> days(-10, 300);
    char code[64];
    for (std::size_t s = 0; s < catalog.size(); ++s) {
      for (std::size_t j = 0; j < spec.lots_per_sku; ++j) {
        std::snprintf(code, sizeof code, "LOT-%05zu-%zu", s, j);
        lot->bind(1, catalog[s].sku);
        lot->bind(2, std::string_view(code));
        lot->bind(3, utc_date_of(spec.now_ms + days(rng) * kDayMs));
        SHOPEASY_RETURN_IF_ERROR(lot->run_to_end());
        lot_ids[s * spec.lots_per_sku + j] = db->last_insert_rowid();
      }
    }
    summary.lots = slots;
  }

  std::vector<std::int64_t> on_hand(slots, 0);
  std::vector<std::int64_t> sku_version(catalog.size(), 0);
  std::vector<bool> touched(slots, false);
  {
    auto ledger = db->prepare(
        "INSERT INTO ledger (ts_ms, sku, bin, lot_id, delta, reserved_delta, reason, actor, "
        "source, ref, note, on_hand_after) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?8, ?9, NULL, "
        "?10)");
    if (!ledger.ok()) return ledger.status();
    std::uniform_int_distribution<std::size_t> pick_sku(0, catalog.size() - 1);
    std::uniform_int_distribution<std::size_t> pick_lot(0, spec.lots_per_sku - 1);
    std::uniform_int_distribution<int> percent(0, 99);
    std::uniform_int_distribution<std::int64_t> receive_qty(1, 12);
    const std::int64_t span_ms = 90 * kDayMs;
    const std::int64_t first_ms = spec.now_ms - span_ms;
    for (std::size_t i = 0; i < spec.ledger_rows; ++i) {
      const std::size_t s = pick_sku(rng);
      const std::size_t slot = s * spec.lots_per_sku + pick_lot(rng);
      std::int64_t delta;
      const bool pick = on_hand[slot] >= 3 && percent(rng) < 40;
      if (pick) {
        delta = -std::uniform_int_distribution<std::int64_t>(1, 3)(rng);
      } else {
        delta = receive_qty(rng);
      }
      on_hand[slot] += delta;
      touched[slot] = true;
      ++sku_version[s];
      const std::int64_t ts =
          first_ms + static_cast<std::int64_t>(static_cast<double>(span_ms) * i / spec.ledger_rows);
      ledger->bind(1, ts);
      ledger->bind(2, catalog[s].sku);
      ledger->bind(3, catalog[s].home_bin);
      ledger->bind(4, lot_ids[slot]);
      ledger->bind(5, delta);
      ledger->bind(6, std::string_view(pick ? "pick" : "receive"));
      ledger->bind(7, std::string_view(pick ? "picker-7" : "receiver-2"));
      ledger->bind(8, std::string_view("scanner:h1"));
      ledger->bind(9, (pick ? "ORD-" : "scan-") + std::to_string(i));
      ledger->bind(10, on_hand[slot]);
      SHOPEASY_RETURN_IF_ERROR(ledger->run_to_end());
    }
    summary.ledger_rows = spec.ledger_rows;
  }
  {
    auto stock = db->prepare(
        "INSERT INTO stock (sku, bin, lot_id, on_hand, reserved) VALUES (?1, ?2, ?3, ?4, 0)");
    if (!stock.ok()) return stock.status();
    auto totals = db->prepare(
        "INSERT INTO sku_totals (sku, on_hand, reserved, version) VALUES (?1, ?2, 0, ?3)");
    if (!totals.ok()) return totals.status();
    for (std::size_t s = 0; s < catalog.size(); ++s) {
      std::int64_t sum = 0;
      for (std::size_t j = 0; j < spec.lots_per_sku; ++j) {
        const std::size_t slot = s * spec.lots_per_sku + j;
        sum += on_hand[slot];
        // A (sku, bin, lot) the ledger never touched has no stock row, as in the product.
        if (!touched[slot]) continue;
        stock->bind(1, catalog[s].sku);
        stock->bind(2, catalog[s].home_bin);
        stock->bind(3, lot_ids[slot]);
        stock->bind(4, on_hand[slot]);
        SHOPEASY_RETURN_IF_ERROR(stock->run_to_end());
        ++summary.stock_rows;
      }
      if (sku_version[s] == 0) continue;
      totals->bind(1, catalog[s].sku);
      totals->bind(2, sum);
      totals->bind(3, sku_version[s]);
      SHOPEASY_RETURN_IF_ERROR(totals->run_to_end());
    }
  }
  SHOPEASY_RETURN_IF_ERROR(db->exec("COMMIT; PRAGMA journal_mode = WAL"));
  summary.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return summary;
}

}  // namespace shopeasy::bench
