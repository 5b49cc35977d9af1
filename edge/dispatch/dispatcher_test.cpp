// The Dispatcher driven tick by tick: a real Telemetry fed runner messages directly, a
// recording MQTT publisher and a fake order book.
#include "edge/dispatch/dispatcher.hpp"

#include <gtest/gtest.h>

#include "edge/dispatch/fake_order_source.hpp"
#include "tests/harness/harness.hpp"

namespace shopeasy::edge::dispatch {
namespace {

using namespace std::chrono_literals;

constexpr wire::GeoPoint kStore{12.9716, 77.5946};

class RecordingMqtt final : public mqtt::MqttClient {
 public:
  void subscribe(std::string, int) override {}
  Status publish(const std::string& topic, std::string_view payload, int qos, bool retain) override
      EXCLUDES(mutex_) {
    shopeasy::sync::MutexLock lock(mutex_);
    if (!up) return unavailable("broker unreachable");
    sent_.push_back({topic, std::string(payload), qos, retain});
    return Status::ok();
  }
  bool connected() const override { return up; }
  std::vector<mqtt::Message> sent() const EXCLUDES(mutex_) {
    shopeasy::sync::MutexLock lock(mutex_);
    return sent_;
  }
  std::atomic<bool> up{true};

 private:
  // Guards sent_: the dispatcher publishes from its thread while the test reads.
  mutable shopeasy::sync::Mutex mutex_;
  std::vector<mqtt::Message> sent_ GUARDED_BY(mutex_);
};

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = testing::TempDir::create("dispatch");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    telemetry::TelemetryOptions o;
    o.state_dir = dir_->path().string();
    o.runners = {"r1", "r2"};
    auto t = telemetry::Telemetry::open(o, clock_, bus_, &mqtt_, logger(), metrics_);
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    telemetry_ = std::move(*t);
    auto d = Dispatcher::start(options(), source_, *telemetry_, clock_, logger(), metrics_);
    ASSERT_TRUE(d.ok()) << d.status().to_string();
    dispatcher_ = std::move(*d);
  }
  void TearDown() override {
    if (dispatcher_) dispatcher_->stop();
    if (telemetry_) telemetry_->stop();
  }
  static DispatcherOptions options() {
    DispatcherOptions o;
    o.store = kStore;
    o.tick_interval_ms = 0;
    o.position_interval_ms = 0;
    return o;
  }
  log::Logger logger() { return log::Logger(sink_, log::Level::kInfo, "dispatch-test"); }
  std::int64_t now_ms() const { return to_unix_ms(clock_.wall_now()); }
  std::string log_text() const {
    std::string out;
    for (const auto& line : sink_->lines()) out += line + "\n";
    return out;
  }

