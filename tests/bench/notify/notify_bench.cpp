// notify_bench: how fast the real shopeasy-cloud delivers customer notifications to a
// local webhook receiver, next to what that receiver takes from a plain client loop.
//
//   baseline  `senders` threads, each with one keep-alive cpp-httplib client, POST signed
//             notification-sized bodies to the sink as fast as it answers
//   measured  N notification rows are written into a fresh cloud database's outbox
//             (straight into the table, in one transaction: the benchmark measures
//             delivery, not order handling), then shopeasy-cloud starts with the sink as
//             notify.webhook_url; notifications/s is N over the time from the sink's
//             first delivery to its N-th distinct id (each signature checked)
//
// Target: at least 2,000 notifications/s on a 2-core machine. Exit status 0 when met,
// 1 when missed, 2 when a phase could not run.
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloud/payments/webhook.hpp"
#include "cloud/storage/cloud_store.hpp"
#include "common/db/database.hpp"
#include "tests/bench/bench_common.hpp"
#include "tests/integration/daemon_fixture.hpp"
#include "tests/integration/webhook_sink.hpp"

namespace {

using namespace std::chrono_literals;
using shopeasy::testing::WebhookSink;
using Clock = std::chrono::steady_clock;

constexpr const char* kSecret = "notify-bench-webhook-secret-0123456789abcdef";

struct Args {
  std::int64_t events = 20'000;
  std::int64_t baseline = 20'000;
  int senders = 4;
  int batch = 500;
};

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The raw receiver: signed bodies of the same shape from a plain client loop.
double run_baseline(WebhookSink& sink, const Args& args) {
  std::atomic<std::int64_t> next{0};
  const auto started = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < args.senders; ++t) {
    threads.emplace_back([&] {
      httplib::Client client("127.0.0.1", sink.port());
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      for (std::int64_t i; (i = next.fetch_add(1)) < args.baseline;) {
        const std::string id = "baseline:" + std::to_string(i) + ":webhook:c-1";
        const std::string body = nlohmann::json{
            {"id", id},
            {"type", "order.delivered"},
            {"created_at_ms", unix_ms()},
            {"data",
             {{"order_id", "baseline-" + std::to_string(i)},
              {"customer_id", "c-1"},
              {"event_seq", 7},
              {"status", "delivered"},
              {"at_ms", unix_ms()}}}}.dump();
        const std::int64_t ts = unix_ms() / 1000;
        httplib::Headers headers = {
            {"ShopEasy-Signature",
             shopeasy::cloud::payments::webhook_signature_header(kSecret, ts, body)},
            {"Idempotency-Key", id}};
        auto r = client.Post("/hooks/shopeasy", headers, body, "application/json");
        if (!r || r->status != 200) std::fprintf(stderr, "notify_bench: baseline post failed\n");
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return static_cast<double>(args.baseline) / seconds_since(started);
}

// N pending webhook rows, as order changes of N orders would have queued them.
bool seed_outbox(const std::string& state_dir, std::int64_t n) {
  auto store = shopeasy::cloud::storage::open_sqlite_store(state_dir + "/cloud.db");
  if (!store.ok() || !(*store)->migrate().is_ok()) {
    std::fprintf(stderr, "notify_bench: cannot create the cloud database\n");
    return false;
  }
  store->reset();
  auto db = shopeasy::db::Database::open(state_dir + "/cloud.db");
  if (!db.ok()) return false;
  auto tx = db->begin(shopeasy::db::TxMode::kImmediate);
  if (!tx.ok()) return false;
  const std::int64_t now = unix_ms();
  for (std::int64_t i = 0; i < n; ++i) {
    const std::string order = "ord-bench-" + std::to_string(i);
    const std::string customer = "c-" + std::to_string(i % 1000);
    const nlohmann::json body = {{"status", "delivered"}, {"store_id", "s1"}, {"at_ms", now}};
    const shopeasy::Status st = db->run(
        "INSERT INTO notify_outbox (dedupe_key, order_id, event_seq, customer_id, channel, kind, "
        "body, state, next_at_ms, created_at_ms, updated_at_ms) "
        "VALUES (?, ?, 7, ?, 'webhook', 'delivered', ?, 'pending', ?, ?, ?)",
        shopeasy::cloud::storage::notification_key(order, 7, "webhook", customer), order, customer,
        body.dump(), now, now, now);
    if (!st.is_ok()) {
      std::fprintf(stderr, "notify_bench: %s\n", st.to_string().c_str());
      return false;
    }
  }
  return tx->commit().is_ok();
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const std::string& prefix) -> const char* {
      return a.rfind(prefix, 0) == 0 ? argv[i] + prefix.size() : nullptr;
    };
    if (const char* v = value("--events=")) {
      args.events = std::stoll(v);
    } else if (const char* v2 = value("--baseline=")) {
      args.baseline = std::stoll(v2);
    } else if (const char* v3 = value("--senders=")) {
      args.senders = std::stoi(v3);
    } else if (const char* v4 = value("--batch=")) {
      args.batch = std::stoi(v4);
    } else {
      std::fprintf(stderr, "notify_bench: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  shopeasy::bench::print_lifted_limits("notify_bench");

  auto sink = WebhookSink::start(kSecret);
  if (!sink.ok()) {
    std::fprintf(stderr, "notify_bench: %s\n", sink.status().to_string().c_str());
    return 2;
  }
  const double baseline = run_baseline(**sink, args);
  std::printf("notify_bench: baseline: %lld signed posts from %d client threads: %.0f requests/s\n",
              static_cast<long long>(args.baseline), args.senders, baseline);
  const std::size_t before = (*sink)->accepted_ids();

  auto dir = shopeasy::testing::TempDir::create("notify-bench");
  if (!dir.ok()) return 2;
  const std::string state_dir = dir->file("cloud").string();
  std::filesystem::create_directories(state_dir);
  const auto seed_started = Clock::now();
  if (!seed_outbox(state_dir, args.events)) return 2;
  std::printf("notify_bench: %lld outbox rows written in %.2f s\n",
              static_cast<long long>(args.events), seconds_since(seed_started));

  std::vector<std::string> daemon_args = {"--http.port=0",
                                          "--state_dir=" + state_dir,
                                          "--auth.tokens=" + shopeasy::testing::admin_tokens_json(),
                                          "--notify.enabled=true",
                                          "--notify.webhook_url=" + (*sink)->url(),
                                          "--notify.webhook_secret=" + std::string(kSecret),
                                          "--notify.poll_interval_ms=20",
                                          "--notify.senders=" + std::to_string(args.senders),
                                          "--notify.batch_size=" + std::to_string(args.batch)};
  for (const std::string& limit : shopeasy::bench::lifted_daemon_limits()) {
    daemon_args.push_back(limit);
  }
  const auto daemon_started = Clock::now();
  auto cloud = shopeasy::testing::start_daemon("shopeasy-cloud", daemon_args);
  if (!cloud.ok()) {
    std::fprintf(stderr, "notify_bench: %s\n", cloud.status().to_string().c_str());
    return 2;
  }
  const std::size_t want = before + static_cast<std::size_t>(args.events);
  Clock::time_point first{}, last{};
  const auto deadline = Clock::now() + std::chrono::seconds(60 + args.events / 200);
  while (Clock::now() < deadline) {
    const std::size_t got = (*sink)->accepted_ids();
    if (got > before && first == Clock::time_point{}) first = Clock::now();
    if (got >= want) {
      last = Clock::now();
      break;
    }
    std::this_thread::sleep_for(2ms);
  }
  const double since_start = seconds_since(daemon_started);
  cloud->process.terminate_and_wait(10s);
  if (last == Clock::time_point{}) {
    std::fprintf(stderr, "notify_bench: only %zu of %lld notifications arrived\n",
                 (*sink)->accepted_ids() - before, static_cast<long long>(args.events));
    return 2;
  }
  const double window = std::max(std::chrono::duration<double>(last - first).count(), 1e-3);
  const double rate = static_cast<double>(args.events) / window;
  const double ratio = rate / baseline;
  const bool met = rate >= 2000;
  std::printf("\n| figure | result | baseline (same run) | ratio | target | verdict |\n");
  std::printf("| --- | --- | --- | --- | --- | --- |\n");
  std::printf(
      "| notifications/s to a local webhook sink (%lld, %d senders, batch %d) | %.0f/s | %.0f "
      "requests/s | %.2f | >= 2000/s | %s |\n",
      static_cast<long long>(args.events), args.senders, args.batch, rate, baseline, ratio,
      met ? "met" : "MISSED");
  std::printf(
      "notify_bench: first delivery to last in %.2f s; %.2f s from the daemon's start; %lld "
      "posts for %lld ids; %lld bad signatures\n",
      window, since_start, static_cast<long long>((*sink)->posts() - args.baseline),
      static_cast<long long>(args.events), static_cast<long long>((*sink)->bad_signatures()));
  char measured[64], base[64], r[32];
  std::snprintf(measured, sizeof measured, "%.0f/s", rate);
  std::snprintf(base, sizeof base, "%.0f requests/s (plain client loop)", baseline);
  std::snprintf(r, sizeof r, "%.2f", ratio);
  shopeasy::bench::record_result("notify", "notifications/s to a local webhook sink", measured,
                                 base, r, ">= 2000/s", met ? "met" : "MISSED");
  return met ? 0 : 1;
}
