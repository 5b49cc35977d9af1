// Hardening of the real daemons, as an attacker or a careless client would meet it:
// staff sign-in with sessions that expire, roles per route, the audit trail, the cookie
// only for reads, per-client rate limits with Retry-After, size limits on bodies and
// headers, slow clients cut off, configuration reload on SIGHUP, customer JWTs (forged,
// unsigned, expired, wrong audience) on the cloud, and TLS to the cloud with a pinned CA
// where a certificate from another CA is refused. Each refusal is a clear error and
// changes nothing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <zlib.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "common/clock/clock.hpp"
#include "common/http/auth.hpp"
#include "common/http/client.hpp"
#include "common/security/encoding.hpp"
#include "common/security/jwt.hpp"
#include "common/security/user_store.hpp"
#include "tests/harness/net.hpp"
#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kAdminPassword = "correct horse battery staple";
constexpr const char* kPickerPassword = "picker password 1";

class EdgeSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("edge-security");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    std::filesystem::create_directories(state_dir());
    // Users made the way the CLI makes them, before the daemon starts.
    SystemClock clock;
    security::UserStoreOptions o;
    o.path = state_dir() + "/users.db";
    o.password_params = security::PasswordParams::weak();
    auto users = security::UserStore::open(o, clock);
    ASSERT_TRUE(users.ok()) << users.status().to_string();
    const security::Actor cli{"cli:test", "admin", ""};
    ASSERT_TRUE((*users)->add_user("ana", "admin", kAdminPassword, cli).is_ok());
    ASSERT_TRUE((*users)->add_user("pete", "picker", kPickerPassword, cli).is_ok());
  }

  std::string state_dir() const { return dir_->file("edge").string(); }

  void start_edge(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--http.port=0", "--state_dir=" + state_dir(),
                                     "--mqtt.enabled=false", "--store.durable=false"};
    for (auto& a : extra) args.push_back(std::move(a));
    auto edge = start_daemon("shopeasy-edge", args);
    ASSERT_TRUE(edge.ok()) << edge.status().to_string();
    edge_.emplace(std::move(*edge));
  }

  HttpReply call(const std::string& method, const std::string& path, const std::string& body = "",
                 std::map<std::string, std::string> headers = {}) {
    if (!body.empty() && !headers.count("Content-Type")) {
      headers["Content-Type"] = "application/json";
    }
    auto r = http_request("127.0.0.1", edge_->http_port, method, path, body, headers);
    EXPECT_TRUE(r.has_value()) << method << " " << path;
    return r.value_or(HttpReply{});
  }

  std::string login(const std::string& user, const std::string& password) {
    auto r = call("POST", "/api/session", json{{"user", user}, {"password", password}}.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body, nullptr, false).value("token", "");
  }

  std::optional<TempDir> dir_;
  std::optional<RunningDaemon> edge_;
};

