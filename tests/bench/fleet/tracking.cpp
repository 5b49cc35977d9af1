#include "tests/bench/fleet/tracking.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/geohash/geohash.hpp"
#include "tests/bench/bench_common.hpp"
#include "tests/harness/harness.hpp"

namespace shopeasy::bench::fleet {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kCustomer = "tracking-customer-token";
constexpr const char* kStoreSecret = "tracking-store-secret-0123";
constexpr double kLat = 12.975;
constexpr double kLon = 77.645;

std::string figure(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

std::optional<double> cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(f);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double rss_mb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

class Cloud {
 public:
  explicit Cloud(testing::RunningDaemon d) : d_(std::move(d)) {}
  const testing::RunningDaemon& daemon() const { return d_; }

  testing::HttpReply call(const std::string& method, const std::string& path,
                          const std::string& body, const std::string& token,
                          std::map<std::string, std::string> extra = {}) {
    auto headers = testing::bearer(token);
    if (!body.empty()) headers["Content-Type"] = "application/json";
    for (auto& [k, v] : extra) headers[k] = v;
    return testing::http_request("127.0.0.1", d_.http_port, method, path, body, headers, 30s)
        .value_or(testing::HttpReply{});
  }

  // A store change as the store would send it.
  bool sync(const std::string& kind, const json& body) {
    const json batch = {{"store_id", "track"},
                        {"first_seq", seq_ + 1},
                        {"changes", {{{"seq", seq_ + 1}, {"kind", kind}, {"body", body}}}},
                        {"downstream_cursor", 0},
                        {"sent_at_ms", 1'800'000'000'000}};
    ++seq_;
    return call("POST", "/v1/stores/track/sync", batch.dump(), std::string("track:") + kStoreSecret)
               .status == 200;
  }

 private:
  testing::RunningDaemon d_;
  std::int64_t seq_ = 0;
};

// One paid order routed to the store; its id, or empty with the reason printed.
std::string paid_order(Cloud& cloud) {
  const auto fail = [](const std::string& what, const testing::HttpReply& r) {
    std::printf("  [tracking] %s answered %d: %s\n", what.c_str(), r.status, r.body.c_str());
    return std::string();
  };
  auto r = cloud.call("PUT", "/v1/stores/track",
                      json{{"name", "Tracking store"},
                           {"lat", 12.9719},
                           {"lon", 77.6412},
                           {"service_radius_m", 3000},
                           {"secret", kStoreSecret}}
                          .dump(),
                      testing::kAdminToken);
  if (r.status != 200) return fail("registering the store", r);
  r = cloud.call("PUT", "/v1/catalog/MILK", json{{"name", "Milk"}, {"price_cents", 6500}}.dump(),
                 testing::kAdminToken);
  if (r.status != 200) return fail("adding the product", r);
  if (!cloud.sync("stock.changed", {{"sku", "MILK"}, {"sku_on_hand", 100}, {"sku_reserved", 0}})) {
    std::printf("  [tracking] the stock sync failed\n");
    return "";
  }
  const json order = {{"lines", {{{"sku", "MILK"}, {"qty", 1}}}},
                      {"delivery", {{"lat", kLat}, {"lon", kLon}}}};
  r = cloud.call("POST", "/api/orders", order.dump(), kCustomer,
                 {{"Idempotency-Key", "tracking-bench-1"}});
  if (r.status != 201 && r.status != 200) return fail("placing the order", r);
  const json placed = json::parse(r.body, nullptr, false);
  if (!placed.is_object() || !placed.contains("payment")) return fail("placing the order", r);
  const std::string id = placed.value("order_id", "");
  const std::string intent = placed["payment"].value("intent_id", "");
  r = cloud.call("POST", "/sandbox/pay/" + intent, json{{"outcome", "succeed"}}.dump(),
                 testing::kAdminToken);
  if (r.status != 200) return fail("paying", r);
  const bool routed = testing::wait_for(
      [&] {
        auto o = cloud.call("GET", "/api/orders/" + id, "", kCustomer);
        return o.status == 200 && o.body.find("\"routed\"") != std::string::npos;
      },
      20s);
  if (!routed) {
    std::printf("  [tracking] the order was never routed\n");
    return "";
  }
  return id;
}

// The client side of many event streams on one thread: non-blocking sockets and poll().
class StreamReaders {
 public:
  ~StreamReaders() {
    for (const Reader& r : readers_) ::close(r.fd);
  }

  // Opens `n` streams of `path`; false when a connection fails.
  bool open(int port, const std::string& path, const std::string& token, int n) {
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                                "Authorization: Bearer " + token +
                                "\r\nAccept: text/event-stream\r\n\r\n";
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < n; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      if (fd < 0) return false;
      if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
          ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
              static_cast<ssize_t>(request.size())) {
        ::close(fd);
        return false;
      }
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
      readers_.push_back(Reader{fd, {}, std::nullopt});
    }
    return true;
  }

