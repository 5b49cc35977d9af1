// The server's limits as a client on a raw socket meets them: what is refused before
// any body is read, what is cut while it is being read, and that neither costs memory
// nor starves other clients.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/http/auth.hpp"
#include "common/http/server.hpp"

namespace shopeasy::http {
namespace {

using Clock = std::chrono::steady_clock;

// A blocking client socket on loopback with a receive deadline per read.
class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return connected_; }
  // False once the server has closed or reset the connection.
  bool send(const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }
  // Everything the server sends until it closes the connection or `limit` passes.
  std::string read_until_closed(std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    return read_until([](const std::string&) { return false; }, limit);
  }
  // The first response's head and body as far as they have arrived within `limit`.
  std::string read_response(std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    return read_until(
        [](const std::string& so_far) { return so_far.find("\r\n\r\n") != std::string::npos; },
        limit);
  }
  bool closed() const { return closed_; }

 private:
  // Reads until `done(what arrived)`, the server closes, or `limit` passes.
  template <typename Done>
  std::string read_until(Done done, std::chrono::milliseconds limit) {
    std::string out;
    const auto deadline = Clock::now() + limit;
    char buf[4096];
    while (Clock::now() < deadline && !done(out)) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
};

int status_of(const std::string& response) {
  if (response.rfind("HTTP/1.1 ", 0) != 0 || response.size() < 12) return 0;
  return std::stoi(response.substr(9, 3));
}

std::string gzip_of(const std::string& text) {
  z_stream z{};
  deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, text.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// Resident memory of this process in KiB.
long rss_kib() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  long kib = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
  }
  std::fclose(f);
  return kib;
}

class HttpLimitsTest : public ::testing::Test {
 protected:
  void start(ServerOptions opts) {
    auto auth = TokenAuthenticator::from_json(
        nlohmann::json::array(
            {{{"name", "ops"}, {"role", "admin"}, {"sha256", sha256_hex("admin-secret")}},
             {{"name", "viewer"}, {"role", "viewer"}, {"sha256", sha256_hex("viewer-secret")}}}),
        {"admin", "viewer"});
    ASSERT_TRUE(auth.ok());
    auth_ = std::make_unique<TokenAuthenticator>(std::move(*auth));
    server_ = std::make_unique<HttpServer>(opts, auth_.get(),
                                           log::Logger(sink_, log::Level::kInfo, "t"), metrics_);
    server_->route("GET", "/health", Access::public_route(), [](const Request&) {
      return Response::json(200, {{"status", "ok"}});
    });
    server_->route("POST", "/api/plain", Access::roles_of({"admin"}), [](const Request& r) {
      return Response::json(200, {{"bytes", r.body.size()}});
    });
    server_->route(
        "POST", "/api/packed", Access::roles_of({"admin"}),
        [](const Request& r) {
          return Response::json(200, {{"bytes", r.body.size()}});
        },
        BodyOptions{.accept_gzip = true});
    server_->route("GET", "/api/events", Access::authenticated(), [this](const Request&) {
      Response r;
      r.content_type = "text/event-stream";
      r.stream = [this](StreamWriter& w) {
        if (!server_->running()) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        return w.write(": keep-alive\n\n");
      };
      return r;
    });
    auto port = server_->start();
    ASSERT_TRUE(port.ok()) << port.status().to_string();
    port_ = *port;
  }

  std::string post_head(const std::string& path, const std::string& token,
                        const std::string& extra_headers) {
    return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
           (token.empty() ? "" : "Authorization: Bearer " + token + "\r\n") + extra_headers +
           "\r\n";
  }

  std::shared_ptr<log::MemorySink> sink_ = std::make_shared<log::MemorySink>();
  metrics::Registry metrics_;
  std::unique_ptr<TokenAuthenticator> auth_;
  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
};

ServerOptions small_limits() {
  ServerOptions o;
  o.max_body_bytes = 64 * 1024;
  o.read_timeout = std::chrono::seconds(1);
  o.threads = 2;
  o.max_streams = 4;
  o.max_streams_per_client = 2;
  return o;
}

