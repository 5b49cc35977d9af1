// Notifications under crashes: a signed-in customer places and cancels many orders
// through the real routes while the cloud is SIGKILLed and restarted every few seconds.
// Every cancellation must reach the webhook sink (counted by idempotency id, every
// signature valid) and the sandbox SMS, and the outbox must end with every row sent.
// A kill between a send and the commit of its outcome sends that row again, with the
// same idempotency key: the webhook receiver drops the repeat by its id (the test counts
// such repeats), and so does the SMS provider (the sandbox keeps one message per key), so
// the customer gets each text once.
//
// SHOPEASY_NOTIFY_CHAOS_EVENTS (default 2000) sets the number of order events,
// SHOPEASY_NOTIFY_CHAOS_KILL_MS the time between kills (default 2000, so the CI-sized
// run, a few seconds on an idle machine, still sees several kills);
// scripts/soak-notify.sh runs 100,000 events with a kill every 5 s.
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/db/database.hpp"
#include "tests/integration/daemon_fixture.hpp"
#include "tests/integration/webhook_sink.hpp"

namespace shopeasy::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kStoreSecret = "store-secret-0123456789";
constexpr const char* kHookSecret = "notify-webhook-secret-0123456789abcdef";
constexpr int kBatchSize = 200;

std::int64_t env_int(const char* name, std::int64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::stoll(v) : fallback;
}

class NotifyChaosTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("notify-chaos");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    auto sink = WebhookSink::start(kHookSecret);
    ASSERT_TRUE(sink.ok()) << sink.status().to_string();
    sink_ = std::move(*sink);
  }

  std::vector<std::string> args() const {
    return {"--http.port=0", "--state_dir=" + dir_->file("cloud").string(),
            "--auth.tokens=" + admin_tokens_json(), "--http.rate_limit_per_s=0",
            "--payments.provider=sandbox", "--accounts.sms_provider=sandbox",
            "--orders.max_unpaid_per_customer=1000",
            // The full-size run drives orders for longer than the default 15 minutes, and
            // the store syncs only once, at the start: it must stay online throughout.
            "--accounts.access_token_ttl_s=3600", "--stores.online_window_s=3600",
            "--notify.enabled=true", "--notify.webhook_url=" + sink_->url(),
            "--notify.webhook_secret=" + std::string(kHookSecret),
            "--notify.webhook_timeout_ms=500", "--notify.lease_s=2", "--notify.poll_interval_ms=20",
            "--notify.retry_base_ms=50", "--notify.retry_max_ms=500",
            "--notify.batch_size=" + std::to_string(kBatchSize)};
  }

  void start_cloud() {
    auto cloud = start_daemon("shopeasy-cloud", args());
    ASSERT_TRUE(cloud.ok()) << cloud.status().to_string();
    std::lock_guard<std::mutex> lock(mutex_);
    cloud_.emplace(std::move(*cloud));
    port_ = cloud_->http_port;
  }

  // One request to whichever instance is up; status 0 when none answered.
  HttpReply call(const std::string& method, const std::string& path, const std::string& body = "",
                 const std::string& token = kAdminToken,
                 std::map<std::string, std::string> extra = {}) {
    auto headers = bearer(token);
    if (!body.empty()) headers["Content-Type"] = "application/json";
    for (auto& [k, v] : extra) headers[k] = v;
    return http_request("127.0.0.1", port_.load(), method, path, body, headers, 10s)
        .value_or(HttpReply{});
  }

  // Repeats a request through crashes until it gets an answer other than a transport
  // failure or a 5xx.
  HttpReply call_until_answered(const std::string& method, const std::string& path,
                                const std::string& body, const std::string& token,
                                std::map<std::string, std::string> extra = {}) {
    for (;;) {
      HttpReply r = call(method, path, body, token, extra);
      if (r.status != 0 && r.status < 500) return r;
      std::this_thread::sleep_for(20ms);  // the cloud is restarting
    }
  }

  std::string sign_in(const std::string& phone) {
    EXPECT_EQ(call("POST", "/api/auth/otp", json{{"phone", phone}}.dump(), "").status, 202);
    const HttpReply sms = call("GET", "/v1/sandbox/sms?phone=%2B" + phone.substr(1));
    std::smatch m;
    std::string code;
    const json page = json::parse(sms.body);
    for (const json& message : page["messages"]) {
      const std::string text = message["body"];
      if (std::regex_search(text, m, std::regex("code is ([0-9]{6})"))) code = m[1].str();
    }
    const HttpReply verified =
        call("POST", "/api/auth/verify", json{{"phone", phone}, {"code", code}}.dump(), "");
    EXPECT_EQ(verified.status, 200) << verified.body;
    return verified.status == 200 ? json::parse(verified.body)["access_token"].get<std::string>()
                                  : "";
  }

  std::optional<TempDir> dir_;
  std::unique_ptr<WebhookSink> sink_;
  std::mutex mutex_;  // guards cloud_ (the killer replaces it)
  std::optional<RunningDaemon> cloud_;
  std::atomic<int> port_{0};
};