  // Reads until every stream's text holds `marker` or `timeout`; each stream's arrival
  // time is kept. Returns how many hold it. epoll, so a round costs what is ready, not
  // the number of streams: the client must not be what the figures measure.
  int read_until(const std::string& marker, std::chrono::milliseconds timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    const int ep = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) return 0;
    int pending = 0;
    for (std::size_t i = 0; i < readers_.size(); ++i) {
      Reader& r = readers_[i];
      r.done = r.text.find(marker) != std::string::npos;
      if (r.done) continue;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = i;
      if (::epoll_ctl(ep, EPOLL_CTL_ADD, r.fd, &ev) == 0) ++pending;
    }
    std::vector<epoll_event> ready(1024);
    char buf[16384];
    while (pending > 0 && SteadyClock::now() < deadline) {
      const int n = ::epoll_wait(ep, ready.data(), static_cast<int>(ready.size()), 50);
      for (int k = 0; k < n; ++k) {
        Reader& r = readers_[ready[static_cast<std::size_t>(k)].data.u64];
        if (r.done) continue;
        const ssize_t got = ::recv(r.fd, buf, sizeof buf, 0);
        if (got <= 0) {
          ::epoll_ctl(ep, EPOLL_CTL_DEL, r.fd, nullptr);
          --pending;
          r.done = true;  // closed: counted as not holding the marker below
          r.closed = true;
          continue;
        }
        // Only the new bytes (and a marker's length before them) can complete it.
        const std::size_t from = r.text.size() > marker.size() ? r.text.size() - marker.size() : 0;
        r.text.append(buf, static_cast<std::size_t>(got));
        if (r.text.find(marker, from) != std::string::npos) {
          r.arrived = SteadyClock::now();
          r.done = true;
          ::epoll_ctl(ep, EPOLL_CTL_DEL, r.fd, nullptr);
          --pending;
        }
      }
    }
    ::close(ep);
    int holding = 0;
    for (const Reader& r : readers_) {
      if (!r.closed && r.text.find(marker) != std::string::npos) ++holding;
    }
    return holding;
  }

  // Milliseconds from `from` to each stream's arrival of the last marker read.
  std::vector<double> latencies_ms(SteadyClock::time_point from) const {
    std::vector<double> out;
    for (const Reader& r : readers_) {
      if (r.arrived) {
        out.push_back(std::chrono::duration<double, std::milli>(*r.arrived - from).count());
      }
    }
    return out;
  }

  void reset_arrivals() {
    for (Reader& r : readers_) {
      r.arrived.reset();
      r.text.clear();
      r.done = false;
    }
  }

  // Drains whatever arrived (keepalives) without waiting.
  void drain() {
    char buf[16384];
    for (Reader& r : readers_) {
      while (::recv(r.fd, buf, sizeof buf, 0) > 0) {
      }
    }
  }

 private:
  struct Reader {
    int fd;
    std::string text;
    std::optional<SteadyClock::time_point> arrived;
    bool done = false;
    bool closed = false;
  };
  std::vector<Reader> readers_;
};

}  // namespace

