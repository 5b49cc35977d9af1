// Integration tests of the runner device client against a real mosquitto broker:
// RunnerDevice driven directly by the test, and the shopeasy-runner binary as a child
// process. Messages are observed with mosquitto_sub, never with the code under test.
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock/clock.hpp"
#include "common/http/auth.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/wire/runner.hpp"
#include "tests/harness/harness.hpp"
#include "tools/runner/route.hpp"
#include "tools/runner/runner_daemon.hpp"
#include "tools/runner/runner_device.hpp"

namespace shopeasy::runner {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::MosquittoBroker;

// --- Observing the broker with mosquitto's own clients ---------------------------

std::vector<std::string> client_args(const MosquittoBroker& broker, const std::string& program) {
  return {program, "-h", broker.host(), "-p", std::to_string(broker.port())};
}

// A long-running `mosquitto_sub -v` on `topic`; each message prints as "topic payload".
ChildProcess subscribe(const MosquittoBroker& broker, const std::string& topic) {
  auto argv = client_args(broker, "mosquitto_sub");
  argv.insert(argv.end(), {"-t", topic, "-v", "-q", "1"});
  auto child = ChildProcess::spawn({.argv = argv});
  EXPECT_TRUE(child.ok()) << child.status().to_string();
  return std::move(*child);
}

// The retained message on `topic`, or nullopt when there is none (or the broker is
// not answering).
std::optional<std::string> read_retained(const MosquittoBroker& broker, const std::string& topic) {
  auto argv = client_args(broker, "mosquitto_sub");
  argv.insert(argv.end(), {"-t", topic, "-C", "1", "-W", "1", "--retained-only"});
  auto child = ChildProcess::spawn({.argv = argv});
  if (!child.ok()) return std::nullopt;
  const std::optional<int> code = child->wait_exit(10s);
  if (code != 0) return std::nullopt;
  std::string text = child->stdout_text();
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

// Polls the retained status of `runner_id` until it reads `presence`.
std::optional<wire::RunnerStatus> wait_retained_status(const MosquittoBroker& broker,
                                                       const std::string& runner_id,
                                                       wire::RunnerPresence presence,
                                                       std::chrono::milliseconds timeout) {
  std::optional<wire::RunnerStatus> found;
  testing::wait_for(
      [&] {
        const auto text = read_retained(broker, status_topic(runner_id));
        if (!text) return false;
        auto status = wire::parse_runner_status(*text);
        if (!status.ok() || status->status != presence) return false;
        found = *status;
        return true;
      },
      timeout, 100ms);
  return found;
}

// Publishes a retained marker under `prefix` and waits until `sub` prints it, which
// proves the subscription is in place before the test makes anything happen.
void sync_subscriber(const MosquittoBroker& broker, ChildProcess& sub, const std::string& prefix) {
  auto argv = client_args(broker, "mosquitto_pub");
  argv.insert(argv.end(), {"-t", prefix + "/marker", "-m", "m", "-r", "-q", "1"});
  auto pub = ChildProcess::spawn({.argv = argv});
  ASSERT_TRUE(pub.ok()) << pub.status().to_string();
  ASSERT_EQ(pub->wait_exit(10s), 0) << pub->describe();
  ASSERT_TRUE(sub.wait_for_output(prefix + "/marker m", 10s)) << sub.describe();
}

// Like sync_subscriber, for a subscription with a wildcard: the marker goes to `topic`,
// which the subscription must match.
void sync_wildcard(const MosquittoBroker& broker, ChildProcess& sub, const std::string& topic) {
  auto argv = client_args(broker, "mosquitto_pub");
  argv.insert(argv.end(), {"-t", topic, "-m", "m", "-r", "-q", "1"});
  auto pub = ChildProcess::spawn({.argv = argv});
  ASSERT_TRUE(pub.ok()) << pub.status().to_string();
  ASSERT_EQ(pub->wait_exit(10s), 0) << pub->describe();
  ASSERT_TRUE(sub.wait_for_output(topic + " m", 10s)) << sub.describe();
}

// The payloads `sub` printed for `topic`, in arrival order; complete lines only.
std::vector<std::string> payloads_on(const ChildProcess& sub, const std::string& topic) {
  std::vector<std::string> out;
  const std::string text = sub.stdout_text();
  std::size_t start = 0;
  for (std::size_t end = text.find('\n'); end != std::string::npos;
       start = end + 1, end = text.find('\n', start)) {
    const std::string line = text.substr(start, end - start);
    if (line.rfind(topic + " ", 0) == 0) out.push_back(line.substr(topic.size() + 1));
  }
  return out;
}

// Waits until `sub` has printed at least `n` messages on `topic`.
bool wait_payloads(const ChildProcess& sub, const std::string& topic, std::size_t n,
                   std::chrono::milliseconds timeout = 15s) {
  return testing::wait_for([&] { return payloads_on(sub, topic).size() >= n; }, timeout);
}

// Publishes one message with mosquitto_pub at QoS 1 and waits for it to finish.
void publish(const MosquittoBroker& broker, const std::string& topic, const std::string& payload) {
  auto argv = client_args(broker, "mosquitto_pub");
  argv.insert(argv.end(), {"-t", topic, "-m", payload, "-q", "1"});
  auto pub = ChildProcess::spawn({.argv = argv});
  ASSERT_TRUE(pub.ok()) << pub.status().to_string();
  ASSERT_EQ(pub->wait_exit(10s), 0) << pub->describe();
}

// A two-stop route for `runner_id` starting at `store`, the stops about 110 m apart.
std::string assignment_json(const std::string& runner_id, const std::string& id,
                            wire::GeoPoint store = {12.9700, 77.5900}) {
  wire::Assignment a;
  a.assignment_id = id;
  a.runner_id = runner_id;
  a.store = store;
  a.stops.push_back(
      {.order_id = id + "-o1", .lat = store.lat + 0.001, .lon = store.lon, .promised_at_ms = 1});
  a.stops.push_back({.order_id = id + "-o2",
                     .lat = store.lat + 0.001,
                     .lon = store.lon + 0.001,
                     .promised_at_ms = 1});
  a.issued_at_ms = 1'700'000'000'000;
  return wire::dump_compact(wire::encode(a));
}

// The decoded events `sub` printed on any runners/+/events topic, in arrival order.
std::vector<wire::RunnerEvent> events_seen(const ChildProcess& sub, const std::string& runner_id) {
  std::vector<wire::RunnerEvent> out;
  for (const auto& p : payloads_on(sub, events_topic(runner_id))) {
    auto e = wire::parse_runner_event(p);
    EXPECT_TRUE(e.ok()) << p;
    if (e.ok()) out.push_back(*e);
  }
  return out;
}

bool has_event(const std::vector<wire::RunnerEvent>& events, wire::RunnerEventType type,
               const std::string& order_id = {}) {
  return std::any_of(events.begin(), events.end(), [&](const wire::RunnerEvent& e) {
    return e.type == type && (order_id.empty() || e.order_id == order_id);
  });
}

// The value of one sample line ("name{labels} value") of a Prometheus text page.
std::optional<double> metric_value(const std::string& page, const std::string& series) {
  std::istringstream lines(page);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

// --- RunnerDevice driven by the test ------------------------------------------------

class RunnerDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = MosquittoBroker::start();
    ASSERT_TRUE(b.ok()) << b.status().to_string();
    broker_.emplace(std::move(*b));
  }

  RunnerDeviceOptions options(const std::string& id) const {
    RunnerDeviceOptions o;
    o.broker_uri = broker_->url();
    o.runner_id = id;
    o.keepalive = 5s;
    o.min_backoff = 20ms;
    o.max_backoff = 200ms;
    o.app_version = "1.2.3";
    return o;
  }

  std::unique_ptr<RunnerDevice> make_device(RunnerDeviceOptions o) {
    return std::make_unique<RunnerDevice>(std::move(o), clock_, logger_, metrics_);
  }

  // Services the device (as its owner thread would) until `cond` holds.
  static bool drive_until(RunnerDevice& device, const std::function<bool()>& cond,
                          std::chrono::milliseconds timeout = 15s) {
    return testing::wait_for(
        [&] {
          device.service();
          return cond();
        },
        timeout, 5ms);
  }

  std::optional<double> metric(const std::string& name, const std::string& runner_id) const {
    return metric_value(metrics_.render(), name + "{runner_id=\"" + runner_id + "\"}");
  }

  std::size_t log_lines_with(std::string_view needle) const {
    std::size_t n = 0;
    for (const auto& line : sink_->lines()) n += line.find(needle) != std::string::npos;
    return n;
  }

  std::optional<MosquittoBroker> broker_;
  SystemClock clock_;
  metrics::Registry metrics_;
  std::shared_ptr<log::MemorySink> sink_ = std::make_shared<log::MemorySink>();
  log::Logger logger_{sink_, log::Level::kDebug, "runner-test"};
};

TelemetrySample sample_at(double lat, double lon) {
  TelemetrySample s;
  s.lat = lat;
  s.lon = lon;
  s.accuracy_m = 4.5;
  s.speed_mps = 1.25;
  s.heading_deg = 90;
  s.battery_pct = 80;
  return s;
}

TEST_F(RunnerDeviceTest, PublishesRetainedOnlineStatusAndTelemetry) {
  std::atomic<int> wakes{0};
  RunnerDeviceOptions o = options("r-basic");
  o.on_wake = [&wakes] { wakes.fetch_add(1); };
  auto device = make_device(o);
  ASSERT_TRUE(device->start().is_ok());
  ASSERT_TRUE(drive_until(*device, [&] { return device->connected(); })) << broker_->output();
  // The owner was told to service the device when the connection came up.
  EXPECT_GE(wakes.load(), 1);

  ChildProcess sub = subscribe(*broker_, "runners/r-basic/#");
  ASSERT_TRUE(wait_payloads(sub, status_topic("r-basic"), 1)) << sub.describe();
  auto online = wire::parse_runner_status(payloads_on(sub, status_topic("r-basic")).at(0));
  ASSERT_TRUE(online.ok()) << online.status().to_string();
  EXPECT_EQ(online->runner_id, "r-basic");
  EXPECT_EQ(online->status, wire::RunnerPresence::kOnline);
  EXPECT_EQ(online->app_version, "1.2.3");
  EXPECT_EQ(online->battery_pct, 100);
  EXPECT_GT(online->ts_ms, 0);

  ASSERT_TRUE(device->publish_telemetry(sample_at(12.9716, 77.5946)).is_ok());
  ASSERT_TRUE(wait_payloads(sub, telemetry_topic("r-basic"), 1)) << sub.describe();
  const std::string payload = payloads_on(sub, telemetry_topic("r-basic")).at(0);
  const auto raw = nlohmann::json::parse(payload);
  for (const char* key : {"runner_id", "lat", "lon", "accuracy_m", "speed_mps", "heading_deg",
                          "battery_pct", "state", "device_ts_ms", "seq"}) {
    EXPECT_TRUE(raw.contains(key)) << key << " missing in " << payload;
  }
  auto t = wire::parse_telemetry(payload);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ(t->runner_id, "r-basic");
  EXPECT_DOUBLE_EQ(t->lat, 12.9716);
  EXPECT_DOUBLE_EQ(t->lon, 77.5946);
  EXPECT_EQ(t->speed_mps, 1.25);
  EXPECT_EQ(t->battery_pct, 80);
  EXPECT_EQ(t->state, wire::RunnerState::kIdle);
  EXPECT_EQ(t->seq, 1u);
  EXPECT_GT(t->device_ts_ms, 0);

  EXPECT_EQ(device->messages_published(), 2u);
  EXPECT_EQ(device->backlog_size(), 0u);
  EXPECT_EQ(metric("runner_connected", "r-basic"), 1.0);
  EXPECT_EQ(metric("runner_messages_published_total", "r-basic"), 2.0);
  EXPECT_EQ(metric("runner_backlog_size", "r-basic"), 0.0);
  EXPECT_TRUE(sink_->contains({"event=broker_connected", "runner=r-basic"}));
}

TEST_F(RunnerDeviceTest, ReconnectsAfterBrokerRestartAndFlushesBacklogOldestFirst) {
  RunnerDeviceOptions o = options("r-restart");
  o.backlog_capacity = 3;
  auto device = make_device(o);
  ASSERT_TRUE(device->start().is_ok());
  ASSERT_TRUE(drive_until(*device, [&] { return device->connected(); }));

  ASSERT_TRUE(broker_->kill9().is_ok());
  ASSERT_TRUE(drive_until(*device, [&] { return !device->connected(); }));
  EXPECT_EQ(metric("runner_connected", "r-restart"), 0.0);

  // Five reports while the broker is down: the two oldest fall out of the backlog.
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(device->publish_telemetry(sample_at(12.97 + i * 0.001, 77.59)).is_ok());
  }
  EXPECT_EQ(device->backlog_size(), 3u);
  EXPECT_EQ(device->backlog_dropped(), 2u);
  EXPECT_EQ(metric("runner_backlog_dropped_total", "r-restart"), 2.0);
  EXPECT_EQ(metric("runner_backlog_size", "r-restart"), 3.0);

