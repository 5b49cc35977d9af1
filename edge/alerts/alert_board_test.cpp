#include "edge/alerts/alert_board.hpp"

#include <gtest/gtest.h>

#include "common/http/auth.hpp"
#include "tests/harness/http_probe.hpp"
#include "tests/harness/temp_dir.hpp"

namespace shopeasy::edge::alerts {
namespace {

using namespace std::chrono_literals;

nlohmann::json low_stock(const std::string& sku, int available) {
  return {{"type", "below_reorder_point"},
          {"severity", available <= 0 ? "critical" : "warning"},
          {"sku", sku},
          {"name", "Milk 1 l"},
          {"reorder_point", 10},
          {"available", available}};
}

class AlertBoardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = testing::TempDir::create("alerts-test");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    open_board();
  }
  void TearDown() override {
    if (server_) server_->stop();
  }

  void open_board() {
    board_.reset();
    AlertBoardOptions o;
    o.path = dir_->file("alerts.db").string();
    o.durable = false;
    auto b = AlertBoard::open(
        o, clock_, bus_, [this]() -> StatusOr<nlohmann::json> { return inventory_answer_; },
        [this] { return health_; }, log::Logger(sink_, log::Level::kInfo, "alerts"), metrics_);
    ASSERT_TRUE(b.ok()) << b.status().to_string();
    board_ = std::move(*b);
  }

  nlohmann::json open_alerts() {
    auto l = board_->list({});
    EXPECT_TRUE(l.ok()) << l.status().to_string();
    return l.ok() ? (*l)["alerts"] : nlohmann::json::array();
  }

  std::vector<std::string> published_types() {
    auto r = bus_.read(bus_pos_, 1000, 0ms);
    bus_pos_ = r.next;
    std::vector<std::string> out;
    for (const auto& e : r.events) out.push_back(e.type);
    return out;
  }

  void start_server() {
    nlohmann::json tokens = nlohmann::json::array();
    for (const char* role : {"admin", "manager", "picker", "viewer"}) {
      tokens.push_back({{"name", std::string(role) + "-user"},
                        {"role", role},
                        {"sha256", http::sha256_hex(role)}});
    }
    auto auth =
        http::TokenAuthenticator::from_json(tokens, {"admin", "manager", "picker", "viewer"});
    ASSERT_TRUE(auth.ok());
    auth_ = std::make_unique<http::TokenAuthenticator>(std::move(*auth));
    server_ =
        std::make_unique<http::HttpServer>(http::ServerOptions{}, auth_.get(),
                                           log::Logger(sink_, log::Level::kInfo, "http"), metrics_);
    board_->register_routes(*server_);
    auto port = server_->start();
    ASSERT_TRUE(port.ok());
    port_ = *port;
  }

  struct Reply {
    int status = 0;
    nlohmann::json body;
  };
  Reply call(const std::string& method, const std::string& path, const std::string& role,
             const std::string& body = {}) {
    std::map<std::string, std::string> headers;
    if (!role.empty()) headers["Authorization"] = "Bearer " + role;
    if (!body.empty()) headers["Content-Type"] = "application/json";
    auto r = testing::http_request_checked("127.0.0.1", port_, method, path, body, headers);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    if (!r.ok()) return {};
    return {r->status, nlohmann::json::parse(r->body, nullptr, false)};
  }

  FakeClock clock_;
  events::EventBus bus_;
  std::uint64_t bus_pos_ = 0;
  std::shared_ptr<log::MemorySink> sink_ = std::make_shared<log::MemorySink>();
  metrics::Registry metrics_;
  std::optional<testing::TempDir> dir_;
  nlohmann::json inventory_answer_ = {{"alerts", nlohmann::json::array()}};
  nlohmann::json health_ = {{"status", "ok"}};
  std::unique_ptr<AlertBoard> board_;
  std::unique_ptr<http::TokenAuthenticator> auth_;
  std::unique_ptr<http::HttpServer> server_;
  int port_ = 0;
};

