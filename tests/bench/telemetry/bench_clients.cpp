#include "tests/bench/telemetry/bench_clients.hpp"

#include <mosquitto.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <thread>
#include <vector>

namespace shopeasy::bench {

namespace {

std::int64_t mono_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

constexpr double kLat = 12.9716;
constexpr double kLon = 77.5946;

}  // namespace

std::string runner_name(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "bench-%05d", i);
  return buf;
}

int format_telemetry(char* buf, std::size_t size, int runner, std::int64_t j,
                     std::int64_t base_ms) {
  // Runners start spread over ~3 km and each heads north at 4 m/s.
  const double lat = kLat + (runner % 50) * 0.0006 + static_cast<double>(j) * 4.0 / 111'195.0;
  const double lon = kLon + (runner / 50) * 0.0006;
  return std::snprintf(buf, size,
                       "{\"runner_id\":\"bench-%05d\",\"lat\":%.7f,\"lon\":%.7f,"
                       "\"accuracy_m\":6.5,\"speed_mps\":4.0,\"heading_deg\":0.0,"
                       "\"battery_pct\":%d,\"state\":\"to_customer\",\"device_ts_ms\":%lld,"
                       "\"seq\":%lld}",
                       runner, lat, lon, 20 + runner % 80,
                       static_cast<long long>(base_ms + j * 1000), static_cast<long long>(j));
}

int run_publishers(const PublisherArgs& args) {
  mosquitto_lib_init();
  const std::int64_t per_runner = (args.messages + args.runners - 1) / args.runners;
  // Device times end about now, so no fix is in the future and all are plausible.
  const std::int64_t base_ms = wall_ms() - per_runner * 1000;
  std::atomic<std::int64_t> published{0};
  std::atomic<std::int64_t> errors{0};
  std::atomic<bool> failed{false};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < args.connections; ++c) {
    threads.emplace_back([&, c] {
      const int first = args.runners * c / args.connections;
      const int last = args.runners * (c + 1) / args.connections;
      const std::int64_t share =
          args.messages * (c + 1) / args.connections - args.messages * c / args.connections;
      const std::string id = "bench-pub-" + std::to_string(c);
      mosquitto* m = mosquitto_new(id.c_str(), true, nullptr);
      if (m == nullptr || mosquitto_connect(m, args.host.c_str(), args.port, 60) != 0) {
        std::fprintf(stderr, "publisher %d cannot connect\n", c);
        failed = true;
        return;
      }
      std::vector<std::string> topics;
      for (int r = first; r < last; ++r)
        topics.push_back("runners/" + runner_name(r) + "/telemetry");
      char buf[512];
      std::int64_t sent = 0;
      std::int64_t local_errors = 0;
      bool lost = false;
      for (std::int64_t j = 0; sent < share && !lost; ++j) {
        for (int r = first; r < last && sent < share && !lost; ++r, ++sent) {
          const int n = format_telemetry(buf, sizeof buf, r, j, base_ms);
          const int rc = mosquitto_publish(
              m, nullptr, topics[static_cast<std::size_t>(r - first)].c_str(), n, buf, 0, false);
          if (rc != MOSQ_ERR_SUCCESS) {
            ++local_errors;
            if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST) {
              std::fprintf(stderr, "publisher %d lost its connection\n", c);
              failed = true;
              lost = true;
            }
          }
          // Without a network thread, publish writes straight to the socket; when the
          // broker stops reading, the rest waits in the client. Drain it before going
          // on, so the fleet runs exactly as fast as the broker takes messages. The
          // drain blocks until the socket is writable (up to 10 ms) rather than
          // spinning: on a small machine a spinning fleet takes the CPU the broker and
          // the subscribers need, and measures its own busy loop.
          if ((sent & 63) == 0) {
            while (mosquitto_want_write(m)) {
              if (mosquitto_loop(m, 10, 1) != MOSQ_ERR_SUCCESS) break;
            }
          }
        }
      }
      while (mosquitto_want_write(m)) mosquitto_loop(m, 10, 1);
      published += sent - local_errors;
      errors += local_errors;
      mosquitto_disconnect(m);
      mosquitto_loop(m, 50, 1);
      mosquitto_destroy(m);
    });
  }
  for (auto& t : threads) t.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("published=%lld errors=%lld seconds=%.3f\n", static_cast<long long>(published.load()),
              static_cast<long long>(errors.load()), seconds);
  std::fflush(stdout);
  mosquitto_lib_cleanup();
  return failed ? 1 : 0;
}

namespace {

struct SubState {
  std::int64_t received = 0;
  std::int64_t first_ns = 0;
  std::int64_t last_ns = 0;
  bool subscribed = false;
};

}  // namespace

int run_raw_subscriber(const std::string& host, int port, std::int64_t expect, int idle_ms) {
  mosquitto_lib_init();
  SubState state;
  mosquitto* m = mosquitto_new("bench-rawsub", true, &state);
  if (m == nullptr) return 1;
  mosquitto_connect_callback_set(m, [](mosquitto* mosq, void*, int rc) {
    if (rc == 0) mosquitto_subscribe(mosq, nullptr, "runners/+/telemetry", 0);
  });
  mosquitto_subscribe_callback_set(m, [](mosquitto*, void* obj, int, int, const int*) {
    static_cast<SubState*>(obj)->subscribed = true;
    std::printf("ready\n");
    std::fflush(stdout);
  });
  mosquitto_message_callback_set(m, [](mosquitto*, void* obj, const mosquitto_message* msg) {
    auto* s = static_cast<SubState*>(obj);
    if (msg->payloadlen == 5) return;  // the readiness probe
    const std::int64_t now = mono_ns();
    if (s->received == 0) s->first_ns = now;
    s->last_ns = now;
    ++s->received;
  });
  if (mosquitto_connect(m, host.c_str(), port, 60) != 0) {
    std::fprintf(stderr, "rawsub cannot connect\n");
    return 1;
  }
  while (state.received < expect) {
    if (mosquitto_loop(m, 100, 1) != MOSQ_ERR_SUCCESS) break;
    if (state.received > 0 && (mono_ns() - state.last_ns) / 1'000'000 > idle_ms) break;
  }
  std::printf("rawsub received=%lld first_ns=%lld last_ns=%lld\n",
              static_cast<long long>(state.received), static_cast<long long>(state.first_ns),
              static_cast<long long>(state.last_ns));
  std::fflush(stdout);
  mosquitto_disconnect(m);
  mosquitto_destroy(m);
  mosquitto_lib_cleanup();
  return 0;
}

}  // namespace shopeasy::bench
