// PricingFollower against an in-process stand-in for the cloud: a new view is stored
// before it is shown and survives a restart without the cloud; a malformed or foreign
// view changes nothing; a held request is ended at once by stop(); a cloud that will
// not hold requests is reported as busy.
#include "edge/pricing/pricing_follower.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "common/http/server.hpp"

namespace shopeasy::edge::pricing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

json view(const std::string& version, bool enabled = true, const std::string& store = "s1") {
  return {{"store_id", store},
          {"version", version},
          {"generated_at_ms", 1},
          {"enabled", enabled},
          {"delivery_fee", {{"amount_cents", enabled ? 4'900 : 2'500}, {"step", enabled ? 2 : 0}}},
          {"rules", json::object()},
          {"prices", json::array({{{"sku", "MILK"}, {"price_cents", 5'800}}})},
          {"markdowns", json::array()},
          {"overrides", json::array()},
          {"truncated", false}};
}

class PricingFollowerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/edge-pricing-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    open_store();
    cloud_ = std::make_unique<http::HttpServer>(
        http::ServerOptions{}, nullptr, log::Logger(sink_, log::Level::kInfo, "cloud"), metrics_);
    cloud_->route("GET", "/v1/stores/s1/pricing", http::Access::public_route(),
                  [this](const http::Request& r) {
                    std::unique_lock lock(mutex_);
                    queries_.push_back(r.query_param("version").value_or("") + "|" +
                                       r.query_param("wait_ms").value_or(""));
                    if (hold_ && r.query_param("wait_ms")) {
                      // Holds the request as the cloud does until the view changes.
                      released_.wait_for(lock, 20s, [this] { return !hold_; });
                    }
                    return http::Response::json(status_, answer_);
                  });
    auto port = cloud_->start();
    ASSERT_TRUE(port.ok()) << port.status().to_string();
    port_ = *port;
  }
  void TearDown() override {
    release();
    follower_.reset();
    cloud_->stop();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void open_store() {
    store::StoreOptions o;
    o.path = dir_ + "/edge.db";
    auto s = store::EdgeStore::open(o, clock_, bus_, log::Logger(sink_, log::Level::kInfo, "t"),
                                    metrics_);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    store_ = std::move(*s);
  }
  void make_follower(int port) {
    PricingFollowerOptions o;
    o.cloud_url = "http://127.0.0.1:" + std::to_string(port);
    o.store_id = "s1";
    o.store_secret = "x";
    follower_ = std::make_unique<PricingFollower>(
        o, *store_, bus_, clock_, log::Logger(sink_, log::Level::kInfo, "t"), metrics_);
  }
  void answer(json body, int status = 200) {
    std::lock_guard lock(mutex_);
    answer_ = std::move(body);
    status_ = status;
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      hold_ = false;
    }
    released_.notify_all();
  }

  std::string dir_;
  FakeClock clock_{WallTime(std::chrono::milliseconds(1'800'000'000'000))};
  events::EventBus bus_;
  std::shared_ptr<log::MemorySink> sink_ = std::make_shared<log::MemorySink>();
  metrics::Registry metrics_;
  std::unique_ptr<store::EdgeStore> store_;
  std::unique_ptr<http::HttpServer> cloud_;
  int port_ = 0;
  std::unique_ptr<PricingFollower> follower_;
  std::mutex mutex_;  // guards what the fake cloud answers and what it was asked
  std::condition_variable released_;
  json answer_ = view("v1");
  int status_ = 200;
  bool hold_ = false;
  std::vector<std::string> queries_;
};

TEST_F(PricingFollowerTest, ANewViewIsStoredShownAndKeptAcrossARestart) {
  make_follower(port_);
  EXPECT_TRUE(follower_->status_json()["view"].is_null());
  EXPECT_EQ(follower_->status_json()["age_ms"], -1);
  const std::uint64_t head = bus_.head();
  ASSERT_EQ(follower_->follow_once(5s).value_or(false), true);
  json s = follower_->status_json();
  EXPECT_EQ(s["view"]["version"], "v1");
  EXPECT_EQ(s["view"]["delivery_fee"]["amount_cents"], 4'900);
  EXPECT_TRUE(s["cloud_reachable"]);
  auto events = bus_.read(head, 10, 0ms);
  ASSERT_EQ(events.events.size(), 1u);
  EXPECT_EQ(events.events[0].type, "pricing.updated");
  // The first request holds no version, so the cloud answers at once; the next one
  // names it and asks to be held.
  EXPECT_EQ(follower_->follow_once(5s).value_or(true), false);  // same version
  {
    std::lock_guard lock(mutex_);
    ASSERT_EQ(queries_.size(), 2u);
    EXPECT_EQ(queries_[0], "|");
    EXPECT_EQ(queries_[1], "v1|5000");
  }
  // The kill switch arrives.
  answer(view("v2", false));
  ASSERT_EQ(follower_->follow_once(5s).value_or(false), true);
  EXPECT_FALSE(follower_->status_json()["view"]["enabled"]);

  // Restarted with the cloud gone: the stored view, with its age.
  follower_.reset();
  cloud_->stop();
  store_.reset();
  open_store();
  make_follower(port_);
  ASSERT_TRUE(follower_->start().is_ok());
  clock_.advance(90s);
  s = follower_->status_json();
  EXPECT_EQ(s["view"]["version"], "v2");
  EXPECT_FALSE(s["view"]["enabled"]);
  EXPECT_EQ(s["age_ms"], 90'000);
  EXPECT_FALSE(s["cloud_reachable"]);
}

TEST_F(PricingFollowerTest, AMalformedOrForeignViewChangesNothing) {
  make_follower(port_);
  ASSERT_EQ(follower_->follow_once(0ms).value_or(false), true);
  for (const json& bad : {view("v9", true, "s2"), json{{"version", "v9"}}, json::array(),
                          json{{"store_id", "s1"}, {"version", 5}}}) {
    answer(bad);
    StatusOr<bool> r = follower_->follow_once(0ms);
    ASSERT_FALSE(r.ok()) << bad.dump();
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(follower_->status_json()["view"]["version"], "v1");
    EXPECT_FALSE(follower_->status_json()["cloud_reachable"]);
  }
  answer(view("v1"), 401);
  EXPECT_EQ(follower_->follow_once(0ms).status().code(), StatusCode::kUnavailable);
  answer(view("v1"), 429);
  EXPECT_EQ(follower_->follow_once(0ms).status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(follower_->status_json()["view"]["version"], "v1");
}

TEST_F(PricingFollowerTest, StopEndsAHeldRequestAtOnce) {
  make_follower(port_);
  ASSERT_EQ(follower_->follow_once(0ms).value_or(false), true);
  {
    std::lock_guard lock(mutex_);
    hold_ = true;
    queries_.clear();
  }
  ASSERT_TRUE(follower_->start().is_ok());
  // Wait (with a deadline) until the thread's held request reached the cloud.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (!queries_.empty()) break;
    }
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::yield();
  }
  const auto before = std::chrono::steady_clock::now();
  follower_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 2s);
}

TEST_F(PricingFollowerTest, AnUnreachableCloudIsAnErrorAndTheViewStays) {
  make_follower(port_);
  ASSERT_EQ(follower_->follow_once(0ms).value_or(false), true);
  cloud_->stop();
  StatusOr<bool> r = follower_->follow_once(0ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(follower_->status_json()["view"]["version"], "v1");
  EXPECT_FALSE(follower_->status_json()["last_error"].get<std::string>().empty());
}

}  // namespace
}  // namespace shopeasy::edge::pricing