TEST_F(EdgeSecurityTest, SignInRolesAndAuditTrail) {
  start_edge();
  // Without credentials only /health answers.
  EXPECT_EQ(call("GET", "/health").status, 200);
  EXPECT_EQ(call("GET", "/api/stock").status, 401);

  auto bad = call("POST", "/api/session", R"({"user":"ana","password":"wrong"})");
  EXPECT_EQ(bad.status, 401);
  auto unknown = call("POST", "/api/session", R"({"user":"nobody","password":"wrong"})");
  EXPECT_EQ(unknown.status, 401);
  // The same answer for a wrong password and an unknown user.
  EXPECT_EQ(json::parse(bad.body)["error"]["message"],
            json::parse(unknown.body)["error"]["message"]);
  EXPECT_EQ(call("POST", "/api/session", R"({"user":"ana"})").status, 400);
  EXPECT_EQ(call("POST", "/api/session", "not json").status, 400);

  const std::string admin = login("ana", kAdminPassword);
  const std::string picker = login("pete", kPickerPassword);
  ASSERT_FALSE(admin.empty());
  ASSERT_FALSE(picker.empty());
  auto me = call("GET", "/api/session", "", bearer(picker));
  ASSERT_EQ(me.status, 200);
  EXPECT_EQ(json::parse(me.body)["role"], "picker");

  // A picker may read stock but not administer users, read the audit log or edit runners.
  EXPECT_EQ(call("GET", "/api/stock", "", bearer(picker)).status, 200);
  EXPECT_EQ(call("GET", "/api/users", "", bearer(picker)).status, 403);
  EXPECT_EQ(call("GET", "/api/audit", "", bearer(picker)).status, 403);
  EXPECT_EQ(
      call("POST", "/api/users", R"({"name":"eve","role":"admin","password":"x"})", bearer(picker))
          .status,
      403);
  EXPECT_EQ(call("PUT", "/api/runners/r-1", R"({"name":"Ravi"})", bearer(picker)).status, 403);

  // The admin adds a manager and edits a runner; both show in the audit log with who,
  // what and from where. Refused attempts changed nothing.
  auto added =
      call("POST", "/api/users", R"({"name":"mia","role":"manager","password":"manager password"})",
           bearer(admin));
  ASSERT_EQ(added.status, 201) << added.body;
  EXPECT_EQ(
      call("POST", "/api/users", R"({"name":"mia","role":"manager","password":"x"})", bearer(admin))
          .status,
      409);
  EXPECT_EQ(call("POST", "/api/users", R"({"name":"bad name!","role":"manager","password":"x"})",
                 bearer(admin))
                .status,
            400);
  EXPECT_EQ(call("PUT", "/api/runners/r-1", R"({"name":"Ravi"})", bearer(admin)).status / 100, 2);
  auto users = call("GET", "/api/users", "", bearer(admin));
  ASSERT_EQ(users.status, 200);
  EXPECT_EQ(json::parse(users.body)["users"].size(), 3u);  // no eve

  auto audit = call("GET", "/api/audit?limit=1000", "", bearer(admin));
  ASSERT_EQ(audit.status, 200) << audit.body;
  bool saw_user_add = false, saw_runner = false, saw_failed_login = false;
  const json log = json::parse(audit.body);
  for (const auto& e : log["entries"]) {
    if (e["action"] == "user.add" && e["target"] == "mia") {
      saw_user_add = e["actor"] == "ana" && e["remote_addr"] == "127.0.0.1";
    }
    if (e["action"] == "runner.put") saw_runner = e["actor"] == "ana" && e["role"] == "admin";
    if (e["action"] == "session.login_failed") saw_failed_login = true;
    EXPECT_EQ(e.dump().find("manager password"), std::string::npos) << "password in audit";
  }
  EXPECT_TRUE(saw_user_add) << audit.body;
  EXPECT_TRUE(saw_runner) << audit.body;
  EXPECT_TRUE(saw_failed_login) << audit.body;
  EXPECT_EQ(call("GET", "/api/audit?limit=0", "", bearer(admin)).status, 400);

  // Signing out ends the session at once.
  EXPECT_EQ(call("DELETE", "/api/session", "", bearer(picker)).status, 200);
  EXPECT_EQ(call("GET", "/api/stock", "", bearer(picker)).status, 401);
}

TEST_F(EdgeSecurityTest, CookieOnlyForReadsAndSessionsExpire) {
  start_edge({"--auth.session_ttl_s=2"});
  const std::string admin = login("ana", kAdminPassword);
  const std::map<std::string, std::string> cookie = {
      {"Cookie", "theme=dark; shopeasy_session=" + admin}};
  EXPECT_EQ(call("GET", "/api/stock", "", cookie).status, 200);
  // A change cannot ride on the cookie (another site could make a browser send it).
  auto via_cookie =
      call("POST", "/api/users", R"({"name":"zed","role":"viewer","password":"pw"})",
           {{"Cookie", "shopeasy_session=" + admin}, {"Content-Type", "application/json"}});
  EXPECT_EQ(via_cookie.status, 401);
  // Expiry: the same token stops working without anyone signing out.
  EXPECT_TRUE(wait_for([&] { return call("GET", "/api/stock", "", bearer(admin)).status == 401; },
                       10s, 100ms));
  auto expired = call("GET", "/api/stock", "", bearer(admin));
  EXPECT_NE(expired.body.find("expired"), std::string::npos) << expired.body;
}

