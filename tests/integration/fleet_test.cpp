// The fleet dashboard's routes on the real shopeasy-cloud: orders placed, paid and
// delivered through sync show in the summary (orders per minute, delivery percentiles
// against the promise), in a store's drill-down and in the operator's order lookup; bad
// input and other roles are refused; and the pricing kill switch can be flipped with the
// operator's session cookie only with the CSRF header and a same-host Origin, never by a
// cross-site form post, and the flip is audited.
#include <gtest/gtest.h>

#include <thread>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "tests/harness/binaries.hpp"
#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kAlice = "fleet-alice-token";
constexpr const char* kSecret = "fleet-store-secret-0123456789";
constexpr const char* kOperatorPassword = "fleet-ops-pass-1";

class FleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("fleet");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    const std::string state = dir_->file("cloud").string();
    std::filesystem::create_directories(state);
    // An operator account in the cloud's user file, as the README tells operators to make.
    const std::string cmd = "printf '%s\\n' '" + std::string(kOperatorPassword) + "' | '" +
                            binary_path("shopeasy-edge-users") + "' --db '" + state +
                            "/audit.db' add ops admin >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    auto cloud = start_daemon("shopeasy-cloud",
                              {"--http.port=0", "--state_dir=" + state,
                               "--auth.tokens=" + tokens_json({{"alice", "customer", kAlice}}),
                               "--payments.provider=sandbox", "--fleet.breach_min_delivered=1"});
    ASSERT_TRUE(cloud.ok()) << cloud.status().to_string();
    cloud_.emplace(std::move(*cloud));
  }

  HttpReply call(const std::string& method, const std::string& path, const std::string& body = "",
                 std::map<std::string, std::string> headers = bearer()) {
    if (!body.empty() && !headers.count("Content-Type"))
      headers["Content-Type"] = "application/json";
    return http_request("127.0.0.1", cloud_->http_port, method, path, body, headers, 30s)
        .value_or(HttpReply{});
  }

  json sync(const std::string& store, std::vector<std::pair<std::string, json>> changes) {
    std::int64_t& seq = seqs_[store];
    json batch = {{"store_id", store},
                  {"first_seq", seq + 1},
                  {"changes", json::array()},
                  {"downstream_cursor", 0},
                  {"sent_at_ms", 1'800'000'000'000}};
    for (auto& [kind, body] : changes) {
      batch["changes"].push_back({{"seq", ++seq}, {"kind", kind}, {"body", body}});
    }
    const HttpReply r =
        call("POST", "/v1/stores/" + store + "/sync", batch.dump(), bearer(store + ":" + kSecret));
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? json::parse(r.body) : json();
  }

  // Registers a store with stock, places an order there, pays it and has the store take
  // it through to `last` ("delivered" or an open status); returns its id.
  std::string order_through(const std::string& store, const std::string& last) {
    const json order = {{"lines", {{{"sku", "MILK"}, {"qty", 1}}}},
                        {"delivery", {{"lat", 12.975}, {"lon", 77.645}}}};
    const HttpReply placed = call("POST", "/api/orders", order.dump(),
                                  {{"Authorization", std::string("Bearer ") + kAlice},
                                   {"Idempotency-Key", "k" + std::to_string(++orders_)}});
    EXPECT_EQ(placed.status, 201) << placed.body;
    if (placed.status != 201) return "";
    const json p = json::parse(placed.body);
    const std::string id = p["order_id"];
    const std::string intent = p["payment"]["intent_id"];
    EXPECT_EQ(call("POST", "/sandbox/pay/" + intent, json{{"outcome", "succeed"}}.dump()).status,
              200);
    EXPECT_TRUE(wait_for(
        [&] {
          const HttpReply o = call("GET", "/v1/orders/" + id);
          return o.status == 200 && json::parse(o.body)["order"]["status"] == "routed";
        },
        20s));
    for (const char* s : {"accepted", "picking", "packed", "out_for_delivery", "delivered"}) {
      sync(store, {{"order.status", {{"order_id", id}, {"status", s}}}});
      if (last == s) break;
    }
    return id;
  }

  void add_store(const std::string& id) {
    ASSERT_EQ(call("PUT", "/v1/stores/" + id,
                   json{{"name", "Store " + id},
                        {"lat", 12.9719},
                        {"lon", 77.6412},
                        {"service_radius_m", 3000},
                        {"secret", kSecret}}
                       .dump())
                  .status,
              200);
    ASSERT_EQ(call("PUT", "/v1/catalog/MILK", json{{"name", "Milk"}, {"price_cents", 6500}}.dump())
                  .status,
              200);
    sync(id, {{"stock.changed", {{"sku", "MILK"}, {"sku_on_hand", 50}, {"sku_reserved", 0}}}});
  }

  // Signs the operator in; returns the session cookie ("name=value") and CSRF token.
  std::pair<std::string, std::string> sign_in() {
    HttpReply r = call("POST", "/v1/session",
                       json{{"user", "ops"}, {"password", kOperatorPassword}}.dump(), {});
    EXPECT_EQ(r.status, 200) << r.body;
    const std::string set = r.headers["set-cookie"];
    const std::string cookie = set.substr(0, set.find(';'));
    return {cookie, r.status == 200 ? json::parse(r.body).value("csrf_token", "") : ""};
  }

  bool pricing_enabled() {
    const HttpReply r = call("GET", "/v1/pricing");
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 && json::parse(r.body).value("enabled", true);
  }

  std::optional<TempDir> dir_;
  std::optional<RunningDaemon> cloud_;
  std::map<std::string, std::int64_t> seqs_;
  int orders_ = 0;
};

