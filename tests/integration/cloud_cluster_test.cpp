// Two cloud instances behind a real HAProxy over one PostgreSQL, the deployment
// docs/DEPLOY.md describes. One instance is killed with SIGKILL while a store syncs,
// a customer places orders and another customer watches an order's event stream, all
// through the load balancer. Clients retry what failed (a sync batch with the same
// first_seq, an order with the same Idempotency-Key, a stream with Last-Event-ID), as
// the shipped clients do; nothing may be lost or doubled.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/geohash/geohash.hpp"
#include "tests/harness/harness.hpp"
#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::testing {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

constexpr const char* kAlice = "alice-token";
constexpr const char* kBob = "bob-token";
constexpr const char* kSecret = "cluster-store-secret-0123";
constexpr int kBatches = 60;
constexpr int kChangesPerBatch = 5;
constexpr int kOrders = 120;

std::string haproxy_binary() {
  return std::filesystem::exists("/usr/sbin/haproxy") ? "/usr/sbin/haproxy" : "haproxy";
}

json order_body() {
  return {{"lines", {{{"sku", "MILK"}, {"qty", 1}}}},
          {"delivery", {{"lat", 12.975}, {"lon", 77.645}}}};
}

class CloudClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("cluster");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    auto pg = PostgresServer::start({.settings = {"fsync=off"}});
    ASSERT_TRUE(pg.ok()) << pg.status().to_string();
    pg_.emplace(std::move(*pg));
    ASSERT_TRUE(pg_->create_database("cloud").is_ok());
    for (int i = 0; i < 2; ++i) {
      auto cloud = start_daemon(
          "shopeasy-cloud",
          {"--http.port=0", "--state_dir=" + dir_->file("cloud" + std::to_string(i)).string(),
           "--auth.tokens=" +
               tokens_json({{"alice", "customer", kAlice}, {"bob", "customer", kBob}}),
           "--payments.provider=sandbox", "--orders.max_unpaid_per_customer=1000",
           "--http.rate_limit_per_s=0", "--storage.backend=postgres",
           "--storage.postgres_dsn=" + pg_->dsn("cloud")});
      ASSERT_TRUE(cloud.ok()) << cloud.status().to_string();
      clouds_.push_back(std::move(*cloud));
    }
    start_balancer();
  }

  // HAProxy on a free port, round robin over both instances, health-checked on
  // /health; a request that cannot reach an instance is sent to the other.
  void start_balancer() {
    lb_port_ = free_tcp_port();
    ASSERT_GT(lb_port_, 0);
    std::string cfg =
        "global\n"
        "  maxconn 2000\n"
        "defaults\n"
        "  mode http\n"
        "  timeout connect 1s\n"
        "  timeout client 60s\n"
        "  timeout server 60s\n"
        "  retries 3\n"
        "  option redispatch\n"
        "frontend shop\n"
        "  bind 127.0.0.1:" +
        std::to_string(lb_port_) +
        "\n"
        "  default_backend clouds\n"
        "backend clouds\n"
        "  balance roundrobin\n"
        "  option httpchk GET /health\n";
    for (std::size_t i = 0; i < clouds_.size(); ++i) {
      cfg += "  server c" + std::to_string(i) +
             " 127.0.0.1:" + std::to_string(clouds_[i].http_port) +
             " check inter 200ms fall 1 rise 2\n";
    }
    ASSERT_TRUE(dir_->write_file("haproxy.cfg", cfg).is_ok());
    auto lb = ChildProcess::spawn(
        {.argv = {haproxy_binary(), "-db", "-f", dir_->file("haproxy.cfg").string()}});
    ASSERT_TRUE(lb.ok()) << lb.status().to_string();
    lb_.emplace(std::move(*lb));
    ASSERT_TRUE(wait_for([&] { return via_lb("GET", "/health", "", "").status == 200; }, 10s))
        << lb_->describe();
  }

  HttpReply via_lb(const std::string& method, const std::string& path, const std::string& body,
                   const std::string& token, std::map<std::string, std::string> extra = {}) {
    auto headers = token.empty() ? std::map<std::string, std::string>{} : bearer(token);
    if (!body.empty()) headers["Content-Type"] = "application/json";
    for (auto& [k, v] : extra) headers[k] = v;
    return http_request("127.0.0.1", lb_port_, method, path, body, headers, 10s)
        .value_or(HttpReply{});
  }

  // Sends again while the answer is a failover's (no answer, 502/503/504), as a client
  // does; the first other answer. Gives up after 30 s.
  HttpReply until_ok(const std::function<HttpReply()>& send) {
    HttpReply last;
    wait_for(
        [&] {
          last = send();
          return last.status != 0 && last.status != 502 && last.status != 503 && last.status != 504;
        },
        30s);
    return last;
  }

  HttpReply sync(std::int64_t first_seq, const json& changes) {
    const json batch = {{"store_id", "s1"},
                        {"first_seq", first_seq},
                        {"changes", changes},
                        {"downstream_cursor", 0},
                        {"sent_at_ms", 1'800'000'000'000}};
    return via_lb("POST", "/v1/stores/s1/sync", batch.dump(), std::string("s1:") + kSecret);
  }

  std::int64_t query_int(const std::string& sql) {
    auto child = ChildProcess::spawn(
        {.argv = {"psql", "-X", "-A", "-t", "-d", pg_->dsn("cloud"), "-c", sql}});
    if (!child.ok() || child->wait_exit(30s) != 0) {
      ADD_FAILURE() << sql << ": " << (child.ok() ? child->describe() : child.status().to_string());
      return -1;
    }
    return std::stoll(child->stdout_text());
  }

  std::optional<TempDir> dir_;
  std::optional<PostgresServer> pg_;
  std::vector<RunningDaemon> clouds_;
  std::optional<ChildProcess> lb_;
  int lb_port_ = 0;
};