TEST_F(EdgeSecurityTest, RateLimitsAndSizeLimits) {
  start_edge({"--http.rate_limit_per_s=1", "--http.rate_limit_burst=5",
              "--http.max_body_bytes=4096", "--http.max_header_bytes=4096",
              "--http.read_timeout_s=1", "--auth.tokens=" + admin_tokens_json()});
  int refused = 0;
  std::string retry_after;
  for (int i = 0; i < 12; ++i) {
    auto r = call("GET", "/api/stock", "", bearer());
    if (r.status == 429) {
      ++refused;
      retry_after = r.headers["retry-after"];
    } else {
      EXPECT_EQ(r.status, 200);
    }
  }
  EXPECT_GE(refused, 5);
  EXPECT_FALSE(retry_after.empty());
  EXPECT_GE(std::stoi(retry_after), 1);

  // Sign-in attempts have their own, stricter budget per address.
  int login_refused = 0;
  for (int i = 0; i < 15; ++i) {
    auto r = call("POST", "/api/session", R"({"user":"ana","password":"guess"})");
    if (r.status == 429) ++login_refused;
  }
  EXPECT_GE(login_refused, 1);

  // Bodies and headers above their limits, refused before any handler runs.
  ASSERT_TRUE(wait_for([&] { return call("GET", "/health").status == 200; }, 10s, 200ms));
  auto big_body = call("POST", "/api/session", std::string(8192, 'x'));
  EXPECT_EQ(big_body.status, 413);
  auto big_header = call("GET", "/health", "", {{"X-Filler", std::string(6000, 'y')}});
  EXPECT_EQ(big_header.status, 431);

  // A client that starts a request and never finishes it is cut off by the read
  // timeout, and others are served meanwhile.
  auto slow = connect_tcp("127.0.0.1", edge_->http_port, 2s);
  ASSERT_TRUE(slow.ok());
  const std::string partial = "GET /health HTTP/1.1\r\nHost: x\r\n";
  ASSERT_EQ(::write(slow->get(), partial.data(), partial.size()),
            static_cast<ssize_t>(partial.size()));
  EXPECT_EQ(call("GET", "/health").status, 200);
  const auto started = std::chrono::steady_clock::now();
  char buf[256];
  timeval tv{10, 0};
  ::setsockopt(slow->get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const ssize_t n = ::read(slow->get(), buf, sizeof buf);
  // Either the connection is dropped or it gets 408; never an answer to the request.
  const std::string answer = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
  EXPECT_TRUE(n <= 0 || answer.rfind("HTTP/1.1 408", 0) == 0)
      << "the server answered a request it never fully received: " << answer;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 8s);
}

TEST_F(EdgeSecurityTest, ReloadAppliesSafeSettingsOnSighup) {
  ASSERT_TRUE(
      dir_->write_file("edge.json", json{{"http", {{"rate_limit_per_s", 0}}}}.dump()).is_ok());
  start_edge(
      {"--config=" + dir_->file("edge.json").string(), "--auth.tokens=" + admin_tokens_json()});
  for (int i = 0; i < 30; ++i) ASSERT_EQ(call("GET", "/api/stock", "", bearer()).status, 200);

  ASSERT_TRUE(dir_->write_file("edge.json",
                               json{{"http", {{"rate_limit_per_s", 1}, {"rate_limit_burst", 2}}},
                                    {"store", {{"name", "Renamed"}}}}
                                   .dump())
                  .is_ok());
  ASSERT_TRUE(edge_->process.send_signal(SIGHUP).is_ok());
  const std::optional<std::string> reloaded = edge_->process.wait_for_line("event=reloaded", 10s);
  ASSERT_TRUE(reloaded) << edge_->process.output();
  EXPECT_NE(reloaded->find("store.name"), std::string::npos)
      << "the key needing a restart is named: " << *reloaded;
  int refused = 0;
  for (int i = 0; i < 10; ++i) refused += call("GET", "/api/stock", "", bearer()).status == 429;
  EXPECT_GE(refused, 5);

  // A broken file is refused and the running settings stay.
  ASSERT_TRUE(dir_->write_file("edge.json", "{ not json").is_ok());
  ASSERT_TRUE(edge_->process.send_signal(SIGHUP).is_ok());
  ASSERT_TRUE(edge_->process.wait_for_output("event=reload_refused", 10s))
      << edge_->process.output();
  EXPECT_TRUE(edge_->process.is_running());
}

// --- cloud: customer JWTs --------------------------------------------------------

constexpr const char* kJwtSecret = "0123456789abcdef0123456789abcdef-test";

class CloudJwtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("cloud-jwt");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    const json keys = json::array({{{"alg", "HS256"}, {"secret", kJwtSecret}}});
    auto cloud =
        start_daemon("shopeasy-cloud",
                     {"--http.port=0", "--state_dir=" + dir_->file("cloud").string(),
                      "--auth.tokens=" + admin_tokens_json(), "--auth.jwt.issuer=https://id.test",
                      "--auth.jwt.audience=shopeasy-cloud", "--auth.jwt.keys=" + keys.dump()});
    ASSERT_TRUE(cloud.ok()) << cloud.status().to_string();
    cloud_.emplace(std::move(*cloud));
  }

  std::string sign(json claims, const std::string& secret = kJwtSecret) {
    security::JwtKey key{security::JwtAlgorithm::kHS256, secret, ""};
    auto signer = security::JwtSigner::create(key);
    EXPECT_TRUE(signer.ok());
    auto token = signer->sign(claims);
    EXPECT_TRUE(token.ok());
    return token.value_or("");
  }

  json claims(std::int64_t exp_offset_s = 600) {
    const std::int64_t now = to_unix_ms(SystemClock().wall_now()) / 1000;
    return {{"iss", "https://id.test"},
            {"aud", "shopeasy-cloud"},
            {"sub", "customer-42"},
            {"iat", now},
            {"exp", now + exp_offset_s}};
  }

  HttpReply get_as(const std::string& token,
                   const std::string& path = "/api/stores?geo_hash=tdr1w") {
    auto r = http_request("127.0.0.1", cloud_->http_port, "GET", path, "", bearer(token));
    EXPECT_TRUE(r.has_value());
    return r.value_or(HttpReply{});
  }

  std::optional<TempDir> dir_;
  std::optional<RunningDaemon> cloud_;
};

TEST_F(CloudJwtTest, AcceptsOnlyProperlySignedCurrentTokens) {
  EXPECT_EQ(get_as(sign(claims())).status, 200);

  // Signed with another key.
  auto forged = get_as(sign(claims(), "another-secret-that-is-32-bytes-long!!"));
  EXPECT_EQ(forged.status, 401);
  // "alg": "none" with no signature.
  const std::string none_header = security::base64url_encode(R"({"alg":"none","typ":"JWT"})");
  const std::string payload = security::base64url_encode(claims().dump());
  EXPECT_EQ(get_as(none_header + "." + payload + ".").status, 401);
  // A valid signature over a payload that was changed afterwards.
  std::string token = sign(claims());
  const auto dot1 = token.find('.');
  const auto dot2 = token.find('.', dot1 + 1);
  json tampered = claims();
  tampered["sub"] = "customer-1";
  EXPECT_EQ(get_as(token.substr(0, dot1 + 1) + security::base64url_encode(tampered.dump()) +
                   token.substr(dot2))
                .status,
            401);
  // Expired beyond the leeway, wrong audience, wrong issuer.
  auto expired = get_as(sign(claims(-3600)));
  EXPECT_EQ(expired.status, 401);
  EXPECT_NE(expired.body.find("expired"), std::string::npos) << expired.body;
  json aud = claims();
  aud["aud"] = "someone-else";
  EXPECT_EQ(get_as(sign(aud)).status, 401);
  json iss = claims();
  iss["iss"] = "https://evil.test";
  EXPECT_EQ(get_as(sign(iss)).status, 401);
  // A customer may not call an operator route.
  auto admin_route = get_as(sign(claims()), "/v1/stores");
  EXPECT_EQ(admin_route.status, 403);
  // The operator's configured token still works beside JWTs.
  EXPECT_EQ(get_as(kAdminToken, "/v1/stores").status, 200);
}

TEST(CloudJwtConfigTest, BadKeyIsAConfigErrorNamingTheKey) {
  auto dir = TempDir::create("cloud-jwt-bad");
  ASSERT_TRUE(dir.ok());
  SpawnOptions spawn;
  spawn.argv = {binary_path("shopeasy-cloud"), "--http.port=0",
                "--state_dir=" + dir->file("c").string(), "--auth.jwt.issuer=https://id.test",
                R"(--auth.jwt.keys=[{"alg":"HS256","secret":"short"}])"};
  auto cloud = ChildProcess::spawn(spawn);
  ASSERT_TRUE(cloud.ok());
  auto code = cloud->wait_exit(20s);
  ASSERT_TRUE(code.has_value());
  EXPECT_NE(*code, 0);
  EXPECT_NE(cloud->output().find("auth.jwt.keys[0]"), std::string::npos) << cloud->output();
  EXPECT_EQ(cloud->output().find("short"), std::string::npos) << "the secret leaked to the log";
}

