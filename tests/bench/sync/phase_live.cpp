// Phase 4: live latency. A real edge syncing to a real cloud takes receive scans at a
// steady rate through its staff API; a watcher polls the cloud's replica of the store
// as an admin would. A change's latency runs from the scan's acknowledgement at the
// edge (committed) to the first poll that shows its SKU at that version or later.
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "common/http/client.hpp"
#include "common/wire/sync.hpp"
#include "tests/bench/sync/daemons.hpp"
#include "tests/bench/sync/phases.hpp"
#include "tests/bench/sync/raw_http.hpp"
#include "tests/bench/sync/stock_events.hpp"
#include "tests/harness/harness.hpp"

namespace shopeasy::syncbench {

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kStoreId = "blr-live-1";
constexpr const char* kSecret = "live-secret-0123456789";
// SKUs 0..kBusySkus-1 take the steady stream; the rest the quiet-store probe.
constexpr int kBusySkus = 50;
constexpr int kSkus = 60;
constexpr int kScanners = 4;
constexpr int kQuietRounds = 4;

std::string sku_name(int i) { return format("LIVE-%04d", i); }

struct ScanRecord {
  int sku = 0;
  std::int64_t version = 0;
  std::int64_t seq = 0;  // the change's outbox seq
  Clock::time_point acked;
  double edge_ms = 0;
};

struct Sighting {
  std::int64_t version = 0;
  Clock::time_point seen;
};

Status wait_until_synced(Edge& edge, Cloud& cloud, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::int64_t newest = -1;
  std::int64_t applied = -2;
  while (Clock::now() < deadline) {
    auto h = edge.health();
    auto a = cloud.last_applied_seq(kStoreId);
    if (h.ok() && a.ok()) {
      newest = (*h)["sync"].value("newest_seq", std::int64_t{-1});
      applied = *a;
      if (newest > 0 && applied == newest) return Status::ok();
    }
    std::this_thread::sleep_for(20ms);
  }
  return Status(StatusCode::kDeadlineExceeded,
                format("the cloud did not catch up: applied %lld of %lld",
                       static_cast<long long>(applied), static_cast<long long>(newest)));
}

// A handheld's connection to the edge's staff API. Requests leave in one write with
// TCP_NODELAY, so the scan's own latency is the edge's, not the client socket's.
class Scanner {
 public:
  explicit Scanner(int port) : port_(port) {}
  StatusOr<RawResponse> post(const std::string& path, const std::string& body) {
    if (!conn_ || !conn_->is_open()) {
      auto c = RawHttpConnection::connect(port_);
      if (!c.ok()) return c.status();
      conn_.emplace(std::move(*c));
    }
    return conn_->post(path,
                       {{"Authorization", std::string("Bearer ") + testing::kAdminToken},
                        {"Content-Type", "application/json"}},
                       body);
  }

