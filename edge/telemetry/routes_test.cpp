#include "edge/telemetry/routes.hpp"

#include <gtest/gtest.h>

#include "common/http/auth.hpp"
#include "edge/telemetry/telemetry.hpp"
#include "tests/harness/http_probe.hpp"
#include "tests/harness/temp_dir.hpp"

namespace shopeasy::edge::telemetry {
namespace {

using namespace std::chrono_literals;

constexpr double kLat = 12.9716;
constexpr double kLon = 77.5946;

class RoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = testing::TempDir::create("routes-test");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    TelemetryOptions o;
    o.state_dir = dir_->path().string();
    o.runners = {"r1", "r2"};
    auto t = Telemetry::open(o, clock_, bus_, nullptr, log::Logger(sink_, log::Level::kInfo, "t"),
                             metrics_);
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    t_ = std::move(*t);

    nlohmann::json tokens = nlohmann::json::array();
    for (const char* role : {"admin", "manager", "picker", "viewer", "metrics"}) {
      tokens.push_back({{"name", role}, {"role", role}, {"sha256", http::sha256_hex(role)}});
    }
    auto auth = http::TokenAuthenticator::from_json(
        tokens, {"admin", "manager", "picker", "viewer", "metrics"});
    ASSERT_TRUE(auth.ok());
    auth_ = std::make_unique<http::TokenAuthenticator>(std::move(*auth));
    server_ =
        std::make_unique<http::HttpServer>(http::ServerOptions{}, auth_.get(),
                                           log::Logger(sink_, log::Level::kInfo, "http"), metrics_);
    t_->register_routes(*server_);
    auto port = server_->start();
    ASSERT_TRUE(port.ok()) << port.status().to_string();
    port_ = *port;
  }
  void TearDown() override {
    if (server_) server_->stop();
  }

  struct Reply {
    int status = 0;
    nlohmann::json body;
  };
  Reply call(const std::string& method, const std::string& path, const std::string& role,
             const std::string& body = {}, const std::string& content_type = "application/json") {
    std::map<std::string, std::string> headers;
    if (!role.empty()) headers["Authorization"] = "Bearer " + role;
    if (!body.empty()) headers["Content-Type"] = content_type;
    auto r = testing::http_request_checked("127.0.0.1", port_, method, path, body, headers);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    if (!r.ok()) return {};
    Reply out{r->status, nlohmann::json()};
    if (!r->body.empty()) out.body = nlohmann::json::parse(r->body, nullptr, false);
    return out;
  }
  void report(const std::string& runner, double lat, std::int64_t ts) {
    wire::Telemetry t;
    t.runner_id = runner;
    t.lat = lat;
    t.lon = kLon;
    t.battery_pct = 64;
    t.device_ts_ms = ts;
    t_->on_message(mqtt::Message{"runners/" + runner + "/telemetry",
                                 wire::dump_compact(wire::encode(t)), 0, false});
  }
  std::int64_t now_ms() const { return to_unix_ms(clock_.wall_now()); }

  FakeClock clock_;
  events::EventBus bus_;
  std::shared_ptr<log::MemorySink> sink_ = std::make_shared<log::MemorySink>();
  metrics::Registry metrics_;
  std::optional<testing::TempDir> dir_;
  std::unique_ptr<Telemetry> t_;
  std::unique_ptr<http::TokenAuthenticator> auth_;
  std::unique_ptr<http::HttpServer> server_;
  int port_ = 0;
};

TEST_F(RoutesTest, ListShowsEveryRunnerWithItsFixAndAge) {
  report("r1", kLat, now_ms());
  ASSERT_TRUE(t_->drain(10s));
  clock_.advance(1500ms);
  auto r = call("GET", "/api/runners", "viewer");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["count"], 2);
  const auto& r1 = r.body["runners"][0];
  EXPECT_EQ(r1["id"], "r1");
  EXPECT_EQ(r1["presence"], "online");
  EXPECT_EQ(r1["state"], "idle");
  EXPECT_EQ(r1["battery_pct"], 64);
  EXPECT_DOUBLE_EQ(r1["fix"]["lat"].get<double>(), kLat);
  EXPECT_EQ(r1["fix"]["age_ms"], 1500);
  const auto& r2 = r.body["runners"][1];
  EXPECT_EQ(r2["id"], "r2");
  EXPECT_EQ(r2["presence"], "unknown");
  EXPECT_FALSE(r2.contains("fix"));
}

