// The customer journey for real, every part a real process: shopeasy-cloud, a store's
// mosquitto, shopeasy-edge syncing to the cloud and dispatching over the broker, and a
// shopeasy-runner device. A customer orders and pays on the sandbox gateway; the store
// accepts against its own stock, a picker picks by scanning and packs; the runner gets
// the assignment, rides and delivers; the customer's event stream shows every step and
// the store's stock and the cloud's availability end where they should.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/http/auth.hpp"
#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kStoreId = "journey-store";
constexpr const char* kStoreSecret = "journey-store-secret-0123456789";
constexpr const char* kCustomerToken = "journey-customer-token";
constexpr const char* kRunnerId = "journey-runner-1";
constexpr double kLat = 12.9719;
constexpr double kLon = 77.6412;
constexpr const char* kMilkEan = "4006381333931";

std::string cloud_tokens() { return tokens_json({{"app", "customer", kCustomerToken}}); }

class JourneyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("journey");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    auto broker = MosquittoBroker::start();
    ASSERT_TRUE(broker.ok()) << broker.status().to_string();
    broker_.emplace(std::move(*broker));
    auto cloud = start_daemon("shopeasy-cloud",
                              {"--http.port=0", "--state_dir=" + dir_->file("cloud").string(),
                               "--auth.tokens=" + cloud_tokens(), "--stores.online_window_s=30",
                               "--payments.provider=sandbox"});
    ASSERT_TRUE(cloud.ok()) << cloud.status().to_string();
    cloud_.emplace(std::move(*cloud));
    ASSERT_EQ(call(*cloud_, "PUT", std::string("/v1/stores/") + kStoreId,
                   json{{"name", "Indiranagar"},
                        {"lat", kLat},
                        {"lon", kLon},
                        {"service_radius_m", 3000},
                        {"secret", kStoreSecret}})
                  .status,
              200);
    ASSERT_EQ(call(*cloud_, "PUT", "/v1/catalog/MILK-1L",
                   json{{"name", "Milk 1 L"},
                        {"price_cents", 6500},
                        {"category", "dairy"},
                        {"barcodes", {"04006381333931"}}})
                  .status,
              200);
    auto edge =
        start_daemon("shopeasy-edge",
                     {"--http.port=0", "--state_dir=" + dir_->file("edge").string(),
                      "--store.id=" + std::string(kStoreId), "--store.lat=" + std::to_string(kLat),
                      "--store.lon=" + std::to_string(kLon), "--auth.tokens=" + admin_tokens_json(),
                      "--mqtt.port=" + std::to_string(broker_->port()), "--sync.enabled=true",
                      "--sync.url=http://127.0.0.1:" + std::to_string(cloud_->http_port),
                      "--sync.heartbeat_ms=200", "--dispatch.speed_mps=50",
                      "--dispatch.handover_s=1", "--dispatch.tick_ms=200", "--store.durable=false",
                      std::string("--telemetry.runners=[\"") + kRunnerId + "\"]"},
                     {{"SHOPEASY_EDGE_SYNC_STORE_SECRET", kStoreSecret}});
    ASSERT_TRUE(edge.ok()) << edge.status().to_string();
    edge_.emplace(std::move(*edge));
    auto runner = ChildProcess::spawn(
        {.argv = {binary_path("shopeasy-runner"), std::string("--runner.id=") + kRunnerId,
                  "--mqtt.port=" + std::to_string(broker_->port()),
                  "--runner.lat=" + std::to_string(kLat), "--runner.lon=" + std::to_string(kLon),
                  "--runner.speed_mps=50", "--runner.dwell_ms=200",
                  "--telemetry.interval_ms=200"}});
    ASSERT_TRUE(runner.ok()) << runner.status().to_string();
    runner_.emplace(std::move(*runner));
  }

  HttpReply call(const RunningDaemon& d, const std::string& method, const std::string& path,
                 const json& body = nullptr, const std::string& token = kAdminToken,
                 std::map<std::string, std::string> extra = {}) {
    auto headers = bearer(token);
    std::string text;
    if (!body.is_null()) {
      headers["Content-Type"] = "application/json";
      text = body.dump();
    }
    for (auto& [k, v] : extra) headers[k] = v;
    return http_request("127.0.0.1", d.http_port, method, path, text, headers, 10s)
        .value_or(HttpReply{});
  }

  std::string cloud_status(const std::string& order_id) {
    auto r = call(*cloud_, "GET", "/api/orders/" + order_id, nullptr, kCustomerToken);
    return r.status == 200 ? json::parse(r.body).value("status", "") : "";
  }

  std::optional<TempDir> dir_;
  std::optional<MosquittoBroker> broker_;
  std::optional<RunningDaemon> cloud_;
  std::optional<RunningDaemon> edge_;
  std::optional<ChildProcess> runner_;
};

