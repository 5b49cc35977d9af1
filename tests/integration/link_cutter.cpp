#include "tests/integration/link_cutter.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "tests/harness/net.hpp"

namespace shopeasy::testing {

StatusOr<std::unique_ptr<LinkCutter>> LinkCutter::start(int upstream_port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return unavailable("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd.get(), 16) != 0) {
    return unavailable("cannot listen on a loopback port");
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  std::unique_ptr<LinkCutter> cutter(new LinkCutter(std::move(fd), port, upstream_port));
  cutter->acceptor_ = std::thread([c = cutter.get()] { c->accept_loop(); });
  return cutter;
}

LinkCutter::LinkCutter(UniqueFd listener, int port, int upstream_port)
    : listener_(std::move(listener)), port_(port), upstream_port_(upstream_port) {}

LinkCutter::~LinkCutter() {
  stop_.store(true);
  if (acceptor_.joinable()) acceptor_.join();
  std::lock_guard lock(mutex_);
  for (auto& link : links_) {
    if (link->pump.joinable()) link->pump.join();
  }
}

void LinkCutter::cut() { cut_.store(true); }

void LinkCutter::restore() {
  std::lock_guard lock(mutex_);
  for (auto& link : links_) link->doomed.store(true);
  cut_.store(false);
}

int LinkCutter::accepted() const {
  std::lock_guard lock(mutex_);
  return accepted_;
}

std::optional<std::chrono::steady_clock::time_point> LinkCutter::last_accept() const {
  std::lock_guard lock(mutex_);
  return last_accept_;
}

void LinkCutter::accept_loop() {
  while (!stop_.load()) {
    pollfd p{listener_.get(), POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    UniqueFd device(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (device.get() < 0) continue;
    auto upstream = connect_tcp("127.0.0.1", upstream_port_, std::chrono::seconds(2));
    if (!upstream.ok()) continue;  // the device sees its connection close and retries
    auto link = std::make_unique<Link>();
    link->device = std::move(device);
    link->upstream = std::move(*upstream);
    Link* raw = link.get();
    std::lock_guard lock(mutex_);
    ++accepted_;
    last_accept_ = std::chrono::steady_clock::now();
    raw->pump = std::thread([this, raw] { pump(*raw); });
    links_.push_back(std::move(link));
  }
}

void LinkCutter::pump(Link& link) {
  char buf[16384];
  // The device side is blocking by default; both are read only after poll says so.
  while (!stop_.load()) {
    if (link.doomed.load()) {
      // The device's network went away: its socket dies; the broker's stays open
      // until the broker gives up on it or the device's new connection takes over.
      ::shutdown(link.device.get(), SHUT_RDWR);
      link.device.reset();
      return;
    }
    pollfd p[2] = {{link.device.get(), POLLIN, 0}, {link.upstream.get(), POLLIN, 0}};
    if (::poll(p, 2, 20) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      const int from = i == 0 ? link.device.get() : link.upstream.get();
      const int to = i == 0 ? link.upstream.get() : link.device.get();
      const ssize_t n = ::recv(from, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        // One side closed: close the other too, as a router would pass on the FIN.
        ::shutdown(link.device.get(), SHUT_RDWR);
        ::shutdown(link.upstream.get(), SHUT_RDWR);
        return;
      }
      if (n < 0 || cut_.load()) continue;  // lost in the outage
      for (ssize_t sent = 0; sent < n;) {
        const ssize_t w = ::send(to, buf + sent, static_cast<std::size_t>(n - sent), MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
          pollfd out{to, POLLOUT, 0};
          ::poll(&out, 1, 20);
          continue;
        }
        if (w <= 0) break;
        sent += w;
      }
    }
  }
}

}  // namespace shopeasy::testing
