// Orders at the store with real processes: the cloud (shopeasy-cloud) registers the
// store and owns the catalog, the store (shopeasy-edge) syncs with it. Orders reach the
// store the way the cloud routes them, as items of the store's downstream queue
// (CloudStore::enqueue_downstream on the cloud's database), and every status the store
// sets must flow back up to the cloud.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cloud/storage/cloud_store.hpp"
#include "common/clock/clock.hpp"
#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kStoreId = "blr-1";
constexpr const char* kStoreSecret = "store-secret-0123456789";
constexpr const char* kPickerToken = "picker-token";
constexpr const char* kMilkEan = "4006381333931";
constexpr const char* kBreadEan = "5901234123457";

std::string edge_tokens() { return tokens_json({{"picker-1", "picker", kPickerToken}}); }

class EdgeOrdersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("edge-orders");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    auto cloud = start_daemon(
        "shopeasy-cloud", {"--http.port=0", "--state_dir=" + dir_->file("cloud").string(),
                           "--auth.tokens=" + admin_tokens_json(), "--payments.provider=sandbox"});
    ASSERT_TRUE(cloud.ok()) << cloud.status().to_string();
    cloud_.emplace(std::move(*cloud));
    ASSERT_EQ(cloud_call("PUT", std::string("/v1/stores/") + kStoreId,
                         json{{"name", "Indiranagar"},
                              {"lat", 12.9719},
                              {"lon", 77.6412},
                              {"service_radius_m", 3000},
                              {"secret", kStoreSecret}}
                             .dump())
                  .status,
              200);
    ASSERT_EQ(cloud_call("PUT", "/v1/catalog/MILK-1L",
                         json{{"name", "Milk 1 L"},
                              {"price_cents", 6500},
                              {"category", "dairy"},
                              {"barcodes", {"04006381333931"}}}
                             .dump())
                  .status,
              200);
    ASSERT_EQ(cloud_call("PUT", "/v1/catalog/BREAD",
                         json{{"name", "Bread"},
                              {"price_cents", 4000},
                              {"category", "bakery"},
                              {"barcodes", {"05901234123457"}}}
                             .dump())
                  .status,
              200);

    auto edge = start_daemon(
        "shopeasy-edge",
        {"--http.port=0", "--state_dir=" + dir_->file("edge").string(), "--mqtt.enabled=false",
         "--store.id=" + std::string(kStoreId), "--auth.tokens=" + edge_tokens(),
         "--sync.enabled=true", "--sync.url=http://127.0.0.1:" + std::to_string(cloud_->http_port),
         "--sync.heartbeat_ms=300"},
        {{"SHOPEASY_EDGE_SYNC_STORE_SECRET", kStoreSecret}});
    ASSERT_TRUE(edge.ok()) << edge.status().to_string();
    edge_.emplace(std::move(*edge));

    // The catalog reaches the store; bins and stock are set up by scans.
    ASSERT_TRUE(wait_for([&] { return edge_call("GET", "/api/stock/BREAD").status == 200; }, 15s))
        << edge_->process.describe();
    ASSERT_EQ(
        edge_call("POST", "/api/bins",
                  R"({"bins":[{"code":"A-01","walk_order":1},{"code":"B-01","walk_order":2}]})")
            .status,
        200);
    receive("r1", kBreadEan, 3, "B-01");
    receive("r2", kMilkEan, 5, "A-01");

    auto cloud_db = cloud::storage::open_sqlite_store(dir_->file("cloud/cloud.db").string());
    ASSERT_TRUE(cloud_db.ok()) << cloud_db.status().to_string();
    cloud_db_ = std::move(*cloud_db);
    ASSERT_TRUE(cloud_db_->migrate().is_ok());
  }

  HttpReply cloud_call(const std::string& method, const std::string& path,
                       const std::string& body = "") {
    auto headers = bearer();
    if (!body.empty()) headers["Content-Type"] = "application/json";
    return http_request("127.0.0.1", cloud_->http_port, method, path, body, headers)
        .value_or(HttpReply{});
  }
  HttpReply edge_call(const std::string& method, const std::string& path,
                      const std::string& body = "", const std::string& token = kAdminToken) {
    auto headers = bearer(token);
    if (!body.empty()) headers["Content-Type"] = "application/json";
    return http_request("127.0.0.1", edge_->http_port, method, path, body, headers)
        .value_or(HttpReply{});
  }
  void receive(const std::string& id, const std::string& code, int qty, const std::string& bin) {
    auto r = edge_call("POST", "/api/scans",
                       json{{"scan_id", id},
                            {"scanner_id", "h1"},
                            {"code", code},
                            {"action", "receive"},
                            {"qty", qty},
                            {"bin", bin}}
                           .dump());
    ASSERT_EQ(r.status, 200) << r.body;
  }

  // Queues an order for the store exactly as the cloud routes one.
  void route_order(const std::string& id, const json& lines) {
    const std::int64_t now = to_unix_ms(std::chrono::system_clock::now());
    json order = {{"order_id", id},
                  {"customer_id", "cust-1"},
                  {"store_id", kStoreId},
                  {"status", "routed"},
                  {"lines", lines},
                  {"delivery", {{"lat", 12.975}, {"lon", 77.64}}},
                  {"promised_at_ms", now + 600000},
                  {"created_at_ms", now},
                  {"updated_at_ms", now},
                  {"total_cents", 17000},
                  {"accept_by_ms", now + 60000}};
    ASSERT_TRUE(cloud_db_->enqueue_downstream(kStoreId, "order", order).ok());
  }

  std::string edge_status(const std::string& id) {
    auto r = edge_call("GET", "/api/orders/" + id);
    if (r.status != 200) return "http " + std::to_string(r.status);
    return json::parse(r.body)["status"].get<std::string>();
  }

  // Store status changes the cloud has applied or counted for this store.
  std::int64_t cloud_order_statuses() {
    auto counts = cloud_db_->change_counts(kStoreId);
    if (!counts.ok()) return -1;
    std::int64_t n = 0;
    for (const auto& [kind, count] : *counts) {
      if (kind.rfind("order.status", 0) == 0) n += count;
    }
    return n;
  }

  HttpReply pick(const std::string& id, const std::string& code, int qty = 1) {
    return edge_call("POST", "/api/orders/" + id + "/pick",
                     json{{"code", code}, {"qty", qty}}.dump(), kPickerToken);
  }

  std::optional<TempDir> dir_;
  std::optional<RunningDaemon> cloud_;
  std::optional<RunningDaemon> edge_;
  std::unique_ptr<cloud::storage::CloudStore> cloud_db_;
};

