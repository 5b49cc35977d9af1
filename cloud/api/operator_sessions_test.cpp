#include "cloud/api/operator_sessions.hpp"

#include <gtest/gtest.h>

#include <optional>

#include "common/clock/clock.hpp"
#include "tests/harness/http_probe.hpp"
#include "tests/harness/temp_dir.hpp"

namespace shopeasy::cloud::api {
namespace {

using testing::http_request_checked;
using testing::HttpReply;

constexpr const char* kMachineToken = "machine-admin-token";

class OperatorSessionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = testing::TempDir::create("operator-sessions");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    security::UserStoreOptions o;
    o.path = dir_->file("users.db").string();
    o.password_params = security::PasswordParams::weak();
    o.durable = false;
    auto users = security::UserStore::open(o, clock_);
    ASSERT_TRUE(users.ok()) << users.status().to_string();
    users_ = std::move(*users);
    const security::Actor cli{"cli:test", "admin", ""};
    ASSERT_TRUE(users_->add_user("ops", "admin", "ops-password-1", cli).is_ok());
    ASSERT_TRUE(users_->add_user("viewer", "viewer", "viewer-password-1", cli).is_ok());
    tokens_.emplace(
        std::vector<http::TokenEntry>{{"machine", "admin", http::sha256_hex(kMachineToken)}});
    auth_.emplace(*users_, clock_, *tokens_, std::vector<std::string>{"PUT /v1/pricing/enabled"});
    server_.emplace(http::ServerOptions{}, &*auth_, logger_, metrics_);
    register_operator_session_routes(*server_, *users_, clock_, metrics_, {});
    // Stand-ins for the admin routes the ops page reads and changes.
    server_->route("GET", "/v1/stores", http::Access::roles_of({"admin"}),
                   [](const http::Request& r) {
                     return http::Response::json(200, {{"who", r.principal.subject}});
                   });
    server_->route("PUT", "/v1/pricing", http::Access::roles_of({"admin"}),
                   [](const http::Request&) { return http::Response::json(200, {}); });
    server_->route("PUT", "/v1/pricing/enabled", http::Access::roles_of({"admin"}),
                   [](const http::Request& r) {
                     return http::Response::json(200, {{"who", r.principal.subject}});
                   });
    auto port = server_->start();
    ASSERT_TRUE(port.ok());
    port_ = *port;
  }
  void TearDown() override {
    if (server_) server_->stop();
  }
  HttpReply call(const std::string& method, const std::string& path, const std::string& body = "",
                 std::map<std::string, std::string> headers = {}) {
    if (!body.empty()) headers["Content-Type"] = "application/json";
    auto r = http_request_checked("127.0.0.1", port_, method, path, body, headers);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : HttpReply{};
  }
  // The session cookie's value from a Set-Cookie header.
  static std::string cookie_of(const HttpReply& r) {
    const std::string c = r.headers.count("set-cookie") ? r.headers.at("set-cookie") : "";
    const std::string prefix = std::string(kOperatorCookie) + "=";
    if (c.rfind(prefix, 0) != 0) return "";
    return c.substr(prefix.size(), c.find(';') - prefix.size());
  }

  FakeClock clock_;
  log::Logger logger_{std::make_shared<log::MemorySink>(), log::Level::kInfo, "http"};
  metrics::Registry metrics_;
  std::optional<testing::TempDir> dir_;
  std::unique_ptr<security::UserStore> users_;
  std::optional<http::TokenAuthenticator> tokens_;
  std::optional<OperatorAuthenticator> auth_;
  std::optional<http::HttpServer> server_;
  int port_ = 0;
};