  // The device only reconnects when serviced, so the subscriber is in place first.
  ASSERT_TRUE(broker_->restart().is_ok());
  ChildProcess sub = subscribe(*broker_, "runners/r-restart/#");
  sync_subscriber(*broker_, sub, "runners/r-restart");

  ASSERT_TRUE(
      drive_until(*device, [&] { return device->connected() && device->backlog_size() == 0; }));
  ASSERT_TRUE(wait_payloads(sub, telemetry_topic("r-restart"), 3)) << sub.describe();

  // "online" arrives before the backlog, and the backlog oldest first.
  const std::string out = sub.stdout_text();
  const auto status_at = out.find("runners/r-restart/status");
  const auto telemetry_at = out.find("runners/r-restart/telemetry");
  ASSERT_NE(status_at, std::string::npos) << out;
  EXPECT_LT(status_at, telemetry_at) << out;
  std::vector<std::uint64_t> seqs;
  for (const auto& p : payloads_on(sub, telemetry_topic("r-restart"))) {
    auto t = wire::parse_telemetry(p);
    ASSERT_TRUE(t.ok()) << p;
    seqs.push_back(t->seq.value_or(0));
  }
  EXPECT_EQ(seqs, (std::vector<std::uint64_t>{3, 4, 5}));

  // The broker lost everything when killed; the retained "online" is the new one.
  auto retained = wait_retained_status(*broker_, "r-restart", wire::RunnerPresence::kOnline, 10s);
  ASSERT_TRUE(retained.has_value());
  EXPECT_EQ(log_lines_with("event=broker_connected"), 2u);
  EXPECT_TRUE(sink_->contains({"event=broker_connection_lost", "runner=r-restart"}));
  EXPECT_TRUE(sink_->contains({"event=backlog_full", "capacity=3"}));
}

