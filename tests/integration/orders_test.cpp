// Cloud orders with the real shopeasy-cloud binary: concurrent orders never oversell
// (SQLite, and two cloud instances on one PostgreSQL), idempotent retries, bad input
// reserving nothing, payment through the sandbox gateway and its signed webhook, store
// events arriving through sync (accept, refuse, deliver) and the accept deadline. Stores
// are played by sync requests, so every step is deterministic.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <latch>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/geohash/geohash.hpp"
#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kAlice = "alice-token";
constexpr const char* kBob = "bob-token";
constexpr const char* kSecret = "store-secret-0123456789";
constexpr double kCustomerLat = 12.975;
constexpr double kCustomerLon = 77.645;

std::string cloud_tokens() {
  return tokens_json({{"alice", "customer", kAlice}, {"bob", "customer", kBob}});
}

json order_body(const std::string& sku, std::int64_t qty) {
  return {{"lines", {{{"sku", sku}, {"qty", qty}}}},
          {"delivery", {{"lat", kCustomerLat}, {"lon", kCustomerLon}}}};
}

class OrdersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("orders");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
  }

  void start_clouds(int count, std::vector<std::string> extra = {}) {
    for (int i = 0; i < count; ++i) start_cloud(extra);
  }

  // One more instance (on the one PostgreSQL server of the test when use_postgres_),
  // with env_ in its environment.
  void start_cloud(std::vector<std::string> extra = {}) {
    if (use_postgres_ && !pg_) {
      auto pg = PostgresServer::start({.settings = {"fsync=off"}});
      ASSERT_TRUE(pg.ok()) << pg.status().to_string();
      pg_.emplace(std::move(*pg));
      ASSERT_TRUE(pg_->create_database("orders").is_ok());
    }
    std::vector<std::string> args = {
        "--http.port=0",
        "--state_dir=" + dir_->file("cloud" + std::to_string(clouds_.size())).string(),
        "--auth.tokens=" + cloud_tokens(), "--payments.provider=sandbox",
        // One test customer places the race's 200 orders at once.
        "--orders.max_unpaid_per_customer=1000"};
    if (pg_) {
      args.push_back("--storage.backend=postgres");
      args.push_back("--storage.postgres_dsn=" + pg_->dsn("orders"));
    }
    args.insert(args.end(), extra.begin(), extra.end());
    auto cloud = start_daemon("shopeasy-cloud", args, env_);
    ASSERT_TRUE(cloud.ok()) << cloud.status().to_string();
    clouds_.push_back(std::move(*cloud));
  }

  // The value of a counter line ("name{labels} value") in the instance's /metrics.
  std::int64_t metric(std::size_t instance, const std::string& series) {
    const HttpReply r = call("GET", "/metrics", "", kAdminToken, {}, instance);
    const std::size_t at = r.body.find("\n" + series + " ");
    if (r.status != 200 || at == std::string::npos) {
      ADD_FAILURE() << series << " not in the metrics of instance " << instance;
      return -1;
    }
    return std::stoll(r.body.substr(at + series.size() + 2));
  }

  HttpReply call(const std::string& method, const std::string& path, const std::string& body = "",
                 const std::string& token = kAdminToken,
                 std::map<std::string, std::string> extra = {}, std::size_t instance = 0) {
    auto headers = bearer(token);
    if (!body.empty()) headers["Content-Type"] = "application/json";
    for (auto& [k, v] : extra) headers[k] = v;
    return http_request("127.0.0.1", clouds_[instance].http_port, method, path, body, headers, 30s)
        .value_or(HttpReply{});
  }

  HttpReply place(const json& body, const std::string& key, const std::string& token = kAlice,
                  std::size_t instance = 0) {
    std::map<std::string, std::string> extra;
    if (!key.empty()) extra["Idempotency-Key"] = key;
    return call("POST", "/api/orders", body.dump(), token, extra, instance);
  }

  void add_store(const std::string& id, double lat, double lon) {
    ASSERT_EQ(call("PUT", "/v1/stores/" + id,
                   json{{"name", "Store " + id},
                        {"lat", lat},
                        {"lon", lon},
                        {"service_radius_m", 3000},
                        {"secret", kSecret}}
                       .dump())
                  .status,
              200);
  }

  void add_product(const std::string& sku, std::int64_t price) {
    ASSERT_EQ(call("PUT", "/v1/catalog/" + sku,
                   json{{"name", "Product " + sku}, {"price_cents", price}}.dump())
                  .status,
              200);
  }

  // Sends changes as the store would; returns the sync reply.
  json sync(const std::string& store, std::vector<std::pair<std::string, json>> changes) {
    std::int64_t& seq = seqs_[store];
    json batch = {{"store_id", store},
                  {"first_seq", seq + 1},
                  {"changes", json::array()},
                  {"downstream_cursor", 0},
                  {"sent_at_ms", 1'800'000'000'000}};
    for (auto& [kind, body] : changes) {
      batch["changes"].push_back({{"seq", ++seq}, {"kind", kind}, {"body", body}});
    }
    auto headers = bearer(store + ":" + kSecret);
    headers["Content-Type"] = "application/json";
    auto reply = http_request("127.0.0.1", clouds_[0].http_port, "POST",
                              "/v1/stores/" + store + "/sync", batch.dump(), headers, 30s);
    EXPECT_TRUE(reply && reply->status == 200) << (reply ? reply->body : "no answer");
    return reply && reply->status == 200 ? json::parse(reply->body) : json();
  }

  void stock(const std::string& store, const std::string& sku, std::int64_t on_hand,
             std::int64_t reserved = 0) {
    sync(store,
         {{"stock.changed", {{"sku", sku}, {"sku_on_hand", on_hand}, {"sku_reserved", reserved}}}});
  }

  void order_status(const std::string& store, const std::string& order_id,
                    const std::string& status, const std::string& reason = "") {
    json body = {{"order_id", order_id}, {"status", status}, {"at_ms", 1'800'000'000'000}};
    if (!reason.empty()) body["reason"] = reason;
    sync(store, {{"order.status", body}});
  }

  // Free units of the SKU at the store nearest the customer, as customers see it.
  std::int64_t available(const std::string& sku) {
    auto cell = geohash::encode({kCustomerLat, kCustomerLon}, 7);
    auto r = call("GET", "/api/inventory?geo_hash=" + *cell + "&limit=1000", "", kAlice);
    if (r.status != 200) {
      ADD_FAILURE() << r.body;
      return -1;
    }
    const json page = json::parse(r.body);
    for (const auto& item : page["items"]) {
      if (item["sku"] == sku) return item["available"].get<std::int64_t>();
    }
    ADD_FAILURE() << r.body;
    return -2;
  }

  json get_order(const std::string& id, const std::string& token = kAlice) {
    auto r = call("GET", "/api/orders/" + id, "", token);
    return r.status == 200 ? json::parse(r.body) : json{{"http_status", r.status}};
  }

  // Pays through the sandbox's hosted page; the gateway's webhook routes the order.
  void pay(const json& placed) {
    const std::string intent = placed["payment"]["intent_id"];
    ASSERT_EQ(call("POST", "/sandbox/pay/" + intent, json{{"outcome", "succeed"}}.dump()).status,
              200);
    const std::string id = placed["order_id"];
    json order;
    ASSERT_TRUE(wait_for(
        [&] {
          order = get_order(id);
          return order.value("status", "") == "routed";
        },
        20s))
        << order.dump() << "\n"
        << clouds_[0].process.describe();
  }

  void race_for_last_units(int orders, std::int64_t units) {
    add_store("s1", 12.9719, 77.6412);
    add_product("MILK", 6500);
    stock("s1", "MILK", units);
    // Every instance learns of the new store by its next index refresh.
    auto cell = geohash::encode({kCustomerLat, kCustomerLon}, 7);
    for (std::size_t i = 0; i < clouds_.size(); ++i) {
      ASSERT_TRUE(wait_for(
          [&] {
            auto r = call("GET", "/api/stores?geo_hash=" + *cell, "", kAlice, {}, i);
            return r.status == 200 && r.body.find("\"online\":true") != std::string::npos;
          },
          10s));
    }
    std::atomic<int> created{0}, out_of_stock{0}, other{0};
    std::vector<std::thread> threads;
    std::mutex mutex;  // guards unexpected
    std::vector<std::string> unexpected;
    // Every request thread is started and waiting before the first one sends, so the
    // placements really overlap instead of trickling in as threads are created.
    std::latch start_together(orders + 1);
    for (int i = 0; i < orders; ++i) {
      threads.emplace_back([&, i] {
        start_together.arrive_and_wait();
        auto r = place(order_body("MILK", 1), "race-" + std::to_string(i), kAlice,
                       static_cast<std::size_t>(i) % clouds_.size());
        if (r.status == 201) {
          ++created;
        } else if (r.status == 409 && json::parse(r.body)["error"]["code"] == "out_of_stock") {
          ++out_of_stock;
        } else {
          ++other;
          std::lock_guard lock(mutex);
          unexpected.push_back(std::to_string(r.status) + " " + r.body);
        }
      });
    }
    start_together.arrive_and_wait();
    for (auto& t : threads) t.join();
    EXPECT_EQ(created.load(), units);
    EXPECT_EQ(out_of_stock.load(), orders - units);
    EXPECT_EQ(other.load(), 0) << (unexpected.empty() ? "" : unexpected.front());
    EXPECT_EQ(available("MILK"), 0);
    // What the database holds, read with the database's own client: exactly `units`
    // orders and `units` units held, and one idempotency record per request.
    EXPECT_EQ(query_int("SELECT count(*) FROM orders"), units);
    EXPECT_EQ(query_int("SELECT count(*) FROM orders WHERE status = 'pending_payment'"), units);
    EXPECT_EQ(query_int("SELECT sum(held) FROM replica WHERE sku = 'MILK'"), units);
    EXPECT_EQ(query_int("SELECT count(*) FROM idempotency"), orders);
  }

  // One integer from the cloud's database through sqlite3 or psql; -1 when it fails.
  std::int64_t query_int(const std::string& sql) {
    std::vector<std::string> argv;
    if (use_postgres_) {
      argv = {"psql", "-X", "-A", "-t", "-d", pg_->dsn("orders"), "-c", sql};
    } else {
      argv = {"sqlite3", "-readonly", dir_->file("cloud0/cloud.db").string(), sql};
    }
    auto child = ChildProcess::spawn({.argv = argv});
    if (!child.ok() || child->wait_exit(30s) != 0) {
      ADD_FAILURE() << sql << ": " << (child.ok() ? child->describe() : child.status().to_string());
      return -1;
    }
    try {
      return std::stoll(child->stdout_text());
    } catch (const std::exception&) {
      ADD_FAILURE() << sql << " printed '" << child->stdout_text() << "'";
      return -1;
    }
  }

  bool use_postgres_ = false;
  std::map<std::string, std::string> env_;
  std::optional<TempDir> dir_;
  std::optional<PostgresServer> pg_;
  std::vector<RunningDaemon> clouds_;
  std::map<std::string, std::int64_t> seqs_;
};

