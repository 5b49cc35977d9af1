// Hardening claims checked against the real daemons rather than in-process: invented
// HTTP methods cannot grow the metrics' label sets, a refused configuration reload
// never echoes a secret's value, and the cloud's payment routes answer the very first
// request it accepts.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/harness/net.hpp"
#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::size_t count_of(const std::string& text, std::string_view needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

bool send_all(int fd, const std::string& data, std::chrono::steady_clock::time_point deadline) {
  for (std::size_t sent = 0; sent < data.size();) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) return false;
    if (std::chrono::steady_clock::now() > deadline) return false;
    pollfd p{fd, POLLOUT, 0};
    ::poll(&p, 1, 20);
  }
  return true;
}

// Reads from a non-blocking socket until the peer closes it, `enough(received)` holds
// or the deadline passes.
std::string read_until(int fd, std::chrono::steady_clock::time_point deadline,
                       const std::function<bool(const std::string&)>& enough) {
  std::string in;
  char buf[16384];
  while (std::chrono::steady_clock::now() < deadline && !enough(in)) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) break;
    in.append(buf, static_cast<std::size_t>(n));
  }
  return in;
}

// --- 1. invented methods -------------------------------------------------------------

// An invented method for index i: "ZQ" followed by i in base 26 (letters only, so it is
// a valid token that reaches the server's request handling).
std::string invented_method(int i) {
  std::string m = "ZQ";
  do {
    m += static_cast<char>('A' + i % 26);
    i /= 26;
  } while (i > 0);
  return m;
}

