// Phase 1: a store that was offline for a shift comes back with a long outbox. The
// outbox is written straight into the edge's events table (bulk SQL; setting up is not
// what is measured), then a real edge drains it into a fresh real cloud. Timed from
// starting the edge until the cloud's sync-status reports the last change applied.
// Baseline: the same replica upserts straight into SQLite. Diagnosis: the first batch
// size once more through a relay that acknowledges TCP segments at once (what the
// HTTP client's small-write delay costs), and the pipeline taken apart in-process.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>

#include "tests/bench/sync/cutting_proxy.hpp"
#include "tests/bench/sync/daemons.hpp"
#include "tests/bench/sync/outbox.hpp"
#include "tests/bench/sync/phases.hpp"
#include "tests/bench/sync/pipeline_floor.hpp"
#include "tests/harness/harness.hpp"

namespace shopeasy::syncbench {

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kStoreId = "blr-drain-1";
constexpr const char* kSecret = "drain-secret-0123456789";
// The offline period the queued changes are spread over.
constexpr std::int64_t kOfflineMs = 8LL * 3600 * 1000;

// perf record attached to a daemon for the length of a drain (optional).
class PerfRecording {
 public:
  static std::optional<PerfRecording> start(const std::string& dir, const std::string& name,
                                            pid_t pid) {
    if (dir.empty()) return std::nullopt;
    auto perf = testing::find_executable("perf");
    if (!perf) return std::nullopt;
    std::error_code ec;
    fs::create_directories(dir, ec);
    auto child = testing::ChildProcess::spawn(
        {.argv = {perf->string(), "record", "-q", "-F", "499", "-g", "-p", std::to_string(pid),
                  "-o", (fs::path(dir) / (name + ".perf.data")).string()}});
    if (!child.ok()) return std::nullopt;
    return PerfRecording(std::move(*child));
  }
  void finish() {
    // perf writes its file on SIGINT.
    (void)child_.send_signal(SIGINT);
    (void)child_.wait_exit(30s);
  }

