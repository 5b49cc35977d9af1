// Replenishment on the real shopeasy-edge binary: suppliers, the proposal from the
// store's own sales history, a purchase order made from it, sent and received by scans
// that move stock; an acknowledged receipt survives kill -9 and its repeat changes
// nothing. Every kind of bad input is answered with its code and field.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "common/db/database.hpp"
#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kManagerToken = "manager-token";
constexpr const char* kPickerToken = "picker-token";
constexpr const char* kMilkEan = "4006381333931";
constexpr const char* kBreadEan = "5901234123457";

class ReplenishApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("replenish-api");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    start_edge();
    auto bins = send("POST", "/api/bins",
                     R"({"bins":[{"code":"A-01","walk_order":1},{"code":"A-02"}]})", kAdminToken);
    ASSERT_EQ(bins.status, 200) << bins.body;
    auto catalog = send("POST", "/api/catalog",
                        "sku,name,category,price_cents,barcodes,home_bin,reorder_point\n"
                        "MILK-1L,Milk 1 L,dairy,6500,4006381333931,A-01,0\n"
                        "BREAD,Bread,bakery,4000,5901234123457,A-02,0\n",
                        kAdminToken, "text/csv");
    ASSERT_EQ(catalog.status, 200) << catalog.body;
  }

  void start_edge() {
    auto edge = start_daemon(
        "shopeasy-edge",
        {"--http.port=0", "--state_dir=" + dir_->file("edge").string(), "--mqtt.enabled=false",
         "--auth.tokens=" + tokens_json({{"manager-1", "manager", kManagerToken},
                                         {"picker-1", "picker", kPickerToken}}),
         "--store.id=test-store"});
    ASSERT_TRUE(edge.ok()) << edge.status().to_string();
    edge_.emplace(std::move(*edge));
  }

  HttpReply send(const std::string& method, const std::string& path, const std::string& body,
                 const std::string& token = kManagerToken,
                 const std::string& type = "application/json") {
    auto headers = bearer(token);
    if (!body.empty()) headers["Content-Type"] = type;
    auto r = http_request("127.0.0.1", edge_->http_port, method, path, body, headers, 30s);
    EXPECT_TRUE(r.has_value()) << method << " " << path;
    return r.value_or(HttpReply{});
  }
  HttpReply post(const std::string& path, const json& body,
                 const std::string& token = kManagerToken) {
    return send("POST", path, body.dump(), token);
  }
  json get_json(const std::string& path) {
    auto r = send("GET", path, "");
    EXPECT_EQ(r.status, 200) << path << " " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  std::int64_t on_hand(const std::string& sku) {
    return get_json("/api/stock/" + sku)["on_hand"].get<std::int64_t>();
  }
  // The error's code and field, "code field".
  static std::string error_of(const HttpReply& r) {
    const json j = json::parse(r.body, nullptr, false);
    if (!j.is_object() || !j.contains("error")) return "no error: " + r.body;
    return j["error"].value("code", "") + " " + j["error"].value("field", "");
  }

  // Two weeks of milk sales, 20 a day (10 at 10:00 and 10 at 16:00 UTC), written into the
  // ledger while the edge is stopped: the daemon reads the wall clock, and a forecast
  // needs history before today.
  void seed_two_weeks_of_sales() {
    ASSERT_TRUE(edge_->process.terminate_and_wait(10s).has_value());
    auto db = db::Database::open(dir_->file("edge/edge.db").string());
    ASSERT_TRUE(db.ok()) << db.status().to_string();
    const std::int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
    const std::int64_t today = now_s / 86400 * 86400;
    for (int day = 14; day >= 1; --day) {
      for (int hour : {10, 16}) {
        const std::int64_t ts_ms = (today - day * 86400 + hour * 3600) * 1000;
        ASSERT_TRUE(db->run("INSERT INTO ledger (ts_ms, sku, bin, lot_id, delta, reason, actor, "
                            "source, on_hand_after) VALUES (?, 'MILK-1L', 'A-01', 0, -10, "
                            "'pick', 'seed', 'test', 20)",
                            ts_ms)
                        .is_ok());
      }
    }
    start_edge();
  }

  std::optional<TempDir> dir_;
  std::optional<RunningDaemon> edge_;
};

