// Product search with the real shopeasy-cloud binary: a store's catalog registered over
// HTTP, its stock sent as a store's sync would, then searched as a customer. Covers
// Hinglish, typos and prefixes, the /api/inventory shape, stock and catalog changes
// visible within a second, hostile and malformed queries, the admin synonym routes, and
// the PostgreSQL backend.
#include <gtest/gtest.h>

#include <chrono>

#include <nlohmann/json.hpp>

#include "common/geohash/geohash.hpp"
#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kAlice = "alice-token";
constexpr const char* kSecret = "store-secret-0123456789";
constexpr double kLat = 12.975;
constexpr double kLon = 77.645;

std::string percent_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

class SearchApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("search");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    cell_ = *geohash::encode({kLat, kLon}, 7);
  }

  void start_cloud(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "--http.port=0", "--state_dir=" + dir_->file("cloud").string(),
        "--auth.tokens=" + tokens_json({{"alice", "customer", kAlice}})};
    args.insert(args.end(), extra.begin(), extra.end());
    auto cloud = start_daemon("shopeasy-cloud", args);
    ASSERT_TRUE(cloud.ok()) << cloud.status().to_string();
    cloud_.emplace(std::move(*cloud));
  }

  HttpReply call(const std::string& method, const std::string& path, const std::string& body = "",
                 const std::string& token = kAdminToken) {
    auto headers = bearer(token);
    if (!body.empty()) headers["Content-Type"] = "application/json";
    return http_request("127.0.0.1", cloud_->http_port, method, path, body, headers, 30s)
        .value_or(HttpReply{});
  }

  void add_product(const std::string& sku, const std::string& name, const std::string& category) {
    ASSERT_EQ(call("PUT", "/v1/catalog/" + sku,
                   json{{"name", name}, {"category", category}, {"price_cents", 4500}}.dump())
                  .status,
              200);
  }

  void sync_stock(const std::string& sku, std::int64_t on_hand) {
    json batch = {{"store_id", "s1"},
                  {"first_seq", seq_ + 1},
                  {"changes",
                   {{{"seq", ++seq_},
                     {"kind", "stock.changed"},
                     {"body", {{"sku", sku}, {"sku_on_hand", on_hand}, {"sku_reserved", 0}}}}}},
                  {"downstream_cursor", 0},
                  {"sent_at_ms", 1'800'000'000'000}};
    auto headers = bearer(std::string("s1:") + kSecret);
    headers["Content-Type"] = "application/json";
    auto reply = http_request("127.0.0.1", cloud_->http_port, "POST", "/v1/stores/s1/sync",
                              batch.dump(), headers, 30s);
    ASSERT_TRUE(reply && reply->status == 200) << (reply ? reply->body : "no answer");
  }

  // A store with a small grocery catalog, half of it in stock.
  void setup_store() {
    ASSERT_EQ(call("PUT", "/v1/stores/s1",
                   json{{"name", "Indiranagar"},
                        {"lat", kLat},
                        {"lon", kLon},
                        {"service_radius_m", 3000},
                        {"secret", kSecret}}
                       .dump())
                  .status,
              200);
    add_product("MILK-1L", "Amul Taaza Toned Milk 1 L", "dairy");
    add_product("MILK-500", "Nandini Toned Milk 500 ml", "dairy");
    add_product("BUTTER-500", "Amul Butter 500 g", "dairy");
    add_product("BUTTER-100", "Amul Butter 100 g", "dairy");
    add_product("BRINJAL", "Brinjal Bharta 1 kg", "vegetables");
    add_product("ONION", "Onion 1 kg", "vegetables");
    add_product("ATTA", "Aashirvaad Atta 5 kg", "staples");
    sync_stock("MILK-500", 12);
    sync_stock("BUTTER-100", 3);
    sync_stock("ONION", 40);
  }

  HttpReply search(const std::string& q, const std::string& extra = "",
                   const std::string& route = "/api/search") {
    return call("GET", route + "?q=" + percent_encode(q) + "&geo_hash=" + cell_ + extra, "",
                kAlice);
  }

  std::vector<std::string> skus(const std::string& q, const std::string& route = "/api/search") {
    HttpReply r = search(q, "", route);
    EXPECT_EQ(r.status, 200) << q << ": " << r.body;
    std::vector<std::string> out;
    if (r.status != 200) return out;
    const json page = json::parse(r.body);
    for (const auto& item : page["items"]) out.push_back(item["sku"].get<std::string>());
    return out;
  }

  void expect_400(const HttpReply& r, const std::string& field, const std::string& what) {
    EXPECT_EQ(r.status, 400) << what << ": " << r.body;
    if (r.status != 400) return;
    const json body = json::parse(r.body);
    EXPECT_EQ(body["error"]["code"], "invalid_argument") << what;
    EXPECT_EQ(body["error"]["field"], field) << what;
    EXPECT_FALSE(body["error"]["message"].get<std::string>().empty()) << what;
  }

  std::optional<TempDir> dir_;
  std::optional<RunningDaemon> cloud_;
  std::string cell_;
  std::int64_t seq_ = 0;
};

