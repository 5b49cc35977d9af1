#include "tests/harness/http_probe.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <cstdlib>
#include <fstream>
#include <mutex>

#include <nlohmann/json.hpp>

#include "tests/harness/net.hpp"
#include "tests/harness/unique_fd.hpp"

namespace shopeasy::testing {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr size_t kMaxHeaderBytes = 64 * 1024;
constexpr size_t kMaxBodyBytes = 64 * 1024 * 1024;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool has_line_break(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

Status timed_out() { return Status(StatusCode::kDeadlineExceeded, "HTTP request timed out"); }
Status malformed(std::string what) { return unavailable("malformed HTTP reply: " + what); }

// Buffered reads from the (non-blocking) socket, all bounded by one deadline.
class Connection {
 public:
  Connection(UniqueFd fd, SteadyClock::time_point deadline)
      : fd_(std::move(fd)), deadline_(deadline) {}

  Status send_all(std::string_view data) {
    while (!data.empty()) {
      // MSG_NOSIGNAL: a server that hangs up early must not kill the test with SIGPIPE.
      ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n > 0) {
        data.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        SHOPEASY_RETURN_IF_ERROR(wait_ready(POLLOUT));
        continue;
      }
      return unavailable(std::string("send: ") + std::strerror(errno));
    }
    return Status::ok();
  }

  // Reads more into the buffer. False at end of stream.
  StatusOr<bool> fill() {
    char chunk[16384];
    while (true) {
      ssize_t n = ::recv(fd_.get(), chunk, sizeof(chunk), 0);
      if (n > 0) {
        buffer_.append(chunk, static_cast<size_t>(n));
        return true;
      }
      if (n == 0) return false;
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        SHOPEASY_RETURN_IF_ERROR(wait_ready(POLLIN));
        continue;
      }
      return unavailable(std::string("recv: ") + std::strerror(errno));
    }
  }

  // Everything up to and including `delimiter`, removed from the buffer.
  StatusOr<std::string> read_until(std::string_view delimiter, size_t limit) {
    size_t searched = 0;
    while (true) {
      size_t pos = buffer_.find(delimiter, searched);
      if (pos != std::string::npos) {
        std::string out = buffer_.substr(0, pos + delimiter.size());
        buffer_.erase(0, pos + delimiter.size());
        return out;
      }
      if (buffer_.size() > limit) return malformed("header section too large");
      searched = buffer_.size() >= delimiter.size() ? buffer_.size() - delimiter.size() + 1 : 0;
      StatusOr<bool> more = fill();
      if (!more.ok()) return more.status();
      if (!*more) return malformed("connection closed mid-header");
    }
  }

  StatusOr<std::string> read_exactly(size_t count) {
    while (buffer_.size() < count) {
      StatusOr<bool> more = fill();
      if (!more.ok()) return more.status();
      if (!*more) return malformed("connection closed mid-body");
    }
    std::string out = buffer_.substr(0, count);
    buffer_.erase(0, count);
    return out;
  }

  StatusOr<std::string> read_to_end() {
    while (true) {
      if (buffer_.size() > kMaxBodyBytes) return malformed("body too large");
      StatusOr<bool> more = fill();
      if (!more.ok()) return more.status();
      if (!*more) break;
    }
    return std::exchange(buffer_, std::string());
  }

 private:
  Status wait_ready(short events) {
    while (true) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - SteadyClock::now());
      if (left.count() <= 0) return timed_out();
      pollfd pfd{fd_.get(), events, 0};
      int rc = ::poll(&pfd, 1, static_cast<int>(left.count()));
      if (rc > 0) return Status::ok();
      if (rc == 0) return timed_out();
      if (errno != EINTR) return unavailable(std::string("poll: ") + std::strerror(errno));
    }
  }

  UniqueFd fd_;
  SteadyClock::time_point deadline_;
  std::string buffer_;
};

struct Head {
  int status = 0;
  std::map<std::string, std::string> headers;
};

