#include "tests/bench/pricing/kill_switch.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/bench/bench_common.hpp"
#include "tests/harness/wait.hpp"
#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::bench {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kEdgeSecret = "bench-edge-secret-0123456789";

// The edge's pricing view's "enabled", or nullopt when it has none (or does not answer).
std::optional<bool> edge_enabled(int port) {
  auto reply =
      testing::http_request("127.0.0.1", port, "GET", "/api/pricing", "", testing::bearer(), 5s);
  if (!reply || reply->status != 200) return std::nullopt;
  const json j = json::parse(reply->body, nullptr, false);
  if (!j.is_object() || !j.contains("view") || !j["view"].is_object()) return std::nullopt;
  return j["view"].value("enabled", true);
}

// Flips the switch to `enabled` and returns, per edge, the milliseconds until its
// /api/pricing showed it (negative: not within 10 s). One poller thread per edge.
std::vector<double> time_flip(int cloud_port, const std::vector<int>& edge_ports, bool enabled) {
  std::vector<double> ms(edge_ports.size(), -1);
  std::atomic<bool> go{false};
  Clock::time_point sent{};
  std::vector<std::thread> pollers;
  for (std::size_t i = 0; i < edge_ports.size(); ++i) {
    pollers.emplace_back([&, i] {
      while (!go.load()) std::this_thread::yield();
      const auto deadline = sent + 10s;
      while (Clock::now() < deadline) {
        if (edge_enabled(edge_ports[i]) == enabled) {
          ms[i] = std::chrono::duration<double, std::milli>(Clock::now() - sent).count();
          return;
        }
        std::this_thread::sleep_for(2ms);  // the pace of a page polling hard
      }
    });
  }
  auto headers = testing::bearer(testing::kAdminToken);
  headers["Content-Type"] = "application/json";
  sent = Clock::now();
  go.store(true);
  const auto reply = testing::http_request("127.0.0.1", cloud_port, "PUT", "/v1/pricing/enabled",
                                           json{{"enabled", enabled}}.dump(), headers, 10s);
  for (auto& t : pollers) t.join();
  if (!reply || reply->status != 200) return std::vector<double>(edge_ports.size(), -1);
  return ms;
}

}  // namespace

int measure_kill_switch(int cloud_port, int edges, testing::TempDir& dir) {
  auto admin = testing::bearer(testing::kAdminToken);
  admin["Content-Type"] = "application/json";
  std::vector<testing::RunningDaemon> running;
  std::vector<int> ports;
  for (int i = 1; i <= edges; ++i) {
    const std::string id = "k" + std::to_string(i);
    const auto registered =
        testing::http_request("127.0.0.1", cloud_port, "PUT", "/v1/stores/" + id,
                              json{{"name", id},
                                   {"lat", 12.9 + 0.01 * i},
                                   {"lon", 77.6},
                                   {"service_radius_m", 3000},
                                   {"secret", kEdgeSecret}}
                                  .dump(),
                              admin, 10s);
    if (!registered || registered->status != 200) {
      std::fprintf(stderr, "pricing_bench: registering %s failed\n", id.c_str());
      return 2;
    }
    std::vector<std::string> args = {"--http.port=0",
                                     "--state_dir=" + dir.file("edge-" + id).string(),
                                     "--mqtt.enabled=false",
                                     "--store.id=" + id,
                                     "--auth.tokens=" + testing::admin_tokens_json(),
                                     "--sync.enabled=true",
                                     "--sync.url=http://127.0.0.1:" + std::to_string(cloud_port)};
    for (auto& a : lifted_daemon_limits()) args.push_back(a);
    auto edge = testing::start_daemon("shopeasy-edge", args,
                                      {{"SHOPEASY_EDGE_SYNC_STORE_SECRET", kEdgeSecret}}, 60s);
    if (!edge.ok()) {
      std::fprintf(stderr, "pricing_bench: edge %s did not start: %s\n", id.c_str(),
                   edge.status().to_string().c_str());
      return 2;
    }
    ports.push_back(edge->http_port);
    running.push_back(std::move(*edge));
  }
  for (int port : ports) {
    if (!testing::wait_for([&] { return edge_enabled(port).has_value(); }, 30s)) {
      std::fprintf(stderr, "pricing_bench: an edge never received its pricing view\n");
      return 2;
    }
  }
  int status = 0;
  for (const bool enabled : {false, true}) {
    std::vector<double> ms = time_flip(cloud_port, ports, enabled);
    const bool all = std::none_of(ms.begin(), ms.end(), [](double v) { return v < 0; });
    std::sort(ms.begin(), ms.end());
    const double worst = all ? ms.back() : -1;
    const double median = all ? ms[ms.size() / 2] : -1;
    const bool met = all && worst <= 1'000;
    const char* what = enabled ? "dynamic pricing back on" : "kill switch (off)";
    std::printf(
        "| kill switch | %s seen on every edge's /api/pricing, %d real edges | median %.0f ms, "
        "worst %.0f ms | <= 1 s at every store | %s |\n",
        what, edges, median, worst, met ? "met" : "MISSED");
    char measured[64];
    std::snprintf(measured, sizeof measured, "worst %.0f ms", worst);
    record_result("pricing", std::string(what) + " at " + std::to_string(edges) + " edges",
                  measured, "-", "-", "<= 1 s", met ? "met" : "MISSED");
    if (!met) status = 1;
  }
  for (auto& e : running) e.process.terminate_and_wait(10s);
  return status;
}

}  // namespace shopeasy::bench
