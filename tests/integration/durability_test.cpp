// An acknowledged scan survives kill -9: scans are driven at full speed from several
// clients while the edge is SIGKILLed at random moments; after each restart every
// acknowledged scan is in the ledger exactly once and on-hand equals the ledger's sum.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/db/database.hpp"
#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

TEST(DurabilityTest, AcknowledgedScansSurviveKill9) {
  auto dir = TempDir::create("durability");
  ASSERT_TRUE(dir.ok());
  const std::vector<std::string> args = {
      "--http.port=0", "--state_dir=" + dir->file("edge").string(), "--mqtt.enabled=false",
      "--auth.tokens=" + admin_tokens_json()};
  std::mt19937 rng(20261125);
  std::set<std::string> acked;
  std::mutex acked_mutex;
  constexpr int kRounds = 5;
  constexpr int kClients = 4;

  for (int round = 0; round < kRounds; ++round) {
    auto edge = start_daemon("shopeasy-edge", args);
    ASSERT_TRUE(edge.ok()) << edge.status().to_string();
    const int port = edge->http_port;
    if (round == 0) {
      auto headers = bearer();
      headers["Content-Type"] = "application/json";
      ASSERT_EQ(http_request("127.0.0.1", port, "POST", "/api/bins",
                             R"({"bins":[{"code":"A-01"}]})", headers)
                    ->status,
                200);
      headers["Content-Type"] = "text/csv";
      ASSERT_EQ(http_request("127.0.0.1", port, "POST", "/api/catalog",
                             "sku,name,barcodes,home_bin\nMILK,Milk,4006381333931,A-01\n", headers)
                    ->status,
                200);
    }
    std::atomic<int> acked_this_round{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        auto headers = bearer();
        headers["Content-Type"] = "application/json";
        for (int n = 0; !stop.load(); ++n) {
          const std::string id =
              "r" + std::to_string(round) + "-c" + std::to_string(c) + "-" + std::to_string(n);
          const std::string body = json{
              {"scan_id", id},
              {"scanner_id", "h1"},
              {"code", "4006381333931"},
              {"action", "receive"},
              {"qty", 1}}.dump();
          auto reply = http_request("127.0.0.1", port, "POST", "/api/scans", body, headers, 2s);
          if (!reply) return;  // the daemon is gone
          if (reply->status == 200) {
            std::lock_guard lock(acked_mutex);
            acked.insert(id);
            ++acked_this_round;
          }
        }
      });
    }
    const int kill_after = std::uniform_int_distribution<int>(50, 400)(rng);
    EXPECT_TRUE(wait_for([&] { return acked_this_round.load() >= kill_after; }, 60s));
    edge->process.kill9();
    stop = true;
    for (auto& t : clients) t.join();
  }

  // Restart once more (recovery runs) and check the books against what was acknowledged.
  auto edge = start_daemon("shopeasy-edge", args);
  ASSERT_TRUE(edge.ok()) << edge.status().to_string();
  auto db = db::Database::open(dir->file("edge/edge.db").string(), {.read_only = true});
  ASSERT_TRUE(db.ok()) << db.status().to_string();
  std::map<std::string, int> in_ledger;
  auto q = db->query("SELECT ref FROM ledger WHERE reason = 'receive'");
  while (const db::Statement* row = q.next()) ++in_ledger[row->column_text(0)];
  ASSERT_TRUE(q.status().is_ok());
  int missing = 0;
  for (const auto& id : acked) {
    if (in_ledger[id] != 1) ++missing;
  }
  EXPECT_EQ(missing, 0) << "acknowledged scans not in the ledger exactly once";
  for (const auto& [id, n] : in_ledger) EXPECT_EQ(n, 1) << id;
  std::int64_t ledger_sum = 0;
  for (const auto& [id, n] : in_ledger) ledger_sum += n;
  auto item = http_request("127.0.0.1", edge->http_port, "GET", "/api/stock/MILK", "", bearer());
  ASSERT_TRUE(item.has_value());
  EXPECT_EQ(json::parse(item->body)["on_hand"].get<std::int64_t>(), ledger_sum);
  EXPECT_GE(static_cast<std::int64_t>(acked.size()), 250);
  RecordProperty("acknowledged_scans", static_cast<int>(acked.size()));
}

}  // namespace
}  // namespace shopeasy::testing
