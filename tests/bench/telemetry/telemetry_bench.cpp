// telemetry_bench: the runner-telemetry speed goals, each measured with its baseline in
// the same run. Not a test; scripts/bench-telemetry.sh builds and runs it.
//
//  1. pipeline   MosquittoClient-free: one thread feeds Telemetry::handler() as the MQTT
//                thread would, with 2,000 runners; msg/s the worker applies, CPU, and
//                resident memory with all runners tracked (goal: < 50 MB extra).
//  2. broker     a real mosquitto on loopback and a publisher fleet at full speed (child
//                process), in three rounds on fresh brokers: mosquitto_sub alone (the
//                ceiling of broker and fleet on this box), MosquittoClient + Telemetry
//                alone (goals: >= 50,000 msg/s and >= 80% of mosquitto_sub alone), and
//                both with a raw libmosquitto subscriber sharing one stream.
//  3. trail      10,000,000 trail rows written straight into a trail file; one runner's
//                24 h queried (goal: < 50 ms); a retention purge with readers running.
//  4. filter     standing-still traces with 20 m noise and 1% teleports, plus status and
//                events in a telemetry storm (goals: >= 99% of teleports rejected, no
//                status or event dropped).
//
// Usage: telemetry_bench [--phases=1234] [--runners=N] [--messages=N] [--connections=N]
//                        [--trail-rows=N] [--quick]
//                        [--bus-capacity=N] [--no-mosquitto-sub]
//        telemetry_bench --role=pub|rawsub ...   (used by the benchmark itself)
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <numbers>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/db/database.hpp"
#include "common/geohash/geohash.hpp"
#include "edge/mqtt/mqtt_client.hpp"
#include "edge/telemetry/telemetry.hpp"
#include "tests/bench/bench_common.hpp"
#include "tests/bench/telemetry/bench_clients.hpp"
#include "tests/harness/harness.hpp"

namespace shopeasy::bench {
namespace {

using namespace std::chrono_literals;
using edge::telemetry::DropReason;
using edge::telemetry::MessageKind;
using edge::telemetry::Telemetry;
using edge::telemetry::TelemetryOptions;

struct Args {
  std::string phases = "1234";
  int runners = 2000;
  std::int64_t messages = 1'000'000;
  int connections = 4;
  std::int64_t trail_rows = 10'000'000;
  std::size_t bus_capacity = 16384;  // the EventBus default
  bool with_mosquitto_sub = true;
  std::string role;
  std::string host = "127.0.0.1";
  int port = 0;
};

struct Figure {
  std::string name;
  std::string value;
  std::string target;
  std::string verdict;
};
// The figures of the run: printed as they come, and those with a target again in the
// closing summary.
class Summary {
 public:
  void report(const std::string& name, const std::string& value, const std::string& target = "",
              std::optional<bool> pass = std::nullopt) {
    std::printf("  %-52s %s\n", name.c_str(), value.c_str());
    std::fflush(stdout);
    figures_.push_back(
        {name, value, target, pass ? (*pass ? "PASS" : "FAIL") : (target.empty() ? "" : "?")});
  }
  // Prints the goals; true when every one passed.
  bool print() const {
    std::printf("\nsummary\n  %-52s %-14s %-10s %s\n", "goal", "measured", "target", "");
    bool all = true;
    for (const Figure& f : figures_) {
      if (f.target.empty()) continue;
      std::printf("  %-52s %-14s %-10s %s\n", f.name.c_str(), f.value.c_str(), f.target.c_str(),
                  f.verdict.c_str());
      record_result("telemetry", f.name, f.value, "", "", f.target, f.verdict);
      all = all && f.verdict == "PASS";
    }
    return all;
  }

