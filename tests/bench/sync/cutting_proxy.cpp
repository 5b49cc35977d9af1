#include "tests/bench/sync/cutting_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace shopeasy::syncbench {

namespace {

using testing::UniqueFd;

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

bool send_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// Closing with a zero linger time sends RST instead of FIN: the peer sees the
// connection die mid-stream rather than end.
void reset(UniqueFd& fd) {
  linger lg{1, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  fd.reset();
}

}  // namespace

StatusOr<std::unique_ptr<CuttingProxy>> CuttingProxy::start(ProxyOptions options) {
  if (options.upstream_port <= 0 || options.upstream_port > 65535) {
    return invalid_argument("upstream port out of range", "upstream_port");
  }
  if (options.gap_min_bytes < 0 || options.gap_max_bytes < options.gap_min_bytes) {
    return invalid_argument("bad gap range", "gap_min_bytes");
  }
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener.valid()) return unavailable(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr = loopback(0);
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener.get(), 64) != 0) {
    return unavailable(std::string("bind/listen: ") + std::strerror(errno));
  }
  socklen_t len = sizeof addr;
  if (::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return unavailable(std::string("getsockname: ") + std::strerror(errno));
  }
  const int port = ntohs(addr.sin_port);
  std::unique_ptr<CuttingProxy> proxy(
      new CuttingProxy(std::move(options), std::move(listener), port));
  proxy->acceptor_ = std::thread([p = proxy.get()] { p->accept_loop(); });
  return proxy;
}

CuttingProxy::CuttingProxy(ProxyOptions options, UniqueFd listener, int port)
    : options_(std::move(options)),
      listener_(std::move(listener)),
      port_(port),
      rng_(options_.seed) {
  arm_next_cut();
}

CuttingProxy::~CuttingProxy() { stop(); }

void CuttingProxy::stop() {
  if (stopping_.exchange(true)) return;
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> relays;
  {
    std::lock_guard lock(mutex_);
    relays.swap(relays_);
  }
  for (auto& t : relays) t.join();
}

ProxyStats CuttingProxy::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void CuttingProxy::arm_next_cut() {
  up_since_cut_ = 0;
  down_since_gap_ = 0;
  gap_ = std::uniform_int_distribution<std::int64_t>(options_.gap_min_bytes,
                                                     options_.gap_max_bytes)(rng_);
  cut_response_ = std::uniform_int_distribution<int>(0, 1)(rng_) == 1;
  response_offset_ =
      std::uniform_int_distribution<std::int64_t>(0, options_.response_offset_max)(rng_);
}

std::int64_t CuttingProxy::allow(bool upstream, std::int64_t n) {
  std::lock_guard lock(mutex_);
  const bool armed = stats_.request_cuts + stats_.response_cuts < options_.cuts;
  if (upstream) {
    if (armed && !cut_response_ && up_since_cut_ + n > gap_) {
      const std::int64_t allowed = gap_ - up_since_cut_;
      stats_.bytes_up += allowed;
      ++stats_.request_cuts;
      arm_next_cut();
      return allowed;
    }
    up_since_cut_ += n;
    stats_.bytes_up += n;
    return n;
  }
  if (armed && cut_response_ && up_since_cut_ >= gap_) {
    if (down_since_gap_ + n > response_offset_) {
      const std::int64_t allowed = response_offset_ - down_since_gap_;
      stats_.bytes_down += allowed;
      ++stats_.response_cuts;
      arm_next_cut();
      return allowed;
    }
    down_since_gap_ += n;
  }
  stats_.bytes_down += n;
  return n;
}

void CuttingProxy::count_requests(std::string& carry, const char* data, std::size_t n) {
  const std::string& prefix = options_.count_prefix;
  if (prefix.empty()) return;
  // A request line follows the end of the previous request's headers or body; a
  // request line split across chunks is found through the carried tail.
  std::string window = carry;
  window.append(data, n);
  int found = 0;
  for (std::size_t pos = window.find(prefix); pos != std::string::npos;
       pos = window.find(prefix, pos + 1)) {
    // Ignore a match that lies wholly within the carried tail: it was counted before.
    if (pos + prefix.size() > carry.size()) ++found;
  }
  const std::size_t keep = std::min(window.size(), prefix.size() - 1);
  carry = window.substr(window.size() - keep);
  if (found > 0) {
    std::lock_guard lock(mutex_);
    stats_.requests += found;
  }
}

void CuttingProxy::accept_loop() {
  while (!stopping_.load()) {
    pollfd p{listener_.get(), POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!client.valid()) continue;
    std::lock_guard lock(mutex_);
    ++stats_.connections;
    relays_.emplace_back([this, c = std::move(client)]() mutable { relay(std::move(c)); });
  }
}

void CuttingProxy::relay(UniqueFd client) {
  UniqueFd server(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr = loopback(options_.upstream_port);
  if (!server.valid() ||
      ::connect(server.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    reset(client);
    return;
  }
  int one = 1;
  ::setsockopt(server.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(client.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (options_.quick_ack) ::setsockopt(client.get(), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
  std::array<char, 64 * 1024> buf{};
  std::string carry;
  while (!stopping_.load()) {
    std::array<pollfd, 2> fds = {pollfd{client.get(), POLLIN, 0}, pollfd{server.get(), POLLIN, 0}};
    const int ready = ::poll(fds.data(), fds.size(), 100);
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      const bool upstream = i == 0;
      UniqueFd& from = upstream ? client : server;
      UniqueFd& to = upstream ? server : client;
      const ssize_t n = ::recv(from.get(), buf.data(), buf.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (upstream && options_.quick_ack) {
        // The kernel leaves quick-ACK mode on its own; ask again after every read.
        ::setsockopt(client.get(), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
      }
      if (n <= 0) {
        // An orderly end (or error) on one side ends the relayed connection.
        return;
      }
      const std::int64_t allowed = allow(upstream, n);
      if (upstream && allowed > 0) {
        count_requests(carry, buf.data(), static_cast<std::size_t>(allowed));
      }
      if (allowed > 0 && !send_all(to.get(), buf.data(), static_cast<std::size_t>(allowed))) {
        return;
      }
      if (allowed < n) {
        reset(client);
        reset(server);
        return;
      }
    }
  }
  reset(client);
  reset(server);
}

}  // namespace shopeasy::syncbench