TEST_F(OrdersTest, TwoHundredConcurrentOrdersForFiftyUnitsSellExactlyFifty) {
  start_clouds(1);
  race_for_last_units(200, 50);
}

TEST_F(OrdersTest, TwoCloudInstancesOnOnePostgresSellExactlyFifty) {
  use_postgres_ = true;
  start_clouds(2);
  race_for_last_units(200, 50);
}

// Behind a load balancer: the customer orders and pays through instance A, whose
// sandbox gateway posts the webhook to payments.public_base_url (here instance B, as a
// load balancer might choose), not to A itself; B records the payment in the shared
// database and A shows the order paid and routed.
TEST_F(OrdersTest, APaymentWebhookGoesToThePublicAddressAndAnyInstanceTakesIt) {
  use_postgres_ = true;
  env_ = {{"SHOPEASY_CLOUD_PAYMENTS_WEBHOOK_SECRET", "shared-webhook-secret-0123456789abcdef"}};
  start_cloud();  // B, index 0
  const std::string public_base = "http://127.0.0.1:" + std::to_string(clouds_[0].http_port);
  start_cloud({"--payments.public_base_url=" + public_base});  // A, index 1
  add_store("s1", 12.9719, 77.6412);
  add_product("MILK", 6500);
  stock("s1", "MILK", 5);
  auto cell = geohash::encode({kCustomerLat, kCustomerLon}, 7);
  ASSERT_TRUE(wait_for(
      [&] {
        auto r = call("GET", "/api/stores?geo_hash=" + *cell, "", kAlice, {}, 1);
        return r.status == 200 && r.body.find("\"online\":true") != std::string::npos;
      },
      10s));

  auto placed_reply = place(order_body("MILK", 2), "lb-1", kAlice, 1);
  ASSERT_EQ(placed_reply.status, 201) << placed_reply.body;
  const json placed = json::parse(placed_reply.body);
  const std::string id = placed["order_id"];
  const std::string intent = placed["payment"]["intent_id"];
  // The pay page is announced at the public address too.
  EXPECT_EQ(placed["payment"]["confirm_url"], public_base + "/sandbox/pay/" + intent);
  // The sandbox keeps its intents in A's own file: the customer pays on A's page.
  ASSERT_EQ(call("POST", "/sandbox/pay/" + intent, json{{"outcome", "succeed"}}.dump(), kAdminToken,
                 {}, 1)
                .status,
            200);

  json seen_on_a;
  ASSERT_TRUE(wait_for(
      [&] {
        auto r = call("GET", "/api/orders/" + id, "", kAlice, {}, 1);
        seen_on_a = r.status == 200 ? json::parse(r.body) : json();
        return seen_on_a.value("status", "") == "routed";
      },
      20s))
      << seen_on_a.dump() << "\n"
      << clouds_[1].process.describe() << "\n"
      << clouds_[0].process.describe();
  EXPECT_EQ(seen_on_a["paid"], true);
  EXPECT_EQ(seen_on_a["payment_intent_id"], intent);
  // B verified and handled the webhook; A sent it and received none. (The counters move
  // just after the order does: B counts once its handler returns, A once B answers.)
  const std::string delivered = "shopeasy_payment_webhook_deliveries_total{result=\"delivered\"}";
  EXPECT_TRUE(wait_for(
      [&] {
        return metric(0, "shopeasy_payment_webhooks_accepted_total") == 1 &&
               metric(1, delivered) == 1;
      },
      10s));
  EXPECT_EQ(metric(0, "shopeasy_payment_webhooks_accepted_total"), 1);
  EXPECT_EQ(metric(1, "shopeasy_payment_webhooks_accepted_total"), 0);
  EXPECT_EQ(metric(1, delivered), 1);
  EXPECT_EQ(metric(1, "shopeasy_payment_webhook_deliveries_total{result=\"failed\"}"), 0);
  EXPECT_NE(clouds_[0].process.stderr_text().find("order_payment"), std::string::npos);
  EXPECT_EQ(clouds_[1].process.stderr_text().find("order_payment"), std::string::npos);
}