TEST_F(HttpLimitsTest, GzipBombWithoutTokenIsRefusedUnread) {
  start(small_limits());
  // 64 MiB of zeros packs into about 64 KiB.
  const std::string bomb = gzip_of(std::string(64 << 20, '\0'));
  const long before = rss_kib();
  RawClient c(port_);
  ASSERT_TRUE(c.connected());
  c.send(post_head(
      "/api/plain", "",
      "Content-Encoding: gzip\r\nContent-Length: " + std::to_string(bomb.size()) + "\r\n"));
  c.send(bomb);
  const std::string answer = c.read_until_closed();
  EXPECT_EQ(status_of(answer), 401) << answer;
  EXPECT_TRUE(c.closed()) << "the unread body must not be taken for another request";
  EXPECT_LT(rss_kib() - before, 16 * 1024) << "memory grew while refusing";
}

TEST_F(HttpLimitsTest, EncodedBodyOnAPlainRouteIs415BeforeReading) {
  start(small_limits());
  for (const std::string encoding : {"gzip", "br", "deflate", "x-unknown"}) {
    RawClient c(port_);
    c.send(post_head("/api/plain", "admin-secret",
                     "Content-Encoding: " + encoding + "\r\nContent-Length: 4\r\n") +
           "abcd");
    const std::string answer = c.read_until_closed();
    EXPECT_EQ(status_of(answer), 415) << encoding << ": " << answer;
    EXPECT_NE(answer.find(encoding), std::string::npos) << "the error names the encoding";
  }
}

TEST_F(HttpLimitsTest, GzipBombWithTokenIsCutAtTheInflatedCap) {
  start(small_limits());
  const std::string bomb = gzip_of(std::string(64 << 20, '{'));
  const long before = rss_kib();
  RawClient c(port_);
  c.send(post_head(
             "/api/packed", "admin-secret",
             "Content-Encoding: gzip\r\nContent-Length: " + std::to_string(bomb.size()) + "\r\n") +
         bomb);
  const std::string answer = c.read_until_closed();
  EXPECT_EQ(status_of(answer), 413) << answer;
  EXPECT_NE(answer.find("once decoded"), std::string::npos) << answer;
  EXPECT_LT(rss_kib() - before, 16 * 1024);
}

TEST_F(HttpLimitsTest, GzipWithinTheCapIsInflatedOnItsRoute) {
  start(small_limits());
  const std::string text(50000, 'a');
  const std::string packed = gzip_of(text);
  RawClient c(port_);
  c.send(post_head("/api/packed", "admin-secret",
                   "Content-Encoding: gzip\r\nContent-Length: " + std::to_string(packed.size()) +
                       "\r\n") +
         packed);
  const std::string answer = c.read_response();
  EXPECT_EQ(status_of(answer), 200) << answer;
  c.read_until_closed(std::chrono::milliseconds(300));
  // The JSON body follows the head.
  EXPECT_NE(c.closed() ? std::string::npos : answer.size(), std::string::npos);
}

TEST_F(HttpLimitsTest, ChunkedBodyPastTheCapIsCutWithoutBuffering) {
  start(small_limits());
  const long before = rss_kib();
  RawClient c(port_);
  c.send(post_head("/api/plain", "admin-secret", "Transfer-Encoding: chunked\r\n"));
  const std::string chunk(16 * 1024, 'x');
  char size_line[32];
  std::snprintf(size_line, sizeof size_line, "%zx\r\n", chunk.size());
  // Up to 32 MiB; the server answers and closes long before.
  for (int i = 0; i < 2048; ++i) {
    if (!c.send(size_line + chunk + "\r\n")) break;
  }
  const std::string answer = c.read_until_closed();
  EXPECT_EQ(status_of(answer), 413) << answer;
  EXPECT_LT(rss_kib() - before, 16 * 1024);
}