StatusOr<Head> parse_head(std::string_view text) {
  size_t line_end = text.find("\r\n");
  std::string_view status_line = text.substr(0, line_end);
  // "HTTP/1.1 200 OK" (the reason phrase may be empty or absent).
  if (status_line.substr(0, 7) != "HTTP/1." || status_line.size() < 12 || status_line[8] != ' ') {
    return malformed("bad status line '" + std::string(status_line) + "'");
  }
  Head head;
  std::string_view code = status_line.substr(9, 3);
  auto [ptr, ec] = std::from_chars(code.data(), code.data() + code.size(), head.status);
  if (ec != std::errc() || ptr != code.data() + code.size() || head.status < 100 ||
      head.status > 999 || (status_line.size() > 12 && status_line[12] != ' ')) {
    return malformed("bad status code in '" + std::string(status_line) + "'");
  }
  text.remove_prefix(line_end + 2);
  while (!text.empty()) {
    size_t end = text.find("\r\n");
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 2);
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return malformed("bad header line '" + std::string(line) + "'");
    }
    std::string name = lower(trim(line.substr(0, colon)));
    std::string value(trim(line.substr(colon + 1)));
    auto [it, inserted] = head.headers.emplace(name, value);
    if (!inserted) it->second += ", " + value;
  }
  return head;
}

StatusOr<std::string> read_chunked(Connection& conn) {
  std::string body;
  while (true) {
    StatusOr<std::string> line = conn.read_until("\r\n", kMaxHeaderBytes);
    if (!line.ok()) return line.status();
    std::string_view size_text = trim(std::string_view(*line).substr(0, line->size() - 2));
    size_text = trim(size_text.substr(0, size_text.find(';')));  // Drop chunk extensions.
    size_t size = 0;
    auto [ptr, ec] =
        std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
    if (size_text.empty() || ec != std::errc() || ptr != size_text.data() + size_text.size()) {
      return malformed("bad chunk size '" + std::string(size_text) + "'");
    }
    if (size == 0) break;
    if (body.size() + size > kMaxBodyBytes) return malformed("body too large");
    StatusOr<std::string> data = conn.read_exactly(size + 2);
    if (!data.ok()) return data.status();
    if (data->compare(size, 2, "\r\n") != 0) return malformed("chunk not followed by CRLF");
    body.append(*data, 0, size);
  }
  // Trailer fields, if any, end with an empty line.
  while (true) {
    StatusOr<std::string> trailer = conn.read_until("\r\n", kMaxHeaderBytes);
    if (!trailer.ok()) return trailer.status();
    if (*trailer == "\r\n") break;
  }
  return body;
}

bool set_by_caller(const std::map<std::string, std::string>& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& header) { return lower(header.first) == name; });
}

}  // namespace

namespace {

// The exchange itself (below); http_request_checked records what it returns.
StatusOr<HttpReply> http_exchange(const std::string& host, int port, std::string_view method,
                                  std::string_view path, std::string_view body,
                                  const std::map<std::string, std::string>& headers,
                                  std::chrono::milliseconds timeout);

// Bodies past this are recorded cut (and marked so): the check skips their schema.
constexpr std::size_t kMaxRecordedBody = 256 * 1024;

struct Recorder {
  std::mutex mutex;                       // guards everything below
  std::map<int, std::string> service_of;  // port -> daemon name
  std::optional<std::ofstream> out;       // opened on the first recorded reply
};

Recorder& recorder() {
  static Recorder* r = new Recorder();  // never destroyed: replies may come at exit
  return *r;
}

void record(int port, std::string_view method, std::string_view path, const HttpReply& reply) {
  const char* dir = std::getenv("SHOPEASY_RECORD_REPLIES");
  if (dir == nullptr || *dir == '\0') return;
  Recorder& r = recorder();
  std::lock_guard lock(r.mutex);
  auto service = r.service_of.find(port);
  if (service == r.service_of.end()) return;
  if (!r.out) {
    r.out.emplace(std::string(dir) + "/" + std::to_string(::getpid()) + ".jsonl", std::ios::app);
  }
  auto type = reply.headers.find("content-type");
  const bool cut = reply.body.size() > kMaxRecordedBody;
  nlohmann::json line = {{"service", service->second},
                         {"method", std::string(method)},
                         {"path", std::string(path)},
                         {"status", reply.status},
                         {"type", type == reply.headers.end() ? std::string() : type->second},
                         {"body", cut ? reply.body.substr(0, kMaxRecordedBody) : reply.body}};
  if (cut) line["truncated"] = true;
  *r.out << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  r.out->flush();
}

}  // namespace

