// Chaos for sync: while the store produces 100,000 changes (catalog imports and
// scans), the edge and the cloud are each SIGKILLed at random moments at least ten
// times and restarted. At the end the cloud has applied every change exactly once, in
// order, and its replica of the store's stock equals the store's own. Runs against the
// embedded SQLite cloud and against a cloud on a throwaway PostgreSQL server.
#include <gtest/gtest.h>

#include <random>

#include <nlohmann/json.hpp>

#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kStoreId = "chaos-store";
constexpr const char* kSecret = "chaos-secret-0123456789";
constexpr std::int64_t kTargetChanges = 100000;
constexpr int kKillsEach = 10;

class SyncChaosTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("sync-chaos");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    if (GetParam() == "postgres") {
      auto pg = PostgresServer::start();
      ASSERT_TRUE(pg.ok()) << pg.status().to_string();
      pg_.emplace(std::move(*pg));
      ASSERT_TRUE(pg_->create_database("cloud").is_ok());
    }
    cloud_port_ = free_tcp_port();
    start_cloud();
    auto headers = bearer();
    headers["Content-Type"] = "application/json";
    auto reg = http_request(
        "127.0.0.1", cloud_port_, "PUT", std::string("/v1/stores/") + kStoreId,
        json{{"name", "Chaos"}, {"lat", 12.97}, {"lon", 77.64}, {"secret", kSecret}}.dump(),
        headers);
    ASSERT_TRUE(reg && reg->status == 200) << (reg ? reg->body : "no reply");
  }

  void start_cloud() {
    std::vector<std::string> args = {"--http.port=" + std::to_string(cloud_port_),
                                     "--state_dir=" + dir_->file("cloud").string(),
                                     "--auth.tokens=" + admin_tokens_json()};
    std::map<std::string, std::string> env;
    if (pg_) {
      args.push_back("--storage.backend=postgres");
      env["SHOPEASY_CLOUD_STORAGE_POSTGRES_DSN"] = pg_->dsn("cloud");
    }
    auto cloud = start_daemon("shopeasy-cloud", args, env);
    ASSERT_TRUE(cloud.ok()) << cloud.status().to_string();
    cloud_.emplace(std::move(*cloud));
  }
  void start_edge() {
    auto edge = start_daemon(
        "shopeasy-edge",
        {"--http.port=0", "--state_dir=" + dir_->file("edge").string(), "--mqtt.enabled=false",
         "--store.id=" + std::string(kStoreId), "--auth.tokens=" + admin_tokens_json(),
         "--sync.enabled=true", "--sync.url=http://127.0.0.1:" + std::to_string(cloud_port_),
         "--sync.heartbeat_ms=200", "--store.durable=false"},
        {{"SHOPEASY_EDGE_SYNC_STORE_SECRET", kSecret}});
    ASSERT_TRUE(edge.ok()) << edge.status().to_string();
    edge_.emplace(std::move(*edge));
  }
  std::optional<HttpReply> edge_call(const std::string& method, const std::string& path,
                                     const std::string& body, const std::string& type) {
    auto headers = bearer();
    if (!type.empty()) headers["Content-Type"] = type;
    return http_request("127.0.0.1", edge_->http_port, method, path, body, headers, 30s);
  }
  std::optional<json> edge_health() {
    auto r = http_request("127.0.0.1", edge_->http_port, "GET", "/health");
    if (!r || r->status != 200) return std::nullopt;
    return json::parse(r->body);
  }

  std::optional<TempDir> dir_;
  std::optional<PostgresServer> pg_;
  int cloud_port_ = 0;
  std::optional<RunningDaemon> cloud_;
  std::optional<RunningDaemon> edge_;
};

// A catalog import of `n` products: n changes in one request.
std::string catalog_csv(int round, int n) {
  std::string csv = "sku,name,home_bin\n";
  for (int i = 0; i < n; ++i) {
    csv += "R" + std::to_string(round) + "-" + std::to_string(i) + ",Item,A-01\n";
  }
  return csv;
}

