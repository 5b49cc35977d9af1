#include "tests/integration/daemon_fixture.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>

#include <nlohmann/json.hpp>

namespace shopeasy::testing {

std::string admin_tokens_json() {
  return R"([{"name":"test-admin","role":"admin","sha256":")" + http::sha256_hex(kAdminToken) +
         R"("}])";
}

std::string tokens_json(const std::vector<TestToken>& extra) {
  std::string out = admin_tokens_json();
  out.pop_back();  // the closing bracket
  for (const TestToken& t : extra) {
    out += R"(,{"name":")" + t.name + R"(","role":")" + t.role + R"(","sha256":")" +
           http::sha256_hex(t.secret) + R"("})";
  }
  return out + "]";
}

std::map<std::string, std::string> bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

StatusOr<RunningDaemon> start_daemon(const std::string& binary, std::vector<std::string> args,
                                     std::map<std::string, std::string> env,
                                     std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{binary_path(binary.c_str())};
  argv.insert(argv.end(), args.begin(), args.end());
  auto child = ChildProcess::spawn({.argv = argv, .env = env});
  if (!child.ok()) return child.status();
  // The started line carries "http_port=<n>".
  const std::optional<std::string> started = child->wait_for_line("event=started", timeout);
  if (!started) {
    return Status(StatusCode::kDeadlineExceeded, binary + " did not start:\n" + child->describe());
  }
  const std::string& line = *started;
  const auto key = line.find("http_port=");
  int port = 0;
  for (std::size_t i = key == std::string::npos ? line.size() : key + 10;
       i < line.size() && line[i] >= '0' && line[i] <= '9'; ++i) {
    port = port * 10 + (line[i] - '0');
  }
  if (port <= 0 || port > 65535) {
    return internal_error(binary + " started without logging http_port:\n" + child->output());
  }
  record_replies_of(port, binary);
  return RunningDaemon{std::move(*child), port};
}

std::optional<HttpReply> get(const RunningDaemon& d, const std::string& path,
                             const std::map<std::string, std::string>& headers) {
  return http_request("127.0.0.1", d.http_port, "GET", path, "", headers);
}

bool wait_edge_subscribed(const RunningDaemon& edge, std::chrono::milliseconds timeout) {
  return wait_for(
      [&] {
        auto health = get(edge, "/health");
        if (!health || health->status != 200) return false;
        const auto body = nlohmann::json::parse(health->body, nullptr, false);
        return body.is_object() && body.value("/mqtt/subscribed"_json_pointer, false) == true;
      },
      timeout);
}

StatusOr<ChildProcess> start_subscriber(int port, const std::vector<std::string>& args,
                                        std::chrono::milliseconds timeout) {
  // Line-buffered: mosquitto_sub flushes the messages it prints but not its debug lines,
  // which would otherwise sit in the pipe's buffer until it exits.
  std::vector<std::string> argv = {"stdbuf",    "-oL", "mosquitto_sub",     "-d", "-h",
                                   "127.0.0.1", "-p",  std::to_string(port)};
  argv.insert(argv.end(), args.begin(), args.end());
  auto sub = ChildProcess::spawn({.argv = std::move(argv)});
  if (!sub.ok()) return sub.status();
  if (!sub->wait_for_output("received SUBACK", timeout)) {
    return Status(StatusCode::kDeadlineExceeded, "mosquitto_sub got no SUBACK\n" + sub->describe());
  }
  return sub;
}

StreamRead read_stream(int port, const std::string& path,
                       const std::map<std::string, std::string>& headers,
                       const std::function<bool(const std::string&)>& done,
                       std::chrono::milliseconds timeout) {
  StreamRead out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto fd = connect_tcp("127.0.0.1", port, timeout);
  if (!fd.ok()) return out;
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (const auto& [k, v] : headers) request += k + ": " + v + "\r\n";
  request += "\r\n";
  for (std::size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd->get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return out;
    if (n > 0) sent += static_cast<std::size_t>(n);
    if (std::chrono::steady_clock::now() > deadline) return out;
    if (n <= 0) {
      pollfd p{fd->get(), POLLOUT, 0};
      ::poll(&p, 1, 20);
    }
  }
  std::string raw;  // everything after the head, still chunk-framed
  bool head_done = false;
  bool chunked = false;
  const auto dechunk = [&] {
    if (!chunked) {
      out.body += raw;
      raw.clear();
      return;
    }
    while (true) {
      const auto eol = raw.find("\r\n");
      if (eol == std::string::npos) return;
      const std::size_t size = std::stoul(raw.substr(0, eol), nullptr, 16);
      if (size == 0) {
        out.ended = true;
        return;
      }
      if (raw.size() < eol + 2 + size + 2) return;
      out.body += raw.substr(eol + 2, size);
      raw.erase(0, eol + 2 + size + 2);
    }
  };
  std::string head;
  std::string content_type;
  char buf[8192];
  while (!out.ended && std::chrono::steady_clock::now() < deadline) {
    if (head_done && done(out.body)) break;
    pollfd p{fd->get(), POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    const ssize_t n = ::recv(fd->get(), buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) {
      out.ended = true;
      break;
    }
    if (!head_done) {
      head.append(buf, static_cast<std::size_t>(n));
      const auto end = head.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      head_done = true;
      out.status = std::atoi(head.c_str() + head.find(' ') + 1);
      std::string lower = head.substr(0, end);
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      chunked = lower.find("transfer-encoding: chunked") != std::string::npos;
      if (const auto at = lower.find("\r\ncontent-type:"); at != std::string::npos) {
        const auto from = lower.find_first_not_of(' ', at + 15);
        content_type = head.substr(from, lower.find("\r\n", from) - from);
      }
      raw = head.substr(end + 4);
    } else {
      raw.append(buf, static_cast<std::size_t>(n));
    }
    dechunk();
  }
  // What arrived is recorded like any other reply (SHOPEASY_RECORD_REPLIES), so the
  // contract check sees the events of streams too.
  if (out.status != 0) {
    HttpReply seen{.status = out.status, .body = out.body, .headers = {}};
    if (!content_type.empty()) seen.headers["content-type"] = content_type;
    record_reply(port, "GET", path, seen);
  }
  return out;
}

void record_stream(int port, const std::string& path, const std::string& body) {
  record_reply(
      port, "GET", path,
      HttpReply{.status = 200, .body = body, .headers = {{"content-type", "text/event-stream"}}});
}

}  // namespace shopeasy::testing
