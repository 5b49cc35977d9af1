// The replenishment proposal's time and memory for N SKUs.
//
// Seeds a real edge store (its schema, on disk) with N products spread over 20
// suppliers, each SKU linked, and 91 days of history: a weekly delivery and picks at
// about --picks-per-day a day in the store's busy hours, ending with stock on hand.
// Then, at a fixed instant (a fake clock, so no hour boundary falls inside the run):
//  1. uncached: the proposal as it was before the forecast cache (every SKU fitted and
//     the store's pooled shape read per SKU). Above --uncached-full SKUs only a sample
//     of --uncached-sample SKUs (default 5) is proposed one by one and the time scaled to N.
//  2. cached, cold: the first proposal (every SKU fitted once, the shape read once).
//  3. cached, warm: the same proposal again (nothing fitted).
//  4. after sales of 1% of the SKUs in the current hour: those SKUs are fitted again.
// When the uncached proposal ran in full, it must equal the cached one line for line.
// Prints the times, the ratios to the uncached time, the cache's bytes and the peak RSS.
// Target: a warm proposal at most 1/20 of the uncached time.
// Exit status: 0 measured and the target met, 1 the target missed, 3 the cached proposal
// differed from the uncached one or a phase failed.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/clock/clock.hpp"
#include "edge/barcode/barcode.hpp"
#include "edge/demand/demand_service.hpp"
#include "edge/forecast/series.hpp"
#include "edge/inventory/inventory.hpp"
#include "edge/replenish/replenishment.hpp"
#include "edge/store/edge_store.hpp"
#include "tests/bench/bench_common.hpp"