bool run_tracking(const TrackingArgs& args, bool* measured) {
  *measured = false;
  auto dir = testing::TempDir::create("fleet-tracking");
  if (!dir.ok()) return false;
  // The configured ceiling for streams is 10,000 per instance.
  const std::string limit = std::to_string(std::min(args.streams + 16, 10000));
  std::vector<std::string> flags = {
      "--http.port=0",
      "--state_dir=" + dir->path().string(),
      "--auth.tokens=" + testing::tokens_json({{"tracking-customer", "customer", kCustomer}}),
      "--payments.provider=sandbox",
      "--http.max_streams=" + limit,
      "--http.max_streams_per_client=" + limit,
      "--http.max_connections=" + std::to_string(args.streams + 64)};
  for (auto& l : lifted_daemon_limits()) flags.push_back(std::move(l));
  auto started = testing::start_daemon("shopeasy-cloud", flags, {}, 60s);
  if (!started.ok()) {
    std::printf("  [tracking] cloud did not start: %s\n", started.status().to_string().c_str());
    return false;
  }
  Cloud cloud(std::move(*started));
  const std::string id = paid_order(cloud);
  if (id.empty()) return false;

  StreamReaders readers;
  const auto opening = SteadyClock::now();
  if (!readers.open(cloud.daemon().http_port, "/api/orders/" + id + "/events", kCustomer,
                    args.streams)) {
    std::printf("  [tracking] could not open %d streams\n", args.streams);
    return false;
  }
  // Every stream first replays the order's history up to "routed".
  const int opened = readers.read_until("\"routed\"", 120s);
  std::printf("[tracking] %d of %d streams open with the order's history (%.1f s)\n", opened,
              args.streams, std::chrono::duration<double>(SteadyClock::now() - opening).count());
  if (opened != args.streams) return false;

  const pid_t pid = cloud.daemon().process.pid();
  std::this_thread::sleep_for(1s);  // the opening burst settles
  readers.drain();
  const auto cpu0 = cpu_seconds(pid);
  const auto t0 = SteadyClock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(args.idle_s));
  const auto cpu1 = cpu_seconds(pid);
  if (!cpu0 || !cpu1) return false;
  const double idle_share =
      100 * (*cpu1 - *cpu0) / std::chrono::duration<double>(SteadyClock::now() - t0).count();
  const double rss = rss_mb(pid);
  readers.drain();
  readers.reset_arrivals();

  // The store accepts the order: one event, fanned out to every stream.
  const auto changed = SteadyClock::now();
  if (!cloud.sync("order.status",
                  {{"order_id", id}, {"status", "accepted"}, {"at_ms", 1'800'000'000'000}})) {
    std::printf("  [tracking] the status sync failed\n");
    return false;
  }
  const int got = readers.read_until("\"accepted\"", 30s);
  const std::vector<double> lat = readers.latencies_ms(changed);
  *measured = got == args.streams;
  const double p50 = percentile(lat, 0.5);
  const double p99 = percentile(lat, 0.99);
  std::printf("[tracking] %d streams idle: %.2f%% of a core over %.0f s, RSS %.0f MB\n",
              args.streams, idle_share, args.idle_s, rss);
  std::printf("[tracking] one status change reached %d of %d streams: p50 %.0f ms p99 %.0f ms\n",
              got, args.streams, p50, p99);
  const std::string n = std::to_string(args.streams);
  bool met = true;
  const auto judge = [&](const std::string& name, const std::string& value,
                         const std::string& target, bool ok) {
    record_result("fleet", name, value, "", "", target, ok ? "met" : "MISSED");
    met = met && ok;
  };
  judge("idle CPU with " + n + " tracking streams", figure("%.2f%% of a core", idle_share), "< 10%",
        idle_share < 10);
  judge("RSS with " + n + " tracking streams", figure("%.0f MB", rss), "< 500 MB", rss < 500);
  judge("status change on every stream, p99", figure("%.0f ms", p99), "< 250 ms",
        *measured && p99 < 250);
  return met;
}

}  // namespace shopeasy::bench::fleet
