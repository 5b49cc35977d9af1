#include "tests/harness/net.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "tests/harness/wait.hpp"

namespace shopeasy::testing {
namespace {

using std::chrono_literals::operator""ms;
using SteadyClock = std::chrono::steady_clock;

struct AddrInfoDeleter {
  void operator()(addrinfo* info) const { ::freeaddrinfo(info); }
};

int remaining_ms(SteadyClock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return static_cast<int>(std::max<std::chrono::milliseconds::rep>(left.count(), 0));
}

// One address: a non-blocking connect completed with poll so the deadline holds even
// when the peer silently drops SYNs.
StatusOr<UniqueFd> connect_one(const addrinfo& ai, SteadyClock::time_point deadline) {
  UniqueFd fd(
      ::socket(ai.ai_family, ai.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai.ai_protocol));
  if (!fd.valid()) return unavailable(std::string("socket: ") + std::strerror(errno));
  if (::connect(fd.get(), ai.ai_addr, ai.ai_addrlen) == 0) return fd;
  if (errno != EINPROGRESS) return unavailable(std::string("connect: ") + std::strerror(errno));
  while (true) {
    pollfd pfd{fd.get(), POLLOUT, 0};
    int rc = ::poll(&pfd, 1, remaining_ms(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return unavailable(std::string("poll: ") + std::strerror(errno));
    if (rc == 0) return Status(StatusCode::kDeadlineExceeded, "connect timed out");
    break;
  }
  int err = 0;
  socklen_t len = sizeof(err);
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
    return unavailable(std::string("getsockopt: ") + std::strerror(errno));
  }
  if (err != 0) return unavailable(std::string("connect: ") + std::strerror(err));
  return fd;
}

}  // namespace

int free_tcp_port() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return 0;
  socklen_t len = sizeof(addr);
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  return ntohs(addr.sin_port);
}

StatusOr<UniqueFd> connect_tcp(const std::string& host, int port,
                               std::chrono::milliseconds timeout) {
  if (port < 1 || port > 65535) return invalid_argument("port out of range", "port");
  const SteadyClock::time_point deadline = SteadyClock::now() + std::max(timeout, 0ms);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* raw = nullptr;
  const std::string service = std::to_string(port);
  int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &raw);
  if (rc != 0) return unavailable("cannot resolve " + host + ": " + ::gai_strerror(rc));
  std::unique_ptr<addrinfo, AddrInfoDeleter> list(raw);
  Status last = unavailable("no address for " + host);
  for (const addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    StatusOr<UniqueFd> fd = connect_one(*ai, deadline);
    if (fd.ok()) return fd;
    last = fd.status();
    if (last.code() == StatusCode::kDeadlineExceeded) break;
  }
  return Status(last.code(), last.message() + " (" + host + ":" + service + ")");
}

bool wait_for_tcp(const std::string& host, int port, std::chrono::milliseconds timeout) {
  if (port < 1 || port > 65535) return false;
  const SteadyClock::time_point deadline = SteadyClock::now() + std::max(timeout, 0ms);
  return wait_for(
      [&] {
        // Each attempt is bounded by what is left, so a black-holed SYN cannot overrun.
        auto left = std::chrono::milliseconds(remaining_ms(deadline));
        return connect_tcp(host, port, std::min(left, std::chrono::milliseconds(500))).ok();
      },
      timeout);
}

}  // namespace shopeasy::testing