// Sends `count` requests with invented methods and no credentials to the daemon on
// `port`, pipelined over `connections` parallel sockets. A server may close a
// connection after a bad request line: what it did not answer is sent again on a fresh
// connection. Returns how many answers came back.
int flood_invented_methods(int port, int count, int connections) {
  std::atomic<int> next{0};
  std::atomic<int> answered{0};
  const auto deadline = std::chrono::steady_clock::now() + 90s;
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&] {
      constexpr int kBatch = 100;
      while (std::chrono::steady_clock::now() < deadline) {
        const int first = next.fetch_add(kBatch);
        if (first >= count) return;
        const int last = std::min(first + kBatch, count);
        for (int i = first; i < last && std::chrono::steady_clock::now() < deadline;) {
          auto fd = connect_tcp("127.0.0.1", port, 2s);
          if (!fd.ok()) continue;
          std::string batch;
          for (int j = i; j < last; ++j) {
            batch += invented_method(j) + " /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
          }
          const int expected = last - i;
          // The server may close before reading all of it: send what it takes.
          (void)send_all(fd->get(), batch, deadline);
          const std::string in = read_until(fd->get(), deadline, [&](const std::string& r) {
            return static_cast<int>(count_of(r, "HTTP/1.1 ")) >= expected;
          });
          const int got = static_cast<int>(count_of(in, "HTTP/1.1 "));
          answered += got;
          // Each request line that was not answered is sent again; one that closed the
          // connection without any answer still counts as delivered.
          i += std::max(got, 1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  return answered.load();
}

// Distinct values of method="..." in a Prometheus text exposition.
std::set<std::string> method_labels(const std::string& metrics) {
  std::set<std::string> out;
  const std::string key = "method=\"";
  for (std::size_t at = metrics.find(key); at != std::string::npos;
       at = metrics.find(key, at + 1)) {
    const std::size_t start = at + key.size();
    out.insert(metrics.substr(start, metrics.find('"', start) - start));
  }
  return out;
}

// Sum of the http_requests_total series labelled method="other".
std::int64_t counted_as_other(const std::string& metrics) {
  std::int64_t sum = 0;
  std::size_t line_start = 0;
  while (line_start < metrics.size()) {
    std::size_t line_end = metrics.find('\n', line_start);
    if (line_end == std::string::npos) line_end = metrics.size();
    const std::string line = metrics.substr(line_start, line_end - line_start);
    if (line.rfind("http_requests_total{", 0) == 0 &&
        line.find("method=\"other\"") != std::string::npos) {
      sum += std::atoll(line.c_str() + line.rfind(' ') + 1);
    }
    line_start = line_end + 1;
  }
  return sum;
}

void check_method_labels_bounded(const std::string& name, RunningDaemon& daemon) {
  SCOPED_TRACE(name);
  constexpr int kMethods = 10000;
  const auto started = std::chrono::steady_clock::now();
  const int answered = flood_invented_methods(daemon.http_port, kMethods, 4);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  std::cout << name << ": " << kMethods << " invented methods, " << answered << " answered in "
            << took.count() << " ms\n";
  EXPECT_GT(answered, 0) << "the daemon answered none of the invented methods";
  ASSERT_TRUE(daemon.process.is_running()) << daemon.process.describe();

  auto health = get(daemon, "/health");
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ(health->status, 200);
  auto metrics = get(daemon, "/metrics", bearer());
  ASSERT_TRUE(metrics.has_value());
  ASSERT_EQ(metrics->status, 200) << metrics->body;
  const std::set<std::string> labels = method_labels(metrics->body);
  const std::set<std::string> allowed = {"GET",   "HEAD",   "POST",    "PUT",
                                         "PATCH", "DELETE", "OPTIONS", "other"};
  // Listed briefly: a failure may leave thousands of them.
  std::string listed;
  std::size_t invented = 0;
  for (const std::string& label : labels) {
    if (allowed.count(label)) continue;
    if (++invented <= 10) listed += " " + label;
  }
  EXPECT_EQ(invented, 0u) << invented << " method labels outside the known verbs, e.g." << listed;
  EXPECT_LE(labels.size(), allowed.size());
  // The flood was counted, under "other".
  EXPECT_GE(counted_as_other(metrics->body), answered);
  EXPECT_EQ(metrics->body.find("method=\"ZQ"), std::string::npos);
}

TEST(InventedMethodsTest, EdgeAndCloudKeepMethodLabelsBounded) {
  auto dir = TempDir::create("invented-methods");
  ASSERT_TRUE(dir.ok());
  // Rate limits off, so every invented method reaches the request handling.
  auto edge = start_daemon("shopeasy-edge",
                           {"--http.port=0", "--state_dir=" + dir->file("edge").string(),
                            "--mqtt.enabled=false", "--store.durable=false",
                            "--http.rate_limit_per_s=0", "--auth.tokens=" + admin_tokens_json()});
  ASSERT_TRUE(edge.ok()) << edge.status().to_string();
  auto cloud = start_daemon("shopeasy-cloud",
                            {"--http.port=0", "--state_dir=" + dir->file("cloud").string(),
                             "--http.rate_limit_per_s=0", "--auth.tokens=" + admin_tokens_json()});
  ASSERT_TRUE(cloud.ok()) << cloud.status().to_string();
  check_method_labels_bounded("edge", *edge);
  check_method_labels_bounded("cloud", *cloud);
}

// --- 2. secrets in refused reloads ----------------------------------------------------

constexpr const char* kMqttPassword = "mqttpw-Xq7Zr4Lk9Tv2";
constexpr const char* kStoreSecret = "storesecret-Pw3Jd8Hn6Yc1";
// A password given as a number is still that password.
constexpr const char* kNumericSecret = "739502846193";

class ReloadSecretsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("reload-secrets");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    ASSERT_TRUE(write_config(good_config().dump()));
    auto edge = start_daemon(
        "shopeasy-edge",
        {"--config=" + dir_->file("edge.json").string(), "--http.port=0",
         "--state_dir=" + dir_->file("edge").string(), "--auth.tokens=" + admin_tokens_json()});
    ASSERT_TRUE(edge.ok()) << edge.status().to_string();
    edge_.emplace(std::move(*edge));
  }

  static json good_config() {
    return {{"mqtt", {{"enabled", false}, {"password", kMqttPassword}}},
            {"store", {{"durable", false}}},
            {"sync", {{"store_secret", kStoreSecret}}}};
  }

  bool write_config(const std::string& text) { return dir_->write_file("edge.json", text).is_ok(); }

  // Writes `text` as the config file, sends SIGHUP and waits for one more `event` line.
  void reload_expecting(const std::string& text, const std::string& event) {
    SCOPED_TRACE(text);
    const std::string needle = "event=" + event;
    const std::size_t before = count_of(edge_->process.output(), needle);
    ASSERT_TRUE(write_config(text));
    ASSERT_TRUE(edge_->process.send_signal(SIGHUP).is_ok());
    ASSERT_TRUE(
        wait_for([&] { return count_of(edge_->process.output(), needle) > before; }, 10s, 20ms))
        << "no " << needle << " after SIGHUP:\n"
        << edge_->process.output();
    auto health = get(*edge_, "/health");
    ASSERT_TRUE(health.has_value());
    EXPECT_EQ(health->status, 200);
  }

  void expect_no_secret_in_output() {
    const std::string out = edge_->process.output();
    for (const char* secret : {kMqttPassword, kStoreSecret, kNumericSecret}) {
      // Only the lines that leak it, so the failure stays readable.
      std::string leaking;
      std::size_t line_start = 0;
      while (line_start < out.size()) {
        std::size_t line_end = out.find('\n', line_start);
        if (line_end == std::string::npos) line_end = out.size();
        const std::string line = out.substr(line_start, line_end - line_start);
        if (line.find(secret) != std::string::npos) leaking += line + "\n";
        line_start = line_end + 1;
      }
      EXPECT_TRUE(leaking.empty()) << "secret " << secret << " in the daemon's output:\n"
                                   << leaking;
    }
  }

  std::optional<TempDir> dir_;
  std::optional<RunningDaemon> edge_;
};

TEST_F(ReloadSecretsTest, RefusedReloadsNeverEchoTheSecret) {
  const std::string pw = kMqttPassword;
  const std::string ss = kStoreSecret;
  // (a) Broken JSON around the secrets' text, in the ways a parser quotes what it read.
  for (const std::string& broken : {
           R"({"mqtt": {"password": ")" + pw,                 // unterminated string
           R"({"mqtt": {"password": ")" + pw + R"(" "x"}})",  // missing comma
           R"({"sync": {"store_secret": ")" + ss + R"("})",   // missing brace
           R"({"sync": {"store_secret": )" + ss + R"(}})",    // unquoted
           "{\"mqtt\": {\"password\": \"" + pw + "\n\"}}",    // raw newline in string
           R"({"mqtt": {"password": ")" + pw + R"(\q"}})",    // bad escape
           R"({"mqtt": {)" + pw + R"(: 1}})",                 // the secret as a bare key
       }) {
    reload_expecting(broken, "reload_refused");
  }
  // (b) The secret options with the wrong type, holding the secret's text.
  for (const json& wrong : {
           json{{"mqtt", {{"password", {{"value", pw}}}}}},
           json{{"mqtt", {{"password", json::array({pw})}}}},
           json{{"sync", {{"store_secret", {{ss, true}}}}}},
           json{{"mqtt", {{"password", std::stoll(kNumericSecret)}}}},
           json{{"sync", {{"store_secret", std::stod(std::string(kNumericSecret) + ".5")}}}},
       }) {
    json file = good_config();
    file.merge_patch(wrong);
    reload_expecting(file.dump(), "reload_refused");
  }
  // (c) Changes the reload refuses: plain HTTP sync to another host (the credential
  // would cross the network), a misspelled secret key holding the secret, an unknown
  // section whose value is the secret.
  {
    json file = good_config();
    file["sync"]["enabled"] = true;
    file["sync"]["url"] = "http://cloud.example.com";
    reload_expecting(file.dump(), "reload_refused");
  }
  {
    json file = good_config();
    file["mqtt"]["passwd"] = pw;
    reload_expecting(file.dump(), "reload_refused");
  }
  {
    json file = good_config();
    file["secrets"] = {{"store_secret", ss}};
    reload_expecting(file.dump(), "reload_refused");
  }
  // An accepted reload that changes a secret names the key, never either value.
  {
    json file = good_config();
    file["mqtt"]["password"] = std::string(kNumericSecret) + "-changed";
    reload_expecting(file.dump(), "reloaded");
    EXPECT_NE(edge_->process.output().find("mqtt.password"), std::string::npos)
        << "the changed key needing a restart is named";
  }
  EXPECT_TRUE(edge_->process.is_running());
  expect_no_secret_in_output();
  // Nor in the audit trail of the reloads.
  auto audit = get(*edge_, "/api/audit?limit=1000", bearer());
  ASSERT_TRUE(audit.has_value());
  ASSERT_EQ(audit->status, 200) << audit->body;
  for (const char* secret : {kMqttPassword, kStoreSecret, kNumericSecret}) {
    EXPECT_EQ(audit->body.find(secret), std::string::npos) << audit->body;
  }
}

