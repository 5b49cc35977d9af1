// RawHttpConnection: a minimal HTTP/1.1 keep-alive client on a plain socket, for a
// baseline only: each request (headers and body) leaves in a single write on a socket
// with TCP_NODELAY, so no segment ever waits for the peer's delayed acknowledgement.
// Responses must carry Content-Length (the project's server always sends it).
// One thread at a time.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "common/status/status.hpp"
#include "tests/harness/unique_fd.hpp"

namespace shopeasy::syncbench {

struct RawResponse {
  int status = 0;
  std::string body;
};

class RawHttpConnection {
 public:
  // Connects to 127.0.0.1:port. kUnavailable if it cannot.
  static StatusOr<RawHttpConnection> connect(int port);

  // Sends one request with `headers` (Host, Content-Length and keep-alive are added) and
  // reads the response within `timeout`. kUnavailable when the connection fails or the
  // response is malformed; the connection is unusable afterwards.
  StatusOr<RawResponse> post(const std::string& path,
                             const std::map<std::string, std::string>& headers,
                             const std::string& body,
                             std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // False once the server announced it closes the connection (Connection: close) or a
  // request failed: connect again.
  bool is_open() const { return open_; }

 private:
  explicit RawHttpConnection(testing::UniqueFd fd) : fd_(std::move(fd)) {}
  testing::UniqueFd fd_;
  std::string buffered_;  // bytes read past the previous response
  bool open_ = true;
};

}  // namespace shopeasy::syncbench