TEST(ConditionsTest, InventoryAlertsBecomeConditionsWithStableKeys) {
  nlohmann::json answer = {
      {"alerts",
       {low_stock("MILK-1L", 0),
        {{"type", "expiring_soon"},
         {"severity", "warning"},
         {"sku", "YOG-1"},
         {"name", "Yoghurt"},
         {"bin", "A-01"},
         {"lot", "L7"},
         {"expiry", "2030-01-02"},
         {"on_hand", 4}},
        {{"type", "impossible_stock"}, {"sku", "X"}, {"bin", "B"}, {"on_hand", -1}},
        "not an object"}}};
  auto c = conditions_from_inventory(answer);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].key, "below_reorder_point:MILK-1L");
  EXPECT_EQ(c[0].severity, "critical");
  EXPECT_NE(c[0].title.find("Milk 1 l (MILK-1L)"), std::string::npos) << c[0].title;
  EXPECT_EQ(c[1].key, "expiring_soon:YOG-1:A-01:L7");
  EXPECT_NE(c[1].title.find("2030-01-02"), std::string::npos);
  EXPECT_EQ(c[2].key, "impossible_stock:X:B");
  EXPECT_EQ(c[2].severity, "warning");  // no severity given: not escalated
  EXPECT_TRUE(conditions_from_inventory(nlohmann::json::array()).empty());
  EXPECT_TRUE(conditions_from_inventory({{"alerts", 3}}).empty());
}

TEST(ConditionsTest, HealthRaisesSyncDiskAndBrokerConditions) {
  EXPECT_TRUE(conditions_from_health({{"sync", {{"enabled", false}}},
                                      {"disk", {{"level", "ok"}}},
                                      {"mqtt", {{"enabled", true}, {"connected", true}}}})
                  .empty());
  EXPECT_TRUE(conditions_from_health("garbage").empty());
  auto c = conditions_from_health({{"sync", {{"lagging", true}, {"lag_s", 900.0}, {"backlog", 12}}},
                                   {"disk", {{"level", "critical"}, {"used_ratio", 0.93}}},
                                   {"mqtt", {{"enabled", true}, {"connected", false}}}});
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].kind, "sync_lagging");
  EXPECT_EQ(c[0].severity, "critical");
  EXPECT_NE(c[0].title.find("12 waiting"), std::string::npos) << c[0].title;
  EXPECT_EQ(c[1].kind, "disk_pressure");
  EXPECT_NE(c[1].title.find("93%"), std::string::npos) << c[1].title;
  EXPECT_EQ(c[2].kind, "broker_disconnected");
}

TEST(ConditionsTest, CameraEventsRaiseAndClear) {
  auto off = effect_of_event(
      {0, "vision.camera_offline", {{"camera", "cam-1"}, {"reason", "timeout"}}, 1});
  ASSERT_TRUE(off.raise);
  EXPECT_EQ(off.raise->key, "camera_offline:cam-1");
  auto on = effect_of_event({0, "vision.camera_online", {{"camera", "cam-1"}}, 1});
  EXPECT_FALSE(on.raise);
  EXPECT_EQ(on.clear_keys, std::vector<std::string>{"camera_offline:cam-1"});
  auto phantom =
      effect_of_event({0,
                       "vision.phantom_stock",
                       {{"camera", "cam-1"}, {"slot", "S3"}, {"sku", "M"}, {"on_hand", 5}},
                       1});
  ASSERT_TRUE(phantom.raise);
  EXPECT_EQ(phantom.raise->key, "phantom_stock:cam-1:S3");
  auto ok = effect_of_event({0, "vision.slot_ok", {{"camera", "cam-1"}, {"slot", "S3"}}, 1});
  EXPECT_EQ(ok.clear_keys, std::vector<std::string>{"phantom_stock:cam-1:S3"});
  EXPECT_FALSE(effect_of_event({0, "stock.changed", {{"camera", "cam-1"}}, 1}).raise);
  EXPECT_FALSE(effect_of_event({0, "vision.camera_offline", {{"reason", "x"}}, 1}).raise);
}