TEST_F(JourneyTest, OrderIsPaidPickedDispatchedAndDelivered) {
  // The store gets the catalog from the cloud and receives 10 bottles.
  ASSERT_EQ(call(*edge_, "POST", "/api/bins", json::parse(R"({"bins":[{"code":"A-01"}]})")).status,
            200);
  ASSERT_TRUE(
      wait_for([&] { return call(*edge_, "GET", "/api/stock/MILK-1L").status == 200; }, 15s));
  ASSERT_EQ(call(*edge_, "POST", "/api/scans",
                 {{"scan_id", "recv-1"},
                  {"scanner_id", "h1"},
                  {"code", kMilkEan},
                  {"action", "receive"},
                  {"qty", 10},
                  {"bin", "A-01"}})
                .status,
            200);
  // The runner is online at the store before the order comes.
  ASSERT_TRUE(wait_for(
      [&] {
        auto r = call(*edge_, "GET", std::string("/api/runners/") + kRunnerId);
        return r.status == 200 && r.body.find("\"online\"") != std::string::npos;
      },
      15s));
  // Customers can see the stock.
  ASSERT_TRUE(wait_for(
      [&] {
        auto r = call(*cloud_, "GET", "/api/inventory?geo_hash=tdr1yc2", nullptr, kCustomerToken);
        return r.status == 200 && r.body.find("\"available\":10") != std::string::npos;
      },
      15s, 100ms));

  // The customer orders 2 bottles 450 m away and pays on the gateway's page.
  auto placed = call(*cloud_, "POST", "/api/orders",
                     {{"lines", {{{"sku", "MILK-1L"}, {"qty", 2}}}},
                      {"delivery", {{"lat", kLat + 0.004}, {"lon", kLon}}}},
                     kCustomerToken, {{"Idempotency-Key", "journey-1"}});
  ASSERT_EQ(placed.status, 201) << placed.body;
  const json order = json::parse(placed.body);
  const std::string id = order["order_id"];
  EXPECT_EQ(order["status"], "pending_payment");
  EXPECT_EQ(order["total_cents"], 13000);
  EXPECT_GT(order["promised_at_ms"].get<std::int64_t>(),
            order["created_at_ms"].get<std::int64_t>());
  const std::string confirm = order["payment"]["confirm_url"];
  const std::string confirm_path = confirm.substr(confirm.find('/', confirm.find("//") + 2));
  auto paid = http_request("127.0.0.1", cloud_->http_port, "POST", confirm_path,
                           R"({"outcome":"succeed"})", {{"Content-Type", "application/json"}});
  ASSERT_TRUE(paid.has_value());
  ASSERT_EQ(paid->status / 100, 2) << paid->body;

  // The store accepts against its own stock (auto-accept) and the cloud hears it.
  // (Polling like an app would; the cloud limits each customer's request rate.)
  ASSERT_TRUE(wait_for([&] { return cloud_status(id) == "accepted"; }, 20s, 100ms))
      << cloud_status(id) << "\n"
      << edge_->process.output();

  // A picker follows the pick list: a wrong item is refused on the spot, the right one
  // is taken, then the order is packed.
  auto wrong = call(*edge_, "POST", "/api/orders/" + id + "/pick", {{"code", "5901234123457"}});
  EXPECT_EQ(wrong.status / 100, 4) << wrong.body;
  auto list = call(*edge_, "GET", "/api/orders/" + id + "/picklist");
  ASSERT_EQ(list.status, 200) << list.body;
  const json entries = json::parse(list.body)["entries"];
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0]["bin"], "A-01");
  for (int i = 0; i < 2; ++i) {
    auto pick = call(*edge_, "POST", "/api/orders/" + id + "/pick",
                     {{"code", kMilkEan}, {"scan_id", "pick-" + std::to_string(i)}});
    ASSERT_EQ(pick.status, 200) << pick.body;
  }
  auto packed = call(*edge_, "POST", "/api/orders/" + id + "/pack", json::object());
  ASSERT_EQ(packed.status, 200) << packed.body;

  // The dispatcher gives it to the runner, who rides and delivers.
  ASSERT_TRUE(wait_for([&] { return cloud_status(id) == "delivered"; }, 60s, 100ms))
      << cloud_status(id) << "\n"
      << edge_->process.output() << "\n"
      << runner_->output();

  // The customer's event stream tells the whole story, in order.
  auto events = call(*cloud_, "GET", "/api/orders/" + id + "/events", nullptr, kCustomerToken);
  ASSERT_EQ(events.status, 200);
  std::size_t at = 0;
  for (const char* step :
       {"confirmed", "routed", "accepted", "picking", "packed", "out_for_delivery", "delivered"}) {
    const auto found = events.body.find(std::string("\"") + step + "\"", at);
    EXPECT_NE(found, std::string::npos) << step << " missing or out of order:\n" << events.body;
    if (found != std::string::npos) at = found;
  }

  // Stock left the store once, and customers see what is left.
  auto stock = call(*edge_, "GET", "/api/stock/MILK-1L");
  ASSERT_EQ(stock.status, 200);
  EXPECT_NE(stock.body.find("\"on_hand\":8"), std::string::npos) << stock.body;
  EXPECT_TRUE(wait_for(
      [&] {
        auto r = call(*cloud_, "GET", "/api/inventory?geo_hash=tdr1yc2", nullptr, kCustomerToken);
        return r.status == 200 && r.body.find("\"available\":8") != std::string::npos;
      },
      15s, 100ms));
}

}  // namespace
}  // namespace shopeasy::testing