TEST_F(RunnerDeviceTest, ReceivesAnAssignmentRidesItAndPublishesEvents) {
  auto device = make_device(options("r-asg"));
  ASSERT_TRUE(device->start().is_ok());
  ChildProcess sub = subscribe(*broker_, "runners/+/events");
  sync_wildcard(*broker_, sub, "runners/sync/events");
  ASSERT_TRUE(drive_until(*device, [&] { return device->connected(); }));
  // The subscription goes out before "online" on the same connection, so once "online"
  // is retained the broker routes assignments to the device.
  ASSERT_TRUE(
      wait_retained_status(*broker_, "r-asg", wire::RunnerPresence::kOnline, 10s).has_value());
  EXPECT_FALSE(device->next_assignment().has_value());

  publish(*broker_, assignment_topic("r-asg"), assignment_json("r-asg", "asg-7"));
  ASSERT_TRUE(drive_until(*device, [&] { return device->assignments_received() >= 1; }));
  auto assignment = device->next_assignment();
  ASSERT_TRUE(assignment.has_value());
  EXPECT_EQ(assignment->assignment_id, "asg-7");
  ASSERT_EQ(assignment->stops.size(), 2u);
  EXPECT_FALSE(device->next_assignment().has_value());
  EXPECT_EQ(device->assignments_rejected(), 0u);
  EXPECT_EQ(metric("runner_assignments_received_total", "r-asg"), 1.0);

  FakeClock route_clock;
  auto route =
      RouteFollower::create({.runner_id = "r-asg", .home = assignment->store}, route_clock);
  ASSERT_TRUE(route.ok());
  ASSERT_TRUE(route->assign(*assignment).is_ok());
  for (int i = 0; i < 100 && !route->idle(); ++i) {
    route_clock.advance(1s);
    for (const auto& e : route->advance()) ASSERT_TRUE(device->publish_event(e).is_ok());
  }
  EXPECT_TRUE(route->idle());

  ASSERT_TRUE(testing::wait_for(
      [&] {
        device->service();
        return events_seen(sub, "r-asg").size() >= 7;
      },
      15s))
      << sub.describe();
  const auto events = events_seen(sub, "r-asg");
  EXPECT_EQ(events.front().type, wire::RunnerEventType::kPickedUp);
  EXPECT_TRUE(has_event(events, wire::RunnerEventType::kPickedUp, "asg-7-o2"));
  EXPECT_TRUE(has_event(events, wire::RunnerEventType::kDelivered, "asg-7-o1"));
  EXPECT_TRUE(has_event(events, wire::RunnerEventType::kDelivered, "asg-7-o2"));
  EXPECT_EQ(events.back().type, wire::RunnerEventType::kReturned);
  EXPECT_EQ(events.back().runner_id, "r-asg");
  EXPECT_EQ(device->event_backlog_size(), 0u);
}