TEST_F(SearchApiTest, CustomersFindProductsTheWayTheyTypeThem) {
  start_cloud();
  setup_store();
  EXPECT_EQ(skus("doodh"), (std::vector<std::string>{"MILK-500", "MILK-1L"}));  // in stock first
  EXPECT_EQ(skus("amul buter"), (std::vector<std::string>{"BUTTER-100", "BUTTER-500"}));
  EXPECT_EQ(skus("brin"), std::vector<std::string>{"BRINJAL"});
  EXPECT_EQ(skus("pyaaz"), std::vector<std::string>{"ONION"});
  EXPECT_EQ(skus("amul butter 0.5kg"), std::vector<std::string>{"BUTTER-500"});
  EXPECT_EQ(skus("milk 1 litre"), std::vector<std::string>{"MILK-1L"});
  EXPECT_EQ(skus("pya", "/api/suggest"), std::vector<std::string>{"ONION"});
  EXPECT_EQ(skus("amu", "/api/suggest").size(), 3u);

  // The shape of /api/inventory.
  HttpReply r = search("milk", "&limit=1");
  ASSERT_EQ(r.status, 200) << r.body;
  const json page = json::parse(r.body);
  EXPECT_EQ(page["store"]["id"], "s1");
  EXPECT_EQ(page["geo_hash"], cell_);
  ASSERT_EQ(page["items"].size(), 1u);
  const json& item = page["items"][0];
  EXPECT_EQ(item["sku"], "MILK-500");
  EXPECT_EQ(item["name"], "Nandini Toned Milk 500 ml");
  EXPECT_EQ(item["price_cents"], 4500);
  EXPECT_EQ(item["available"], 12);
  EXPECT_EQ(item["in_stock"], true);
  ASSERT_TRUE(page["next_cursor"].is_string());
  HttpReply next = search("milk", "&limit=1&cursor=" + page["next_cursor"].get<std::string>());
  ASSERT_EQ(next.status, 200) << next.body;
  const json second = json::parse(next.body);
  EXPECT_EQ(second["items"][0]["sku"], "MILK-1L");
  EXPECT_EQ(second["items"][0]["in_stock"], false);
  EXPECT_TRUE(second["next_cursor"].is_null());

  EXPECT_EQ(skus("butter", "/api/search").size(), 2u);
  HttpReply filtered = search("amul", "&category=vegetables");
  ASSERT_EQ(filtered.status, 200);
  EXPECT_TRUE(json::parse(filtered.body)["items"].empty());
}