// A per-start random sandbox secret cannot be shared with the other instances behind a
// public address: refused at start-up, naming the option.
TEST_F(OrdersTest, ASandboxBehindAPublicAddressNeedsASharedWebhookSecret) {
  auto child = ChildProcess::spawn(
      {.argv = {binary_path("shopeasy-cloud"), "--check-config", "--payments.provider=sandbox",
                "--payments.public_base_url=https://shop.example"}});
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(child->wait_exit(10s), 2);
  EXPECT_NE(child->stderr_text().find("payments.webhook_secret"), std::string::npos)
      << child->describe();
  auto with_secret = ChildProcess::spawn(
      {.argv = {binary_path("shopeasy-cloud"), "--check-config", "--payments.provider=sandbox",
                "--payments.public_base_url=https://shop.example"},
       .env = {
           {"SHOPEASY_CLOUD_PAYMENTS_WEBHOOK_SECRET", "shared-webhook-secret-0123456789abcdef"}}});
  ASSERT_TRUE(with_secret.ok());
  EXPECT_EQ(with_secret->wait_exit(10s), 0) << with_secret->describe();
}

TEST_F(OrdersTest, ARetryReturnsTheFirstAnswerAndAReusedKeyIsRefused) {
  start_clouds(1);
  add_store("s1", 12.9719, 77.6412);
  add_product("MILK", 6500);
  stock("s1", "MILK", 3);
  auto first = place(order_body("MILK", 2), "k-1");
  ASSERT_EQ(first.status, 201) << first.body;
  const json placed = json::parse(first.body);
  EXPECT_EQ(placed["status"], "pending_payment");
  // Placed without a quote: charged what a quote says now, the base delivery fee (no
  // load signal yet) included and shown; skipping the quote does not skip the fee.
  ASSERT_TRUE(placed.contains("fees")) << placed.dump();
  ASSERT_EQ(placed["fees"].size(), 1u);
  EXPECT_EQ(placed["fees"][0]["kind"], "delivery");
  const std::int64_t fee = placed["fees"][0]["amount_cents"];
  EXPECT_GT(fee, 0);
  EXPECT_EQ(placed["total_cents"], 13000 + fee);
  EXPECT_EQ(placed["payment"]["amount_cents"], 13000 + fee);
  EXPECT_FALSE(placed["payment"]["intent_id"].get<std::string>().empty());
  EXPECT_NE(placed["payment"]["confirm_url"].get<std::string>().find("/sandbox/pay/"),
            std::string::npos);
  auto again = place(order_body("MILK", 2), "k-1");
  EXPECT_EQ(again.status, 201);
  EXPECT_EQ(json::parse(again.body), placed);
  EXPECT_EQ(available("MILK"), 1);  // held once, not twice
  auto reused = place(order_body("MILK", 1), "k-1");
  EXPECT_EQ(reused.status, 422) << reused.body;
  // An out-of-stock answer is replayed too.
  auto short_first = place(order_body("MILK", 5), "k-2");
  ASSERT_EQ(short_first.status, 409) << short_first.body;
  const json shortage = json::parse(short_first.body);
  EXPECT_EQ(shortage["error"]["code"], "out_of_stock");
  EXPECT_EQ(shortage["lines"][0]["sku"], "MILK");
  EXPECT_EQ(shortage["lines"][0]["available"], 1);
  auto short_again = place(order_body("MILK", 5), "k-2");
  EXPECT_EQ(short_again.status, 409);
  EXPECT_EQ(json::parse(short_again.body), shortage);
  // Another customer neither sees nor cancels the order.
  EXPECT_EQ(get_order(placed["order_id"], kBob)["http_status"], 404);
  EXPECT_EQ(
      call("POST", "/api/orders/" + placed["order_id"].get<std::string>() + "/cancel", "", kBob)
          .status,
      404);
}

