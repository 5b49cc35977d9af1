// Phase 5: network cuts at random bytes during a drain. The edge reaches the cloud
// through CuttingProxy, which resets the connection many times, half of them while a
// batch is being uploaded and half while the cloud's answer is on its way back (the
// batch is applied, the acknowledgement lost). Every cut may cost at most one batch
// sent again; resending from the start of the outbox would show as duplicates far
// beyond that.
#include <chrono>
#include <filesystem>
#include <thread>

#include "tests/bench/sync/cutting_proxy.hpp"
#include "tests/bench/sync/daemons.hpp"
#include "tests/bench/sync/outbox.hpp"
#include "tests/bench/sync/phases.hpp"
#include "tests/harness/harness.hpp"

namespace shopeasy::syncbench {

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kStoreId = "blr-cut-1";
constexpr const char* kSecret = "cut-secret-0123456789";

}  // namespace

Status run_cut_phase(const Args& args, Report& report) {
  report.phase(format("5. Network cuts at random bytes during a drain of %lld changes",
                      static_cast<long long>(args.cut_changes)),
               args.command_for('5'));
  auto dir = testing::TempDir::create("syncbench-cut");
  if (!dir.ok()) return dir.status();
  SHOPEASY_RETURN_IF_ERROR(create_edge_schema(dir->file("edge"), kStoreId));
  StoreSimulator store(kStoreId, args.skus, 5);
  auto fill = fill_outbox(dir->file("edge") / "edge.db", store, args.cut_changes, 1767225600000,
                          100, false);
  if (!fill.ok()) return fill.status();

  auto cloud = Cloud::start(CloudConfig{.state_dir = dir->file("cloud")});
  if (!cloud.ok()) return cloud.status();
  SHOPEASY_RETURN_IF_ERROR(cloud->register_store(kStoreId, kSecret));
  // Cuts land anywhere from half a batch to two batches apart (in request bytes), so
  // some resends are cut again and most exchanges between cuts complete.
  const std::int64_t batch_bytes = typical_batch_gzip_bytes(args.cut_batch, args.skus);
  auto proxy = CuttingProxy::start(ProxyOptions{.upstream_port = cloud->port(),
                                                .cuts = args.cuts,
                                                .gap_min_bytes = batch_bytes / 2,
                                                .gap_max_bytes = batch_bytes * 2,
                                                .response_offset_max = 400,
                                                .seed = 2026,
                                                .count_prefix = "POST /v1/stores/"});
  if (!proxy.ok()) return proxy.status();
  report.note(format("proxy on port %d; a batch of %d is about %lld B gzip; %d cuts planned",
                     (*proxy)->port(), args.cut_batch, static_cast<long long>(batch_bytes),
                     args.cuts));

  const auto started = std::chrono::steady_clock::now();
  auto edge =
      Edge::start(EdgeConfig{.state_dir = dir->file("edge"),
                             .store_id = kStoreId,
                             .sync_url = "http://127.0.0.1:" + std::to_string((*proxy)->port()),
                             .store_secret = kSecret,
                             .batch_max_changes = args.cut_batch});
  if (!edge.ok()) return edge.status();
  std::int64_t applied = 0;
  const auto deadline = started + std::chrono::duration<double>(args.drain_timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    auto a = cloud->last_applied_seq(kStoreId);
    if (a.ok()) applied = *a;
    if (applied >= args.cut_changes) break;
    std::this_thread::sleep_for(50ms);
  }
  const double seconds = seconds_since(started);
  const ProxyStats ps = (*proxy)->stats();
  const int cuts = ps.request_cuts + ps.response_cuts;

  PromPage edge_page = PromPage::parse(edge->metrics().value_or(""));
  PromPage cloud_page = PromPage::parse(cloud->metrics().value_or(""));
  const double sent = edge_page.value("edge_sync_changes_sent_total");
  const double wire = edge_page.value("edge_sync_wire_bytes_total");
  const double failures = edge_page.sum_of("edge_sync_failures_total");
  const double cloud_applied = cloud_page.value("cloud_sync_changes_applied_total");
  const double duplicates = cloud_page.value("cloud_sync_duplicates_total");

  const bool drained = applied >= args.cut_changes;
  report.figure("drain through the cuts",
                drained ? format("%lld changes in %.1f s", static_cast<long long>(applied), seconds)
                        : format("unfinished: %lld applied in %.1f s",
                                 static_cast<long long>(applied), seconds),
                "completes", drained);
  report.figure("cuts made",
                format("%d (%d during upload, %d during the answer), %d connections, %.0f failed "
                       "exchanges seen by the edge",
                       cuts, ps.request_cuts, ps.response_cuts, ps.connections, failures));
  const double allowed = static_cast<double>(cuts) * args.cut_batch;
  // Every full batch but the resends was needed once: the drain's own requests.
  const int needed = static_cast<int>((args.cut_changes + args.cut_batch - 1) / args.cut_batch);
  const int resent_batches = ps.requests - needed;
  report.figure("sync requests started (counted at the proxy)",
                format("%d for %d batches: %d resent = %.2f batches per cut", ps.requests, needed,
                       resent_batches, cuts > 0 ? static_cast<double>(resent_batches) / cuts : 0.0),
                "<= 1 batch per cut", resent_batches <= cuts);
  report.figure("changes received by the cloud vs applied",
                format("%.0f received, %.0f applied, %.0f duplicates (%.2f batches per answer cut)",
                       cloud_applied + duplicates, cloud_applied, duplicates,
                       ps.response_cuts > 0 ? duplicates / ps.response_cuts / args.cut_batch : 0.0),
                "<= 1 batch per cut", duplicates <= allowed);
  report.figure("edge_sync_changes_sent_total vs applied",
                format("%.0f sent, %.0f applied (the edge counts only exchanges that got an "
                       "answer)",
                       sent, cloud_applied));
  report.key("cuts: resent batches per cut / duplicates per answer cut",
             format("%.2f / %.0f changes (batch %d)",
                    cuts > 0 ? static_cast<double>(resent_batches) / cuts : 0.0,
                    ps.response_cuts > 0 ? duplicates / ps.response_cuts : 0.0, args.cut_batch));
  // Upload bytes the cuts wasted: what went through the proxy beyond the bodies of the
  // answered requests (HTTP headers, a few hundred bytes per request, included).
  const double wasted = static_cast<double>(ps.bytes_up) - wire;
  report.figure("upload bytes lost to cuts",
                format("%.0f B = %.2f batches per cut (proxy %lld B up, edge counted %.0f B)",
                       wasted, cuts > 0 ? wasted / cuts / static_cast<double>(batch_bytes) : 0.0,
                       static_cast<long long>(ps.bytes_up), wire),
                "<= 1 batch per cut", wasted <= static_cast<double>(cuts) * batch_bytes * 1.1);
  if (sent > 0) {
    report.figure("edge wire bytes per change (edge counters)", format("%.1f B", wire / sent),
                  "< 60 B", wire / sent < 60);
  }
  (void)edge->stop();
  (void)cloud->stop();
  (*proxy)->stop();
  return Status::ok();
}

}  // namespace shopeasy::syncbench