TEST_F(EdgeOrdersTest, ARoutedOrderIsAcceptedPickedByScanAndPackedWithEveryStatusSentUp) {
  route_order("o-1", json::array({{{"sku", "BREAD"}, {"qty", 1}, {"unit_price_cents", 4000}},
                                  {{"sku", "MILK-1L"}, {"qty", 2}, {"unit_price_cents", 6500}}}));
  ASSERT_TRUE(wait_for([&] { return edge_status("o-1") == "accepted"; }, 15s))
      << edge_status("o-1") << "\n"
      << edge_->process.describe();
  const json stock = json::parse(edge_call("GET", "/api/stock/MILK-1L").body);
  EXPECT_EQ(stock["reserved"], 2);

  // The pick list walks A-01 before B-01 and carries the codes to scan.
  auto list = edge_call("GET", "/api/orders/o-1/picklist", "", kPickerToken);
  ASSERT_EQ(list.status, 200) << list.body;
  const json entries = json::parse(list.body)["entries"];
  ASSERT_EQ(entries.size(), 2u) << list.body;
  EXPECT_EQ(entries[0]["bin"], "A-01");
  EXPECT_EQ(entries[0]["sku"], "MILK-1L");
  EXPECT_EQ(entries[0]["barcodes"][0], "04006381333931");
  EXPECT_EQ(entries[1]["bin"], "B-01");

  // Wrong items are refused on the spot, naming what is expected.
  auto wrong = pick("o-1", "96385074");
  EXPECT_EQ(wrong.status, 409) << wrong.body;
  EXPECT_NE(wrong.body.find("MILK-1L x2 (A-01)"), std::string::npos) << wrong.body;
  auto too_many = pick("o-1", kBreadEan, 2);
  EXPECT_EQ(too_many.status, 409) << too_many.body;
  // Packing before everything is picked is refused.
  EXPECT_EQ(edge_call("POST", "/api/orders/o-1/pack", "", kPickerToken).status, 409);

  ASSERT_EQ(pick("o-1", kMilkEan, 2).status, 200);
  EXPECT_EQ(edge_status("o-1"), "picking");
  ASSERT_EQ(pick("o-1", kBreadEan).status, 200);
  auto packed = edge_call("POST", "/api/orders/o-1/pack", "", kPickerToken);
  ASSERT_EQ(packed.status, 200) << packed.body;
  const json detail = json::parse(packed.body);
  EXPECT_EQ(detail["status"], "packed");
  EXPECT_EQ(detail["units_picked"], 3);
  EXPECT_TRUE(detail["timestamps"].contains("accepted"));

  // The stock left as picks for this order.
  const json milk = json::parse(edge_call("GET", "/api/stock/MILK-1L").body);
  EXPECT_EQ(milk["on_hand"], 3);
  EXPECT_EQ(milk["reserved"], 0);
  // accepted, picking, packed reached the cloud.
  EXPECT_TRUE(wait_for([&] { return cloud_order_statuses() >= 3; }, 15s)) << cloud_order_statuses();
  const std::string metrics = edge_call("GET", "/metrics").body;
  EXPECT_NE(metrics.find("edge_order_pick_scans_total{result=\"wrong_item\"} 1"),
            std::string::npos);
  EXPECT_NE(metrics.find("edge_orders{status=\"packed\"} 1"), std::string::npos);
}

