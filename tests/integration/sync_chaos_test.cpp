// Chaos for sync and orders: handheld scans, catalog imports and customer orders keep
// arriving while the edge and the cloud are each SIGKILLed at random moments, ten times
// or more, with requests in flight, and restarted. The edge keeps its default durable
// ledger. Clients behave as real ones do: a scan is resent with the same scan_id and an
// order with the same Idempotency-Key until it gets an answer.
//
// At the end, for every SKU, the store's on-hand is what the acknowledged scans add up
// to and the cloud's replica equals it; the cloud applied every change exactly once, in
// order; every order a customer was told about exists once on the cloud and once at the
// store, ends accepted by the store (or cancelled with a reason), and cancelling them
// all leaves no reservation behind. Runs against the embedded SQLite cloud and against a
// cloud on a throwaway PostgreSQL server.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kStoreId = "chaos-store";
constexpr const char* kSecret = "chaos-secret-0123456789";
constexpr const char* kCustomerToken = "chaos-customer-token";
constexpr double kLat = 12.9719;
constexpr double kLon = 77.6412;
constexpr int kSkus = 10;
constexpr std::int64_t kOpeningStock = 100;
#if defined(__SANITIZE_ADDRESS__)
// Under the sanitizers every daemon runs several times slower: as many kills, a
// smaller volume. (The sanitizer pass of scripts/test.sh leaves this test out: even so,
// its accepted orders did not all settle within the 60 s each is given.)
constexpr std::int64_t kTargetChanges = 5000;
#else
constexpr std::int64_t kTargetChanges = 30000;
#endif
constexpr int kKillsEach = 10;

std::string sku_of(int i) { return "CH-" + std::to_string(i); }

// EAN-13 for the i-th SKU: a fixed 12-digit stem and its check digit.
std::string ean_of(int i) {
  std::string digits = "400638133" + std::to_string(100 + i);
  int sum = 0;
  for (std::size_t k = 0; k < digits.size(); ++k) {
    sum += (digits[k] - '0') * (k % 2 == 0 ? 1 : 3);
  }
  return digits + std::to_string((10 - sum % 10) % 10);
}

// A catalog import of `n` products: n changes in one request.
std::string catalog_csv(int round, int n) {
  std::string csv = "sku,name,home_bin\n";
  for (int i = 0; i < n; ++i) {
    csv += "R" + std::to_string(round) + "-" + std::to_string(i) + ",Item,A-01\n";
  }
  return csv;
}

class SyncChaosTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("sync-chaos");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    if (GetParam() == "postgres") {
      auto pg = PostgresServer::start({.settings = {"fsync=off"}});
      ASSERT_TRUE(pg.ok()) << pg.status().to_string();
      pg_.emplace(std::move(*pg));
      ASSERT_TRUE(pg_->create_database("cloud").is_ok());
    }
    // Fixed ports for the whole test, so clients find a restarted daemon where it was.
    cloud_port_ = free_tcp_port();
    edge_port_ = free_tcp_port();
    start_cloud();
    ASSERT_EQ(cloud_call("PUT", std::string("/v1/stores/") + kStoreId,
                         json{{"name", "Chaos"},
                              {"lat", kLat},
                              {"lon", kLon},
                              {"service_radius_m", 3000},
                              {"secret", kSecret}})
                  .status,
              200);
    for (int i = 0; i < kSkus; ++i) {
      const HttpReply put =
          cloud_call("PUT", "/v1/catalog/" + sku_of(i),
                     json{{"name", "Item " + std::to_string(i)},
                          {"price_cents", 100 + i},
                          {"category", "chaos"},
                          {"barcodes", json::array({"0" + ean_of(i)})}});  // GTIN-14
      ASSERT_EQ(put.status, 200) << put.body;
    }
  }

  void start_cloud() {
    std::vector<std::string> args = {
        "--http.port=" + std::to_string(cloud_port_),
        "--state_dir=" + dir_->file("cloud").string(),
        "--auth.tokens=" + tokens_json({{"app", "customer", kCustomerToken}}),
        "--payments.provider=sandbox",
        "--http.rate_limit_per_s=0",
        "--orders.max_unpaid_per_customer=1000",
        "--stores.online_window_s=60"};
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
        {"--http.port=" + std::to_string(edge_port_), "--state_dir=" + dir_->file("edge").string(),
         "--mqtt.enabled=false", "--store.id=" + std::string(kStoreId),
         "--store.lat=" + std::to_string(kLat), "--store.lon=" + std::to_string(kLon),
         "--auth.tokens=" + admin_tokens_json(), "--http.rate_limit_per_s=0", "--sync.enabled=true",
         "--sync.url=http://127.0.0.1:" + std::to_string(cloud_port_), "--sync.heartbeat_ms=200"},
        {{"SHOPEASY_EDGE_SYNC_STORE_SECRET", kSecret}});
    ASSERT_TRUE(edge.ok()) << edge.status().to_string();
    edge_.emplace(std::move(*edge));
  }

  static HttpReply call(int port, const std::string& method, const std::string& path,
                        const std::string& body, const std::string& type,
                        const std::string& token = kAdminToken,
                        std::map<std::string, std::string> extra = {}) {
    auto headers = bearer(token);
    if (!type.empty()) headers["Content-Type"] = type;
    for (auto& [k, v] : extra) headers[k] = v;
    return http_request("127.0.0.1", port, method, path, body, headers, 10s).value_or(HttpReply{});
  }
  HttpReply edge_call(const std::string& method, const std::string& path,
                      const json& body = nullptr) {
    return call(edge_port_, method, path, body.is_null() ? "" : body.dump(),
                body.is_null() ? "" : "application/json");
  }
  HttpReply cloud_call(const std::string& method, const std::string& path,
                       const json& body = nullptr, const std::string& token = kAdminToken,
                       std::map<std::string, std::string> extra = {}) {
    return call(cloud_port_, method, path, body.is_null() ? "" : body.dump(),
                body.is_null() ? "" : "application/json", token, std::move(extra));
  }
  std::optional<json> edge_health() {
    auto r = http_request("127.0.0.1", edge_port_, "GET", "/health", "", bearer());
    if (!r || r->status != 200) return std::nullopt;
    return json::parse(r->body);
  }
  std::int64_t edge_stock(const std::string& sku, const char* field) {
    HttpReply r = edge_call("GET", "/api/stock/" + sku);
    return r.status == 200 ? json::parse(r.body)[field].get<std::int64_t>() : -1;
  }
  std::int64_t replica_on_hand(const std::string& sku) {
    HttpReply r = cloud_call("GET", "/v1/stores/" + std::string(kStoreId) + "/replica?sku=" + sku);
    if (r.status != 200) return -1;
    const json items = json::parse(r.body)["items"];
    return items.empty() ? -2 : items[0]["on_hand"].get<std::int64_t>();
  }
  std::string cloud_order_status(const std::string& id) {
    HttpReply r = cloud_call("GET", "/api/orders/" + id, nullptr, kCustomerToken);
    return r.status == 200 ? json::parse(r.body).value("status", "") : "";
  }
  // One integer from the cloud's database through its own client; -1 when that fails.
  std::int64_t cloud_db_int(const std::string& sql) {
    std::vector<std::string> argv =
        pg_ ? std::vector<std::string>{"psql", "-X", "-A", "-t", "-d", pg_->dsn("cloud"), "-c", sql}
            : std::vector<std::string>{"sqlite3", "-readonly",
                                       dir_->file("cloud/cloud.db").string(), sql};
    auto child = ChildProcess::spawn({.argv = argv});
    if (!child.ok() || child->wait_exit(30s) != 0) return -1;
    try {
      return std::stoll(child->stdout_text());
    } catch (const std::exception&) {
      return -1;
    }
  }

  // What both sides hold for one SKU, printed when they disagree: the replica row (its
  // version and the seq that last wrote it), the store's totals, and the store's last
  // stock changes for the SKU with the seq the cloud was sent.
  std::string stock_trail(const std::string& sku) {
    std::string out =
        "replica: " +
        cloud_call("GET", "/v1/stores/" + std::string(kStoreId) + "/replica?sku=" + sku).body +
        "\nstore: " + edge_call("GET", "/api/stock/" + sku).body;
    auto child =
        ChildProcess::spawn({.argv = {"sqlite3", "-readonly", dir_->file("edge/edge.db").string(),
                                      "SELECT seq, type, body FROM events WHERE body LIKE '%\"" +
                                          sku + "\"%' ORDER BY seq DESC LIMIT 6"}});
    if (child.ok() && child->wait_exit(30s) == 0) out += "\nstore outbox:\n" + child->stdout_text();
    // The cloud's view of the store's history: position, counters, what it set aside.
    const std::string store_path = "/v1/stores/" + std::string(kStoreId);
    out += "\ncloud sync-status: " + cloud_call("GET", store_path + "/sync-status").body;
    out += "\ncloud quarantine: " + cloud_call("GET", store_path + "/quarantine?limit=20").body;
    return out;
  }

  std::optional<TempDir> dir_;
  std::optional<PostgresServer> pg_;
  int cloud_port_ = 0;
  int edge_port_ = 0;
  std::optional<RunningDaemon> cloud_;
  std::optional<RunningDaemon> edge_;
};