 private:
  std::vector<Figure> figures_;
};

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double rss_mb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

// The machine's 1-minute load average: figures from a busy machine are not comparable.
std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one;
  in >> one;
  return one.empty() ? "?" : one;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::int64_t wall_ms() { return to_unix_ms(std::chrono::system_clock::now()); }

log::Logger quiet_logger() {
  return log::Logger(std::make_shared<log::MemorySink>(), log::Level::kError, "bench");
}

TelemetryOptions pipeline_options(const std::string& dir, int runners) {
  TelemetryOptions o;
  o.state_dir = dir;
  for (int i = 0; i < runners; ++i) o.runners.push_back(runner_name(i));
  // The fleet sends far faster than a phone would (tens of messages per runner per
  // second); the per-runner limit would rightly drop most of it, so it is lifted here to
  // push every message through decoding and the filter.
  o.per_runner_rate = 1e6;
  o.per_runner_burst = 1e6;
  o.tick_interval_ms = 200;
  return o;
}

// ---- 1. pipeline ----------------------------------------------------------------------

void phase_pipeline(const Args& args, Summary& sum) {
  std::printf("\n[1] pipeline: handler() fed in-process, %d runners, %" PRId64 " messages\n",
              args.runners, args.messages);
  auto dir = testing::TempDir::create("telemetry-bench");
  if (!dir.ok()) return void(std::printf("  cannot create temp dir\n"));
  const double rss_before = rss_mb();
  SystemClock clock;
  // Sized as the daemon's. runner.updated events are coalesced per runner outside the
  // ring, so their memory is one body per runner, part of what tracking them costs.
  edge::events::EventBus bus(args.bus_capacity);
  metrics::Registry metrics;
  auto opened = Telemetry::open(pipeline_options(dir->path().string(), args.runners), clock, bus,
                                nullptr, quiet_logger(), metrics);
  if (!opened.ok()) return void(std::printf("  open: %s\n", opened.status().to_string().c_str()));
  std::unique_ptr<Telemetry> t = std::move(*opened);
  const double rss_open = rss_mb();

  std::vector<std::string> topics;
  for (int r = 0; r < args.runners; ++r)
    topics.push_back("runners/" + runner_name(r) + "/telemetry");
  const std::int64_t per_runner = (args.messages + args.runners - 1) / args.runners;
  const std::int64_t base_ms = wall_ms() - per_runner * 1000;
  edge::mqtt::Message m;
  char buf[512];
  const double cpu0 = cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  std::int64_t sent = 0;
  for (std::int64_t j = 0; sent < args.messages; ++j) {
    for (int r = 0; r < args.runners && sent < args.messages; ++r, ++sent) {
      const int n = format_telemetry(buf, sizeof buf, r, j, base_ms);
      m.topic = topics[static_cast<std::size_t>(r)];
      m.payload.assign(buf, static_cast<std::size_t>(n));
      // Keep the queue from overflowing: this measures what the worker sustains.
      while (t->queue_depth() > 8000) std::this_thread::yield();
      t->on_message(m);
    }
  }
  t->drain(120s);
  const double elapsed = seconds_since(start);
  const double cpu = cpu_seconds() - cpu0;
  const double rss_tracked = rss_mb();
  const auto processed = static_cast<double>(t->processed());
  std::size_t with_fix = 0;
  for (const auto& v : t->runners()) with_fix += v.fix ? 1 : 0;

  sum.report("pipeline: messages applied", fmt("%.0f", processed));
  sum.report("pipeline: msg/s (one worker, producer in process)", fmt("%.0f", processed / elapsed));
  sum.report("pipeline: CPU s per million msgs (incl. producer)",
             fmt("%.2f", cpu / (processed / 1e6)));
  sum.report("pipeline: drops teleport / future_ts / queue_full",
             std::to_string(t->dropped(DropReason::kTeleport)) + " / " +
                 std::to_string(t->dropped(DropReason::kFutureTs)) + " / " +
                 std::to_string(t->dropped(DropReason::kQueueFull)));
  sum.report("rss: event bus capacity (events)", std::to_string(args.bus_capacity));
  sum.report("rss: before open (MB)", fmt("%.1f", rss_before));
  sum.report("rss: after open, no traffic (MB)", fmt("%.1f", rss_open));
  sum.report("rss: " + std::to_string(with_fix) + " runners tracked (MB)",
             fmt("%.1f", rss_tracked));
  const double extra = rss_tracked - rss_before;
  sum.report("rss: extra for " + std::to_string(args.runners) + " runners (MB)", fmt("%.1f", extra),
             "< 50 MB", extra < 50.0);
  t->stop();
}

// ---- 2. broker ------------------------------------------------------------------------

struct Sample {
  double t = 0;
  std::uint64_t n = 0;
};

std::optional<testing::ChildProcess> spawn_self(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/proc/self/exe"};
  char self[4096];
  const ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len > 0) argv[0] = std::string(self, static_cast<std::size_t>(len));
  argv.insert(argv.end(), args.begin(), args.end());
  auto c = testing::ChildProcess::spawn({.argv = argv});
  if (!c.ok()) {
    std::printf("  spawn failed: %s\n", c.status().to_string().c_str());
    return std::nullopt;
  }
  return std::move(*c);
}

std::int64_t field_of(const std::string& text, const std::string& key) {
  const auto pos = text.find(key + "=");
  if (pos == std::string::npos) return -1;
  return std::stoll(text.substr(pos + key.size() + 1));
}

// CPU seconds a process has used (user + system), from /proc; -1 if unreadable.
double process_cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(text.substr(close + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(f);  // utime, stime
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Who listens in one round of the broker phase.
struct Listeners {
  bool edge = false;
  bool raw = false;
  bool sub = false;
};

struct RoundRates {
  double edge = 0, raw = 0, sub = 0;  // msg/s each listener received at
  std::int64_t edge_n = 0, raw_n = 0, sub_n = 0;
  std::int64_t published = 0;
  double publish_rate = 0;  // as the publishers saw it
  double broker_cpu = 0;    // share of one core over the round
  double edge_cpu_per_m = 0;
  std::uint64_t edge_drops = 0;
  bool ok = false;
};

// One publisher fleet at full speed through a fresh mosquitto to the chosen listeners.
RoundRates broker_round(const Args& args, Listeners who) {
  RoundRates out;
  // Subscribers are not cut off when they fall behind, so every one of them receives
  // the whole stream and the rates compare like with like.
  auto broker = testing::MosquittoBroker::start({.extra_config = {"max_queued_messages 0"}});
  if (!broker.ok()) {
    std::printf("  broker: %s\n", broker.status().to_string().c_str());
    return out;
  }
  const std::string port = std::to_string(broker->port());
  auto dir = testing::TempDir::create("telemetry-bench");
  if (!dir.ok()) return out;

  SystemClock clock;
  edge::events::EventBus bus;
  metrics::Registry metrics;
  std::unique_ptr<Telemetry> t;
  std::optional<edge::mqtt::MosquittoClient> client;
  if (who.edge) {
    auto opened = Telemetry::open(pipeline_options(dir->path().string(), args.runners), clock, bus,
                                  nullptr, quiet_logger(), metrics);
    if (!opened.ok()) {
      std::printf("  open: %s\n", opened.status().to_string().c_str());
      return out;
    }
    t = std::move(*opened);
    edge::mqtt::MosquittoOptions mo;
    mo.host = broker->host();
    mo.port = broker->port();
    mo.client_id = "bench-edge";
    mo.clean_session = true;
    client.emplace(mo, t->handler(), quiet_logger(), metrics);
    for (const auto& s : Telemetry::subscriptions()) client->subscribe(s.topic_filter, s.qos);
    // Subscribed, not just connected: messages sent before the SUBACK would be lost and
    // count as drops.
    if (!client->start().is_ok() || !testing::wait_for([&] { return client->subscribed(); }, 10s)) {
      std::printf("  edge client did not connect and subscribe\n");
      return out;
    }
  }
  std::optional<testing::ChildProcess> rawsub;
  if (who.raw) {
    rawsub = spawn_self(
        {"--role=rawsub", "--port=" + port, "--messages=" + std::to_string(args.messages)});
    if (!rawsub) return out;
  }
  const std::string sub_file = (dir->path() / "mosquitto_sub.out").string();
  std::optional<testing::ChildProcess> sub;
  if (who.sub) {
    auto spawned = testing::ChildProcess::spawn(
        {.argv = {"sh", "-c",
                  "exec mosquitto_sub -h 127.0.0.1 -p " + port +
                      " -t 'runners/+/telemetry' -F '%U %l' > " + sub_file}});
    if (!spawned.ok()) return out;
    sub.emplace(std::move(*spawned));
  }
  // Probe until every listener demonstrably receives (5-byte payloads are skipped).
  const bool ready = testing::wait_for(
      [&] {
        auto p = testing::ChildProcess::spawn(
            {.argv = {"mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-t",
                      "runners/probe/telemetry", "-m", "probe"}});
        if (p.ok()) p->wait_exit(5s);
        std::ifstream f(sub_file);
        std::string line;
        return (!rawsub || rawsub->stdout_text().find("ready") != std::string::npos) &&
               (!t || t->dropped(DropReason::kUnknownRunner) > 0) &&
               (!sub || std::getline(f, line));
      },
      20s, 200ms);
  if (!ready) {
    std::printf("  listeners not ready\n");
    return out;
  }

  std::atomic<bool> sampling{true};
  std::vector<Sample> samples;
  const auto t0 = std::chrono::steady_clock::now();
  std::thread sampler([&] {
    while (sampling && t) {
      samples.push_back({seconds_since(t0), t->processed(MessageKind::kTelemetry)});
      std::this_thread::sleep_for(5ms);
    }
  });
  const double cpu0 = cpu_seconds();
  const double broker_cpu0 = process_cpu_seconds(broker->pid());
  auto pub =
      spawn_self({"--role=pub", "--port=" + port, "--runners=" + std::to_string(args.runners),
                  "--messages=" + std::to_string(args.messages),
                  "--connections=" + std::to_string(args.connections)});
  if (!pub) {
    sampling = false;
    sampler.join();
    return out;
  }
  pub->wait_exit(600s);
  // Wait for the stream to end everywhere: each listener's count settles.
  if (t) {
    std::uint64_t last = 0;
    auto last_change = std::chrono::steady_clock::now();
    while (seconds_since(last_change) < 10.0) {
      const std::uint64_t n = t->processed(MessageKind::kTelemetry);
      if (n != last) {
        last = n;
        last_change = std::chrono::steady_clock::now();
      }
      if (n >= static_cast<std::uint64_t>(args.messages)) break;
      std::this_thread::sleep_for(20ms);
    }
  }
  const double cpu = cpu_seconds() - cpu0;
  sampling = false;
  sampler.join();
  if (rawsub) rawsub->wait_exit(30s);
  if (sub) {
    // mosquitto_sub has no message count to stop at: wait until its output stops growing.
    std::uintmax_t size = 0;
    auto still_since = std::chrono::steady_clock::now();
    while (seconds_since(still_since) < 1.0 && seconds_since(t0) < 600) {
      std::error_code ec;
      const std::uintmax_t now_size = std::filesystem::file_size(sub_file, ec);
      if (now_size != size) {
        size = now_size;
        still_since = std::chrono::steady_clock::now();
      }
      std::this_thread::sleep_for(50ms);
    }
    sub->terminate_and_wait(2s);
  }
  const double round_s = seconds_since(t0);
  out.broker_cpu = (process_cpu_seconds(broker->pid()) - broker_cpu0) / round_s;

  if (t) {
    // The edge's rate over the window in which messages arrived.
    double first_t = -1, last_t = 0;
    std::uint64_t first_n = 0, final_n = samples.empty() ? 0 : samples.back().n;
    for (const Sample& s : samples) {
      if (first_t < 0 && s.n > 0) {
        first_t = s.t;
        first_n = s.n;
      }
    }
    for (const Sample& s : samples) {
      if (s.n == final_n) {
        last_t = s.t;
        break;
      }
    }
    out.edge = (last_t > first_t) ? static_cast<double>(final_n - first_n) / (last_t - first_t) : 0;
    out.edge_n = static_cast<std::int64_t>(final_n);
    out.edge_cpu_per_m = final_n > 0 ? cpu / (static_cast<double>(final_n) / 1e6) : 0;
    out.edge_drops = t->dropped(DropReason::kQueueFull) + t->dropped(DropReason::kTeleport) +
                     t->dropped(DropReason::kInvalid);
  }
  if (rawsub) {
    const std::string raw_out = rawsub->stdout_text();
    out.raw_n = field_of(raw_out, "received");
    const double raw_s =
        static_cast<double>(field_of(raw_out, "last_ns") - field_of(raw_out, "first_ns")) / 1e9;
    out.raw = raw_s > 0 ? static_cast<double>(out.raw_n) / raw_s : 0;
  }
  if (sub) {
    // mosquitto_sub: "<unix seconds.nanoseconds> <payload length>" per message.
    std::ifstream f(sub_file);
    std::string line;
    double sub_first = 0, sub_last = 0;
    while (std::getline(f, line)) {
      double ts = 0;
      int len = 0;
      if (std::sscanf(line.c_str(), "%lf %d", &ts, &len) != 2 || len == 5) continue;
      if (out.sub_n == 0) sub_first = ts;
      sub_last = ts;
      ++out.sub_n;
    }
    out.sub = sub_last > sub_first ? static_cast<double>(out.sub_n) / (sub_last - sub_first) : 0;
  }
  const std::string pub_out = pub->stdout_text();
  out.published = field_of(pub_out, "published");
  const auto secs_at = pub_out.find("seconds=");
  const double pub_s = secs_at == std::string::npos ? 0 : std::stod(pub_out.substr(secs_at + 8));
  out.publish_rate = pub_s > 0 ? static_cast<double>(out.published) / pub_s : 0;
  out.ok = true;
  if (client) client->stop();
  if (t) t->stop();
  return out;
}

void phase_broker(const Args& args, Summary& sum) {
  std::printf("\n[2] broker: mosquitto on loopback, %d publisher connections, %d runners, %" PRId64
              " messages per round\n",
              args.connections, args.runners, args.messages);
  // The broker is single-threaded and fans every message out to each subscriber, so
  // listeners that share one stream slow each other down. The judged figure is the edge
  // alone against mosquitto's own client alone, each on a fresh broker with the same
  // fleet; the shared round follows for reference.
  std::printf("  round a: mosquitto_sub alone (the broker's own client: the ceiling)\n");
  const RoundRates ceiling = args.with_mosquitto_sub ? broker_round(args, {.sub = true})
                                                     : broker_round(args, {.raw = true});
  std::printf("  round b: the edge pipeline alone\n");
  const RoundRates alone = broker_round(args, {.edge = true});
  std::printf("  round c: edge, raw libmosquitto subscriber%s on one stream\n",
              args.with_mosquitto_sub ? " and mosquitto_sub" : "");
  const RoundRates shared =
      broker_round(args, {.edge = true, .raw = true, .sub = args.with_mosquitto_sub});
  if (!ceiling.ok || !alone.ok || !shared.ok) {
    std::printf("  a round could not run\n");
    return;
  }
  const double ceiling_rate = args.with_mosquitto_sub ? ceiling.sub : ceiling.raw;
  const std::string ceiling_name =
      args.with_mosquitto_sub ? "mosquitto_sub alone" : "raw subscriber alone";
  sum.report("broker: publishers' own rate (round b)", fmt("%.0f msg/s", alone.publish_rate));
  sum.report("broker: " + ceiling_name + " msg/s (baseline)", fmt("%.0f", ceiling_rate));
  sum.report("broker: " + ceiling_name + ", broker CPU",
             fmt("%.0f%% of a core", ceiling.broker_cpu * 100));
  sum.report("broker: edge pipeline alone msg/s", fmt("%.0f", alone.edge), ">= 50,000",
             alone.edge >= 50'000);
  sum.report("broker: edge alone, broker CPU", fmt("%.0f%% of a core", alone.broker_cpu * 100));
  sum.report("broker: edge alone, received of published",
             std::to_string(alone.edge_n) + " of " + std::to_string(alone.published));
  if (ceiling_rate > 0) {
    const double ratio = alone.edge / ceiling_rate;
    sum.report("broker: edge alone / " + ceiling_name, fmt("%.0f%%", ratio * 100), ">= 80%",
               ratio >= 0.8);
  }
  sum.report("broker: edge CPU s per million msgs", fmt("%.2f", alone.edge_cpu_per_m));
  sum.report("broker: edge drops (queue_full + other)",
             fmt("%.0f", static_cast<double>(alone.edge_drops)));
  sum.report("broker: shared stream, edge / raw / mosquitto_sub msg/s",
             fmt("%.0f", shared.edge) + " / " + fmt("%.0f", shared.raw) + " / " +
                 (args.with_mosquitto_sub ? fmt("%.0f", shared.sub) : std::string("-")));
  sum.report("broker: shared stream, broker CPU", fmt("%.0f%% of a core", shared.broker_cpu * 100));
  if (shared.raw > 0) {
    sum.report("broker: shared stream, edge / raw subscriber",
               fmt("%.0f%%", shared.edge / shared.raw * 100));
  }
}

// ---- 3. trail -------------------------------------------------------------------------

void phase_trail(const Args& args, Summary& sum) {
  const int runners = 600;
  const std::int64_t per_runner = args.trail_rows / runners;
  const std::int64_t day_ms = 24 * 3'600'000LL;
  const std::int64_t step_ms = day_ms / per_runner;
  std::printf("\n[3] trail: %d runners x %" PRId64 " points over 24 h (one every %.1f s)\n",
              runners, per_runner, static_cast<double>(step_ms) / 1000.0);
  auto dir = testing::TempDir::create("telemetry-bench");
  if (!dir.ok()) return;
  const std::string path = (dir->path() / "telemetry.db").string();
  metrics::Registry metrics;
  edge::telemetry::TrailOptions to;
  to.path = path;
  {
    // Creates the file with its schema.
    auto s = edge::telemetry::TrailStore::open(to, quiet_logger(), metrics);
    if (!s.ok()) return void(std::printf("  %s\n", s.status().to_string().c_str()));
  }
  const std::int64_t end_ms = wall_ms();
  const std::int64_t start_ms = end_ms - day_ms;
  {
    const auto gen_start = std::chrono::steady_clock::now();
    db::OpenOptions o;
    o.wal = false;
    o.synchronous = db::Synchronous::kNormal;
    auto db = db::Database::open(path, o);
    if (!db.ok()) return;
    if (!db->exec("PRAGMA journal_mode=DELETE; PRAGMA synchronous=OFF").is_ok()) return;
    auto stmt = db->prepare(
        "INSERT INTO trail (runner_id, ts_ms, lat, lon, accuracy_m, speed_mps, heading_deg) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)");
    if (!stmt.ok()) return;
    for (int r = 0; r < runners; ++r) {
      auto tx = db->begin();
      if (!tx.ok()) return;
      const std::string id = runner_name(r);
      for (std::int64_t i = 0; i < per_runner; ++i) {
        const double lat = 12.9716 + std::sin(static_cast<double>(i) / 500.0) * 0.02;
        const double lon = 77.5946 + std::cos(static_cast<double>(i) / 500.0) * 0.02;
        if (!stmt->bind_all(id, start_ms + i * step_ms, lat, lon, 6.5, 4.0, 90.0).is_ok() ||
            !stmt->execute().is_ok()) {
          return void(std::printf("  insert failed\n"));
        }
        stmt->reset();
      }
      if (!tx->commit().is_ok()) return;
    }
    if (!db->exec("PRAGMA journal_mode=WAL").is_ok()) return;
    sum.report("trail: rows generated", fmt("%.0f", static_cast<double>(per_runner * runners)));
    sum.report("trail: generation seconds", fmt("%.1f", seconds_since(gen_start)));
  }
  auto opened = edge::telemetry::TrailStore::open(to, quiet_logger(), metrics);
  if (!opened.ok()) return;
  auto& store = **opened;
  std::vector<double> ms;
  std::size_t rows = 0;
  for (int r = 0; r < runners; r += 30) {
    const auto q0 = std::chrono::steady_clock::now();
    auto points = store.trail(runner_name(r), start_ms, end_ms, 20'000);
    ms.push_back(seconds_since(q0) * 1000);
    if (points.ok()) rows = points->size();
  }
  const double first = ms.front();
  std::sort(ms.begin(), ms.end());
  sum.report("trail: rows returned for one runner's 24 h", fmt("%.0f", static_cast<double>(rows)));
  sum.report("trail: 24 h query, first (cold) ms", fmt("%.1f", first));
  sum.report("trail: 24 h query, median of 20 runners ms", fmt("%.1f", ms[ms.size() / 2]));
  sum.report("trail: 24 h query, worst of 20 runners ms", fmt("%.1f", ms.back()), "< 50 ms",
             ms.back() < 50.0);

  // Retention: the oldest hour (~1/24 of the rows) purged while a reader keeps querying.
  std::atomic<bool> reading{true};
  double worst_read_ms = 0;
  std::size_t reads = 0;
  std::thread reader([&] {
    std::mt19937 rng(3);
    while (reading) {
      const auto q0 = std::chrono::steady_clock::now();
      auto points = store.trail(runner_name(static_cast<int>(rng() % runners)), end_ms - 3'600'000,
                                end_ms, 20'000);
      worst_read_ms = std::max(worst_read_ms, seconds_since(q0) * 1000);
      ++reads;
    }
  });
  const auto p0 = std::chrono::steady_clock::now();
  auto purged = store.purge(start_ms + 3'600'000, 600s);
  const double purge_s = seconds_since(p0);
  reading = false;
  reader.join();
  sum.report("trail: purge of the oldest hour, rows",
             fmt("%.0f", purged.ok() ? static_cast<double>(*purged) : -1.0));
  sum.report("trail: purge seconds (5,000 rows per transaction)", fmt("%.2f", purge_s));
  sum.report("trail: reads during purge / worst read ms",
             std::to_string(reads) + " / " + fmt("%.1f", worst_read_ms));
}

// ---- 4. filter ------------------------------------------------------------------------

void phase_filter(Summary& sum) {
  const int runners = 200;
  const int rounds = 600;  // 10 minutes at 1 Hz
  std::printf(
      "\n[4] filter: %d runners standing still x %d fixes, 20 m noise, 1%% teleports,\n"
      "    status and events inside a telemetry storm\n",
      runners, rounds);
  auto dir = testing::TempDir::create("telemetry-bench");
  if (!dir.ok()) return;
  FakeClock clock;
  edge::events::EventBus bus;
  metrics::Registry metrics;
  TelemetryOptions o;
  o.state_dir = dir->path().string();
  for (int i = 0; i < runners; ++i) o.runners.push_back(runner_name(i));
  o.queue_capacity = 1'000'000;
  auto opened = Telemetry::open(o, clock, bus, nullptr, quiet_logger(), metrics);
  if (!opened.ok()) return;
  std::unique_ptr<Telemetry> t = std::move(*opened);

  std::mt19937 rng(2026);
  std::normal_distribution<double> noise(0.0, 20.0 / 1.51);  // 68% within 20 m
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const double base_lat = 12.9716, base_lon = 77.5946;
  const double m_lat = 1.0 / 111'195.0;
  const double m_lon = 1.0 / (111'195.0 * std::cos(base_lat * std::numbers::pi / 180.0));
  std::int64_t teleports = 0, teleports_accepted = 0, honest = 0, honest_rejected = 0;
  std::int64_t status_sent = 0, events_sent = 0, storm = 0;
  std::vector<bool> teleported(runners, false);
  std::vector<std::pair<double, double>> shown_prev(runners, {base_lat, base_lon});
  double max_step = 0, max_error = 0;
  std::int64_t steps_over_10m = 0;
  auto send = [&](int r, const char* kind, const std::string& payload) {
    t->on_message({"runners/" + runner_name(r) + "/" + kind, payload, 0, false});
  };
  for (int r = 0; r < runners; ++r) {
    send(r, "status", R"({"runner_id":")" + runner_name(r) + R"(","status":"online","ts_ms":1})");
    ++status_sent;
  }
  for (int round = 0; round < rounds; ++round) {
    const std::int64_t now = to_unix_ms(clock.wall_now());
    for (int r = 0; r < runners; ++r) {
      const double true_lat = base_lat + (r % 20) * 0.001;
      const double true_lon = base_lon + (r / 20) * 0.001;
      teleported[r] = false;
      double lat = true_lat + noise(rng) * m_lat;
      double lon = true_lon + noise(rng) * m_lon;
      if (round > 0 && unit(rng) < 0.01) {
        const double dist = 150.0 * std::pow(20'000.0 / 150.0, unit(rng));
        const double a = unit(rng) * 2 * std::numbers::pi;
        lat += dist * std::sin(a) * m_lat;
        lon += dist * std::cos(a) * m_lon;
        ++teleports;
        teleported[r] = true;
      }
      wire::Telemetry fix;
      fix.runner_id = runner_name(r);
      fix.lat = lat;
      fix.lon = lon;
      fix.accuracy_m = 20;
      fix.speed_mps = 0;
      fix.device_ts_ms = now;
      send(r, "telemetry", wire::dump_compact(wire::encode(fix)));
      // Every 100 rounds a tenth of the runners' phones go haywire: 60 extra fixes at
      // once (the rate limiter drops most) with an SOS and a status in the middle.
      if (round % 100 == 50 && r % 10 == 0) {
        for (int k = 0; k < 60; ++k) {
          send(r, "telemetry", wire::dump_compact(wire::encode(fix)));
          ++storm;
          if (k == 30) {
            send(r, "events",
                 R"({"event_id":"sos-)" + std::to_string(round) + R"(","runner_id":")" +
                     runner_name(r) + R"(","type":"sos","ts_ms":1})");
            send(r, "status",
                 R"({"runner_id":")" + runner_name(r) + R"(","status":"online","ts_ms":2})");
            ++events_sent;
            ++status_sent;
          }
        }
      }
    }
    t->drain(60s);
    for (int r = 0; r < runners; ++r) {
      auto v = t->runner(runner_name(r));
      if (!v || !v->fix) continue;
      // Each runner sent one fix (storm copies repeat it): live now means accepted.
      const bool accepted = v->fix->device_ts_ms == now;
      if (teleported[r]) {
        teleports_accepted += accepted ? 1 : 0;
      } else {
        ++honest;
        honest_rejected += accepted ? 0 : 1;
      }
      const double true_lat = base_lat + (r % 20) * 0.001;
      const double true_lon = base_lon + (r / 20) * 0.001;
      const double err = geohash::haversine_m({true_lat, true_lon}, {v->fix->lat, v->fix->lon});
      if (round > 0) {
        const double step = geohash::haversine_m({shown_prev[r].first, shown_prev[r].second},
                                                 {v->fix->lat, v->fix->lon});
        max_step = std::max(max_step, step);
        steps_over_10m += step > 10.0 ? 1 : 0;
        max_error = std::max(max_error, err);
      }
      shown_prev[r] = {v->fix->lat, v->fix->lon};
    }
    clock.advance(1s);
    t->tick();
  }
  for (int r = 0; r < runners; ++r) {
    send(r, "status", R"({"runner_id":")" + runner_name(r) + R"(","status":"offline","ts_ms":3})");
    ++status_sent;
  }
  t->drain(60s);
  const double pct = teleports > 0 ? 100.0 * static_cast<double>(teleports - teleports_accepted) /
                                         static_cast<double>(teleports)
                                   : 0;
  sum.report("filter: teleports injected / accepted",
             std::to_string(teleports) + " / " + std::to_string(teleports_accepted));
  sum.report("filter: teleports rejected", fmt("%.2f%%", pct), ">= 99%", pct >= 99.0);
  sum.report("filter: honest fixes rejected",
             std::to_string(honest_rejected) + " of " + std::to_string(honest));
  sum.report("filter: teleport drops counted (storm copies included)",
             std::to_string(t->dropped(DropReason::kTeleport)));
  sum.report("filter: shown position, biggest step while still (m)", fmt("%.1f", max_step));
  sum.report("filter: shown position, steps > 10 m",
             fmt("%.0f", static_cast<double>(steps_over_10m)));
  sum.report("filter: shown position, worst distance from truth (m)", fmt("%.1f", max_error));
  sum.report("filter: storm fixes sent / rate-limited",
             fmt("%.0f", static_cast<double>(storm)) + " / " +
                 fmt("%.0f", static_cast<double>(t->dropped(DropReason::kRateLimited))));
  const auto status_lost =
      static_cast<double>(status_sent) - static_cast<double>(t->processed(MessageKind::kStatus));
  const auto events_lost =
      static_cast<double>(events_sent) - static_cast<double>(t->processed(MessageKind::kEvent));
  sum.report("filter: status messages dropped (of " + std::to_string(status_sent) + ")",
             fmt("%.0f", status_lost), "0", status_lost == 0);
  sum.report("filter: events dropped (of " + std::to_string(events_sent) + ")",
             fmt("%.0f", events_lost), "0", events_lost == 0);
  t->stop();
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    auto value = [&](const char* key) -> std::optional<std::string> {
      const std::string k = std::string(key) + "=";
      if (s.rfind(k, 0) == 0) return s.substr(k.size());
      return std::nullopt;
    };
    if (auto v = value("--phases"))
      a.phases = *v;
    else if (auto v2 = value("--runners"))
      a.runners = std::stoi(*v2);
    else if (auto v3 = value("--messages"))
      a.messages = std::stoll(*v3);
    else if (auto v4 = value("--connections"))
      a.connections = std::stoi(*v4);
    else if (auto v5 = value("--trail-rows"))
      a.trail_rows = std::stoll(*v5);
    else if (auto v6 = value("--role"))
      a.role = *v6;
    else if (auto v7 = value("--port"))
      a.port = std::stoi(*v7);
    else if (auto v8 = value("--bus-capacity"))
      a.bus_capacity = std::stoull(*v8);
    else if (s == "--no-mosquitto-sub")
      a.with_mosquitto_sub = false;
    else if (s == "--quick") {
      a.messages = 200'000;
      a.trail_rows = 1'000'000;
    } else {
      std::fprintf(stderr, "unknown argument %s (see the header of telemetry_bench.cpp)\n",
                   s.c_str());
      std::exit(2);
    }
  }
  return a;
}

}  // namespace
}  // namespace shopeasy::bench

int main(int argc, char** argv) {
  using namespace shopeasy::bench;
  const Args args = parse(argc, argv);
  if (args.role == "pub") {
    PublisherArgs p;
    p.port = args.port;
    p.runners = args.runners;
    p.messages = args.messages;
    p.connections = args.connections;
    return run_publishers(p);
  }
  if (args.role == "rawsub") return run_raw_subscriber(args.host, args.port, args.messages, 10000);

  std::printf("telemetry_bench: %u cores, load average %s, phases %s\n",
              std::thread::hardware_concurrency(), load_average().c_str(), args.phases.c_str());
  Summary sum;
  if (args.phases.find('1') != std::string::npos) phase_pipeline(args, sum);
  if (args.phases.find('2') != std::string::npos) phase_broker(args, sum);
  if (args.phases.find('3') != std::string::npos) phase_trail(args, sum);
  if (args.phases.find('4') != std::string::npos) phase_filter(sum);
  const bool all = sum.print();
  std::printf("  (load average at the end: %s)\n", load_average().c_str());
  return all ? 0 : 1;
}