TEST_F(OrdersTest, AnIdempotencyKeyIsForgottenAfterItsWindow) {
  start_clouds(1, {"--orders.idempotency_window_s=1"});
  add_store("s1", 12.9719, 77.6412);
  add_product("MILK", 6500);
  stock("s1", "MILK", 10);
  ASSERT_EQ(place(order_body("MILK", 1), "w-1").status, 201);
  // Within the window the key belongs to the first request.
  EXPECT_EQ(place(order_body("MILK", 2), "w-1").status, 422);
  // The cloud forgets it a second later; from then on it is a new request.
  ASSERT_TRUE(wait_for([&] { return place(order_body("MILK", 2), "w-1").status == 201; }, 15s));
  EXPECT_EQ(available("MILK"), 7);  // 1 + 2 held, the refused tries held nothing
  EXPECT_EQ(query_int("SELECT count(*) FROM idempotency WHERE idem_key = 'w-1'"), 1);
  EXPECT_EQ(query_int("SELECT count(*) FROM orders"), 2);
  const HttpReply metrics = call("GET", "/metrics");
  EXPECT_NE(metrics.body.find("cloud_idempotency_keys_purged_total 1"), std::string::npos)
      << metrics.body.substr(0, 400);
}

TEST_F(OrdersTest, WithoutAPaymentProviderNoOrderIsTakenAndTheSandboxIsOff) {
  start_clouds(1, {"--payments.provider=none"});  // the default, spelled out
  add_store("s1", 12.9719, 77.6412);
  add_product("MILK", 6500);
  stock("s1", "MILK", 50);
  auto refused = place(order_body("MILK", 1), "np1");
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_NE(refused.body.find("payments.provider"), std::string::npos) << refused.body;
  // The sandbox's public pay page does not exist.
  auto page = http_request("127.0.0.1", clouds_[0].http_port, "GET", "/sandbox/pay/anything");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 404);
  EXPECT_NE(page->body.find("no route"), std::string::npos) << page->body;
}