TEST_F(NotifyChaosTest, EveryEventIsDeliveredThroughKillsAndRepeatsAreOnlyCrashWindows) {
  const std::int64_t events = env_int("SHOPEASY_NOTIFY_CHAOS_EVENTS", 2000);
  const auto kill_every = std::chrono::milliseconds(env_int("SHOPEASY_NOTIFY_CHAOS_KILL_MS", 2000));
  start_cloud();
  const std::string phone = "+919876500077";
  const std::string token = sign_in(phone);
  ASSERT_FALSE(token.empty());
  ASSERT_EQ(call("PUT", "/v1/stores/s1",
                 json{{"name", "Store s1"},
                      {"lat", 12.9719},
                      {"lon", 77.6412},
                      {"service_radius_m", 3000},
                      {"secret", kStoreSecret}}
                     .dump())
                .status,
            200);
  ASSERT_EQ(
      call("PUT", "/v1/catalog/MILK", json{{"name", "Milk"}, {"price_cents", 6500}}.dump()).status,
      200);
  const json batch = {
      {"store_id", "s1"},
      {"first_seq", 1},
      {"changes",
       {{{"seq", 1},
         {"kind", "stock.changed"},
         {"body", {{"sku", "MILK"}, {"sku_on_hand", 1'000'000}, {"sku_reserved", 0}}}}}},
      {"downstream_cursor", 0},
      {"sent_at_ms", 1'800'000'000'000}};
  ASSERT_EQ(
      call("POST", "/v1/stores/s1/sync", batch.dump(), std::string("s1:") + kStoreSecret).status,
      200);

  const auto started = std::chrono::steady_clock::now();
  std::atomic<bool> stop_killing{false};
  std::atomic<int> kills{0};
  std::thread killer([&] {
    auto next = std::chrono::steady_clock::now() + kill_every;
    while (!stop_killing.load()) {
      if (std::chrono::steady_clock::now() < next) {
        std::this_thread::sleep_for(10ms);
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        cloud_->process.kill9();
      }
      ++kills;
      start_cloud();
      next = std::chrono::steady_clock::now() + kill_every;
    }
  });

  // Each order is placed and cancelled by its customer: one "cancelled" notification.
  const json order = {{"lines", {{{"sku", "MILK"}, {"qty", 1}}}},
                      {"delivery", {{"lat", 12.975}, {"lon", 77.645}}}};
  std::atomic<std::int64_t> next_order{0};
  std::atomic<int> refused{0};
  auto drive = [&] {
    for (std::int64_t i; (i = next_order.fetch_add(1)) < events;) {
      const HttpReply placed =
          call_until_answered("POST", "/api/orders", order.dump(), token,
                              {{"Idempotency-Key", "chaos-" + std::to_string(i)}});
      if (placed.status != 201) {
        // One refusal says it all; the rest would only repeat it.
        if (refused.fetch_add(1) == 0) {
          ADD_FAILURE() << "placement " << i << ": " << placed.status << " " << placed.body;
        }
        return;
      }
      const std::string id = json::parse(placed.body)["order_id"];
      const HttpReply cancelled =
          call_until_answered("POST", "/api/orders/" + id + "/cancel", "", token);
      // 409: a run before the crash already cancelled it.
      if (cancelled.status != 200 && cancelled.status != 409) {
        if (refused.fetch_add(1) == 0) {
          ADD_FAILURE() << "cancel " << id << ": " << cancelled.status << " " << cancelled.body;
        }
        return;
      }
    }
  };
  std::thread a(drive), b(drive);
  a.join();
  b.join();
  const double driven_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (refused.load() > 0) {
    stop_killing = true;
    killer.join();
    FAIL() << refused.load() << " requests refused";
  }
  const bool all_in =
      wait_for([&] { return sink_->accepted_ids() >= static_cast<std::size_t>(events); },
               std::chrono::seconds(60 + events / 100));
  stop_killing = true;
  killer.join();
  const double total_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_TRUE(all_in) << sink_->accepted_ids() << " of " << events << " delivered";

  // The last instance finishes what it has, then stops.
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ASSERT_TRUE(wait_for(
        [&] {
          auto r = http_request("127.0.0.1", port_.load(), "GET", "/metrics", "", bearer(), 5s);
          return r &&
                 r->body.find("\ncloud_notify_pending{channel=\"sms\"} 0") != std::string::npos &&
                 r->body.find("\ncloud_notify_pending{channel=\"webhook\"} 0") != std::string::npos;
        },
        60s));
    cloud_->process.terminate_and_wait(10s);
  }

  // Webhooks: every id once as far as the receiver is concerned, all signed.
  const auto seen = sink_->seen();
  EXPECT_EQ(sink_->bad_signatures(), 0);
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(events));
  std::int64_t webhook_repeats = 0;
  for (const auto& [key, s] : seen) {
    EXPECT_EQ(s.body["type"], "order.cancelled") << key;
    webhook_repeats += s.posts - 1;
  }
  // The outbox: every row sent, none left.
  auto cloud_db = db::Database::open(dir_->file("cloud").string() + "/cloud.db");
  ASSERT_TRUE(cloud_db.ok()) << cloud_db.status().to_string();
  auto sent =
      cloud_db->query_one<std::int64_t>("SELECT count(*) FROM notify_outbox WHERE state = 'sent'");
  auto other =
      cloud_db->query_one<std::int64_t>("SELECT count(*) FROM notify_outbox WHERE state <> 'sent'");
  ASSERT_TRUE(sent.ok() && other.ok());
  EXPECT_EQ(sent->value_or(-1), 2 * events);
  EXPECT_EQ(other->value_or(-1), 0);
  // SMS: one text per order, however many times a kill made the worker send it again.
  auto accounts_db = db::Database::open(dir_->file("cloud").string() + "/accounts.db");
  ASSERT_TRUE(accounts_db.ok()) << accounts_db.status().to_string();
  auto distinct = accounts_db->query_one<std::int64_t>(
      "SELECT count(DISTINCT body) FROM sandbox_sms WHERE phone = ? AND body LIKE '%was "
      "cancelled.'",
      phone);
  auto total = accounts_db->query_one<std::int64_t>(
      "SELECT count(*) FROM sandbox_sms WHERE phone = ? AND body LIKE '%was cancelled.'", phone);
  ASSERT_TRUE(distinct.ok() && total.ok());
  EXPECT_EQ(distinct->value_or(-1), events);
  const std::int64_t sms_repeats = total->value_or(0) - distinct->value_or(0);
  EXPECT_EQ(sms_repeats, 0);
  std::printf(
      "[ chaos    ] %lld order events, %d kills: orders driven in %.1f s, all delivered after "
      "%.1f s; webhook posts %lld for %zu ids (%lld repeats dropped by id), SMS %lld for %lld "
      "orders (%lld repeats)\n",
      static_cast<long long>(events), kills.load(), driven_s, total_s,
      static_cast<long long>(sink_->posts()), seen.size(), static_cast<long long>(webhook_repeats),
      static_cast<long long>(total->value_or(0)), static_cast<long long>(distinct->value_or(0)),
      static_cast<long long>(sms_repeats));
}

}  // namespace
}  // namespace shopeasy::testing