TEST_F(FleetTest, SummaryDrillDownAndLookupShowOrdersPlacedAndDelivered) {
  add_store("s1");
  const std::string delivered1 = order_through("s1", "delivered");
  const std::string delivered2 = order_through("s1", "delivered");
  const std::string open = order_through("s1", "picking");
  ASSERT_FALSE(delivered1.empty() || delivered2.empty() || open.empty());

  HttpReply r = call("GET", "/v1/fleet/summary");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["cache-control"], "no-store");
  const json s = json::parse(r.body);
  EXPECT_EQ(s["window_s"], 3600);
  EXPECT_EQ(s["orders_per_minute"]["counts"].size(), 60u);
  EXPECT_EQ(s["orders_per_minute"]["total"], 3);
  EXPECT_EQ(s["delivery"]["delivered"], 2);
  EXPECT_FALSE(s["delivery"]["p50_s"].is_null());
  EXPECT_EQ(s["delivery"]["with_promise"], 2);
  EXPECT_EQ(s["delivery"]["on_time"], 2);  // delivered within seconds of a promise in minutes
  EXPECT_EQ(s["delivery"]["on_time_share"], 1.0);
  EXPECT_TRUE(s["breaching"].empty());
  EXPECT_EQ(s["pricing"]["kill_switch"], false);
  ASSERT_EQ(s["stores"].size(), 1u);
  const json& row = s["stores"][0];
  EXPECT_EQ(row["id"], "s1");
  EXPECT_EQ(row["open_orders"], 1);
  EXPECT_EQ(row["online"], true);
  EXPECT_LT(row["sync_lag_s"].get<double>(), 60);
  EXPECT_EQ(row["surge"]["step"], 0);
  EXPECT_GT(row["surge"]["fee_cents"].get<std::int64_t>(), 0);

  const HttpReply d = call("GET", "/v1/fleet/stores/s1?window_s=600");
  ASSERT_EQ(d.status, 200) << d.body;
  const json detail = json::parse(d.body);
  EXPECT_EQ(detail["window_s"], 600);
  EXPECT_EQ(detail["open_orders"]["picking"], 1);
  EXPECT_EQ(detail["delivery"]["delivered"], 2);
  EXPECT_TRUE(detail["late_orders"].empty());

  const HttpReply o = call("GET", "/v1/orders/" + delivered1);
  ASSERT_EQ(o.status, 200) << o.body;
  const json order = json::parse(o.body);
  EXPECT_EQ(order["order"]["status"], "delivered");
  EXPECT_TRUE(order["paid"]);
  std::vector<std::string> statuses;
  for (const auto& e : order["events"]) {
    if (e["kind"] == "status") statuses.push_back(e["body"].value("status", ""));
  }
  ASSERT_FALSE(statuses.empty());
  EXPECT_EQ(statuses.back(), "delivered");

  // Bad input and other callers.
  for (const char* bad : {"/v1/fleet/summary?window_s=59", "/v1/fleet/summary?window_s=86401",
                          "/v1/fleet/summary?window_s=abc", "/v1/fleet/stores/s1?window_s=0"}) {
    const HttpReply b = call("GET", bad);
    EXPECT_EQ(b.status, 400) << bad << " " << b.body;
    EXPECT_EQ(json::parse(b.body)["error"]["field"], "window_s") << b.body;
  }
  EXPECT_EQ(call("GET", "/v1/fleet/stores/nope").status, 404);
  EXPECT_EQ(call("GET", "/v1/orders/ord_nope").status, 404);
  EXPECT_EQ(call("GET", "/v1/fleet/summary", "", bearer(kAlice)).status, 403);
  EXPECT_EQ(call("GET", "/v1/orders/" + delivered1, "", bearer(kAlice)).status, 403);
  EXPECT_EQ(call("GET", "/v1/fleet/summary", "", {}).status, 401);
}