TEST_F(OrdersTest, ACustomerPaysBeforeHoldingMoreThanTheCap) {
  start_clouds(1, {"--orders.max_unpaid_per_customer=2"});
  add_store("s1", 12.9719, 77.6412);
  add_product("MILK", 6500);
  stock("s1", "MILK", 50);
  ASSERT_EQ(place(order_body("MILK", 1), "u1").status, 201);
  ASSERT_EQ(place(order_body("MILK", 1), "u2").status, 201);
  auto third = place(order_body("MILK", 1), "u3");
  EXPECT_EQ(third.status, 429) << third.body;
  EXPECT_NE(third.body.find("waiting for payment"), std::string::npos) << third.body;
  EXPECT_EQ(available("MILK"), 48) << "the refused order holds nothing";
  // Another customer is not affected.
  EXPECT_EQ(place(order_body("MILK", 1), "b1", kBob).status, 201);
  // Once one is paid, the same key goes through.
  pay(json::parse(place(order_body("MILK", 1), "u1").body));
  EXPECT_EQ(place(order_body("MILK", 1), "u3").status, 201);
}

TEST_F(OrdersTest, TheSandboxGatewayIsRefusedInProduction) {
  auto child = ChildProcess::spawn(
      {.argv = {binary_path("shopeasy-cloud"), "--check-config", "--payments.provider=sandbox",
                "--deployment.production=true"}});
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(child->wait_exit(10s), 2);
  EXPECT_NE(child->stderr_text().find("payments.provider"), std::string::npos) << child->describe();
  auto insecure_pg =
      ChildProcess::spawn({.argv = {binary_path("shopeasy-cloud"), "--check-config",
                                    "--deployment.production=true", "--storage.backend=postgres",
                                    "--storage.postgres_dsn=host=db.example.com dbname=shopeasy"}});
  ASSERT_TRUE(insecure_pg.ok());
  EXPECT_EQ(insecure_pg->wait_exit(10s), 2);
  EXPECT_NE(insecure_pg->stderr_text().find("verify-full"), std::string::npos)
      << insecure_pg->describe();
  EXPECT_EQ(insecure_pg->stderr_text().find("db.example.com"), std::string::npos)
      << "the DSN is a secret";
}

