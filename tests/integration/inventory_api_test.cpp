// The staff inventory API on the real shopeasy-edge binary, with a real broker: what a
// store operator or a handheld would see, including every way a request can be wrong.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/http/auth.hpp"
#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kPickerToken = "picker-token";
constexpr const char* kViewerToken = "viewer-token";
constexpr const char* kMilkEan = "4006381333931";

std::string tokens() {
  return tokens_json({{"picker-1", "picker", kPickerToken}, {"viewer-1", "viewer", kViewerToken}});
}

class InventoryApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("inventory-api");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    auto broker = MosquittoBroker::start();
    ASSERT_TRUE(broker.ok()) << broker.status().to_string();
    broker_.emplace(std::move(*broker));
    start_edge();
    auto bins = post("/api/bins", R"({"bins":[{"code":"A-01","walk_order":1},{"code":"A-02"}]})");
    ASSERT_EQ(bins.status, 200) << bins.body;
    auto catalog = post("/api/catalog",
                        "sku,name,category,price_cents,barcodes,home_bin,reorder_point\n"
                        "MILK-1L,Milk 1 L,dairy,6500,4006381333931,A-01,5\n"
                        "BREAD,Bread,bakery,4000,5901234123457,A-02,0\n",
                        kAdminToken, "text/csv");
    ASSERT_EQ(catalog.status, 200) << catalog.body;
  }

  void start_edge() {
    auto edge = start_daemon("shopeasy-edge",
                             {"--http.port=0", "--state_dir=" + dir_->file("edge").string(),
                              "--mqtt.port=" + std::to_string(broker_->port()),
                              "--auth.tokens=" + tokens(), "--store.id=test-store"});
    ASSERT_TRUE(edge.ok()) << edge.status().to_string();
    edge_.emplace(std::move(*edge));
    // MQTT scans published before the edge's SUBACK would be lost.
    ASSERT_TRUE(wait_edge_subscribed(*edge_)) << edge_->process.describe();
  }

  HttpReply request(const std::string& method, const std::string& path, const std::string& body,
                    const std::string& token, const std::string& type,
                    std::map<std::string, std::string> extra = {}) {
    auto headers = bearer(token);
    if (!type.empty()) headers["Content-Type"] = type;
    for (auto& [k, v] : extra) headers[k] = v;
    auto r = http_request("127.0.0.1", edge_->http_port, method, path, body, headers);
    EXPECT_TRUE(r.has_value()) << method << " " << path;
    return r.value_or(HttpReply{});
  }
  HttpReply post(const std::string& path, const std::string& body,
                 const std::string& token = kAdminToken,
                 const std::string& type = "application/json") {
    return request("POST", path, body, token, type);
  }
  HttpReply get_path(const std::string& path, const std::string& token = kAdminToken) {
    return request("GET", path, "", token, "");
  }
  HttpReply scan(const std::string& id, const std::string& action, int qty,
                 const std::string& token = kAdminToken, const std::string& code = kMilkEan) {
    return post(
        "/api/scans",
        json{
            {"scan_id", id}, {"scanner_id", "h1"}, {"code", code}, {"action", action}, {"qty", qty}}
            .dump(),
        token);
  }
  std::int64_t on_hand() {
    auto r = get_path("/api/stock/MILK-1L");
    return r.status == 200 ? json::parse(r.body)["on_hand"].get<std::int64_t>() : -1;
  }

  std::optional<TempDir> dir_;
  std::optional<MosquittoBroker> broker_;
  std::optional<RunningDaemon> edge_;
};

std::string error_code(const HttpReply& r) {
  auto j = json::parse(r.body, nullptr, false);
  return j.is_object() && j.contains("error") ? j["error"]["code"].get<std::string>() : "";
}

