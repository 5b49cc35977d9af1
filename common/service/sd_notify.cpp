#include "common/service/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

namespace shopeasy::service {

namespace {

constexpr std::size_t kMaxStateBytes = 4096;
// A year; anything above is a garbled variable rather than a real watchdog setting.
constexpr std::uint64_t kMaxWatchdogUsec = 365ull * 24 * 3600 * 1000000;

// A decimal without sign or junk, as systemd writes WATCHDOG_USEC and WATCHDOG_PID.
template <typename T>
std::optional<T> parse_decimal(const std::string& text) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

}  // namespace

StatusOr<SdNotifier> SdNotifier::from_environment(const std::map<std::string, std::string>& env,
                                                  int pid) {
  SdNotifier n;
  const auto socket_it = env.find("NOTIFY_SOCKET");
  if (socket_it == env.end() || socket_it->second.empty()) return n;
  std::string address = socket_it->second;
  if (address[0] == '@') {
    address[0] = '\0';  // the Linux abstract namespace
  } else if (address[0] != '/') {
    return invalid_argument("NOTIFY_SOCKET must be an absolute path or @name", "NOTIFY_SOCKET");
  }
  if (address.size() >= sizeof(sockaddr_un::sun_path)) {
    return invalid_argument("NOTIFY_SOCKET is too long for a unix socket address", "NOTIFY_SOCKET");
  }

  if (const auto usec_it = env.find("WATCHDOG_USEC"); usec_it != env.end()) {
    const auto usec = parse_decimal<std::uint64_t>(usec_it->second);
    bool ours = true;
    if (const auto pid_it = env.find("WATCHDOG_PID"); pid_it != env.end()) {
      const auto wpid = parse_decimal<int>(pid_it->second);
      ours = wpid.has_value() && *wpid == pid;
    }
    if (usec && *usec > 0 && *usec <= kMaxWatchdogUsec && ours) {
      n.watchdog_ = std::chrono::microseconds(static_cast<std::int64_t>(*usec));
    }
  }

  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return unavailable(std::string("cannot create notify socket: ") + strerror(errno));
  n.fd_ = fd;
  n.address_ = std::move(address);
  return n;
}

SdNotifier::SdNotifier(SdNotifier&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      address_(std::move(other.address_)),
      watchdog_(other.watchdog_) {}

SdNotifier& SdNotifier::operator=(SdNotifier&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    address_ = std::move(other.address_);
    watchdog_ = other.watchdog_;
  }
  return *this;
}

SdNotifier::~SdNotifier() {
  if (fd_ >= 0) ::close(fd_);
}

Status SdNotifier::notify(std::string_view state) const {
  if (state.empty()) return invalid_argument("notify state must not be empty");
  if (state.size() > kMaxStateBytes) return invalid_argument("notify state is over 4 KiB");
  if (fd_ < 0) return Status::ok();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, address_.data(), address_.size());
  // An abstract address's length counts exactly its bytes; a path's includes the NUL.
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size() +
                                          (address_[0] == '\0' ? 0 : 1));
  ssize_t sent;
  do {
    sent = ::sendto(fd_, state.data(), state.size(), MSG_NOSIGNAL,
                    reinterpret_cast<const sockaddr*>(&addr), len);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return unavailable(std::string("sd_notify: ") + strerror(errno));
  if (static_cast<std::size_t>(sent) != state.size()) return unavailable("sd_notify: short send");
  return Status::ok();
}

Status SdNotifier::ready(std::string_view status) const {
  if (status.empty()) return notify("READY=1");
  std::string msg = "READY=1\nSTATUS=";
  for (char c : status) msg += c == '\n' ? ' ' : c;
  return notify(msg);
}

Status SdNotifier::status(std::string_view text) const {
  std::string msg = "STATUS=";
  for (char c : text) msg += c == '\n' ? ' ' : c;
  return notify(msg);
}

Status SdNotifier::watchdog() const { return notify("WATCHDOG=1"); }

Status SdNotifier::reloading() const {
  // systemd checks this against its own CLOCK_MONOTONIC, so an injected Clock would be
  // wrong here.
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  const std::int64_t usec =
      static_cast<std::int64_t>(ts.tv_sec) * 1000000 + static_cast<std::int64_t>(ts.tv_nsec) / 1000;
  return notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

Status SdNotifier::stopping() const { return notify("STOPPING=1"); }

std::optional<std::chrono::microseconds> SdNotifier::watchdog_interval() const {
  if (!watchdog_) return std::nullopt;
  return *watchdog_ / 2;
}

}  // namespace shopeasy::service