  void feed(const std::string& runner, const std::string& kind, const nlohmann::json& body) {
    telemetry_->on_message({"runners/" + runner + "/" + kind, body.dump(), 1, false});
    ASSERT_TRUE(telemetry_->drain(5s));
  }
  void report(const std::string& runner, double lat, double lon, wire::RunnerState state) {
    wire::Telemetry t;
    t.runner_id = runner;
    t.lat = lat;
    t.lon = lon;
    t.state = state;
    // A riding phone reports its speed; the map then follows it at once.
    t.speed_mps = state == wire::RunnerState::kToCustomer ? 8.0 : 0.0;
    // Reports 10 s apart by the phone's clock (within the edge's future tolerance), so a
    // runner riding a few hundred metres between them is no teleport.
    t.device_ts_ms = now_ms() + 10'000 * (++reports_);
    feed(runner, "telemetry", wire::encode(t));
  }
  void event(const std::string& runner, wire::RunnerEventType type, const std::string& order) {
    wire::RunnerEvent e;
    e.event_id = "e" + std::to_string(++ts_);
    e.runner_id = runner;
    e.type = type;
    e.order_id = order;
    e.ts_ms = now_ms();
    feed(runner, "events", wire::encode(e));
  }
  void go_offline(const std::string& runner) {
    feed(runner, "status", {{"runner_id", runner}, {"status", "offline"}, {"ts_ms", now_ms()}});
  }
  PackedOrder order(const std::string& id, double north_m) const {
    return {id, kStore.lat + north_m / 111195.0, kStore.lon, now_ms() + 15 * 60'000, now_ms(), 2};
  }
  std::vector<wire::Assignment> assignments() const {
    std::vector<wire::Assignment> out;
    for (const auto& m : mqtt_.sent()) {
      auto a = wire::parse_assignment(m.payload);
      EXPECT_TRUE(a.ok()) << m.payload;
      EXPECT_EQ(m.topic, "runners/" + a->runner_id + "/assignment");
      EXPECT_EQ(m.qos, 1);
      if (a.ok()) out.push_back(*a);
    }
    return out;
  }
  std::optional<double> metric(const std::string& series) const {
    const std::string text = metrics_.render();
    const std::size_t at = text.find("\n" + series + " ");
    if (at == std::string::npos) return std::nullopt;
    return std::stod(text.substr(at + series.size() + 2));
  }

  SystemClock clock_;
  events::EventBus bus_;
  std::shared_ptr<log::MemorySink> sink_ = std::make_shared<log::MemorySink>();
  metrics::Registry metrics_;
  RecordingMqtt mqtt_;
  FakeOrderSource source_;
  std::optional<testing::TempDir> dir_;
  std::unique_ptr<telemetry::Telemetry> telemetry_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::int64_t ts_ = 0;
  std::int64_t reports_ = 0;
};

// The internal thread's rounds are timed on the dispatcher's clock: with a fake clock
// that does not move there is no second round however much real time passes; moving
// it by the interval brings one. (No runner is online, so every round decides again
// about the order still waiting.)
TEST_F(DispatcherTest, ItsThreadRunsRoundsOnTheDispatchersClock) {
  FakeClock fake;
  metrics::Registry own_metrics;
  DispatcherOptions o = options();
  o.tick_interval_ms = 50;
  source_.add(order("o1", 800));
  auto d = Dispatcher::start(o, source_, *telemetry_, fake, logger(), own_metrics);
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  ASSERT_TRUE(testing::wait_for([&] { return (*d)->decisions() >= 1; }, 5s));
  // Twenty real intervals: on the machine's clock there would have been more rounds.
  EXPECT_FALSE(testing::wait_for([&] { return (*d)->decisions() >= 2; }, 1s));
  EXPECT_EQ((*d)->decisions(), 1u);
  fake.advance(50ms);
  EXPECT_TRUE(testing::wait_for([&] { return (*d)->decisions() >= 2; }, 5s));
  (*d)->stop();
}

TEST_F(DispatcherTest, AssignsFollowsEventsAndReportsPositions) {
  report("r1", kStore.lat, kStore.lon, wire::RunnerState::kIdle);
  source_.add(order("o1", 800));
  dispatcher_->tick();

  const auto sent = assignments();
  ASSERT_EQ(sent.size(), 1u) << log_text();
  EXPECT_EQ(sent[0].runner_id, "r1");
  EXPECT_EQ(sent[0].store, kStore);
  ASSERT_EQ(sent[0].stops.size(), 1u);
  EXPECT_EQ(sent[0].stops[0].order_id, "o1");
  const auto assigned = source_.assigned();
  ASSERT_EQ(assigned.size(), 1u);
  EXPECT_EQ(assigned[0].runner_id, "r1");
  EXPECT_EQ(assigned[0].assignment_id, sent[0].assignment_id);
  // 800 m x 1.4 at 5 m/s plus a minute's handover.
  EXPECT_NEAR(static_cast<double>(assigned[0].eta_ms - sent[0].issued_at_ms), 224'000 + 60'000,
              2'000);
  EXPECT_EQ(dispatcher_->decisions(), 1u);

  // Nothing waits now: no second assignment, no new decision.
  dispatcher_->tick();
  EXPECT_EQ(assignments().size(), 1u);
  EXPECT_EQ(dispatcher_->decisions(), 1u);

  event("r1", wire::RunnerEventType::kPickedUp, "o1");
  report("r1", kStore.lat + 400 / 111195.0, kStore.lon, wire::RunnerState::kToCustomer);
  dispatcher_->tick();
  EXPECT_TRUE(source_.has_event(wire::RunnerEventType::kPickedUp, "o1"));
  const auto positions = source_.positions();
  ASSERT_FALSE(positions.empty());
  EXPECT_EQ(positions.back().order_id, "o1");
  EXPECT_EQ(positions.back().runner_id, "r1");
  // Half way: 400 m left.
  EXPECT_NEAR(static_cast<double>(positions.back().eta_ms - now_ms()), 112'000 + 60'000, 3'000);
  ASSERT_EQ(dispatcher_->active_routes().size(), 1u);
  EXPECT_EQ(dispatcher_->active_routes()[0].picked_up, std::vector<std::string>{"o1"});

  event("r1", wire::RunnerEventType::kDelivered, "o1");
  dispatcher_->tick();
  EXPECT_TRUE(source_.has_event(wire::RunnerEventType::kDelivered, "o1"));
  EXPECT_TRUE(dispatcher_->active_routes().empty());

  // Back at the store, the runner takes the next order.
  report("r1", kStore.lat, kStore.lon, wire::RunnerState::kIdle);
  source_.add(order("o2", 500));
  dispatcher_->tick();
  ASSERT_EQ(assignments().size(), 2u);
  EXPECT_EQ(assignments()[1].runner_id, "r1");
  EXPECT_EQ(metric("edge_dispatch_assignments_total"), 2.0);
  EXPECT_EQ(metric("edge_dispatch_decisions_total"), 2.0);
}

TEST_F(DispatcherTest, RunnerGoingOfflineBeforePickupGivesTheOrderBack) {
  report("r1", kStore.lat, kStore.lon, wire::RunnerState::kIdle);
  source_.add(order("o1", 800));
  dispatcher_->tick();
  ASSERT_EQ(source_.assigned().size(), 1u);

  go_offline("r1");
  report("r2", kStore.lat, kStore.lon, wire::RunnerState::kIdle);
  dispatcher_->tick();
  EXPECT_EQ(source_.unassigned(), std::vector<std::string>{"o1"});
  EXPECT_EQ(metric("edge_dispatch_released_total"), 1.0);
  // The same tick found it another runner.
  ASSERT_EQ(source_.assigned().size(), 2u);
  EXPECT_EQ(source_.assigned()[1].runner_id, "r2");
  EXPECT_TRUE(sink_->contains({"order_released", "order=o1"}));
}

TEST_F(DispatcherTest, CollectedOrdersStayWithARunnerThatGoesOffline) {
  report("r1", kStore.lat, kStore.lon, wire::RunnerState::kIdle);
  source_.add(order("o1", 800));
  dispatcher_->tick();
  event("r1", wire::RunnerEventType::kPickedUp, "o1");
  go_offline("r1");
  dispatcher_->tick();
  EXPECT_TRUE(source_.unassigned().empty());
  ASSERT_EQ(dispatcher_->active_routes().size(), 1u);
  EXPECT_EQ(dispatcher_->active_routes()[0].pending, std::vector<std::string>{"o1"});
}

TEST_F(DispatcherTest, NoRunnerCountsTheOrderAsWaiting) {
  source_.add(order("o1", 800));
  dispatcher_->tick();
  EXPECT_TRUE(mqtt_.sent().empty());
  EXPECT_EQ(metric("edge_dispatch_unassigned_total{reason=\"no_runner\"}"), 1.0);
  // A runner on the way to a customer of its own (not ours) is not taken either.
  report("r1", kStore.lat + 0.01, kStore.lon, wire::RunnerState::kToCustomer);
  dispatcher_->tick();
  EXPECT_TRUE(mqtt_.sent().empty());
  EXPECT_EQ(metric("edge_dispatch_unassigned_total{reason=\"no_runner\"}"), 2.0);
}

TEST_F(DispatcherTest, UnsentAssignmentGivesItsOrdersBack) {
  report("r1", kStore.lat, kStore.lon, wire::RunnerState::kIdle);
  source_.add(order("o1", 800));
  mqtt_.up = false;
  dispatcher_->tick();
  EXPECT_EQ(source_.unassigned(), std::vector<std::string>{"o1"});
  EXPECT_EQ(metric("edge_dispatch_assignment_failures_total"), 1.0);
  EXPECT_TRUE(dispatcher_->active_routes().empty());
  mqtt_.up = true;
  dispatcher_->tick();
  EXPECT_EQ(assignments().size(), 1u);
}

TEST_F(DispatcherTest, OrdersTheBookRefusesStayOffTheRoute) {
  report("r1", kStore.lat, kStore.lon, wire::RunnerState::kIdle);
  source_.add(order("gone", 700));
  source_.add(order("o1", 800));
  source_.refuse = {"gone"};
  dispatcher_->tick();
  const auto sent = assignments();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_EQ(sent[0].stops.size(), 1u);
  EXPECT_EQ(sent[0].stops[0].order_id, "o1");
  EXPECT_TRUE(sink_->contains({"assignment_refused_by_orders", "order=gone"}));
}

TEST_F(DispatcherTest, BadOrdersAndAnUnreadableBookAreSurvived) {
  report("r1", kStore.lat, kStore.lon, wire::RunnerState::kIdle);
  PackedOrder bad = order("bad", 500);
  bad.lat = 123;
  source_.add(bad);
  dispatcher_->tick();
  EXPECT_TRUE(mqtt_.sent().empty());
  EXPECT_EQ(metric("edge_dispatch_unassigned_total{reason=\"invalid_order\"}"), 1.0);

  source_.fail_reads = true;
  dispatcher_->tick();
  EXPECT_TRUE(sink_->contains({"packed_orders_unavailable"}));
}

TEST(DispatcherOptionsTest, BadOptionsNameTheOption) {
  struct Case {
    std::function<void(DispatcherOptions&)> change;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](auto& o) { o.store.lat = 100; }, "store"},
      {[](auto& o) { o.tick_interval_ms = -1; }, "tick_interval_ms"},
      {[](auto& o) { o.speed_mps = 0; }, "speed_mps"},
      {[](auto& o) { o.position_interval_ms = -5; }, "position_interval_ms"},
      {[](auto& o) { o.assignment_prefix = "a b"; }, "assignment_prefix"},
      {[](auto& o) { o.solver.max_batch = 9; }, "solver.max_batch"},
  };
  for (const auto& c : cases) {
    DispatcherOptions o;
    o.store = kStore;
    c.change(o);
    const Status s = validate(o);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.field;
    EXPECT_EQ(s.field(), c.field);
  }
}

}  // namespace
}  // namespace shopeasy::edge::dispatch
