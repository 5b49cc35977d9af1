// routing_bench: the routing speed goal (rank() for 10,000 stores, p99 under 100 us)
// measured against a brute-force scan of every store in the same run, and the
// agreement of the geohash index with a search over every store on 1,000,000 points.
//
//   routing_bench [--stores=10000] [--queries=200000] [--baseline-queries=5000]
//                 [--agreement-points=1000000] [--seed=N]
//
// Exit status: 0 when the speed target is met and nothing disagrees, 1 otherwise,
// 2 for bad arguments.
#include <time.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "tests/bench/bench_common.hpp"
#include "tests/bench/routing/routing_scenario.hpp"

namespace shopeasy::bench::routing {
namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::size_t stores = 10000;
  std::size_t queries = 200000;
  std::size_t baseline_queries = 5000;
  std::size_t agreement_points = 1000000;
  std::uint64_t seed = 42;
};

bool parse_size(std::string_view text, std::size_t* out) {
  std::size_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return false;
  *out = v;
  return true;
}

bool parse_args(int argc, char** argv, Args* args) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const std::size_t eq = a.find('=');
    if (eq == std::string_view::npos) return false;
    const std::string_view key = a.substr(0, eq);
    const std::string_view value = a.substr(eq + 1);
    std::size_t v = 0;
    if (!parse_size(value, &v)) return false;
    if (key == "--stores" && v > 0) {
      args->stores = v;
    } else if (key == "--queries" && v > 0) {
      args->queries = v;
    } else if (key == "--baseline-queries" && v > 0) {
      args->baseline_queries = v;
    } else if (key == "--agreement-points") {
      args->agreement_points = v;
    } else if (key == "--seed") {
      args->seed = v;
    } else {
      return false;
    }
  }
  return true;
}

struct Latency {
  double p50 = 0;
  double p99 = 0;
  double max = 0;
  double mean = 0;
};

Latency summarize(std::vector<double>& us) {
  Latency l;
  if (us.empty()) return l;
  std::sort(us.begin(), us.end());
  auto at = [&](double q) {
    const auto rank = static_cast<std::size_t>(q * static_cast<double>(us.size()));
    return us[std::min(rank, us.size() - 1)];
  };
  l.p50 = at(0.50);
  l.p99 = at(0.99);
  l.max = us.back();
  double sum = 0;
  for (double v : us) sum += v;
  l.mean = sum / static_cast<double>(us.size());
  return l;
}

double micros_since(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

// CPU time of this thread: on a shared machine wall-clock tails also measure the other
// processes, so both are reported.
double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// Delivery points where customers are: in the cities, within reach of some store.
std::vector<geohash::LatLon> customer_points(const std::vector<IndexedStore>& stores,
                                             std::size_t count, std::uint64_t seed) {
  PointSampler sampler(stores, seed);
  std::vector<geohash::LatLon> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) out.push_back(sampler.of_kind(PointKind::kNearStore));
  return out;
}