TEST_F(SearchApiTest, StockAndCatalogChangesShowWithinASecond) {
  start_cloud();
  setup_store();
  ASSERT_EQ(skus("amul butter"), (std::vector<std::string>{"BUTTER-100", "BUTTER-500"}));

  sync_stock("BUTTER-100", 0);
  sync_stock("BUTTER-500", 7);
  auto changed = std::chrono::steady_clock::now();
  EXPECT_TRUE(wait_for(
      [&] {
        return skus("amul butter") == std::vector<std::string>{"BUTTER-500", "BUTTER-100"};
      },
      1s));
  EXPECT_LT(std::chrono::steady_clock::now() - changed, 1s);

  add_product("KETCHUP", "Kissan Fresh Tomato Ketchup 950 g", "sauces");
  changed = std::chrono::steady_clock::now();
  EXPECT_TRUE(
      wait_for([&] { return skus("kisan ketchup") == std::vector<std::string>{"KETCHUP"}; }, 1s));
  EXPECT_LT(std::chrono::steady_clock::now() - changed, 1s);

  // Deactivated: gone from search.
  ASSERT_EQ(call("PUT", "/v1/catalog/KETCHUP",
                 json{{"name", "Kissan Fresh Tomato Ketchup 950 g"},
                      {"price_cents", 4500},
                      {"active", false}}
                     .dump())
                .status,
            200);
  EXPECT_TRUE(wait_for([&] { return skus("ketchup").empty(); }, 1s));
}

TEST_F(SearchApiTest, BadQueriesAreSearchedAsTextOrRefusedByName) {
  start_cloud();
  setup_store();
  // Refused, naming the parameter.
  expect_400(call("GET", "/api/search?geo_hash=" + cell_, "", kAlice), "q", "no q");
  expect_400(search(""), "q", "empty q");
  expect_400(search("   "), "q", "blank q");
  expect_400(search(std::string(1024, 'a')), "q", "1 KB q");
  // 10 KB is past the HTTP layer's bound on the request target (8 KiB): refused there,
  // with the reason, before any handler runs.
  HttpReply huge = search(std::string(10 * 1024, 'a'));
  EXPECT_EQ(huge.status, 414) << huge.body;
  EXPECT_EQ(json::parse(huge.body)["error"]["code"], "payload_too_large") << huge.body;
  EXPECT_EQ(json::parse(huge.body)["error"]["field"], "uri") << huge.body;
  expect_400(search("milk\x01"), "q", "control character");
  expect_400(search("milk\n"), "q", "newline");
  expect_400(search("\"*"), "q", "quote star");
  expect_400(search("milk", "&cursor=xyz"), "cursor", "bad cursor");
  expect_400(search("milk", "&limit=0"), "limit", "zero limit");
  expect_400(search("milk", "&limit=abc"), "limit", "bad limit");
  expect_400(call("GET", "/api/search?q=milk", "", kAlice), "geo_hash", "no geo_hash");
  expect_400(call("GET", "/api/search?q=milk&geo_hash=!!", "", kAlice), "geo_hash", "bad hash");
  expect_400(search("doo", "&limit=50", "/api/suggest"), "limit", "suggest limit");

  // Searched as text: operators of other search engines and SQL are just characters.
  EXPECT_EQ(skus("\"milk"), (std::vector<std::string>{"MILK-500", "MILK-1L"}));
  EXPECT_EQ(skus("milk\""), (std::vector<std::string>{"MILK-500", "MILK-1L"}));
  EXPECT_TRUE(skus("NEAR(milk").empty());
  EXPECT_TRUE(skus("milk OR butter").empty());
  EXPECT_TRUE(skus("'; DROP TABLE catalog; --").empty());
  EXPECT_EQ(skus("milk%' OR '1'='1").size(), 0u);
  EXPECT_EQ(skus("amul*").size(), 3u);
  EXPECT_EQ(skus("दूध").size(), 0u);
  // Nothing was dropped: the catalog is intact.
  EXPECT_EQ(skus("milk").size(), 2u);

  // Customers only.
  EXPECT_EQ(call("GET", "/api/search?q=milk&geo_hash=" + cell_, "", "wrong").status, 401);
  // An area no store serves.
  HttpReply far = call("GET", "/api/search?q=milk&geo_hash=u4pruyd", "", kAlice);
  EXPECT_EQ(far.status, 404) << far.body;
  // The query is checked first, wherever the customer is.
  expect_400(call("GET", "/api/search?q=&geo_hash=u4pruyd", "", kAlice), "q", "empty q, far");
}

