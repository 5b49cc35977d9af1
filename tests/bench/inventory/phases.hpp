// The inventory benchmark's three phases, each measuring one group of the inventory
// speed goals against a baseline measured in the same run, printing progress as it
// goes and adding its figures to the shared results table:
//   1. scan ingest over HTTP (the real daemon, durable) vs a hello-world server;
//   2. ledger writes in-process through Inventory vs plain SQLite;
//   3. reads and memory of a daemon holding a big store.
// Phases run one at a time on the calling thread; they start and stop their own child
// processes and temporary directories.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status/status.hpp"
#include "tests/bench/inventory/bench_stats.hpp"

namespace shopeasy::bench {

struct BenchOptions {
  // Phase 1.
  std::vector<int> concurrency = {8, 16, 32, 64};
  int duration_ms = 5000;  // measured time per load level
  int warmup_ms = 500;     // unmeasured time before it
  int http_threads = 80;   // daemon and baseline workers; must exceed the top concurrency
  std::size_t catalog_size = 1000;
  // Phase 2.
  std::size_t inproc_scans = 20000;
  int inproc_threads = 8;
  // Phase 3.
  std::size_t big_skus = 10000;
  std::size_t big_lots_per_sku = 5;
  std::size_t big_ledger_rows = 1'000'000;
  std::size_t read_requests = 2000;
  std::size_t ledger_requests = 300;
  int ledger_max_seconds = 20;

  std::uint64_t seed = 20261125;
  std::string self_exe;  // this program, run again as the baseline server
};

// The results table's columns, shared by every phase.
Table make_results_table();

// "met", "MISSED" or "info" for the verdict column.
std::string verdict(bool met);

Status run_http_ingest_phase(const BenchOptions& options, Table& results);
Status run_ledger_write_phase(const BenchOptions& options, Table& results);
Status run_big_store_phase(const BenchOptions& options, Table& results);

}  // namespace shopeasy::bench