TEST_F(AlertBoardTest, RaisesUpdatesAndResolvesAsTheConditionComesAndGoes) {
  inventory_answer_["alerts"] = {low_stock("MILK-1L", 3)};
  ASSERT_TRUE(board_->refresh().is_ok());
  auto a = open_alerts();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0]["state"], "active");
  EXPECT_EQ(a[0]["kind"], "below_reorder_point");
  EXPECT_EQ(a[0]["detail"]["available"], 3);
  EXPECT_EQ(published_types(), std::vector<std::string>{"alert.raised"});

  // Same condition again: nothing new.
  ASSERT_TRUE(board_->refresh().is_ok());
  EXPECT_TRUE(published_types().empty());

  // Stock falls to zero: the same alert escalates.
  inventory_answer_["alerts"] = {low_stock("MILK-1L", 0)};
  ASSERT_TRUE(board_->refresh().is_ok());
  a = open_alerts();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0]["severity"], "critical");
  EXPECT_EQ(published_types(), std::vector<std::string>{"alert.updated"});

  // Restocked: resolved by the system.
  inventory_answer_["alerts"] = nlohmann::json::array();
  clock_.advance(5s);
  ASSERT_TRUE(board_->refresh().is_ok());
  EXPECT_TRUE(open_alerts().empty());
  auto all = board_->list({"all", 10});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ((*all)["alerts"].size(), 1u);
  EXPECT_EQ((*all)["alerts"][0]["resolved"]["by"], "system");
  EXPECT_EQ(published_types(), std::vector<std::string>{"alert.resolved"});
}

TEST_F(AlertBoardTest, AcknowledgeAndResolveRecordWhoAndWhen) {
  health_ = {{"mqtt", {{"enabled", true}, {"connected", false}}}};
  ASSERT_TRUE(board_->refresh().is_ok());
  auto a = open_alerts();
  ASSERT_EQ(a.size(), 1u);
  const std::int64_t id = a[0]["id"];
  clock_.advance(2s);
  auto acked = board_->acknowledge(id, "maya", std::string("calling the vendor"));
  ASSERT_TRUE(acked.ok()) << acked.status().to_string();
  EXPECT_EQ((*acked)["state"], "acknowledged");
  EXPECT_EQ((*acked)["acknowledged"]["by"], "maya");
  EXPECT_EQ((*acked)["acknowledged"]["at_ms"], to_unix_ms(clock_.wall_now()));
  EXPECT_EQ((*acked)["acknowledged"]["note"], "calling the vendor");
  // Again: unchanged, still maya's.
  auto again = board_->acknowledge(id, "raj", std::nullopt);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)["acknowledged"]["by"], "maya");

  auto resolved = board_->resolve(id, "raj", std::nullopt);
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ((*resolved)["state"], "resolved");
  EXPECT_EQ((*resolved)["resolved"]["by"], "raj");
  EXPECT_EQ(board_->resolve(id, "raj", std::nullopt).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(board_->acknowledge(id, "raj", std::nullopt).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(board_->acknowledge(9999, "raj", std::nullopt).status().code(), StatusCode::kNotFound);
}

TEST_F(AlertBoardTest, AResolvedAlertComesBackOnlyAfterItsConditionCleared) {
  health_ = {{"disk", {{"level", "warning"}, {"used_ratio", 0.75}}}};
  ASSERT_TRUE(board_->refresh().is_ok());
  const std::int64_t first = open_alerts()[0]["id"];
  ASSERT_TRUE(board_->resolve(first, "maya", std::nullopt).ok());
  ASSERT_TRUE(board_->refresh().is_ok());
  EXPECT_TRUE(open_alerts().empty()) << "still holding: a person said it is handled";

  health_ = {{"disk", {{"level", "ok"}}}};
  ASSERT_TRUE(board_->refresh().is_ok());
  health_ = {{"disk", {{"level", "warning"}, {"used_ratio", 0.8}}}};
  ASSERT_TRUE(board_->refresh().is_ok());
  auto a = open_alerts();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_NE(a[0]["id"], first);
}

TEST_F(AlertBoardTest, CameraEventsDriveCameraAlerts) {
  ASSERT_TRUE(board_
                  ->apply_event(
                      {0, "vision.camera_offline", {{"camera", "cam-2"}, {"reason", "timeout"}}, 1})
                  .is_ok());
  auto a = open_alerts();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0]["kind"], "camera_offline");
  EXPECT_EQ(a[0]["title"], "Camera cam-2 offline: timeout");
  // A refresh of the polled sources leaves camera alerts alone.
  ASSERT_TRUE(board_->refresh().is_ok());
  EXPECT_EQ(open_alerts().size(), 1u);
  ASSERT_TRUE(board_->apply_event({0, "vision.camera_online", {{"camera", "cam-2"}}, 2}).is_ok());
  EXPECT_TRUE(open_alerts().empty());
}

