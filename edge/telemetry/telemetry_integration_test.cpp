// Telemetry against a real mosquitto: the MosquittoClient feeds the pipeline, outside
// clients (mosquitto_pub / mosquitto_sub) play the runners' phones.
#include <gtest/gtest.h>

#include "edge/mqtt/mqtt_client.hpp"
#include "edge/telemetry/telemetry.hpp"
#include "tests/harness/harness.hpp"

namespace shopeasy::edge::telemetry {
namespace {

using namespace std::chrono_literals;

constexpr double kLat = 12.9716;
constexpr double kLon = 77.5946;

class TelemetryBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto broker = testing::MosquittoBroker::start();
    if (!broker.ok() && broker.status().code() == StatusCode::kNotFound) {
      GTEST_SKIP() << "mosquitto is not installed";
    }
    ASSERT_TRUE(broker.ok()) << broker.status().to_string();
    broker_.emplace(std::move(*broker));
    auto dir = testing::TempDir::create("telemetry-it");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));

    TelemetryOptions o;
    o.state_dir = dir_->path().string();
    o.runners = {"r1", "r2"};
    o.tick_interval_ms = 50;
    auto t = Telemetry::open(o, clock_, bus_, nullptr, logger(), metrics_);
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    telemetry_ = std::move(*t);

    mqtt::MosquittoOptions mo;
    mo.host = broker_->host();
    mo.port = broker_->port();
    mo.client_id = "edge-under-test";
    mo.min_backoff = 50ms;
    mo.max_backoff = 200ms;
    client_ =
        std::make_unique<mqtt::MosquittoClient>(mo, telemetry_->handler(), logger(), metrics_);
    for (const auto& s : Telemetry::subscriptions()) client_->subscribe(s.topic_filter, s.qos);
    telemetry_->set_publisher(client_.get());
    ASSERT_TRUE(client_->start().is_ok());
    // The SUBACK follows the CONNACK: until it arrives a publish may not reach us.
    ASSERT_TRUE(testing::wait_for([&] { return client_->subscribed(); }, 10s));
  }
  void TearDown() override {
    if (client_) client_->stop();
    if (telemetry_) telemetry_->stop();
  }
  log::Logger logger() { return log::Logger(sink_, log::Level::kInfo, "it"); }

  // Publishes with mosquitto_pub as an outside client and waits for it to finish.
  void publish(const std::string& topic, const std::string& payload,
               std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {
        "mosquitto_pub", "-h", broker_->host(), "-p", std::to_string(broker_->port()), "-t",
        topic,           "-m", payload};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto child = testing::ChildProcess::spawn({.argv = argv});
    ASSERT_TRUE(child.ok()) << child.status().to_string();
    auto code = child->wait_exit(10s);
    ASSERT_TRUE(code.has_value()) << child->describe();
    ASSERT_EQ(*code, 0) << child->describe();
  }
  std::string telemetry_json(const std::string& runner, double lat, std::int64_t ts) {
    wire::Telemetry t;
    t.runner_id = runner;
    t.lat = lat;
    t.lon = kLon;
    t.accuracy_m = 5;
    t.device_ts_ms = ts;
    return wire::dump_compact(wire::encode(t));
  }
  std::int64_t now_ms() const { return to_unix_ms(clock_.wall_now()); }

  SystemClock clock_;
  events::EventBus bus_;
  std::shared_ptr<log::MemorySink> sink_ = std::make_shared<log::MemorySink>();
  metrics::Registry metrics_;
  std::optional<testing::MosquittoBroker> broker_;
  std::optional<testing::TempDir> dir_;
  std::unique_ptr<Telemetry> telemetry_;
  std::unique_ptr<mqtt::MosquittoClient> client_;
};