// --- TLS between the edge and the cloud ---------------------------------------------

constexpr const char* kStoreSecret = "tls-store-secret-0123456789";

Status make_certs(const std::filesystem::path& dir) {
  SpawnOptions o;
  o.argv = {"bash", std::string(SHOPEASY_SOURCE_DIR) + "/scripts/make-certs.sh", dir.string()};
  auto p = ChildProcess::spawn(o);
  if (!p.ok()) return p.status();
  auto code = p->wait_exit(60s);
  if (code != 0) return internal_error("make-certs.sh failed: " + p->output());
  return Status::ok();
}

TEST(CloudTlsTest, EdgeSyncsOnlyWithThePinnedCa) {
  auto dir = TempDir::create("tls");
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(make_certs(dir->file("ca-good")).is_ok());
  ASSERT_TRUE(make_certs(dir->file("ca-other")).is_ok());
  const std::string good = dir->file("ca-good").string();
  const std::string other = dir->file("ca-other").string();

  auto cloud =
      start_daemon("shopeasy-cloud", {"--http.port=0", "--state_dir=" + dir->file("cloud").string(),
                                      "--auth.tokens=" + admin_tokens_json(),
                                      "--http.tls_cert_file=" + good + "/server.crt",
                                      "--http.tls_key_file=" + good + "/server.key"});
  ASSERT_TRUE(cloud.ok()) << cloud.status().to_string();
  const std::string url = "https://127.0.0.1:" + std::to_string(cloud->http_port);

  // Plain HTTP to the TLS port gets no answer.
  auto plain = http_request("127.0.0.1", cloud->http_port, "GET", "/health", "", {}, 2s);
  EXPECT_FALSE(plain.has_value() && plain->status == 200);

  // An operator client trusting the right CA registers the store.
  http::ClientOptions co;
  co.ca_file = good + "/ca.crt";
  co.bearer_token = kAdminToken;
  auto admin = http::HttpClient::create(url, co);
  ASSERT_TRUE(admin.ok());
  auto put = (*admin)->put("/v1/stores/tls-store",
                           json{{"name", "TLS store"},
                                {"lat", 12.97},
                                {"lon", 77.59},
                                {"service_radius_m", 3000},
                                {"secret", kStoreSecret}}
                               .dump(),
                           "application/json");
  ASSERT_TRUE(put.ok()) << put.status().to_string();
  ASSERT_EQ(put->status, 200) << put->body;

  // A client pinned to another CA refuses the cloud's certificate.
  http::ClientOptions wrong = co;
  wrong.ca_file = other + "/ca.crt";
  auto mistrusting = http::HttpClient::create(url, wrong);
  ASSERT_TRUE(mistrusting.ok());
  auto refused = (*mistrusting)->get("/health");
  EXPECT_FALSE(refused.ok());

  auto edge_args = [&](const std::string& ca) {
    return std::vector<std::string>{"--http.port=0",
                                    "--state_dir=" + dir->file("edge").string(),
                                    "--mqtt.enabled=false",
                                    "--store.id=tls-store",
                                    "--sync.enabled=true",
                                    "--sync.url=" + url,
                                    "--sync.store_secret=" + std::string(kStoreSecret),
                                    "--sync.ca_file=" + ca,
                                    "--sync.heartbeat_ms=200",
                                    "--auth.tokens=" + admin_tokens_json()};
  };
  auto sync_state = [](const RunningDaemon& edge) {
    auto h = get(edge, "/health", bearer());
    return h ? json::parse(h->body, nullptr, false)["sync"] : json();
  };
  {
    auto edge = start_daemon("shopeasy-edge", edge_args(other + "/ca.crt"));
    ASSERT_TRUE(edge.ok()) << edge.status().to_string();
    ASSERT_TRUE(wait_for([&] { return sync_state(*edge).contains("last_error"); }, 20s, 100ms))
        << sync_state(*edge).dump();
    EXPECT_NE(sync_state(*edge)["last_error"].dump().find("unavailable"), std::string::npos)
        << sync_state(*edge).dump();
    auto status = (*admin)->get("/v1/stores/tls-store/sync-status");
    ASSERT_TRUE(status.ok());
    EXPECT_FALSE(json::parse(status->body).contains("last_seen_ms")) << status->body;
    edge->process.terminate_and_wait(10s);
  }
  auto edge = start_daemon("shopeasy-edge", edge_args(good + "/ca.crt"));
  ASSERT_TRUE(edge.ok()) << edge.status().to_string();
  EXPECT_TRUE(wait_for(
      [&] {
        auto status = (*admin)->get("/v1/stores/tls-store/sync-status");
        return status.ok() &&
               json::parse(status->body, nullptr, false).value("last_seen_ms", 0) > 0;
      },
      20s, 100ms));
}

