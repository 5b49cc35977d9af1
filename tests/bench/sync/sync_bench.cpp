// sync_bench: the edge-to-cloud sync speed goals, measured with the real daemons and
// against baselines measured in the same run. Not a test; scripts/bench-sync.sh builds
// and runs it.
//
//  0. machine load, wake-up delay and fdatasync latency, the context of every figure.
//  1. drain   1,000,000 queued stock changes reach a fresh cloud (goal: < 30 s on
//             loopback), for several sync.batch_max_changes, against raw SQLite upserts
//             of the same rows; once more through a quick-ACK relay; the pipeline taken
//             apart in-process; then the same drain into a PostgreSQL cloud.
//  2. fleet   100 stores syncing at once to one cloud: sustained changes/s, round trip,
//             stores served; again with more cloud HTTP threads.
//  3. wire    gzip bytes per stock change in SyncClient batches (goal: < 60 B).
//  4. live    100 changes/s at one store: edge commit to cloud-visible (goals: p50 <
//             250 ms, p99 < 1 s), a quiet store's late change, and one exchange through
//             the HttpClient against one write on a TCP_NODELAY socket.
//  5. cuts    connections cut at random bytes during a drain: at most one batch resent
//             per cut.
//
// Usage: sync_bench [--phases=12345] [--quick] [--changes=N] [--batches=2000,5000,10000]
//                   [--no-postgres] [--postgres-batch=N] [--pipeline-sample=N] [--skus=N]
//                   [--timeout=S] [--no-quick-ack-check]
//                   [--perf-dir=DIR] [--edges=N] [--fleet-batch=N] [--fleet-seconds=P,S]
//                   [--fleet-http-threads=N] [--live-seconds=S] [--live-rate=N]
//                   [--cut-changes=N] [--cuts=N] [--cut-batch=N]
// Exit status: 0 when every target was met, 1 when one was missed, 2 when a phase
// could not measure (or for a bad argument).
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>

#include "tests/bench/bench_common.hpp"
#include "tests/bench/sync/phases.hpp"
#include "tests/harness/temp_dir.hpp"

namespace shopeasy::syncbench {

std::string Args::command_for(char phase) const {
  std::string cmd = "scripts/bench-sync.sh --no-build --";
  if (quick) cmd += " --quick";
  cmd += " --phases=";
  cmd += phase;
  return cmd;
}

namespace {

std::optional<std::string_view> option(std::string_view arg, std::string_view name) {
  if (arg.size() > name.size() && arg.substr(0, name.size()) == name && arg[name.size()] == '=') {
    return arg.substr(name.size() + 1);
  }
  return std::nullopt;
}

StatusOr<std::int64_t> to_int(std::string_view text, std::string_view name, std::int64_t min,
                              std::int64_t max) {
  const std::string s(text);
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || v < min || v > max) {
    return invalid_argument(format("must be an integer in %lld..%lld", static_cast<long long>(min),
                                   static_cast<long long>(max)),
                            std::string(name));
  }
  return static_cast<std::int64_t>(v);
}

StatusOr<double> to_seconds(std::string_view text, std::string_view name) {
  const std::string s(text);
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !(v > 0) || v > 3600) {
    return invalid_argument("must be a number of seconds in (0, 3600]", std::string(name));
  }
  return v;
}

