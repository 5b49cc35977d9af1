#include "tests/bench/sync/raw_http.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace shopeasy::syncbench {

StatusOr<RawHttpConnection> RawHttpConnection::connect(int port) {
  testing::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return unavailable(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return unavailable(std::string("connect: ") + std::strerror(errno));
  }
  int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return RawHttpConnection(std::move(fd));
}

StatusOr<RawResponse> RawHttpConnection::post(const std::string& path,
                                              const std::map<std::string, std::string>& headers,
                                              const std::string& body,
                                              std::chrono::milliseconds timeout) {
  open_ = false;  // until this exchange completes
  std::string request = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
  request += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  request += body;
  for (std::size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd_.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return unavailable(std::string("send: ") + std::strerror(errno));
    sent += static_cast<std::size_t>(n);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string& in = buffered_;
  std::size_t header_end = std::string::npos;
  std::size_t content_length = 0;
  int status = 0;
  bool keep_open = true;
  for (;;) {
    if (header_end == std::string::npos) {
      header_end = in.find("\r\n\r\n");
      if (header_end != std::string::npos) {
        if (in.size() < 12 || in.compare(0, 5, "HTTP/") != 0) {
          return unavailable("malformed status line");
        }
        status = std::atoi(in.c_str() + 9);
        std::string head = in.substr(0, header_end);
        for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const std::size_t cl = head.find("\r\ncontent-length:");
        if (cl == std::string::npos) return unavailable("response without Content-Length");
        content_length = std::strtoull(head.c_str() + cl + 17, nullptr, 10);
        keep_open = head.find("\r\nconnection: close") == std::string::npos;
      }
    }
    if (header_end != std::string::npos && in.size() >= header_end + 4 + content_length) {
      RawResponse r{status, in.substr(header_end + 4, content_length)};
      in.erase(0, header_end + 4 + content_length);
      open_ = keep_open;
      return r;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return unavailable("timed out reading the response");
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[16384];
    const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return unavailable("the server closed the connection");
    in.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace shopeasy::syncbench
