// Dynamic pricing with the real shopeasy-cloud binary: a quote shows every line and fee,
// an order carrying it is charged exactly that total, the same cart gets the same quote
// whoever asks and from whatever device, an expired quote is refused with the lines
// that moved, and the kill switch serves base prices on the next quote, on a second
// instance sharing the PostgreSQL database within a second. The store is played by sync
// requests.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kAlice = "alice-token";
constexpr const char* kBob = "bob-token";
constexpr const char* kSecret = "store-secret-0123456789";

json cart() {
  return {{"lines", {{{"sku", "MILK"}, {"qty", 2}}, {{"sku", "BREAD"}, {"qty", 1}}}},
          {"delivery", {{"lat", 12.975}, {"lon", 77.645}}}};
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class PricingApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("pricing");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    std::vector<std::string> shared;
    if (instances_ > 1) {
      // Several instances share one PostgreSQL database.
      auto pg = PostgresServer::start({.settings = {"fsync=off"}});
      ASSERT_TRUE(pg.ok()) << pg.status().to_string();
      pg_.emplace(std::move(*pg));
      ASSERT_TRUE(pg_->create_database("pricing").is_ok());
      shared = {"--storage.backend=postgres", "--storage.postgres_dsn=" + pg_->dsn("pricing")};
    }
    for (int i = 0; i < instances_; ++i) {
      std::vector<std::string> args = {
          "--http.port=0", "--state_dir=" + dir_->file("cloud" + std::to_string(i)).string(),
          "--auth.tokens=" +
              tokens_json({{"alice", "customer", kAlice}, {"bob", "customer", kBob}}),
          "--payments.provider=sandbox"};
      args.insert(args.end(), shared.begin(), shared.end());
      auto cloud = start_daemon("shopeasy-cloud", args);
      ASSERT_TRUE(cloud.ok()) << cloud.status().to_string();
      clouds_.push_back(std::move(*cloud));
    }

    ASSERT_EQ(call("PUT", "/v1/stores/s1",
                   json{{"name", "Store s1"},
                        {"lat", 12.9719},
                        {"lon", 77.6412},
                        {"service_radius_m", 3000},
                        {"secret", kSecret}})
                  .status,
              200);
    for (const auto& [sku, price] : {std::pair<std::string, int>{"MILK", 6000}, {"BREAD", 4000}}) {
      ASSERT_EQ(
          call("PUT", "/v1/catalog/" + sku, json{{"name", sku}, {"price_cents", price}}).status,
          200);
    }
    json batch = {{"store_id", "s1"},
                  {"first_seq", 1},
                  {"downstream_cursor", 0},
                  {"sent_at_ms", now_ms()},
                  {"changes",
                   {{{"seq", 1},
                     {"kind", "stock.changed"},
                     {"body", {{"sku", "MILK"}, {"sku_on_hand", 50}, {"sku_reserved", 0}}}},
                    {{"seq", 2},
                     {"kind", "stock.changed"},
                     {"body", {{"sku", "BREAD"}, {"sku_on_hand", 50}, {"sku_reserved", 0}}}}}}};
    ASSERT_EQ(call("POST", "/v1/stores/s1/sync", batch, std::string("s1:") + kSecret).status, 200);
    // MILK may be repriced (it has a cost); BREAD has no cost and keeps its base.
    ASSERT_EQ(call("PUT", "/v1/prices/models/MILK",
                   json{{"base_cents", 6000},
                        {"mrp_cents", 6800},
                        {"cost_cents", 4000},
                        {"min_margin_bp", 1000}})
                  .status,
              200);
    ASSERT_EQ(
        call("PUT", "/v1/prices/models/BREAD", json{{"base_cents", 4000}, {"mrp_cents", 4500}})
            .status,
        200);
    // A competitor sells milk at 55.00: the rule asks for 54.00, the hourly cap allows 55.20.
    HttpReply feed = call_raw("POST", "/v1/prices/competitor", "sku,competitor,price\nMILK,a,55\n",
                              kAdminToken, "text/csv");
    ASSERT_EQ(feed.status, 200) << feed.body;
    // The store is online once its sync reached the routing index.
    ASSERT_TRUE(
        wait_for([&] { return call("POST", "/api/quote", cart(), kAlice).status == 200; }, 10s))
        << call("POST", "/api/quote", cart(), kAlice).body;
  }

  HttpReply call_raw(const std::string& method, const std::string& path, const std::string& body,
                     const std::string& token, const std::string& type,
                     std::map<std::string, std::string> extra = {}, std::size_t instance = 0) {
    auto headers = bearer(token);
    if (!body.empty()) headers["Content-Type"] = type;
    for (auto& [k, v] : extra) headers[k] = v;
    return http_request("127.0.0.1", clouds_[instance].http_port, method, path, body, headers, 30s)
        .value_or(HttpReply{});
  }
  HttpReply call(const std::string& method, const std::string& path, const json& body = nullptr,
                 const std::string& token = kAdminToken,
                 std::map<std::string, std::string> extra = {}) {
    return call_raw(method, path, body.is_null() ? "" : body.dump(), token, "application/json",
                    std::move(extra));
  }
  json quote(const std::string& token = kAlice, std::map<std::string, std::string> extra = {}) {
    HttpReply r = call("POST", "/api/quote", cart(), token, std::move(extra));
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? json::parse(r.body) : json::object();
  }

  int instances_ = 1;
  std::optional<TempDir> dir_;
  std::optional<PostgresServer> pg_;
  std::vector<RunningDaemon> clouds_;
};