// --- 3. payment routes from the first request -------------------------------------------

// Starts the cloud with the sandbox payments on a port chosen up front (the test must
// know it before the daemon says it started), connects as soon as the port accepts and
// sends the first request of the daemon's life to the webhook route. Returns the status
// line, or an empty string (with `why`) if the cloud could not be started on that port.
std::string first_webhook_answer(const TempDir& dir, int attempt, std::string* why) {
  const int port = free_tcp_port();
  if (port == 0) {
    *why = "no free port";
    return {};
  }
  auto child = ChildProcess::spawn(
      {.argv = {binary_path("shopeasy-cloud"), "--http.port=" + std::to_string(port),
                "--state_dir=" + dir.file("cloud" + std::to_string(attempt)).string(),
                "--auth.tokens=" + admin_tokens_json(), "--payments.provider=sandbox"}});
  if (!child.ok()) {
    *why = child.status().to_string();
    return {};
  }
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  std::optional<UniqueFd> fd;
  while (std::chrono::steady_clock::now() < deadline && child->is_running()) {
    auto c = connect_tcp("127.0.0.1", port, 50ms);
    if (c.ok()) {
      fd.emplace(std::move(*c));
      break;
    }
  }
  if (!fd) {
    *why = "the cloud never accepted a connection:\n" + child->describe();
    return {};
  }
  const std::string request =
      "POST /v1/payments/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
      "application/json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  if (!send_all(fd->get(), request, deadline)) {
    *why = "could not send the request:\n" + child->describe();
    return {};
  }
  const std::string answer = read_until(fd->get(), deadline, [](const std::string& r) {
    return r.find("\r\n") != std::string::npos;
  });
  const std::string status_line = answer.substr(0, answer.find("\r\n"));
  if (status_line.empty()) *why = "no answer:\n" + child->describe();
  child->terminate_and_wait(10s);
  return status_line;
}

TEST(PaymentRoutesTest, FirstRequestAfterStartFindsTheWebhookRoute) {
  auto dir = TempDir::create("payment-routes");
  ASSERT_TRUE(dir.ok());
  for (int attempt = 0; attempt < 5; ++attempt) {
    SCOPED_TRACE("start " + std::to_string(attempt));
    std::string why;
    std::string status_line = first_webhook_answer(*dir, attempt, &why);
    // The port chosen up front may have been taken meanwhile: one more try.
    if (status_line.empty()) status_line = first_webhook_answer(*dir, attempt + 100, &why);
    ASSERT_FALSE(status_line.empty()) << why;
    ASSERT_EQ(status_line.rfind("HTTP/1.1 ", 0), 0u) << status_line;
    const int status = std::atoi(status_line.c_str() + 9);
    EXPECT_NE(status, 404) << "the webhook route was missing: " << status_line;
    EXPECT_GE(status, 400) << status_line;  // an empty body is not a valid event
    EXPECT_LT(status, 500) << status_line;
  }
}

}  // namespace
}  // namespace shopeasy::testing