TEST_F(ReplenishApiTest, SupplierBadInputNamesTheField) {
  const json good = {{"id", "DAIRY"},
                     {"name", "Dairy Co"},
                     {"lead_time_days", 2},
                     {"order_days", "mon,thu"},
                     {"pack_size", 6}};
  auto with = [&](const std::string& key, const json& value) {
    json b = good;
    b[key] = value;
    return b;
  };
  EXPECT_EQ(error_of(post("/api/suppliers", with("lead_time_days", 0))),
            "invalid_argument lead_time_days");
  EXPECT_EQ(error_of(post("/api/suppliers", with("lead_time_days", 400))),
            "invalid_argument lead_time_days");
  EXPECT_EQ(error_of(post("/api/suppliers", with("lead_time_days", "two"))),
            "invalid_argument lead_time_days");
  EXPECT_EQ(error_of(post("/api/suppliers", with("order_days", "mon,funday"))),
            "invalid_argument order_days");
  EXPECT_EQ(error_of(post("/api/suppliers", with("pack_size", 0))), "invalid_argument pack_size");
  EXPECT_EQ(error_of(post("/api/suppliers", with("min_order_qty", -1))),
            "invalid_argument min_order_qty");
  EXPECT_EQ(error_of(post("/api/suppliers", with("name", ""))), "invalid_argument name");
  json no_id = good;
  no_id.erase("id");
  EXPECT_EQ(error_of(post("/api/suppliers", no_id)), "invalid_argument id");
  EXPECT_EQ(post("/api/suppliers", good, kPickerToken).status, 403);
  EXPECT_EQ(send("POST", "/api/suppliers", "not json").status, 400);
  // Nothing of that was stored.
  EXPECT_TRUE(get_json("/api/suppliers")["items"].empty());

  auto created = post("/api/suppliers", good);
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(json::parse(created.body)["order_days"], "mon,thu");
  EXPECT_EQ(error_of(post("/api/suppliers", good)), "already_exists id");
  EXPECT_EQ(send("GET", "/api/suppliers/NOPE", "").status, 404);
  auto put = send("PUT", "/api/suppliers/DAIRY",
                  json{{"name", "Dairy Co"}, {"lead_time_days", 365}}.dump());
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(json::parse(put.body)["order_days"], "mon,tue,wed,thu,fri,sat,sun");
  EXPECT_EQ(error_of(send("PUT", "/api/suppliers/DAIRY",
                          json{{"name", "Dairy Co"}, {"lead_time_days", 366}}.dump())),
            "invalid_argument lead_time_days");

  EXPECT_EQ(error_of(send("PUT", "/api/suppliers/DAIRY/skus/MILK-1L",
                          json{{"service_level", 1.2}}.dump())),
            "invalid_argument service_level");
  EXPECT_EQ(error_of(send("PUT", "/api/suppliers/DAIRY/skus/MILK-1L",
                          json{{"shelf_life_days", 0}}.dump())),
            "invalid_argument shelf_life_days");
  EXPECT_EQ(error_of(send("PUT", "/api/suppliers/DAIRY/skus/NO-SUCH", "{}")), "not_found sku");
  EXPECT_EQ(send("PUT", "/api/suppliers/NOPE/skus/MILK-1L", "{}").status, 404);
  auto linked = send("PUT", "/api/suppliers/DAIRY/skus/BREAD", json{{"shelf_life_days", 2}}.dump());
  ASSERT_EQ(linked.status, 200) << linked.body;
  EXPECT_EQ(json::parse(linked.body)["skus"][0]["shelf_life_days"], 2);
  EXPECT_EQ(send("DELETE", "/api/suppliers/DAIRY/skus/BREAD", "").status, 200);
  EXPECT_EQ(send("DELETE", "/api/suppliers/DAIRY/skus/BREAD", "").status, 404);
  auto off = send("DELETE", "/api/suppliers/DAIRY", "");
  ASSERT_EQ(off.status, 200);
  EXPECT_EQ(json::parse(off.body)["active"], false);

  EXPECT_EQ(error_of(send("GET", "/api/replenishment/proposal?to_order=2", "")),
            "invalid_argument to_order");
  EXPECT_EQ(error_of(send("GET", "/api/replenishment/proposal?supplier=NOPE", "")),
            "not_found supplier");
  EXPECT_EQ(error_of(send("GET", "/api/purchase-orders?status=open", "")),
            "invalid_argument status");
  EXPECT_EQ(send("GET", "/api/purchase-orders", "", kPickerToken).status, 403);
}