TEST_F(InventoryApiTest, ScansMoveStockAndShowInLedger) {
  EXPECT_EQ(scan("s1", "receive", 10).status, 200);
  auto pick = scan("s2", "pick", 3, kPickerToken);
  EXPECT_EQ(pick.status, 200) << pick.body;
  EXPECT_EQ(on_hand(), 7);
  auto ledger = get_path("/api/ledger?sku=MILK-1L", kViewerToken);
  ASSERT_EQ(ledger.status, 200);
  EXPECT_EQ(json::parse(ledger.body)["items"].size(), 2u);
  auto list = get_path("/api/stock?q=milk");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(json::parse(list.body)["items"][0]["available"], 7);
}

TEST_F(InventoryApiTest, DemandForecastPerHourFromTheLedger) {
  EXPECT_EQ(scan("f1", "receive", 10).status, 200);
  EXPECT_EQ(scan("f2", "pick", 2, kPickerToken).status, 200);
  auto f = get_path("/api/forecast/MILK-1L?hours=24", kViewerToken);
  ASSERT_EQ(f.status, 200) << f.body;
  const json body = json::parse(f.body);
  EXPECT_EQ(body["sku"], "MILK-1L");
  EXPECT_EQ(body["history_days"], 91);
  ASSERT_EQ(body["hours"].size(), 24u);
  for (const json& h : body["hours"]) {
    EXPECT_GE(h["mean"].get<double>(), 0);
    EXPECT_LE(h["p50"].get<double>(), h["p90"].get<double>());
    EXPECT_TRUE(h["ts"].is_string());
  }
  auto unknown = get_path("/api/forecast/NOPE", kViewerToken);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(json::parse(unknown.body)["error"]["code"], "not_found");
  auto bad = get_path("/api/forecast/MILK-1L?hours=0", kViewerToken);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["error"]["field"], "hours");
  EXPECT_EQ(get_path("/api/forecast/MILK-1L", "nope").status, 401);
  // The chart's actual side: the week before the forecast, this hour's pick not in it yet.
  const json with_history = json::parse(get_path("/api/forecast/MILK-1L", kViewerToken).body);
  EXPECT_EQ(with_history["hours"].size(), 168u);
  EXPECT_EQ(with_history["history"].size(), 168u);
  EXPECT_EQ(
      json::parse(get_path("/api/forecast/MILK-1L?history_hours=0", kViewerToken).body)["history"]
          .size(),
      0u);
  EXPECT_EQ(
      json::parse(
          get_path("/api/forecast/MILK-1L?history_hours=400", kViewerToken).body)["error"]["field"],
      "history_hours");
}

// A new store has no orders to plan from: a clear answer, not an empty plan.
TEST_F(InventoryApiTest, PeakHoursNeedOrderHistory) {
  auto none = get_path("/api/forecast/peak-hours", kViewerToken);
  EXPECT_EQ(none.status, 409) << none.body;
  EXPECT_EQ(json::parse(none.body)["error"]["code"], "failed_precondition");
  auto bad = get_path("/api/forecast/peak-hours?days=15", kViewerToken);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["error"]["field"], "days");
  EXPECT_EQ(get_path("/api/forecast/peak-hours", "nope").status, 401);
}