TEST_F(RoutesTest, ReadsNeedAStaffRole) {
  EXPECT_EQ(call("GET", "/api/runners", "").status, 401);
  EXPECT_EQ(call("GET", "/api/runners", "metrics").status, 403);
  for (const char* role : {"admin", "manager", "picker", "viewer"}) {
    EXPECT_EQ(call("GET", "/api/runners", role).status, 200) << role;
  }
}

TEST_F(RoutesTest, OneRunner) {
  auto r = call("GET", "/api/runners/r2", "picker");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["id"], "r2");
  auto missing = call("GET", "/api/runners/ghost", "picker");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body["error"]["code"], "not_found");
  auto bad = call("GET", "/api/runners/bad%21id", "picker");
  EXPECT_EQ(bad.status, 400);
}

TEST_F(RoutesTest, TrailQueryWithRangeLimitAndValidation) {
  const std::int64_t now = now_ms();
  for (int i = 0; i < 5; ++i) report("r1", kLat + i * 0.001, now - 50'000 + i * 10'000);
  ASSERT_TRUE(t_->drain(10s));
  ASSERT_TRUE(t_->trail_store().flush(10s).is_ok());
  const std::string base = "/api/runners/r1/trail";

  auto all = call("GET", base, "viewer");  // default: the last hour
  ASSERT_EQ(all.status, 200);
  EXPECT_EQ(all.body["points"].size(), 5u);
  EXPECT_EQ(all.body["truncated"], false);

  auto part = call(
      "GET",
      base + "?since=" + std::to_string(now - 40'000) + "&until=" + std::to_string(now - 20'000),
      "viewer");
  ASSERT_EQ(part.status, 200);
  ASSERT_EQ(part.body["points"].size(), 3u);
  EXPECT_EQ(part.body["points"][0]["ts_ms"], now - 40'000);

  auto limited = call("GET", base + "?limit=2", "viewer");
  ASSERT_EQ(limited.status, 200);
  EXPECT_EQ(limited.body["points"].size(), 2u);
  EXPECT_EQ(limited.body["truncated"], true);

  EXPECT_EQ(call("GET", base + "?since=yesterday", "viewer").body["error"]["field"], "since");
  EXPECT_EQ(call("GET", base + "?until=12x", "viewer").body["error"]["field"], "until");
  EXPECT_EQ(call("GET", base + "?limit=0", "viewer").body["error"]["field"], "limit");
  EXPECT_EQ(call("GET", base + "?limit=20001", "viewer").status, 400);
  EXPECT_EQ(call("GET", base + "?since=10&until=5", "viewer").status, 400);
  EXPECT_EQ(call("GET", "/api/runners/ghost/trail", "viewer").status, 404);
}

TEST_F(RoutesTest, PutAddsAndRenamesForManagersOnly) {
  EXPECT_EQ(call("PUT", "/api/runners/r7", "picker").status, 403);
  EXPECT_EQ(call("PUT", "/api/runners/r7", "viewer").status, 403);
  auto created = call("PUT", "/api/runners/r7", "manager", R"({"name":"Seven"})");
  ASSERT_EQ(created.status, 201);
  EXPECT_EQ(created.body["id"], "r7");
  EXPECT_EQ(created.body["name"], "Seven");
  auto again = call("PUT", "/api/runners/r7", "admin");
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.body["name"], "Seven");
  EXPECT_EQ(call("GET", "/api/runners", "viewer").body["count"], 3);

  EXPECT_EQ(call("PUT", "/api/runners/r7", "admin", "name=x", "text/plain").status, 415);
  EXPECT_EQ(call("PUT", "/api/runners/r7", "admin", R"({"name":5})").body["error"]["field"],
            "name");
  EXPECT_EQ(call("PUT", "/api/runners/r7", "admin", "{oops").status, 400);
  EXPECT_EQ(call("PUT", "/api/runners/" + std::string(65, 'x'), "admin").body["error"]["field"],
            "id");
}

TEST_F(RoutesTest, DeleteRetires) {
  EXPECT_EQ(call("DELETE", "/api/runners/r1", "viewer").status, 403);
  EXPECT_EQ(call("DELETE", "/api/runners/r1", "manager").status, 204);
  EXPECT_EQ(call("GET", "/api/runners/r1", "viewer").status, 404);
  EXPECT_EQ(call("DELETE", "/api/runners/r1", "manager").status, 404);
  // The trail of a retired runner can still be read.
  EXPECT_EQ(call("GET", "/api/runners/r1/trail", "viewer").status, 200);
  EXPECT_EQ(call("PUT", "/api/runners/r1", "manager").status, 201);
}

}  // namespace
}  // namespace shopeasy::edge::telemetry
