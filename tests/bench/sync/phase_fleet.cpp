// Phase 2: a fleet syncing at once. One real cloud; in this process, one thread per
// store acts as that store's edge: its own credential, realistic stock changes, the
// SyncClient's batch format, sent through the project's HttpClient with gzip on a
// keep-alive connection, resending from the cloud's acknowledgement. First a paced
// stage (each store one batch per second: the live rate of a busy store), then a
// saturated stage (each store sends its next batch as soon as the last is answered).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <random>
#include <thread>

#include "common/http/client.hpp"
#include "common/wire/sync.hpp"
#include "tests/bench/sync/daemons.hpp"
#include "tests/bench/sync/phases.hpp"
#include "tests/bench/sync/stock_events.hpp"

namespace shopeasy::syncbench {

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string store_id(int i) { return format("fleet-%03d", i); }
std::string store_secret(int i) { return format("fleet-secret-%03d-0123456789", i); }

// One simulated edge: its store, its position and its connection, kept across stages.
struct FleetEdge {
  int index = 0;
  std::unique_ptr<StoreSimulator> store;
  std::unique_ptr<http::HttpClient> client;
  std::int64_t acked = 0;
  std::vector<std::string> pending;  // stored bodies of changes acked+1.. not yet acked
  // Per stage:
  std::vector<double> rtt_ms;
  std::vector<double> connect_rtt_ms;  // exchanges that opened a connection
  std::int64_t changes_acked = 0;
  std::int64_t changes_acked_in_time = 0;  // by exchanges answered before the stage ended
  int transport_errors = 0;
  int http_errors = 0;
  std::string last_error;
};

struct StageResult {
  double seconds = 0;
  // Changes the cloud acknowledged within the window (the stores' count: the cloud's
  // own /metrics may queue behind them).
  double applied = 0;
  std::vector<double> rtt_ms;
  std::vector<double> connect_rtt_ms;
  int batches = 0;
  int transport_errors = 0;
  int http_errors = 0;
  int edges_served = 0;
  std::int64_t min_edge = 0;
  std::int64_t max_edge = 0;
  double bench_cpu_s = 0;
  double cloud_cpu_s = 0;
  std::string sample_error;
};

// One exchange: fill the batch up to `batch` changes, post it, take the ack.
void exchange(FleetEdge& e, const std::string& url, int batch, std::int64_t now_ms,
              Clock::time_point stage_end) {
  while (static_cast<int>(e.pending.size()) < batch) {
    e.pending.push_back(e.store->next(now_ms).body);
  }
  nlohmann::json changes = nlohmann::json::array();
  for (std::size_t i = 0; i < e.pending.size(); ++i) {
    changes.push_back(
        sync_change(e.acked + 1 + static_cast<std::int64_t>(i), kStockChanged, e.pending[i]));
  }
  const std::string body =
      sync_batch_text(store_id(e.index), e.acked + 1, std::move(changes), 0, now_ms);
  const bool fresh = !e.client;
  if (!e.client) {
    auto created = http::HttpClient::create(
        url, http::ClientOptions{.compress_requests = true,
                                 .bearer_token = store_id(e.index) + ":" + store_secret(e.index)});
    if (!created.ok()) {
      ++e.transport_errors;
      e.last_error = created.status().to_string();
      return;
    }
    e.client = std::move(*created);
  }
  const auto sent = Clock::now();
  auto response =
      e.client->post("/v1/stores/" + store_id(e.index) + "/sync", body, "application/json");
  const auto answered = Clock::now();
  const double rtt = std::chrono::duration<double, std::milli>(answered - sent).count();
  if (!response.ok()) {
    e.client.reset();
    ++e.transport_errors;
    e.last_error = response.status().to_string();
    return;
  }
  if (response->status != 200) {
    ++e.http_errors;
    e.last_error = format("HTTP %d: %s", response->status, response->body.substr(0, 200).c_str());
    return;
  }
  auto reply = wire::parse_sync_reply(response->body);
  if (!reply.ok()) {
    ++e.http_errors;
    e.last_error = "bad reply: " + reply.status().to_string();
    return;
  }
  const std::int64_t done = std::clamp<std::int64_t>(reply->acked_seq - e.acked, 0,
                                                     static_cast<std::int64_t>(e.pending.size()));
  e.pending.erase(e.pending.begin(), e.pending.begin() + done);
  e.acked += done;
  e.changes_acked += done;
  if (answered <= stage_end) e.changes_acked_in_time += done;
  (fresh ? e.connect_rtt_ms : e.rtt_ms).push_back(rtt);
}

// Runs every edge for `seconds`; paced edges send one batch per `interval` (zero: as
// fast as answers come back).
StageResult run_stage(std::vector<FleetEdge>& edges, Cloud& cloud, int batch, double seconds,
                      std::chrono::milliseconds interval) {
  for (auto& e : edges) {
    e.rtt_ms.clear();
    e.connect_rtt_ms.clear();
    e.changes_acked = 0;
    e.changes_acked_in_time = 0;
    e.transport_errors = 0;
    e.http_errors = 0;
    e.last_error.clear();
  }
  StageResult r;
  const double cloud_cpu0 = group_cpu_seconds(cloud.pid());
  const double bench_cpu0 = process_cpu_seconds(0).value_or(0);
  const auto start = Clock::now();
  const auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  threads.reserve(edges.size());
  const std::string url = cloud.url();
  for (auto& edge : edges) {
    threads.emplace_back([&, e = &edge] {
      std::mt19937 rng(static_cast<std::uint32_t>(e->index) + 1);
      // Spread the paced edges over the interval, as real stores are.
      auto next =
          start + std::chrono::milliseconds(std::uniform_int_distribution<int>(
                      0, static_cast<int>(std::max<std::int64_t>(1, interval.count())))(rng));
      while (Clock::now() < deadline) {
        if (interval.count() > 0) {
          if (next > deadline) break;
          std::this_thread::sleep_until(next);
          next += interval;
        }
        const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count();
        const int before = e->transport_errors + e->http_errors;
        exchange(*e, url, batch, now_ms, deadline);
        // A failed exchange backs off briefly, as the SyncClient does.
        if (e->transport_errors + e->http_errors > before) std::this_thread::sleep_for(250ms);
      }
    });
  }
  std::this_thread::sleep_until(deadline);
  r.seconds = seconds_since(start);
  r.cloud_cpu_s = group_cpu_seconds(cloud.pid()) - cloud_cpu0;
  r.bench_cpu_s = process_cpu_seconds(0).value_or(0) - bench_cpu0;
  for (auto& t : threads) t.join();
  r.min_edge = edges.empty() ? 0 : edges.front().changes_acked;
  for (const auto& e : edges) {
    r.rtt_ms.insert(r.rtt_ms.end(), e.rtt_ms.begin(), e.rtt_ms.end());
    r.connect_rtt_ms.insert(r.connect_rtt_ms.end(), e.connect_rtt_ms.begin(),
                            e.connect_rtt_ms.end());
    r.batches += static_cast<int>(e.rtt_ms.size() + e.connect_rtt_ms.size());
    r.transport_errors += e.transport_errors;
    r.http_errors += e.http_errors;
    if (e.changes_acked > 0) ++r.edges_served;
    r.applied += static_cast<double>(e.changes_acked_in_time);
    r.min_edge = std::min(r.min_edge, e.changes_acked);
    r.max_edge = std::max(r.max_edge, e.changes_acked);
    if (r.sample_error.empty()) r.sample_error = e.last_error;
  }
  return r;
}

void report_stage(Report& report, const std::string& name, const Args& args, StageResult& s,
                  std::optional<double> offered) {
  std::vector<double> all = s.rtt_ms;
  all.insert(all.end(), s.connect_rtt_ms.begin(), s.connect_rtt_ms.end());
  const Percentiles p = percentiles(all);
  const Percentiles warm = percentiles(s.rtt_ms);
  const Percentiles cold = percentiles(s.connect_rtt_ms);
  std::string value = format("%.0f changes/s applied", s.applied / s.seconds);
  if (offered) value += format(" of %.0f offered", *offered);
  report.figure(name + ": sustained rate", value);
  report.figure(name + ": sync round trip p50 / p99 / max",
                format("%.1f / %.1f / %.1f ms (%d batches of %d)", p.p50, p.p99, p.max, s.batches,
                       args.fleet_batch),
                "p99 < 1000 ms", p.p99 < 1000);
  report.figure(name + ": ... on an open connection / when connecting",
                format("p50 %.1f p99 %.1f ms (%zu) / p50 %.1f p99 %.1f ms (%zu)", warm.p50,
                       warm.p99, warm.count, cold.p50, cold.p99, cold.count));
  report.figure(
      name + ": stores served",
      format("%d of %d got acks; per store %lld..%lld changes", s.edges_served, args.edges,
             static_cast<long long>(s.min_edge), static_cast<long long>(s.max_edge)),
      format("%d of %d", args.edges, args.edges), s.edges_served == args.edges);
  report.figure(name + ": failed exchanges",
                format("%d transport, %d HTTP%s", s.transport_errors, s.http_errors,
                       s.sample_error.empty() ? "" : (" (e.g. " + s.sample_error + ")").c_str()));
  report.figure(name + ": CPU", format("cloud %.1f s, benchmark's edge threads %.1f s in %.1f s",
                                       s.cloud_cpu_s, s.bench_cpu_s, s.seconds));
}

Status run_fleet(const Args& args, Report& report, const std::vector<std::string>& cloud_args,
                 const std::string& label, bool saturated) {
  auto dir = testing::TempDir::create("syncbench-fleet");
  if (!dir.ok()) return dir.status();
  auto cloud = Cloud::start(CloudConfig{.state_dir = dir->file("cloud"), .extra_args = cloud_args});
  if (!cloud.ok()) return cloud.status();
  std::vector<FleetEdge> edges(static_cast<std::size_t>(args.edges));
  for (int i = 0; i < args.edges; ++i) {
    // Stores around one city, a few kilometres apart.
    SHOPEASY_RETURN_IF_ERROR(cloud->register_store(
        store_id(i), store_secret(i), 12.85 + 0.03 * (i / 10), 77.50 + 0.03 * (i % 10)));
    edges[static_cast<std::size_t>(i)].index = i;
    edges[static_cast<std::size_t>(i)].store =
        std::make_unique<StoreSimulator>(store_id(i), args.skus, 1000 + static_cast<unsigned>(i));
  }
  const double offered = static_cast<double>(args.edges) * args.fleet_batch;
  auto paced = run_stage(edges, *cloud, args.fleet_batch, args.fleet_paced_s, 1000ms);
  report_stage(report, label + "paced, 1 batch/s per store", args, paced, offered);
  if (saturated) {
    auto full = run_stage(edges, *cloud, args.fleet_batch, args.fleet_saturated_s, 0ms);
    report_stage(report, label + "saturated", args, full, std::nullopt);
    report.key("fleet: sustained changes/s (saturated)",
               format("%.0f changes/s", full.applied / full.seconds));
    full.rtt_ms.insert(full.rtt_ms.end(), full.connect_rtt_ms.begin(), full.connect_rtt_ms.end());
    const Percentiles p = percentiles(full.rtt_ms);
    report.key("fleet: round trip p50 / p99 (saturated)", format("%.0f / %.0f ms", p.p50, p.p99));
  }
  paced.rtt_ms.insert(paced.rtt_ms.end(), paced.connect_rtt_ms.begin(), paced.connect_rtt_ms.end());
  const Percentiles p = percentiles(paced.rtt_ms);
  report.key(label + "fleet: round trip p50 / p99 (paced)",
             format("%.0f / %.0f ms, %.0f changes/s", p.p50, p.p99, paced.applied / paced.seconds));
  (void)cloud->stop();
  return Status::ok();
}

}  // namespace

Status run_fleet_phase(const Args& args, Report& report) {
  report.phase(format("2. %d edges syncing at once to one cloud (SQLite)", args.edges),
               args.command_for('2'));
  report.note(
      format("each store: its own credential, batches of %d stock changes, gzip, "
             "keep-alive; the cloud with its default options",
             args.fleet_batch));
  SHOPEASY_RETURN_IF_ERROR(run_fleet(args, report, {}, "", true));
  if (args.fleet_http_threads > 0) {
    report.note(format("-- again with --http.threads=%d on the cloud", args.fleet_http_threads));
    SHOPEASY_RETURN_IF_ERROR(
        run_fleet(args, report, {"--http.threads=" + std::to_string(args.fleet_http_threads)},
                  format("http.threads=%d: ", args.fleet_http_threads), false));
  }
  return Status::ok();
}

}  // namespace shopeasy::syncbench