TEST_F(SearchApiTest, AdminsManageSynonyms) {
  start_cloud();
  setup_store();
  EXPECT_TRUE(skus("beurre").empty());
  EXPECT_EQ(call("GET", "/v1/search/synonyms", "", kAlice).status, 403);
  EXPECT_EQ(
      call("PUT", "/v1/search/synonyms", R"({"groups":[["beurre","butter"]]})", kAlice).status,
      403);
  HttpReply put = call("PUT", "/v1/search/synonyms", R"({"groups":[["Beurre","butter"]]})");
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(json::parse(put.body), json::parse(R"({"groups":[["beurre","butter"]]})"));
  EXPECT_EQ(skus("beurre").size(), 2u);
  HttpReply got = call("GET", "/v1/search/synonyms");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(json::parse(got.body), json::parse(R"({"groups":[["beurre","butter"]]})"));

  expect_400(call("PUT", "/v1/search/synonyms", R"({"groups":[["solo"]]})"), "groups[0]",
             "one member");
  expect_400(call("PUT", "/v1/search/synonyms", R"({"groups":"x"})"), "groups", "not an array");
  EXPECT_EQ(call("PUT", "/v1/search/synonyms", "not json").status, 400);

  // Kept in the database: a restarted cloud still has them.
  cloud_.reset();
  start_cloud();
  sync_stock("ONION", 40);  // back online
  EXPECT_EQ(skus("beurre").size(), 2u);
}

// Two instances on one PostgreSQL: a catalog write or a synonym change taken by one is
// searchable on the other within about a second (its refresher polls the shared marker).
TEST_F(SearchApiTest, TwoInstancesOnPostgresSeeEachOthersWrites) {
  auto pg = PostgresServer::start({.settings = {"fsync=off"}});
  ASSERT_TRUE(pg.ok()) << pg.status().to_string();
  ASSERT_TRUE(pg->create_database("search").is_ok());
  const std::vector<std::string> backend = {"--storage.backend=postgres",
                                            "--storage.postgres_dsn=" + pg->dsn("search")};
  start_cloud(backend);
  setup_store();
  EXPECT_EQ(skus("doodh"), (std::vector<std::string>{"MILK-500", "MILK-1L"}));

  std::vector<std::string> args = {"--http.port=0", "--state_dir=" + dir_->file("second").string(),
                                   "--auth.tokens=" + tokens_json({{"alice", "customer", kAlice}})};
  args.insert(args.end(), backend.begin(), backend.end());
  auto second = start_daemon("shopeasy-cloud", args);
  ASSERT_TRUE(second.ok()) << second.status().to_string();
  auto skus_on_second = [&](const std::string& q) {
    auto r = http_request("127.0.0.1", second->http_port, "GET",
                          "/api/search?q=" + percent_encode(q) + "&geo_hash=" + cell_, "",
                          bearer(kAlice), 30s);
    std::vector<std::string> out;
    if (!r || r->status != 200) return out;
    const json page = json::parse(r->body);
    for (const auto& item : page["items"]) out.push_back(item["sku"].get<std::string>());
    return out;
  };
  // The store's sync went to the first instance; the second reads its stock from the
  // shared database but learns it is online only from its own routing refresh.
  ASSERT_TRUE(wait_for([&] { return skus_on_second("doodh").size() == 2; }, 10s));

  add_product("KETCHUP", "Kissan Fresh Tomato Ketchup 950 g", "sauces");
  auto written = std::chrono::steady_clock::now();
  EXPECT_TRUE(wait_for([&] { return skus_on_second("kisan ketchup").size() == 1; }, 3s));
  const auto took = std::chrono::steady_clock::now() - written;
  EXPECT_LT(took, 1500ms) << "a poll every 500 ms plus one rebuild";

  ASSERT_EQ(call("PUT", "/v1/search/synonyms", R"({"groups":[["beurre","butter"]]})").status, 200);
  EXPECT_TRUE(wait_for([&] { return skus_on_second("beurre").size() == 2; }, 3s));
  cloud_.reset();
}

}  // namespace
}  // namespace shopeasy::testing
