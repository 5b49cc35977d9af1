// Customer phone sign-in with the real shopeasy-cloud binary: a code requested, read
// back from the sandbox SMS route, exchanged for tokens; the access token places and
// reads an order; the refresh token rotates, and reusing an old one revokes the family.
// Bad input is refused naming the field and counted; limits answer 429 with
// Retry-After. The last test measures sign-in latency.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <regex>
#include <set>

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "common/clock/clock.hpp"
#include "common/geohash/geohash.hpp"
#include "common/http/server.hpp"
#include "common/metrics/metrics.hpp"
#include "common/security/jwt.hpp"
#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kSecret = "store-secret-0123456789";

class AccountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("accounts");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
  }

  void start_cloud(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--http.port=0", "--state_dir=" + dir_->file("cloud").string(),
                                     "--auth.tokens=" + admin_tokens_json(),
                                     "--payments.provider=sandbox",
                                     "--accounts.sms_provider=sandbox"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto cloud = start_daemon("shopeasy-cloud", args);
    ASSERT_TRUE(cloud.ok()) << cloud.status().to_string();
    cloud_.emplace(std::move(*cloud));
  }

  HttpReply call(const std::string& method, const std::string& path, const std::string& body = "",
                 const std::string& token = "", std::map<std::string, std::string> extra = {}) {
    std::map<std::string, std::string> headers;
    if (!token.empty()) headers = bearer(token);
    if (!body.empty()) headers["Content-Type"] = "application/json";
    for (auto& [k, v] : extra) headers[k] = v;
    return http_request("127.0.0.1", cloud_->http_port, method, path, body, headers, 30s)
        .value_or(HttpReply{});
  }

  HttpReply ask_code(const std::string& phone) {
    return call("POST", "/api/auth/otp", json{{"phone", phone}}.dump());
  }

  // The code in the newest sandbox message to `phone` ("" when none).
  std::string code_for(const std::string& phone) {
    std::string encoded = phone;
    if (!encoded.empty() && encoded[0] == '+') encoded = "%2B" + encoded.substr(1);
    const HttpReply r = call("GET", "/v1/sandbox/sms?phone=" + encoded, "", kAdminToken);
    if (r.status != 200) return "";
    const json messages = json::parse(r.body)["messages"];
    if (messages.empty()) return "";
    std::smatch m;
    const std::string text = messages[0]["body"];
    return std::regex_search(text, m, std::regex("code is ([0-9]{6})")) ? m[1].str() : "";
  }

  std::int64_t metric(const std::string& series) {
    const HttpReply r = call("GET", "/metrics", "", kAdminToken);
    const std::size_t at = r.body.find("\n" + series + " ");
    return at == std::string::npos ? 0 : std::stoll(r.body.substr(at + series.size() + 2));
  }

  std::string error_field(const HttpReply& r) {
    auto parsed = json::parse(r.body, nullptr, false);
    return parsed.is_object() ? parsed["error"].value("field", "") : "";
  }

  std::optional<TempDir> dir_;
  std::optional<RunningDaemon> cloud_;
};

