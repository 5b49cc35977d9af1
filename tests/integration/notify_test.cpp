// Customer notifications with the real shopeasy-cloud binary: a customer signed in by
// phone orders, the store takes the order through to delivered over sync, and the
// customer app's backend (an in-test webhook sink) gets confirmed, packed, out for
// delivery and delivered once each with valid signatures, while the sandbox SMS
// provider gets the same four texts. A sink answering 500 first gets the notification
// after a retry; one answering 400 is not asked again. Bad preference bodies are
// refused naming the field and counted; a channel switched off is skipped.
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "tests/integration/daemon_fixture.hpp"
#include "tests/integration/webhook_sink.hpp"

namespace shopeasy::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kStoreSecret = "store-secret-0123456789";
constexpr const char* kHookSecret = "notify-webhook-secret-0123456789abcdef";
constexpr const char* kAlice = "alice-token";

class NotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("notify");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    auto sink = WebhookSink::start(kHookSecret);
    ASSERT_TRUE(sink.ok()) << sink.status().to_string();
    sink_ = std::move(*sink);
  }

  void start_cloud(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "--http.port=0",
        "--state_dir=" + dir_->file("cloud").string(),
        "--auth.tokens=" + tokens_json({{"alice", "customer", kAlice}}),
        "--payments.provider=sandbox",
        "--notify.enabled=true",
        "--notify.webhook_url=" + sink_->url(),
        "--notify.webhook_secret=" + std::string(kHookSecret),
        "--notify.poll_interval_ms=20",
        "--notify.retry_base_ms=50",
        "--notify.retry_max_ms=200"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto cloud = start_daemon("shopeasy-cloud", args);
    ASSERT_TRUE(cloud.ok()) << cloud.status().to_string();
    cloud_.emplace(std::move(*cloud));
  }

  HttpReply call(const std::string& method, const std::string& path, const std::string& body = "",
                 const std::string& token = kAdminToken,
                 std::map<std::string, std::string> extra = {}) {
    std::map<std::string, std::string> headers;
    if (!token.empty()) headers = bearer(token);
    if (!body.empty()) headers["Content-Type"] = "application/json";
    for (auto& [k, v] : extra) headers[k] = v;
    return http_request("127.0.0.1", cloud_->http_port, method, path, body, headers, 30s)
        .value_or(HttpReply{});
  }

  std::int64_t metric(const std::string& series) {
    const HttpReply r = call("GET", "/metrics");
    const std::size_t at = r.body.find("\n" + series + " ");
    return at == std::string::npos ? -1 : std::stoll(r.body.substr(at + series.size() + 2));
  }

  std::vector<std::string> sandbox_sms(const std::string& phone) {
    const HttpReply r = call("GET", "/v1/sandbox/sms?limit=100&phone=%2B" + phone.substr(1));
    std::vector<std::string> out;
    if (r.status != 200) return out;
    const json page = json::parse(r.body);
    for (const json& m : page["messages"]) out.push_back(m["body"]);
    return out;
  }

  // Signs in by phone through the sandbox SMS; returns the access token.
  std::string sign_in(const std::string& phone) {
    const HttpReply asked = call("POST", "/api/auth/otp", json{{"phone", phone}}.dump(), "");
    EXPECT_EQ(asked.status, 202) << asked.body;
    std::smatch m;
    std::string code;
    for (const std::string& text : sandbox_sms(phone)) {
      if (std::regex_search(text, m, std::regex("code is ([0-9]{6})"))) code = m[1].str();
    }
    EXPECT_EQ(code.size(), 6u) << json(sandbox_sms(phone)).dump();
    const HttpReply verified =
        call("POST", "/api/auth/verify", json{{"phone", phone}, {"code", code}}.dump(), "");
    EXPECT_EQ(verified.status, 200) << verified.body;
    return verified.status == 200 ? json::parse(verified.body)["access_token"].get<std::string>()
                                  : "";
  }

  void add_store_with_stock() {
    ASSERT_EQ(call("PUT", "/v1/stores/s1",
                   json{{"name", "Store s1"},
                        {"lat", 12.9719},
                        {"lon", 77.6412},
                        {"service_radius_m", 3000},
                        {"secret", kStoreSecret}}
                       .dump())
                  .status,
              200);
    ASSERT_EQ(call("PUT", "/v1/catalog/MILK", json{{"name", "Milk"}, {"price_cents", 6500}}.dump())
                  .status,
              200);
    sync({{"stock.changed", {{"sku", "MILK"}, {"sku_on_hand", 1000}, {"sku_reserved", 0}}}});
  }

  void sync(std::vector<std::pair<std::string, json>> changes) {
    json batch = {{"store_id", "s1"},
                  {"first_seq", seq_ + 1},
                  {"changes", json::array()},
                  {"downstream_cursor", 0},
                  {"sent_at_ms", 1'800'000'000'000}};
    for (auto& [kind, body] : changes) {
      batch["changes"].push_back({{"seq", ++seq_}, {"kind", kind}, {"body", body}});
    }
    const HttpReply r =
        call("POST", "/v1/stores/s1/sync", batch.dump(), std::string("s1:") + kStoreSecret);
    ASSERT_EQ(r.status, 200) << r.body;
  }

  // Places and pays an order; returns its id once it is routed to s1.
  std::string place_paid(const std::string& token, const std::string& key) {
    const json order = {{"lines", {{{"sku", "MILK"}, {"qty", 1}}}},
                        {"delivery", {{"lat", 12.975}, {"lon", 77.645}}}};
    const HttpReply placed =
        call("POST", "/api/orders", order.dump(), token, {{"Idempotency-Key", key}});
    EXPECT_EQ(placed.status, 201) << placed.body;
    if (placed.status != 201) return "";
    const json p = json::parse(placed.body);
    const std::string intent = p["payment"]["intent_id"];
    EXPECT_EQ(call("POST", "/sandbox/pay/" + intent, json{{"outcome", "succeed"}}.dump()).status,
              200);
    const std::string id = p["order_id"];
    EXPECT_TRUE(wait_for(
        [&] {
          const HttpReply r = call("GET", "/api/orders/" + id, "", token);
          return r.status == 200 && json::parse(r.body)["status"] == "routed";
        },
        20s));
    return id;
  }

  void status(const std::string& order_id, const std::string& to, std::int64_t eta_ms = 0) {
    json body = {{"order_id", order_id}, {"status", to}, {"at_ms", 1'800'000'000'000}};
    if (eta_ms > 0) {
      body["eta_ms"] = eta_ms;
      body["runner_id"] = "r-1";
    }
    sync({{"order.status", body}});
  }

  // The customer's notifications, newest first.
  json notifications(const std::string& token) {
    const HttpReply r = call("GET", "/api/me/notifications?limit=100", "", token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? json::parse(r.body)["notifications"] : json::array();
  }

  std::optional<TempDir> dir_;
  std::unique_ptr<WebhookSink> sink_;
  std::optional<RunningDaemon> cloud_;
  std::int64_t seq_ = 0;
};