TEST_F(RunnerDeviceTest, BadAssignmentsAreCountedAndIgnored) {
  auto device = make_device(options("r-bad"));
  ASSERT_TRUE(device->start().is_ok());
  ASSERT_TRUE(drive_until(*device, [&] { return device->connected(); }));
  ASSERT_TRUE(
      wait_retained_status(*broker_, "r-bad", wire::RunnerPresence::kOnline, 10s).has_value());

  publish(*broker_, assignment_topic("r-bad"), "not json at all");
  publish(*broker_, assignment_topic("r-bad"), R"({"assignment_id":"a1","runner_id":"r-bad"})");
  publish(*broker_, assignment_topic("r-bad"), assignment_json("someone-else", "a2"));
  publish(*broker_, assignment_topic("r-bad"), assignment_json("r-bad", "a3"));
  ASSERT_TRUE(drive_until(*device, [&] { return device->assignments_received() >= 4; }));
  EXPECT_EQ(device->assignments_rejected(), 3u);
  EXPECT_EQ(metric("runner_assignments_rejected_total", "r-bad"), 3.0);
  // The good one after them still gets through.
  auto next = device->next_assignment();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->assignment_id, "a3");
  EXPECT_FALSE(device->next_assignment().has_value());
  EXPECT_TRUE(device->connected());
  EXPECT_GE(log_lines_with("event=assignment_rejected"), 1u);
  EXPECT_LE(log_lines_with("event=assignment_rejected"), 3u);
}