 private:
  int port_;
  std::optional<RawHttpConnection> conn_;
};

// One receive scan of one unit; the change it made, stamped when the edge answered.
StatusOr<ScanRecord> post_scan(Scanner& client, const std::string& scan_id, int scanner, int sku) {
  const nlohmann::json scan = {{"scan_id", scan_id},
                               {"scanner_id", format("h%d", scanner)},
                               {"code", sku_name(sku)},
                               {"action", "receive"},
                               {"qty", 1},
                               {"bin", "A-01"}};
  const auto t0 = Clock::now();
  auto r = client.post("/api/scans", scan.dump());
  const auto t1 = Clock::now();
  if (!r.ok()) return r.status();
  if (r->status != 200) return internal_error(format("HTTP %d: %s", r->status, r->body.c_str()));
  const auto body = nlohmann::json::parse(r->body, nullptr, false);
  if (!body.is_object() || !body.contains("movements") || !body["movements"].is_array() ||
      body["movements"].empty()) {
    return internal_error("unexpected reply: " + r->body);
  }
  const auto& movement = body["movements"][0];
  return ScanRecord{sku, movement.value("version", std::int64_t{0}),
                    movement.value("seq", std::int64_t{0}), t1,
                    std::chrono::duration<double, std::milli>(t1 - t0).count()};
}

Status wait_applied(Cloud& cloud, std::int64_t seq, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::int64_t applied = 0;
  while (Clock::now() < deadline) {
    applied = cloud.last_applied_seq(kStoreId).value_or(applied);
    if (applied >= seq) return Status::ok();
    std::this_thread::sleep_for(10ms);
  }
  return Status(StatusCode::kDeadlineExceeded,
                format("the cloud applied %lld of %lld", static_cast<long long>(applied),
                       static_cast<long long>(seq)));
}

struct Visibility {
  std::vector<double> latency_ms;
  int never_seen = 0;
  int seen_before_ack = 0;
  std::vector<std::string> missing;
};

// When each change first showed at the cloud, from the watcher's sightings.
Visibility visibility(const std::vector<ScanRecord>& records,
                      const std::vector<std::vector<Sighting>>& seen) {
  Visibility v;
  for (const ScanRecord& rec : records) {
    const auto& sightings = seen[static_cast<std::size_t>(rec.sku)];
    auto it = std::find_if(sightings.begin(), sightings.end(),
                           [&](const Sighting& s) { return s.version >= rec.version; });
    if (it == sightings.end()) {
      ++v.never_seen;
      v.missing.push_back(
          format("%s version %lld (the cloud showed up to %lld)", sku_name(rec.sku).c_str(),
                 static_cast<long long>(rec.version),
                 static_cast<long long>(sightings.empty() ? -1 : sightings.back().version)));
      continue;
    }
    const double ms = std::chrono::duration<double, std::milli>(it->seen - rec.acked).count();
    if (ms < 0) ++v.seen_before_ack;
    v.latency_ms.push_back(std::max(0.0, ms));
  }
  return v;
}

// One sync exchange of a live-sized batch, timed two ways on keep-alive connections:
// through the HttpClient as the edge sends it, and as one write on a TCP_NODELAY
// socket. The difference is what the client's socket settings cost each exchange.
Status probe_exchange(Cloud& cloud, Report& report) {
  constexpr const char* kProbeStore = "blr-probe-1";
  constexpr const char* kProbeSecret = "probe-secret-0123456789";
  constexpr int kChanges = 6;  // what a live exchange carries at 100 changes/s
  constexpr int kRounds = 40;
  SHOPEASY_RETURN_IF_ERROR(cloud.register_store(kProbeStore, kProbeSecret));
  const std::string token = std::string(kProbeStore) + ":" + kProbeSecret;
  auto client = http::HttpClient::create(
      cloud.url(), http::ClientOptions{.compress_requests = true, .bearer_token = token});
  if (!client.ok()) return client.status();
  std::optional<RawHttpConnection> raw;
  StoreSimulator store(kProbeStore, 1000, 99);
  std::int64_t next_seq = 1;
  std::int64_t ts = 1767225600000;
  std::vector<double> lib_ms;
  std::vector<double> raw_ms;
  std::size_t wire_bytes = 0;
  for (int i = 0; i < 2 * kRounds; ++i) {
    nlohmann::json changes = nlohmann::json::array();
    for (int c = 0; c < kChanges; ++c) {
      changes.push_back(sync_change(next_seq + c, kStockChanged, store.next(ts += 10).body));
    }
    const std::string body = sync_batch_text(kProbeStore, next_seq, std::move(changes), 0, ts);
    std::string reply;
    const auto t0 = Clock::now();
    if (i % 2 == 0) {
      auto r = (*client)->post(std::string("/v1/stores/") + kProbeStore + "/sync", body,
                               "application/json");
      if (!r.ok()) return r.status();
      if (r->status != 200) return internal_error("probe exchange answered " + r->body);
      reply = std::move(r->body);
      lib_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      wire_bytes = (*client)->last_request_body_bytes();
    } else {
      if (!raw || !raw->is_open()) {
        auto c = RawHttpConnection::connect(cloud.port());
        if (!c.ok()) return c.status();
        raw.emplace(std::move(*c));
      }
      // As the HttpClient sends it: gzip above 256 bytes.
      std::map<std::string, std::string> headers = {{"Authorization", "Bearer " + token},
                                                    {"Content-Type", "application/json"}};
      std::string payload = body;
      if (body.size() > 256) {
        payload = gzip_like_client(body);
        headers["Content-Encoding"] = "gzip";
      }
      auto r = raw->post(std::string("/v1/stores/") + kProbeStore + "/sync", headers, payload);
      if (!r.ok()) return r.status();
      if (r->status != 200) return internal_error("probe exchange answered " + r->body);
      reply = std::move(r->body);
      raw_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    auto parsed = wire::parse_sync_reply(reply);
    if (!parsed.ok()) return parsed.status();
    next_seq = parsed->acked_seq + 1;
  }
  const Percentiles lib = percentiles(lib_ms);
  const Percentiles one = percentiles(raw_ms);
  report.key(format("one sync exchange (%d changes, %zu B gzip), HttpClient as the edge", kChanges,
                    wire_bytes),
             format("p50 %.1f ms, p99 %.1f ms (%zu exchanges)", lib.p50, lib.p99, lib.count));
  report.key("baseline: the same exchange, one write, TCP_NODELAY",
             format("p50 %.1f ms, p99 %.1f ms (HttpClient is %.1fx slower at p50)", one.p50,
                    one.p99, one.p50 > 0 ? lib.p50 / one.p50 : 0.0));
  return Status::ok();
}

}  // namespace

Status run_live_phase(const Args& args, Report& report) {
  report.phase(
      format("4. Live latency at %d changes/s: edge commit to cloud-visible", args.live_rate),
      args.command_for('4'));
  auto dir = testing::TempDir::create("syncbench-live");
  if (!dir.ok()) return dir.status();
  auto cloud = Cloud::start(CloudConfig{.state_dir = dir->file("cloud")});
  if (!cloud.ok()) return cloud.status();
  SHOPEASY_RETURN_IF_ERROR(cloud->register_store(kStoreId, kSecret));
  auto edge = Edge::start(EdgeConfig{.state_dir = dir->file("edge"),
                                     .store_id = kStoreId,
                                     .sync_url = cloud->url(),
                                     .store_secret = kSecret});
  if (!edge.ok()) return edge.status();
  // The store's catalog: SKUs with a home bin, scanned by their own labels.
  auto bins = edge->call("POST", "/api/bins", R"({"bins":[{"code":"A-01","walk_order":1}]})");
  if (!bins.ok() || bins->status != 200) return internal_error("could not create the bin");
  std::string csv = "sku,name,home_bin\n";
  for (int i = 0; i < kSkus; ++i) csv += sku_name(i) + ",Item " + std::to_string(i) + ",A-01\n";
  auto imported = edge->call("POST", "/api/catalog", csv, "text/csv");
  if (!imported.ok() || imported->status != 200) {
    return internal_error("catalog import failed: " + (imported.ok() ? imported->body : ""));
  }
  SHOPEASY_RETURN_IF_ERROR(wait_until_synced(*edge, *cloud, 30s));
  SHOPEASY_RETURN_IF_ERROR(probe_exchange(*cloud, report));
  // Every change passes two durable commits (the scan at the edge, the batch at the
  // cloud) and waits behind a third (the edge recording the previous ack).
  if (auto disk = fdatasync_latency(dir->path(), 200); disk.ok()) {
    report.key("baseline: this disk's fdatasync (4 KiB) p50 / p99 / max",
               format("%.1f / %.1f / %.1f ms", disk->p50, disk->p99, disk->max));
  }

  // The watcher: the cloud's replica, polled back to back.
  std::atomic<bool> stop_watching{false};
  std::vector<std::vector<Sighting>> seen(kSkus);
  std::vector<double> poll_ms;
  std::atomic<int> polls{0};
  std::string watch_error;
  std::thread watcher([&] {
    auto client = http::HttpClient::create(
        cloud->url(), http::ClientOptions{.bearer_token = testing::kAdminToken});
    if (!client.ok()) {
      watch_error = client.status().to_string();
      return;
    }
    while (!stop_watching.load()) {
      const auto t0 = Clock::now();
      auto r = (*client)->get(std::string("/v1/stores/") + kStoreId + "/replica");
      const auto t1 = Clock::now();
      poll_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      if (!r.ok() || r->status != 200) {
        watch_error = r.ok() ? r->body : r.status().to_string();
        std::this_thread::sleep_for(10ms);
        continue;
      }
      const auto page = nlohmann::json::parse(r->body, nullptr, false);
      if (!page.is_object()) continue;
      for (const auto& item : page["items"]) {
        const std::string sku = item.value("sku", "");
        if (sku.rfind("LIVE-", 0) != 0) continue;
        const int i = std::atoi(sku.c_str() + 5);
        if (i < 0 || i >= kSkus) continue;
        const std::int64_t v = item.value("version", std::int64_t{0});
        auto& list = seen[static_cast<std::size_t>(i)];
        // The response was complete at t1 at the latest: count the change visible then.
        if (list.empty() || list.back().version < v) list.push_back(Sighting{v, t1});
      }
      ++polls;
      std::this_thread::sleep_for(2ms);
    }
  });

  // The scanners: receive scans at the target rate, spread over a few devices.
  std::vector<std::vector<ScanRecord>> scans(kScanners);
  std::vector<std::string> scan_errors(kScanners);
  const auto start = Clock::now() + 200ms;
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(args.live_seconds));
  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(static_cast<double>(kScanners) / args.live_rate));
  std::vector<std::thread> scanners;
  for (int s = 0; s < kScanners; ++s) {
    scanners.emplace_back([&, s] {
      Scanner client(edge->port());
      auto next = start + interval * s / kScanners;
      for (int k = 0; next < end; ++k, next += interval) {
        std::this_thread::sleep_until(next);
        auto rec =
            post_scan(client, format("live-%d-%d", s, k), s, (k * kScanners + s) % kBusySkus);
        if (!rec.ok()) {
          scan_errors[static_cast<std::size_t>(s)] = rec.status().to_string();
          continue;
        }
        scans[static_cast<std::size_t>(s)].push_back(*rec);
      }
    });
  }
  for (auto& t : scanners) t.join();
  const double run_s = std::chrono::duration<double>(end - start).count();
  // Until the cloud has applied the newest scan's change.
  std::int64_t last_seq = 0;
  for (const auto& list : scans) {
    for (const ScanRecord& rec : list) last_seq = std::max(last_seq, rec.seq);
  }
  Status synced = wait_applied(*cloud, last_seq, 20s);

  // A quiet store: two scans from two pickers a moment apart, then nothing. The second
  // commits while the first one's exchange is in flight; it must still reach the cloud
  // at once, not with the next change or heartbeat.
  std::vector<ScanRecord> quiet_first;
  std::vector<ScanRecord> quiet_second;
  std::string quiet_error;
  for (int round = 0; round < kQuietRounds && quiet_error.empty(); ++round) {
    Scanner client_a(edge->port());
    Scanner client_b(edge->port());
    std::this_thread::sleep_for(300ms);
    StatusOr<ScanRecord> a = internal_error("not sent");
    std::thread first(
        [&] { a = post_scan(client_a, format("quiet-a-%d", round), 8, kBusySkus + 2 * round); });
    // The second scan lands 10..40 ms after the first: while its exchange is in flight.
    std::this_thread::sleep_for(std::chrono::milliseconds(10 + 10 * round));
    auto b = post_scan(client_b, format("quiet-b-%d", round), 9, kBusySkus + 2 * round + 1);
    first.join();
    if (!a.ok() || !b.ok()) {
      quiet_error = (a.ok() ? b.status() : a.status()).to_string();
      break;
    }
    quiet_first.push_back(*a);
    quiet_second.push_back(*b);
    // Bounded well past the edge's heartbeat (5 s by default).
    Status applied = wait_applied(*cloud, std::max(a->seq, b->seq), 12s);
    if (!applied.is_ok()) quiet_error = applied.to_string();
  }

  // Two more complete polls, so the last change applied has been looked for.
  const int polls_at_sync = polls.load();
  const auto poll_deadline = Clock::now() + 10s;
  while (polls.load() < polls_at_sync + 2 && Clock::now() < poll_deadline) {
    std::this_thread::sleep_for(5ms);
  }
  stop_watching = true;
  watcher.join();

  std::vector<ScanRecord> all;
  std::vector<double> edge_ms;
  for (const auto& list : scans) {
    for (const ScanRecord& rec : list) {
      all.push_back(rec);
      edge_ms.push_back(rec.edge_ms);
    }
  }
  Visibility steady = visibility(all, seen);
  std::vector<double>& latency_ms = steady.latency_ms;
  const int never_seen = steady.never_seen;
  const int seen_before_ack = steady.seen_before_ack;
  for (std::size_t i = 0; i < steady.missing.size() && i < 3; ++i) {
    report.note("not seen at the cloud: " + steady.missing[i]);
  }
  const std::size_t n = edge_ms.size();
  const Percentiles edge_p = percentiles(edge_ms);
  const Percentiles poll_p = percentiles(poll_ms);
  report.figure("scans acknowledged by the edge",
                format("%zu in %.0f s (%.0f/s); edge scan p50 %.1f ms, p99 %.1f ms", n, run_s,
                       static_cast<double>(n) / run_s, edge_p.p50, edge_p.p99));
  report.figure("replica polls", format("%zu, p50 %.1f ms each (the visibility resolution)",
                                        poll_p.count, poll_p.p50));
  const Percentiles p = percentiles(latency_ms);
  report.figure("commit to cloud-visible p50", format("%.0f ms", p.p50), "< 250 ms", p.p50 < 250);
  report.figure("commit to cloud-visible p99", format("%.0f ms (max %.0f ms)", p.p99, p.max),
                "< 1000 ms", p.p99 < 1000);
  if (never_seen > 0 || !synced.is_ok()) {
    report.figure("changes never seen at the cloud",
                  format("%d%s", never_seen,
                         synced.is_ok() ? "" : (" (" + synced.to_string() + ")").c_str()));
  }
  {
    Visibility first = visibility(quiet_first, seen);
    Visibility second = visibility(quiet_second, seen);
    std::string rounds;
    for (double ms : second.latency_ms) rounds += format("%s%.0f", rounds.empty() ? "" : ", ", ms);
    const Percentiles a = percentiles(first.latency_ms);
    const Percentiles b = percentiles(second.latency_ms);
    report.figure(
        format("quiet store, 2 scans 10-40 ms apart (%zu rounds): later one", quiet_second.size()),
        quiet_error.empty() && second.never_seen == 0
            ? format("%s ms (the earlier scan: max %.0f ms)", rounds.c_str(), a.max)
            : format("not all seen: %s", quiet_error.c_str()),
        "< 1000 ms", quiet_error.empty() && second.never_seen == 0 && b.max < 1000);
  }
  if (seen_before_ack > 0) {
    report.note(
        format("%d changes were visible at the cloud before the scan's reply reached "
               "the scanner (counted as 0 ms)",
               seen_before_ack));
  }
  for (const auto& e : scan_errors) {
    if (!e.empty()) report.note("a scan failed: " + e.substr(0, 300));
  }
  if (!watch_error.empty()) report.note("a replica poll failed: " + watch_error.substr(0, 300));
  if (auto m = edge->metrics(); m.ok()) {
    const PromPage page = PromPage::parse(*m);
    const double count = page.value("edge_sync_round_trip_seconds_count");
    if (count > 0) {
      report.figure("edge sync exchanges",
                    format("%.0f, mean %.1f ms each, %.1f changes per exchange", count,
                           1000 * page.value("edge_sync_round_trip_seconds_sum") / count,
                           page.value("edge_sync_changes_sent_total") / count));
    }
  }
  (void)edge->stop();
  (void)cloud->stop();
  return Status::ok();
}

}  // namespace shopeasy::syncbench