TEST_F(NotifyTest, ADeliveredOrderIsToldOnceOnEachChannelWithValidSignatures) {
  start_cloud({"--accounts.sms_provider=sandbox"});
  const std::string phone = "+919876500001";
  const std::string token = sign_in(phone);
  ASSERT_FALSE(token.empty());
  add_store_with_stock();
  const std::string id = place_paid(token, "n-1");
  ASSERT_FALSE(id.empty());
  // Twenty minutes from now, as the store's dispatch would estimate it.
  const std::int64_t eta = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count() +
                           20 * 60'000;
  for (const char* s : {"accepted", "picking", "packed"}) status(id, s);
  status(id, "out_for_delivery", eta);
  status(id, "delivered");
  status(id, "delivered");  // a repeated status changes nothing and tells nobody

  const std::vector<std::string> kinds = {"confirmed", "packed", "out_for_delivery", "delivered"};
  ASSERT_TRUE(wait_for([&] { return sink_->accepted_ids() >= kinds.size(); }, 20s))
      << sink_->posts() << " posts\n"
      << cloud_->process.describe();
  // The SMS go out beside the webhooks.
  ASSERT_TRUE(wait_for([&] { return sandbox_sms(phone).size() >= 1 + kinds.size(); }, 20s));

  const auto seen = sink_->seen();
  EXPECT_EQ(sink_->bad_signatures(), 0);
  std::set<std::string> types;
  for (const auto& [key, s] : seen) {
    EXPECT_EQ(s.posts, 1) << key;
    EXPECT_EQ(s.body["id"], key);
    EXPECT_EQ(s.body["data"]["order_id"], id);
    types.insert(s.body["type"].get<std::string>());
    if (s.body["type"] == "order.out_for_delivery") {
      EXPECT_EQ(s.body["data"]["eta_ms"], eta);
    }
  }
  EXPECT_EQ(types, (std::set<std::string>{"order.confirmed", "order.packed",
                                          "order.out_for_delivery", "order.delivered"}));
  const std::vector<std::string> texts = sandbox_sms(phone);
  std::vector<std::string> notices;
  for (const std::string& t : texts) {
    if (t.find("your order " + id) != std::string::npos) notices.push_back(t);
  }
  ASSERT_EQ(notices.size(), 4u) << json(texts).dump();
  // Newest first.
  EXPECT_EQ(notices[0], "ShopEasy: your order " + id + " was delivered.");
  EXPECT_EQ(notices[1], "ShopEasy: your order " + id + " is on its way, arriving in about 20 min.");

  // The customer sees what was sent, on both channels.
  ASSERT_TRUE(wait_for(
      [&] {
        const json list = notifications(token);
        return list.size() == 8 && std::all_of(list.begin(), list.end(),
                                               [](const json& n) { return n["state"] == "sent"; });
      },
      10s))
      << notifications(token).dump();
  EXPECT_EQ(metric("cloud_notify_sent_total{channel=\"webhook\"}"), 4);
  EXPECT_EQ(metric("cloud_notify_sent_total{channel=\"sms\"}"), 4);
  EXPECT_EQ(metric("cloud_notify_retries_total{channel=\"webhook\"}"), 0);
  // Another customer's token sees none of them.
  EXPECT_TRUE(notifications(kAlice).empty());
}