StatusOr<Args> parse_args(int argc, char** argv) {
  Args a;
  // --quick first, so explicit sizes given with it win.
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--quick") {
      a.quick = true;
      a.drain_changes = 200'000;
      a.pipeline_sample = 20'000;
      a.fleet_paced_s = 5;
      a.fleet_saturated_s = 6;
      a.live_seconds = 10;
      a.cut_changes = 30'000;
      a.cuts = 10;
    }
  }
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--quick") continue;
    if (arg == "--no-postgres") {
      a.postgres = false;
      continue;
    }
    if (arg == "--no-quick-ack-check") {
      a.quick_ack_check = false;
      continue;
    }
    auto set_int = [&](std::string_view name, auto* out, std::int64_t min,
                       std::int64_t max) -> std::optional<Status> {
      auto v = option(arg, name);
      if (!v) return std::nullopt;
      auto n = to_int(*v, name, min, max);
      if (!n.ok()) return n.status();
      *out = static_cast<std::remove_pointer_t<decltype(out)>>(*n);
      return Status::ok();
    };
    std::optional<Status> handled;
    if (auto v = option(arg, "--phases")) {
      a.phases = std::string(*v);
      if (a.phases.empty() || a.phases.find_first_not_of("12345") != std::string::npos) {
        return invalid_argument("must be digits 1-5", "--phases");
      }
      continue;
    }
    if (auto v = option(arg, "--batches")) {
      a.batch_sizes.clear();
      std::string_view rest = *v;
      while (!rest.empty()) {
        const auto comma = rest.find(',');
        auto n = to_int(rest.substr(0, comma), "--batches", 1, 10000);
        if (!n.ok()) return n.status();
        a.batch_sizes.push_back(static_cast<int>(*n));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      }
      if (a.batch_sizes.empty()) return invalid_argument("needs at least one size", "--batches");
      continue;
    }
    if (auto v = option(arg, "--fleet-seconds")) {
      const auto comma = v->find(',');
      if (comma == std::string_view::npos) return invalid_argument("is P,S", "--fleet-seconds");
      auto p = to_seconds(v->substr(0, comma), "--fleet-seconds");
      auto s = to_seconds(v->substr(comma + 1), "--fleet-seconds");
      if (!p.ok()) return p.status();
      if (!s.ok()) return s.status();
      a.fleet_paced_s = *p;
      a.fleet_saturated_s = *s;
      continue;
    }
    if (auto v = option(arg, "--timeout")) {
      auto s = to_seconds(*v, "--timeout");
      if (!s.ok()) return s.status();
      a.drain_timeout_s = *s;
      continue;
    }
    if (auto v = option(arg, "--live-seconds")) {
      auto s = to_seconds(*v, "--live-seconds");
      if (!s.ok()) return s.status();
      a.live_seconds = *s;
      continue;
    }
    if (auto v = option(arg, "--perf-dir")) {
      a.perf_dir = std::string(*v);
      continue;
    }
    for (auto attempt :
         {set_int("--changes", &a.drain_changes, 1, 100'000'000),
          set_int("--postgres-batch", &a.postgres_batch, 1, 10000),
          set_int("--pipeline-sample", &a.pipeline_sample, 0, 10'000'000),
          set_int("--skus", &a.skus, 1, 1'000'000), set_int("--edges", &a.edges, 1, 1000),
          set_int("--fleet-batch", &a.fleet_batch, 1, 10000),
          set_int("--fleet-http-threads", &a.fleet_http_threads, 0, 512),
          set_int("--live-rate", &a.live_rate, 1, 5000),
          set_int("--cut-changes", &a.cut_changes, 1, 100'000'000),
          set_int("--cuts", &a.cuts, 0, 100000), set_int("--cut-batch", &a.cut_batch, 1, 10000)}) {
      if (attempt) {
        handled = attempt;
        break;
      }
    }
    if (!handled) {
      return invalid_argument("unknown option (see the header of sync_bench.cpp)",
                              std::string(arg));
    }
    if (!handled->is_ok()) return *handled;
  }
  return a;
}

}  // namespace
}  // namespace shopeasy::syncbench

int main(int argc, char** argv) {
  using namespace shopeasy::syncbench;
  auto args = parse_args(argc, argv);
  if (!args.ok()) {
    std::fprintf(stderr, "sync_bench: %s\n", args.status().to_string().c_str());
    return 2;
  }
  Report report;
  std::printf("sync_bench: phases %s%s; load average %s\n", args->phases.c_str(),
              args->quick ? " (quick)" : "", load_average().c_str());
  shopeasy::bench::print_lifted_limits("sync_bench");
  {
    // What every figure below depends on, measured now: on a shared machine wall times
    // stretch with the load, and each hand-off between threads costs a wake-up.
    report.phase("0. This machine", "(measured at the start of every run)");
    report.key("cores / load average",
               format("%u / %s", std::thread::hardware_concurrency(), load_average().c_str()));
    const Percentiles late = sleep_overshoot(300);
    report.key("wake-up delay of a 1 ms sleep p50 / p99",
               format("%.2f / %.2f ms", late.p50, late.p99));
    auto tmp = shopeasy::testing::TempDir::create("syncbench-disk");
    if (tmp.ok()) {
      if (auto disk = fdatasync_latency(tmp->path(), 100); disk.ok()) {
        report.key("fdatasync of 4 KiB p50 / p99", format("%.1f / %.1f ms", disk->p50, disk->p99));
      }
    }
  }
  int status = 0;
  struct Phase {
    char id;
    shopeasy::Status (*run)(const Args&, Report&);
  };
  for (const Phase& phase :
       {Phase{'1', run_drain_phase}, Phase{'2', run_fleet_phase}, Phase{'3', run_wire_phase},
        Phase{'4', run_live_phase}, Phase{'5', run_cut_phase}}) {
    if (args->phases.find(phase.id) == std::string::npos) continue;
    shopeasy::Status st = phase.run(*args, report);
    if (!st.is_ok()) {
      std::printf("   phase %c could not measure: %s\n", phase.id, st.to_string().c_str());
      status = 2;
    }
  }
  report.summary();
  if (status == 0 && !report.all_met()) status = 1;
  return status;
}