TEST_F(InventoryApiTest, BadRequestsAreClearErrorsAndChangeNothing) {
  ASSERT_EQ(scan("s1", "receive", 5).status, 200);
  // Unknown barcode: 404 naming the code.
  auto unknown = scan("u1", "receive", 1, kAdminToken, "96385074");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.body.find("00000096385074"), std::string::npos) << unknown.body;
  // Bad check digit: 400, field code.
  auto bad_digit = scan("b1", "receive", 1, kAdminToken, "4006381333932");
  EXPECT_EQ(bad_digit.status, 400);
  EXPECT_EQ(json::parse(bad_digit.body)["error"]["field"], "code");
  // Negative and absurd quantities.
  EXPECT_EQ(scan("q1", "receive", -1).status, 400);
  EXPECT_EQ(scan("q2", "receive", 100000000).status, 400);
  // Malformed JSON, wrong content type, oversized body.
  EXPECT_EQ(post("/api/scans", "{\"scan_id\": ").status, 400);
  EXPECT_EQ(post("/api/scans", "scan_id=1", kAdminToken, "text/plain").status, 415);
  EXPECT_EQ(post("/api/scans", std::string(2 << 20, ' ')).status, 413);
  // Unknown bin.
  auto bin = post("/api/scans", R"({"scan_id":"x","scanner_id":"h1","code":"4006381333931",)"
                                R"("action":"receive","bin":"Z-9"})");
  EXPECT_EQ(bin.status, 400);
  EXPECT_EQ(json::parse(bin.body)["error"]["field"], "bin");
  // Picking more than on hand: 409.
  auto over = scan("p1", "pick", 6);
  EXPECT_EQ(over.status, 409);
  EXPECT_EQ(error_code(over), "failed_precondition");
  EXPECT_EQ(on_hand(), 5);
}

TEST_F(InventoryApiTest, RolesDecideWhatATokenMayDo) {
  EXPECT_EQ(get_path("/api/stock", "nope").status, 401);
  EXPECT_EQ(scan("v1", "receive", 1, kViewerToken).status, 403);
  auto adjust = post("/api/scans",
                     R"({"scan_id":"a1","scanner_id":"h1","code":"4006381333931",)"
                     R"("action":"adjust","qty":-1,"reason":"damage"})",
                     kPickerToken);
  EXPECT_EQ(adjust.status, 403);
  EXPECT_EQ(request("PATCH", "/api/inventory/MILK-1L", R"({"bin":"A-01","set":3,"reason":"count"})",
                    kPickerToken, "application/json")
                .status,
            403);
  EXPECT_EQ(post("/api/catalog", "sku,name\nX,Y\n", kPickerToken, "text/csv").status, 403);
}

TEST_F(InventoryApiTest, PatchWithStaleEtagIs409) {
  ASSERT_EQ(scan("s1", "receive", 5).status, 200);
  auto item = get_path("/api/stock/MILK-1L");
  const std::string etag = item.headers["etag"];
  ASSERT_FALSE(etag.empty());
  auto first =
      request("PATCH", "/api/inventory/MILK-1L", R"({"bin":"A-01","set":3,"reason":"count"})",
              kAdminToken, "application/json", {{"If-Match", etag}});
  EXPECT_EQ(first.status, 200) << first.body;
  auto stale =
      request("PATCH", "/api/inventory/MILK-1L", R"({"bin":"A-01","set":1,"reason":"count"})",
              kAdminToken, "application/json", {{"If-Match", etag}});
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(error_code(stale), "conflict");
  EXPECT_EQ(on_hand(), 3);
}

TEST_F(InventoryApiTest, DuplicateScanIdAppliesOnce) {
  EXPECT_EQ(scan("same", "receive", 2).status, 200);
  auto again = scan("same", "receive", 2);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(json::parse(again.body)["duplicate"], true);
  EXPECT_EQ(on_hand(), 2);
}