TEST_F(HttpLimitsTest, ARefusedBodyStillGetsItsAnswerNotAReset) {
  start(small_limits());  // 64 KiB cap
  RawClient c(port_);
  const std::string body(512 * 1024, 'x');
  c.send(post_head("/api/plain", "admin-secret",
                   "Content-Length: " + std::to_string(body.size()) + "\r\n") +
         body);
  // The server refused before reading; the client sent everything anyway and only then
  // reads. Closing with unread bytes would reset the connection and lose the answer.
  const std::string answer = c.read_until_closed();
  EXPECT_EQ(status_of(answer), 413) << answer;
  EXPECT_NE(answer.find("payload_too_large"), std::string::npos) << answer;
}

TEST_F(HttpLimitsTest, BodyOnAnUnknownRouteIsRefusedUnread) {
  start(small_limits());
  RawClient c(port_);
  c.send(post_head("/api/nowhere", "", "Transfer-Encoding: chunked\r\n") + "10\r\n");
  const std::string answer = c.read_until_closed();
  EXPECT_EQ(status_of(answer), 404) << answer;
  EXPECT_TRUE(c.closed());
}

TEST_F(HttpLimitsTest, EndlessHeaderLineIs431AndClosed) {
  start(small_limits());
  const long before = rss_kib();
  RawClient c(port_);
  c.send("GET /health HTTP/1.1\r\nX-Long: ");
  const std::string filler(64 * 1024, 'a');
  for (int i = 0; i < 512; ++i) {  // up to 32 MiB on one line
    if (!c.send(filler)) break;
  }
  const std::string answer = c.read_until_closed();
  EXPECT_EQ(status_of(answer), 431) << answer.substr(0, 200);
  EXPECT_TRUE(c.closed());
  EXPECT_LT(rss_kib() - before, 16 * 1024);
}

TEST_F(HttpLimitsTest, EndlessRequestLineIsCut) {
  start(small_limits());
  RawClient c(port_);
  c.send("GET /");
  const std::string filler(64 * 1024, 'a');
  for (int i = 0; i < 512; ++i) {
    if (!c.send(filler)) break;
  }
  c.read_until_closed();
  EXPECT_TRUE(c.closed());
  EXPECT_NE(metrics_.render().find(R"(http_requests_cut_total{reason="head_too_large"} 1)"),
            std::string::npos)
      << metrics_.render();
}

TEST_F(HttpLimitsTest, TricklingHeadIsCutAtTheHeadDeadline) {
  start(small_limits());  // read_timeout 1 s: the whole head must arrive within it
  RawClient c(port_);
  const std::string head = "GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaa\r\n";
  const auto started = Clock::now();
  bool cut = false;
  // One byte every 100 ms never lets a single read time out.
  for (char byte : head) {
    if (!c.send(std::string(1, byte))) {
      cut = true;
      break;
    }
    pollfd p{-1, 0, 0};
    ::poll(&p, 0, 100);  // pace the trickle: this is the client's behaviour under test
    if (Clock::now() - started > std::chrono::seconds(5)) break;
  }
  const std::string answer = c.read_until_closed(std::chrono::seconds(5));
  EXPECT_TRUE(cut || c.closed());
  if (!answer.empty()) {
    EXPECT_EQ(status_of(answer), 408) << answer;
  }
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(4));
}

TEST_F(HttpLimitsTest, GetWithABodyIsRefused) {
  start(small_limits());
  RawClient c(port_);
  c.send("GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n" +
         std::string("GET /health HTTP/1.1\r\nHost: smuggled\r\n\r\n").substr(0, 40));
  const std::string answer = c.read_until_closed();
  EXPECT_EQ(status_of(answer), 400) << answer;
  EXPECT_EQ(answer.find("HTTP/1.1 200"), std::string::npos) << "the body ran as a request";
}