TEST_F(OrdersTest, BadInputIsRefusedClearlyWithNothingReserved) {
  start_clouds(1);
  add_store("s1", 12.9719, 77.6412);
  add_product("MILK", 6500);
  stock("s1", "MILK", 50);
  struct Case {
    json body;
    std::string key;
    int status;
    std::string code_or_field;
  };
  const std::vector<Case> cases = {
      {order_body("NOPE", 1), "b1", 422, "lines[0].sku"},
      {order_body("MILK", 0), "b2", 400, "lines[0].qty"},
      {order_body("MILK", 100000), "b3", 400, "lines[0].qty"},
      {{{"lines", {{{"sku", "MILK"}, {"qty", 150}}, {{"sku", "MILK"}, {"qty", 150}}}},
        {"delivery", {{"lat", 12.9719}, {"lon", 77.6412}}}},
       "b3b",
       400,
       "lines"},
      {{{"lines", {{{"sku", "MILK"}, {"qty", 1}}}}, {"delivery", {{"lat", 13.9}, {"lon", 78.9}}}},
       "b4",
       422,
       "no_store_serves_location"},
      {{{"lines", {{{"sku", "MILK"}, {"qty", 1}}}}, {"delivery", {{"geohash", "tdr1a!"}}}},
       "b5",
       400,
       "delivery.geohash"},
      {order_body("MILK", 1), "", 400, "Idempotency-Key"},
      {{{"lines", json::array()}, {"delivery", {{"lat", kCustomerLat}, {"lon", kCustomerLon}}}},
       "b6",
       400,
       "lines"},
  };
  for (const Case& c : cases) {
    auto r = place(c.body, c.key);
    EXPECT_EQ(r.status, c.status) << c.body.dump() << " -> " << r.body;
    const json error = json::parse(r.body)["error"];
    EXPECT_TRUE(error.value("field", "") == c.code_or_field ||
                error.value("code", "") == c.code_or_field)
        << r.body;
  }
  EXPECT_EQ(available("MILK"), 50);
}

TEST_F(OrdersTest, PaidOrderIsRoutedAcceptedDeliveredAndStreamed) {
  start_clouds(1);
  add_store("s1", 12.9719, 77.6412);
  add_product("MILK", 6500);
  stock("s1", "MILK", 10);
  auto r = place(order_body("MILK", 2), "d-1");
  ASSERT_EQ(r.status, 201) << r.body;
  const json placed = json::parse(r.body);
  const std::string id = placed["order_id"];
  pay(placed);
  // The store receives the order through its downstream queue.
  const json reply = sync("s1", {});
  bool delivered_down = false;
  for (const auto& item : reply["downstream"]) {
    if (item["kind"] == "order" && item["body"]["order_id"] == id) {
      delivered_down = true;
      EXPECT_EQ(item["body"]["status"], "routed");
      EXPECT_EQ(item["body"]["store_id"], "s1");
      EXPECT_GT(item["body"]["accept_by_ms"].get<std::int64_t>(), 0);
    }
  }
  EXPECT_TRUE(delivered_down) << reply.dump();
  // Accepting moves the reservation to the store: the cloud's hold goes.
  sync("s1", {{"stock.changed", {{"sku", "MILK"}, {"sku_on_hand", 10}, {"sku_reserved", 2}}},
              {"order.status", {{"order_id", id}, {"status", "accepted"}, {"at_ms", 1}}}});
  EXPECT_EQ(available("MILK"), 8);
  for (const char* s : {"picking", "packed", "out_for_delivery", "delivered"}) {
    order_status("s1", id, s);
  }
  order_status("s1", id, "picking");  // a replayed, now illegal status: ignored
  EXPECT_EQ(get_order(id)["status"], "delivered");
  auto cancel = call("POST", "/api/orders/" + id + "/cancel", "", kAlice);
  EXPECT_EQ(cancel.status, 409) << cancel.body;
  // The stream replays every status; the order was paid, so it stays open after the
  // final one for a late refund.
  auto events = read_stream(
      clouds_[0].http_port, "/api/orders/" + id + "/events", bearer(kAlice),
      [](const std::string& body) { return body.find("\"delivered\"") != std::string::npos; }, 10s);
  ASSERT_EQ(events.status, 200);
  EXPECT_FALSE(events.ended);
  std::vector<std::string> seen;
  std::vector<std::string> told;  // the notifications the stream carried, in order
  for (std::size_t at = 0; (at = events.body.find("data: ", at)) != std::string::npos;) {
    const std::size_t end = events.body.find('\n', at);
    const json data = json::parse(events.body.substr(at + 6, end - at - 6));
    seen.push_back(data["status"]);
    if (data.contains("notification")) {
      // The same sentence as the SMS, for the status it came with.
      EXPECT_EQ(data["notification"]["kind"], data["status"]) << data.dump();
      EXPECT_EQ(
          data["notification"]["text"].get<std::string>().rfind("ShopEasy: your order " + id, 0),
          0u)
          << data.dump();
      told.push_back(data["notification"]["kind"]);
    }
    at = end;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"pending_payment", "confirmed", "routed", "accepted",
                                            "picking", "packed", "out_for_delivery", "delivered"}));
  EXPECT_EQ(told,
            (std::vector<std::string>{"confirmed", "packed", "out_for_delivery", "delivered"}));
  // Resuming after the fourth event sends only the rest.
  auto headers = bearer(kAlice);
  headers["Last-Event-ID"] = "4";
  auto resumed = read_stream(
      clouds_[0].http_port, "/api/orders/" + id + "/events", headers,
      [](const std::string& body) { return body.find("\"delivered\"") != std::string::npos; }, 10s);
  EXPECT_EQ(resumed.body.find("\"accepted\""), std::string::npos);
  EXPECT_NE(resumed.body.find("\"delivered\""), std::string::npos);
}