// A store draining a backlog says with each batch how old the rest is; operators see it
// per store until a batch reaches the store's head.
TEST_F(FleetTest, ShowsTheOldestChangeAStoresLastBatchLeftUnsynced) {
  add_store("s1");
  auto send = [&](std::optional<json> oldest) {
    json batch = {{"store_id", "s1"},
                  {"first_seq", seqs_["s1"] + 1},
                  {"changes", json::array()},
                  {"downstream_cursor", 0},
                  {"sent_at_ms", 1'800'000'000'000}};
    if (oldest) batch["oldest_unsent_ts_ms"] = *oldest;
    return call("POST", "/v1/stores/s1/sync", batch.dump(), bearer(std::string("s1:") + kSecret));
  };
  auto fleet_row = [&] {
    const HttpReply r = call("GET", "/v1/fleet/summary");
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? json::parse(r.body)["stores"][0] : json();
  };
  EXPECT_TRUE(fleet_row()["oldest_unsynced_change_ms"].is_null());

  ASSERT_EQ(send(1'799'999'940'000).status, 200);
  EXPECT_EQ(fleet_row()["oldest_unsynced_change_ms"], 1'799'999'940'000);
  const HttpReply d = call("GET", "/v1/fleet/stores/s1");
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_EQ(json::parse(d.body)["store"]["oldest_unsynced_change_ms"], 1'799'999'940'000);

  // A bad figure refuses the batch by name and changes nothing.
  const HttpReply bad = send(json("an hour ago"));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["error"]["field"], "oldest_unsent_ts_ms") << bad.body;
  EXPECT_EQ(fleet_row()["oldest_unsynced_change_ms"], 1'799'999'940'000);

  // Caught up: the next batch leaves nothing behind.
  ASSERT_EQ(send(std::nullopt).status, 200);
  EXPECT_TRUE(fleet_row()["oldest_unsynced_change_ms"].is_null());
}

// The dashboard's live feed: the summary pushed as it changes, with the session cookie
// (a page's EventSource) as with a bearer token.
TEST_F(FleetTest, PushesTheSummaryLiveAsItChanges) {
  add_store("s1");
  auto first_summary = [](const std::string& body) -> json {
    const std::size_t at = body.find("event: summary\ndata: ");
    if (at == std::string::npos) return json();
    const std::size_t from = at + std::string("event: summary\ndata: ").size();
    return json::parse(body.substr(from, body.find('\n', from) - from), nullptr, false);
  };
  auto stream = read_stream(
      cloud_->http_port, "/v1/fleet/events?window_s=600", bearer(),
      [&](const std::string& body) { return !first_summary(body).is_null(); }, 10s);
  ASSERT_EQ(stream.status, 200) << stream.body;
  EXPECT_FALSE(stream.ended);
  const json pushed = first_summary(stream.body);
  ASSERT_TRUE(pushed.is_object()) << stream.body;
  EXPECT_EQ(pushed["window_s"], 600);
  ASSERT_EQ(pushed["stores"].size(), 1u);
  EXPECT_EQ(pushed["orders_per_minute"]["total"], 0);

  // An order placed while the page watches arrives on the stream by itself.
  const auto [cookie, csrf] = sign_in();
  ASSERT_FALSE(cookie.empty());
  std::thread order([&] { order_through("s1", "accepted"); });
  auto later = read_stream(
      cloud_->http_port, "/v1/fleet/events?window_s=600", {{"Cookie", cookie}},
      [&](const std::string& body) {
        for (std::size_t at = 0;
             (at = body.find("event: summary\ndata: ", at)) != std::string::npos; ++at) {
          const std::size_t from = at + std::string("event: summary\ndata: ").size();
          const json s =
              json::parse(body.substr(from, body.find('\n', from) - from), nullptr, false);
          if (s.is_object() && s["orders_per_minute"]["total"] == 1) return true;
        }
        return false;
      },
      20s);
  order.join();
  EXPECT_EQ(later.status, 200);
  EXPECT_NE(later.body.find("\"total\":1"), std::string::npos) << later.body.substr(0, 2000);

  const HttpReply bad = call("GET", "/v1/fleet/events?window_s=5");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["error"]["field"], "window_s");
  EXPECT_EQ(call("GET", "/v1/fleet/events", "", {}).status, 401);
}