TEST_F(AccountsTest, SignInOrderRefreshAndReuseRevokesTheFamily) {
  start_cloud();
  const std::string phone = "+919876543210";
  HttpReply sent = ask_code(phone);
  ASSERT_EQ(sent.status, 202) << sent.body;
  EXPECT_EQ(json::parse(sent.body)["expires_in"], 300);
  // Only admins read the sandbox outbox.
  EXPECT_EQ(call("GET", "/v1/sandbox/sms?phone=%2B919876543210").status, 401);
  const std::string code = code_for(phone);
  ASSERT_EQ(code.size(), 6u);

  const std::string wrong = code == "000000" ? "000001" : "000000";
  HttpReply refused =
      call("POST", "/api/auth/verify", json{{"phone", phone}, {"code", wrong}}.dump());
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(error_field(refused), "code");

  HttpReply verified =
      call("POST", "/api/auth/verify", json{{"phone", phone}, {"code", code}}.dump());
  ASSERT_EQ(verified.status, 200) << verified.body;
  const json tokens = json::parse(verified.body);
  const std::string access = tokens["access_token"];
  const std::string refresh = tokens["refresh_token"];
  EXPECT_EQ(tokens["expires_in"], 900);

  // The issued token works on the customer routes.
  HttpReply me = call("GET", "/api/me", "", access);
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(json::parse(me.body)["phone"], phone);
  EXPECT_EQ(json::parse(me.body)["customer_id"], tokens["customer_id"]);

  ASSERT_EQ(call("PUT", "/v1/stores/s1",
                 json{{"name", "Store s1"},
                      {"lat", 12.9719},
                      {"lon", 77.6412},
                      {"service_radius_m", 3000},
                      {"secret", kSecret}}
                     .dump(),
                 kAdminToken)
                .status,
            200);
  ASSERT_EQ(call("PUT", "/v1/catalog/MILK", json{{"name", "Milk"}, {"price_cents", 6500}}.dump(),
                 kAdminToken)
                .status,
            200);
  const json batch = {{"store_id", "s1"},
                      {"first_seq", 1},
                      {"changes",
                       {{{"seq", 1},
                         {"kind", "stock.changed"},
                         {"body", {{"sku", "MILK"}, {"sku_on_hand", 5}, {"sku_reserved", 0}}}}}},
                      {"downstream_cursor", 0},
                      {"sent_at_ms", 1'800'000'000'000}};
  ASSERT_EQ(call("POST", "/v1/stores/s1/sync", batch.dump(), std::string("s1:") + kSecret).status,
            200);
  const json order = {{"lines", {{{"sku", "MILK"}, {"qty", 1}}}},
                      {"delivery", {{"lat", 12.975}, {"lon", 77.645}}}};
  HttpReply placed =
      call("POST", "/api/orders", order.dump(), access, {{"Idempotency-Key", "a-1"}});
  ASSERT_EQ(placed.status, 201) << placed.body;
  const std::string order_id = json::parse(placed.body)["order_id"];
  EXPECT_EQ(call("GET", "/api/orders/" + order_id, "", access).status, 200);
  // The customer's own orders, paged; a second order, then one per page.
  HttpReply second_order =
      call("POST", "/api/orders", order.dump(), access, {{"Idempotency-Key", "a-2"}});
  ASSERT_EQ(second_order.status, 201) << second_order.body;
  HttpReply mine = call("GET", "/api/me/orders?limit=1", "", access);
  ASSERT_EQ(mine.status, 200) << mine.body;
  json page = json::parse(mine.body);
  ASSERT_EQ(page["orders"].size(), 1u);
  ASSERT_TRUE(page["next_cursor"].is_string());
  std::set<std::string> ids = {page["orders"][0]["order_id"]};
  mine = call("GET", "/api/me/orders?limit=1&cursor=" + page["next_cursor"].get<std::string>(), "",
              access);
  ASSERT_EQ(mine.status, 200) << mine.body;
  page = json::parse(mine.body);
  ASSERT_EQ(page["orders"].size(), 1u);
  ids.insert(page["orders"][0]["order_id"].get<std::string>());
  EXPECT_EQ(ids, (std::set<std::string>{order_id, json::parse(second_order.body)["order_id"]}));
  mine = call("GET", "/api/me/orders?limit=1&cursor=" + page["next_cursor"].get<std::string>(), "",
              access);
  EXPECT_TRUE(json::parse(mine.body)["orders"].empty());
  EXPECT_TRUE(json::parse(mine.body)["next_cursor"].is_null());
  HttpReply bad_cursor = call("GET", "/api/me/orders?cursor=nonsense", "", access);
  EXPECT_EQ(bad_cursor.status, 400);
  EXPECT_EQ(error_field(bad_cursor), "cursor");
  // The admin token is not a customer.
  EXPECT_EQ(call("GET", "/api/me/orders", "", kAdminToken).status, 403);

  // The public key is published and names the token's kid.
  HttpReply jwks = call("GET", "/.well-known/jwks.json");
  ASSERT_EQ(jwks.status, 200);
  EXPECT_EQ(json::parse(jwks.body)["keys"][0]["alg"], "ES256");

  // A changed token is refused.
  std::string tampered = access;
  const std::size_t dot = tampered.find('.');
  tampered[dot + 3] = tampered[dot + 3] == 'A' ? 'B' : 'A';
  EXPECT_EQ(call("GET", "/api/me", "", tampered).status, 401);

  // Rotation, then reuse of the first refresh token revokes the family.
  HttpReply rotated = call("POST", "/api/auth/refresh", json{{"refresh_token", refresh}}.dump());
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  const std::string second = json::parse(rotated.body)["refresh_token"];
  EXPECT_NE(second, refresh);
  EXPECT_EQ(call("GET", "/api/me", "", json::parse(rotated.body)["access_token"]).status, 200);
  HttpReply reused = call("POST", "/api/auth/refresh", json{{"refresh_token", refresh}}.dump());
  EXPECT_EQ(reused.status, 401);
  EXPECT_EQ(error_field(reused), "refresh_token");
  EXPECT_EQ(call("POST", "/api/auth/refresh", json{{"refresh_token", second}}.dump()).status, 401);
  EXPECT_EQ(metric("cloud_auth_refresh_refused_total{reason=\"reused\"}"), 1);

  // The signing key stays private.
  struct stat st {};
  ASSERT_EQ(::stat(dir_->file("cloud/customer-jwt-key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// A customer deletes their account. While an order is open it is refused with nothing
// changed; afterwards the orders stay for accounting under another id, the store that
// held one is told, the phone number signs in as a new customer, and neither the old
// refresh token nor the saved places work.
TEST_F(AccountsTest, DeletingTheAccountKeepsOrdersAnonymisedAndForgetsTheCustomer) {
  start_cloud();
  const std::string phone = "+919876500001";
  auto sign_in = [&]() -> json {
    if (ask_code(phone).status != 202) return json();
    const std::string code = code_for(phone);
    HttpReply r = call("POST", "/api/auth/verify", json{{"phone", phone}, {"code", code}}.dump());
    return r.status == 200 ? json::parse(r.body) : json();
  };
  const json tokens = sign_in();
  ASSERT_TRUE(tokens.is_object()) << tokens.dump();
  const std::string access = tokens["access_token"];
  const std::string customer = tokens["customer_id"];
  ASSERT_EQ(call("PUT", "/v1/stores/s1",
                 json{{"name", "Store s1"},
                      {"lat", 12.9719},
                      {"lon", 77.6412},
                      {"service_radius_m", 3000},
                      {"secret", kSecret}}
                     .dump(),
                 kAdminToken)
                .status,
            200);
  ASSERT_EQ(call("PUT", "/v1/catalog/MILK", json{{"name", "Milk"}, {"price_cents", 6500}}.dump(),
                 kAdminToken)
                .status,
            200);
  auto sync = [&](std::int64_t first_seq, json changes, std::int64_t cursor) {
    const json batch = {{"store_id", "s1"},
                        {"first_seq", first_seq},
                        {"changes", changes},
                        {"downstream_cursor", cursor},
                        {"sent_at_ms", 1'800'000'000'000}};
    return call("POST", "/v1/stores/s1/sync", batch.dump(), std::string("s1:") + kSecret);
  };
  ASSERT_EQ(sync(1,
                 {{{"seq", 1},
                   {"kind", "stock.changed"},
                   {"body", {{"sku", "MILK"}, {"sku_on_hand", 5}, {"sku_reserved", 0}}}}},
                 0)
                .status,
            200);
  ASSERT_EQ(call("PUT", "/api/me/addresses/home",
                 json{{"label", "Home"}, {"lat", 12.975}, {"lon", 77.645}}.dump(), access)
                .status,
            200);
  const json order = {{"lines", {{{"sku", "MILK"}, {"qty", 1}}}},
                      {"delivery", {{"lat", 12.975123}, {"lon", 77.645678}}}};
  HttpReply placed =
      call("POST", "/api/orders", order.dump(), access, {{"Idempotency-Key", "del-1"}});
  ASSERT_EQ(placed.status, 201) << placed.body;
  const std::string order_id = json::parse(placed.body)["order_id"];

  // Waiting for payment is an open order: refused, nothing changed.
  HttpReply refused = call("DELETE", "/api/me", "", access);
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_EQ(json::parse(refused.body)["error"]["code"], "failed_precondition");
  EXPECT_EQ(json::parse(call("GET", "/api/me/orders", "", access).body)["orders"].size(), 1u);
  EXPECT_EQ(call("DELETE", "/api/me", "", kAdminToken).status, 403);

  ASSERT_EQ(call("POST", "/api/orders/" + order_id + "/cancel", "{}", access).status, 200);
  HttpReply deleted = call("DELETE", "/api/me", "", access);
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  const json answer = json::parse(deleted.body);
  EXPECT_EQ(answer["deleted"], true);
  EXPECT_EQ(answer["orders_anonymised"], 1);
  EXPECT_EQ(answer["stores_told"], 1);

  // The access token, though its signature is good for minutes more, is refused on
  // every customer route, with the one error shape; so is the refresh token.
  for (const auto& [method, path] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/api/me"},
                                                        {"GET", "/api/me/orders"},
                                                        {"GET", "/api/me/addresses"},
                                                        {"GET", "/api/orders/" + order_id},
                                                        {"DELETE", "/api/me"}}) {
    HttpReply gone = call(method, path, "", access);
    EXPECT_EQ(gone.status, 401) << method << " " << path << ": " << gone.body;
    const json body = json::parse(gone.body, nullptr, false);
    EXPECT_EQ(body.is_object() ? body["error"].value("code", "") : "", "unauthenticated")
        << gone.body;
  }
  HttpReply again_placed =
      call("POST", "/api/orders", order.dump(), access, {{"Idempotency-Key", "del-2"}});
  EXPECT_EQ(again_placed.status, 401) << again_placed.body;
  EXPECT_NE(again_placed.body.find("deleted"), std::string::npos) << again_placed.body;
  EXPECT_EQ(
      call("POST", "/api/auth/refresh", json{{"refresh_token", tokens["refresh_token"]}}.dump())
          .status,
      401);
  EXPECT_EQ(metric("cloud_auth_customer_refused_total{reason=\"account_deleted\"}"), 6);
  // The order stays for accounting, under another id and a coarse delivery point.
  HttpReply kept = call("GET", "/api/orders/" + order_id, "", kAdminToken);
  ASSERT_EQ(kept.status, 200) << kept.body;
  EXPECT_DOUBLE_EQ(json::parse(kept.body)["delivery"]["lat"].get<double>(), 12.98);
  EXPECT_DOUBLE_EQ(json::parse(kept.body)["delivery"]["lon"].get<double>(), 77.65);
  // The store hears it on its next sync, with the customer id it holds.
  HttpReply reply = sync(2, json::array(), 0);
  ASSERT_EQ(reply.status, 200) << reply.body;
  bool told = false;
  const json sync_reply = json::parse(reply.body);
  for (const json& item : sync_reply["downstream"]) {
    if (item["kind"] == "customer.forget") {
      told = true;
      EXPECT_EQ(item["body"]["customer_id"], customer);
      EXPECT_NE(item["body"]["tombstone"], customer);
    }
  }
  EXPECT_TRUE(told) << reply.body;
  // Signing in again with the number makes a new customer.
  const json again = sign_in();
  ASSERT_TRUE(again.is_object());
  EXPECT_NE(again["customer_id"], customer);
  EXPECT_EQ(metric("cloud_account_deletions_total{outcome=\"deleted\"}"), 1);
  EXPECT_EQ(metric("cloud_account_deletions_total{outcome=\"orders_in_progress\"}"), 1);
  // The new account's token is not the deleted one's.
  EXPECT_EQ(call("GET", "/api/me", "", again["access_token"]).status, 200);
}

TEST_F(AccountsTest, BadInputIsRefusedNamingTheFieldAndCounted) {
  start_cloud();
  HttpReply r = call("POST", "/api/auth/otp", "", "", {{"Content-Type", "application/json"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_field(r), "body");
  r = call("POST", "/api/auth/otp", json{{"phone", std::string(8000, '9')}}.dump());
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(error_field(r), "body");
  for (const json& phone : {json("12345"), json("+91 98765 43210"), json(919876543210),
                            json("+449876543210"), json("")}) {
    r = call("POST", "/api/auth/otp", json{{"phone", phone}}.dump());
    EXPECT_EQ(r.status, 400) << phone;
    EXPECT_EQ(error_field(r), "phone") << phone;
  }
  r = call("POST", "/api/auth/verify", json{{"phone", "+919876543210"}, {"code", "12"}}.dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_field(r), "code");
  r = call("POST", "/api/auth/refresh", json{{"token", "x"}}.dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_field(r), "refresh_token");
  EXPECT_EQ(metric("cloud_auth_bad_requests_total{field=\"phone\"}"), 5);
  EXPECT_EQ(metric("cloud_auth_bad_requests_total{field=\"body\"}"), 2);
  // Nothing was sent to the blocked number.
  EXPECT_EQ(code_for("+449876543210"), "");
  EXPECT_EQ(metric("cloud_auth_otp_sent_total"), 0);
}

TEST_F(AccountsTest, FourthCodeIn15MinutesIs429WithRetryAfter) {
  start_cloud();
  const std::string phone = "+919812345678";
  for (int i = 0; i < 3; ++i) ASSERT_EQ(ask_code(phone).status, 202) << i;
  const HttpReply limited = ask_code(phone);
  ASSERT_EQ(limited.status, 429) << limited.body;
  EXPECT_EQ(error_field(limited), "phone");
  ASSERT_TRUE(limited.headers.count("retry-after"));
  const int wait = std::stoi(limited.headers.at("retry-after"));
  EXPECT_GT(wait, 800);
  EXPECT_LE(wait, 900);
  EXPECT_EQ(metric("cloud_auth_otp_limited_total{limit=\"phone_15m\"}"), 1);
}

TEST_F(AccountsTest, ExternalIssuerKeepsWorkingBesideTheCloudsOwnTokens) {
  const std::string secret = "0123456789abcdef0123456789abcdef-test";
  const json keys = json::array({{{"alg", "HS256"}, {"secret", secret}}});
  start_cloud({"--auth.jwt.issuer=https://id.test", "--auth.jwt.keys=" + keys.dump()});
  auto signer = security::JwtSigner::create({security::JwtAlgorithm::kHS256, secret, ""});
  ASSERT_TRUE(signer.ok());
  const std::int64_t now = to_unix_ms(SystemClock().wall_now()) / 1000;
  auto external = signer->sign({{"iss", "https://id.test"},
                                {"aud", "shopeasy-cloud"},
                                {"sub", "customer-42"},
                                {"iat", now},
                                {"exp", now + 600}});
  ASSERT_TRUE(external.ok());
  HttpReply me = call("GET", "/api/me", "", *external);
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(json::parse(me.body)["customer_id"], "customer-42");
  EXPECT_FALSE(json::parse(me.body).contains("phone"));

  const std::string phone = "+919800000042";
  ASSERT_EQ(ask_code(phone).status, 202);
  HttpReply verified =
      call("POST", "/api/auth/verify", json{{"phone", phone}, {"code", code_for(phone)}}.dump());
  ASSERT_EQ(verified.status, 200) << verified.body;
  const std::string own = json::parse(verified.body)["access_token"];
  me = call("GET", "/api/me", "", own);
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(json::parse(me.body)["phone"], phone);
  // The admin token still goes to the token table.
  EXPECT_EQ(call("GET", "/v1/sandbox/sms?phone=%2B919800000042", "", kAdminToken).status, 200);
}

// Two instances on one PostgreSQL sharing a signing key: a code sent by one is checked
// by the other, each accepts the other's tokens, a refresh token spent on one is reused
// on the other, and the per-number limit counts the sends of both.
TEST_F(AccountsTest, TwoInstancesOnPostgresShareCodesTokensAndLimits) {
  auto pg = PostgresServer::start({.settings = {"fsync=off"}});
  ASSERT_TRUE(pg.ok()) << pg.status().to_string();
  ASSERT_TRUE(pg->create_database("accounts").is_ok());
  const std::string key_file = dir_->file("shared-key.pem").string();
  std::vector<RunningDaemon> clouds;
  for (int i = 0; i < 2; ++i) {
    auto cloud = start_daemon(
        "shopeasy-cloud",
        {"--http.port=0", "--state_dir=" + dir_->file("cloud" + std::to_string(i)).string(),
         "--auth.tokens=" + admin_tokens_json(), "--accounts.sms_provider=sandbox",
         "--accounts.signing_key_file=" + key_file, "--storage.backend=postgres",
         "--storage.postgres_dsn=" + pg->dsn("accounts")});
    ASSERT_TRUE(cloud.ok()) << cloud.status().to_string();
    clouds.push_back(std::move(*cloud));
  }
  auto on = [&](std::size_t i, const std::string& method, const std::string& path,
                const std::string& body = "", const std::string& token = "") {
    std::map<std::string, std::string> headers;
    if (!token.empty()) headers = bearer(token);
    if (!body.empty()) headers["Content-Type"] = "application/json";
    return http_request("127.0.0.1", clouds[i].http_port, method, path, body, headers, 30s)
        .value_or(HttpReply{});
  };
  const std::string phone = "+919870000001";
  ASSERT_EQ(on(0, "POST", "/api/auth/otp", json{{"phone", phone}}.dump()).status, 202);
  const HttpReply sms = on(1, "GET", "/v1/sandbox/sms?phone=%2B919870000001", "", kAdminToken);
  ASSERT_EQ(sms.status, 200);
  std::smatch m;
  const std::string text = json::parse(sms.body)["messages"][0]["body"];
  ASSERT_TRUE(std::regex_search(text, m, std::regex("code is ([0-9]{6})")));
  const HttpReply verified =
      on(1, "POST", "/api/auth/verify", json{{"phone", phone}, {"code", m[1].str()}}.dump());
  ASSERT_EQ(verified.status, 200) << verified.body;
  const json tokens = json::parse(verified.body);
  EXPECT_EQ(on(0, "GET", "/api/me", "", tokens["access_token"]).status, 200);
  const HttpReply rotated =
      on(0, "POST", "/api/auth/refresh", json{{"refresh_token", tokens["refresh_token"]}}.dump());
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  EXPECT_EQ(
      on(1, "POST", "/api/auth/refresh", json{{"refresh_token", tokens["refresh_token"]}}.dump())
          .status,
      401);
  EXPECT_EQ(on(0, "POST", "/api/auth/refresh",
               json{{"refresh_token", json::parse(rotated.body)["refresh_token"]}}.dump())
                .status,
            401);
  // Two more sends, one on each instance, then the fourth is refused on either.
  EXPECT_EQ(on(1, "POST", "/api/auth/otp", json{{"phone", phone}}.dump()).status, 202);
  EXPECT_EQ(on(0, "POST", "/api/auth/otp", json{{"phone", phone}}.dump()).status, 202);
  EXPECT_EQ(on(1, "POST", "/api/auth/otp", json{{"phone", phone}}.dump()).status, 429);
  EXPECT_EQ(on(0, "POST", "/api/auth/otp", json{{"phone", phone}}.dump()).status, 429);
}

// Two instances on one PostgreSQL: an account deleted through one is refused at once by
// the other (no cache to wait out), on reads, on placing an order and on refresh; the
// per-request check it costs is measured.
TEST_F(AccountsTest, AccountDeletedThroughOneInstanceIsRefusedByTheOther) {
  auto pg = PostgresServer::start({.settings = {"fsync=off"}});
  ASSERT_TRUE(pg.ok()) << pg.status().to_string();
  ASSERT_TRUE(pg->create_database("accounts").is_ok());
  const std::string key_file = dir_->file("shared-key.pem").string();
  std::vector<RunningDaemon> clouds;
  for (int i = 0; i < 2; ++i) {
    auto cloud = start_daemon(
        "shopeasy-cloud",
        {"--http.port=0", "--state_dir=" + dir_->file("cloud" + std::to_string(i)).string(),
         "--auth.tokens=" + admin_tokens_json(), "--accounts.sms_provider=sandbox",
         "--accounts.signing_key_file=" + key_file, "--storage.backend=postgres",
         "--payments.provider=sandbox", "--http.rate_limit_per_s=0",
         "--storage.postgres_dsn=" + pg->dsn("accounts")});
    ASSERT_TRUE(cloud.ok()) << cloud.status().to_string();
    clouds.push_back(std::move(*cloud));
  }
  auto on = [&](std::size_t i, const std::string& method, const std::string& path,
                const std::string& body = "", const std::string& token = "") {
    std::map<std::string, std::string> headers;
    if (!token.empty()) headers = bearer(token);
    if (!body.empty()) headers["Content-Type"] = "application/json";
    headers["Idempotency-Key"] = "k-" + path;
    return http_request("127.0.0.1", clouds[i].http_port, method, path, body, headers, 30s)
        .value_or(HttpReply{});
  };
  const std::string phone = "+919870000002";
  ASSERT_EQ(on(0, "POST", "/api/auth/otp", json{{"phone", phone}}.dump()).status, 202);
  const HttpReply sms = on(0, "GET", "/v1/sandbox/sms?phone=%2B919870000002", "", kAdminToken);
  ASSERT_EQ(sms.status, 200);
  std::smatch m;
  const std::string text = json::parse(sms.body)["messages"][0]["body"];
  ASSERT_TRUE(std::regex_search(text, m, std::regex("code is ([0-9]{6})")));
  const HttpReply verified =
      on(0, "POST", "/api/auth/verify", json{{"phone", phone}, {"code", m[1].str()}}.dump());
  ASSERT_EQ(verified.status, 200) << verified.body;
  const json tokens = json::parse(verified.body);
  const std::string access = tokens["access_token"];

  // What the check costs: customer reads on one instance after a warm-up (the check's
  // connections are opened on first use), the check's own time from its histogram.
  auto series = [&](const std::string& name) {
    const HttpReply metrics = on(1, "GET", "/metrics", "", kAdminToken);
    const std::size_t at = metrics.body.find("\n" + name + " ");
    return at == std::string::npos ? -1.0 : std::stod(metrics.body.substr(at + name.size() + 2));
  };
  for (int i = 0; i < 20; ++i) ASSERT_EQ(on(1, "GET", "/api/me", "", access).status, 200);
  const double sum_before = series("cloud_auth_deleted_check_seconds_sum");
  const double count_before = series("cloud_auth_deleted_check_seconds_count");
  constexpr int kReads = 500;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < kReads; ++i) ASSERT_EQ(on(1, "GET", "/api/me", "", access).status, 200);
  const double per_read_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
          .count() /
      kReads;
  const double checks = series("cloud_auth_deleted_check_seconds_count") - count_before;
  ASSERT_GE(checks, kReads);
  const double check_us =
      (series("cloud_auth_deleted_check_seconds_sum") - sum_before) / checks * 1e6;
  std::printf("GET /api/me on PostgreSQL: %.3f ms per request; deleted-account check %.1f us\n",
              per_read_ms, check_us);
  EXPECT_LT(check_us, 5000.0);

  ASSERT_EQ(on(0, "DELETE", "/api/me", "", access).status, 200);
  // No waiting: the other instance refuses the very next request.
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/api/me"}, {"GET", "/api/me/orders"}, {"GET", "/api/me/addresses"}}) {
    EXPECT_EQ(on(1, method, path, "", access).status, 401) << method << " " << path;
  }
  const json order = {{"lines", {{{"sku", "MILK"}, {"qty", 1}}}},
                      {"delivery", {{"lat", 12.975}, {"lon", 77.645}}}};
  const HttpReply placed = on(1, "POST", "/api/orders", order.dump(), access);
  EXPECT_EQ(placed.status, 401) << placed.body;
  EXPECT_EQ(
      json::parse(placed.body, nullptr, false).value("error", json::object()).value("code", ""),
      "unauthenticated")
      << placed.body;
  EXPECT_EQ(
      on(1, "POST", "/api/auth/refresh", json{{"refresh_token", tokens["refresh_token"]}}.dump())
          .status,
      401);
  // Admins and stores are not customers: their calls read nothing and still pass.
  EXPECT_EQ(on(1, "GET", "/v1/sandbox/sms?phone=%2B919870000002", "", kAdminToken).status, 200);
}

TEST_F(AccountsTest, SandboxSmsIsRefusedInProductionAndAWorldReadableKeyAtStart) {
  auto child = ChildProcess::spawn(
      {.argv = {binary_path("shopeasy-cloud"), "--check-config", "--accounts.sms_provider=sandbox",
                "--deployment.production=true"}});
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(child->wait_exit(10s), 2);
  EXPECT_NE(child->stderr_text().find("accounts.sms_provider"), std::string::npos)
      << child->describe();
  // A signing key others may read is refused, naming the option.
  start_cloud();
  cloud_.reset();
  ASSERT_EQ(::chmod(dir_->file("cloud/customer-jwt-key.pem").c_str(), 0644), 0);
  auto again =
      start_daemon("shopeasy-cloud",
                   {"--http.port=0", "--state_dir=" + dir_->file("cloud").string(),
                    "--auth.tokens=" + admin_tokens_json(), "--accounts.sms_provider=sandbox"},
                   {}, 5s);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("accounts.signing_key_file"), std::string::npos)
      << again.status().to_string();
}

TEST_F(AccountsTest, TooManyChecksFromOneAddressIs429) {
  start_cloud({"--accounts.otp.verify_per_client_15m=3"});
  const std::string phone = "+919876500001";
  ASSERT_EQ(ask_code(phone).status, 202);
  const std::string code = code_for(phone);
  const std::string wrong = code == "000000" ? "000001" : "000000";
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(
        call("POST", "/api/auth/verify", json{{"phone", phone}, {"code", wrong}}.dump()).status,
        401);
  }
  const HttpReply limited =
      call("POST", "/api/auth/verify", json{{"phone", phone}, {"code", code}}.dump());
  EXPECT_EQ(limited.status, 429) << limited.body;
  EXPECT_EQ(error_field(limited), "code");
  EXPECT_TRUE(limited.headers.count("retry-after"));
}

// The http provider posts the code to a gateway (a local server here); a gateway that
// fails answers the customer 503.
TEST_F(AccountsTest, HttpProviderPostsCodesToTheGateway) {
  metrics::Registry gateway_metrics;
  http::HttpServer gateway(http::ServerOptions{}, nullptr, log::Logger(), gateway_metrics);
  std::mutex mu;  // guards received, written by the gateway's threads
  std::vector<json> received;
  std::atomic<int> answer{202};
  gateway.route("POST", "/send", http::Access::public_route(), [&](const http::Request& r) {
    if (r.header("Authorization") != "Bearer sms-gateway-token-0123") {
      return http::Response::json(401, {{"error", "token"}});
    }
    std::lock_guard lock(mu);
    received.push_back(json::parse(r.body));
    return http::Response::json(answer.load(), {{"id", "m"}});
  });
  auto port = gateway.start();
  ASSERT_TRUE(port.ok());
  auto cloud =
      start_daemon("shopeasy-cloud",
                   {"--http.port=0", "--state_dir=" + dir_->file("cloud").string(),
                    "--auth.tokens=" + admin_tokens_json(), "--accounts.sms_provider=http",
                    "--accounts.sms.http_url=http://127.0.0.1:" + std::to_string(*port) + "/send"},
                   {{"SHOPEASY_CLOUD_ACCOUNTS_SMS_HTTP_TOKEN", "sms-gateway-token-0123"}});
  ASSERT_TRUE(cloud.ok()) << cloud.status().to_string();
  cloud_.emplace(std::move(*cloud));
  const std::string phone = "+919876511111";
  ASSERT_EQ(ask_code(phone).status, 202);
  std::string text;
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(received.size(), 1u);
    EXPECT_EQ(received[0]["to"], phone);
    text = received[0]["text"];
  }
  std::smatch m;
  ASSERT_TRUE(std::regex_search(text, m, std::regex("code is ([0-9]{6})")));
  EXPECT_EQ(
      call("POST", "/api/auth/verify", json{{"phone", phone}, {"code", m[1].str()}}.dump()).status,
      200);
  // No sandbox outbox with a real provider.
  EXPECT_EQ(call("GET", "/v1/sandbox/sms?phone=%2B919876511111", "", kAdminToken).status, 404);
  answer = 500;
  EXPECT_EQ(ask_code(phone).status, 503);
  gateway.stop();
}

