// Connection: one accepted HTTP connection as the server library reads and writes it,
// with the limits the library does not enforce itself. The library reads a request's
// head one line at a time into a buffer that grows without bound and waits for every
// read separately, so a client could send one endless header line or trickle a byte
// per timeout and hold a worker for ever. This stream counts what the library
// consumes: the head (request line and headers) may not exceed a byte budget nor take
// longer than a deadline, and the raw body may not exceed its own budget nor arrive
// slower than a minimum rate. A read past any limit fails, which makes the library
// give up on the request, and the connection is closed after it.
// Internal to the http_server library (it includes cpp-httplib); plain TCP or TLS.
#pragma once

#include <httplib.h>
#include <openssl/ssl.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <string>

namespace shopeasy::http::internal {

// Why a connection stopped reading its request.
enum class ReadRefusal {
  kNone,
  kHeadTooLarge,  // request line and headers past ConnectionLimits::max_head_bytes
  kHeadTooSlow,   // the head not complete within ConnectionLimits::head_deadline
  kBodyTooLarge,  // raw body bytes past ConnectionLimits::max_body_bytes
  kBodyTooSlow,   // the body arriving slower than ConnectionLimits::min_body_bytes_per_s
};

struct ConnectionLimits {
  std::size_t max_head_bytes = 24 * 1024;
  std::chrono::milliseconds head_deadline{10000};
  std::size_t max_body_bytes = 1 << 20;           // raw bytes on the wire, chunk framing included
  std::chrono::milliseconds read_timeout{10000};  // longest wait for any one read
  std::chrono::milliseconds write_timeout{10000};
  // After a grace of read_timeout, a body must keep up this average rate.
  std::size_t min_body_bytes_per_s = 16 * 1024;
};

class Connection final : public httplib::Stream {
 public:
  // `ssl` may be null (plain TCP); when set, its handshake has completed. `stop_fd`
  // becomes readable when the server stops, which ends every wait at once. None is
  // owned: the caller closes the socket and frees the SSL object.
  Connection(int fd, SSL* ssl, int stop_fd, ConnectionLimits limits);

  // Waits up to `idle` for the next request's first byte (or uses bytes already
  // buffered); false when none came or the peer closed. Starts the head's clock.
  bool begin_request(std::chrono::milliseconds idle);

  ReadRefusal refusal() const { return refusal_; }
  // Asks that the connection close once the current response is written, e.g. because
  // a handler refused the request without reading its body.
  void close_after_response() { close_requested_ = true; }
  bool should_close() const { return close_requested_ || refusal_ != ReadRefusal::kNone; }

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, std::size_t size) override;
  ssize_t write(const char* ptr, std::size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return fd_; }

 private:
  using Clock = std::chrono::steady_clock;
  // Refills the buffer, waiting at most `timeout`; false on timeout, error or EOF.
  bool fill(std::chrono::milliseconds timeout);
  bool wait_readable(std::chrono::milliseconds timeout) const;
  // Accounts for `n` bytes handed to the library; false when that breaks a limit.
  bool account(const char* data, std::size_t n);
  ssize_t refuse(ReadRefusal why);

  int fd_;
  SSL* ssl_;
  int stop_fd_;
  ConnectionLimits limits_;
  std::array<char, 4096> buffer_{};
  std::size_t buffer_begin_ = 0;
  std::size_t buffer_end_ = 0;
  bool eof_ = false;

  // Per request.
  bool in_head_ = true;
  std::size_t head_bytes_ = 0;
  std::size_t line_bytes_ = 0;  // bytes of the current head line, CR excluded
  std::size_t body_bytes_ = 0;
  Clock::time_point head_started_{};
  Clock::time_point body_started_{};
  ReadRefusal refusal_ = ReadRefusal::kNone;
  bool close_requested_ = false;
};

}  // namespace shopeasy::http::internal
