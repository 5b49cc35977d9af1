// signin_bench: customer phone sign-in on the real shopeasy-cloud, over HTTP, next to a
// hello-world cpp-httplib server driven the same way in the same run.
//
//   baseline  `clients` threads, each with one keep-alive client, POST a small JSON body
//             to the hello server and time each answer
//   measured  the same threads sign in `numbers` distinct phone numbers (spread over
//             many 8-digit prefixes, as real customers are): POST /api/auth/otp (timed),
//             the code read back from the sandbox SMS route (not timed: that is the
//             provider's side), POST /api/auth/verify (timed); every answer checked
//
// The cloud runs on SQLite with the sandbox SMS provider and with the limits that would
// throttle one benchmark client lifted (per-client sends and checks, per-prefix sends,
// the HTTP rate limit); the per-number limits stay, and each number signs in once.
// Target: p99 < 20 ms for each of the two calls. Exit status 0 when met, 1 when missed,
// 2 when a phase could not run.
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/bench/bench_common.hpp"
#include "tests/bench/inventory/bench_stats.hpp"
#include "tests/bench/inventory/edge_client.hpp"
#include "tests/bench/inventory/hello_server.hpp"
#include "tests/integration/daemon_fixture.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using shopeasy::bench::LatencySummary;
using SteadyClock = std::chrono::steady_clock;

struct Args {
  int numbers = 2000;
  int clients = 4;
  int baseline = 4000;
  std::string self_exe;
};

double micros_since(SteadyClock::time_point t) {
  return std::chrono::duration<double, std::micro>(SteadyClock::now() - t).count();
}

// A number in one of 100 prefixes, distinct for each i < 10^6.
std::string phone_number(int i) {
  char digits[16];
  std::snprintf(digits, sizeof digits, "%02d%06d", i % 100, i);
  return std::string("+9198") + digits;
}

// What each client thread measured.
struct Timings {
  std::mutex mutex;  // guards otp_us and verify_us, appended to once by each thread
  std::vector<double> otp_us;
  std::vector<double> verify_us;
  std::atomic<int> failures{0};
};

// The code in the sandbox's newest message to `phone` (empty when none). A fresh
// connection of its own, so it never shares one with the timed calls.
std::string code_for(int port, const std::string& phone) {
  httplib::Client admin("127.0.0.1", port);
  const httplib::Headers headers = {
      {"Authorization", std::string("Bearer ") + shopeasy::testing::kAdminToken}};
  auto r = admin.Get("/v1/sandbox/sms?phone=%2B" + phone.substr(1), headers);
  if (!r || r->status != 200) return "";
  const json body = json::parse(r->body, nullptr, false);
  if (!body.is_object() || !body["messages"].is_array() || body["messages"].empty()) return "";
  static const std::regex kCode("code is ([0-9]{6})");
  std::smatch m;
  const std::string text = body["messages"][0].value("body", "");
  return std::regex_search(text, m, kCode) ? m[1].str() : "";
}

void sign_in_worker(int port, const Args& args, std::atomic<int>& next, Timings& out) {
  httplib::Client client("127.0.0.1", port);
  client.set_keep_alive(true);
  client.set_tcp_nodelay(true);
  std::vector<double> otp, verify;
  for (int i; (i = next.fetch_add(1)) < args.numbers;) {
    const std::string phone = phone_number(i);
    auto t0 = SteadyClock::now();
    auto sent = client.Post("/api/auth/otp", json{{"phone", phone}}.dump(), "application/json");
    const double otp_us = micros_since(t0);
    if (!sent || sent->status != 202) {
      if (out.failures.fetch_add(1) < 5) {
        std::fprintf(stderr, "signin_bench: otp for %s answered %d %s\n", phone.c_str(),
                     sent ? sent->status : 0, sent ? sent->body.c_str() : "");
      }
      continue;
    }
    const std::string code = code_for(port, phone);
    t0 = SteadyClock::now();
    auto verified = client.Post("/api/auth/verify", json{{"phone", phone}, {"code", code}}.dump(),
                                "application/json");
    const double verify_us = micros_since(t0);
    const json tokens =
        verified ? json::parse(verified->body, nullptr, false) : json(json::value_t::discarded);
    if (!verified || verified->status != 200 || !tokens.is_object() ||
        tokens.value("access_token", "").empty()) {
      if (out.failures.fetch_add(1) < 5) {
        std::fprintf(stderr, "signin_bench: verify for %s answered %d %s\n", phone.c_str(),
                     verified ? verified->status : 0, verified ? verified->body.c_str() : "");
      }
      continue;
    }
    otp.push_back(otp_us);
    verify.push_back(verify_us);
  }
  std::lock_guard lock(out.mutex);
  out.otp_us.insert(out.otp_us.end(), otp.begin(), otp.end());
  out.verify_us.insert(out.verify_us.end(), verify.begin(), verify.end());
}