TEST_F(InventoryApiTest, MqttScansAreAppliedOnceAndAnswered) {
  // The handheld's result subscription is acknowledged before it scans.
  auto sub = start_subscriber(broker_->port(), {"-t", "scanners/h7/result", "-C", "2", "-q", "1"});
  ASSERT_TRUE(sub.ok()) << sub.status().to_string();
  const std::string payload =
      R"({"scan_id":"m1","scanner_id":"h7","code":"4006381333931","action":"receive","qty":4})";
  for (int i = 0; i < 2; ++i) {  // the broker may deliver twice; the edge applies once
    auto pub = ChildProcess::spawn(
        {.argv = {"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(broker_->port()), "-t",
                  "scanners/h7/scan", "-q", "1", "-m", payload}});
    ASSERT_TRUE(pub.ok());
    ASSERT_EQ(pub->wait_exit(10s), 0) << pub->describe();
  }
  EXPECT_TRUE(wait_for([&] { return on_hand() == 4; }, 10s)) << edge_->process.describe();
  ASSERT_TRUE(sub->wait_exit(10s).has_value()) << sub->describe();
  EXPECT_NE(sub->stdout_text().find("\"duplicate\":true"), std::string::npos) << sub->describe();
  EXPECT_EQ(on_hand(), 4);

  // A malformed payload is refused, counted, and answered; nothing changes.
  auto bad = ChildProcess::spawn(
      {.argv = {"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(broker_->port()), "-t",
                "scanners/h7/scan", "-q", "1", "-m", "{oops"}});
  ASSERT_TRUE(bad.ok());
  ASSERT_EQ(bad->wait_exit(10s), 0);
  EXPECT_TRUE(wait_for(
      [&] {
        return get_path("/metrics")
                   .body.find("edge_mqtt_scans_dropped_total{reason=\"invalid\"} 1") !=
               std::string::npos;
      },
      10s));
  EXPECT_EQ(on_hand(), 4);
}

TEST_F(InventoryApiTest, EventStreamDeliversScansAndResumes) {
  ASSERT_EQ(scan("s1", "receive", 1).status, 200);
  // Resume from 0: everything committed so far is replayed with ids.
  auto replay = ChildProcess::spawn(
      {.argv = {
           "curl", "-sN", "--max-time", "5", "-H",
           std::string("Authorization: Bearer ") + kAdminToken, "-H", "Last-Event-ID: 0",
           "http://127.0.0.1:" + std::to_string(edge_->http_port) + "/api/events?types=stock"}});
  ASSERT_TRUE(replay.ok());
  EXPECT_TRUE(replay->wait_for_output("event: stock.changed", 5s)) << replay->describe();
  EXPECT_TRUE(replay->wait_for_output("id: ", 5s));
  // Live: a scan posted now shows up on an open stream.
  auto live = ChildProcess::spawn(
      {.argv = {"curl", "-sN", "--max-time", "10", "-H",
                std::string("Authorization: Bearer ") + kViewerToken,
                "http://127.0.0.1:" + std::to_string(edge_->http_port) + "/api/events"}});
  ASSERT_TRUE(live.ok());
  ASSERT_TRUE(live->wait_for_output("shopeasy edge events", 5s)) << live->describe();
  ASSERT_EQ(scan("s2", "receive", 1).status, 200);
  // A store operator sees the change on the open stream. How fast is the benchmarks'
  // business (scan to event on a quiet machine); a wall-clock bound here would only
  // measure how loaded the test machine is.
  EXPECT_TRUE(live->wait_for_output("\"on_hand_after\":2", 9s)) << live->describe();
}

TEST_F(InventoryApiTest, CycleCountThroughTheApi) {
  ASSERT_EQ(scan("s1", "receive", 10).status, 200);
  auto opened = post("/api/counts", R"({"bin":"A-01"})");
  ASSERT_EQ(opened.status, 201) << opened.body;
  const std::string id = json::parse(opened.body)["count_id"];
  auto counted = post("/api/scans",
                      json{{"scan_id", "c1"},
                           {"scanner_id", "h1"},
                           {"code", kMilkEan},
                           {"action", "count"},
                           {"qty", 8},
                           {"count_id", id},
                           {"bin", "A-01"}}
                          .dump(),
                      kPickerToken);
  ASSERT_EQ(counted.status, 200) << counted.body;
  auto closed = post("/api/counts/" + id + "/close", "{}");
  ASSERT_EQ(closed.status, 200) << closed.body;
  EXPECT_EQ(json::parse(closed.body)["lines"][0]["variance"], -2);
  EXPECT_EQ(on_hand(), 8);
  auto alerts = get_path("/api/alerts", kViewerToken);
  ASSERT_EQ(alerts.status, 200);
}

}  // namespace
}  // namespace shopeasy::testing
