// The dispatcher end to end with real processes: a mosquitto broker, the edge's
// Telemetry on a MosquittoClient, and the shopeasy-runner binary riding what it is
// assigned. An order packed at the store is assigned, picked up and delivered, with
// live positions in between, and the order book hears each step.
#include <gtest/gtest.h>

#include "edge/dispatch/dispatcher.hpp"
#include "edge/dispatch/fake_order_source.hpp"
#include "edge/mqtt/mqtt_client.hpp"
#include "tests/harness/harness.hpp"

namespace shopeasy::edge::dispatch {
namespace {

using namespace std::chrono_literals;

constexpr wire::GeoPoint kStore{12.9716, 77.5946};

class DispatchEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto broker = testing::MosquittoBroker::start();
    if (!broker.ok() && broker.status().code() == StatusCode::kNotFound) {
      GTEST_SKIP() << "mosquitto is not installed";
    }
    ASSERT_TRUE(broker.ok()) << broker.status().to_string();
    broker_.emplace(std::move(*broker));
    auto dir = testing::TempDir::create("dispatch-it");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));

    telemetry::TelemetryOptions o;
    o.state_dir = dir_->path().string();
    o.runners = {"rider-1"};
    o.tick_interval_ms = 50;
    o.max_speed_mps = 100;
    auto t = telemetry::Telemetry::open(o, clock_, bus_, nullptr, logger("telemetry"), metrics_);
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    telemetry_ = std::move(*t);

    mqtt::MosquittoOptions mo;
    mo.host = broker_->host();
    mo.port = broker_->port();
    mo.client_id = "edge-dispatch-test";
    mo.min_backoff = 50ms;
    mo.max_backoff = 200ms;
    client_ = std::make_unique<mqtt::MosquittoClient>(mo, telemetry_->handler(), logger("mqtt"),
                                                      metrics_);
    for (const auto& s : telemetry::Telemetry::subscriptions()) {
      client_->subscribe(s.topic_filter, s.qos);
    }
    telemetry_->set_publisher(client_.get());
    ASSERT_TRUE(client_->start().is_ok());
    ASSERT_TRUE(testing::wait_for([&] { return client_->connected(); }, 10s));
  }
  void TearDown() override {
    if (dispatcher_) dispatcher_->stop();
    if (runner_) {
      (void)runner_->terminate_and_wait(10s);
    }
    if (client_) client_->stop();
    if (telemetry_) telemetry_->stop();
  }
  log::Logger logger(const std::string& component) {
    return log::Logger(sink_, log::Level::kInfo, component);
  }
  std::int64_t now_ms() const { return to_unix_ms(clock_.wall_now()); }
  std::string log_text() const {
    std::string out;
    for (const auto& line : sink_->lines()) out += line + "\n";
    return out;
  }
  std::string describe() const {
    return log_text() + (runner_ ? runner_->describe() : std::string());
  }

  SystemClock clock_;
  events::EventBus bus_;
  std::shared_ptr<log::MemorySink> sink_ = std::make_shared<log::MemorySink>();
  metrics::Registry metrics_;
  FakeOrderSource source_;
  std::optional<testing::MosquittoBroker> broker_;
  std::optional<testing::TempDir> dir_;
  std::unique_ptr<telemetry::Telemetry> telemetry_;
  std::unique_ptr<mqtt::MosquittoClient> client_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::optional<testing::ChildProcess> runner_;
};

TEST_F(DispatchEndToEndTest, PackedOrderIsAssignedPickedUpAndDelivered) {
  // A fast rider so the ride takes seconds: 150 m out at 40 m/s, no dwell.
  auto runner = testing::ChildProcess::spawn(
      {.argv = {testing::binary_path("shopeasy-runner"), "--runner.id=rider-1",
                "--mqtt.port=" + std::to_string(broker_->port()), "--telemetry.interval_ms=200",
                "--runner.lat=" + std::to_string(kStore.lat),
                "--runner.lon=" + std::to_string(kStore.lon), "--runner.speed_mps=40",
                "--runner.dwell_ms=0"}});
  ASSERT_TRUE(runner.ok()) << runner.status().to_string();
  runner_.emplace(std::move(*runner));
  ASSERT_TRUE(testing::wait_for(
      [&] {
        auto v = telemetry_->runner("rider-1");
        return v && v->presence == telemetry::Presence::kOnline && v->fix.has_value();
      },
      15s))
      << describe();

  DispatcherOptions o;
  o.store = kStore;
  o.tick_interval_ms = 100;
  o.speed_mps = 40;
  o.position_interval_ms = 300;
  o.solver.handover_ms = 10'000;
  auto d = Dispatcher::start(o, source_, *telemetry_, clock_, logger("dispatch"), metrics_);
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  dispatcher_ = std::move(*d);

  const std::int64_t packed_at = now_ms();
  source_.add(
      {"order-1", kStore.lat + 150 / 111195.0, kStore.lon, packed_at + 10 * 60'000, packed_at, 3});

  ASSERT_TRUE(testing::wait_for([&] { return !source_.assigned().empty(); }, 10s)) << describe();
  const auto assigned = source_.assigned().front();
  EXPECT_EQ(assigned.order_id, "order-1");
  EXPECT_EQ(assigned.runner_id, "rider-1");
  EXPECT_GT(assigned.eta_ms, packed_at);
  EXPECT_LT(assigned.eta_ms, packed_at + 10 * 60'000);

  ASSERT_TRUE(testing::wait_for(
      [&] { return source_.has_event(wire::RunnerEventType::kDelivered, "order-1"); }, 30s))
      << describe();
  const auto events = source_.events();
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.front().type, wire::RunnerEventType::kPickedUp);
  EXPECT_EQ(events.front().order_id, "order-1");
  EXPECT_EQ(events.front().runner_id, "rider-1");
  EXPECT_EQ(events.back().type, wire::RunnerEventType::kDelivered);
  EXPECT_TRUE(dispatcher_->active_routes().empty());

  // While it rode, the order book had its position, moving away from the store.
  const auto positions = source_.positions();
  ASSERT_FALSE(positions.empty()) << describe();
  for (const auto& p : positions) {
    EXPECT_EQ(p.order_id, "order-1");
    EXPECT_EQ(p.runner_id, "rider-1");
    EXPECT_GE(p.lat, kStore.lat - 1e-6);
    EXPECT_LE(p.lat, kStore.lat + 160 / 111195.0);
    EXPECT_GT(p.eta_ms, packed_at);
  }
  // Assigned once; the runner rode it once.
  EXPECT_EQ(source_.assigned().size(), 1u);
  EXPECT_TRUE(source_.unassigned().empty());
}

}  // namespace
}  // namespace shopeasy::edge::dispatch