// A resync (a backup restored on one side) is raised once per resync and stays until a
// manager resolves it: the health refresh does not clear it.
TEST_F(AlertBoardTest, AResyncRaisesAnAlertThatStaysUntilResolved) {
  const events::Event resynced{0,
                               "sync.resynced",
                               {{"reason", "outbox_changed"},
                                {"from_seq", 41},
                                {"cloud_acked_seq", 90},
                                {"skus", 12},
                                {"order_statuses", 3}},
                               1};
  ASSERT_TRUE(board_->apply_event(resynced).is_ok());
  ASSERT_TRUE(board_->apply_event(resynced).is_ok());  // the same resync seen twice
  auto a = open_alerts();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0]["kind"], "sync_resynced");
  EXPECT_EQ(a[0]["severity"], "warning");
  EXPECT_EQ(a[0]["title"],
            "Cloud sync started over (outbox_changed): 12 SKUs and 3 order states sent again; "
            "was a backup restored?");
  ASSERT_TRUE(board_->refresh().is_ok());
  EXPECT_EQ(open_alerts().size(), 1u);
}

TEST_F(AlertBoardTest, SurvivesARestart) {
  inventory_answer_["alerts"] = {low_stock("MILK-1L", 3)};
  ASSERT_TRUE(board_->refresh().is_ok());
  const std::int64_t id = open_alerts()[0]["id"];
  ASSERT_TRUE(board_->acknowledge(id, "maya", std::nullopt).ok());
  open_board();
  ASSERT_TRUE(board_->refresh().is_ok());
  auto a = open_alerts();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0]["id"], id);
  EXPECT_EQ(a[0]["acknowledged"]["by"], "maya");
}

TEST_F(AlertBoardTest, ListRejectsAnUnknownState) {
  EXPECT_EQ(board_->list({"closed", 10}).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(AlertBoardTest, RoutesLetManagersActAndOthersOnlyRead) {
  inventory_answer_["alerts"] = {low_stock("MILK-1L", 3)};
  ASSERT_TRUE(board_->refresh().is_ok());
  start_server();
  auto list = call("GET", "/api/alert-board", "picker");
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.body["alerts"].size(), 1u);
  EXPECT_EQ(list.body["counts"]["active"], 1);
  const std::string id = std::to_string(list.body["alerts"][0]["id"].get<std::int64_t>());

  EXPECT_EQ(call("POST", "/api/alert-board/" + id + "/ack", "picker").status, 403);
  EXPECT_EQ(call("POST", "/api/alert-board/" + id + "/ack", "").status, 401);
  EXPECT_EQ(call("GET", "/api/alert-board?state=bogus", "viewer").status, 400);
  EXPECT_EQ(call("GET", "/api/alert-board?limit=0", "viewer").status, 400);
  EXPECT_EQ(call("POST", "/api/alert-board/" + id + "/ack", "manager", "{\"note\": 5}").status,
            400);
  EXPECT_EQ(call("POST", "/api/alert-board/" + id + "/ack", "manager", "not json").status, 400);
  EXPECT_EQ(call("POST", "/api/alert-board/424242/ack", "manager").status, 404);

  auto acked = call("POST", "/api/alert-board/" + id + "/ack", "manager", "{\"note\": \"on it\"}");
  ASSERT_EQ(acked.status, 200);
  EXPECT_EQ(acked.body["acknowledged"]["by"], "manager-user");
  auto resolved = call("POST", "/api/alert-board/" + id + "/resolve", "admin");
  ASSERT_EQ(resolved.status, 200);
  EXPECT_EQ(resolved.body["resolved"]["by"], "admin-user");
  EXPECT_EQ(call("POST", "/api/alert-board/" + id + "/resolve", "admin").status, 409);
}

}  // namespace
}  // namespace shopeasy::edge::alerts
