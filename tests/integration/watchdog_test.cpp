// The systemd notify protocol, checked against a socket this test owns (so it runs
// without systemd as PID 1): the edge says READY=1 once serving, pings WATCHDOG=1
// while healthy, and STOPPING=1 on SIGTERM. A test-owned supervisor plays systemd's
// part: when the pings stop (the process is frozen, as a hung loop would be) it kills
// and restarts the daemon, which comes back ready; the same after a kill -9 under load.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::testing {
namespace {

using namespace std::chrono_literals;

// A unix datagram socket collecting notify messages.
class NotifySocket {
 public:
  explicit NotifySocket(std::string path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  ~NotifySocket() { ::close(fd_); }
  // Drains pending datagrams into the log; true if any contained `needle`.
  bool received(std::string_view needle) {
    char buf[4096];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      log_.emplace_back(buf, static_cast<std::size_t>(n));
    }
    for (const auto& m : log_) {
      if (m.find(needle) != std::string::npos) return true;
    }
    return false;
  }
  void clear() {
    received("");
    log_.clear();
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  std::vector<std::string> log_;
};

class WatchdogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("watchdog");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    socket_.emplace(dir_->file("notify.sock").string());
  }
  void start() {
    // WATCHDOG_USEC of 1 s: the daemon pings at least every half second.
    auto d = start_daemon("shopeasy-edge",
                          {"--http.port=0", "--state_dir=" + dir_->file("edge").string(),
                           "--mqtt.enabled=false", "--auth.tokens=" + admin_tokens_json()},
                          {{"NOTIFY_SOCKET", socket_->path()}, {"WATCHDOG_USEC", "1000000"}});
    ASSERT_TRUE(d.ok()) << d.status().to_string();
    edge_.emplace(std::move(*d));
  }
  std::optional<TempDir> dir_;
  std::optional<NotifySocket> socket_;
  std::optional<RunningDaemon> edge_;
};

TEST_F(WatchdogTest, ReadyThenWatchdogPingsThenStopping) {
  start();
  EXPECT_TRUE(wait_for([&] { return socket_->received("READY=1"); }, 10s));
  EXPECT_TRUE(wait_for([&] { return socket_->received("WATCHDOG=1"); }, 5s));
  ASSERT_TRUE(edge_->process.send_signal(SIGTERM).is_ok());
  EXPECT_EQ(edge_->process.wait_exit(10s), 0);
  EXPECT_TRUE(socket_->received("STOPPING=1"));
}

TEST_F(WatchdogTest, SupervisorRestartsAFrozenDaemonWhenPingsStop) {
  start();
  ASSERT_TRUE(wait_for([&] { return socket_->received("WATCHDOG=1"); }, 10s));
  // Freeze it, as a hung main loop would be.
  ASSERT_TRUE(edge_->process.send_signal(SIGSTOP).is_ok());
  socket_->clear();
  // The supervisor's rule: no ping within the watchdog timeout (1 s) means restart. The
  // wait checks that the pings really stop for longer than the timeout.
  EXPECT_FALSE(wait_for([&] { return socket_->received("WATCHDOG=1"); }, 1500ms));
  edge_->process.kill9();
  socket_->clear();
  start();
  EXPECT_TRUE(wait_for([&] { return socket_->received("READY=1"); }, 10s));
  auto health = http_request("127.0.0.1", edge_->http_port, "GET", "/health");
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ(health->status, 200);
}

TEST_F(WatchdogTest, KillNineUnderLoadRestartsWithEveryAcknowledgedWrite) {
  start();
  auto headers = bearer();
  headers["Content-Type"] = "application/json";
  ASSERT_EQ(http_request("127.0.0.1", edge_->http_port, "POST", "/api/bins",
                         R"({"bins":[{"code":"A-01"}]})", headers)
                ->status,
            200);
  headers["Content-Type"] = "text/csv";
  ASSERT_EQ(http_request("127.0.0.1", edge_->http_port, "POST", "/api/catalog",
                         "sku,name,barcodes,home_bin\nMILK,Milk,4006381333931,A-01\n", headers)
                ->status,
            200);
  headers["Content-Type"] = "application/json";
  int acked = 0;
  for (int i = 0; i < 200; ++i) {
    auto r = http_request("127.0.0.1", edge_->http_port, "POST", "/api/scans",
                          nlohmann::json{{"scan_id", "s" + std::to_string(i)},
                                         {"scanner_id", "h"},
                                         {"code", "4006381333931"},
                                         {"action", "receive"}}
                              .dump(),
                          headers);
    if (r && r->status == 200) ++acked;
  }
  edge_->process.kill9();
  socket_->clear();
  start();
  EXPECT_TRUE(wait_for([&] { return socket_->received("READY=1"); }, 10s));
  auto item = http_request("127.0.0.1", edge_->http_port, "GET", "/api/stock/MILK", "", bearer());
  ASSERT_TRUE(item.has_value());
  EXPECT_EQ(nlohmann::json::parse(item->body)["on_hand"], acked);
  EXPECT_EQ(acked, 200);
}

}  // namespace
}  // namespace shopeasy::testing