 private:
  explicit PerfRecording(testing::ChildProcess child) : child_(std::move(child)) {}
  testing::ChildProcess child_;
};

struct DrainResult {
  double seconds = 0;
  double edge_start_s = 0;  // spawn to listening, part of `seconds`
  std::int64_t applied = 0;
  bool finished = false;
  double edge_cpu_s = 0;
  double cloud_cpu_s = 0;
  double postgres_cpu_s = 0;
  double wire_bytes = 0;
  double changes_sent = 0;
  double cloud_batches = 0;
  double cloud_batch_seconds = 0;
  double cloud_duplicates = 0;
  double edge_failures = 0;
  double edge_exchange_seconds = 0;  // edge_sync_round_trip_seconds_sum: whole exchanges
  double edge_exchanges = 0;
  double edge_commit_seconds = 0;  // edge_store_commit_seconds_sum: its durable writes
  double edge_commits = 0;
};

// Drains a copy of the outbox into a fresh cloud. With `quick_ack_relay` the edge
// reaches the cloud through a relay that acknowledges its segments at once.
StatusOr<DrainResult> drain_once(const Args& args, const fs::path& work, const fs::path& outbox_db,
                                 int batch, testing::PostgresServer* pg, const std::string& label,
                                 bool quick_ack_relay = false) {
  const fs::path run = work / ("run-" + label);
  std::error_code ec;
  fs::remove_all(run, ec);
  fs::create_directories(run / "edge", ec);
  if (ec) return unavailable("cannot create " + run.string() + ": " + ec.message());
  // A copy of the filled outbox, so every run starts from the same queue.
  fs::copy_file(outbox_db, run / "edge" / "edge.db", ec);
  if (ec) return unavailable("cannot copy the outbox: " + ec.message());

  auto cloud = Cloud::start(CloudConfig{.state_dir = run / "cloud", .postgres = pg});
  if (!cloud.ok()) return cloud.status();
  SHOPEASY_RETURN_IF_ERROR(cloud->register_store(kStoreId, kSecret));
  const double cloud_cpu0 = group_cpu_seconds(cloud->pid());
  const double pg_cpu0 = pg != nullptr ? tree_cpu_seconds(pg->pid()) : 0.0;
  std::unique_ptr<CuttingProxy> relay;
  std::string url = cloud->url();
  if (quick_ack_relay) {
    auto p = CuttingProxy::start(ProxyOptions{.upstream_port = cloud->port(), .quick_ack = true});
    if (!p.ok()) return p.status();
    relay = std::move(*p);
    url = "http://127.0.0.1:" + std::to_string(relay->port());
  }

  const auto started = std::chrono::steady_clock::now();
  auto edge = Edge::start(EdgeConfig{.state_dir = run / "edge",
                                     .store_id = kStoreId,
                                     .sync_url = url,
                                     .store_secret = kSecret,
                                     .batch_max_changes = batch});
  if (!edge.ok()) return edge.status();
  const double edge_start_s = seconds_since(started);
  auto perf_edge = PerfRecording::start(args.perf_dir, "edge-" + label, edge->pid());
  auto perf_cloud = PerfRecording::start(args.perf_dir, "cloud-" + label, cloud->pid());

  DrainResult r;
  r.edge_start_s = edge_start_s;
  const auto deadline = started + std::chrono::duration<double>(args.drain_timeout_s);
  auto last_print = started;
  while (std::chrono::steady_clock::now() < deadline) {
    auto applied = cloud->last_applied_seq(kStoreId);
    if (applied.ok()) r.applied = *applied;
    if (r.applied >= args.drain_changes) {
      r.finished = true;
      break;
    }
    if (std::chrono::steady_clock::now() - last_print > 10s) {
      last_print = std::chrono::steady_clock::now();
      std::printf("     ... %lld applied after %.0f s\n", static_cast<long long>(r.applied),
                  seconds_since(started));
      std::fflush(stdout);
    }
    std::this_thread::sleep_for(50ms);
  }
  r.seconds = seconds_since(started);
  // The edge counts a batch as sent once it has the answer: let it take the last one.
  for (int i = 0; r.finished && i < 100; ++i) {
    auto h = edge->health();
    if (h.ok() && (*h)["sync"].value("acked_seq", std::int64_t{0}) >= args.drain_changes) break;
    std::this_thread::sleep_for(20ms);
  }
  if (perf_edge) perf_edge->finish();
  if (perf_cloud) perf_cloud->finish();
  r.edge_cpu_s = group_cpu_seconds(edge->pid());
  r.cloud_cpu_s = group_cpu_seconds(cloud->pid()) - cloud_cpu0;
  if (pg != nullptr) r.postgres_cpu_s = tree_cpu_seconds(pg->pid()) - pg_cpu0;
  if (auto m = edge->metrics(); m.ok()) {
    const PromPage page = PromPage::parse(*m);
    r.wire_bytes = page.value("edge_sync_wire_bytes_total");
    r.changes_sent = page.value("edge_sync_changes_sent_total");
    r.edge_failures = page.sum_of("edge_sync_failures_total");
    r.edge_exchange_seconds = page.value("edge_sync_round_trip_seconds_sum");
    r.edge_exchanges = page.value("edge_sync_round_trip_seconds_count");
    r.edge_commit_seconds = page.value("edge_store_commit_seconds_sum");
    r.edge_commits = page.value("edge_store_commit_seconds_count");
  }
  if (auto m = cloud->metrics(); m.ok()) {
    const PromPage page = PromPage::parse(*m);
    r.cloud_batches = page.value("cloud_sync_batch_seconds_count");
    r.cloud_batch_seconds = page.value("cloud_sync_batch_seconds_sum");
    r.cloud_duplicates = page.value("cloud_sync_duplicates_total");
  }
  if (!r.finished) {
    std::printf("     the drain did not finish; the edge's last output:\n%s\n",
                edge->describe().substr(0, 4000).c_str());
  }
  (void)edge->stop();
  (void)cloud->stop();
  fs::remove_all(run, ec);
  return r;
}

void report_drain(Report& report, const Args& args, const std::string& what, const DrainResult& d,
                  std::optional<double> baseline_s) {
  const double n = static_cast<double>(args.drain_changes);
  const bool full = args.drain_changes >= 1'000'000;
  // The target is for a million changes; smaller runs are held to the same rate.
  const double target_s = 30.0 * n / 1'000'000.0;
  if (!d.finished) {
    report.figure(what + ": drain time",
                  format("unfinished: %lld of %lld applied in %.1f s",
                         static_cast<long long>(d.applied), static_cast<long long>(n), d.seconds),
                  format("< %.0f s", target_s), false);
  } else {
    report.figure(what + ": drain time",
                  format("%.1f s (%.0f changes/s; edge start-up %.1f s of it)", d.seconds,
                         n / d.seconds, d.edge_start_s),
                  full ? "< 30 s" : format("< %.1f s (30 s/1M)", target_s), d.seconds < target_s);
  }
  if (baseline_s && d.finished) {
    report.key(what + ": raw SQLite baseline / ratio",
               format("%.2f s, drain is %.1fx slower", *baseline_s, d.seconds / *baseline_s));
  }
  std::string cpu = format("edge %.1f s, cloud %.1f s", d.edge_cpu_s, d.cloud_cpu_s);
  if (d.postgres_cpu_s > 0) cpu += format(", postgres %.1f s", d.postgres_cpu_s);
  report.figure(what + ": CPU used", cpu);
  if (d.cloud_batches > 0) {
    report.figure(what + ": cloud handler time",
                  format("%.1f s in %.0f batches (%.1f ms per batch, %.0f%% of the drain)",
                         d.cloud_batch_seconds, d.cloud_batches,
                         1000 * d.cloud_batch_seconds / d.cloud_batches,
                         100 * d.cloud_batch_seconds / std::max(0.001, d.seconds)));
  }
  if (d.edge_exchanges > 0 && d.cloud_batches > 0) {
    // Where one exchange's time goes. The edge's own exchange time covers reading the
    // outbox, building and compressing the batch, the HTTP round trip (with the cloud's
    // handler) and the durable ack write.
    const double per = 1000.0 / d.edge_exchanges;
    const double exchange = d.edge_exchange_seconds * per;
    const double cloud = 1000.0 * d.cloud_batch_seconds / d.cloud_batches;
    const double commit = d.edge_commits > 0 ? 1000.0 * d.edge_commit_seconds / d.edge_commits : 0;
    report.figure(what + ": one exchange",
                  format("%.0f ms wall per exchange = edge's exchange %.0f ms (cloud handler %.0f, "
                         "edge ack commit %.0f, the rest %.0f: outbox read, JSON, gzip, HTTP)",
                         1000.0 * d.seconds / d.edge_exchanges, exchange, cloud, commit,
                         exchange - cloud - commit));
  }
  if (d.changes_sent > 0) {
    report.figure(what + ": edge wire bytes per change (edge counters)",
                  format("%.1f B (%.0f B in %.0f changes sent)", d.wire_bytes / d.changes_sent,
                         d.wire_bytes, d.changes_sent),
                  "< 60 B", d.wire_bytes / d.changes_sent < 60);
  }
  if (d.edge_failures > 0 || d.cloud_duplicates > 0) {
    report.figure(what + ": failed exchanges / duplicates",
                  format("%.0f / %.0f", d.edge_failures, d.cloud_duplicates));
  }
}

// The drain taken apart in this process (see pipeline_floor.hpp), scaled to the size
// of the drain, next to what the daemons used.
Status report_pipeline(const Args& args, Report& report, const fs::path& dir, int batch,
                       const std::map<int, DrainResult>& drains) {
  StoreSimulator store(kStoreId, args.skus, 43);
  auto fill = fill_outbox(dir / "edge.db", store, args.pipeline_sample, 1767225600000,
                          std::max<std::int64_t>(1, kOfflineMs / args.drain_changes), false);
  if (!fill.ok()) return fill.status();
  auto floor = measure_pipeline(dir / "edge.db", dir, kStoreId, batch);
  if (!floor.ok()) return floor.status();
  const double scale =
      static_cast<double>(args.drain_changes) / static_cast<double>(floor->changes);
  report.note(format(
      "-- the pipeline taken apart in-process, one thread, batch %d: %lld changes, "
      "CPU (wall) scaled to %lld changes",
      batch, static_cast<long long>(floor->changes), static_cast<long long>(args.drain_changes)));
  double edge = 0;
  double cloud = 0;
  for (const PipelineStep& step : floor->steps) {
    const bool comparison = step.name.front() == '(';
    report.figure("  " + step.name, format("%5.2f us/change  %5.1f s (%.1f s)",
                                           1e6 * step.cpu_s / static_cast<double>(floor->changes),
                                           step.cpu_s * scale, step.wall_s * scale));
    if (comparison) continue;
    (step.edge ? edge : cloud) += step.cpu_s * scale;
  }
  report.figure("  serial floor: edge + cloud CPU, no HTTP",
                format("%.1f s (edge %.1f s + cloud %.1f s); overlapped: %.1f s", edge + cloud,
                       edge, cloud, std::max(edge, cloud)));
  report.key(format("drain floor in-process, batch %d (serial / overlapped)", batch),
             format("%.1f s / %.1f s CPU", edge + cloud, std::max(edge, cloud)));
  if (auto it = drains.find(batch); it != drains.end() && it->second.finished) {
    report.figure("  the daemons' CPU in the real drain",
                  format("edge %.1f s + cloud %.1f s = %.1f s; wall %.1f s", it->second.edge_cpu_s,
                         it->second.cloud_cpu_s, it->second.edge_cpu_s + it->second.cloud_cpu_s,
                         it->second.seconds));
  }
  const double n = static_cast<double>(floor->changes);
  report.figure("  gzip bytes per change: default level / level 1",
                format("%.1f B / %.1f B", static_cast<double>(floor->gzip_bytes) / n,
                       static_cast<double>(floor->gzip_fast_bytes) / n));
  return Status::ok();
}

}  // namespace