// The store's broker with its device listener on TLS: the edge connects when it trusts
// the broker's CA and refuses a broker whose certificate another CA signed.
TEST(MqttTlsTest, EdgeConnectsOnlyToABrokerItsCaSigned) {
  auto dir = TempDir::create("mqtt-tls");
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(make_certs(dir->file("ca-good")).is_ok());
  ASSERT_TRUE(make_certs(dir->file("ca-other")).is_ok());
  const std::string good = dir->file("ca-good").string();
  MosquittoOptions mo;
  mo.extra_config = {"cafile " + good + "/ca.crt", "certfile " + good + "/broker.crt",
                     "keyfile " + good + "/broker.key", "tls_version tlsv1.2"};
  auto broker = MosquittoBroker::start(mo);
  ASSERT_TRUE(broker.ok()) << broker.status().to_string();

  auto start_edge = [&](const std::string& name, const std::string& ca) {
    return start_daemon(
        "shopeasy-edge",
        {"--http.port=0", "--state_dir=" + dir->file(name).string(), "--mqtt.host=localhost",
         "--mqtt.port=" + std::to_string(broker->port()), "--mqtt.ca_file=" + ca,
         "--mqtt.client_id=" + name, "--store.durable=false"});
  };
  auto connected = [](const RunningDaemon& edge) {
    auto h = get(edge, "/health");
    return h && json::parse(h->body, nullptr, false)["mqtt"].value("connected", false);
  };
  auto mistrusting = start_edge("edge-wrong-ca", dir->file("ca-other").string() + "/ca.crt");
  ASSERT_TRUE(mistrusting.ok()) << mistrusting.status().to_string();
  auto trusting = start_edge("edge-right-ca", good + "/ca.crt");
  ASSERT_TRUE(trusting.ok()) << trusting.status().to_string();
  EXPECT_TRUE(wait_for([&] { return connected(*trusting); }, 20s, 100ms))
      << trusting->process.output();
  // By the time the trusting edge is in, the other has tried and been refused.
  EXPECT_TRUE(mistrusting->process.wait_for_output("broker_", 20s));
  EXPECT_FALSE(connected(*mistrusting)) << mistrusting->process.output();
}

// Resident memory of a process in KiB (0 if it cannot be read).
long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

// 256 MiB of one byte, gzip-compressed (about 256 KiB).
std::string gzip_bomb() {
  z_stream z{};
  deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
  const std::string chunk(1 << 20, '{');
  std::string out;
  char buf[1 << 16];
  for (int i = 0; i < 256; ++i) {
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(chunk.data()));
    z.avail_in = static_cast<uInt>(chunk.size());
    const int flush = i == 255 ? Z_FINISH : Z_NO_FLUSH;
    do {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof buf;
      deflate(&z, flush);
      out.append(buf, sizeof buf - z.avail_out);
    } while (z.avail_out == 0);
  }
  deflateEnd(&z);
  return out;
}

// Sends `head` then `body` on a raw connection and returns what comes back before the
// server closes it (or 20 s pass).
std::string raw_exchange(int port, const std::string& head, const std::string& body) {
  auto fd = connect_tcp("127.0.0.1", port, 2s);
  if (!fd.ok()) return {};
  // Blocking, with a deadline per read: the answer may come only once the whole body
  // has been sent.
  ::fcntl(fd->get(), F_SETFL, ::fcntl(fd->get(), F_GETFL) & ~O_NONBLOCK);
  timeval tv{20, 0};
  ::setsockopt(fd->get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string all = head + body;
  std::size_t sent = 0;
  while (sent < all.size()) {
    const ssize_t n = ::send(fd->get(), all.data() + sent, all.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close early: what it said still counts
    sent += static_cast<std::size_t>(n);
  }
  std::string answer;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd->get(), buf, sizeof buf, 0);
    if (n <= 0) break;
    answer.append(buf, static_cast<std::size_t>(n));
  }
  return answer;
}