TEST_F(FleetTest, KillSwitchFlipsWithTheSessionCookieOnlyWithCsrfHeaderAndOrigin) {
  const auto [cookie, csrf] = sign_in();
  ASSERT_FALSE(cookie.empty());
  ASSERT_EQ(csrf.size(), 64u);
  const std::string origin = "http://127.0.0.1:" + std::to_string(cloud_->http_port);
  // The page reads with the cookie alone, and learns the same CSRF token.
  const HttpReply who = call("GET", "/v1/session", "", {{"Cookie", cookie}});
  ASSERT_EQ(who.status, 200) << who.body;
  EXPECT_EQ(json::parse(who.body)["csrf_token"], csrf);
  EXPECT_EQ(call("GET", "/v1/fleet/summary", "", {{"Cookie", cookie}}).status, 200);

  const std::string off = json{{"enabled", false}}.dump();
  // What another site can make a browser send: a form post (no custom header, no PUT).
  const HttpReply form = call("POST", "/v1/pricing/enabled", "enabled=false",
                              {{"Cookie", cookie},
                               {"Origin", "http://evil.example"},
                               {"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_NE(form.status, 200) << form.body;
  // No POST route at all: a form cannot reach it whatever it carries.
  EXPECT_EQ(call("POST", "/v1/pricing/enabled", off,
                 {{"Cookie", cookie}, {"Origin", origin}, {"X-ShopEasy-CSRF", csrf}})
                .status,
            404);
  // The cookie alone, a wrong token, another origin, no origin: refused.
  struct Case {
    std::map<std::string, std::string> headers;
    int status;
    std::string field;
  };
  const std::vector<Case> refused = {
      {{{"Cookie", cookie}, {"Origin", origin}}, 403, "X-ShopEasy-CSRF"},
      {{{"Cookie", cookie}, {"Origin", origin}, {"X-ShopEasy-CSRF", std::string(64, '0')}},
       403,
       "X-ShopEasy-CSRF"},
      {{{"Cookie", cookie}, {"Origin", "http://evil.example"}, {"X-ShopEasy-CSRF", csrf}},
       403,
       "Origin"},
      {{{"Cookie", cookie}, {"X-ShopEasy-CSRF", csrf}}, 403, "Origin"},
      {{{"Origin", origin}, {"X-ShopEasy-CSRF", csrf}}, 401, ""},
  };
  for (const Case& c : refused) {
    const HttpReply r = call("PUT", "/v1/pricing/enabled", off, c.headers);
    EXPECT_EQ(r.status, c.status) << r.body;
    if (!c.field.empty()) {
      EXPECT_EQ(json::parse(r.body)["error"]["field"], c.field) << r.body;
    }
  }
  // The cookie may not write anywhere else, even with the header.
  EXPECT_EQ(call("PUT", "/v1/pricing", off,
                 {{"Cookie", cookie}, {"Origin", origin}, {"X-ShopEasy-CSRF", csrf}})
                .status,
            401);
  EXPECT_TRUE(pricing_enabled());

  // The page's request: cookie, CSRF header, its own origin.
  const HttpReply flipped =
      call("PUT", "/v1/pricing/enabled", off,
           {{"Cookie", cookie}, {"Origin", origin}, {"X-ShopEasy-CSRF", csrf}});
  ASSERT_EQ(flipped.status, 200) << flipped.body;
  EXPECT_FALSE(pricing_enabled());
  const HttpReply summary = call("GET", "/v1/fleet/summary");
  EXPECT_EQ(json::parse(summary.body)["pricing"]["kill_switch"], true);
  // Bad bodies name the field.
  EXPECT_EQ(json::parse(call("PUT", "/v1/pricing/enabled", json{{"enabled", "no"}}.dump())
                            .body)["error"]["field"],
            "enabled");
  EXPECT_EQ(call("PUT", "/v1/pricing/enabled", json{{"enabled", true}, {"surge", 1}}.dump()).status,
            400);
  // Back on with the bearer token; both flips are audited with who made them.
  ASSERT_EQ(call("PUT", "/v1/pricing/enabled", json{{"enabled", true}}.dump()).status, 200);
  EXPECT_TRUE(pricing_enabled());
  const HttpReply audit = call("GET", "/v1/audit?action=pricing.switch.put");
  ASSERT_EQ(audit.status, 200) << audit.body;
  EXPECT_NE(audit.body.find("\"ops\""), std::string::npos) << audit.body;
  std::size_t flips = 0;
  for (std::size_t at = 0; (at = audit.body.find("pricing.switch.put", at)) != std::string::npos;
       ++at) {
    ++flips;
  }
  EXPECT_EQ(flips, 2u) << audit.body;
}

}  // namespace
}  // namespace shopeasy::testing