Status run_drain_phase(const Args& args, Report& report) {
  report.phase(format("1. Drain after a long offline: %lld queued stock changes",
                      static_cast<long long>(args.drain_changes)),
               args.command_for('1'));
  auto work = testing::TempDir::create("syncbench-drain");
  if (!work.ok()) return work.status();
  const fs::path template_dir = work->file("outbox");
  SHOPEASY_RETURN_IF_ERROR(create_edge_schema(template_dir, kStoreId));
  // An empty migrated store for the in-process breakdown.
  {
    std::error_code ec;
    fs::create_directories(work->file("pipeline"), ec);
    fs::copy_file(template_dir / "edge.db", work->file("pipeline") / "edge.db", ec);
    if (ec) return unavailable("cannot copy the empty store: " + ec.message());
  }
  StoreSimulator store(kStoreId, args.skus, 42);
  const std::int64_t spacing = std::max<std::int64_t>(1, kOfflineMs / args.drain_changes);
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  auto fill = fill_outbox(template_dir / "edge.db", store, args.drain_changes,
                          now_ms - spacing * args.drain_changes, spacing, true);
  if (!fill.ok()) return fill.status();
  report.note(format(
      "outbox: %lld stock.changed rows over %d SKUs, %.0f B per stored body, "
      "written in %.1f s (bulk SQL, not measured)",
      static_cast<long long>(fill->rows), args.skus,
      static_cast<double>(fill->body_bytes) / static_cast<double>(fill->rows), fill->seconds));

  std::map<int, double> baselines;
  std::map<int, DrainResult> drains;
  for (int batch : args.batch_sizes) {
    report.note(format("-- sync.batch_max_changes=%d, SQLite cloud", batch));
    auto base = raw_replica_upserts(work->file("raw.db"), kStoreId, store, fill->replica, batch);
    if (!base.ok()) return base.status();
    baselines[batch] = *base;
    auto d = drain_once(args, work->path(), template_dir / "edge.db", batch, nullptr,
                        "sqlite-" + std::to_string(batch));
    if (!d.ok()) return d.status();
    drains[batch] = *d;
    report_drain(report, args, format("SQLite cloud, batch %d", batch), *d, *base);
    if (batch == args.batch_sizes.front() && args.quick_ack_check) {
      // The same drain with the edge's request segments acknowledged at once: the time
      // that goes is what the HTTP client's Nagle-vs-delayed-ACK wait costs.
      report.note(format("-- sync.batch_max_changes=%d through a relay that ACKs at once", batch));
      auto q = drain_once(args, work->path(), template_dir / "edge.db", batch, nullptr,
                          "quickack-" + std::to_string(batch), true);
      if (!q.ok()) return q.status();
      report_drain(report, args, format("SQLite cloud, batch %d, quick-ACK relay", batch), *q,
                   *base);
    }
  }

  if (args.pipeline_sample > 0 && !args.batch_sizes.empty()) {
    SHOPEASY_RETURN_IF_ERROR(
        report_pipeline(args, report, work->file("pipeline"), args.batch_sizes.front(), drains));
  }

  if (args.postgres) {
    report.note(format("-- sync.batch_max_changes=%d, PostgreSQL cloud", args.postgres_batch));
    auto pg = testing::PostgresServer::start();
    if (!pg.ok()) {
      report.figure("PostgreSQL cloud", "not measured: " + pg.status().to_string());
      return Status::ok();
    }
    SHOPEASY_RETURN_IF_ERROR(pg->create_database("cloud"));
    std::optional<double> base;
    if (auto it = baselines.find(args.postgres_batch); it != baselines.end()) base = it->second;
    auto d = drain_once(args, work->path(), template_dir / "edge.db", args.postgres_batch, &*pg,
                        "postgres-" + std::to_string(args.postgres_batch));
    if (!d.ok()) return d.status();
    report_drain(report, args, format("PostgreSQL cloud, batch %d", args.postgres_batch), *d, base);
  }
  return Status::ok();
}

}  // namespace shopeasy::syncbench