namespace {

using namespace shopeasy;
using namespace shopeasy::edge;
using Ms = std::chrono::duration<double, std::milli>;

struct Args {
  int skus = 25000;
  double picks_per_day = 1.0;
  int uncached_full = 2000;
  int uncached_sample = 5;
  unsigned seed = 1;
};

bool parse_args(int argc, char** argv, Args& a) {
  for (int i = 1; i < argc; ++i) {
    std::string_view s = argv[i];
    auto value = [&](std::string_view name) -> const char* {
      if (s.substr(0, name.size()) != name) return nullptr;
      return argv[i] + name.size();
    };
    if (const char* v1 = value("--skus=")) {
      a.skus = std::atoi(v1);
    } else if (const char* v2 = value("--picks-per-day=")) {
      a.picks_per_day = std::atof(v2);
    } else if (const char* v3 = value("--uncached-full=")) {
      a.uncached_full = std::atoi(v3);
    } else if (const char* v4 = value("--uncached-sample=")) {
      a.uncached_sample = std::atoi(v4);
    } else if (const char* v5 = value("--seed=")) {
      a.seed = static_cast<unsigned>(std::atol(v5));
    } else {
      std::fprintf(stderr, "replenish_bench: unknown argument %s\n", argv[i]);
      return false;
    }
  }
  if (a.skus < 20 || a.skus > 1000000 || !(a.picks_per_day > 0) || a.uncached_sample < 1) {
    std::fprintf(stderr,
                 "replenish_bench: --skus must be 20..1000000, --picks-per-day above 0, "
                 "--uncached-sample at least 1\n");
    return false;
  }
  return true;
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

double rss_mb() {
  long pages = 0, resident = 0;
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  std::fclose(f);
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / 1048576.0;
}

std::string sku_name(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "SKU-%06d", i);
  return buf;
}

// The GTIN-13 of the i-th SKU (the first kScannedSkus have one), as a handheld sends it.
constexpr int kScannedSkus = 100;
std::string gtin13_of(int i) {
  char body[13];
  std::snprintf(body, sizeof body, "200%09d", i);
  return std::string(body) + static_cast<char>('0' + *barcode::gs1_check_digit(body));
}

// Products, suppliers, links and history, straight into the store's tables (the
// inventory's own writes would take minutes for millions of movements).
Status seed(store::EdgeStore& store, const Args& a, std::int64_t now_ms, std::size_t& rows) {
  std::mt19937 rng(a.seed);
  constexpr int kSuppliers = 20;
  constexpr std::int64_t kDay = 86'400'000;
  const std::int64_t first_ms = now_ms - 91 * kDay;
  const Status head = store.write([&](store::WriteContext& ctx) -> Status {
    SHOPEASY_RETURN_IF_ERROR(
        ctx.db().run("INSERT INTO bins (code, walk_order, zone) VALUES ('A-01', 1, '')"));
    for (int s = 0; s < kSuppliers; ++s) {
      SHOPEASY_RETURN_IF_ERROR(ctx.db().run(
          "INSERT INTO suppliers (id, name, lead_time_days, order_days, min_order_qty, "
          "pack_size, active, updated_at_ms) VALUES (?, ?, ?, ?, 0, ?, 1, ?)",
          "SUP-" + std::to_string(s), "Supplier " + std::to_string(s), 1 + s % 5,
          std::int64_t{s % 2 == 0 ? 0x7F : 0x15}, std::int64_t{1 + s % 3 * 5}, now_ms));
    }
    return Status();
  });
  if (!head.is_ok()) return head;
  constexpr int kChunk = 500;
  for (int from = 0; from < a.skus; from += kChunk) {
    const Status chunk = store.write([&](store::WriteContext& ctx) -> Status {
      db::Database& db = ctx.db();
      for (int i = from; i < std::min(a.skus, from + kChunk); ++i) {
        const std::string sku = sku_name(i);
        SHOPEASY_RETURN_IF_ERROR(
            db.run("INSERT INTO products (sku, name, category, home_bin, updated_at_ms) "
                   "VALUES (?, ?, ?, 'A-01', ?)",
                   sku, "Product " + std::to_string(i), "cat-" + std::to_string(i % 40), now_ms));
        if (i < kScannedSkus) {
          SHOPEASY_RETURN_IF_ERROR(
              db.run("INSERT INTO barcodes (gtin, sku) VALUES (?, ?)", "0" + gtin13_of(i), sku));
        }
        SHOPEASY_RETURN_IF_ERROR(
            db.run("INSERT INTO sku_suppliers (sku, supplier_id, service_level, updated_at_ms) "
                   "VALUES (?, ?, 0.95, ?)",
                   sku, "SUP-" + std::to_string(i % kSuppliers), now_ms));
        // Popularity varies a hundredfold across SKUs, as in a real catalog.
        const double rate = a.picks_per_day * std::exp(std::normal_distribution(0.0, 1.0)(rng));
        std::poisson_distribution<int> picks_today(std::min(rate, 200.0));
        std::int64_t level = 0;
        const std::int64_t weekly = static_cast<std::int64_t>(std::ceil(rate * (5 + i % 5))) + 1;
        auto put = [&](std::int64_t ts, std::int64_t delta, const char* reason) -> Status {
          level += delta;
          ++rows;
          return db.run(
              "INSERT INTO ledger (ts_ms, sku, bin, lot_id, delta, reason, actor, source, "
              "on_hand_after) VALUES (?, ?, 'A-01', 0, ?, ?, 'bench', 'bench', ?)",
              ts, sku, delta, reason, level);
        };
        for (int d = 0; d < 91; ++d) {
          const std::int64_t day = first_ms + d * kDay;
          if (d % 7 == 0) SHOPEASY_RETURN_IF_ERROR(put(day + 6 * 3'600'000, weekly, "receive"));
          const int n = picks_today(rng);
          for (int k = 0; k < n && level > 0; ++k) {
            const std::int64_t hour = 8 + static_cast<int>(rng() % 13);
            SHOPEASY_RETURN_IF_ERROR(put(day + hour * 3'600'000 + k, -1, "pick"));
          }
        }
        SHOPEASY_RETURN_IF_ERROR(db.run(
            "INSERT INTO stock (sku, bin, lot_id, on_hand) VALUES (?, 'A-01', 0, ?)", sku, level));
        SHOPEASY_RETURN_IF_ERROR(
            db.run("INSERT INTO sku_totals (sku, on_hand) VALUES (?, ?)", sku, level));
      }
      return Status();
    });
    if (!chunk.is_ok()) return chunk;
  }
  return Status();
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (!parse_args(argc, argv, a)) return 2;
  char tmpl[] = "/tmp/replenish-bench-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    std::perror("replenish_bench: mkdtemp");
    return 3;
  }
  const std::string dir = tmpl;
  struct Cleanup {
    std::string dir;
    ~Cleanup() { std::filesystem::remove_all(dir); }
  } cleanup{dir};