TEST_F(CloudClusterTest, KillingAnInstanceUnderLoadLosesNoBatchOrderOrEvent) {
  // A store with stock, registered through the balancer; both instances route to it.
  ASSERT_EQ(until_ok([&] {
              return via_lb("PUT", "/v1/stores/s1",
                            json{{"name", "Store s1"},
                                 {"lat", 12.9719},
                                 {"lon", 77.6412},
                                 {"service_radius_m", 3000},
                                 {"secret", kSecret}}
                                .dump(),
                            kAdminToken);
            }).status,
            200);
  ASSERT_EQ(until_ok([&] {
              return via_lb("PUT", "/v1/catalog/MILK",
                            json{{"name", "Milk"}, {"price_cents", 6500}}.dump(), kAdminToken);
            }).status,
            200);
  std::int64_t seq = 0;
  ASSERT_EQ(
      sync(1, json::array(
                  {{{"seq", ++seq},
                    {"kind", "stock.changed"},
                    {"body", {{"sku", "MILK"}, {"sku_on_hand", 100000}, {"sku_reserved", 0}}}}}))
          .status,
      200);
  auto cell = geohash::encode({12.975, 77.645}, 7);
  // Each instance must see the store as serving and online (its registry watcher learns
  // of the sync on the other instance within about a second): placement needs both.
  for (const RunningDaemon& c : clouds_) {
    ASSERT_TRUE(wait_for(
        [&] {
          auto r = get(c, "/api/inventory?geo_hash=" + *cell, bearer(kAlice));
          return r && r->status == 200 && r->body.find("\"s1\"") != std::string::npos;
        },
        10s));
  }

  // The order Bob watches, and his stream through the balancer.
  const HttpReply watched = until_ok([&] {
    return via_lb("POST", "/api/orders", order_body().dump(), kBob, {{"Idempotency-Key", "w-1"}});
  });
  ASSERT_EQ(watched.status, 201) << watched.body;
  const std::string watched_id = json::parse(watched.body)["order_id"];
  std::vector<std::int64_t> event_ids;
  std::vector<std::string> statuses;
  // Bob's client reconnects every second with Last-Event-ID, so resuming is exercised
  // whichever instance his stream was on when the other was killed.
  int connections = 0;
  std::thread watcher([&] {
    std::int64_t last_id = -1;
    const auto deadline = std::chrono::steady_clock::now() + 90s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto headers = bearer(kBob);
      if (last_id >= 0) headers["Last-Event-ID"] = std::to_string(last_id);
      StreamRead read = read_stream(
          lb_port_, "/api/orders/" + watched_id + "/events", headers,
          [&](const std::string& b) {
            // The first connection ends after the first event, so the resume is always
            // exercised; later ones wait for the cancellation.
            return connections == 0 ? b.find("\n\n") != std::string::npos
                                    : b.find("\"cancelled\"") != std::string::npos;
          },
          1s);
      ++connections;
      // Each event: "id: N\nevent: K\ndata: {...}\n\n".
      for (std::size_t at = 0; (at = read.body.find("id: ", at)) != std::string::npos;) {
        const std::size_t end = read.body.find('\n', at);
        const std::int64_t id = std::stoll(read.body.substr(at + 4, end - at - 4));
        const std::size_t data = read.body.find("data: ", end);
        const std::size_t data_end = read.body.find('\n', data);
        const json body =
            json::parse(read.body.substr(data + 6, data_end - data - 6), nullptr, false);
        event_ids.push_back(id);
        statuses.push_back(body.is_object() ? body.value("status", "") : "?");
        last_id = id;
        at = data_end;
      }
      if (std::find(statuses.begin(), statuses.end(), "cancelled") != statuses.end()) break;
    }
  });

  // The load: a store syncing and Alice placing orders, each retried until acknowledged.
  std::atomic<int> placed{0};
  std::vector<std::string> order_ids(kOrders);
  std::thread store([&] {
    for (int b = 0; b < kBatches; ++b) {
      json changes = json::array();
      const std::int64_t first = seq + 1;
      for (int c = 0; c < kChangesPerBatch; ++c) {
        changes.push_back(
            {{"seq", ++seq},
             {"kind", "stock.changed"},
             {"body", {{"sku", "MILK"}, {"sku_on_hand", 100000 + seq}, {"sku_reserved", 0}}}});
      }
      EXPECT_EQ(until_ok([&] { return sync(first, changes); }).status, 200) << "batch " << b;
    }
  });
  std::thread customer([&] {
    for (int i = 0; i < kOrders; ++i) {
      const HttpReply r = until_ok([&] {
        return via_lb("POST", "/api/orders", order_body().dump(), kAlice,
                      {{"Idempotency-Key", "o-" + std::to_string(i)}});
      });
      EXPECT_EQ(r.status, 201) << r.body;
      const json body = json::parse(r.body, nullptr, false);
      if (body.is_object()) order_ids[static_cast<std::size_t>(i)] = body.value("order_id", "");
      ++placed;
    }
  });
  ASSERT_TRUE(wait_for([&] { return placed.load() >= kOrders / 4; }, 60s));
  clouds_[0].process.kill9();
  customer.join();
  store.join();
  // Bob cancels the watched order; his stream, wherever it reconnected, must show it.
  EXPECT_EQ(until_ok([&] {
              return via_lb("POST", "/api/orders/" + watched_id + "/cancel", "", kBob);
            }).status,
            200);
  watcher.join();

  // Every batch applied once, every acknowledged order stored once, none doubled.
  EXPECT_EQ(query_int("SELECT last_applied_seq FROM stores WHERE id = 's1'"), seq);
  EXPECT_EQ(query_int("SELECT count(*) FROM orders WHERE customer_id = 'alice'"), kOrders);
  std::set<std::string> unique(order_ids.begin(), order_ids.end());
  unique.erase("");
  EXPECT_EQ(unique.size(), static_cast<std::size_t>(kOrders));
  // Bob's stream: each event once, in order, ending with the cancellation.
  ASSERT_FALSE(statuses.empty());
  EXPECT_EQ(statuses.back(), "cancelled");
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), "cancelled"), 1);
  EXPECT_GE(connections, 2);
  for (std::size_t i = 1; i < event_ids.size(); ++i) {
    EXPECT_LT(event_ids[i - 1], event_ids[i]) << "event " << event_ids[i] << " repeated";
  }
}

}  // namespace
}  // namespace shopeasy::testing