TEST_F(EdgeOrdersTest, AShortStoreRefusesAndACloudCancelGivesTheStockBack) {
  route_order("o-2", json::array({{{"sku", "MILK-1L"}, {"qty", 50}, {"unit_price_cents", 6500}}}));
  route_order("o-3", json::array({{{"sku", "BREAD"}, {"qty", 2}, {"unit_price_cents", 4000}}}));
  ASSERT_TRUE(wait_for([&] { return edge_status("o-3") == "accepted"; }, 15s))
      << edge_->process.describe();
  const json refused = json::parse(edge_call("GET", "/api/orders/o-2").body);
  EXPECT_EQ(refused["status"], "cancelled");
  EXPECT_EQ(refused["reason"], "refused: out_of_stock MILK-1L");

  ASSERT_EQ(pick("o-3", kBreadEan).status, 200);
  ASSERT_TRUE(cloud_db_
                  ->enqueue_downstream(kStoreId, "order.cancel",
                                       {{"order_id", "o-3"}, {"reason", "customer cancelled"}})
                  .ok());
  ASSERT_TRUE(wait_for([&] { return edge_status("o-3") == "cancelled"; }, 15s));
  const json bread = json::parse(edge_call("GET", "/api/stock/BREAD").body);
  EXPECT_EQ(bread["on_hand"], 3);
  EXPECT_EQ(bread["reserved"], 0);
  // Refused, accepted, picking, cancelled.
  EXPECT_TRUE(wait_for([&] { return cloud_order_statuses() >= 4; }, 15s)) << cloud_order_statuses();
  auto list = edge_call("GET", "/api/orders?status=cancelled", "", kPickerToken);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(json::parse(list.body)["items"].size(), 2u);
}

TEST_F(EdgeOrdersTest, BadRequestsGetClearErrors) {
  route_order("o-4", json::array({{{"sku", "BREAD"}, {"qty", 1}, {"unit_price_cents", 4000}}}));
  ASSERT_TRUE(wait_for([&] { return edge_status("o-4") == "accepted"; }, 15s));
  EXPECT_EQ(edge_call("GET", "/api/orders/nope").status, 404);
  EXPECT_EQ(pick("nope", kBreadEan).status, 404);
  auto malformed = edge_call("POST", "/api/orders/o-4/pick", "{\"code\": ", kPickerToken);
  EXPECT_EQ(malformed.status, 400) << malformed.body;
  auto no_code = edge_call("POST", "/api/orders/o-4/pick", R"({"qty": 1})", kPickerToken);
  EXPECT_EQ(no_code.status, 400);
  EXPECT_NE(no_code.body.find("\"field\":\"code\""), std::string::npos) << no_code.body;
  EXPECT_EQ(edge_call("GET", "/api/orders?status=bogus").status, 400);
  // Accepting twice is an illegal transition; a picker may not refuse or substitute.
  EXPECT_EQ(edge_call("POST", "/api/orders/o-4/accept", "", kPickerToken).status, 409);
  EXPECT_EQ(edge_call("POST", "/api/orders/o-4/refuse", R"({"reason":"x"})", kPickerToken).status,
            403);
  EXPECT_EQ(
      edge_call("POST", "/api/orders/o-4/short",
                R"({"sku":"BREAD","action":"substitute","substitute_sku":"MILK-1L"})", kPickerToken)
          .status,
      403);
  auto bad_action =
      edge_call("POST", "/api/orders/o-4/short", R"({"sku":"BREAD","action":"drop"})");
  EXPECT_EQ(bad_action.status, 400);
  // A dearer substitute from another category is refused even for an admin.
  EXPECT_EQ(edge_call("POST", "/api/orders/o-4/short",
                      R"({"sku":"BREAD","action":"substitute","substitute_sku":"MILK-1L"})")
                .status,
            409);
  // Nothing was changed by any of it.
  EXPECT_EQ(edge_status("o-4"), "accepted");
  EXPECT_EQ(json::parse(edge_call("GET", "/api/stock/BREAD").body)["reserved"], 1);
}

}  // namespace
}  // namespace shopeasy::testing