// What the clients were told, shared between their threads and the checks.
struct Acknowledged {
  std::mutex mutex;                              // guards everything below
  std::map<std::string, std::int64_t> received;  // sku -> units in acknowledged scans
  std::set<std::string> orders;                  // order ids answered 201
  int scans = 0;
  int imports = 0;
  int unanswered_retries = 0;  // sends that got no answer and were repeated
};

TEST_P(SyncChaosTest, EveryAcknowledgedScanAndOrderSurvivesKillsInFlight) {
  start_edge();
  ASSERT_EQ(edge_call("POST", "/api/bins", json::parse(R"({"bins":[{"code":"A-01"}]})")).status,
            200);
  // The catalog comes down from the cloud; then every SKU gets its opening stock.
  ASSERT_TRUE(wait_for([&] { return edge_stock(sku_of(kSkus - 1), "on_hand") >= 0; }, 30s));
  for (int i = 0; i < kSkus; ++i) {
    ASSERT_EQ(edge_call("POST", "/api/scans",
                        {{"scan_id", "open-" + std::to_string(i)},
                         {"scanner_id", "h0"},
                         {"code", ean_of(i)},
                         {"action", "receive"},
                         {"qty", kOpeningStock},
                         {"bin", "A-01"}})
                  .status,
              200);
  }
  // Customers see the stock before the first order.
  ASSERT_TRUE(wait_for([&] { return replica_on_hand(sku_of(kSkus - 1)) == kOpeningStock; }, 30s));

  Acknowledged acked;
  std::atomic<bool> running{true};
  const unsigned seed = GetParam() == "postgres" ? 11 : 7;

  // A handheld: receives of 1-3 units and, every few scans, a bulk catalog import.
  // Each scan is resent with its scan_id until the edge answers.
  std::thread handheld([&] {
    std::mt19937 rng(seed);
    int n = 0;
    while (running) {
      const int sku = static_cast<int>(rng() % kSkus);
      const std::int64_t qty = 1 + static_cast<std::int64_t>(rng() % 3);
      const json scan = {{"scan_id", "c-" + std::to_string(n++)},
                         {"scanner_id", "h1"},
                         {"code", ean_of(sku)},
                         {"action", "receive"},
                         {"qty", qty},
                         {"bin", "A-01"}};
      const auto give_up = std::chrono::steady_clock::now() + 60s;
      for (;;) {
        HttpReply r = edge_call("POST", "/api/scans", scan);
        if (r.status == 200) break;
        if (std::chrono::steady_clock::now() > give_up) {
          ADD_FAILURE() << "the edge did not take a scan for 60 s: " << r.status << " " << r.body;
          running = false;
          return;
        }
        {
          std::lock_guard lock(acked.mutex);
          ++acked.unanswered_retries;
        }
        std::this_thread::sleep_for(20ms);  // a handheld's retry pace, not a wait
        if (r.status != 0 && r.status != 503) {
          ADD_FAILURE() << "scan refused: " << r.status << " " << r.body;
          running = false;
          return;
        }
      }
      std::lock_guard lock(acked.mutex);
      acked.received[sku_of(sku)] += qty;
      ++acked.scans;
      if (n % 25 == 0) {
        const int rows = 500 + static_cast<int>(rng() % 2500);
        // An import may be cut by a kill: imports are idempotent upserts, and what
        // reached the ledger is synced like any change (counted through newest_seq).
        if (call(edge_port_, "POST", "/api/catalog", catalog_csv(n, rows), "text/csv").status ==
            200) {
          ++acked.imports;
        }
      }
    }
  });

  // A customer app: orders one unit of a random SKU and pays, each step retried with
  // the same Idempotency-Key until answered.
  std::thread customer([&] {
    std::mt19937 rng(seed + 1);
    int n = 0;
    while (running) {
      const json order = {
          {"lines", {{{"sku", sku_of(static_cast<int>(rng() % kSkus))}, {"qty", 1}}}},
          {"delivery", {{"lat", kLat + 0.004}, {"lon", kLon}}}};
      const std::string key = "chaos-" + std::to_string(n++);
      // Retried until answered even after the test has stopped producing: a request the
      // cloud took but did not answer may have placed the order.
      HttpReply placed;
      const auto give_up = std::chrono::steady_clock::now() + 60s;
      for (;;) {
        placed =
            cloud_call("POST", "/api/orders", order, kCustomerToken, {{"Idempotency-Key", key}});
        if ((placed.status != 0 && placed.status != 503) ||
            std::chrono::steady_clock::now() > give_up) {
          break;
        }
        std::this_thread::sleep_for(20ms);  // the app's retry pace, not a wait
      }
      if (placed.status != 201) {
        if (placed.status != 409) {
          ADD_FAILURE() << "order " << key << ": " << placed.status << " " << placed.body;
          running = false;
        }
        continue;  // 409: no store could hold it at that moment; nothing held
      }
      const json body = json::parse(placed.body);
      {
        std::lock_guard lock(acked.mutex);
        acked.orders.insert(body["order_id"].get<std::string>());
      }
      const std::string confirm = body["payment"]["confirm_url"];
      const std::string path = confirm.substr(confirm.find('/', confirm.find("//") + 2));
      const auto pay_by = std::chrono::steady_clock::now() + 60s;
      for (;;) {
        auto paid = http_request("127.0.0.1", cloud_port_, "POST", path, R"({"outcome":"succeed"})",
                                 {{"Content-Type", "application/json"}}, 10s);
        if (paid && paid->status / 100 == 2) break;
        std::this_thread::sleep_for(20ms);  // the app's retry pace, not a wait
        if (std::chrono::steady_clock::now() > pay_by) {
          ADD_FAILURE() << "could not pay " << body["order_id"] << ": "
                        << (paid ? paid->body : "no answer");
          running = false;
          break;
        }
      }
    }
  });

  // Kills at random moments while both clients are mid-request.
  std::mt19937 rng(seed + 2);
  int edge_kills = 0;
  int cloud_kills = 0;
  std::int64_t newest = 0;
  while (running &&
         (newest < kTargetChanges || edge_kills < kKillsEach || cloud_kills < kKillsEach)) {
    // The moment of the kill is what is random here; nothing is waited for.
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 600));
    if (edge_kills <= cloud_kills) {
      if (auto h = edge_health()) newest = (*h)["sync"].value("newest_seq", newest);
      edge_->process.kill9();
      ++edge_kills;
      start_edge();
    } else {
      cloud_->process.kill9();
      ++cloud_kills;
      start_cloud();
    }
    if (edge_kills + cloud_kills >= 400) {
      ADD_FAILURE() << "too many rounds: " << newest << " changes";
      break;
    }
  }
  running = false;
  handheld.join();
  customer.join();
  ASSERT_FALSE(HasFailure());

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
  const json s =
      json::parse(cloud_call("GET", std::string("/v1/stores/") + kStoreId + "/sync-status").body);
  EXPECT_EQ(s["last_applied_seq"], newest);
  // Applied exactly once: as many applications as changes, however often they were sent.
  EXPECT_EQ(s["applied_changes"], newest) << s.dump();
  EXPECT_GE(newest, kTargetChanges);
  EXPECT_GE(edge_kills, kKillsEach);
  EXPECT_GE(cloud_kills, kKillsEach);

  // Every SKU: the store's on-hand is the opening stock plus every acknowledged scan
  // (no scan lost, none applied twice), and the cloud's replica equals it.
  for (int i = 0; i < kSkus; ++i) {
    const std::string sku = sku_of(i);
    const std::int64_t expected = kOpeningStock + acked.received[sku];
    EXPECT_EQ(edge_stock(sku, "on_hand"), expected) << sku;
    EXPECT_EQ(replica_on_hand(sku), expected) << sku << "\n" << stock_trail(sku);
  }

  // Orders: each one a customer was told about exists once on the cloud and reaches
  // the store, which accepts it (or it ends cancelled with a reason); none doubled.
  ASSERT_GT(acked.orders.size(), 0u);
  EXPECT_EQ(cloud_db_int("SELECT count(*) FROM orders"),
            static_cast<std::int64_t>(acked.orders.size()));
  for (const std::string& id : acked.orders) {
    std::string status;
    EXPECT_TRUE(wait_for(
        [&] {
          status = cloud_order_status(id);
          return status == "accepted" || status == "cancelled" || status == "failed";
        },
        60s))
        << id << " is " << status;
    if (status == "accepted") {
      EXPECT_EQ(edge_call("GET", "/api/orders/" + id).status, 200) << id;
    }
  }
  // Reservations at the store are exactly the accepted orders' units.
  std::map<std::string, std::int64_t> accepted_units;
  for (const std::string& id : acked.orders) {
    const json o =
        json::parse(cloud_call("GET", "/api/orders/" + id, nullptr, kCustomerToken).body);
    if (o["status"] == "accepted") ++accepted_units[o["lines"][0]["sku"].get<std::string>()];
  }
  for (int i = 0; i < kSkus; ++i) {
    EXPECT_EQ(edge_stock(sku_of(i), "reserved"), accepted_units[sku_of(i)]) << sku_of(i);
  }
  // The customers cancel: every order ends cancelled on both sides, nothing reserved.
  for (const std::string& id : acked.orders) {
    if (cloud_order_status(id) != "accepted") continue;
    EXPECT_EQ(cloud_call("POST", "/api/orders/" + id + "/cancel", nullptr, kCustomerToken).status,
              200)
        << id;
  }
  for (int i = 0; i < kSkus; ++i) {
    EXPECT_TRUE(wait_for([&] { return edge_stock(sku_of(i), "reserved") == 0; }, 60s)) << sku_of(i);
  }
  RecordProperty("changes", static_cast<int>(newest));
  RecordProperty("scans", acked.scans);
  RecordProperty("orders", static_cast<int>(acked.orders.size()));
  RecordProperty("retries", acked.unanswered_retries);
}

INSTANTIATE_TEST_SUITE_P(Backends, SyncChaosTest, ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace shopeasy::testing