TEST_F(AccountsTest, SignInLatency) {
  start_cloud({"--accounts.otp.per_client_15m=1000", "--accounts.otp.per_client_day=1000",
               "--accounts.otp.verify_per_client_15m=1000", "--accounts.otp.per_prefix_hour=1000",
               "--http.rate_limit_per_s=1000"});
  std::vector<double> send_ms, verify_ms;
  for (int i = 0; i < 60; ++i) {
    const std::string phone = "+9198" + std::to_string(10000000 + i * 7919);
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_EQ(ask_code(phone).status, 202);
    auto t1 = std::chrono::steady_clock::now();
    const std::string code = code_for(phone);
    auto t2 = std::chrono::steady_clock::now();
    ASSERT_EQ(
        call("POST", "/api/auth/verify", json{{"phone", phone}, {"code", code}}.dump()).status,
        200);
    auto t3 = std::chrono::steady_clock::now();
    send_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    verify_ms.push_back(std::chrono::duration<double, std::milli>(t3 - t2).count());
  }
  auto p = [](std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
  };
  std::printf(
      "sign-in over HTTP (SQLite, 60 numbers): otp p50 %.1f ms p99 %.1f ms; "
      "verify p50 %.1f ms p99 %.1f ms\n",
      p(send_ms, 0.5), p(send_ms, 0.99), p(verify_ms, 0.5), p(verify_ms, 0.99));
}

}  // namespace
}  // namespace shopeasy::testing