  // Tuesday 2026-03-10 14:20 UTC: inside an hour, in the store's busy part of the day.
  const std::int64_t now_s = forecast::days_from_civil(2026, 3, 10) * 86400 + 14 * 3600 + 20 * 60;
  FakeClock clock{WallTime(std::chrono::seconds(now_s))};
  events::EventBus bus;
  log::Logger logger{std::make_shared<log::MemorySink>(), log::Level::kWarn, "bench"};
  metrics::Registry metrics;
  store::StoreOptions so;
  so.path = dir + "/edge.db";
  so.durable = false;
  auto store = store::EdgeStore::open(so, clock, bus, logger, metrics);
  if (!store.ok()) {
    std::fprintf(stderr, "replenish_bench: %s\n", store.status().to_string().c_str());
    return 3;
  }
  inventory::Inventory inv(**store, "bench", logger, metrics);
  demand::DemandService demand(**store, demand::DemandOptions{91, 0});
  replenish::ReplenishOptions off{"bench", 0, demand::DemandService::kMaxHours};
  off.cache_forecasts = false;
  replenish::Replenishment uncached(**store, inv, demand, clock, off, logger, metrics);
  replenish::Replenishment cached(
      **store, inv, demand, clock,
      replenish::ReplenishOptions{"bench", 0, demand::DemandService::kMaxHours}, logger, metrics);

  std::printf("replenish_bench: %d SKUs, 20 suppliers, 91 days of history, ~%.1f picks/SKU/day\n",
              a.skus, a.picks_per_day);
  auto t0 = std::chrono::steady_clock::now();
  std::size_t rows = 0;
  const std::int64_t now_ms = now_s * 1000;
  if (Status s = seed(**store, a, now_ms, rows); !s.is_ok()) {
    std::fprintf(stderr, "replenish_bench: seeding failed: %s\n", s.to_string().c_str());
    return 3;
  }
  std::printf("seeded %zu ledger rows in %.1f s\n", rows,
              Ms(std::chrono::steady_clock::now() - t0).count() / 1000);
  const double rss_before = rss_mb();

  auto timed = [&](replenish::Replenishment& r, const replenish::ProposalQuery& q,
                   replenish::ProposalReport* out) -> double {
    const auto start = std::chrono::steady_clock::now();
    auto report = r.proposal(q);
    const double ms = Ms(std::chrono::steady_clock::now() - start).count();
    if (!report.ok()) {
      std::fprintf(stderr, "replenish_bench: proposal failed: %s\n",
                   report.status().to_string().c_str());
      std::exit(3);
    }
    if (out != nullptr) *out = std::move(*report);
    return ms;
  };