void record_reply(int port, std::string_view method, std::string_view path,
                  const HttpReply& reply) {
  record(port, method, path, reply);
}

void record_replies_of(int port, const std::string& service) {
  Recorder& r = recorder();
  std::lock_guard lock(r.mutex);
  r.service_of[port] = service;
}

StatusOr<HttpReply> http_request_checked(const std::string& host, int port, std::string_view method,
                                         std::string_view path, std::string_view body,
                                         const std::map<std::string, std::string>& headers,
                                         std::chrono::milliseconds timeout) {
  StatusOr<HttpReply> reply = http_exchange(host, port, method, path, body, headers, timeout);
  if (reply.ok()) record(port, method, path, *reply);
  return reply;
}

namespace {
StatusOr<HttpReply> http_exchange(const std::string& host, int port, std::string_view method,
                                  std::string_view path, std::string_view body,
                                  const std::map<std::string, std::string>& headers,
                                  std::chrono::milliseconds timeout) {
  if (method.empty() || has_line_break(method) || method.find(' ') != std::string_view::npos) {
    return invalid_argument("bad HTTP method", "method");
  }
  if (path.empty() || has_line_break(path) || path.find(' ') != std::string_view::npos) {
    return invalid_argument("bad request path", "path");
  }
  for (const auto& [name, value] : headers) {
    if (name.empty() || has_line_break(name) || name.find(':') != std::string::npos ||
        has_line_break(value)) {
      return invalid_argument("bad header '" + name + "'", "headers");
    }
  }
  const SteadyClock::time_point deadline = SteadyClock::now() + timeout;

  std::string request = std::string(method) + " " + std::string(path) + " HTTP/1.1\r\n";
  if (!set_by_caller(headers, "host"))
    request += "Host: " + host + ":" + std::to_string(port) + "\r\n";
  if (!set_by_caller(headers, "connection")) request += "Connection: close\r\n";
  const bool body_method = method == "POST" || method == "PUT" || method == "PATCH";
  if ((!body.empty() || body_method) && !set_by_caller(headers, "content-length")) {
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
  request += "\r\n";
  request.append(body);

  StatusOr<UniqueFd> fd = connect_tcp(host, port, timeout);
  if (!fd.ok()) return fd.status();
  Connection conn(std::move(*fd), deadline);
  SHOPEASY_RETURN_IF_ERROR(conn.send_all(request));

  Head head;
  while (true) {
    StatusOr<std::string> head_text = conn.read_until("\r\n\r\n", kMaxHeaderBytes);
    if (!head_text.ok()) return head_text.status();
    StatusOr<Head> parsed = parse_head(*head_text);
    if (!parsed.ok()) return parsed.status();
    head = std::move(*parsed);
    // Interim replies (100 Continue, 103 Early Hints) precede the real one.
    if (head.status >= 200 || head.status == 101) break;
  }

  HttpReply reply;
  reply.status = head.status;
  reply.headers = std::move(head.headers);
  if (method == "HEAD" || reply.status == 204 || reply.status == 304 || reply.status == 101) {
    return reply;
  }
  auto transfer = reply.headers.find("transfer-encoding");
  auto length = reply.headers.find("content-length");
  StatusOr<std::string> content = std::string();
  if (transfer != reply.headers.end() &&
      lower(transfer->second).find("chunked") != std::string::npos) {
    content = read_chunked(conn);
  } else if (length != reply.headers.end()) {
    size_t size = 0;
    const std::string& text = length->second;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), size);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
      return malformed("bad Content-Length '" + text + "'");
    }
    if (size > kMaxBodyBytes) return malformed("body too large");
    content = conn.read_exactly(size);
  } else {
    content = conn.read_to_end();
  }
  if (!content.ok()) return content.status();
  reply.body = std::move(*content);
  return reply;
}

}  // namespace

std::optional<HttpReply> http_request(const std::string& host, int port, std::string_view method,
                                      std::string_view path, std::string_view body,
                                      const std::map<std::string, std::string>& headers,
                                      std::chrono::milliseconds timeout) {
  StatusOr<HttpReply> reply =
      http_request_checked(host, port, method, path, body, headers, timeout);
  if (!reply.ok()) return std::nullopt;
  return std::move(*reply);
}

}  // namespace shopeasy::testing
