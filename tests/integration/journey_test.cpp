// The customer journey for real, every part a real process: shopeasy-cloud, a store's
// mosquitto, shopeasy-edge syncing to the cloud and dispatching over the broker, and a
// shopeasy-runner device. A customer orders and pays on the sandbox gateway; the store
// accepts against its own stock, a picker picks by scanning and packs; the runner gets
// the assignment, rides and delivers; the customer's event stream shows every step and
// the store's stock and the cloud's availability end where they should.
#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/http/auth.hpp"
#include "tests/integration/daemon_fixture.hpp"
#include "tests/integration/link_cutter.hpp"

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
    start_cloud(0);
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
    start_edge();
    int runner_port = broker_->port();
    if (runner_keepalive_s_ > 0) {
      // The runner reaches the broker over a link the test can cut.
      auto link = LinkCutter::start(broker_->port());
      ASSERT_TRUE(link.ok()) << link.status().to_string();
      link_ = std::move(*link);
      runner_port = link_->port();
    }
    std::vector<std::string> argv = {binary_path("shopeasy-runner"),
                                     std::string("--runner.id=") + kRunnerId,
                                     "--mqtt.port=" + std::to_string(runner_port),
                                     "--runner.lat=" + std::to_string(kLat),
                                     "--runner.lon=" + std::to_string(kLon),
                                     "--runner.speed_mps=50",
                                     "--runner.dwell_ms=200",
                                     "--telemetry.interval_ms=200",
                                     "--http.port=0"};
    if (runner_keepalive_s_ > 0) {
      argv.push_back("--mqtt.keepalive_s=" + std::to_string(runner_keepalive_s_));
    }
    auto runner = ChildProcess::spawn({.argv = argv});
    ASSERT_TRUE(runner.ok()) << runner.status().to_string();
    runner_.emplace(std::move(*runner));
  }

  // The cloud on `port` (0: a free one), over the state in dir_/cloud.
  void start_cloud(int port) {
    auto cloud = start_daemon(
        "shopeasy-cloud",
        {"--http.port=" + std::to_string(port), "--state_dir=" + dir_->file("cloud").string(),
         "--auth.tokens=" + cloud_tokens(), "--stores.online_window_s=30",
         "--payments.provider=sandbox"});
    ASSERT_TRUE(cloud.ok()) << cloud.status().to_string();
    cloud_.emplace(std::move(*cloud));
  }
  // The store's edge over the state in dir_/edge, syncing to the cloud and dispatching
  // over the broker; `extra` flags are added last.
  void start_edge(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {
        "--http.port=0",
        "--state_dir=" + dir_->file("edge").string(),
        "--store.id=" + std::string(kStoreId),
        "--store.lat=" + std::to_string(kLat),
        "--store.lon=" + std::to_string(kLon),
        "--auth.tokens=" + admin_tokens_json(),
        "--mqtt.port=" + std::to_string(broker_->port()),
        "--sync.enabled=true",
        "--sync.url=http://127.0.0.1:" + std::to_string(cloud_->http_port),
        "--sync.heartbeat_ms=200",
        "--dispatch.speed_mps=50",
        "--dispatch.handover_s=1",
        "--dispatch.tick_ms=200",
        "--store.durable=false",
        std::string("--telemetry.runners=[\"") + kRunnerId + "\"]"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto edge =
        start_daemon("shopeasy-edge", args, {{"SHOPEASY_EDGE_SYNC_STORE_SECRET", kStoreSecret}});
    ASSERT_TRUE(edge.ok()) << edge.status().to_string();
    edge_.emplace(std::move(*edge));
  }

  // Bins, the catalog at the store, 10 bottles received, the runner online at the store
  // and the cloud showing the stock.
  void stock_store_and_wait_for_runner() {
    ASSERT_EQ(
        call(*edge_, "POST", "/api/bins", json::parse(R"({"bins":[{"code":"A-01"}]})")).status,
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
    ASSERT_TRUE(wait_for(
        [&] {
          auto r = call(*edge_, "GET", std::string("/api/runners/") + kRunnerId);
          return r.status == 200 && r.body.find("\"online\"") != std::string::npos;
        },
        15s));
    ASSERT_TRUE(wait_for(
        [&] {
          auto r = call(*cloud_, "GET", "/api/inventory?geo_hash=tdr1yc2", nullptr, kCustomerToken);
          return r.status == 200 && r.body.find("\"available\":10") != std::string::npos;
        },
        15s, 100ms));
  }

  // A paid order of 2 bottles, accepted by the store and picked; not yet packed.
  std::string paid_and_picked_order(const std::string& key) {
    auto placed = call(*cloud_, "POST", "/api/orders",
                       {{"lines", {{{"sku", "MILK-1L"}, {"qty", 2}}}},
                        {"delivery", {{"lat", kLat + 0.004}, {"lon", kLon}}}},
                       kCustomerToken, {{"Idempotency-Key", key}});
    EXPECT_EQ(placed.status, 201) << placed.body;
    if (placed.status != 201) return "";
    const json order = json::parse(placed.body);
    const std::string id = order["order_id"];
    const std::string confirm = order["payment"]["confirm_url"];
    const std::string confirm_path = confirm.substr(confirm.find('/', confirm.find("//") + 2));
    auto paid = http_request("127.0.0.1", cloud_->http_port, "POST", confirm_path,
                             R"({"outcome":"succeed"})", {{"Content-Type", "application/json"}});
    EXPECT_TRUE(paid.has_value() && paid->status / 100 == 2);
    EXPECT_TRUE(wait_for([&] { return cloud_status(id) == "accepted"; }, 20s, 100ms))
        << cloud_status(id) << "\n"
        << edge_->process.output();
    for (int i = 0; i < 2; ++i) {
      auto pick = call(*edge_, "POST", "/api/orders/" + id + "/pick",
                       {{"code", kMilkEan}, {"scan_id", key + "-pick-" + std::to_string(i)}});
      EXPECT_EQ(pick.status, 200) << pick.body;
    }
    return id;
  }

  json cloud_order(const std::string& order_id) {
    auto r = call(*cloud_, "GET", "/api/orders/" + order_id, nullptr, kCustomerToken);
    return r.status == 200 ? json::parse(r.body) : json();
  }

  // The assignment id the edge logged for its n-th route (1-based), or "".
  std::string assigned_id(int n) {
    const std::string out = edge_->process.output();
    std::size_t at = 0;
    for (int i = 0; i < n; ++i) {
      at = out.find("event=assigned", at);
      if (at == std::string::npos) return "";
      at += 1;
    }
    const std::size_t key = out.find("assignment=", at);
    if (key == std::string::npos) return "";
    const std::size_t end = out.find_first_of(" \n", key);
    return out.substr(key + 11, end - key - 11);
  }

  std::int64_t edge_metric(const std::string& name) {
    auto r = call(*edge_, "GET", "/metrics");
    const auto at = r.body.find("\n" + name + " ");
    if (at == std::string::npos) return -1;
    return std::stoll(r.body.substr(at + name.size() + 2));
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
  // > 0: the runner connects through link_ with this MQTT keepalive.
  int runner_keepalive_s_ = 0;
  std::unique_ptr<LinkCutter> link_;
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
  // No quote asked: the lines at their prices plus the delivery fee a quote shows.
  ASSERT_TRUE(order.contains("fees")) << order.dump();
  EXPECT_EQ(order["total_cents"], 13000 + order["fees"][0]["amount_cents"].get<std::int64_t>());
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

  // The customer's event stream tells the whole story, in order (and, the order being
  // paid, stays open for a late refund).
  auto events = read_stream(
      cloud_->http_port, "/api/orders/" + id + "/events", bearer(kCustomerToken),
      [](const std::string& body) { return body.find("\"delivered\"") != std::string::npos; }, 10s);
  ASSERT_EQ(events.status, 200);
  EXPECT_FALSE(events.ended);
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

// The runner's phone loses its link silently just before its assignment is sent, stays
// cut off for 30 s (less than its keepalive, so neither side's MQTT notices) and comes
// back on a new connection. Its persistent session at the broker still holds the
// assignment: it arrives within a second of the reconnect, the very one the edge sent,
// and the edge never gives the order back.
class RunnerOutageTest : public JourneyTest {
 protected:
  void SetUp() override {
    runner_keepalive_s_ = 60;
    JourneyTest::SetUp();
  }
};

bool line_with(const std::string& out, const std::string& a, const std::string& b) {
  std::size_t start = 0;
  while (start < out.size()) {
    std::size_t end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    const std::string line = out.substr(start, end - start);
    if (line.find(a) != std::string::npos && line.find(b) != std::string::npos) return true;
    start = end + 1;
  }
  return false;
}

TEST_F(RunnerOutageTest, AnAssignmentSentWhileTheRunnerIsCutOffArrivesWhenItReconnects) {
  stock_store_and_wait_for_runner();
  const std::string id = paid_and_picked_order("outage-1");
  ASSERT_FALSE(id.empty());

  link_->cut();
  const auto cut_at = std::chrono::steady_clock::now();
  ASSERT_EQ(call(*edge_, "POST", "/api/orders/" + id + "/pack", json::object()).status, 200);
  ASSERT_TRUE(wait_for([&] { return !assigned_id(1).empty(); }, 5s)) << edge_->process.output();
  const std::string assignment = assigned_id(1);
  // The customer sees the runner as soon as it is assigned.
  EXPECT_TRUE(
      wait_for([&] { return cloud_order(id).value("runner_id", "") == kRunnerId; }, 15s, 100ms))
      << cloud_order(id).dump();

  // Offline for 30 s across the assignment.
  std::this_thread::sleep_until(cut_at + 30s);  // the outage itself, not a wait for a result
  EXPECT_FALSE(line_with(runner_->output(), "assignment_received", assignment));
  const int accepted_before = link_->accepted();
  link_->restore();
  ASSERT_TRUE(wait_for([&] { return link_->accepted() > accepted_before; }, 15s))
      << runner_->output();
  const auto reconnected = *link_->last_accept();
  ASSERT_TRUE(wait_for(
      [&] { return line_with(runner_->output(), "assignment_received", assignment); }, 10s, 5ms))
      << runner_->output();
  const auto received = std::chrono::steady_clock::now();
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(received - reconnected);
  // The runner's own clock: its last "broker_connected" line to the "assignment_received"
  // line (logfmt ts=...T<hh:mm:ss.mmm>Z), free of this test's polling.
  const std::string out = runner_->output();
  const auto ms_of_day = [&](std::size_t line_at) -> std::int64_t {
    const std::size_t t = out.find('T', out.rfind("ts=", line_at));
    if (t == std::string::npos) return -1;
    return ((std::stoll(out.substr(t + 1, 2)) * 60 + std::stoll(out.substr(t + 4, 2))) * 60 +
            std::stoll(out.substr(t + 7, 2))) *
               1000 +
           std::stoll(out.substr(t + 10, 3));
  };
  const std::size_t got = out.find("assignment=" + assignment);
  const std::size_t connected = out.rfind("event=broker_connected", got);
  ASSERT_NE(connected, std::string::npos) << out;
  const std::int64_t runner_ms = ms_of_day(got) - ms_of_day(connected);
  std::cout << "assignment arrived " << runner_ms << " ms after the runner reconnected ("
            << took.count() << " ms after the relay accepted the new connection)\n";
  EXPECT_LT(runner_ms, 1000) << out;

  // Delivered on that very assignment; the edge never released the order.
  ASSERT_TRUE(wait_for([&] { return cloud_status(id) == "delivered"; }, 60s, 100ms))
      << cloud_status(id) << "\n"
      << edge_->process.output() << "\n"
      << runner_->output();
  EXPECT_EQ(edge_metric("edge_dispatch_released_total"), 0);
  EXPECT_TRUE(assigned_id(2).empty()) << edge_->process.output();
}

// The broker gives up on a runner that stays silent past 1.5 x its keepalive and
// publishes its last will. The edge gives the uncollected order back and the customer
// sees the runner go; the runner, back later, drops the assignment it finally receives
// (stale: its order was given back) and takes the new one, which the customer sees too.
class RunnerLostTest : public JourneyTest {
 protected:
  void SetUp() override {
    runner_keepalive_s_ = 2;
    JourneyTest::SetUp();
  }
};

TEST_F(RunnerLostTest, AnUnassignedOrderShowsNoRunnerThenTheNextOne) {
  stock_store_and_wait_for_runner();
  const std::string id = paid_and_picked_order("lost-1");
  ASSERT_FALSE(id.empty());

  link_->cut();
  ASSERT_EQ(call(*edge_, "POST", "/api/orders/" + id + "/pack", json::object()).status, 200);
  ASSERT_TRUE(wait_for([&] { return !assigned_id(1).empty(); }, 5s)) << edge_->process.output();
  const std::string first = assigned_id(1);
  ASSERT_TRUE(
      wait_for([&] { return cloud_order(id).value("runner_id", "") == kRunnerId; }, 15s, 100ms))
      << cloud_order(id).dump();
  // The will fires (about 3 s); the order goes back and the runner disappears from it.
  ASSERT_TRUE(wait_for([&] { return edge_metric("edge_dispatch_released_total") == 1; }, 15s))
      << edge_->process.output();
  ASSERT_TRUE(wait_for(
      [&] {
        const json o = cloud_order(id);
        return o.value("status", "") == "packed" && !o.contains("runner_id") &&
               !o.contains("eta_ms");
      },
      15s, 100ms))
      << cloud_order(id).dump();

  link_->restore();
  ASSERT_TRUE(wait_for([&] { return !assigned_id(2).empty(); }, 20s))
      << edge_->process.output() << "\n"
      << runner_->output();
  const std::string second = assigned_id(2);
  EXPECT_NE(second, first);
  ASSERT_TRUE(wait_for([&] { return cloud_status(id) == "delivered"; }, 60s, 100ms))
      << cloud_status(id) << "\n"
      << edge_->process.output() << "\n"
      << runner_->output();
  // The stale route was never ridden: every event came from the new one.
  EXPECT_FALSE(line_with(runner_->output(), "route_started", first)) << runner_->output();
  EXPECT_TRUE(line_with(runner_->output(), "route_started", second)) << runner_->output();
  EXPECT_EQ(edge_metric("edge_order_runner_events_refused_total"), 0);

  // The customer's stream: packed, packed with the runner, packed without, packed
  // with the runner again, then out for delivery and delivered.
  auto events = read_stream(
      cloud_->http_port, "/api/orders/" + id + "/events", bearer(kCustomerToken),
      [](const std::string& body) { return body.find("\"delivered\"") != std::string::npos; }, 10s);
  ASSERT_EQ(events.status, 200);
  std::vector<std::pair<std::string, bool>> packed;  // (status, has runner)
  std::size_t at = 0;
  while ((at = events.body.find("data: ", at)) != std::string::npos) {
    const std::size_t end = events.body.find('\n', at);
    const json e = json::parse(events.body.substr(at + 6, end - at - 6), nullptr, false);
    at = end;
    if (e.is_object() && e.value("status", "") == "packed") {
      packed.emplace_back("packed", e.contains("runner_id"));
    }
  }
  EXPECT_EQ(packed, (std::vector<std::pair<std::string, bool>>{
                        {"packed", false}, {"packed", true}, {"packed", false}, {"packed", true}}))
      << events.body;
}

// The store substitutes one unit of a paid order: the cloud's copy of the order lists
// what the store will deliver (with what it replaces), the customer's stream says so,
// and availability in the cloud follows the store's reservations of both products.
TEST_F(JourneyTest, ASubstitutionAtTheStoreReachesTheCloudsOrderAndAvailability) {
  ASSERT_EQ(call(*cloud_, "PUT", "/v1/catalog/MILK-TONED",
                 json{{"name", "Toned milk 1 L"},
                      {"price_cents", 5500},
                      {"category", "dairy"},
                      {"barcodes", {"05449000000996"}}})
                .status,
            200);
  stock_store_and_wait_for_runner();
  ASSERT_TRUE(
      wait_for([&] { return call(*edge_, "GET", "/api/stock/MILK-TONED").status == 200; }, 15s));
  ASSERT_EQ(call(*edge_, "POST", "/api/scans",
                 {{"scan_id", "recv-toned"},
                  {"scanner_id", "h1"},
                  {"code", "5449000000996"},
                  {"action", "receive"},
                  {"qty", 4},
                  {"bin", "A-01"}})
                .status,
            200);
  std::string last_inventory;
  const auto available = [&](const std::string& sku) -> std::int64_t {
    auto r =
        call(*cloud_, "GET", "/api/inventory?geo_hash=tdr1yc2&limit=100", nullptr, kCustomerToken);
    last_inventory = r.body;
    if (r.status != 200) return -1;
    const json page = json::parse(r.body);  // kept alive for the loop below
    for (const auto& item : page["items"]) {
      if (item["sku"] == sku) return item["available"].get<std::int64_t>();
    }
    return -2;
  };
  // (Polling like an app would; the cloud limits each customer's request rate.)
  ASSERT_TRUE(wait_for([&] { return available("MILK-TONED") == 4; }, 15s, 300ms)) << last_inventory;

  // Two bottles ordered; the picker finds one, the manager substitutes the other.
  auto placed = call(*cloud_, "POST", "/api/orders",
                     {{"lines", {{{"sku", "MILK-1L"}, {"qty", 2}}}},
                      {"delivery", {{"lat", kLat + 0.004}, {"lon", kLon}}}},
                     kCustomerToken, {{"Idempotency-Key", "subst-1"}});
  ASSERT_EQ(placed.status, 201) << placed.body;
  const json order = json::parse(placed.body);
  const std::string id = order["order_id"];
  const std::string confirm = order["payment"]["confirm_url"];
  ASSERT_EQ(http_request("127.0.0.1", cloud_->http_port, "POST",
                         confirm.substr(confirm.find('/', confirm.find("//") + 2)),
                         R"({"outcome":"succeed"})", {{"Content-Type", "application/json"}})
                    .value_or(HttpReply{})
                    .status /
                100,
            2);
  ASSERT_TRUE(wait_for([&] { return cloud_status(id) == "accepted"; }, 20s, 100ms));
  ASSERT_EQ(call(*edge_, "POST", "/api/orders/" + id + "/pick",
                 {{"code", kMilkEan}, {"scan_id", "subst-pick-1"}})
                .status,
            200);
  auto sub = call(*edge_, "POST", "/api/orders/" + id + "/short",
                  {{"sku", "MILK-1L"}, {"action", "substitute"}, {"substitute_sku", "MILK-TONED"}});
  ASSERT_EQ(sub.status, 200) << sub.body;

  // The cloud's order now has what the store will deliver.
  json lines;
  ASSERT_TRUE(wait_for(
      [&] {
        lines = cloud_order(id)["lines"];
        return lines.size() == 2;
      },
      15s, 100ms))
      << cloud_order(id).dump();
  std::map<std::string, std::int64_t> qty;
  for (const auto& l : lines) qty[l["sku"]] = l["qty"];
  EXPECT_EQ(qty, (std::map<std::string, std::int64_t>{{"MILK-1L", 1}, {"MILK-TONED", 1}}));
  // Availability agrees with the store: 10 - 2 ordered + 1 given back; 4 - 1 substituted.
  EXPECT_TRUE(wait_for([&] { return available("MILK-TONED") == 3; }, 15s, 300ms)) << last_inventory;
  EXPECT_TRUE(wait_for([&] { return available("MILK-1L") == 9; }, 15s, 300ms)) << last_inventory;
  // The customer's stream shows the new lines and what the substitute replaces.
  auto events = read_stream(
      cloud_->http_port, "/api/orders/" + id + "/events", bearer(kCustomerToken),
      [](const std::string& body) { return body.find("event: lines") != std::string::npos; }, 10s);
  EXPECT_NE(events.body.find("\"substitute_for\":\"MILK-1L\""), std::string::npos) << events.body;
}

// Restores with an order in flight. A backup restored on either side must not lose
// the customer's order nor deliver it twice: the cloud sends the store its orders again
// when the store's downstream cursor went back, and the store sends its orders' states
// again when the cloud lost changes it had acknowledged.
class RestoreJourneyTest : public JourneyTest {
 protected:
  std::string edge_status(const std::string& order_id) {
    auto r = call(*edge_, "GET", "/api/orders/" + order_id);
    return r.status == 200 ? json::parse(r.body).value("status", "") : "";
  }
  bool edge_caught_up() {
    auto r = call(*edge_, "GET", "/health");
    if (r.status != 200) return false;
    const json h = json::parse(r.body);
    return h.contains("sync") && h["sync"].value("backlog", -1) == 0;
  }
  std::int64_t cloud_available_milk() {
    auto r = call(*cloud_, "GET", "/api/inventory?geo_hash=tdr1yc2", nullptr, kCustomerToken);
    last_inventory_ = r.body;
    if (r.status != 200) return -1;
    const json page = json::parse(r.body);
    for (const auto& item : page["items"]) {
      if (item["sku"] == "MILK-1L") return item["available"].get<std::int64_t>();
    }
    return -2;
  }
  std::int64_t edge_on_hand_milk() {
    auto r = call(*edge_, "GET", "/api/stock/MILK-1L");
    return r.status == 200 ? json::parse(r.body).value("on_hand", std::int64_t{-1}) : -1;
  }
  std::string last_inventory_;
  std::string both_outputs() {
    return "edge:\n" + edge_->process.output() + "\ncloud:\n" + cloud_->process.output();
  }
  // `picks` bottles picked (the order is for 2), then packed.
  void pick_and_pack(const std::string& id, const std::string& scan_prefix, int picks) {
    for (int i = 0; i < picks; ++i) {
      auto pick = call(*edge_, "POST", "/api/orders/" + id + "/pick",
                       {{"code", kMilkEan}, {"scan_id", scan_prefix + std::to_string(i)}});
      ASSERT_EQ(pick.status, 200) << pick.body;
    }
    auto packed = call(*edge_, "POST", "/api/orders/" + id + "/pack", json::object());
    ASSERT_EQ(packed.status, 200) << packed.body;
  }
};

// The store's box is restored from a backup taken before the order came: the store has
// never heard of an order the cloud has accepted and half picked there. The order comes
// back to the store, is picked anew and delivered, once; the 2 bottles leave the store
// once.
TEST_F(RestoreJourneyTest, AnEdgeRestoredFromABackupStillDeliversTheOrderInFlight) {
  stock_store_and_wait_for_runner();
  ASSERT_EQ(edge_->process.terminate_and_wait(10s), 0);
  copy_state_dir(dir_->file("edge"), dir_->file("edge-backup"));
  start_edge();
  const std::string id = paid_and_picked_order("restore-edge-1");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(wait_for([&] { return edge_caught_up(); }, 15s)) << both_outputs();
  ASSERT_EQ(edge_->process.terminate_and_wait(10s), 0);
  copy_state_dir(dir_->file("edge-backup"), dir_->file("edge"));
  start_edge();
  ASSERT_EQ(edge_on_hand_milk(), 10);  // the backup's stock: nothing picked yet
  // The cloud sends the order again; the store takes it against its own stock.
  ASSERT_TRUE(wait_for([&] { return edge_status(id) == "accepted"; }, 20s, 100ms))
      << edge_status(id) << "\n"
      << both_outputs();
  pick_and_pack(id, "restore-edge-1-again-", 2);
  ASSERT_TRUE(wait_for([&] { return cloud_status(id) == "delivered"; }, 60s, 100ms))
      << cloud_status(id) << "\n"
      << both_outputs();
  EXPECT_EQ(edge_on_hand_milk(), 8);
  EXPECT_TRUE(wait_for([&] { return cloud_available_milk() == 8; }, 15s, 100ms))
      << cloud_available_milk() << " " << last_inventory_;
  auto mine = call(*cloud_, "GET", "/api/me/orders", nullptr, kCustomerToken);
  ASSERT_EQ(mine.status, 200) << mine.body;
  EXPECT_EQ(json::parse(mine.body)["orders"].size(), 1u) << mine.body;
}

// The cloud is restored from a backup taken while the order was being picked; the
// store has packed it and the runner delivered it since. The store's outbox no longer
// holds those changes (it keeps none once acknowledged), so it sends a snapshot: the
// customer sees the order delivered, and the stock the store really has.
TEST_F(RestoreJourneyTest, ACloudRestoredFromABackupCatchesUpWithTheOrderInFlight) {
  ASSERT_EQ(edge_->process.terminate_and_wait(10s), 0);
  start_edge({"--sync.keep_acked_events=0"});
  stock_store_and_wait_for_runner();
  const std::string id = paid_and_picked_order("restore-cloud-1");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(wait_for([&] { return edge_caught_up(); }, 15s)) << both_outputs();
  const std::string before = cloud_status(id);
  const int port = cloud_->http_port;
  ASSERT_EQ(cloud_->process.terminate_and_wait(10s), 0);
  copy_state_dir(dir_->file("cloud"), dir_->file("cloud-backup"));
  start_cloud(port);
  pick_and_pack(id, "restore-cloud-1-pack-", 0);
  ASSERT_TRUE(wait_for([&] { return cloud_status(id) == "delivered"; }, 60s, 100ms))
      << cloud_status(id) << "\n"
      << both_outputs();
  ASSERT_TRUE(wait_for([&] { return edge_caught_up(); }, 15s)) << both_outputs();
  // Restore the cloud's old files: it has the order at its earlier state.
  ASSERT_EQ(cloud_->process.terminate_and_wait(10s), 0);
  copy_state_dir(dir_->file("cloud-backup"), dir_->file("cloud"));
  start_cloud(port);
  ASSERT_EQ(cloud_status(id), before);
  // Any later change at the store makes it sync again.
  ASSERT_EQ(call(*edge_, "POST", "/api/scans",
                 {{"scan_id", "recv-2"},
                  {"scanner_id", "h1"},
                  {"code", kMilkEan},
                  {"action", "receive"},
                  {"qty", 1},
                  {"bin", "A-01"}})
                .status,
            200);
  EXPECT_TRUE(wait_for([&] { return cloud_status(id) == "delivered"; }, 20s, 100ms))
      << cloud_status(id) << "\n"
      << both_outputs();
  EXPECT_TRUE(wait_for([&] { return cloud_available_milk() == 9; }, 15s, 100ms))
      << cloud_available_milk() << " " << last_inventory_;
  auto metrics = call(*edge_, "GET", "/metrics").body;
  EXPECT_NE(metrics.find("edge_sync_resyncs_total{reason=\"outbox_gap\"} 1"), std::string::npos)
      << metrics;
}

}  // namespace
}  // namespace shopeasy::testing