TEST_P(SyncChaosTest, EveryChangeReachesTheCloudExactlyOnceThroughKills) {
  start_edge();
  ASSERT_TRUE(edge_call("POST", "/api/bins", R"({"bins":[{"code":"A-01"}]})", "application/json"));
  ASSERT_TRUE(edge_call("POST", "/api/catalog",
                        "sku,name,barcodes,home_bin\nMILK,Milk,4006381333931,A-01\n", "text/csv"));
  std::mt19937 rng(GetParam() == "postgres" ? 11 : 7);
  int edge_kills = 0;
  int cloud_kills = 0;
  int round = 0;
  int scans = 0;
  std::int64_t newest = 0;
  while (newest < kTargetChanges || edge_kills < kKillsEach || cloud_kills < kKillsEach) {
    // Produce changes: a bulk import and a burst of scans.
    const int bulk = std::uniform_int_distribution<int>(1000, 6000)(rng);
    auto imported = edge_call("POST", "/api/catalog", catalog_csv(round, bulk), "text/csv");
    const int burst = std::uniform_int_distribution<int>(5, 40)(rng);
    for (int i = 0; i < burst; ++i) {
      auto r = edge_call("POST", "/api/scans",
                         json{{"scan_id", "s" + std::to_string(scans++)},
                              {"scanner_id", "h"},
                              {"code", "4006381333931"},
                              {"action", "receive"},
                              {"qty", 1}}
                             .dump(),
                         "application/json");
      if (!r) break;
    }
    if (auto h = edge_health()) newest = (*h)["sync"].value("newest_seq", newest);
    ++round;
    // Kill one of them; alternate so both reach their count.
    const bool kill_edge = (edge_kills <= cloud_kills);
    if (kill_edge) {
      edge_->process.kill9();
      ++edge_kills;
      start_edge();
    } else {
      cloud_->process.kill9();
      ++cloud_kills;
      start_cloud();
    }
    ASSERT_LT(round, 200) << "too many rounds";
    (void)imported;
  }
  // Everything drains: the cloud has applied up to the edge's newest change.
  json health;
  ASSERT_TRUE(wait_for(
      [&] {
        auto h = edge_health();
        if (!h) return false;
        health = *h;
        return health["sync"]["backlog"] == 0 &&
               health["sync"]["acked_seq"] == health["sync"]["newest_seq"];
      },
      120s))
      << health.dump() << "\n"
      << edge_->process.describe();
  newest = health["sync"]["newest_seq"].get<std::int64_t>();
  auto status = http_request("127.0.0.1", cloud_port_, "GET",
                             std::string("/v1/stores/") + kStoreId + "/sync-status", "", bearer());
  ASSERT_TRUE(status && status->status == 200);
  const json s = json::parse(status->body);
  EXPECT_EQ(s["last_applied_seq"], newest);
  // Applied exactly once: as many applications as changes, however often they were sent.
  EXPECT_EQ(s["applied_changes"], newest) << s.dump();
  EXPECT_GE(newest, kTargetChanges);
  EXPECT_GE(edge_kills, kKillsEach);
  EXPECT_GE(cloud_kills, kKillsEach);
  // The replica equals the store's stock.
  auto item = edge_call("GET", "/api/stock/MILK", "", "");
  ASSERT_TRUE(item && item->status == 200);
  const std::int64_t on_hand = json::parse(item->body)["on_hand"];
  auto headers = bearer();
  auto cloud_stock =
      http_request("127.0.0.1", cloud_port_, "GET",
                   "/v1/stores/" + std::string(kStoreId) + "/replica?sku=MILK", "", headers);
  ASSERT_TRUE(cloud_stock && cloud_stock->status == 200) << (cloud_stock ? cloud_stock->body : "");
  EXPECT_EQ(json::parse(cloud_stock->body)["items"][0]["on_hand"], on_hand);
  RecordProperty("changes", static_cast<int>(newest));
  RecordProperty("scans", scans);
}

INSTANTIATE_TEST_SUITE_P(Backends, SyncChaosTest, ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace shopeasy::testing