// Every way to make a daemon read, inflate or buffer a body before it knows who is
// asking, against the real edge and cloud: the answer is a refusal and their memory
// stays where it was.
TEST(BodyBombTest, EdgeAndCloudRefuseBombsWithoutGrowing) {
  auto dir = TempDir::create("body-bombs");
  ASSERT_TRUE(dir.ok());
  auto edge = start_daemon("shopeasy-edge",
                           {"--http.port=0", "--state_dir=" + dir->file("edge").string(),
                            "--mqtt.enabled=false", "--store.durable=false",
                            "--http.rate_limit_per_s=0", "--auth.tokens=" + admin_tokens_json()});
  ASSERT_TRUE(edge.ok()) << edge.status().to_string();
  // The cloud's body cap is lowered to the edge's, so a body read up to the cap cannot
  // pass for growth (the default, 16 MiB, is a legitimate allocation).
  auto cloud =
      start_daemon("shopeasy-cloud", {"--http.port=0", "--state_dir=" + dir->file("cloud").string(),
                                      "--http.rate_limit_per_s=0", "--http.max_body_bytes=1048576",
                                      "--auth.tokens=" + admin_tokens_json()});
  ASSERT_TRUE(cloud.ok()) << cloud.status().to_string();
  const std::string bomb = gzip_bomb();
  const std::string big_line(4 << 20, 'a');
  struct Target {
    std::string name;
    RunningDaemon* daemon;
    std::string post_path;  // a route that takes a body
  };
  std::vector<Target> targets = {{"edge", &*edge, "/api/session"},
                                 {"cloud", &*cloud, "/v1/stores/s1/sync"}};
  for (const Target& t : targets) {
    SCOPED_TRACE(t.name);
    const pid_t pid = t.daemon->process.pid();
    const long before = rss_kib(pid);
    ASSERT_GT(before, 0);
    const std::string post =
        "POST " + t.post_path + " HTTP/1.1\r\nHost: x\r\n" + "Content-Type: application/json\r\n";
    for (const std::string& encoding : {std::string("gzip"), std::string("br")}) {
      const std::string answer =
          raw_exchange(t.daemon->http_port,
                       post + "Content-Encoding: " + encoding +
                           "\r\nContent-Length: " + std::to_string(bomb.size()) + "\r\n\r\n",
                       bomb);
      EXPECT_NE(answer.rfind("HTTP/1.1 4", 0), std::string::npos) << encoding << ": " << answer;
    }
    // No length at all (chunked), far past the cap.
    std::string chunked;
    const std::string chunk(64 * 1024, 'x');
    for (int i = 0; i < 512; ++i) chunked += "10000\r\n" + chunk + "\r\n";
    const std::string cut =
        raw_exchange(t.daemon->http_port, post + "Transfer-Encoding: chunked\r\n\r\n", chunked);
    EXPECT_NE(cut.rfind("HTTP/1.1 4", 0), std::string::npos) << cut.substr(0, 200);
    // One endless header line.
    const std::string header =
        raw_exchange(t.daemon->http_port, "GET /health HTTP/1.1\r\nX-Long: ", big_line);
    EXPECT_NE(header.rfind("HTTP/1.1 431", 0), std::string::npos) << header.substr(0, 200);
    EXPECT_LT(rss_kib(pid) - before, 32 * 1024)
        << "RSS grew from " << before << " KiB to " << rss_kib(pid) << " KiB";
    EXPECT_EQ(get(*t.daemon, "/health")->status, 200);
  }
}

TEST_F(EdgeSecurityTest, FailedAuthenticationsSpendTheRateBudget) {
  start_edge({"--http.rate_limit_per_s=1", "--http.rate_limit_burst=5",
              "--auth.tokens=" + admin_tokens_json()});
  int refused = 0;
  for (int i = 0; i < 20; ++i) {
    const auto r = call("GET", "/api/stock", "", bearer("guess-" + std::to_string(i)));
    if (r.status == 429) ++refused;
  }
  EXPECT_GE(refused, 10) << "guessing tokens must be as slow as any other call";
}

}  // namespace
}  // namespace shopeasy::testing
