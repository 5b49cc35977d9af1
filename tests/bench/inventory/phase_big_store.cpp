// Phase 3: a big store (10,000 SKUs, 50,000 lots, a million ledger rows) read over HTTP
// by one keep-alive client, and the daemon's memory afterwards.
#include <cstdio>
#include <filesystem>
#include <optional>

#include <nlohmann/json.hpp>

#include "tests/bench/inventory/big_store.hpp"
#include "tests/bench/inventory/edge_client.hpp"
#include "tests/bench/inventory/http_load.hpp"
#include "tests/bench/inventory/phases.hpp"
#include "tests/harness/harness.hpp"

namespace shopeasy::bench {

namespace {

constexpr double kTargetReadP99Ms = 2;
constexpr double kTargetRssMiB = 100;
constexpr std::size_t kBins = 200;

std::string ms(double v) { return fixed(v, 2) + " ms"; }

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Checks that the daemon serves the generated store as expected before timing it.
Status sanity_check(int port, const BenchOptions& options) {
  auto page = call_edge(port, "GET", "/api/stock?limit=50");
  if (!page.ok()) return page.status();
  const auto list = nlohmann::json::parse(*page, nullptr, false);
  if (!list.is_object() || !list["items"].is_array() || list["items"].size() != 50 ||
      !list["next_cursor"].is_string()) {
    return internal_error("unexpected first stock page: " + page->substr(0, 300));
  }
  auto one = call_edge(port, "GET", "/api/stock/SKU-00000");
  if (!one.ok()) return one.status();
  const auto item = nlohmann::json::parse(*one, nullptr, false);
  if (!item.is_object() || !item["stock"].is_array() ||
      item["stock"].size() > options.big_lots_per_sku || item.value("on_hand", -1) < 0) {
    return internal_error("unexpected SKU-00000: " + one->substr(0, 300));
  }
  return Status::ok();
}

using PathMaker = std::function<std::string(std::mt19937_64&)>;

// GETs from one keep-alive client, as a person paging through the stock would.
StatusOr<LoadResult> run_reads(int port, const PathMaker& path, std::size_t requests,
                               std::chrono::milliseconds cap, std::uint64_t seed) {
  LoadSpec load;
  load.port = port;
  load.clients = 1;
  load.warmup = std::chrono::milliseconds(300);
  load.duration = cap;
  load.max_requests = requests;
  load.seed = seed;
  load.bearer_token = bench_token();
  load.make_call = [&path](int, std::uint64_t, std::mt19937_64& rng) {
    return HttpCall{"GET", path(rng), "", ""};
  };
  return run_load(load);
}

}  // namespace

Status run_big_store_phase(const BenchOptions& options, Table& results) {
  std::printf("\n== 3. A big store: reads over HTTP and resident memory ==\n");
  auto dir = testing::TempDir::create("bench-inventory-big");
  if (!dir.ok()) return dir.status();
  const std::string state_dir = dir->file("edge").string();

  {
    // Let the daemon create its schema, then stop it cleanly before the bulk load.
    auto first = start_edge(state_dir, 8, true);
    if (!first.ok()) return first.status();
    const auto stopped = first->process.terminate_and_wait(std::chrono::seconds(10));
    if (!stopped || (*stopped != 0 && *stopped != -15)) {
      return internal_error("the edge did not stop cleanly:\n" + first->process.describe());
    }
  }

  const auto catalog = make_catalog(options.big_skus, kBins);
  BigStoreSpec spec;
  spec.db_path = state_dir + "/edge.db";
  spec.bins = make_bins(kBins);
  spec.lots_per_sku = options.big_lots_per_sku;
  spec.ledger_rows = options.big_ledger_rows;
  spec.now_ms = now_unix_ms();
  spec.seed = options.seed;
  auto built = build_big_store(spec, catalog);
  if (!built.ok()) return built.status();
  std::error_code ec;
  const auto db_bytes = std::filesystem::file_size(spec.db_path, ec);
  std::printf(
      "generated %zu products, %zu lots, %zu ledger rows, %zu stock rows in %.1f s; "
      "edge.db %.1f MiB\n",
      built->products, built->lots, built->ledger_rows, built->stock_rows, built->seconds,
      ec ? 0.0 : static_cast<double>(db_bytes) / (1 << 20));

  auto edge = start_edge(state_dir, 16, true);
  if (!edge.ok()) return edge.status();
  const pid_t pid = edge->process.pid();
  SHOPEASY_RETURN_IF_ERROR(sanity_check(edge->http_port, options));
  auto rss_start = process_memory(pid);

  struct ReadCase {
    std::string name;
    std::string route;  // the daemon's route pattern, its metrics label
    std::size_t requests;
    std::chrono::milliseconds cap;
    bool has_target;
    PathMaker path;
  };
  const std::size_t skus = catalog.size();
  auto random_sku = [&catalog, skus](std::mt19937_64& rng) -> const std::string& {
    return catalog[rng() % skus].sku;
  };
  const std::vector<ReadCase> cases = {
      {"GET /api/stock?limit=50 (first page)", "/api/stock", options.read_requests,
       std::chrono::seconds(60), true,
       [](std::mt19937_64&) { return std::string("/api/stock?limit=50"); }},
      {"GET /api/stock?limit=50&cursor=<random>", "/api/stock", options.read_requests,
       std::chrono::seconds(60), true,
       [&](std::mt19937_64& rng) { return "/api/stock?limit=50&cursor=" + random_sku(rng); }},
      {"GET /api/stock/{random sku}", "/api/stock/([^/]+)", options.read_requests,
       std::chrono::seconds(60), true,
       [&](std::mt19937_64& rng) { return "/api/stock/" + random_sku(rng); }},
      {"GET /api/ledger?sku=<random>", "/api/ledger", options.ledger_requests,
       std::chrono::seconds(options.ledger_max_seconds), false,
       [&](std::mt19937_64& rng) { return "/api/ledger?sku=" + random_sku(rng); }},
  };
  // Baselines: the same client reading a hello-world answer from a server configured
  // like the daemon, and from one with the library's connection limits lifted.
  std::string baseline;
  {
    auto plain = start_hello_server(options.self_exe, 16, false);
    if (!plain.ok()) return plain.status();
    auto lifted = start_hello_server(options.self_exe, 16, true);
    if (!lifted.ok()) return lifted.status();
    const PathMaker hello = [](std::mt19937_64&) { return std::string("/hello"); };
    auto a = run_reads(plain->port, hello, options.read_requests, std::chrono::seconds(60),
                       options.seed);
    if (!a.ok()) return a.status();
    auto b = run_reads(lifted->port, hello, options.read_requests, std::chrono::seconds(60),
                       options.seed);
    if (!b.ok()) return b.status();
    std::printf(
        "baseline GET /hello, 1 client: p50 %.2f ms p99 %.2f ms max %.2f ms; with the "
        "connection limits lifted p50 %.2f ms p99 %.2f ms max %.2f ms\n",
        a->latency.p50_ms, a->latency.p99_ms, a->latency.max_ms, b->latency.p50_ms,
        b->latency.p99_ms, b->latency.max_ms);
    baseline =
        "hello p99 " + ms(a->latency.p99_ms) + " (limits lifted " + ms(b->latency.p99_ms) + ")";
    plain->process.kill9();
    lifted->process.kill9();
  }
  std::printf("%-42s %5s %6s %6s %6s %6s %6s | %6s %6s %6s\n", "request (1 keep-alive client)", "n",
              "req/s", "mean", "p50", "p99", "max", "srv", "<=1ms", "<=2.5");
  std::optional<ProcessMemory> after_targets;
  for (const auto& c : cases) {
    auto before = scrape_metrics(edge->http_port);
    if (!before.ok()) return before.status();
    auto run = run_reads(edge->http_port, c.path, c.requests, c.cap, options.seed);
    if (!run.ok()) return run.status();
    auto after = scrape_metrics(edge->http_port);
    if (!after.ok()) return after.status();
    // The daemon's own view (handler time, no transport), to tell the two apart.
    const std::string label = "route=\"" + c.route + "\"";
    auto server_now = after->histogram("http_request_duration_seconds", label);
    auto server_then = before->histogram("http_request_duration_seconds", label);
    PromHistogram server;
    if (server_now.ok()) server = server_then.ok() ? server_now->minus(*server_then) : *server_now;
    std::printf("%-42s %5zu %6.0f %6.2f %6.2f %6.2f %6.1f | %6.2f %5.1f%% %5.1f%%%s\n",
                c.name.c_str(), run->latency.count, run->rate(), run->latency.mean_ms,
                run->latency.p50_ms, run->latency.p99_ms, run->latency.max_ms, server.mean() * 1000,
                server.share_at_most(0.001) * 100, server.share_at_most(0.0025) * 100,
                run->failed > 0 ? " (failures!)" : "");
    if (run->failed > 0) std::printf("    first failure: %s\n", run->first_error.c_str());
    std::fflush(stdout);
    const bool met = run->latency.p99_ms < kTargetReadP99Ms && run->failed == 0 &&
                     run->latency.count >= c.requests;
    results.add({c.name,
                 "p50 " + ms(run->latency.p50_ms) + " p99 " + ms(run->latency.p99_ms) +
                     " (n=" + std::to_string(run->latency.count) + "); in daemon mean " +
                     ms(server.mean() * 1000) + ", " +
                     fixed(server.share_at_most(0.0025) * 100, 1) + "% <=2.5 ms",
                 c.has_target ? baseline : "", "", c.has_target ? "p99<2ms" : "(info)",
                 c.has_target ? verdict(met) : "info"});
    if (c.has_target) {
      auto m = process_memory(pid);
      if (m.ok()) after_targets = *m;
    }
  }

  auto rss = process_memory(pid);
  if (!rss.ok()) return rss.status();
  auto mib = [](std::int64_t kib) { return static_cast<double>(kib) / 1024; };
  auto describe = [&](const ProcessMemory& m) {
    return fixed(mib(m.vm_rss_kib), 1) + " MiB (anon " + fixed(mib(m.rss_anon_kib), 1) +
           ", file-backed " + fixed(mib(m.rss_file_kib), 1) + ")";
  };
  std::printf("edge VmRSS at start: %s\n", rss_start.ok() ? describe(*rss_start).c_str() : "?");
  if (after_targets) {
    std::printf("edge VmRSS after the stock reads: %s\n", describe(*after_targets).c_str());
    results.add({"edge VmRSS after stock reads", describe(*after_targets), "", "", "<100 MiB",
                 verdict(mib(after_targets->vm_rss_kib) < kTargetRssMiB)});
  }
  std::printf("edge VmRSS after the ledger reads too: %s, peak %.1f MiB\n", describe(*rss).c_str(),
              mib(rss->vm_hwm_kib));
  results.add({"edge VmRSS after ledger reads too", describe(*rss), "", "", "<100 MiB",
               verdict(mib(rss->vm_rss_kib) < kTargetRssMiB)});
  edge->process.terminate_and_wait(std::chrono::seconds(10));
  return Status::ok();
}

}  // namespace shopeasy::bench