TEST_F(HttpLimitsTest, InventedMethodsShareOneMetricLabel) {
  start(small_limits());
  // 10,000 distinct methods. A malformed request line ends its connection (nothing
  // after it can be framed), so each goes on a connection of its own.
  for (int i = 0; i < 10000; ++i) {
    RawClient c(port_);
    ASSERT_TRUE(c.connected());
    c.send("M" + std::to_string(i) + " /x HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string answer = c.read_until_closed(std::chrono::seconds(5));
    ASSERT_EQ(status_of(answer), 400) << answer;
    ASSERT_TRUE(c.closed());
  }
  const std::string text = metrics_.render();
  std::set<std::string> methods;
  for (std::size_t at = text.find("method=\""); at != std::string::npos;
       at = text.find("method=\"", at + 1)) {
    const std::size_t end = text.find('"', at + 8);
    methods.insert(text.substr(at + 8, end - at - 8));
  }
  EXPECT_LE(methods.size(), 3u) << text;
  EXPECT_EQ(methods.count("M42"), 0u);
}

TEST_F(HttpLimitsTest, StreamsHaveTheirOwnThreadsAndAPerClientCap) {
  start(small_limits());  // 2 request workers, 4 streams, 2 per client
  std::vector<std::unique_ptr<RawClient>> streams;
  auto open_stream = [&](const std::string& token) {
    auto c = std::make_unique<RawClient>(port_);
    c->send("GET /api/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\n\r\n");
    const int status = status_of(c->read_response());
    streams.push_back(std::move(c));
    return status;
  };
  EXPECT_EQ(open_stream("viewer-secret"), 200);
  EXPECT_EQ(open_stream("viewer-secret"), 200);
  EXPECT_EQ(open_stream("viewer-secret"), 429) << "one client may not take every stream";
  EXPECT_EQ(open_stream("admin-secret"), 200);
  EXPECT_EQ(open_stream("admin-secret"), 200);
  // Every stream slot is taken and the API still answers at once.
  for (int i = 0; i < 5; ++i) {
    RawClient c(port_);
    const auto asked = Clock::now();
    c.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(status_of(c.read_response()), 200);
    EXPECT_LT(Clock::now() - asked, std::chrono::seconds(1));
  }
}

TEST_F(HttpLimitsTest, OpenStreamsAndTricklingClientsDoNotStarveTheApi) {
  ServerOptions o = small_limits();
  o.threads = 4;
  o.max_streams = 250;
  o.max_streams_per_client = 250;
  o.read_timeout = std::chrono::seconds(30);  // tricklers stay within every deadline
  start(o);
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 200; ++i) {
    auto c = std::make_unique<RawClient>(port_);
    c->send("GET /api/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer viewer-secret\r\n\r\n");
    ASSERT_EQ(status_of(c->read_response()), 200) << "stream " << i;
    held.push_back(std::move(c));
  }
  for (int i = 0; i < 100; ++i) {
    auto c = std::make_unique<RawClient>(port_);
    c->send("GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ");  // never finished
    held.push_back(std::move(c));
  }
  std::vector<double> ms;
  for (int i = 0; i < 50; ++i) {
    RawClient c(port_);
    const auto asked = Clock::now();
    c.send(
        "POST /api/plain HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer admin-secret\r\n"
        "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
    ASSERT_EQ(status_of(c.read_response()), 200);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - asked).count());
  }
  std::sort(ms.begin(), ms.end());
  EXPECT_LT(ms[ms.size() / 2], 100.0) << "median with 200 streams and 100 tricklers open";
  EXPECT_LT(ms.back(), 1000.0) << "slowest";
}

TEST_F(HttpLimitsTest, StopDoesNotWaitForIdleConnections) {
  start(small_limits());
  RawClient idle(port_);
  idle.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(status_of(idle.read_response()), 200);
  RawClient silent(port_);  // connected, never sends
  const auto asked = Clock::now();
  server_->stop();
  EXPECT_LT(Clock::now() - asked, std::chrono::milliseconds(900));
}

}  // namespace
}  // namespace shopeasy::http