TEST_F(OperatorSessionsTest, SignInGivesAnHttpOnlyCookieForReadsAndATokenForChanges) {
  const HttpReply in = call("POST", "/v1/session", R"({"user":"ops","password":"ops-password-1"})");
  ASSERT_EQ(in.status, 200) << in.body;
  const std::string set_cookie = in.headers.at("set-cookie");
  EXPECT_NE(set_cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(set_cookie.find("SameSite=Strict"), std::string::npos);
  EXPECT_NE(set_cookie.find("Path=/"), std::string::npos);
  const std::string cookie = cookie_of(in);
  const std::string token = nlohmann::json::parse(in.body)["token"];
  EXPECT_EQ(cookie, token);

  const std::string cookie_header = "other=1; " + std::string(kOperatorCookie) + "=" + cookie;
  const HttpReply read = call("GET", "/v1/stores", "", {{"Cookie", cookie_header}});
  EXPECT_EQ(read.status, 200) << read.body;
  EXPECT_EQ(nlohmann::json::parse(read.body)["who"], "ops");
  EXPECT_EQ(call("GET", "/v1/session", "", {{"Cookie", cookie_header}}).status, 200);
  // A change with only the cookie (what another site's form could make a browser send)
  // is refused; with the token in the header it goes through.
  EXPECT_EQ(call("PUT", "/v1/pricing", "{}", {{"Cookie", cookie_header}}).status, 401);
  EXPECT_EQ(call("PUT", "/v1/pricing", "{}", {{"Authorization", "Bearer " + token}}).status, 200);

  // Signing out ends the session and clears the cookie.
  const HttpReply out = call("DELETE", "/v1/session", "", {{"Authorization", "Bearer " + token}});
  ASSERT_EQ(out.status, 200) << out.body;
  EXPECT_EQ(cookie_of(out), "");
  EXPECT_NE(out.headers.at("set-cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(call("GET", "/v1/stores", "", {{"Cookie", cookie_header}}).status, 401);
  EXPECT_EQ(call("GET", "/v1/stores", "", {{"Authorization", "Bearer " + token}}).status, 401);
}

TEST_F(OperatorSessionsTest, APageHoldingOnlyTheCookieCanSignOut) {
  const HttpReply in = call("POST", "/v1/session", R"({"user":"ops","password":"ops-password-1"})");
  ASSERT_EQ(in.status, 200) << in.body;
  const std::string cookie_header = std::string(kOperatorCookie) + "=" + cookie_of(in);
  const HttpReply out = call("DELETE", "/v1/session", "", {{"Cookie", cookie_header}});
  ASSERT_EQ(out.status, 200) << out.body;
  EXPECT_EQ(nlohmann::json::parse(out.body)["signed_out"], true);
  EXPECT_EQ(call("GET", "/v1/session", "", {{"Cookie", cookie_header}}).status, 401);
}

TEST_F(OperatorSessionsTest, WrongPasswordsOtherRolesAndBadBodiesAreRefused) {
  EXPECT_EQ(call("POST", "/v1/session", R"({"user":"ops","password":"wrong"})").status, 401);
  EXPECT_EQ(call("POST", "/v1/session", R"({"user":"nobody","password":"wrong"})").status, 401);
  const HttpReply viewer =
      call("POST", "/v1/session", R"({"user":"viewer","password":"viewer-password-1"})");
  EXPECT_EQ(viewer.status, 403) << viewer.body;
  EXPECT_EQ(viewer.headers.count("set-cookie"), 0U);
  const HttpReply missing = call("POST", "/v1/session", R"({"user":"ops"})");
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(nlohmann::json::parse(missing.body)["error"]["field"], "password");
  EXPECT_EQ(call("POST", "/v1/session", R"({"user":1,"password":"x"})").status, 400);
  EXPECT_EQ(call("POST", "/v1/session", "not json").status, 400);
  EXPECT_EQ(call("GET", "/v1/session").status, 401);
  EXPECT_EQ(call("GET", "/v1/stores", "",
                 {{"Cookie", std::string(kOperatorCookie) + "=" + std::string(64, 'a')}})
                .status,
            401);
}

TEST_F(OperatorSessionsTest, MachineTokensStillWorkBesideSessions) {
  const HttpReply r =
      call("GET", "/v1/stores", "", {{"Authorization", std::string("Bearer ") + kMachineToken}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(nlohmann::json::parse(r.body)["who"], "machine");
  // Signing out with a machine token ends nothing and is not an error.
  const HttpReply out = call("DELETE", "/v1/session", "",
                             {{"Authorization", std::string("Bearer ") + kMachineToken}});
  EXPECT_EQ(out.status, 200);
  EXPECT_EQ(nlohmann::json::parse(out.body)["signed_out"], false);
}

TEST_F(OperatorSessionsTest, SignInAttemptsAreRateLimitedPerAddress) {
  int limited = 0;
  for (int i = 0; i < 15; ++i) {
    const HttpReply r = call("POST", "/v1/session", R"({"user":"ops","password":"wrong"})");
    if (r.status == 429) {
      ++limited;
      EXPECT_TRUE(r.headers.count("retry-after"));
    }
  }
  EXPECT_GT(limited, 0);
}

TEST_F(OperatorSessionsTest, CookieMayFlipOnlyTheNamedRouteWithItsCsrfTokenAndOwnOrigin) {
  const HttpReply in = call("POST", "/v1/session", R"({"user":"ops","password":"ops-password-1"})");
  ASSERT_EQ(in.status, 200) << in.body;
  const std::string token = cookie_of(in);
  const std::string csrf = nlohmann::json::parse(in.body).at("csrf_token");
  EXPECT_EQ(csrf, csrf_token(token));
  EXPECT_NE(csrf, token);
  const std::string cookie = std::string(kOperatorCookie) + "=" + token;
  // GET /v1/session gives the page holding only the cookie the same token.
  const HttpReply who = call("GET", "/v1/session", "", {{"Cookie", cookie}});
  ASSERT_EQ(who.status, 200);
  EXPECT_EQ(nlohmann::json::parse(who.body).at("csrf_token"), csrf);
  // A machine token has no session, so no CSRF token.
  const HttpReply machine =
      call("GET", "/v1/session", "", {{"Authorization", std::string("Bearer ") + kMachineToken}});
  EXPECT_FALSE(nlohmann::json::parse(machine.body).contains("csrf_token"));

  const std::string origin = "http://127.0.0.1:" + std::to_string(port_);
  const std::string body = R"({"enabled":false})";
  HttpReply ok = call("PUT", "/v1/pricing/enabled", body,
                      {{"Cookie", cookie}, {"Origin", origin}, {"X-ShopEasy-CSRF", csrf}});
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(nlohmann::json::parse(ok.body).at("who"), "ops");
  struct Case {
    std::string path;
    std::map<std::string, std::string> headers;
    int status;
  };
  const std::vector<Case> refused = {
      {"/v1/pricing/enabled", {{"Cookie", cookie}, {"Origin", origin}}, 403},
      {"/v1/pricing/enabled",
       {{"Cookie", cookie}, {"Origin", origin}, {"X-ShopEasy-CSRF", csrf_token("other")}},
       403},
      {"/v1/pricing/enabled",
       {{"Cookie", cookie}, {"Origin", "http://127.0.0.1:1"}, {"X-ShopEasy-CSRF", csrf}},
       403},
      {"/v1/pricing/enabled",
       {{"Cookie", cookie}, {"Origin", "null"}, {"X-ShopEasy-CSRF", csrf}},
       403},
      {"/v1/pricing/enabled", {{"Cookie", cookie}, {"X-ShopEasy-CSRF", csrf}}, 403},
      // Any other change still needs the bearer token.
      {"/v1/pricing", {{"Cookie", cookie}, {"Origin", origin}, {"X-ShopEasy-CSRF", csrf}}, 401},
  };
  for (const Case& c : refused) {
    const HttpReply r = call("PUT", c.path, body, c.headers);
    EXPECT_EQ(r.status, c.status) << c.path << " " << r.body;
  }
  // A finished session's cookie and token no longer work.
  ASSERT_EQ(call("DELETE", "/v1/session", "", {{"Cookie", cookie}}).status, 200);
  EXPECT_EQ(call("PUT", "/v1/pricing/enabled", body,
                 {{"Cookie", cookie}, {"Origin", origin}, {"X-ShopEasy-CSRF", csrf}})
                .status,
            401);
}

}  // namespace
}  // namespace shopeasy::cloud::api