TEST_F(TelemetryBrokerTest, GoodAndBadPayloadsFromARealBroker) {
  publish("runners/r1/telemetry", telemetry_json("r1", kLat, now_ms()));
  ASSERT_TRUE(testing::wait_for([&] { return telemetry_->runner("r1")->fix.has_value(); }, 10s));
  EXPECT_DOUBLE_EQ(telemetry_->runner("r1")->fix->lat, kLat);

  publish("runners/r1/telemetry", "{definitely not json");
  publish("runners/r1/telemetry", R"({"runner_id":"r1","lat":123,"lon":77,"device_ts_ms":1})");
  publish("runners/r1/telemetry", R"({"runner_id":"r1","lat":"x","lon":77,"device_ts_ms":1})");
  publish("runners/r1/telemetry", telemetry_json("r2", kLat, now_ms()));
  publish("runners/ghost/telemetry", telemetry_json("ghost", kLat, now_ms()));
  publish("runners/r1/telemetry", std::string(5000, 'x'));
  publish("runners/r1/status", R"({"runner_id":"r1","status":42,"ts_ms":1})");
  publish("runners/r1/events", R"({"event_id":"e","runner_id":"r1","type":"nope","ts_ms":1})");
  ASSERT_TRUE(testing::wait_for(
      [&] {
        return telemetry_->dropped(DropReason::kMalformedJson) == 1 &&
               telemetry_->dropped(DropReason::kBadPosition) == 2 &&
               telemetry_->dropped(DropReason::kRunnerMismatch) == 1 &&
               telemetry_->dropped(DropReason::kUnknownRunner) == 1 &&
               telemetry_->dropped(DropReason::kTooLarge) == 1 &&
               telemetry_->dropped(DropReason::kInvalid) == 2;
      },
      10s))
      << metrics_.render();
  // Still alive and applying.
  const std::int64_t later = now_ms() + 1000;
  publish("runners/r1/telemetry", telemetry_json("r1", kLat + 0.0001, later));
  ASSERT_TRUE(testing::wait_for(
      [&] {
        return telemetry_->runner("r1")->fix->device_ts_ms == later && telemetry_->processed() == 2;
      },
      10s))
      << telemetry_->processed();
  EXPECT_TRUE(sink_->contains({"message_dropped", "reason=bad_position"}));
}

TEST_F(TelemetryBrokerTest, LastWillTurnsTheRunnerOffline) {
  // A phone that connects with a will and then vanishes without a DISCONNECT.
  // With -d its output reports the SUBACK, after which an assignment reaches it;
  // line-buffered, since mosquitto_sub does not flush its debug lines.
  auto phone = testing::ChildProcess::spawn(
      {.argv = {"stdbuf", "-oL", "mosquitto_sub", "-d", "-h", broker_->host(), "-p",
                std::to_string(broker_->port()), "-i", "r1", "-t", "runners/r1/assignment",
                "--will-topic", "runners/r1/status", "--will-payload",
                R"({"runner_id":"r1","status":"offline","ts_ms":1})", "--will-qos", "1",
                "--will-retain"}});
  ASSERT_TRUE(phone.ok()) << phone.status().to_string();
  ASSERT_TRUE(phone->wait_for_output("received SUBACK", 10s)) << phone->describe();
  publish("runners/r1/status", R"({"runner_id":"r1","status":"online","ts_ms":2})",
          {"-q", "1", "-r"});
  ASSERT_TRUE(testing::wait_for(
      [&] { return telemetry_->runner("r1")->presence == Presence::kOnline; }, 10s));

  // The edge can reach the phone meanwhile.
  wire::Assignment a;
  a.assignment_id = "as-1";
  a.runner_id = "r1";
  a.store = {kLat, kLon};
  a.stops = {wire::AssignmentStop{"o-1", kLat + 0.01, kLon, std::nullopt, now_ms() + 600'000}};
  a.issued_at_ms = now_ms();
  ASSERT_TRUE(telemetry_->send_assignment(a).is_ok());
  ASSERT_TRUE(phone->wait_for_output("as-1", 10s)) << phone->describe();

  ASSERT_TRUE(phone->kill9().has_value());
  ASSERT_TRUE(testing::wait_for(
      [&] { return telemetry_->runner("r1")->presence == Presence::kOffline; }, 10s));
}

TEST_F(TelemetryBrokerTest, ReceivesAgainAfterTheBrokerRestarts) {
  publish("runners/r1/telemetry", telemetry_json("r1", kLat, now_ms()));
  ASSERT_TRUE(testing::wait_for([&] { return telemetry_->runner("r1")->fix.has_value(); }, 10s));
  ASSERT_TRUE(broker_->restart().is_ok());
  // The new connection's subscriptions, not the old one's: the restarted broker has no
  // session to keep them in.
  ASSERT_TRUE(testing::wait_for([&] { return client_->subscribed_connections() >= 2; }, 15s));
  const std::int64_t later = now_ms() + 2000;
  publish("runners/r1/telemetry", telemetry_json("r1", kLat + 0.0001, later));
  ASSERT_TRUE(
      testing::wait_for([&] { return telemetry_->runner("r1")->fix->device_ts_ms == later; }, 15s));
  EXPECT_EQ(telemetry_->dropped(DropReason::kQueueFull), 0u);
}

}  // namespace
}  // namespace shopeasy::edge::telemetry
