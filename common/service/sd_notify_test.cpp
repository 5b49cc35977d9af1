#include "common/service/sd_notify.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>

namespace shopeasy::service {
namespace {

// A datagram socket standing in for systemd's notify socket.
class Receiver {
 public:
  // Binds a path socket when `path` is set, otherwise an abstract one.
  explicit Receiver(const std::string& address) : address_(address) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string raw = address;
    if (raw[0] == '@') raw[0] = '\0';
    std::memcpy(addr.sun_path, raw.data(), raw.size());
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + raw.size() +
                                            (raw[0] == '\0' ? 0 : 1));
    bound_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0;
  }
  ~Receiver() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool bound() const { return bound_; }

  // The next datagram, or nullopt if none arrives within the deadline.
  std::optional<std::string> next(std::chrono::milliseconds deadline = std::chrono::seconds(5)) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(deadline.count())) != 1) return std::nullopt;
    char buf[8192];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0) return std::nullopt;
    return std::string(buf, static_cast<std::size_t>(n));
  }

 private:
  std::string address_;
  int fd_ = -1;
  bool bound_ = false;
};

class SdNotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (std::filesystem::temp_directory_path() / "sdnotify-XXXXXX").string();
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    socket_path_ = (dir_ / "notify.sock").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  std::string socket_path_;
};

TEST_F(SdNotifyTest, WithoutNotifySocketEverythingIsANoOp) {
  for (const auto& env : {std::map<std::string, std::string>{},
                          std::map<std::string, std::string>{{"NOTIFY_SOCKET", ""}}}) {
    auto n = SdNotifier::from_environment(env, ::getpid());
    ASSERT_TRUE(n.ok()) << n.status().to_string();
    EXPECT_FALSE(n->enabled());
    EXPECT_TRUE(n->ready("up").is_ok());
    EXPECT_TRUE(n->watchdog().is_ok());
    EXPECT_TRUE(n->stopping().is_ok());
    EXPECT_FALSE(n->watchdog_interval().has_value());
  }
  SdNotifier defaulted;
  EXPECT_FALSE(defaulted.enabled());
  EXPECT_TRUE(defaulted.status("x").is_ok());
}

TEST_F(SdNotifyTest, SendsEachMessageAsOneDatagramToAPathSocket) {
  Receiver rx(socket_path_);
  ASSERT_TRUE(rx.bound());
  auto n = SdNotifier::from_environment({{"NOTIFY_SOCKET", socket_path_}}, ::getpid());
  ASSERT_TRUE(n.ok()) << n.status().to_string();
  ASSERT_TRUE(n->enabled());

  ASSERT_TRUE(n->ready("serving on port 8080").is_ok());
  EXPECT_EQ(rx.next(), "READY=1\nSTATUS=serving on port 8080");
  ASSERT_TRUE(n->ready().is_ok());
  EXPECT_EQ(rx.next(), "READY=1");
  ASSERT_TRUE(n->status("broker down\nretrying").is_ok());
  EXPECT_EQ(rx.next(), "STATUS=broker down retrying");
  ASSERT_TRUE(n->watchdog().is_ok());
  EXPECT_EQ(rx.next(), "WATCHDOG=1");
  ASSERT_TRUE(n->stopping().is_ok());
  EXPECT_EQ(rx.next(), "STOPPING=1");
  ASSERT_TRUE(n->reloading().is_ok());
  auto reload = rx.next();
  ASSERT_TRUE(reload.has_value());
  EXPECT_EQ(reload->rfind("RELOADING=1\nMONOTONIC_USEC=", 0), 0u) << *reload;
  EXPECT_GT(std::stoll(reload->substr(reload->find('=', 12) + 1)), 0);
}

TEST_F(SdNotifyTest, SendsToAnAbstractSocket) {
  std::random_device rd;
  const std::string name =
      "@shopeasy-sdnotify-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd());
  Receiver rx(name);
  ASSERT_TRUE(rx.bound());
  auto n = SdNotifier::from_environment({{"NOTIFY_SOCKET", name}}, ::getpid());
  ASSERT_TRUE(n.ok()) << n.status().to_string();
  ASSERT_TRUE(n->notify("READY=1\nSTATUS=custom").is_ok());
  EXPECT_EQ(rx.next(), "READY=1\nSTATUS=custom");
}