TEST_F(ReplenishApiTest, ProposalToPurchaseOrderToStockSurvivesKill9) {
  auto received = post("/api/scans",
                       {{"scan_id", "in-1"},
                        {"scanner_id", "h1"},
                        {"code", kMilkEan},
                        {"action", "receive"},
                        {"qty", 20}},
                       kAdminToken);
  ASSERT_EQ(received.status, 200) << received.body;
  seed_two_weeks_of_sales();
  ASSERT_EQ(post("/api/suppliers",
                 {{"id", "DAIRY"}, {"name", "Dairy Co"}, {"lead_time_days", 2}, {"pack_size", 6}})
                .status,
            201);
  ASSERT_EQ(
      send("PUT", "/api/suppliers/DAIRY/skus/MILK-1L", json{{"service_level", 0.95}}.dump()).status,
      200);

  // What to order and why: about 40 sell over the 2-day lead time, 60 over lead time +
  // the 1-day review; 20 on hand.
  const json proposal = get_json("/api/replenishment/proposal?supplier=DAIRY");
  ASSERT_EQ(proposal["lines"].size(), 1u) << proposal.dump();
  const json line = proposal["lines"][0];
  EXPECT_NEAR(line["forecast_lead_time"].get<double>(), 40, 10) << line.dump();
  EXPECT_GT(line["order_up_to"].get<double>(), line["forecast_protection"].get<double>());
  EXPECT_EQ(line["on_hand"], 20);
  EXPECT_EQ(line["on_order"], 0);
  const std::int64_t qty = line["qty"];
  EXPECT_GT(qty, 20);
  EXPECT_EQ(qty % 6, 0);

  // Bad purchase orders.
  EXPECT_EQ(error_of(post("/api/purchase-orders", {{"supplier_id", "DAIRY"}})),
            "invalid_argument request_id");
  EXPECT_EQ(error_of(post("/api/purchase-orders", {{"request_id", "x"},
                                                   {"supplier_id", "DAIRY"},
                                                   {"lines", {{{"sku", "MILK-1L"}, {"qty", 0}}}}})),
            "invalid_argument lines[0].qty");
  EXPECT_EQ(error_of(post("/api/purchase-orders", {{"request_id", "x"},
                                                   {"supplier_id", "DAIRY"},
                                                   {"lines", {{{"sku", "NOPE"}, {"qty", 1}}}}})),
            "not_found lines[0].sku");
  EXPECT_EQ(post("/api/purchase-orders", {{"request_id", "x"}, {"supplier_id", "NOPE"}}).status,
            404);

  // The PO from the proposal; the same request again is the same PO.
  auto created = post("/api/purchase-orders", {{"request_id", "req-1"}, {"supplier_id", "DAIRY"}});
  ASSERT_EQ(created.status, 201) << created.body;
  const json po = json::parse(created.body);
  const std::string po_id = po["po_id"];
  EXPECT_EQ(po["status"], "draft");
  ASSERT_EQ(po["lines"].size(), 1u);
  EXPECT_EQ(po["lines"][0]["qty"], qty);
  EXPECT_EQ(po["lines"][0]["why"]["order_up_to"], line["order_up_to"]);
  auto again = post("/api/purchase-orders", {{"request_id", "req-1"}, {"supplier_id", "DAIRY"}});
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(json::parse(again.body)["po_id"], po_id);
  // It is on order now: no second suggestion.
  EXPECT_EQ(get_json("/api/replenishment/proposal")["lines"][0]["on_order"], qty);
  EXPECT_EQ(
      error_of(post("/api/purchase-orders", {{"request_id", "req-2"}, {"supplier_id", "DAIRY"}})),
      "failed_precondition lines");

  const std::string base = "/api/purchase-orders/" + po_id;
  EXPECT_EQ(error_of(post(base + "/receive", {{"receipt_id", "rc-0"}, {"line_no", 1}, {"qty", 1}})),
            "failed_precondition status");
  auto sent = post(base + "/send", json::object());
  ASSERT_EQ(sent.status, 200) << sent.body;
  EXPECT_EQ(json::parse(sent.body)["status"], "sent");

  // A receipt, acknowledged, then kill -9.
  auto r1 = post(base + "/receive", {{"receipt_id", "rc-1"}, {"code", kMilkEan}, {"qty", 12}});
  ASSERT_EQ(r1.status, 201) << r1.body;
  EXPECT_EQ(json::parse(r1.body)["sku_on_hand"], 32);
  edge_->process.kill9();
  start_edge();
  EXPECT_EQ(on_hand("MILK-1L"), 32);
  json after = get_json(base);
  EXPECT_EQ(after["status"], "partially_received");
  EXPECT_EQ(after["lines"][0]["received"], 12);
  // Its repeat (the handheld did not hear back) changes nothing.
  auto dup = post(base + "/receive", {{"receipt_id", "rc-1"}, {"code", kMilkEan}, {"qty", 12}});
  ASSERT_EQ(dup.status, 200) << dup.body;
  EXPECT_EQ(json::parse(dup.body)["duplicate"], true);
  EXPECT_EQ(on_hand("MILK-1L"), 32);

  // Wrong item, too many, no line: refused naming the field, nothing moved.
  EXPECT_EQ(
      error_of(post(base + "/receive", {{"receipt_id", "rc-2"}, {"code", kBreadEan}, {"qty", 1}})),
      "invalid_argument code");
  EXPECT_EQ(
      error_of(post(base + "/receive", {{"receipt_id", "rc-2"}, {"line_no", 1}, {"qty", qty}})),
      "failed_precondition qty");
  EXPECT_EQ(error_of(post(base + "/receive", {{"receipt_id", "rc-2"}, {"line_no", 7}, {"qty", 1}})),
            "not_found line_no");
  EXPECT_EQ(error_of(post(base + "/receive", {{"receipt_id", "rc-2"}, {"qty", 1}})),
            "invalid_argument line_no");
  EXPECT_EQ(error_of(post(
                base + "/receive",
                {{"receipt_id", "rc-2"}, {"line_no", 1}, {"qty", 1}, {"expiry", "2026-13-01"}})),
            "invalid_argument expiry");
  EXPECT_EQ(on_hand("MILK-1L"), 32);

  // The rest: received, closed.
  auto r2 = post(base + "/receive", {{"receipt_id", "rc-3"},
                                     {"line_no", 1},
                                     {"qty", qty - 12},
                                     {"lot", "L7"},
                                     {"expiry", "2099-01-31"}});
  ASSERT_EQ(r2.status, 201) << r2.body;
  EXPECT_EQ(json::parse(r2.body)["order"]["status"], "received");
  EXPECT_EQ(on_hand("MILK-1L"), 20 + qty);
  EXPECT_EQ(error_of(post(base + "/receive", {{"receipt_id", "rc-4"}, {"line_no", 1}, {"qty", 1}})),
            "failed_precondition status");
  EXPECT_EQ(error_of(post(base + "/cancel", json::object())), "failed_precondition status");
  EXPECT_EQ(on_hand("MILK-1L"), 20 + qty);
  const json listed = get_json("/api/purchase-orders?status=received");
  ASSERT_EQ(listed["items"].size(), 1u);
  EXPECT_EQ(listed["items"][0]["po_id"], po_id);
  // The ledger has the two receipts against the PO.
  const json ledger = get_json("/api/ledger?sku=MILK-1L&reason=receive");
  int against_po = 0;
  for (const auto& e : ledger["items"])
    against_po += e.contains("ref") && e["ref"] == po_id ? 1 : 0;
  EXPECT_EQ(against_po, 2) << ledger.dump();
}

TEST_F(ReplenishApiTest, CancelledOrderTakesNoReceipt) {
  ASSERT_EQ(
      post("/api/suppliers", {{"id", "BAKE"}, {"name", "Bakery"}, {"lead_time_days", 1}}).status,
      201);
  auto created = post("/api/purchase-orders", {{"request_id", "b-1"},
                                               {"supplier_id", "BAKE"},
                                               {"lines", {{{"sku", "BREAD"}, {"qty", 10}}}}});
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string base =
      "/api/purchase-orders/" + json::parse(created.body)["po_id"].get<std::string>();
  ASSERT_EQ(post(base + "/send", json::object()).status, 200);
  auto cancelled = post(base + "/cancel", {{"reason", "supplier short"}});
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_EQ(json::parse(cancelled.body)["status"], "cancelled");
  EXPECT_EQ(
      error_of(post(base + "/receive", {{"receipt_id", "b-r1"}, {"code", kBreadEan}, {"qty", 1}})),
      "failed_precondition status");
  EXPECT_EQ(on_hand("BREAD"), 0);
  EXPECT_EQ(send("GET", "/api/purchase-orders/PO-nope", "").status, 404);
}

}  // namespace
}  // namespace shopeasy::testing
