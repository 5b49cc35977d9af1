// The sync benchmark's phases. Each measures one speed goal against real daemons (and
// a baseline measured in the same run where there is one), prints its figures through
// the Report and returns an error only when it could not measure at all (a daemon did
// not start, a drain never finished); a missed target is a figure, not an error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status/status.hpp"
#include "tests/bench/sync/bench_report.hpp"

namespace shopeasy::syncbench {

struct Args {
  std::string phases = "12345";
  bool quick = false;
  // 1. drain
  std::int64_t drain_changes = 1'000'000;
  std::vector<int> batch_sizes = {2000, 5000, 10000};
  bool postgres = true;
  int postgres_batch = 10000;
  int skus = 10000;
  double drain_timeout_s = 120;
  // Changes in the in-process pipeline breakdown (0: skip it).
  std::int64_t pipeline_sample = 30'000;
  // Also drain the first batch size through a relay that acknowledges at once.
  bool quick_ack_check = true;
  // Record perf profiles of the daemons during each drain into this directory.
  std::string perf_dir;
  // 2. fleet
  int edges = 100;
  int fleet_batch = 100;
  double fleet_paced_s = 6;
  double fleet_saturated_s = 6;
  int fleet_http_threads = 128;  // > 0: rerun the paced stage with this many cloud threads
  // 4. live
  double live_seconds = 20;
  int live_rate = 100;
  // 5. cuts
  std::int64_t cut_changes = 100'000;
  int cuts = 30;
  int cut_batch = 2000;

  // How to rerun one phase of this run, for the report.
  std::string command_for(char phase) const;
};

// gzip bytes of a typical SyncClient batch of `changes` stock changes (one sample).
std::int64_t typical_batch_gzip_bytes(int changes, int skus);

Status run_drain_phase(const Args& args, Report& report);
Status run_fleet_phase(const Args& args, Report& report);
Status run_wire_phase(const Args& args, Report& report);
Status run_live_phase(const Args& args, Report& report);
Status run_cut_phase(const Args& args, Report& report);

}  // namespace shopeasy::syncbench