TEST_F(NotifyTest, A500IsRetriedUntilDeliveredAndA400IsNotRetried) {
  start_cloud();
  add_store_with_stock();
  // The first delivery of every id fails with 500; the retry is taken.
  sink_->set_responder([](const std::string&, int attempt) { return attempt == 1 ? 500 : 200; });
  const std::string first = place_paid(kAlice, "r-1");
  ASSERT_FALSE(first.empty());
  ASSERT_TRUE(wait_for([&] { return sink_->accepted_ids() == 1; }, 20s))
      << cloud_->process.describe();
  auto seen = sink_->seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen.begin()->second.posts, 2);
  ASSERT_TRUE(wait_for(
      [&] {
        const json list = notifications(kAlice);
        return list.size() == 1 && list[0]["state"] == "sent" && list[0]["attempts"] == 2;
      },
      10s))
      << notifications(kAlice).dump();
  EXPECT_EQ(metric("cloud_notify_retries_total{channel=\"webhook\"}"), 1);

  // A 400 is the receiver's final word: failed at once, never asked again.
  sink_->set_responder([](const std::string&, int) { return 400; });
  const std::string second = place_paid(kAlice, "r-2");
  ASSERT_FALSE(second.empty());
  ASSERT_TRUE(wait_for(
      [&] {
        const json list = notifications(kAlice);
        return !list.empty() && list[0]["order_id"] == second && list[0]["state"] == "failed";
      },
      10s))
      << notifications(kAlice).dump();
  EXPECT_EQ(notifications(kAlice)[0]["attempts"], 1);
  EXPECT_EQ(metric("cloud_notify_failed_total{channel=\"webhook\"}"), 1);
  // A later notification goes through the same worker: by the time it arrives, the
  // failed one would have been retried several times over (retries wait at most 200 ms).
  sink_->set_responder([](const std::string&, int) { return 200; });
  const std::string third = place_paid(kAlice, "r-3");
  ASSERT_TRUE(wait_for([&] { return sink_->accepted_ids() == 2; }, 20s));
  const std::int64_t posts_after = sink_->posts();
  ASSERT_TRUE(
      wait_for([&] { return metric("cloud_notify_pending{channel=\"webhook\"}") == 0; }, 10s));
  int refused_posts = 0;
  for (const auto& [key, s] : sink_->seen()) {
    if (key.rfind(second + ":", 0) == 0) refused_posts = s.posts;
  }
  EXPECT_EQ(refused_posts, 1);
  EXPECT_EQ(sink_->posts(), posts_after);
  (void)third;
}

