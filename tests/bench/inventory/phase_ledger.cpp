// Phase 2: ledger write rate in-process (Inventory::apply_scan through the EdgeStore's
// group commit) against plain SQLite writing the same rows in transactions as large as
// the store's mean batch.
#include <atomic>
#include <cmath>
#include <cstdio>
#include <random>
#include <thread>

#include "common/wire/scan.hpp"
#include "edge/inventory/inventory.hpp"
#include "tests/bench/inventory/in_process_store.hpp"
#include "tests/bench/inventory/ledger_baseline.hpp"
#include "tests/bench/inventory/phases.hpp"
#include "tests/harness/harness.hpp"

namespace shopeasy::bench {

namespace {

using edge::inventory::Actor;
using edge::inventory::Inventory;

constexpr double kTargetRatio = 0.5;
constexpr std::size_t kBins = 40;

struct StoreRun {
  double seconds = 0;
  std::size_t scans = 0;
  std::size_t failed = 0;
  std::string first_error;
  double mean_batch = 0;
  double commit_mean_ms = 0;
  double rate() const { return seconds > 0 ? static_cast<double>(scans) / seconds : 0.0; }
};

StatusOr<StoreRun> run_store(const std::string& path, bool durable, const BenchOptions& options,
                             const std::vector<BenchProduct>& catalog) {
  auto s = InProcessStore::open(path, durable);
  if (!s.ok()) return s.status();
  SHOPEASY_RETURN_IF_ERROR((*s)->load_catalog(make_bins(kBins), catalog));
  Inventory& inventory = (*s)->inventory();
  const auto before = PromPage::parse((*s)->render_metrics());

  const int threads = std::max(1, options.inproc_threads);
  const std::size_t per_thread = options.inproc_scans / static_cast<std::size_t>(threads);
  std::atomic<std::size_t> failed{0};
  std::vector<std::string> first_error(static_cast<std::size_t>(threads));
  std::vector<std::thread> workers;
  const auto started = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937_64 rng(options.seed + static_cast<std::uint64_t>(t));
      const Actor actor{"bench", "scanner:h" + std::to_string(t)};
      for (std::size_t i = 0; i < per_thread; ++i) {
        wire::Scan scan;
        scan.scan_id = "t" + std::to_string(t) + "-" + std::to_string(i);
        scan.scanner_id = "h" + std::to_string(t);
        scan.code = catalog[rng() % catalog.size()].ean13;
        scan.action = wire::ScanAction::kReceive;
        scan.qty = 1;
        auto r = inventory.apply_scan(scan, actor);
        if (!r.ok()) {
          if (failed.fetch_add(1) == 0)
            first_error[static_cast<std::size_t>(t)] = r.status().to_string();
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  StoreRun run;
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  run.scans = per_thread * static_cast<std::size_t>(threads);
  run.failed = failed.load();
  for (const auto& e : first_error) {
    if (!e.empty()) run.first_error = e;
  }
  const auto after = PromPage::parse((*s)->render_metrics());
  auto batch_now = after.histogram("edge_store_batch_writes");
  auto batch_then = before.histogram("edge_store_batch_writes");
  auto commit_now = after.histogram("edge_store_commit_seconds");
  auto commit_then = before.histogram("edge_store_commit_seconds");
  if (batch_now.ok() && batch_then.ok()) run.mean_batch = batch_now->minus(*batch_then).mean();
  if (commit_now.ok() && commit_then.ok()) {
    run.commit_mean_ms = commit_now->minus(*commit_then).mean() * 1000;
  }
  (*s)->stop();
  return run;
}

// A database with the store's schema (made by the store itself, so the indexes and
// constraints are the same), bins and catalog, for the baseline to write into.
Status prepare_baseline_db(const std::string& path, const std::vector<BenchProduct>& catalog) {
  auto s = InProcessStore::open(path, true);
  if (!s.ok()) return s.status();
  SHOPEASY_RETURN_IF_ERROR((*s)->load_catalog(make_bins(kBins), catalog));
  (*s)->stop();
  return Status::ok();
}

Status compare(const BenchOptions& options, const std::vector<BenchProduct>& catalog, bool durable,
               Table& results) {
  auto dir = testing::TempDir::create("bench-inventory-ledger");
  if (!dir.ok()) return dir.status();
  // The store is durable by an fdatasync of its WAL before each answer (pipelined behind
  // the writer); the raw baseline by synchronous=FULL, SQLite's fsync inside each commit.
  const char* store_mode = durable ? "durable: WAL fdatasync before answering" : "not durable";
  const char* mode = durable ? "FULL" : "NORMAL";
  if (durable) {
    auto sync = probe_fdatasync(dir->path().string(), 100, true);
    if (sync.ok()) {
      std::printf("disk: fdatasync 4 KiB overwrite p50 %.2f ms p99 %.2f ms; load average %s\n",
                  sync->p50_ms, sync->p99_ms, load_averages().c_str());
    }
  }
  auto store = run_store(dir->file("store.db").string(), durable, options, catalog);
  if (!store.ok()) return store.status();
  std::printf(
      "store  (%s): %zu scans from %d threads in %.2f s = %.0f scans/s, "
      "mean batch %.2f, commit mean %.2f ms, failed %zu%s%s\n",
      store_mode, store->scans, options.inproc_threads, store->seconds, store->rate(),
      store->mean_batch, store->commit_mean_ms, store->failed,
      store->first_error.empty() ? "" : " first: ", store->first_error.c_str());
  std::fflush(stdout);

  SHOPEASY_RETURN_IF_ERROR(prepare_baseline_db(dir->file("raw.db").string(), catalog));
  BaselineSpec spec;
  spec.path = dir->file("raw.db").string();
  spec.durable = durable;
  spec.scans = store->scans;
  spec.scans_per_transaction =
      static_cast<std::size_t>(std::max(1.0, std::round(store->mean_batch)));
  spec.seed = options.seed;
  auto raw = run_ledger_baseline(spec, catalog);
  if (!raw.ok()) return raw.status();
  const double ratio = raw->rate() > 0 ? store->rate() / raw->rate() : 0;
  std::printf(
      "sqlite (synchronous=%s): %zu scans in %zu transactions of %zu in %.2f s = %.0f "
      "scans/s; store/raw = %.1f%%\n",
      mode, raw->scans, raw->transactions, spec.scans_per_transaction, raw->seconds, raw->rate(),
      ratio * 100);
  std::fflush(stdout);
  results.add({std::string("apply_scan x") + std::to_string(options.inproc_threads) + " threads, " +
                   (durable ? "durable" : "not durable"),
               fixed(store->rate(), 0) + "/s (batch " + fixed(store->mean_batch, 1) + ")",
               "raw sqlite " + std::string(mode) + " " + fixed(raw->rate(), 0) + "/s (tx of " +
                   std::to_string(spec.scans_per_transaction) + ")",
               fixed(ratio * 100, 1) + "%", durable ? ">=50% of raw" : "(info)",
               durable ? verdict(ratio >= kTargetRatio && store->failed == 0) : "info"});
  return Status::ok();
}

}  // namespace

Status run_ledger_write_phase(const BenchOptions& options, Table& results) {
  std::printf("\n== 2. Ledger write rate in-process vs raw SQLite ==\n");
  const auto catalog = make_catalog(options.catalog_size, kBins);
  SHOPEASY_RETURN_IF_ERROR(compare(options, catalog, true, results));
  SHOPEASY_RETURN_IF_ERROR(compare(options, catalog, false, results));
  return Status::ok();
}

}  // namespace shopeasy::bench
