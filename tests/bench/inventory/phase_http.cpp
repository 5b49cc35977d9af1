// Phase 1: scan ingest over HTTP on loopback with durable commits, against a
// hello-world server driven by the same clients at the same concurrency.
#include <cstdio>

#include "tests/bench/inventory/edge_client.hpp"
#include "tests/bench/inventory/http_load.hpp"
#include "tests/bench/inventory/phases.hpp"
#include "tests/harness/harness.hpp"

namespace shopeasy::bench {

namespace {

constexpr double kTargetScansPerSecond = 5000;
// The latency goal is relative to the disk: p99 within twice its own fdatasync p99
// (a scan waits at most for the commit in progress and then for its own).
constexpr double kTargetP99DiskMultiple = 2;
constexpr std::size_t kBins = 40;

// The JSON a handheld posts for one received item. Built by hand: the load generator
// shares two cores with the daemon, so its own work per request must stay small.
std::string scan_body(const std::string& scan_id, int client, const std::string& code) {
  return "{\"scan_id\":\"" + scan_id + "\",\"scanner_id\":\"h" + std::to_string(client) +
         "\",\"code\":\"" + code + "\",\"action\":\"receive\",\"qty\":1}";
}

std::string ms(double v) { return fixed(v, 2) + " ms"; }

struct Disk {
  std::string text;
  double append_p99_ms = 0;  // what a WAL commit pays: an append and its fdatasync
};

Disk describe_disk(const std::string& dir) {
  auto append = probe_fdatasync(dir, 200, false);
  auto overwrite = probe_fdatasync(dir, 200, true);
  if (!append.ok() || !overwrite.ok()) return {"fdatasync probe failed", 0};
  return {"fdatasync 4 KiB: append p50 " + ms(append->p50_ms) + " p99 " + ms(append->p99_ms) +
              ", overwrite p50 " + ms(overwrite->p50_ms) + " p99 " + ms(overwrite->p99_ms),
          append->p99_ms};
}

}  // namespace

Status run_http_ingest_phase(const BenchOptions& options, Table& results) {
  std::printf("\n== 1. Scan ingest over HTTP (loopback, durable commits) ==\n");
  auto dir = testing::TempDir::create("bench-inventory-http");
  if (!dir.ok()) return dir.status();
  const Disk disk = describe_disk(dir->path().string());
  std::printf("disk: %s; load average %s\n", disk.text.c_str(), load_averages().c_str());
  results.add({"disk before phase 1", disk.text, "", "", "", "info"});
  const double target_p99_ms = kTargetP99DiskMultiple * disk.append_p99_ms;
  const std::string target = ">=5000/s, p99<=" + ms(target_p99_ms) + " (2x fdatasync p99)";

  auto hello = start_hello_server(options.self_exe, options.http_threads, false);
  if (!hello.ok()) return hello.status();
  auto tuned = start_hello_server(options.self_exe, options.http_threads, true);
  if (!tuned.ok()) return tuned.status();
  auto edge = start_edge(dir->file("edge").string(), options.http_threads, true);
  if (!edge.ok()) return edge.status();
  const pid_t edge_pid = edge->process.pid();

  const auto catalog = make_catalog(options.catalog_size, kBins);
  SHOPEASY_RETURN_IF_ERROR(load_catalog(edge->http_port, make_bins(kBins), catalog));
  std::printf(
      "edge pid %d, %zu products in %zu bins, %d HTTP workers; each level: %d ms warmup "
      "+ %d ms measured\n",
      static_cast<int>(edge_pid), catalog.size(), kBins, options.http_threads, options.warmup_ms,
      options.duration_ms);
  std::printf("%3s | %7s %6s %7s %7s | %7s %6s %7s %7s | %6s | %5s %6s %7s | %4s %4s | %7s %6s\n",
              "C", "scans/s", "p50", "p99", "max", "hello/s", "p50", "p99", "max", "ratio", "batch",
              "commit", "c.p99~", "edge", "gen", "tuned/s", "p99");

  for (const int clients : options.concurrency) {
    LoadSpec spec;
    spec.clients = clients;
    spec.warmup = std::chrono::milliseconds(options.warmup_ms);
    spec.duration = std::chrono::milliseconds(options.duration_ms);
    spec.seed = options.seed + static_cast<std::uint64_t>(clients);
    spec.bearer_token = bench_token();
    const std::string level = "c" + std::to_string(clients);
    auto make_scan = [&](int client, std::uint64_t seq, std::mt19937_64& rng) {
      const BenchProduct& p = catalog[rng() % catalog.size()];
      return HttpCall{"POST", "/api/scans",
                      scan_body(level + "-" + std::to_string(client) + "-" + std::to_string(seq),
                                client, p.ean13),
                      "application/json"};
    };
    // The baselines get the very same requests and bodies, on another path.
    auto make_hello = [&](int client, std::uint64_t seq, std::mt19937_64& rng) {
      HttpCall call = make_scan(client, seq, rng);
      call.path = "/hello";
      return call;
    };

    spec.port = hello->port;
    spec.make_call = make_hello;
    auto base = run_load(spec);
    if (!base.ok()) return base.status();

    auto metrics_before = scrape_metrics(edge->http_port);
    if (!metrics_before.ok()) return metrics_before.status();
    auto edge_cpu_before = process_cpu_seconds(edge_pid);
    auto self_cpu_before = process_cpu_seconds(0);
    spec.port = edge->http_port;
    spec.make_call = make_scan;
    auto run = run_load(spec);
    if (!run.ok()) return run.status();
    auto edge_cpu_after = process_cpu_seconds(edge_pid);
    auto self_cpu_after = process_cpu_seconds(0);
    auto metrics_after = scrape_metrics(edge->http_port);
    if (!metrics_after.ok()) return metrics_after.status();

    spec.port = tuned->port;
    spec.make_call = make_hello;
    auto lifted = run_load(spec);
    if (!lifted.ok()) return lifted.status();

    auto batch_now = metrics_after->histogram("edge_store_batch_writes");
    auto batch_then = metrics_before->histogram("edge_store_batch_writes");
    auto commit_now = metrics_after->histogram("edge_store_commit_seconds");
    auto commit_then = metrics_before->histogram("edge_store_commit_seconds");
    if (!batch_now.ok() || !batch_then.ok() || !commit_now.ok() || !commit_then.ok()) {
      return internal_error("the edge's /metrics lacks the store histograms");
    }
    const PromHistogram batch = batch_now->minus(*batch_then);
    const PromHistogram commit = commit_now->minus(*commit_then);
    PromHistogram handler;
    auto handler_now =
        metrics_after->histogram("http_request_duration_seconds", "route=\"/api/scans\"");
    auto handler_then =
        metrics_before->histogram("http_request_duration_seconds", "route=\"/api/scans\"");
    if (handler_now.ok()) {
      handler = handler_then.ok() ? handler_now->minus(*handler_then) : *handler_now;
    }
    // CPU shares over the edge run's wall time (warmup included); 200% is both cores.
    const double wall = (options.warmup_ms + options.duration_ms) / 1000.0;
    const double edge_cpu = edge_cpu_after.ok() && edge_cpu_before.ok()
                                ? (*edge_cpu_after - *edge_cpu_before) / wall * 100
                                : 0;
    const double self_cpu = self_cpu_after.ok() && self_cpu_before.ok()
                                ? (*self_cpu_after - *self_cpu_before) / wall * 100
                                : 0;
    const double ratio = base->rate() > 0 ? run->rate() / base->rate() : 0;
    std::printf(
        "%3d | %7.0f %6.2f %7.2f %7.1f | %7.0f %6.2f %7.2f %7.1f | %5.1f%% | %5.1f %6.2f %7.2f | "
        "%3.0f%% %3.0f%% | %7.0f %6.2f\n",
        clients, run->rate(), run->latency.p50_ms, run->latency.p99_ms, run->latency.max_ms,
        base->rate(), base->latency.p50_ms, base->latency.p99_ms, base->latency.max_ms, ratio * 100,
        batch.mean(), commit.mean() * 1000, commit.quantile(0.99) * 1000, edge_cpu, self_cpu,
        lifted->rate(), lifted->latency.p99_ms);
    for (const auto& [name, r] : {std::pair<const char*, const LoadResult*>{"edge", &*run},
                                  {"hello", &*base},
                                  {"hello tuned", &*lifted}}) {
      if (r->failed > 0) {
        std::printf("    %s: %llu failed requests, first: %s\n", name,
                    static_cast<unsigned long long>(r->failed), r->first_error.c_str());
      }
    }
    std::fflush(stdout);

    const bool met = run->rate() >= kTargetScansPerSecond && run->latency.p99_ms <= target_p99_ms &&
                     run->failed == 0;
    const std::string c = "C=" + std::to_string(clients);
    results.add({"POST /api/scans " + c,
                 fixed(run->rate(), 0) + "/s p50 " + ms(run->latency.p50_ms) + " p99 " +
                     ms(run->latency.p99_ms) + " max " + ms(run->latency.max_ms) +
                     (run->failed > 0 ? " (" + std::to_string(run->failed) + " failed)" : ""),
                 "hello " + fixed(base->rate(), 0) + "/s p99 " + ms(base->latency.p99_ms) +
                     " [limits lifted " + fixed(lifted->rate(), 0) + "/s]",
                 fixed(ratio * 100, 1) + "%", target, verdict(met)});
    results.add({"  group commit " + c,
                 "batch " + fixed(batch.mean(), 1) + "/commit, commit mean " +
                     ms(commit.mean() * 1000) + " p99~" + ms(commit.quantile(0.99) * 1000) +
                     ", handler mean " + ms(handler.mean() * 1000),
                 "", "", "", "info"});
  }

  // The edge answers SIGTERM with a clean shutdown; the hello servers just die.
  edge->process.terminate_and_wait(std::chrono::seconds(10));
  hello->process.kill9();
  tuned->process.kill9();
  return Status::ok();
}

}  // namespace shopeasy::bench