TEST_F(NotifyTest, PreferencesRefuseBadInputAndSkipWhatIsSwitchedOff) {
  start_cloud();
  add_store_with_stock();
  const std::string path = "/api/me/notification-preferences";
  HttpReply r = call("GET", path, "", kAlice);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["channels"]["webhook"], true);
  EXPECT_EQ(json::parse(r.body)["events"]["delivered"], true);
  struct Bad {
    std::string body;
    std::string field;
  };
  for (const Bad& bad : std::vector<Bad>{{R"({"channels":{"fax":true}})", "channels.fax"},
                                         {R"({"channels":{"sms":"off"}})", "channels.sms"},
                                         {R"({"events":{"shipped":false}})", "events.shipped"},
                                         {R"({"sms":false})", "sms"},
                                         {R"({"channels":)", ""}}) {
    r = call("PUT", path, bad.body, kAlice);
    EXPECT_EQ(r.status, 400) << bad.body << " " << r.body;
    const json error = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(error.is_object()) << r.body;
    EXPECT_EQ(error["error"]["code"], "invalid_argument") << r.body;
    if (!bad.field.empty()) {
      EXPECT_EQ(error["error"].value("field", ""), bad.field) << r.body;
    }
  }
  EXPECT_EQ(metric("cloud_notify_bad_requests_total{route=\"preferences\"}"), 5);
  EXPECT_EQ(call("PUT", path, R"({"events":{"confirmed":false}})", kAdminToken).status, 403);
  EXPECT_EQ(call("GET", "/api/me/notifications?limit=0", "", kAlice).status, 400);

  r = call("PUT", path, R"({"events":{"confirmed":false}})", kAlice);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["events"]["confirmed"], false);
  EXPECT_EQ(json::parse(call("GET", path, "", kAlice).body)["events"]["confirmed"], false);
  const std::string id = place_paid(kAlice, "p-1");
  ASSERT_FALSE(id.empty());
  status(id, "accepted");
  status(id, "picking");
  status(id, "packed");
  // "packed" arrives; "confirmed" was switched off and is skipped, not sent.
  ASSERT_TRUE(wait_for([&] { return sink_->accepted_ids() == 1; }, 20s));
  ASSERT_TRUE(wait_for(
      [&] {
        const json list = notifications(kAlice);
        return list.size() == 2 && list[1]["kind"] == "confirmed" && list[1]["state"] == "skipped";
      },
      10s))
      << notifications(kAlice).dump();
  EXPECT_EQ(sink_->seen().begin()->second.body["type"], "order.packed");
}

