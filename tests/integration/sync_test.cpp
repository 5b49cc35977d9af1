// Edge-to-cloud sync with real processes: the cloud's catalog reaches the store, the
// store's stock reaches the cloud's customer catalog, a partition drains when the cloud
// returns, every bad batch is refused with nothing applied, a malformed change is
// quarantined without blocking the rest, and either side restored from an old backup
// converges again.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "common/db/database.hpp"
#include "common/geohash/geohash.hpp"
#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kStoreId = "blr-1";
constexpr const char* kStoreSecret = "store-secret-0123456789";
constexpr const char* kCustomerToken = "customer-token";
constexpr const char* kMilkEan = "4006381333931";
constexpr const char* kBreadEan = "5901234123457";
constexpr double kLat = 12.9719;
constexpr double kLon = 77.6412;

std::string cloud_tokens() { return tokens_json({{"app", "customer", kCustomerToken}}); }

class SyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("sync");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    start_cloud(0);
    ASSERT_EQ(cloud_call("PUT", std::string("/v1/stores/") + kStoreId,
                         json{{"name", "Indiranagar"},
                              {"lat", kLat},
                              {"lon", kLon},
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
  }

  void start_cloud(int port) {
    auto cloud = start_daemon("shopeasy-cloud", {"--http.port=" + std::to_string(port),
                                                 "--state_dir=" + dir_->file("cloud").string(),
                                                 "--auth.tokens=" + cloud_tokens()});
    ASSERT_TRUE(cloud.ok()) << cloud.status().to_string();
    cloud_.emplace(std::move(*cloud));
  }
  void start_edge(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "--http.port=0",
        "--state_dir=" + dir_->file("edge").string(),
        "--mqtt.enabled=false",
        "--store.id=" + std::string(kStoreId),
        "--auth.tokens=" + admin_tokens_json(),
        "--sync.enabled=true",
        "--sync.url=http://127.0.0.1:" + std::to_string(cloud_->http_port),
        "--sync.heartbeat_ms=200"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto started =
        start_daemon("shopeasy-edge", args, {{"SHOPEASY_EDGE_SYNC_STORE_SECRET", kStoreSecret}});
    ASSERT_TRUE(started.ok()) << started.status().to_string();
    edge_.emplace(std::move(*started));
  }
  HttpReply cloud_call(const std::string& method, const std::string& path,
                       const std::string& body = "", const std::string& token = kAdminToken) {
    auto headers = bearer(token);
    if (!body.empty()) headers["Content-Type"] = "application/json";
    return http_request("127.0.0.1", cloud_->http_port, method, path, body, headers)
        .value_or(HttpReply{});
  }
  HttpReply edge_call(const std::string& method, const std::string& path,
                      const std::string& body = "") {
    auto headers = bearer();
    if (!body.empty()) headers["Content-Type"] = "application/json";
    return http_request("127.0.0.1", edge_->http_port, method, path, body, headers)
        .value_or(HttpReply{});
  }
  std::int64_t cloud_available(const std::string& sku) {
    auto cell = geohash::encode({kLat, kLon}, 7);
    auto r = cloud_call("GET", "/api/inventory?geo_hash=" + *cell, "", kCustomerToken);
    if (r.status != 200) {
      last_inventory_error_ = r.body;
      return -1;
    }
    const json page = json::parse(r.body);
    for (const auto& item : page["items"]) {
      if (item["sku"] == sku) return item["available"].get<std::int64_t>();
    }
    last_inventory_error_ = r.body;
    return -2;
  }
  HttpReply receive(const std::string& id, int qty, const std::string& code = kMilkEan) {
    return edge_call("POST", "/api/scans",
                     json{{"scan_id", id},
                          {"scanner_id", "h1"},
                          {"code", code},
                          {"action", "receive"},
                          {"qty", qty},
                          {"bin", "A-01"}}
                         .dump());
  }
  HttpReply raw_sync(const json& batch) {
    auto headers = bearer(std::string(kStoreId) + ":" + kStoreSecret);
    headers["Content-Type"] = "application/json";
    return http_request("127.0.0.1", cloud_->http_port, "POST",
                        std::string("/v1/stores/") + kStoreId + "/sync", batch.dump(), headers)
        .value_or(HttpReply{});
  }
  // A second catalog item with a barcode, so the store has more than one SKU.
  void add_bread() {
    ASSERT_EQ(cloud_call("PUT", "/v1/catalog/BREAD",
                         json{{"name", "Bread"},
                              {"price_cents", 4000},
                              {"category", "bakery"},
                              {"barcodes", {"05901234123457"}}}
                             .dump())
                  .status,
              200);
  }
  // The store's on-hand per SKU (0 for catalog items it holds none of).
  std::map<std::string, std::int64_t> edge_stock() {
    std::map<std::string, std::int64_t> out;
    auto r = edge_call("GET", "/api/stock?limit=500");
    if (r.status != 200) return {{"<edge unreachable>", -1}};
    // Named: a range-for over a member of a temporary would outlive the temporary.
    const json page = json::parse(r.body);
    for (const auto& item : page["items"]) {
      out[item["sku"].get<std::string>()] = item["on_hand"].get<std::int64_t>();
    }
    return out;
  }
  // The cloud's replica of the store, SKU -> on_hand.
  std::map<std::string, std::int64_t> cloud_replica() {
    std::map<std::string, std::int64_t> out;
    auto r = cloud_call("GET", std::string("/v1/stores/") + kStoreId + "/replica");
    if (r.status != 200) return {{"<cloud unreachable>", -1}};
    // Named: a range-for over a member of a temporary would outlive the temporary.
    const json page = json::parse(r.body);
    for (const auto& item : page["items"]) {
      out[item["sku"].get<std::string>()] = item["on_hand"].get<std::int64_t>();
    }
    return out;
  }
  // Every SKU's on-hand agrees between the store and the cloud's replica (a SKU missing
  // on one side counts as 0 there).
  bool replica_matches_store(std::string* why) {
    auto edge = edge_stock();
    auto cloud = cloud_replica();
    std::map<std::string, std::int64_t> all = edge;
    all.insert(cloud.begin(), cloud.end());
    for (const auto& [sku, unused] : all) {
      const std::int64_t e = edge.count(sku) ? edge[sku] : 0;
      const std::int64_t c = cloud.count(sku) ? cloud[sku] : 0;
      if (e != c) {
        *why = sku + ": store " + std::to_string(e) + ", cloud " + std::to_string(c);
        return false;
      }
    }
    return true;
  }
  json edge_health() {
    auto r = edge_call("GET", "/health");
    return r.status == 200 ? json::parse(r.body) : json::object();
  }
  bool edge_caught_up() {
    json h = edge_health();
    return h.contains("sync") && h["sync"].value("backlog", -1) == 0;
  }

  std::string last_inventory_error_;
  std::optional<TempDir> dir_;
  std::optional<RunningDaemon> cloud_;
  std::optional<RunningDaemon> edge_;
};

TEST_F(SyncTest, CatalogFlowsDownAndStockFlowsUp) {
  start_edge();
  // The cloud's catalog item reaches the store: its barcode becomes scannable.
  ASSERT_EQ(edge_call("POST", "/api/bins", R"({"bins":[{"code":"A-01"}]})").status, 200);
  ASSERT_TRUE(wait_for([&] { return edge_call("GET", "/api/stock/MILK-1L").status == 200; }, 10s))
      << edge_->process.describe();
  ASSERT_EQ(receive("r1", 12).status, 200);
  // The store's stock reaches customers.
  EXPECT_TRUE(wait_for([&] { return cloud_available("MILK-1L") == 12; }, 10s))
      << cloud_available("MILK-1L") << "\n"
      << edge_->process.describe();
  auto status = cloud_call("GET", std::string("/v1/stores/") + kStoreId + "/sync-status");
  ASSERT_EQ(status.status, 200);
  EXPECT_EQ(json::parse(status.body)["online"], true);
  // The edge hears the acknowledgement a moment after the cloud applies the change.
  json health;
  EXPECT_TRUE(wait_for(
      [&] {
        health = json::parse(edge_call("GET", "/health").body);
        return health["sync"]["backlog"] == 0;
      },
      10s))
      << health.dump();
}

// The cloud's word on the store's prices reaches the store's command center: the
// delivery fee, and the kill switch within a second; the store keeps
// showing the last view after a restart with the cloud gone. A store may read only its
// own view, and a bad wait is refused naming the parameter.
TEST_F(SyncTest, PricingViewAndKillSwitchReachTheStore) {
  start_edge();
  json pricing;
  ASSERT_TRUE(wait_for(
      [&] {
        pricing = json::parse(edge_call("GET", "/api/pricing").body);
        return pricing["view"].is_object();
      },
      10s))
      << pricing.dump() << "\n"
      << edge_->process.describe();
  EXPECT_TRUE(pricing["following"]);
  EXPECT_TRUE(pricing["view"]["enabled"]);
  // The fee follows the load the store itself reports with its batches.
  EXPECT_TRUE(pricing["view"]["delivery_fee"]["amount_cents"].is_number_integer());
  EXPECT_EQ(pricing["view"]["store_id"], kStoreId);

  const auto flipped = std::chrono::steady_clock::now();
  ASSERT_EQ(cloud_call("PUT", "/v1/pricing/enabled", R"({"enabled": false})").status, 200);
  ASSERT_TRUE(wait_for(
      [&] {
        pricing = json::parse(edge_call("GET", "/api/pricing").body);
        return pricing["view"]["enabled"] == false;
      },
      10s))
      << pricing.dump();
  // Held requests bring it at once; the bound is loose for loaded test machines (the
  // benchmark measures it: tens of milliseconds).
  EXPECT_LT(std::chrono::steady_clock::now() - flipped, 5s);
  EXPECT_EQ(pricing["view"]["delivery_fee"]["amount_cents"], 2'500);

  // Another store's view, and bad parameters.
  auto store_headers = bearer(std::string(kStoreId) + ":" + kStoreSecret);
  EXPECT_EQ(http_request("127.0.0.1", cloud_->http_port, "GET", "/v1/stores/other/pricing", "",
                         store_headers)
                ->status,
            403);
  auto bad =
      http_request("127.0.0.1", cloud_->http_port, "GET",
                   std::string("/v1/stores/") + kStoreId + "/pricing?version=x&wait_ms=99999", "",
                   store_headers);
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(json::parse(bad->body)["error"]["field"], "wait_ms");

  // The cloud goes away and the store restarts: the last view, with its age.
  cloud_->process.terminate_and_wait(10s);
  edge_->process.terminate_and_wait(10s);
  start_edge();
  pricing = json::parse(edge_call("GET", "/api/pricing").body);
  EXPECT_EQ(pricing["view"]["enabled"], false);
  EXPECT_GE(pricing["age_ms"].get<std::int64_t>(), 0);
}

// A purchase order made at the store reaches the cloud with each change of its state,
// where the central buying team reads it; another store's credential cannot.
TEST_F(SyncTest, PurchaseOrdersReachTheCloudAsTheyChange) {
  start_edge();
  ASSERT_EQ(edge_call("POST", "/api/bins", R"({"bins":[{"code":"A-01"}]})").status, 200);
  ASSERT_TRUE(wait_for([&] { return edge_call("GET", "/api/stock/MILK-1L").status == 200; }, 10s));
  ASSERT_EQ(edge_call("POST", "/api/suppliers",
                      R"({"id":"dairy","name":"Dairy co-op","lead_time_days":2})")
                .status,
            201);
  const HttpReply created = edge_call(
      "POST", "/api/purchase-orders",
      R"({"request_id":"po-sync-1","supplier_id":"dairy","lines":[{"sku":"MILK-1L","qty":24}]})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string po_id = json::parse(created.body)["po_id"];
  const std::string path = std::string("/v1/stores/") + kStoreId + "/purchase-orders";
  auto cloud_status = [&]() -> std::string {
    const HttpReply r = cloud_call("GET", path);
    if (r.status != 200) return "";
    const json items = json::parse(r.body)["items"];
    return items.empty() ? "" : items[0].value("status", "");
  };
  EXPECT_TRUE(wait_for([&] { return cloud_status() == "draft"; }, 10s)) << cloud_status();
  ASSERT_EQ(edge_call("POST", "/api/purchase-orders/" + po_id + "/send").status, 200);
  EXPECT_TRUE(wait_for([&] { return cloud_status() == "sent"; }, 10s)) << cloud_status();
  const json po = json::parse(cloud_call("GET", path + "?status=sent").body)["items"][0];
  EXPECT_EQ(po["po_id"], po_id);
  EXPECT_EQ(po["supplier_id"], "dairy");
  EXPECT_EQ(po["lines"][0]["sku"], "MILK-1L");
  EXPECT_EQ(po["lines"][0]["qty"], 24);
  EXPECT_FALSE(po["expected_at_ms"].is_null());
  EXPECT_EQ(json::parse(cloud_call("GET", path + "?limit=0").body)["error"]["field"], "limit");
}

TEST_F(SyncTest, AStoreRegisteredLaterGetsTheWholeCatalog) {
  ASSERT_EQ(cloud_call("PUT", "/v1/stores/late-store",
                       json{{"name", "Late"},
                            {"lat", kLat},
                            {"lon", kLon},
                            {"secret", "another-secret-0123456789"}}
                           .dump())
                .status,
            200);
  auto edge = start_daemon(
      "shopeasy-edge",
      {"--http.port=0", "--state_dir=" + dir_->file("late").string(), "--mqtt.enabled=false",
       "--store.id=late-store", "--auth.tokens=" + admin_tokens_json(), "--sync.enabled=true",
       "--sync.url=http://127.0.0.1:" + std::to_string(cloud_->http_port),
       "--sync.heartbeat_ms=200"},
      {{"SHOPEASY_EDGE_SYNC_STORE_SECRET", "another-secret-0123456789"}});
  ASSERT_TRUE(edge.ok()) << edge.status().to_string();
  EXPECT_TRUE(wait_for(
      [&] {
        auto r =
            http_request("127.0.0.1", edge->http_port, "GET", "/api/stock/MILK-1L", "", bearer());
        return r && r->status == 200;
      },
      10s))
      << edge->process.describe();
}

TEST_F(SyncTest, ADivergedReplicaIsDetectedAndRepaired) {
  start_edge({"--sync.reconcile_every_ms=300"});
  ASSERT_EQ(edge_call("POST", "/api/bins", R"({"bins":[{"code":"A-01"}]})").status, 200);
  ASSERT_TRUE(wait_for([&] { return edge_call("GET", "/api/stock/MILK-1L").status == 200; }, 10s));
  ASSERT_EQ(receive("r1", 12).status, 200);
  ASSERT_TRUE(wait_for([&] { return cloud_available("MILK-1L") == 12; }, 10s));
  // Damage the cloud's replica behind its back.
  const int port = cloud_->http_port;
  ASSERT_EQ(cloud_->process.terminate_and_wait(10s), 0);
  {
    auto db = db::Database::open(dir_->file("cloud/cloud.db").string());
    ASSERT_TRUE(db.ok()) << db.status().to_string();
    ASSERT_TRUE(db->run("UPDATE replica SET on_hand = 999 WHERE sku = 'MILK-1L'").is_ok());
  }
  start_cloud(port);
  ASSERT_EQ(cloud_available("MILK-1L"), 999);
  // The store's next checksums disagree; it re-sends the bucket and the replica heals.
  EXPECT_TRUE(wait_for([&] { return cloud_available("MILK-1L") == 12; }, 10s))
      << edge_->process.describe();
  EXPECT_NE(cloud_call("GET", "/metrics").body.find("cloud_reconcile_mismatched_buckets_total 1"),
            std::string::npos);
}

TEST_F(SyncTest, PartitionDrainsWhenTheCloudReturns) {
  start_edge();
  ASSERT_EQ(edge_call("POST", "/api/bins", R"({"bins":[{"code":"A-01"}]})").status, 200);
  ASSERT_TRUE(wait_for([&] { return edge_call("GET", "/api/stock/MILK-1L").status == 200; }, 10s));
  const int cloud_port = cloud_->http_port;
  ASSERT_EQ(cloud_->process.kill9(), -9);
  cloud_.reset();
  // The store keeps taking scans with the cloud gone.
  for (int i = 0; i < 50; ++i) ASSERT_EQ(receive("p" + std::to_string(i), 1).status, 200);
  EXPECT_TRUE(wait_for(
      [&] { return json::parse(edge_call("GET", "/health").body)["sync"].contains("last_error"); },
      10s));
  start_cloud(cloud_port);
  EXPECT_TRUE(wait_for([&] { return cloud_available("MILK-1L") == 50; }, 20s))
      << cloud_available("MILK-1L") << "\n"
      << edge_->process.describe();
}

TEST_F(SyncTest, BadBatchesAreRefusedAndNothingIsApplied) {
  auto sync = [&](const json& batch, const std::string& token,
                  const std::string& store = kStoreId) {
    auto headers = bearer(token);
    headers["Content-Type"] = "application/json";
    return http_request("127.0.0.1", cloud_->http_port, "POST", "/v1/stores/" + store + "/sync",
                        batch.dump(), headers)
        .value_or(HttpReply{});
  };
  const std::string store_token = std::string(kStoreId) + ":" + kStoreSecret;
  auto change = [](std::int64_t seq, std::int64_t on_hand) {
    return json{
        {"seq", seq},
        {"kind", "stock.changed"},
        {"body",
         {{"sku", "MILK-1L"}, {"sku_on_hand", on_hand}, {"sku_reserved", 0}, {"version", seq}}}};
  };
  auto batch = [&](std::int64_t first, std::vector<json> changes, std::int64_t sent_at_ms) {
    return json{{"store_id", kStoreId},
                {"first_seq", first},
                {"changes", changes},
                {"downstream_cursor", 0},
                {"sent_at_ms", sent_at_ms}};
  };
  const std::int64_t now = 1767225600000;
  // Wrong credentials.
  EXPECT_EQ(
      sync(batch(1, {change(1, 5)}, now), std::string(kStoreId) + ":wrong-secret-xxxxxxx").status,
      401);
  EXPECT_EQ(sync(batch(1, {change(1, 5)}, now), "nobody:whatever").status, 401);
  // A customer token cannot sync.
  EXPECT_EQ(sync(batch(1, {change(1, 5)}, now), kCustomerToken).status, 403);
  // Another store's id in the path.
  EXPECT_EQ(sync(batch(1, {change(1, 5)}, now), store_token, "other-store").status, 403);
  // A gap: nothing applied, the expected seq named.
  auto gap = sync(batch(3, {change(3, 7)}, now), store_token);
  EXPECT_EQ(gap.status, 409);
  EXPECT_EQ(json::parse(gap.body)["expected_seq"], 1);
  // Malformed and non-consecutive.
  auto bad = sync(json{{"store_id", kStoreId}}, store_token);
  EXPECT_EQ(bad.status, 400);
  auto holes = batch(1, {change(1, 5), change(3, 6)}, now);
  EXPECT_EQ(sync(holes, store_token).status, 400);
  auto before = cloud_call("GET", std::string("/v1/stores/") + kStoreId + "/sync-status");
  EXPECT_EQ(json::parse(before.body)["last_applied_seq"], 0) << before.body;
  // Applied once, then a replay is a no-op, even with the edge's clock a day off.
  ASSERT_EQ(sync(batch(1, {change(1, 5), change(2, 4)}, now), store_token).status, 200);
  auto replay = sync(batch(1, {change(1, 99), change(2, 99)}, now + 86400000), store_token);
  ASSERT_EQ(replay.status, 200);
  EXPECT_EQ(json::parse(replay.body)["acked_seq"], 2);
  // The store counts as online after syncing, so its catalog is visible.
  EXPECT_EQ(cloud_available("MILK-1L"), 4) << last_inventory_error_;
  auto metrics = cloud_call("GET", "/metrics").body;
  EXPECT_NE(metrics.find("cloud_sync_duplicates_total 2"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("cloud_sync_refused_total{reason=\"gap\"}"), std::string::npos);
}

// One malformed stock change in the middle of a batch used to refuse the whole batch,
// and the store resent it for ever. Now it is quarantined (kept with its reason, counted,
// listed for operators) and the changes around it, and after it, apply in order.
TEST_F(SyncTest, AMalformedChangeIsQuarantinedAndSyncGoesOn) {
  auto change = [](std::int64_t seq, json on_hand) {
    return json{
        {"seq", seq},
        {"kind", "stock.changed"},
        {"body",
         {{"sku", "MILK-1L"}, {"sku_on_hand", on_hand}, {"sku_reserved", 0}, {"version", seq}}}};
  };
  auto batch = [](std::int64_t first, std::vector<json> changes) {
    return json{{"store_id", kStoreId},
                {"first_seq", first},
                {"changes", changes},
                {"downstream_cursor", 0},
                {"sent_at_ms", 1767225600000}};
  };
  json not_an_object = {{"seq", 4}, {"kind", "stock.changed"}, {"body", "garbage"}};
  auto first = raw_sync(batch(1, {change(1, 5), change(2, "lots"), change(3, 7), not_an_object}));
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(json::parse(first.body)["acked_seq"], 4);
  EXPECT_EQ(cloud_available("MILK-1L"), 7) << last_inventory_error_;
  // The store's later changes still apply, in order.
  auto later = raw_sync(batch(5, {change(5, 9)}));
  ASSERT_EQ(later.status, 200) << later.body;
  EXPECT_EQ(cloud_available("MILK-1L"), 9) << last_inventory_error_;
  // Operators see it: the store list (what the ops page reads) and the quarantine list.
  json stores = json::parse(cloud_call("GET", "/v1/stores").body);
  ASSERT_EQ(stores["stores"].size(), 1u);
  EXPECT_EQ(stores["stores"][0]["quarantined_changes"], 2) << stores.dump();
  auto listed = cloud_call("GET", std::string("/v1/stores/") + kStoreId + "/quarantine");
  ASSERT_EQ(listed.status, 200) << listed.body;
  json items = json::parse(listed.body)["items"];
  ASSERT_EQ(items.size(), 2u) << listed.body;
  EXPECT_EQ(items[1]["seq"], 2);
  EXPECT_EQ(items[1]["field"], "changes[1].body.sku_on_hand");
  EXPECT_EQ(items[1]["reason"], "must be an integer between -1000000000000 and 1000000000000");
  EXPECT_EQ(items[1]["body"]["sku_on_hand"], "lots");
  EXPECT_EQ(items[0]["seq"], 4);
  EXPECT_EQ(items[0]["field"], "changes[3].body");
  EXPECT_EQ(cloud_call("GET", std::string("/v1/stores/") + kStoreId + "/quarantine?limit=0").status,
            400);
  auto metrics = cloud_call("GET", "/metrics").body;
  EXPECT_NE(metrics.find("cloud_sync_quarantined_total 2"), std::string::npos) << metrics;
  EXPECT_NE(cloud_->process.describe().find("event=change_quarantined"), std::string::npos);
}

// A SKU the store no longer has must leave the cloud's replica, or customers keep
// being offered it: the store's bucket resend ends with a marker that drops it.
TEST_F(SyncTest, ReconciliationRemovesSkusTheStoreNoLongerHas) {
  add_bread();
  start_edge({"--sync.reconcile_every_ms=300"});
  ASSERT_EQ(edge_call("POST", "/api/bins", R"({"bins":[{"code":"A-01"}]})").status, 200);
  ASSERT_TRUE(wait_for([&] { return edge_call("GET", "/api/stock/MILK-1L").status == 200; }, 10s));
  ASSERT_EQ(receive("r1", 12).status, 200);
  ASSERT_TRUE(wait_for([&] { return cloud_available("MILK-1L") == 12; }, 10s));
  // The cloud's replica holds a row for BREAD the store does not have (it sold the line
  // off, or the row outlived a removal).
  const int port = cloud_->http_port;
  ASSERT_EQ(cloud_->process.terminate_and_wait(10s), 0);
  {
    auto db = db::Database::open(dir_->file("cloud/cloud.db").string());
    ASSERT_TRUE(db.ok()) << db.status().to_string();
    ASSERT_TRUE(db->run("INSERT INTO replica (store_id, sku, on_hand, reserved, version, "
                        "updated_seq) VALUES (?, 'BREAD', 40, 0, 1, 1)",
                        std::string(kStoreId))
                    .is_ok());
  }
  start_cloud(port);
  ASSERT_EQ(cloud_available("BREAD"), 40);
  // Reconciliation finds the bucket differs and the row goes: BREAD is no longer offered.
  EXPECT_TRUE(wait_for([&] { return cloud_available("BREAD") == 0; }, 10s))
      << edge_->process.describe();
  EXPECT_EQ(cloud_replica().count("BREAD"), 0u);
  EXPECT_EQ(cloud_available("MILK-1L"), 12);
  EXPECT_NE(cloud_call("GET", "/metrics").body.find("cloud_sync_replica_rows_removed_total 1"),
            std::string::npos);
}

// A customer app browses one category at a time from the server, paged like the whole
// catalog, so a phone never holds the whole catalog to show one shelf.
TEST_F(SyncTest, TheCatalogPagesOneCategoryAtATime) {
  add_bread();
  start_edge();
  ASSERT_EQ(edge_call("POST", "/api/bins", R"({"bins":[{"code":"A-01"}]})").status, 200);
  ASSERT_TRUE(wait_for([&] { return edge_call("GET", "/api/stock/BREAD").status == 200; }, 10s));
  ASSERT_EQ(receive("r1", 4, kBreadEan).status, 200);
  ASSERT_TRUE(wait_for([&] { return cloud_available("BREAD") == 4; }, 10s))
      << last_inventory_error_;
  const std::string cell = *geohash::encode({kLat, kLon}, 7);
  auto skus_of = [&](const std::string& query) {
    auto r = cloud_call("GET", "/api/inventory?geo_hash=" + cell + query, "", kCustomerToken);
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<std::string> out;
    if (r.status != 200) return out;
    const json page = json::parse(r.body);
    for (const auto& item : page["items"]) out.push_back(item["sku"]);
    return out;
  };
  EXPECT_EQ(skus_of("&category=bakery"), std::vector<std::string>{"BREAD"});
  EXPECT_EQ(skus_of("&category=dairy"), std::vector<std::string>{"MILK-1L"});
  EXPECT_TRUE(skus_of("&category=toys").empty());
  EXPECT_EQ(skus_of("&category=dairy&limit=1&cursor=MILK-1L"), std::vector<std::string>{});
  EXPECT_EQ(skus_of("").size(), 2u);
  auto refused =
      cloud_call("GET", "/api/inventory?geo_hash=" + cell + "&category=" + std::string(200, 'a'),
                 "", kCustomerToken);
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(json::parse(refused.body)["error"]["field"], "category") << refused.body;
}

// An edge restored from an old backup numbers its new changes with seqs the cloud has
// applied already; acknowledged as duplicates they were lost. The cloud now sees the
// store's history went back, the store sends a full snapshot and the replica converges.
TEST_F(SyncTest, AnEdgeRestoredFromAnOldBackupConverges) {
  add_bread();
  start_edge({"--sync.reconcile_every_ms=0"});
  ASSERT_EQ(edge_call("POST", "/api/bins", R"({"bins":[{"code":"A-01"}]})").status, 200);
  ASSERT_TRUE(wait_for([&] { return edge_call("GET", "/api/stock/BREAD").status == 200; }, 10s));
  ASSERT_EQ(receive("r1", 10).status, 200);
  ASSERT_TRUE(wait_for([&] { return edge_caught_up(); }, 10s));
  // The backup, taken while the edge is stopped.
  ASSERT_EQ(edge_->process.terminate_and_wait(10s), 0);
  copy_state_dir(dir_->file("edge"), dir_->file("edge-backup"));
  // More traffic the backup does not have.
  start_edge({"--sync.reconcile_every_ms=0"});
  ASSERT_EQ(receive("r2", 5).status, 200);
  ASSERT_EQ(receive("b1", 4, kBreadEan).status, 200);
  ASSERT_TRUE(wait_for([&] { return cloud_available("MILK-1L") == 15; }, 10s));
  ASSERT_TRUE(wait_for([&] { return edge_caught_up(); }, 10s));
  // Restore the old files and carry on with different traffic.
  ASSERT_EQ(edge_->process.terminate_and_wait(10s), 0);
  copy_state_dir(dir_->file("edge-backup"), dir_->file("edge"));
  start_edge({"--sync.reconcile_every_ms=0"});
  ASSERT_EQ(receive("r3", 2).status, 200);  // MILK 12 at the store now, BREAD 0
  std::string why;
  EXPECT_TRUE(wait_for([&] { return replica_matches_store(&why) && edge_caught_up(); }, 20s))
      << why << "\n"
      << edge_->process.describe() << "\n"
      << cloud_->process.describe();
  EXPECT_TRUE(wait_for([&] { return cloud_available("MILK-1L") == 12; }, 10s));
  EXPECT_TRUE(wait_for([&] { return cloud_available("BREAD") == 0; }, 10s));
  // Later changes flow as usual.
  ASSERT_EQ(receive("r4", 1).status, 200);
  EXPECT_TRUE(wait_for([&] { return cloud_available("MILK-1L") == 13; }, 10s));
  // Both sides said so.
  json health = edge_health();
  EXPECT_GE(health["sync"].value("resyncs", 0), 1) << health.dump();
  EXPECT_NE(edge_->process.describe().find("event=sync_resync"), std::string::npos);
  // And the store's managers see it on the alert board.
  EXPECT_TRUE(wait_for(
      [&] {
        return edge_call("GET", "/api/alert-board?state=open").body.find("\"sync_resynced\"") !=
               std::string::npos;
      },
      10s))
      << edge_call("GET", "/api/alert-board?state=open").body;
  json stores = json::parse(cloud_call("GET", "/v1/stores").body);
  EXPECT_GE(stores["stores"][0].value("resyncs", 0), 1) << stores.dump();
  EXPECT_NE(cloud_call("GET", "/metrics").body.find("cloud_sync_resyncs_total{reason="),
            std::string::npos);
}

// A cloud restored from an old backup asks for changes the store already trimmed from
// its outbox; the store used to stop for good with an outbox gap. It now sends a full
// snapshot and the replica converges.
TEST_F(SyncTest, ACloudRestoredFromAnOldBackupConverges) {
  add_bread();
  const std::vector<std::string> edge_flags = {"--sync.reconcile_every_ms=0",
                                               "--sync.keep_acked_events=0"};
  start_edge(edge_flags);
  ASSERT_EQ(edge_call("POST", "/api/bins", R"({"bins":[{"code":"A-01"}]})").status, 200);
  ASSERT_TRUE(wait_for([&] { return edge_call("GET", "/api/stock/BREAD").status == 200; }, 10s));
  ASSERT_EQ(receive("r1", 10).status, 200);
  ASSERT_TRUE(wait_for([&] { return cloud_available("MILK-1L") == 10; }, 10s));
  // The cloud's backup, taken while it is stopped.
  const int port = cloud_->http_port;
  ASSERT_EQ(cloud_->process.terminate_and_wait(10s), 0);
  copy_state_dir(dir_->file("cloud"), dir_->file("cloud-backup"));
  start_cloud(port);
  ASSERT_EQ(receive("r2", 5).status, 200);
  ASSERT_EQ(receive("b1", 4, kBreadEan).status, 200);
  ASSERT_TRUE(wait_for([&] { return cloud_available("BREAD") == 4; }, 10s));
  ASSERT_TRUE(wait_for([&] { return edge_caught_up(); }, 10s));
  // Restore the cloud's old files: it has lost changes the store has trimmed.
  ASSERT_EQ(cloud_->process.terminate_and_wait(10s), 0);
  copy_state_dir(dir_->file("cloud-backup"), dir_->file("cloud"));
  start_cloud(port);
  ASSERT_EQ(receive("r3", 1).status, 200);  // MILK 16, BREAD 4 at the store
  std::string why;
  EXPECT_TRUE(wait_for([&] { return replica_matches_store(&why) && edge_caught_up(); }, 20s))
      << why << "\n"
      << edge_->process.describe() << "\n"
      << cloud_->process.describe();
  EXPECT_TRUE(wait_for([&] { return cloud_available("MILK-1L") == 16; }, 10s));
  EXPECT_TRUE(wait_for([&] { return cloud_available("BREAD") == 4; }, 10s));
  json health = edge_health();
  EXPECT_GE(health["sync"].value("resyncs", 0), 1) << health.dump();
  EXPECT_EQ(health["sync"]["last_resync"]["reason"], "outbox_gap") << health.dump();
  EXPECT_NE(
      edge_call("GET", "/metrics").body.find("edge_sync_resyncs_total{reason=\"outbox_gap\"} 1"),
      std::string::npos);
}

// A store restored from a backup reports a downstream cursor from before items it had
// applied, and the cloud had trimmed those: a catalog item (or an order) sent after the
// backup was lost to the store for good. The cloud now queues the catalog and the
// store's orders again.
TEST_F(SyncTest, AnEdgeRestoredFromAnOldBackupGetsWhatTheCloudSentSince) {
  start_edge({"--sync.reconcile_every_ms=0"});
  ASSERT_EQ(edge_call("POST", "/api/bins", R"({"bins":[{"code":"A-01"}]})").status, 200);
  ASSERT_TRUE(wait_for([&] { return edge_call("GET", "/api/stock/MILK-1L").status == 200; }, 10s));
  ASSERT_TRUE(wait_for([&] { return edge_caught_up(); }, 10s));
  ASSERT_EQ(edge_->process.terminate_and_wait(10s), 0);
  copy_state_dir(dir_->file("edge"), dir_->file("edge-backup"));
  start_edge({"--sync.reconcile_every_ms=0"});
  add_bread();  // sent to the store after the backup
  ASSERT_TRUE(wait_for([&] { return edge_call("GET", "/api/stock/BREAD").status == 200; }, 10s));
  // A later batch confirms the store applied it, and the cloud trims it.
  ASSERT_EQ(receive("r1", 3).status, 200);
  ASSERT_TRUE(wait_for([&] { return cloud_available("MILK-1L") == 3; }, 10s));
  ASSERT_EQ(edge_->process.terminate_and_wait(10s), 0);
  copy_state_dir(dir_->file("edge-backup"), dir_->file("edge"));
  start_edge({"--sync.reconcile_every_ms=0"});
  EXPECT_TRUE(wait_for([&] { return edge_call("GET", "/api/stock/BREAD").status == 200; }, 10s))
      << edge_->process.describe() << "\n"
      << cloud_->process.describe();
  EXPECT_NE(cloud_call("GET", "/metrics")
                .body.find("cloud_sync_downstream_realigned_total{gap=\"store_behind\"} 1"),
            std::string::npos);
  EXPECT_NE(cloud_->process.describe().find("event=downstream_realigned"), std::string::npos);
  // Later items flow as usual, once.
  ASSERT_EQ(cloud_call("PUT", "/v1/catalog/EGGS",
                       json{{"name", "Eggs"}, {"price_cents", 9000}, {"category", "dairy"}}.dump())
                .status,
            200);
  EXPECT_TRUE(wait_for([&] { return edge_call("GET", "/api/stock/EGGS").status == 200; }, 10s));
  EXPECT_NE(cloud_call("GET", "/metrics")
                .body.find("cloud_sync_downstream_realigned_total{gap=\"store_behind\"} 1"),
            std::string::npos);
}

// A cloud restored from a backup hands out downstream cursors again that the store has
// already applied, so the store skipped the new items as seen. The queue now moves past
// the store's cursor.
TEST_F(SyncTest, ACloudRestoredFromAnOldBackupStillReachesTheStore) {
  start_edge({"--sync.reconcile_every_ms=0"});
  ASSERT_TRUE(wait_for([&] { return edge_call("GET", "/api/stock/MILK-1L").status == 200; }, 10s));
  const int port = cloud_->http_port;
  ASSERT_EQ(cloud_->process.terminate_and_wait(10s), 0);
  copy_state_dir(dir_->file("cloud"), dir_->file("cloud-backup"));
  start_cloud(port);
  add_bread();  // the store applies a cursor the backup never issued
  ASSERT_TRUE(wait_for([&] { return edge_call("GET", "/api/stock/BREAD").status == 200; }, 10s));
  ASSERT_EQ(cloud_->process.terminate_and_wait(10s), 0);
  copy_state_dir(dir_->file("cloud-backup"), dir_->file("cloud"));
  start_cloud(port);
  ASSERT_EQ(cloud_call("PUT", "/v1/catalog/EGGS",
                       json{{"name", "Eggs"}, {"price_cents", 9000}, {"category", "dairy"}}.dump())
                .status,
            200);
  EXPECT_TRUE(wait_for([&] { return edge_call("GET", "/api/stock/EGGS").status == 200; }, 10s))
      << edge_->process.describe() << "\n"
      << cloud_->process.describe();
  EXPECT_NE(cloud_call("GET", "/metrics")
                .body.find("cloud_sync_downstream_realigned_total{gap=\"store_ahead\"} 1"),
            std::string::npos);
}

// The store's load rides on its sync batches and drives the cloud's surge fee, so the
// fee follows a busy store without an operator typing its figures in.
TEST_F(SyncTest, TheStoresLoadReachesTheCloudsSurgeFee) {
  start_edge();
  ASSERT_TRUE(wait_for([&] { return edge_call("GET", "/api/stock/MILK-1L").status == 200; }, 10s));
  // The edge reports its own figures with every batch (nothing open, no runners here).
  const std::string db = dir_->file("cloud/cloud.db").string();
  auto reported = [&]() -> std::string {
    auto child = ChildProcess::spawn(
        {.argv = {"sqlite3", "-readonly", db,
                  "SELECT open_orders || ',' || available_runners || ',' || pick_queue FROM "
                  "store_load WHERE store_id = 'blr-1'"}});
    if (!child.ok() || child->wait_exit(30s) != 0) return "";
    return child->stdout_text();
  };
  EXPECT_TRUE(wait_for([&] { return reported() == "0,0,0\n"; }, 10s)) << reported();
  ASSERT_EQ(edge_->process.terminate_and_wait(10s), 0);

  json cart = {{"lines", {{{"sku", "MILK-1L"}, {"qty", 1}}}},
               {"delivery", {{"lat", kLat}, {"lon", kLon}}}};
  auto fee = [&]() -> std::int64_t {
    auto r = cloud_call("POST", "/api/quote", cart.dump(), kCustomerToken);
    if (r.status != 200) return -1;
    return json::parse(r.body)["fees"][0]["amount_cents"].get<std::int64_t>();
  };
  const std::int64_t calm = fee();
  ASSERT_GT(calm, 0);
  // A busy store: 30 open orders for 5 free runners.
  json busy = {{"store_id", kStoreId},
               {"first_seq", 1},
               {"changes", json::array()},
               {"downstream_cursor", 0},
               {"sent_at_ms", 1767225600000},
               {"load", {{"open_orders", 30}, {"available_runners", 5}, {"pick_queue", 12}}}};
  ASSERT_EQ(raw_sync(busy).status, 200);
  EXPECT_TRUE(wait_for([&] { return fee() > calm; }, 5s)) << fee() << " vs " << calm;
  // A load that does not add up is refused with the batch, naming the field.
  busy["load"]["pick_queue"] = -1;
  auto refused = raw_sync(busy);
  EXPECT_EQ(refused.status, 400);
  EXPECT_NE(refused.body.find("load.pick_queue"), std::string::npos) << refused.body;
}

TEST_F(SyncTest, LotsNearExpiryAreMarkedDownInTheCloudsQuotesUntilTheyAreGone) {
  // MILK-1L has a floor (cost 30.00 + 10%), so the cloud may mark it down.
  ASSERT_EQ(cloud_call("PUT", "/v1/prices/models/MILK-1L",
                       json{{"base_cents", 6500},
                            {"mrp_cents", 7000},
                            {"cost_cents", 3000},
                            {"min_margin_bp", 1000}}
                           .dump())
                .status,
            200);
  // Twelve units and no sales would also make MILK-1L overstocked (the inventory rule);
  // this store reports no stock cover, so the shelf price stays the base.
  start_edge({"--sync.stock_cover_overstock_days=0"});
  // Two units of a lot that is good until the end of tomorrow (UTC), ten without a lot.
  const auto tomorrow = std::chrono::year_month_day(
      std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now()) +
      std::chrono::days(1));
  char expiry[16];
  std::snprintf(expiry, sizeof expiry, "%04d-%02u-%02u", static_cast<int>(tomorrow.year()),
                static_cast<unsigned>(tomorrow.month()), static_cast<unsigned>(tomorrow.day()));
  auto scan = [&](const std::string& id, const std::string& action, int qty) {
    json body = {{"scan_id", id}, {"scanner_id", "h1"}, {"code", kMilkEan}, {"action", action},
                 {"qty", qty},    {"bin", "A-01"},      {"lot", "L-SOON"},  {"expiry", expiry}};
    if (action == "adjust") body["reason"] = "damaged";
    return edge_call("POST", "/api/scans", body.dump());
  };
  // The catalog reaches the store with its first sync.
  ASSERT_TRUE(wait_for([&] { return edge_call("GET", "/api/stock/MILK-1L").status == 200; }, 10s));
  ASSERT_EQ(edge_call("POST", "/api/bins", R"({"bins":[{"code":"A-01"}]})").status, 200);
  ASSERT_EQ(receive("r-plain", 10).status, 200);
  ASSERT_EQ(scan("r-soon", "receive", 2).status, 200);

  const json cart = {{"lines", {{{"sku", "MILK-1L"}, {"qty", 3}}}},
                     {"delivery", {{"lat", kLat}, {"lon", kLon}}}};
  json q;
  auto marked_down = [&]() {
    auto r = cloud_call("POST", "/api/quote", cart.dump(), kCustomerToken);
    if (r.status != 200) return false;
    q = json::parse(r.body);
    return q["lines"][0].contains("markdowns");
  };
  ASSERT_TRUE(wait_for(marked_down, 15s)) << q.dump();
  const json& m = q["lines"][0]["markdowns"];
  ASSERT_EQ(m.size(), 1u) << q.dump();
  EXPECT_EQ(m[0]["lot"], "L-SOON");
  EXPECT_EQ(m[0]["qty"], 2);  // the lot's two units, not the third
  // 20% off two days out; 40% on the last day, should the test cross midnight.
  const std::int64_t off = m[0]["off_bp"];
  EXPECT_TRUE(off == 2000 || off == 4000) << q.dump();
  const std::int64_t unit = 6500 - 6500 * off / 10000;
  EXPECT_EQ(m[0]["unit_price_cents"], unit);
  EXPECT_EQ(q["fees"][0]["kind"], "delivery");
  EXPECT_EQ(q["fees"][1]["amount_cents"], -2 * (6500 - unit));
  EXPECT_EQ(q["total_cents"],
            3 * 6500 + q["fees"][0]["amount_cents"].get<std::int64_t>() - 2 * (6500 - unit));

  // The lot is written off at the store: the next report is empty and quotes go back to
  // the shelf price.
  const HttpReply written_off = scan("w-soon", "adjust", -2);
  ASSERT_EQ(written_off.status, 200) << written_off.body;
  EXPECT_TRUE(wait_for([&] { return !marked_down(); }, 15s)) << q.dump();
  EXPECT_EQ(q["fees"].size(), 1u) << q.dump();
}

TEST_F(SyncTest, StockWithNoSalesIsReportedAsOverstockAndDiscountedInTheCloudsQuotes) {
  // MILK-1L has a floor (cost 30.00 + 10%), so the cloud may discount it.
  ASSERT_EQ(cloud_call("PUT", "/v1/prices/models/MILK-1L",
                       json{{"base_cents", 6500},
                            {"mrp_cents", 7000},
                            {"cost_cents", 3000},
                            {"min_margin_bp", 1000}}
                           .dump())
                .status,
            200);
  start_edge();
  ASSERT_TRUE(wait_for([&] { return edge_call("GET", "/api/stock/MILK-1L").status == 200; }, 10s));
  ASSERT_EQ(edge_call("POST", "/api/bins", R"({"bins":[{"code":"A-01"}]})").status, 200);
  // Ten units the store has never sold: unbounded cover.
  ASSERT_EQ(receive("r-cover", 10).status, 200);

  const json cart = {{"lines", {{{"sku", "MILK-1L"}, {"qty", 1}}}},
                     {"delivery", {{"lat", kLat}, {"lon", kLon}}}};
  json q;
  auto rule = [&]() -> std::string {
    auto r = cloud_call("POST", "/api/quote", cart.dump(), kCustomerToken);
    if (r.status != 200) return "";
    q = json::parse(r.body);
    return q["lines"][0]["rule"].get<std::string>();
  };
  ASSERT_TRUE(wait_for([&] { return rule() == "overstock"; }, 15s)) << q.dump();
  // 10% off asked; the hourly cap (8% by default) holds the first step.
  EXPECT_EQ(q["lines"][0]["unit_price_cents"], 6500 - 6500 * 800 / 10000) << q.dump();
  EXPECT_NE(q["lines"][0]["reason"].get<std::string>().find("unbounded (no demand)"),
            std::string::npos)
      << q.dump();
  // The rule switched off at the cloud: the base price again, whatever the store says.
  ASSERT_EQ(
      cloud_call("PUT", "/v1/pricing", json{{"inventory", {{"enabled", false}}}}.dump()).status,
      200);
  EXPECT_TRUE(wait_for([&] { return rule() == "base"; }, 5s)) << q.dump();
  EXPECT_EQ(q["lines"][0]["unit_price_cents"], 6500);
}

TEST_F(SyncTest, CustomerCatalogNeedsAServedCell) {
  auto far = cloud_call("GET", "/api/inventory?geo_hash=u4pruydqqvj", "", kCustomerToken);
  EXPECT_EQ(far.status, 404);
  EXPECT_NE(far.body.find("no store serves geohash u4pruydqqvj"), std::string::npos) << far.body;
  auto bad = cloud_call("GET", "/api/inventory?geo_hash=tdr!", "", kCustomerToken);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["error"]["field"], "geo_hash");
  auto none = cloud_call("GET", "/api/inventory", "", kCustomerToken);
  EXPECT_EQ(none.status, 400);
  auto stores = cloud_call("GET", "/api/stores?geo_hash=tdr1w", "", kCustomerToken);
  ASSERT_EQ(stores.status, 200) << stores.body;
}

}  // namespace
}  // namespace shopeasy::testing