// Two instances on one PostgreSQL database.
class PricingClusterTest : public PricingApiTest {
 protected:
  PricingClusterTest() { instances_ = 2; }
};

TEST_F(PricingApiTest, OrderWithQuoteIsChargedTheQuotedTotal) {
  const json q = quote();
  ASSERT_EQ(q["lines"].size(), 2u);
  EXPECT_EQ(q["lines"][0]["unit_price_cents"], 5520);
  EXPECT_EQ(q["lines"][1]["unit_price_cents"], 4000);
  ASSERT_EQ(q["fees"].size(), 1u);
  EXPECT_EQ(q["fees"][0]["kind"], "delivery");
  const std::int64_t fee = q["fees"][0]["amount_cents"];
  EXPECT_EQ(q["total_cents"], 2 * 5520 + 4000 + fee);
  EXPECT_GT(q["expires_at_ms"].get<std::int64_t>(), now_ms());

  json body = cart();
  body["quote_id"] = q["quote_id"];
  HttpReply placed = call("POST", "/api/orders", body, kAlice, {{"Idempotency-Key", "k1"}});
  ASSERT_EQ(placed.status, 201) << placed.body;
  const json order = json::parse(placed.body);
  EXPECT_EQ(order["total_cents"], q["total_cents"]);
  EXPECT_EQ(order["payment"]["amount_cents"], q["total_cents"]);

  // The same quote with different lines is refused, nothing held.
  json more = cart();
  more["lines"][0]["qty"] = 3;
  more["quote_id"] = q["quote_id"];
  HttpReply refused = call("POST", "/api/orders", more, kAlice, {{"Idempotency-Key", "k2"}});
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_EQ(json::parse(refused.body)["error"]["code"], "quote_mismatch");
}

TEST_F(PricingApiTest, SameCartSamePriceWhoeverAsks) {
  json a = quote(kAlice, {{"User-Agent", "ShopEasy-iOS/5.1 (iPhone15,2)"}});
  json b = quote(kBob, {{"User-Agent", "Mozilla/5.0 (Linux; Android 9; cheap phone)"}});
  json c = quote(kBob, {{"X-Device-Id", "device-42"}, {"X-Forwarded-For", "203.0.113.9"}});
  for (json* q : {&a, &b, &c}) {
    q->erase("quote_id");
    q->erase("expires_at_ms");
  }
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
}

TEST_F(PricingApiTest, ExpiredQuoteIsRefusedWithTheLinesThatMoved) {
  ASSERT_EQ(call("PUT", "/v1/pricing", json{{"quote_ttl_ms", 1000}}).status, 200);
  const json q = quote();
  // The price moves after the quote: the kill switch brings milk back to its base.
  ASSERT_EQ(call("PUT", "/v1/pricing", json{{"enabled", false}}).status, 200);
  const std::int64_t expires = q["expires_at_ms"];
  ASSERT_TRUE(wait_for([&] { return now_ms() > expires; }, 5s));
  json body = cart();
  body["quote_id"] = q["quote_id"];
  HttpReply r = call("POST", "/api/orders", body, kAlice, {{"Idempotency-Key", "k1"}});
  ASSERT_EQ(r.status, 409) << r.body;
  const json reply = json::parse(r.body);
  EXPECT_EQ(reply["error"]["code"], "quote_expired");
  ASSERT_EQ(reply["lines"].size(), 1u) << r.body;
  EXPECT_EQ(reply["lines"][0]["sku"], "MILK");
  EXPECT_EQ(reply["lines"][0]["quoted_unit_price_cents"], 5520);
  EXPECT_EQ(reply["lines"][0]["unit_price_cents"], 6000);
}