// Two instances on one PostgreSQL database share the outbox: each notification is
// queued once and sent by one of them, whichever claims it.
TEST_F(NotifyTest, TwoInstancesOnPostgresSendEachNotificationOnce) {
  auto pg = PostgresServer::start({.settings = {"fsync=off"}});
  ASSERT_TRUE(pg.ok()) << pg.status().to_string();
  ASSERT_TRUE(pg->create_database("notify").is_ok());
  const std::vector<std::string> shared = {
      "--storage.backend=postgres", "--storage.postgres_dsn=" + pg->dsn("notify"),
      "--orders.max_unpaid_per_customer=1000", "--http.rate_limit_per_s=0"};
  start_cloud(shared);
  std::vector<std::string> second_args = {
      "--http.port=0",
      "--state_dir=" + dir_->file("cloud2").string(),
      "--auth.tokens=" + tokens_json({{"alice", "customer", kAlice}}),
      "--payments.provider=sandbox",
      "--notify.enabled=true",
      "--notify.webhook_url=" + sink_->url(),
      "--notify.webhook_secret=" + std::string(kHookSecret),
      "--notify.poll_interval_ms=20"};
  second_args.insert(second_args.end(), shared.begin(), shared.end());
  auto second = start_daemon("shopeasy-cloud", second_args);
  ASSERT_TRUE(second.ok()) << second.status().to_string();
  add_store_with_stock();
  const json order = {{"lines", {{{"sku", "MILK"}, {"qty", 1}}}},
                      {"delivery", {{"lat", 12.975}, {"lon", 77.645}}}};
  constexpr int kOrders = 200;
  for (int i = 0; i < kOrders; ++i) {
    const HttpReply placed = call("POST", "/api/orders", order.dump(), kAlice,
                                  {{"Idempotency-Key", "pg-" + std::to_string(i)}});
    ASSERT_EQ(placed.status, 201) << placed.body;
    const std::string id = json::parse(placed.body)["order_id"];
    // Cancelled through either instance.
    auto headers = bearer(kAlice);
    const int port = i % 2 == 0 ? cloud_->http_port : second->http_port;
    auto cancelled =
        http_request("127.0.0.1", port, "POST", "/api/orders/" + id + "/cancel", "", headers, 30s);
    ASSERT_TRUE(cancelled && cancelled->status == 200) << (cancelled ? cancelled->body : "");
  }
  ASSERT_TRUE(wait_for([&] { return sink_->accepted_ids() == kOrders; }, 30s))
      << sink_->accepted_ids();
  EXPECT_EQ(sink_->posts(), kOrders);
  for (const auto& [key, seen] : sink_->seen()) EXPECT_EQ(seen.posts, 1) << key;
  const std::int64_t here = metric("cloud_notify_sent_total{channel=\"webhook\"}");
  auto other = http_request("127.0.0.1", second->http_port, "GET", "/metrics", "", bearer(), 10s);
  ASSERT_TRUE(other.has_value());
  const std::string series = "\ncloud_notify_sent_total{channel=\"webhook\"} ";
  const std::size_t at = other->body.find(series);
  ASSERT_NE(at, std::string::npos);
  const std::int64_t there = std::stoll(other->body.substr(at + series.size()));
  EXPECT_EQ(here + there, kOrders);
  std::printf("[ shared   ] %d notifications: %lld sent by one instance, %lld by the other\n",
              kOrders, static_cast<long long>(here), static_cast<long long>(there));
}

// A configuration the worker could not honour is refused before the daemon starts,
// naming the option; the webhook secret itself is never printed.
TEST_F(NotifyTest, BadNotifyOptionsAreRefusedAtStartNamingTheOption) {
  struct Bad {
    std::vector<std::string> flags;
    std::string option;
  };
  for (const Bad& bad : std::vector<Bad>{
           {{"--notify.webhook_url=" + sink_->url(), "--notify.webhook_secret=short-secret-x"},
            "notify.webhook_secret"},
           {{"--notify.webhook_url=ftp://example.com/hooks",
             "--notify.webhook_secret=" + std::string(kHookSecret)},
            "notify.webhook_url"},
           {{"--notify.lease_s=1", "--notify.webhook_timeout_ms=5000"}, "notify.lease_s"},
           {{"--notify.retry_base_ms=5000", "--notify.retry_max_ms=1000"}, "notify.retry_max_ms"},
           {{"--notify.batch_size=0"}, "notify.batch_size"}}) {
    std::vector<std::string> argv = {binary_path("shopeasy-cloud"), "--check-config",
                                     "--notify.enabled=true"};
    argv.insert(argv.end(), bad.flags.begin(), bad.flags.end());
    auto child = ChildProcess::spawn({.argv = argv});
    ASSERT_TRUE(child.ok());
    EXPECT_EQ(child->wait_exit(10s), 2) << bad.option << "\n" << child->describe();
    EXPECT_NE(child->stderr_text().find(bad.option), std::string::npos) << child->describe();
    EXPECT_EQ(child->output().find("short-secret-x"), std::string::npos) << child->describe();
  }
}

}  // namespace
}  // namespace shopeasy::testing