// The hello server's answer times for `args.baseline` posts from `args.clients` threads.
std::vector<double> run_baseline(int port, const Args& args) {
  std::atomic<int> next{0};
  std::mutex mutex;
  std::vector<double> all;
  std::vector<std::thread> threads;
  for (int t = 0; t < args.clients; ++t) {
    threads.emplace_back([&] {
      httplib::Client client("127.0.0.1", port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      std::vector<double> mine;
      for (int i; (i = next.fetch_add(1)) < args.baseline;) {
        const auto t0 = SteadyClock::now();
        auto r = client.Post("/hello", json{{"phone", phone_number(i)}}.dump(), "application/json");
        if (r && r->status == 200) mine.push_back(micros_since(t0));
      }
      std::lock_guard lock(mutex);
      all.insert(all.end(), mine.begin(), mine.end());
    });
  }
  for (std::thread& t : threads) t.join();
  return all;
}

std::string ms(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f ms", v);
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  args.self_exe = argv[0];
  if (argc >= 2 && std::string(argv[1]) == "--hello-server") {
    return shopeasy::bench::run_hello_server(8, false);
  }
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const std::string& prefix) -> const char* {
      return a.rfind(prefix, 0) == 0 ? argv[i] + prefix.size() : nullptr;
    };
    try {
      if (const char* v = value("--numbers=")) {
        args.numbers = std::stoi(v);
      } else if (const char* v2 = value("--clients=")) {
        args.clients = std::stoi(v2);
      } else if (const char* v3 = value("--baseline=")) {
        args.baseline = std::stoi(v3);
      } else {
        std::fprintf(stderr, "signin_bench: unknown argument %s\n", a.c_str());
        return 2;
      }
    } catch (const std::exception&) {
      std::fprintf(stderr, "signin_bench: %s is not a number\n", a.c_str());
      return 2;
    }
  }
  if (args.numbers < 1 || args.numbers > 1'000'000 || args.clients < 1 || args.clients > 64 ||
      args.baseline < 1) {
    std::fprintf(stderr,
                 "signin_bench: --numbers must be 1..1000000, --clients 1..64, --baseline >= 1\n");
    return 2;
  }
  shopeasy::bench::print_lifted_limits("signin_bench");
  std::printf(
      "signin_bench: also lifted: accounts.otp.per_client_15m, per_client_day, "
      "verify_per_client_15m, per_prefix_hour, global_per_day (one client address signs in "
      "every number)\n");

  auto hello = shopeasy::bench::start_hello_server(args.self_exe, 8, false);
  if (!hello.ok()) {
    std::fprintf(stderr, "signin_bench: %s\n", hello.status().to_string().c_str());
    return 2;
  }
  std::vector<double> base_us = run_baseline(hello->port, args);
  hello->process.kill9();
  if (base_us.empty()) {
    std::fprintf(stderr, "signin_bench: the hello server answered nothing\n");
    return 2;
  }
  const LatencySummary base = shopeasy::bench::summarize_latencies(base_us);

  auto dir = shopeasy::testing::TempDir::create("signin-bench");
  if (!dir.ok()) return 2;
  const std::string state_dir = dir->file("cloud").string();
  std::filesystem::create_directories(state_dir);
  const std::string many = std::to_string(std::max(1000, args.numbers * 4));
  std::vector<std::string> daemon_args = {"--http.port=0",
                                          "--state_dir=" + state_dir,
                                          "--auth.tokens=" + shopeasy::testing::admin_tokens_json(),
                                          "--accounts.sms_provider=sandbox",
                                          "--accounts.otp.per_client_15m=" + many,
                                          "--accounts.otp.per_client_day=" + many,
                                          "--accounts.otp.verify_per_client_15m=" + many,
                                          "--accounts.otp.per_prefix_hour=" + many,
                                          "--accounts.otp.global_per_day=" + many};
  for (const std::string& limit : shopeasy::bench::lifted_daemon_limits()) {
    daemon_args.push_back(limit);
  }
  auto cloud = shopeasy::testing::start_daemon("shopeasy-cloud", daemon_args);
  if (!cloud.ok()) {
    std::fprintf(stderr, "signin_bench: %s\n", cloud.status().to_string().c_str());
    return 2;
  }
  Timings timings;
  std::atomic<int> next{0};
  const auto started = SteadyClock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < args.clients; ++t) {
    threads.emplace_back([&] { sign_in_worker(cloud->http_port, args, next, timings); });
  }
  for (std::thread& t : threads) t.join();
  const double wall_s = micros_since(started) / 1e6;
  cloud->process.terminate_and_wait(10s);

  std::vector<double> otp_us, verify_us;
  {
    std::lock_guard lock(timings.mutex);
    otp_us = timings.otp_us;
    verify_us = timings.verify_us;
  }
  if (timings.failures.load() > 0 || otp_us.size() != static_cast<std::size_t>(args.numbers)) {
    std::fprintf(stderr, "signin_bench: %d of %d sign-ins failed\n", timings.failures.load(),
                 args.numbers);
    return 2;
  }
  const LatencySummary otp = shopeasy::bench::summarize_latencies(otp_us);
  const LatencySummary verify = shopeasy::bench::summarize_latencies(verify_us);
  const bool otp_met = otp.p99_ms < 20;
  const bool verify_met = verify.p99_ms < 20;

  std::printf(
      "\n| figure | p50 | p99 | baseline p50 / p99 (same run) | p99 ratio | target | verdict |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- |\n");
  std::printf(
      "| POST /api/auth/otp (%d numbers, %d clients) | %.2f ms | %.2f ms | %.2f / %.2f ms | %.1f | "
      "p99 < 20 ms | %s |\n",
      args.numbers, args.clients, otp.p50_ms, otp.p99_ms, base.p50_ms, base.p99_ms,
      otp.p99_ms / std::max(base.p99_ms, 1e-3), otp_met ? "met" : "MISSED");
  std::printf(
      "| POST /api/auth/verify (tokens issued) | %.2f ms | %.2f ms | %.2f / %.2f ms | %.1f | p99 < "
      "20 ms | %s |\n",
      verify.p50_ms, verify.p99_ms, base.p50_ms, base.p99_ms,
      verify.p99_ms / std::max(base.p99_ms, 1e-3), verify_met ? "met" : "MISSED");
  std::printf(
      "signin_bench: %d sign-ins in %.2f s (%.0f/s, code reads included); hello server "
      "%zu posts\n",
      args.numbers, wall_s, args.numbers / std::max(wall_s, 1e-3), base.count);

  const std::string baseline = ms(base.p99_ms) + " p99 (hello-world server)";
  char ratio[32];
  std::snprintf(ratio, sizeof ratio, "%.1f", otp.p99_ms / std::max(base.p99_ms, 1e-3));
  shopeasy::bench::record_result("signin", "POST /api/auth/otp p99", ms(otp.p99_ms), baseline,
                                 ratio, "< 20 ms", otp_met ? "met" : "MISSED");
  std::snprintf(ratio, sizeof ratio, "%.1f", verify.p99_ms / std::max(base.p99_ms, 1e-3));
  shopeasy::bench::record_result("signin", "POST /api/auth/verify p99", ms(verify.p99_ms), baseline,
                                 ratio, "< 20 ms", verify_met ? "met" : "MISSED");
  return otp_met && verify_met ? 0 : 1;
}