TEST_F(RunnerDeviceTest, EventsWaitOutAnOutageRefuseWhenFullAndGoBeforeTelemetry) {
  RunnerDeviceOptions o = options("r-ev");
  o.event_backlog_capacity = 2;
  auto device = make_device(o);
  wire::RunnerEvent picked{
      .event_id = "ev-1", .type = wire::RunnerEventType::kPickedUp, .order_id = "o-1"};
  EXPECT_EQ(device->publish_event(picked).code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(device->start().is_ok());
  ASSERT_TRUE(drive_until(*device, [&] { return device->connected(); }));

  // Events the edge would reject never leave.
  wire::RunnerEvent no_order{.event_id = "ev-x", .type = wire::RunnerEventType::kDelivered};
  EXPECT_EQ(device->publish_event(no_order).code(), StatusCode::kInvalidArgument);
  wire::RunnerEvent other = picked;
  other.runner_id = "someone-else";
  EXPECT_EQ(device->publish_event(other).field(), "runner_id");

  ASSERT_TRUE(broker_->kill9().is_ok());
  ASSERT_TRUE(drive_until(*device, [&] { return !device->connected(); }));
  ASSERT_TRUE(device->publish_event(picked).is_ok());
  wire::RunnerEvent delivered{
      .event_id = "ev-2", .type = wire::RunnerEventType::kDelivered, .order_id = "o-1"};
  ASSERT_TRUE(device->publish_event(delivered).is_ok());
  // Full: refused and counted, never dropped silently.
  wire::RunnerEvent third{.event_id = "ev-3", .type = wire::RunnerEventType::kReturned};
  EXPECT_EQ(device->publish_event(third).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(device->events_refused(), 1u);
  EXPECT_EQ(metric("runner_events_refused_total", "r-ev"), 1.0);
  EXPECT_GE(device->event_backlog_size(), 2u);
  ASSERT_TRUE(device->publish_telemetry(sample_at(12.97, 77.59)).is_ok());

  ASSERT_TRUE(broker_->restart().is_ok());
  ChildProcess sub = subscribe(*broker_, "runners/r-ev/#");
  sync_subscriber(*broker_, sub, "runners/r-ev");
  ASSERT_TRUE(drive_until(*device, [&] {
    return device->connected() && device->event_backlog_size() == 0 && device->backlog_size() == 0;
  }));
  ASSERT_TRUE(wait_payloads(sub, telemetry_topic("r-ev"), 1)) << sub.describe();
  ASSERT_TRUE(testing::wait_for([&] { return events_seen(sub, "r-ev").size() >= 2; }, 10s))
      << sub.describe();
  const auto events = events_seen(sub, "r-ev");
  EXPECT_EQ(events[0].event_id, "ev-1");
  EXPECT_EQ(events[0].runner_id, "r-ev");
  EXPECT_GT(events[0].ts_ms, 0);
  EXPECT_EQ(events[1].event_id, "ev-2");
  const std::string out = sub.stdout_text();
  EXPECT_LT(out.find("runners/r-ev/events"), out.find("runners/r-ev/telemetry")) << out;
  EXPECT_TRUE(sink_->contains({"event=event_backlog_full", "capacity=2"}));
}

TEST_F(RunnerDeviceTest, StopLeavesRetainedOfflineStatus) {
  auto device = make_device(options("r-stop"));
  ASSERT_TRUE(device->start().is_ok());
  ASSERT_TRUE(drive_until(*device, [&] { return device->connected(); }));
  ASSERT_TRUE(
      wait_retained_status(*broker_, "r-stop", wire::RunnerPresence::kOnline, 10s).has_value());

  device->stop();
  EXPECT_FALSE(device->connected());
  EXPECT_EQ(metric("runner_connected", "r-stop"), 0.0);
  auto offline = wait_retained_status(*broker_, "r-stop", wire::RunnerPresence::kOffline, 10s);
  ASSERT_TRUE(offline.has_value());
  EXPECT_EQ(offline->runner_id, "r-stop");
  EXPECT_TRUE(sink_->contains({"event=device_stopped", "offline_sent=true"}));

  // A stopped device stays stopped.
  EXPECT_EQ(device->publish_telemetry(sample_at(12.97, 77.59)).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(device->start().code(), StatusCode::kFailedPrecondition);
  device->service();
  device->stop();
}

TEST_F(RunnerDeviceTest, KeepsRetryingWithBackoffWhenNoBrokerListens) {
  RunnerDeviceOptions o = options("r-nobroker");
  const int port = testing::free_tcp_port();
  ASSERT_GT(port, 0);
  o.broker_uri = "tcp://127.0.0.1:" + std::to_string(port);
  auto device = make_device(o);
  ASSERT_TRUE(device->start().is_ok());
  ASSERT_TRUE(drive_until(*device, [&] {
    return metric("runner_connect_failures_total", "r-nobroker").value_or(0) >= 6;
  }));
  EXPECT_FALSE(device->connected());
  // The warning is rate-limited, not one line per attempt.
  EXPECT_GE(log_lines_with("event=broker_unreachable"), 1u);
  EXPECT_LE(log_lines_with("event=broker_unreachable"), 3u);

  // Telemetry waits in the backlog meanwhile.
  ASSERT_TRUE(device->publish_telemetry(sample_at(12.97, 77.59)).is_ok());
  EXPECT_EQ(device->backlog_size(), 1u);
  EXPECT_EQ(device->messages_published(), 0u);

  // While backing off, the device asks to be called back no later than max_backoff.
  const MonoTime next = device->service();
  EXPECT_LE(next - clock_.mono_now(), o.max_backoff + 100ms);
  device->stop();
  EXPECT_FALSE(device->connected());
}

TEST_F(RunnerDeviceTest, CaFileSwitchesToTlsAndNeverFallsBackToPlainText) {
  auto dir = testing::TempDir::create("runner-tls");
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(dir->write_file("ca.pem", "not a certificate\n").is_ok());
  RunnerDeviceOptions o = options("r-tls");
  o.ca_file = dir->file("ca.pem").string();
  auto device = make_device(o);
  EXPECT_EQ(device->broker_uri(), "ssl://127.0.0.1:" + std::to_string(broker_->port()));
  ASSERT_TRUE(device->start().is_ok());
  // The test broker only speaks plain MQTT: every TLS attempt fails.
  ASSERT_TRUE(drive_until(
      *device, [&] { return metric("runner_connect_failures_total", "r-tls").value_or(0) >= 2; }));
  EXPECT_FALSE(device->connected());
  EXPECT_FALSE(read_retained(*broker_, status_topic("r-tls")).has_value());
}

TEST_F(RunnerDeviceTest, RejectsBadOptions) {
  struct Case {
    std::string name;
    std::function<void(RunnerDeviceOptions&)> change;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"space in id", [](auto& o) { o.runner_id = "a b"; }, "runner_id"},
      {"empty id", [](auto& o) { o.runner_id = ""; }, "runner_id"},
      {"long id", [](auto& o) { o.runner_id = std::string(65, 'r'); }, "runner_id"},
      {"wrong scheme", [](auto& o) { o.broker_uri = "http://127.0.0.1:1883"; }, "broker_uri"},
      {"no port", [](auto& o) { o.broker_uri = "tcp://127.0.0.1"; }, "broker_uri"},
      {"port 0", [](auto& o) { o.broker_uri = "tcp://127.0.0.1:0"; }, "broker_uri"},
      {"port too big", [](auto& o) { o.broker_uri = "tcp://127.0.0.1:70000"; }, "broker_uri"},
      {"missing CA", [](auto& o) { o.ca_file = "/nonexistent/ca.pem"; }, "ca_file"},
      {"no keepalive", [](auto& o) { o.keepalive = 0s; }, "keepalive"},
      {"empty backlog", [](auto& o) { o.backlog_capacity = 0; }, "backlog_capacity"},
      {"empty event backlog", [](auto& o) { o.event_backlog_capacity = 0; },
       "event_backlog_capacity"},
      {"no assignment queue", [](auto& o) { o.assignment_capacity = 0; }, "assignment_capacity"},
      {"inverted backoff", [](auto& o) { o.max_backoff = 1ms; }, "min_backoff"},
      {"empty version", [](auto& o) { o.app_version = ""; }, "app_version"},
      {"battery 101", [](auto& o) { o.battery_pct = 101; }, "battery_pct"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    RunnerDeviceOptions o = options("r-bad");
    c.change(o);
    auto device = make_device(o);
    const Status st = device->start();
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.to_string();
    EXPECT_EQ(st.field(), c.field) << st.to_string();
    EXPECT_FALSE(device->connected());
    EXPECT_EQ(device->publish_telemetry(sample_at(12.97, 77.59)).code(),
              StatusCode::kFailedPrecondition);
    EXPECT_FALSE(device->next_assignment().has_value());
  }
}

TEST_F(RunnerDeviceTest, RejectsOutOfRangeTelemetryWithoutUsingASeq) {
  auto device = make_device(options("r-samples"));
  EXPECT_EQ(device->publish_telemetry(sample_at(12.97, 77.59)).code(),
            StatusCode::kFailedPrecondition);
  ASSERT_TRUE(device->start().is_ok());
  ASSERT_TRUE(drive_until(*device, [&] { return device->connected(); }));

  struct Case {
    std::string name;
    std::function<void(TelemetrySample&)> change;
    std::string field;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<Case> cases = {
      {"lat 91", [](auto& s) { s.lat = 91; }, "lat"},
      {"lon NaN", [nan](auto& s) { s.lon = nan; }, "lon"},
      {"lon -181", [](auto& s) { s.lon = -181; }, "lon"},
      {"negative accuracy", [](auto& s) { s.accuracy_m = -1; }, "accuracy_m"},
      {"negative speed", [](auto& s) { s.speed_mps = -0.5; }, "speed_mps"},
      {"heading 360", [](auto& s) { s.heading_deg = 360; }, "heading_deg"},
      {"battery -5", [](auto& s) { s.battery_pct = -5; }, "battery_pct"},
      {"device time before 1970", [](auto& s) { s.device_ts_ms = -5; }, "device_ts_ms"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    TelemetrySample s = sample_at(12.97, 77.59);
    c.change(s);
    const Status st = device->publish_telemetry(s);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.to_string();
    EXPECT_EQ(st.field(), c.field) << st.to_string();
  }
  EXPECT_EQ(device->last_seq(), 0u);
  // Only the "online" status went out.
  EXPECT_EQ(device->messages_published(), 1u);
  ASSERT_TRUE(device->publish_telemetry(sample_at(12.97, 77.59)).is_ok());
  EXPECT_EQ(device->last_seq(), 1u);
  EXPECT_EQ(device->messages_published(), 2u);
}

// --- The shopeasy-runner binary -----------------------------------------------------

class RunnerDaemonTest : public ::testing::Test {
 protected:
  static StatusOr<ChildProcess> spawn_runner(std::vector<std::string> args,
                                             std::map<std::string, std::string> env = {}) {
    std::vector<std::string> argv = {testing::binary_path("shopeasy-runner")};
    argv.insert(argv.end(), args.begin(), args.end());
    return ChildProcess::spawn({.argv = std::move(argv), .env = std::move(env)});
  }

  // The HTTP port the daemon logged in its "started" line, or 0.
  static int http_port_of(const ChildProcess& child) {
    const std::optional<std::string> started = child.wait_for_line("event=started", 15s);
    if (!started) return 0;
    const std::string& out = *started;
    const std::string key = "http_port=";
    const std::size_t at = out.find(key);
    if (at == std::string::npos) return 0;
    int port = 0;
    for (std::size_t i = at + key.size();
         i < out.size() && std::isdigit(static_cast<unsigned char>(out[i])); ++i) {
      port = port * 10 + (out[i] - '0');
    }
    return port;
  }

  static std::optional<nlohmann::json> health(int port) {
    auto reply = testing::http_request("127.0.0.1", port, "GET", "/health");
    if (!reply || reply->status != 200) return std::nullopt;
    return nlohmann::json::parse(reply->body, nullptr, false);
  }
};

TEST_F(RunnerDaemonTest, PublishesHeartbeatServesHealthAndMetricsAndStopsCleanly) {
  auto broker = MosquittoBroker::start();
  ASSERT_TRUE(broker.ok()) << broker.status().to_string();
  ChildProcess sub = subscribe(*broker, "runners/r-daemon/#");
  sync_subscriber(*broker, sub, "runners/r-daemon");

  const nlohmann::json tokens = {
      {{"name", "prometheus"}, {"role", "metrics"}, {"sha256", http::sha256_hex("scrape-me")}}};
  auto runner =
      spawn_runner({"--runner.id=r-daemon", "--mqtt.port=" + std::to_string(broker->port()),
                    "--telemetry.interval_ms=100", "--runner.lat=12.9800", "--runner.lon=77.6000"},
                   {{"SHOPEASY_RUNNER_AUTH_TOKENS", tokens.dump()}});
  ASSERT_TRUE(runner.ok()) << runner.status().to_string();
  const int port = http_port_of(*runner);
  ASSERT_GT(port, 0) << runner->describe();

  // Online first, then heartbeats at the configured position.
  ASSERT_TRUE(wait_payloads(sub, telemetry_topic("r-daemon"), 3))
      << sub.describe() << runner->describe();
  const std::string out = sub.stdout_text();
  EXPECT_LT(out.find("runners/r-daemon/status"), out.find("runners/r-daemon/telemetry")) << out;
  auto online = wire::parse_runner_status(payloads_on(sub, status_topic("r-daemon")).at(0));
  ASSERT_TRUE(online.ok()) << online.status().to_string();
  EXPECT_EQ(online->status, wire::RunnerPresence::kOnline);
  EXPECT_TRUE(online->app_version.has_value());
  const auto reports = payloads_on(sub, telemetry_topic("r-daemon"));
  std::uint64_t previous_seq = 0;
  for (const auto& p : reports) {
    auto t = wire::parse_telemetry(p);
    ASSERT_TRUE(t.ok()) << p;
    EXPECT_DOUBLE_EQ(t->lat, 12.98);
    EXPECT_DOUBLE_EQ(t->lon, 77.6);
    EXPECT_EQ(t->state, wire::RunnerState::kIdle);
    EXPECT_GT(t->seq.value_or(0), previous_seq);
    previous_seq = t->seq.value_or(0);
  }

  std::optional<nlohmann::json> h;
  ASSERT_TRUE(testing::wait_for(
      [&] {
        h = health(port);
        return h && h->value("/mqtt/connected"_json_pointer, false) &&
               h->value("messages_published", 0) >= 3;
      },
      10s))
      << (h ? h->dump() : "no health") << runner->describe();
  EXPECT_EQ(h->value("runner_id", ""), "r-daemon");
  EXPECT_EQ(h->value("backlog_size", -1), 0);
  EXPECT_EQ(h->value("status", ""), "ok");

  auto anonymous = testing::http_request("127.0.0.1", port, "GET", "/metrics");
  ASSERT_TRUE(anonymous.has_value());
  EXPECT_EQ(anonymous->status, 401);
  auto scrape = testing::http_request("127.0.0.1", port, "GET", "/metrics", {},
                                      {{"Authorization", "Bearer scrape-me"}});
  ASSERT_TRUE(scrape.has_value());
  ASSERT_EQ(scrape->status, 200) << scrape->body;
  EXPECT_EQ(metric_value(scrape->body, "runner_connected{runner_id=\"r-daemon\"}"), 1.0);
  EXPECT_GE(metric_value(scrape->body, "runner_messages_published_total{runner_id=\"r-daemon\"}")
                .value_or(0),
            3.0);

  EXPECT_EQ(runner->terminate_and_wait(10s), 0) << runner->describe();
  auto offline = wait_retained_status(*broker, "r-daemon", wire::RunnerPresence::kOffline, 10s);
  EXPECT_TRUE(offline.has_value());
  EXPECT_NE(runner->output().find("event=stopped"), std::string::npos) << runner->describe();
}

TEST_F(RunnerDaemonTest, RidesAnAssignedRouteReportingEventsAndTelemetry) {
  auto broker = MosquittoBroker::start();
  ASSERT_TRUE(broker.ok()) << broker.status().to_string();
  ChildProcess sub = subscribe(*broker, "runners/#");
  sync_subscriber(*broker, sub, "runners/sync");
  auto runner =
      spawn_runner({"--runner.id=r-ride", "--mqtt.port=" + std::to_string(broker->port()),
                    "--telemetry.interval_ms=100", "--runner.lat=12.97", "--runner.lon=77.59",
                    "--runner.speed_mps=50", "--runner.dwell_ms=800"});
  ASSERT_TRUE(runner.ok()) << runner.status().to_string();
  ASSERT_TRUE(wait_payloads(sub, status_topic("r-ride"), 1))
      << sub.describe() << runner->describe();

  publish(*broker, assignment_topic("r-ride"), assignment_json("r-ride", "asg-r"));
  ASSERT_TRUE(testing::wait_for(
      [&] { return has_event(events_seen(sub, "r-ride"), wire::RunnerEventType::kReturned); }, 20s))
      << sub.describe() << runner->describe();
  const auto events = events_seen(sub, "r-ride");
  std::vector<wire::RunnerEventType> types;
  for (const auto& e : events) types.push_back(e.type);
  using T = wire::RunnerEventType;
  EXPECT_EQ(types, (std::vector<T>{T::kPickedUp, T::kPickedUp, T::kArrivedCustomer, T::kDelivered,
                                   T::kArrivedCustomer, T::kDelivered, T::kReturned}));
  EXPECT_EQ(events[3].order_id, "asg-r-o1");
  EXPECT_EQ(events[5].order_id, "asg-r-o2");

  // Telemetry showed the runner riding (moving, away from the store) and back idle.
  ASSERT_TRUE(testing::wait_for(
      [&] {
        const auto reports = payloads_on(sub, telemetry_topic("r-ride"));
        if (reports.empty()) return false;
        auto last = wire::parse_telemetry(reports.back());
        return last.ok() && last->state == wire::RunnerState::kIdle &&
               events.back().ts_ms <= last->device_ts_ms;
      },
      10s));
  bool saw_riding = false;
  bool saw_at_customer = false;
  for (const auto& p : payloads_on(sub, telemetry_topic("r-ride"))) {
    auto t = wire::parse_telemetry(p);
    ASSERT_TRUE(t.ok()) << p;
    if (t->state == wire::RunnerState::kToCustomer) {
      saw_riding = true;
      EXPECT_EQ(t->speed_mps, 50.0);
      EXPECT_GT(t->lat, 12.97 - 1e-9);
    }
    saw_at_customer = saw_at_customer || t->state == wire::RunnerState::kAtCustomer;
  }
  EXPECT_TRUE(saw_riding) << sub.describe();
  EXPECT_TRUE(saw_at_customer) << sub.describe();
  EXPECT_EQ(runner->terminate_and_wait(10s), 0) << runner->describe();
}

TEST_F(RunnerDaemonTest, FleetModeRunsTwentyRunnersWithTheirOwnConnections) {
  auto broker = MosquittoBroker::start();
  ASSERT_TRUE(broker.ok()) << broker.status().to_string();
  ChildProcess sub = subscribe(*broker, "runners/+/telemetry");
  sync_wildcard(*broker, sub, "runners/sync/telemetry");
  auto runner =
      spawn_runner({"--runner.mode=fleet", "--fleet.size=20", "--fleet.id_prefix=sim-r",
                    "--mqtt.port=" + std::to_string(broker->port()), "--telemetry.interval_ms=200",
                    "--runner.lat=12.97", "--runner.lon=77.59"});
  ASSERT_TRUE(runner.ok()) << runner.status().to_string();
  const int port = http_port_of(*runner);
  ASSERT_GT(port, 0) << runner->describe();

  std::set<std::string> ids;
  ASSERT_TRUE(testing::wait_for(
      [&] {
        ids.clear();
        std::istringstream lines(sub.stdout_text());
        std::string line;
        while (std::getline(lines, line)) {
          const std::size_t space = line.find(' ');
          if (space == std::string::npos) continue;
          auto t = wire::parse_telemetry(line.substr(space + 1));
          // Counted only when it came on the runner's own topic.
          if (t.ok() && line.substr(0, space) == telemetry_topic(t->runner_id)) {
            ids.insert(t->runner_id);
          }
        }
        return ids.size() >= 20;
      },
      30s))
      << ids.size() << " ids\n"
      << runner->describe();
  for (int i = 1; i <= 20; ++i) EXPECT_TRUE(ids.count("sim-r" + std::to_string(i))) << i;
  EXPECT_EQ(ids.size(), 20u);

  std::optional<nlohmann::json> h;
  ASSERT_TRUE(testing::wait_for(
      [&] {
        h = health(port);
        return h && h->value("/fleet/connected"_json_pointer, 0) == 20;
      },
      15s))
      << (h ? h->dump() : "no health");
  EXPECT_EQ(h->value("/fleet/size"_json_pointer, 0), 20);
  EXPECT_EQ(h->value("mode", ""), "fleet");
  EXPECT_GE(h->value("messages_published", 0), 40);
  EXPECT_EQ(h->value("backlog_size", -1), 0);
  EXPECT_EQ(h->value("event_backlog_size", -1), 0);

  // Each is its own client: each has its own retained presence.
  EXPECT_TRUE(
      wait_retained_status(*broker, "sim-r7", wire::RunnerPresence::kOnline, 10s).has_value());
  EXPECT_EQ(runner->terminate_and_wait(20s), 0) << runner->describe();
  EXPECT_TRUE(
      wait_retained_status(*broker, "sim-r20", wire::RunnerPresence::kOffline, 10s).has_value());
}

TEST_F(RunnerDaemonTest, LastWillMarksRunnerOfflineWhenKilled) {
  auto broker = MosquittoBroker::start();
  ASSERT_TRUE(broker.ok()) << broker.status().to_string();
  auto runner = spawn_runner({"--runner.id=r-will", "--mqtt.port=" + std::to_string(broker->port()),
                              "--mqtt.keepalive_s=2"});
  ASSERT_TRUE(runner.ok()) << runner.status().to_string();
  ASSERT_TRUE(
      wait_retained_status(*broker, "r-will", wire::RunnerPresence::kOnline, 15s).has_value())
      << runner->describe();

  EXPECT_EQ(runner->kill9(), -SIGKILL);
  // The broker notices within 1.5 x keepalive (3 s) at the latest; allow plenty more.
  auto offline = wait_retained_status(*broker, "r-will", wire::RunnerPresence::kOffline, 20s);
  ASSERT_TRUE(offline.has_value()) << broker->output();
  EXPECT_EQ(offline->runner_id, "r-will");
  EXPECT_FALSE(offline->app_version.has_value());
  EXPECT_EQ(runner->output().find("event=device_stopped"), std::string::npos);
}

TEST_F(RunnerDaemonTest, BadConfigurationExitsTwoNamingTheKey) {
  struct Case {
    std::vector<std::string> args;
    std::map<std::string, std::string> env;
    std::string key;
  };
  const std::vector<Case> cases = {
      {{"--runner.id=a b"}, {}, "runner.id"},
      {{"--runner.id="}, {}, "runner.id"},
      {{"--telemetry.interval_ms=5"}, {}, "telemetry.interval_ms"},
      {{}, {{"SHOPEASY_RUNNER_TELEMETRY_INTERVAL_MS", "70000"}}, "telemetry.interval_ms"},
      {{}, {{"SHOPEASY_RUNNER_RUNNER_ID", "bad/id"}}, "runner.id"},
      {{"--mqtt.ca_file=/nonexistent/ca.pem"}, {}, "mqtt.ca_file"},
      {{"--runner.mode=bogus"}, {}, "runner.mode"},
      {{"--runner.mode=fleet", "--fleet.size=0"}, {}, "fleet.size"},
      {{"--runner.mode=fleet", "--fleet.size=5001"}, {}, "fleet.size"},
      {{"--runner.mode=fleet", "--fleet.id_prefix=a/b"}, {}, "fleet.id_prefix"},
      {{"--runner.speed_mps=0"}, {}, "runner.speed_mps"},
      {{"--mqtt.port=0"}, {}, "mqtt.port"},
      {{"--no.such.key=1"}, {}, "no.such.key"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.key);
    auto runner = spawn_runner(c.args, c.env);
    ASSERT_TRUE(runner.ok()) << runner.status().to_string();
    EXPECT_EQ(runner->wait_exit(15s), 2) << runner->describe();
    EXPECT_NE(runner->stderr_text().find(c.key), std::string::npos) << runner->describe();
  }
}

TEST_F(RunnerDaemonTest, PrintConfigRedactsThePassword) {
  auto runner = spawn_runner({"--mqtt.password=hunter2-secret", "--print-config"});
  ASSERT_TRUE(runner.ok()) << runner.status().to_string();
  EXPECT_EQ(runner->wait_exit(15s), 0) << runner->describe();
  EXPECT_NE(runner->stdout_text().find("telemetry.interval_ms"), std::string::npos);
  EXPECT_EQ(runner->output().find("hunter2-secret"), std::string::npos) << runner->describe();
}

TEST_F(RunnerDaemonTest, MissingBrokerKeepsProcessUpAndHealthAnswering) {
  const int dead_port = testing::free_tcp_port();
  ASSERT_GT(dead_port, 0);
  auto runner = spawn_runner({"--runner.id=r-lonely", "--mqtt.port=" + std::to_string(dead_port),
                              "--telemetry.interval_ms=100", "--telemetry.backlog=5"});
  ASSERT_TRUE(runner.ok()) << runner.status().to_string();
  const int port = http_port_of(*runner);
  ASSERT_GT(port, 0) << runner->describe();

  // Reports pile up to the backlog bound, then the oldest are dropped.
  std::optional<nlohmann::json> h;
  ASSERT_TRUE(testing::wait_for(
      [&] {
        h = health(port);
        return h && h->value("backlog_dropped", 0) >= 2;
      },
      15s))
      << (h ? h->dump() : "no health") << runner->describe();
  EXPECT_EQ(h->value("runner_id", ""), "r-lonely");
  EXPECT_EQ(h->value("/mqtt/connected"_json_pointer, true), false);
  EXPECT_EQ(h->value("backlog_size", 0), 5);
  EXPECT_EQ(h->value("messages_published", -1), 0);
  EXPECT_TRUE(runner->is_running());
  EXPECT_TRUE(runner->wait_for_output("event=broker_unreachable", 10s)) << runner->describe();

  EXPECT_EQ(runner->terminate_and_wait(10s), 0) << runner->describe();
}

}  // namespace
}  // namespace shopeasy::runner
