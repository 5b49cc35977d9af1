#include "common/http/connection.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace shopeasy::http::internal {

namespace {

int poll_ms(std::chrono::milliseconds timeout) {
  return static_cast<int>(std::clamp<std::chrono::milliseconds::rep>(timeout.count(), 0, 1 << 30));
}

void address_of(const sockaddr_storage& addr, std::string& ip, int& port) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    port = ntohs(in->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    port = ntohs(in6->sin6_port);
  }
  ip = text;
}

}  // namespace

Connection::Connection(int fd, SSL* ssl, int stop_fd, ConnectionLimits limits)
    : fd_(fd), ssl_(ssl), stop_fd_(stop_fd), limits_(limits) {}

bool Connection::begin_request(std::chrono::milliseconds idle) {
  in_head_ = true;
  head_bytes_ = 0;
  line_bytes_ = 0;
  body_bytes_ = 0;
  if (buffer_begin_ == buffer_end_ && !fill(idle)) return false;
  head_started_ = Clock::now();
  return true;
}

bool Connection::wait_readable(std::chrono::milliseconds timeout) const {
  if (ssl_ != nullptr && SSL_pending(ssl_) > 0) return true;
  pollfd p[2] = {{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  for (;;) {
    const int n = ::poll(p, stop_fd_ >= 0 ? 2 : 1, poll_ms(timeout));
    if (n < 0 && errno == EINTR) continue;
    return n > 0 && p[1].revents == 0 && p[0].revents != 0;
  }
}

bool Connection::fill(std::chrono::milliseconds timeout) {
  if (eof_) return false;
  if (!wait_readable(timeout)) return false;
  ssize_t n = 0;
  if (ssl_ != nullptr) {
    n = SSL_read(ssl_, buffer_.data(), static_cast<int>(buffer_.size()));
  } else {
    do {
      n = ::recv(fd_, buffer_.data(), buffer_.size(), 0);
    } while (n < 0 && errno == EINTR);
  }
  if (n <= 0) {
    eof_ = true;
    return false;
  }
  buffer_begin_ = 0;
  buffer_end_ = static_cast<std::size_t>(n);
  return true;
}

bool Connection::is_readable() const {
  return buffer_begin_ != buffer_end_ || wait_readable(limits_.read_timeout);
}

bool Connection::is_writable() const {
  pollfd p{fd_, POLLOUT, 0};
  for (;;) {
    const int n = ::poll(&p, 1, poll_ms(limits_.write_timeout));
    if (n < 0 && errno == EINTR) continue;
    return n > 0 && (p.revents & (POLLERR | POLLHUP)) == 0;
  }
}

ssize_t Connection::refuse(ReadRefusal why) {
  if (refusal_ == ReadRefusal::kNone) refusal_ = why;
  return -1;
}

ssize_t Connection::read(char* ptr, std::size_t size) {
  if (refusal_ != ReadRefusal::kNone) return -1;
  if (buffer_begin_ == buffer_end_) {
    std::chrono::milliseconds wait = limits_.read_timeout;
    const auto now = Clock::now();
    if (in_head_) {
      const auto left = limits_.head_deadline -
                        std::chrono::duration_cast<std::chrono::milliseconds>(now - head_started_);
      if (left.count() <= 0) return refuse(ReadRefusal::kHeadTooSlow);
      wait = std::min(wait, left);
    } else {
      // The body may take the read timeout plus the time its bytes so far justify.
      const auto allowed =
          limits_.read_timeout +
          std::chrono::milliseconds(body_bytes_ * 1000 /
                                    std::max<std::size_t>(1, limits_.min_body_bytes_per_s));
      const auto left =
          allowed - std::chrono::duration_cast<std::chrono::milliseconds>(now - body_started_);
      if (left.count() <= 0) return refuse(ReadRefusal::kBodyTooSlow);
      wait = std::min(wait, left);
    }
    if (!fill(wait)) {
      if (eof_) return 0;
      // A wait cut short by a deadline is a refusal; a plain read timeout stays the
      // library's to report as it always has.
      if (in_head_ && Clock::now() - head_started_ >= limits_.head_deadline) {
        return refuse(ReadRefusal::kHeadTooSlow);
      }
      return -1;
    }
  }
  const std::size_t n = std::min(size, buffer_end_ - buffer_begin_);
  const char* data = buffer_.data() + buffer_begin_;
  if (!account(data, n)) return -1;
  std::memcpy(ptr, data, n);
  buffer_begin_ += n;
  return static_cast<ssize_t>(n);
}

bool Connection::account(const char* data, std::size_t n) {
  std::size_t i = 0;
  while (in_head_ && i < n) {
    const char c = data[i++];
    if (++head_bytes_ > limits_.max_head_bytes) {
      refuse(ReadRefusal::kHeadTooLarge);
      return false;
    }
    if (c == '\n') {
      // An empty line ends the head; what follows is the body.
      if (line_bytes_ == 0) {
        in_head_ = false;
        body_started_ = Clock::now();
      }
      line_bytes_ = 0;
    } else if (c != '\r') {
      ++line_bytes_;
    }
  }
  body_bytes_ += n - i;
  if (body_bytes_ > limits_.max_body_bytes) {
    refuse(ReadRefusal::kBodyTooLarge);
    return false;
  }
  return true;
}

ssize_t Connection::write(const char* ptr, std::size_t size) {
  if (!is_writable()) return -1;
  if (ssl_ != nullptr) {
    const int n = SSL_write(ssl_, ptr, static_cast<int>(std::min<std::size_t>(size, 1 << 30)));
    return n > 0 ? n : -1;
  }
  ssize_t n = 0;
  do {
    n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n;
}

void Connection::get_remote_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    address_of(addr, ip, port);
  }
}

void Connection::get_local_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    address_of(addr, ip, port);
  }
}

}  // namespace shopeasy::http::internal