  // 1. Uncached.
  double uncached_ms = 0;
  bool full = a.skus <= a.uncached_full;
  replenish::ProposalReport before;
  if (full) {
    uncached_ms = timed(uncached, {}, &before);
  } else {
    double sample_ms = 0;
    for (int k = 0; k < a.uncached_sample; ++k) {
      const int i = static_cast<int>((static_cast<long long>(k) * a.skus) / a.uncached_sample);
      sample_ms += timed(uncached, {std::nullopt, sku_name(i), false}, nullptr);
    }
    uncached_ms = sample_ms / a.uncached_sample * a.skus;
  }
  // 2-3. Cached, cold then warm.
  replenish::ProposalReport cold_report, warm_report;
  const double cold_ms = timed(cached, {}, &cold_report);
  const double warm_ms = timed(cached, {}, &warm_report);
  const auto stats = cached.forecast_cache_stats();
  // 4. Sales of 1% of the SKUs in the current hour.
  const int sold = std::max(1, a.skus / 100);
  if (Status s = (*store)->write([&](store::WriteContext& ctx) -> Status {
        for (int k = 0; k < sold; ++k) {
          const std::string sku = sku_name(k * 100 % a.skus);
          SHOPEASY_RETURN_IF_ERROR(ctx.db().run(
              "INSERT INTO ledger (ts_ms, sku, bin, lot_id, delta, reason, actor, source, "
              "on_hand_after) VALUES (?, ?, 'A-01', 0, -1, 'pick', 'bench', 'bench', 0)",
              now_ms - 60'000, sku));
          SHOPEASY_RETURN_IF_ERROR(
              ctx.db().run("UPDATE sku_totals SET on_hand = on_hand - 1 WHERE sku = ?", sku));
          SHOPEASY_RETURN_IF_ERROR(ctx.db().run(
              "UPDATE stock SET on_hand = on_hand - 1 WHERE sku = ? AND bin = 'A-01' AND "
              "lot_id = 0",
              sku));
        }
        return Status();
      });
      !s.is_ok()) {
    std::fprintf(stderr, "replenish_bench: sales failed: %s\n", s.to_string().c_str());
    return 3;
  }
  const double after_sales_ms = timed(cached, {}, nullptr);
  const auto stats2 = cached.forecast_cache_stats();
  const double rss_after = rss_mb();

  bool same = true;
  const std::string warm_json = replenish::proposal_report_json(warm_report).dump();
  if (replenish::proposal_report_json(cold_report).dump() != warm_json) same = false;
  if (full && replenish::proposal_report_json(before).dump() != warm_json) same = false;

  std::size_t to_order = 0;
  for (const auto& p : warm_report.lines) to_order += p.qty > 0 ? 1 : 0;
  std::printf("\nproposal of %d SKUs (%zu lines, %zu to order)\n", a.skus, warm_report.lines.size(),
              to_order);
  std::printf("  %-34s %10.0f ms%s\n", "uncached (before)", uncached_ms,
              full ? "" : "  (scaled from a sample)");
  if (!full) {
    std::printf("  %-34s %10.1f ms  (%d SKUs proposed one by one)\n", "  uncached per SKU",
                uncached_ms / a.skus, a.uncached_sample);
  }
  std::printf("  %-34s %10.0f ms  %8.1fx faster than uncached\n", "cached, cold (first request)",
              cold_ms, uncached_ms / cold_ms);
  std::printf("  %-34s %10.0f ms  %8.1fx faster than uncached\n", "cached, warm", warm_ms,
              uncached_ms / warm_ms);
  std::printf("  %-34s %10.0f ms  %8.1fx faster than uncached (%llu refitted)\n",
              "cached, after sales of 1% of SKUs", after_sales_ms, uncached_ms / after_sales_ms,
              static_cast<unsigned long long>(stats2.misses - stats.misses));
  std::printf(
      "  cache: %zu entries, %.1f MB (%.0f bytes a SKU); RSS %.0f MB before the "
      "proposals, %.0f MB after, peak %.0f MB\n",
      stats.entries, static_cast<double>(stats.bytes) / 1048576.0,
      static_cast<double>(stats.bytes) / std::max<std::size_t>(1, stats.entries), rss_before,
      rss_after, peak_rss_mb());
  std::printf(
      "  cached proposal %s the uncached one%s\n", same ? "equals" : "DIFFERS FROM",
      full ? "" : " (not compared: the uncached one ran on a sample; cold == warm checked)");

  // 5. Scans while the store refits every forecast (a cold cache, as in the first
  // proposal of each hour), beside the same scans with nothing else running. A scan
  // receives one unit, the pace of a busy receiving bay (one every 5 ms).
  std::atomic<int> scan_no{0};
  auto scan_latencies = [&](const std::atomic<bool>& until_false) {
    std::vector<double> ms;
    while (until_false.load()) {
      const int k = scan_no.fetch_add(1);
      wire::Scan s;
      s.scan_id = "bench-" + std::to_string(k);
      s.scanner_id = "bench";
      s.code = gtin13_of(k % kScannedSkus);
      s.action = wire::ScanAction::kReceive;
      s.qty = 1;
      s.bin = "A-01";
      const auto start = std::chrono::steady_clock::now();
      auto r = inv.apply_scan(s, inventory::Actor{"bench", "bench"});
      ms.push_back(Ms(std::chrono::steady_clock::now() - start).count());
      if (!r.ok()) {
        std::fprintf(stderr, "replenish_bench: scan failed: %s\n", r.status().to_string().c_str());
        std::exit(3);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the bay's pace
    }
    return ms;
  };
  auto percentile = [](std::vector<double> v, double q) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
  };
  std::vector<double> idle_scans;
  {
    std::atomic<bool> going{true};
    std::thread scanner([&] { idle_scans = scan_latencies(going); });
    std::this_thread::sleep_for(std::chrono::seconds(a.skus >= 5000 ? 5 : 1));
    going = false;
    scanner.join();
  }
  replenish::Replenishment refit(
      **store, inv, demand, clock,
      replenish::ReplenishOptions{"bench", 0, demand::DemandService::kMaxHours}, logger, metrics);
  std::vector<double> refit_scans;
  double refit_ms = 0;
  {
    std::atomic<bool> going{true};
    std::thread scanner([&] { refit_scans = scan_latencies(going); });
    refit_ms = timed(refit, {}, nullptr);
    going = false;
    scanner.join();
  }
  const double idle_p50 = percentile(idle_scans, 0.5), idle_p99 = percentile(idle_scans, 0.99);
  const double refit_p50 = percentile(refit_scans, 0.5), refit_p99 = percentile(refit_scans, 0.99);
  std::printf(
      "\nscans (receive 1 unit, one every 5 ms) idle: %zu, p50 %.2f ms, p99 %.2f ms; during a "
      "%.0f ms refit of every forecast: %zu, p50 %.2f ms, p99 %.2f ms (%.1fx the idle p99)\n",
      idle_scans.size(), idle_p50, idle_p99, refit_ms, refit_scans.size(), refit_p50, refit_p99,
      refit_p99 / std::max(idle_p99, 1e-6));

  const std::string n = std::to_string(a.skus);
  auto fmt = [](double v, const char* unit) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.0f %s", v, unit);
    return std::string(buf);
  };
  auto ratio = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fx", v);
    return std::string(buf);
  };
  const bool met = warm_ms * 20 <= uncached_ms;
  bench::record_result("replenish", "proposal, " + n + " SKUs, cold cache", fmt(cold_ms, "ms"),
                       fmt(uncached_ms, "ms uncached"), ratio(uncached_ms / cold_ms), "-", "-");
  bench::record_result("replenish", "proposal, " + n + " SKUs, warm cache", fmt(warm_ms, "ms"),
                       fmt(uncached_ms, "ms uncached"), ratio(uncached_ms / warm_ms),
                       ">= 20x faster", met ? "met" : "MISSED");
  {
    char during[64], idle[64], r[32];
    std::snprintf(during, sizeof during, "p99 %.2f ms (p50 %.2f)", refit_p99, refit_p50);
    std::snprintf(idle, sizeof idle, "p99 %.2f ms idle", idle_p99);
    std::snprintf(r, sizeof r, "%.1fx", refit_p99 / std::max(idle_p99, 1e-6));
    bench::record_result("replenish", "scans during a refit of " + n + " SKUs", during, idle, r,
                         "-", "-");
  }
  bench::record_result("replenish", "forecast cache, " + n + " SKUs",
                       fmt(static_cast<double>(stats.bytes) / 1048576.0, "MB"), "-", "-", "-", "-");
  if (!same) return 3;
  return met ? 0 : 1;
}