int run(const Args& args) {
  cloud::routing::RouteOptions options;
  options.online_window_ms = kOnlineWindowMs;
  bool ok = true;

  // 1. Speed: rank() over 10,000 city stores.
  const auto stores = city_stores(args.stores, args.seed);
  cloud::routing::StoreIndex index;
  auto start = Clock::now();
  if (auto s = index.rebuild(stores); !s.is_ok()) {
    std::printf("rebuild failed: %s\n", s.message().c_str());
    return 1;
  }
  std::printf("index of %zu stores built in %.1f ms\n", stores.size(), micros_since(start) / 1e3);

  const auto points = customer_points(stores, args.queries, args.seed + 1);
  // Queue lengths and stock answers cost what a hash lookup costs in the order path.
  auto queue = [](const std::string& id) {
    return static_cast<std::int64_t>(std::hash<std::string>{}(id) % 4);
  };
  auto stock = [](const std::string& id) { return std::hash<std::string>{}(id) % 10 != 0; };
  std::size_t total_candidates = 0;
  std::size_t served = 0;
  for (std::size_t i = 0; i < std::min<std::size_t>(points.size(), 2000); ++i) {
    (void)cloud::routing::rank(index, points[i], kScenarioNowMs, 3, queue, stock, options);
  }
  std::vector<double> rank_us;
  std::vector<double> rank_cpu_us;
  rank_us.reserve(points.size());
  rank_cpu_us.reserve(points.size());
  for (const auto& p : points) {
    const double cpu = thread_cpu_us();
    start = Clock::now();
    const auto ranked = cloud::routing::rank(index, p, kScenarioNowMs, 3, queue, stock, options);
    rank_us.push_back(micros_since(start));
    rank_cpu_us.push_back(thread_cpu_us() - cpu);
    total_candidates += ranked.size();
    if (!ranked.empty()) ++served;
  }
  const Latency rank_lat = summarize(rank_us);
  const Latency rank_cpu = summarize(rank_cpu_us);

  std::vector<double> scan_us;
  std::vector<double> scan_cpu_us;
  const std::size_t baseline_n = std::min(args.baseline_queries, points.size());
  scan_us.reserve(baseline_n);
  scan_cpu_us.reserve(baseline_n);
  for (std::size_t i = 0; i < baseline_n; ++i) {
    const double cpu = thread_cpu_us();
    start = Clock::now();
    const auto ranked = scan_rank(stores, points[i], kScenarioNowMs, 3, options);
    scan_us.push_back(micros_since(start));
    scan_cpu_us.push_back(thread_cpu_us() - cpu);
  }
  const Latency scan_lat = summarize(scan_us);
  const Latency scan_cpu = summarize(scan_cpu_us);

  std::printf("\nrouting alone, %zu stores in 10 cities (radii 1-5 km), %zu queries\n",
              stores.size(), points.size());
  std::printf("  stores ranked per query: %.1f on average; %.1f%% of points served\n",
              static_cast<double>(total_candidates) / static_cast<double>(points.size()),
              100.0 * static_cast<double>(served) / static_cast<double>(points.size()));
  std::printf("  %-34s %10s %10s %10s %10s\n", "", "p50 us", "p99 us", "mean us", "max us");
  std::printf("  %-34s %10.2f %10.2f %10.2f %10.1f\n", "rank() via geohash index", rank_lat.p50,
              rank_lat.p99, rank_lat.mean, rank_lat.max);
  std::printf("  %-34s %10.2f %10.2f %10.2f %10.1f\n", "baseline: scan every store", scan_lat.p50,
              scan_lat.p99, scan_lat.mean, scan_lat.max);
  std::printf("  %-34s %10.2f %10.2f %10.2f %10.1f\n", "rank(), thread CPU time", rank_cpu.p50,
              rank_cpu.p99, rank_cpu.mean, rank_cpu.max);
  std::printf("  %-34s %10.2f %10.2f %10.2f %10.1f\n", "scan, thread CPU time", scan_cpu.p50,
              scan_cpu.p99, scan_cpu.mean, scan_cpu.max);
  std::printf("  index is %.0fx faster at p50 and %.0fx at p99 than the scan (%zu queries)\n",
              scan_lat.p50 / std::max(rank_lat.p50, 1e-3),
              scan_lat.p99 / std::max(rank_lat.p99, 1e-3), baseline_n);
  const bool speed_met = rank_lat.p99 < 100.0;
  std::printf("  target p99 < 100 us: %s\n", speed_met ? "met" : "MISSED");
  auto fixed = [](double v, const char* unit) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.4g %s", v, unit);
    return std::string(buf);
  };
  bench::record_result("routing", "rank() p99, " + std::to_string(stores.size()) + " stores",
                       fixed(rank_lat.p99, "us"), fixed(scan_lat.p99, "us (scan every store)"),
                       fixed(rank_lat.p99 / std::max(scan_lat.p99, 1e-3), "of the scan"),
                       "< 100 us", speed_met ? "met" : "MISSED");
  ok = ok && speed_met;

  // 2. Agreement on city stores plus the awkward ones.
  if (args.agreement_points > 0) {
    auto all = stores;
    auto edge = edge_case_stores(args.seed + 2);
    all.insert(all.end(), edge.begin(), edge.end());
    cloud::routing::StoreIndex full;
    if (auto s = full.rebuild(all); !s.is_ok()) {
      std::printf("rebuild with edge-case stores failed: %s\n", s.message().c_str());
      return 1;
    }
    start = Clock::now();
    const Agreement a = check_agreement(full, all, args.agreement_points, args.seed + 3);
    std::printf("\nagreement with a search over all %zu stores, %zu points (%.1f s)\n", all.size(),
                a.points, micros_since(start) / 1e6);
    std::printf("  points by kind:");
    for (std::size_t k = 0; k < a.points_by_kind.size(); ++k) {
      std::printf(" %s=%zu", kind_name(static_cast<PointKind>(k)), a.points_by_kind[k]);
    }
    std::printf("\n  points with at least one store: %zu\n", a.points_served);
    std::printf("  serving() disagreements: %zu\n  rank() disagreements: %zu\n",
                a.serving_disagreements, a.rank_disagreements);
    for (const auto& e : a.examples) std::printf("  e.g. %s\n", e.c_str());
    const bool agree = a.serving_disagreements == 0 && a.rank_disagreements == 0;
    std::printf("  target 0 disagreements: %s\n", agree ? "met" : "MISSED");
    bench::record_result(
        "routing",
        "disagreements with a search over every store, " + std::to_string(a.points) + " points",
        std::to_string(a.serving_disagreements + a.rank_disagreements), "", "", "0",
        agree ? "met" : "MISSED");
    ok = ok && agree;
  }
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace shopeasy::bench::routing

int main(int argc, char** argv) {
  shopeasy::bench::routing::Args args;
  if (!shopeasy::bench::routing::parse_args(argc, argv, &args)) {
    std::fprintf(stderr,
                 "usage: routing_bench [--stores=N] [--queries=N] [--baseline-queries=N] "
                 "[--agreement-points=N] [--seed=N]\n");
    return 2;
  }
  return shopeasy::bench::routing::run(args);
}