TEST_F(OrdersTest, ARefusalReroutesToTheNextStoreAndCancellingRefunds) {
  start_clouds(1);
  add_store("near", 12.9740, 77.6440);
  add_store("far", 12.9600, 77.6300);
  add_product("MILK", 6500);
  stock("near", "MILK", 5);
  stock("far", "MILK", 5);
  auto r = place(order_body("MILK", 1), "r-1");
  ASSERT_EQ(r.status, 201) << r.body;
  const json placed = json::parse(r.body);
  const std::string id = placed["order_id"];
  pay(placed);
  const std::string first = get_order(id)["store_id"];
  const std::string second = first == "near" ? "far" : "near";
  order_status(first, id, "cancelled", "refused: short of staff");
  const json order = get_order(id);
  EXPECT_EQ(order["status"], "routed");
  EXPECT_EQ(order["store_id"], second);
  EXPECT_NE(order.value("reason", "").find("refused"), std::string::npos) << order.dump();
  // The customer cancels: the store is told, the payment is given back.
  auto cancel = call("POST", "/api/orders/" + id + "/cancel", "", kAlice);
  ASSERT_EQ(cancel.status, 200) << cancel.body;
  EXPECT_TRUE(wait_for([&] { return get_order(id)["status"] == "refunded"; }, 10s))
      << get_order(id).dump();
  const json reply = sync(second, {});
  bool told = false;
  for (const auto& item : reply["downstream"]) {
    told |= item["kind"] == "order.cancel" && item["body"]["order_id"] == id;
  }
  EXPECT_TRUE(told) << reply.dump();
}

TEST_F(OrdersTest, AnOrderNotAcceptedInTimeMovesOnThenFailsWithAReason) {
  start_clouds(1, {"--orders.accept_timeout_s=1"});
  add_store("near", 12.9740, 77.6440);
  add_store("far", 12.9600, 77.6300);
  add_product("MILK", 6500);
  stock("near", "MILK", 5);
  stock("far", "MILK", 5);
  auto r = place(order_body("MILK", 1), "t-1");
  ASSERT_EQ(r.status, 201) << r.body;
  const json placed = json::parse(r.body);
  const std::string id = placed["order_id"];
  pay(placed);
  json order;
  ASSERT_TRUE(wait_for(
      [&] {
        order = get_order(id);
        // Failed, then (it was paid) refunded; the reason stays.
        return order["status"] == "refunded";
      },
      20s))
      << order.dump();
  EXPECT_NE(order.value("reason", "").find("accept_timeout"), std::string::npos) << order.dump();
  EXPECT_EQ(available("MILK"), 5);  // nothing left held anywhere
}