TEST_F(PricingApiTest, KillSwitchServesBasePricesOnTheNextQuote) {
  ASSERT_EQ(
      call("PUT", "/v1/pricing/signals/s1", json{{"open_orders", 30}, {"available_runners", 5}})
          .status,
      200);
  json q = quote();
  EXPECT_EQ(q["lines"][0]["unit_price_cents"], 5520);
  EXPECT_EQ(q["fees"][0]["amount_cents"], 6900);  // surge step 3
  ASSERT_EQ(call("PUT", "/v1/pricing", json{{"enabled", false}}).status, 200);
  q = quote();
  EXPECT_EQ(q["lines"][0]["unit_price_cents"], 6000);
  EXPECT_EQ(q["lines"][0]["rule"], "kill_switch");
  EXPECT_EQ(q["fees"][0]["amount_cents"], 2500);
  // Every change is in the audit, the switch included.
  HttpReply h = call("GET", "/v1/prices/history?limit=1000");
  ASSERT_EQ(h.status, 200);
  bool switched = false;
  const json history = json::parse(h.body);
  for (const json& e : history["items"]) {
    switched = switched || (e["kind"] == "config" && e["new_cents"] == 0);
  }
  EXPECT_TRUE(switched) << h.body;
  // Customers may not switch it back.
  EXPECT_EQ(call("PUT", "/v1/pricing", json{{"enabled", true}}, kAlice).status, 403);
}

TEST_F(PricingApiTest, BadFeedIsRefusedNamingTheRowAndChangesNothing) {
  HttpReply r = call_raw("POST", "/v1/prices/competitor", "sku,price\nMILK,50\nBREAD,nan\n",
                         kAdminToken, "text/csv");
  ASSERT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(json::parse(r.body)["error"]["message"], "line 3: price is not a finite number");
  r = call("PUT", "/v1/prices/models/MILK",
           json{{"base_cents", 6000}, {"mrp_cents", 6800}, {"cost_cents", nullptr}});
  ASSERT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(json::parse(r.body)["error"]["field"], "cost_cents");
  EXPECT_EQ(quote()["lines"][0]["unit_price_cents"], 5520);
}

TEST_F(PricingClusterTest, KillSwitchReachesTheOtherInstanceWithinASecond) {
  auto quote_on = [&](std::size_t instance) {
    HttpReply r =
        call_raw("POST", "/api/quote", cart().dump(), kAlice, "application/json", {}, instance);
    return r.status == 200 ? json::parse(r.body) : json{{"http_status", r.status}};
  };
  // The second instance learns of the store through its registry watcher.
  json q;
  ASSERT_TRUE(wait_for(
      [&] {
        q = quote_on(1);
        return q.contains("lines");
      },
      15s))
      << q.dump();
  EXPECT_EQ(q["lines"][0]["unit_price_cents"], 5520);
  const auto switched = std::chrono::steady_clock::now();
  ASSERT_EQ(call("PUT", "/v1/pricing", json{{"enabled", false}}).status, 200);
  EXPECT_EQ(quote_on(0)["lines"][0]["unit_price_cents"], 6000);  // this instance: at once
  ASSERT_TRUE(wait_for([&] { return quote_on(1)["lines"][0]["unit_price_cents"] == 6000; }, 5s));
  const auto took = std::chrono::steady_clock::now() - switched;
  EXPECT_LT(took, 1s) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                      << " ms";
  // A quote from one instance is honoured by the other.
  const json other = quote_on(1);
  json body = cart();
  body["quote_id"] = other["quote_id"];
  HttpReply placed = call("POST", "/api/orders", body, kAlice, {{"Idempotency-Key", "k1"}});
  ASSERT_EQ(placed.status, 201) << placed.body;
  EXPECT_EQ(json::parse(placed.body)["total_cents"], other["total_cents"]);
}

}  // namespace
}  // namespace shopeasy::testing