TEST_F(SdNotifyTest, MovedNotifierKeepsWorkingAndTheOldOneIsDisabled) {
  Receiver rx(socket_path_);
  ASSERT_TRUE(rx.bound());
  auto n = SdNotifier::from_environment({{"NOTIFY_SOCKET", socket_path_}}, ::getpid());
  ASSERT_TRUE(n.ok());
  SdNotifier moved = std::move(*n);
  EXPECT_FALSE(n->enabled());  // NOLINT(bugprone-use-after-move): the contract under test
  ASSERT_TRUE(moved.watchdog().is_ok());
  EXPECT_EQ(rx.next(), "WATCHDOG=1");
  SdNotifier assigned;
  assigned = std::move(moved);
  ASSERT_TRUE(assigned.stopping().is_ok());
  EXPECT_EQ(rx.next(), "STOPPING=1");
}

TEST_F(SdNotifyTest, RejectsBadSocketAddresses) {
  auto relative = SdNotifier::from_environment({{"NOTIFY_SOCKET", "run/notify"}}, ::getpid());
  ASSERT_FALSE(relative.ok());
  EXPECT_EQ(relative.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(relative.status().field(), "NOTIFY_SOCKET");
  auto vsock = SdNotifier::from_environment({{"NOTIFY_SOCKET", "vsock:2:1234"}}, ::getpid());
  EXPECT_FALSE(vsock.ok());
  auto too_long =
      SdNotifier::from_environment({{"NOTIFY_SOCKET", "/" + std::string(200, 'a')}}, ::getpid());
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(SdNotifyTest, ReportsAMissingReceiverAsUnavailable) {
  auto n = SdNotifier::from_environment({{"NOTIFY_SOCKET", socket_path_}}, ::getpid());
  ASSERT_TRUE(n.ok());
  Status st = n->ready();
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.to_string();
}

TEST_F(SdNotifyTest, RefusesEmptyAndOversizedStates) {
  Receiver rx(socket_path_);
  auto n = SdNotifier::from_environment({{"NOTIFY_SOCKET", socket_path_}}, ::getpid());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->notify("").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(n->notify("STATUS=" + std::string(5000, 'x')).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(rx.next(std::chrono::milliseconds(0)).has_value());
}

TEST_F(SdNotifyTest, ReadsTheWatchdogIntervalForThisProcess) {
  const int pid = ::getpid();
  auto plain = SdNotifier::from_environment(
      {{"NOTIFY_SOCKET", socket_path_}, {"WATCHDOG_USEC", "30000000"}}, pid);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->watchdog_timeout(), std::chrono::seconds(30));
  EXPECT_EQ(plain->watchdog_interval(), std::chrono::seconds(15));

  auto mine = SdNotifier::from_environment({{"NOTIFY_SOCKET", socket_path_},
                                            {"WATCHDOG_USEC", "2000000"},
                                            {"WATCHDOG_PID", std::to_string(pid)}},
                                           pid);
  ASSERT_TRUE(mine.ok());
  EXPECT_EQ(mine->watchdog_interval(), std::chrono::seconds(1));

  auto other = SdNotifier::from_environment({{"NOTIFY_SOCKET", socket_path_},
                                             {"WATCHDOG_USEC", "2000000"},
                                             {"WATCHDOG_PID", std::to_string(pid + 1)}},
                                            pid);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->watchdog_interval().has_value());

  for (const char* bad : {"", "0", "-5", "12abc", "99999999999999999999999"}) {
    auto n = SdNotifier::from_environment({{"NOTIFY_SOCKET", socket_path_}, {"WATCHDOG_USEC", bad}},
                                          pid);
    ASSERT_TRUE(n.ok());
    EXPECT_FALSE(n->watchdog_interval().has_value()) << bad;
  }
  // Without a notify socket there is nobody to ping.
  auto no_socket = SdNotifier::from_environment({{"WATCHDOG_USEC", "2000000"}}, pid);
  ASSERT_TRUE(no_socket.ok());
  EXPECT_FALSE(no_socket->watchdog_interval().has_value());
}

}  // namespace
}  // namespace shopeasy::service