// Money can move after the final status: a paid order the store fails is refunded by
// the cloud afterwards. The customer's open stream shows the failure, stays open, shows
// the refund and only then ends. An unpaid order's stream ends at its final status.
TEST_F(OrdersTest, TheEventStreamStaysOpenForALateRefundThenEnds) {
  start_clouds(1);
  add_store("s1", 12.9719, 77.6412);
  add_product("MILK", 6500);
  stock("s1", "MILK", 10);
  auto r = place(order_body("MILK", 1), "late-1");
  ASSERT_EQ(r.status, 201) << r.body;
  const json placed = json::parse(r.body);
  const std::string id = placed["order_id"];
  pay(placed);
  order_status("s1", id, "accepted");

  StreamRead stream;
  std::atomic<bool> watching{false};
  std::thread reader([&] {
    stream = read_stream(
        clouds_[0].http_port, "/api/orders/" + id + "/events", bearer(kAlice),
        [&](const std::string& body) {
          if (body.find("\"accepted\"") != std::string::npos) watching = true;
          return false;
        },
        30s);
  });
  // The store fails the order once the customer is watching.
  EXPECT_TRUE(wait_for([&] { return watching.load(); }, 10s));
  order_status("s1", id, "failed", "runner_failed: flat tyre");
  reader.join();
  EXPECT_EQ(stream.status, 200);
  EXPECT_TRUE(stream.ended) << "the stream should end after the refund:\n" << stream.body;
  const auto failed = stream.body.find("\"failed\"");
  const auto refunded = stream.body.find("\"refunded\"");
  ASSERT_NE(failed, std::string::npos) << stream.body;
  ASSERT_NE(refunded, std::string::npos) << "the refund never reached the open stream:\n"
                                         << stream.body;
  EXPECT_LT(failed, refunded);
  EXPECT_EQ(stream.body.rfind("data: "), stream.body.rfind("data: ", refunded));

  // Cancelled before payment: nothing more can happen, so the stream ends at once.
  auto unpaid = place(order_body("MILK", 1), "late-2");
  ASSERT_EQ(unpaid.status, 201) << unpaid.body;
  const std::string unpaid_id = json::parse(unpaid.body)["order_id"];
  ASSERT_EQ(call("POST", "/api/orders/" + unpaid_id + "/cancel", "", kAlice).status, 200);
  auto ended = read_stream(
      clouds_[0].http_port, "/api/orders/" + unpaid_id + "/events", bearer(kAlice),
      [](const std::string&) { return false; }, 10s);
  EXPECT_TRUE(ended.ended) << ended.body;
  EXPECT_NE(ended.body.find("\"cancelled\""), std::string::npos) << ended.body;
}

// The promise is the estimate of the store that holds the order. "near" is the best
// store for this customer but has no eggs; "far" holds them, so an order for eggs is
// promised with far's (longer) ride, one for milk with near's.
TEST_F(OrdersTest, ThePromiseIsTheEstimateOfTheStoreThatHoldsTheOrder) {
  start_clouds(1);
  add_store("near", 12.9740, 77.6440);
  add_store("far", 12.9600, 77.6300);
  add_product("MILK", 6500);
  add_product("EGGS", 6500);
  stock("near", "MILK", 5);
  stock("near", "EGGS", 0);
  stock("far", "MILK", 5);
  stock("far", "EGGS", 5);
  const auto promise_s = [&](const std::string& sku, const std::string& key) -> std::int64_t {
    auto r = place(order_body(sku, 1), key);
    EXPECT_EQ(r.status, 201) << r.body;
    if (r.status != 201) return -1;
    const json o = json::parse(r.body);
    const json stored = get_order(o["order_id"]);
    EXPECT_EQ(stored["promised_at_ms"], o["promised_at_ms"]);
    return (o["promised_at_ms"].get<std::int64_t>() - o["created_at_ms"].get<std::int64_t>());
  };
  const std::int64_t milk = promise_s("MILK", "p-1");
  EXPECT_EQ(
      get_order(json::parse(place(order_body("MILK", 1), "p-1").body)["order_id"])["store_id"],
      "near");
  const auto eggs_reply = place(order_body("EGGS", 1), "p-2");
  ASSERT_EQ(eggs_reply.status, 201) << eggs_reply.body;
  const json eggs_order = json::parse(eggs_reply.body);
  EXPECT_EQ(get_order(eggs_order["order_id"])["store_id"], "far");
  const std::int64_t eggs = eggs_order["promised_at_ms"].get<std::int64_t>() -
                            eggs_order["created_at_ms"].get<std::int64_t>();
  // Same units and no queues: the promises differ by the ride (road = 1.4 x straight
  // line at 5.5 m/s, whole seconds), nothing else.
  const auto ride_s = [](double lat, double lon) {
    const double m = geohash::haversine_m({lat, lon}, {kCustomerLat, kCustomerLon});
    return static_cast<std::int64_t>(std::ceil(m * 1.4 / 5.5));
  };
  EXPECT_EQ(eggs - milk, (ride_s(12.9600, 77.6300) - ride_s(12.9740, 77.6440)) * 1000)
      << "milk " << milk << " ms, eggs " << eggs << " ms";
}

}  // namespace
}  // namespace shopeasy::testing
