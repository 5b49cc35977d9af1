#include "edge/telemetry/telemetry.hpp"

#include <gtest/gtest.h>

#include "tests/harness/temp_dir.hpp"
#include "tests/harness/wait.hpp"

namespace shopeasy::edge::telemetry {
namespace {

using namespace std::chrono_literals;

constexpr double kLat = 12.9716;
constexpr double kLon = 77.5946;

class FakeMqtt final : public mqtt::MqttClient {
 public:
  void subscribe(std::string, int) override {}
  Status publish(const std::string& topic, std::string_view payload, int qos,
                 bool retain) override {
    std::lock_guard lock(mutex_);
    if (!up) return unavailable("down");
    sent.push_back({topic, std::string(payload), qos, retain});
    return Status::ok();
  }
  bool connected() const override { return up; }
  bool up = true;
  std::mutex mutex_;
  std::vector<mqtt::Message> sent;
};

class TelemetryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = testing::TempDir::create("telemetry-test");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    open();
  }
  void open() {
    t_.reset();
    TelemetryOptions o = options();
    auto t = Telemetry::open(o, clock_, bus_, &mqtt_, log::Logger(sink_, log::Level::kInfo, "t"),
                             metrics_);
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    t_ = std::move(*t);
  }
  TelemetryOptions options() {
    TelemetryOptions o;
    o.state_dir = dir_->path().string();
    o.runners = {"r1", "r2"};
    o.stale_after_s = 10;
    o.retention_h = 24;
    return o;
  }
  std::int64_t now_ms() const { return to_unix_ms(clock_.wall_now()); }
  std::string telemetry_json(const std::string& runner, double lat, std::int64_t ts,
                             int battery = 90) {
    wire::Telemetry t;
    t.runner_id = runner;
    t.lat = lat;
    t.lon = kLon;
    t.accuracy_m = 5;
    t.battery_pct = battery;
    t.state = wire::RunnerState::kToCustomer;
    t.device_ts_ms = ts;
    return wire::dump_compact(wire::encode(t));
  }
  void send(const std::string& runner, const std::string& kind, const std::string& payload) {
    t_->handler()(mqtt::Message{"runners/" + runner + "/" + kind, payload, 0, false});
  }
  void drain() { ASSERT_TRUE(t_->drain(10s)); }
  // Every event of `type` on the bus: from the ring, and the newest per runner of the
  // coalesced ones (runner.updated).
  std::vector<events::Event> bus_events(const std::string& type) {
    auto r = bus_.read(0, 100000, 0ms);
    auto latest = bus_.read_latest(0, 100000);
    std::vector<events::Event> out;
    for (auto* events : {&r.events, &latest.events}) {
      for (auto& e : *events) {
        if (e.type == type) out.push_back(std::move(e));
      }
    }
    return out;
  }

  FakeClock clock_;
  events::EventBus bus_;
  FakeMqtt mqtt_;
  std::shared_ptr<log::MemorySink> sink_ = std::make_shared<log::MemorySink>();
  metrics::Registry metrics_;
  std::optional<testing::TempDir> dir_;
  std::unique_ptr<Telemetry> t_;
};

TEST_F(TelemetryTest, GoodTelemetryReachesTheRegistryAndTheBus) {
  send("r1", "telemetry", telemetry_json("r1", kLat, now_ms()));
  drain();
  auto v = t_->runner("r1");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->presence, Presence::kOnline);
  ASSERT_TRUE(v->fix.has_value());
  EXPECT_DOUBLE_EQ(v->fix->lat, kLat);
  EXPECT_EQ(v->battery_pct, 90);
  EXPECT_EQ(t_->processed(), 1u);

  auto updated = bus_events("runner.updated");
  ASSERT_EQ(updated.size(), 1u);
  EXPECT_EQ(updated[0].seq, 0);
  EXPECT_EQ(updated[0].body["id"], "r1");
  EXPECT_EQ(updated[0].body["presence"], "online");
  EXPECT_EQ(updated[0].body["battery_pct"], 90);
  EXPECT_DOUBLE_EQ(updated[0].body["lat"].get<double>(), kLat);
  EXPECT_FALSE(updated[0].body.contains("fix"));
  auto presence = bus_events("runner.presence");
  ASSERT_EQ(presence.size(), 1u);
  EXPECT_EQ(presence[0].seq, 0);
  EXPECT_EQ(presence[0].body["presence"], "online");
  EXPECT_EQ(presence[0].body["previous"], "unknown");
}

TEST_F(TelemetryTest, EveryKindOfBadInputIsDroppedAndCountedByReason) {
  const std::int64_t now = now_ms();
  send("r1", "telemetry", "{not json");
  send("r1", "telemetry", "NaN");
  send("r1", "telemetry", R"({"runner_id":"r1","lat":NaN,"lon":1,"device_ts_ms":1})");
  send("r1", "telemetry", R"({"runner_id":"r1","lat":"12.9","lon":77.5,"device_ts_ms":1})");
  send("r1", "telemetry", R"({"runner_id":"r1","lon":77.5,"device_ts_ms":1})");
  send("r1", "telemetry", R"({"runner_id":"r1","lat":91,"lon":77.5,"device_ts_ms":1})");
  send("r1", "telemetry", R"({"runner_id":"r1","lat":12,"lon":-181,"device_ts_ms":1})");
  send("r1", "telemetry", R"({"runner_id":"r1","lat":12,"lon":77})");
  send("r1", "telemetry",
       R"({"runner_id":"r1","lat":12,"lon":77,"device_ts_ms":1,"battery_pct":"x"})");
  send("r1", "telemetry", "[]");
  send("r1", "telemetry", "");
  send("r1", "telemetry", telemetry_json("r2", kLat, now));  // topic says r1
  send("ghost", "telemetry", telemetry_json("ghost", kLat, now));
  send("r1", "telemetry", std::string(5000, ' '));
  send("r1", "telemetry", telemetry_json("r1", kLat, now + 120'000));  // far future
  send("r1", "status", R"({"runner_id":"r1","status":"sleeping","ts_ms":1})");
  send("r1", "events", R"({"event_id":"e1","runner_id":"r1","type":"delivered","ts_ms":1})");
  t_->handler()(mqtt::Message{"runners/r 1/telemetry", "{}", 0, false});
  drain();

  EXPECT_EQ(t_->dropped(DropReason::kMalformedJson), 4u);  // incl. the empty payload
  EXPECT_EQ(t_->dropped(DropReason::kBadPosition), 4u);
  EXPECT_EQ(t_->dropped(DropReason::kInvalid), 5u);  // ts, battery, [], status, event
  EXPECT_EQ(t_->dropped(DropReason::kRunnerMismatch), 1u);
  EXPECT_EQ(t_->dropped(DropReason::kUnknownRunner), 1u);
  EXPECT_EQ(t_->dropped(DropReason::kTooLarge), 1u);
  EXPECT_EQ(t_->dropped(DropReason::kFutureTs), 1u);
  EXPECT_EQ(t_->dropped(DropReason::kBadTopic), 1u);
  EXPECT_FALSE(t_->runner("r1")->fix.has_value());
  EXPECT_TRUE(bus_events("runner.event").empty());

  // The pipeline is still healthy afterwards.
  send("r1", "telemetry", telemetry_json("r1", kLat, now));
  drain();
  EXPECT_TRUE(t_->runner("r1")->fix.has_value());
  const std::string text = metrics_.render();
  EXPECT_NE(text.find("edge_telemetry_dropped_total{reason=\"bad_position\"} 4"),
            std::string::npos);
  EXPECT_NE(text.find("edge_telemetry_dropped_total{reason=\"malformed_json\"} 4"),
            std::string::npos);
}

// Parsing and decoding are separate steps: a payload the parser refused for any reason
// (too deep counts) is malformed_json, and a decoder's error is never read for its text.
TEST_F(TelemetryTest, DropReasonComesFromTheStepThatRefusedNotFromErrorText) {
  send("r1", "telemetry", std::string(40, '[') + std::string(40, ']'));
  send("r1", "status", "{\"runner_id\":");
  drain();
  EXPECT_EQ(t_->dropped(DropReason::kMalformedJson), 2u);
  EXPECT_EQ(t_->dropped(DropReason::kInvalid), 0u);

  EXPECT_EQ(classify_parse_error(Status(StatusCode::kPayloadTooLarge, "too big")),
            DropReason::kTooLarge);
  EXPECT_EQ(classify_parse_error(invalid_argument("JSON nesting exceeds 32 levels")),
            DropReason::kMalformedJson);
  EXPECT_EQ(classify_decode_error(invalid_argument("malformed JSON, says the device", "reason")),
            DropReason::kInvalid);
  EXPECT_EQ(classify_decode_error(invalid_argument("malformed JSON", "lat")),
            DropReason::kBadPosition);
}

TEST_F(TelemetryTest, TeleportIsDroppedAndTheMapDoesNotJump) {
  send("r1", "telemetry", telemetry_json("r1", kLat, now_ms()));
  clock_.advance(1s);
  send("r1", "telemetry", telemetry_json("r1", kLat + 0.5, now_ms()));
  drain();
  EXPECT_EQ(t_->dropped(DropReason::kTeleport), 1u);
  EXPECT_DOUBLE_EQ(t_->runner("r1")->fix->lat, kLat);
  EXPECT_NE(metrics_.render().find("edge_telemetry_fixes_total{verdict=\"teleport\"} 1"),
            std::string::npos);
}

TEST_F(TelemetryTest, StatusAndEventsGetThroughATelemetryStorm) {
  for (int i = 0; i < 200; ++i) send("r1", "telemetry", telemetry_json("r1", kLat, now_ms()));
  send("r1", "status", R"({"runner_id":"r1","status":"offline","ts_ms":1})");
  send("r1", "events", R"({"event_id":"sos-1","runner_id":"r1","type":"sos","ts_ms":1})");
  drain();
  EXPECT_EQ(t_->dropped(DropReason::kRateLimited), 160u);
  EXPECT_EQ(t_->runner("r1")->presence, Presence::kOffline);
  auto ev = bus_events("runner.event");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].body["type"], "sos");
}

TEST_F(TelemetryTest, LastWillOfflineMakesTheRunnerOfflineAndTellsListeners) {
  std::vector<RunnerNotice> notices;
  std::mutex m;
  const auto id = t_->add_listener([&](const RunnerNotice& n) {
    std::lock_guard lock(m);
    notices.push_back(n);
  });
  send("r1", "status", R"({"runner_id":"r1","status":"online","ts_ms":1,"battery_pct":70})");
  drain();
  EXPECT_EQ(t_->runner("r1")->presence, Presence::kOnline);
  EXPECT_EQ(t_->runner("r1")->battery_pct, 70);
  // The will was set at connect time, so it carries an older ts than "online": it still
  // wins, because it arrives later.
  send("r1", "status", R"({"runner_id":"r1","status":"offline","ts_ms":1})");
  send("r2", "status", "offline");
  send("r2", "status", "");  // retained message cleared: ignored
  drain();
  EXPECT_EQ(t_->runner("r1")->presence, Presence::kOffline);
  EXPECT_EQ(t_->runner("r2")->presence, Presence::kOffline);
  t_->remove_listener(id);
  send("r1", "status", R"({"runner_id":"r1","status":"online","ts_ms":2})");
  drain();
  std::lock_guard lock(m);
  ASSERT_EQ(notices.size(), 3u);
  EXPECT_EQ(notices[0].kind, RunnerNotice::Kind::kPresence);
  EXPECT_EQ(notices[0].presence, Presence::kOnline);
  EXPECT_EQ(notices[1].runner_id, "r1");
  EXPECT_EQ(notices[1].presence, Presence::kOffline);
  EXPECT_EQ(notices[1].previous, Presence::kOnline);
  EXPECT_EQ(notices[2].runner_id, "r2");
  EXPECT_EQ(t_->dropped(DropReason::kInvalid), 0u);
}

TEST_F(TelemetryTest, EventsAreDeduplicatedByEventId) {
  std::vector<std::string> seen;
  std::mutex m;
  t_->add_listener([&](const RunnerNotice& n) {
    if (n.kind != RunnerNotice::Kind::kEvent) return;
    std::lock_guard lock(m);
    seen.push_back(n.event->event_id + ":" + std::string(wire::to_string(n.event->type)));
  });
  const std::string delivered =
      R"({"event_id":"ev-7","runner_id":"r1","type":"delivered","order_id":"o-1","ts_ms":5})";
  send("r1", "events", delivered);
  send("r1", "events", delivered);
  send("r1", "events",
       R"({"event_id":"ev-8","runner_id":"r1","type":"picked_up","order_id":"o-2","ts_ms":6})");
  drain();
  auto ev = bus_events("runner.event");
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].seq, 0);
  EXPECT_EQ(ev[0].body["order_id"], "o-1");
  std::lock_guard lock(m);
  EXPECT_EQ(seen, (std::vector<std::string>{"ev-7:delivered", "ev-8:picked_up"}));
  EXPECT_NE(metrics_.render().find("edge_telemetry_duplicate_events_total 1"), std::string::npos);
}

TEST_F(TelemetryTest, TickAnnouncesStaleRunners) {
  send("r1", "telemetry", telemetry_json("r1", kLat, now_ms()));
  drain();
  clock_.advance(9s);
  t_->tick();
  EXPECT_EQ(bus_events("runner.presence").size(), 1u);
  clock_.advance(1s);
  t_->tick();
  auto presence = bus_events("runner.presence");
  ASSERT_EQ(presence.size(), 2u);
  EXPECT_EQ(presence[1].body["presence"], "stale");
  EXPECT_EQ(t_->runner("r1")->presence, Presence::kStale);
  EXPECT_NE(metrics_.render().find("edge_telemetry_runners{presence=\"stale\"} 1"),
            std::string::npos);
}

TEST_F(TelemetryTest, ReplayedBacklogLandsInTheTrailNotOnTheMap) {
  const std::int64_t now = now_ms();
  send("r1", "telemetry", telemetry_json("r1", kLat, now));
  for (int i = 0; i < 120; ++i) {
    send("r1", "telemetry", telemetry_json("r1", kLat + 0.02, now - 3'600'000 + i * 1000));
    clock_.advance(50ms);  // keep within the rate limit
  }
  drain();
  EXPECT_DOUBLE_EQ(t_->runner("r1")->fix->lat, kLat);
  ASSERT_TRUE(t_->trail_store().flush(10s).is_ok());
  auto trail = t_->trail("r1", now - 3'600'000, now, 1000);
  ASSERT_TRUE(trail.ok());
  ASSERT_EQ(trail->size(), 13u);  // 12 backlog points 10 s apart + the live one
  EXPECT_DOUBLE_EQ(trail->front().lat, kLat + 0.02);
  EXPECT_EQ(trail->back().ts_ms, now);
}

TEST_F(TelemetryTest, TickPurgesOldTrailRows) {
  const std::int64_t now = now_ms();
  send("r1", "telemetry", telemetry_json("r1", kLat, now - 30 * 3'600'000LL));
  send("r2", "telemetry", telemetry_json("r2", kLat, now - 3'600'000));
  drain();
  ASSERT_TRUE(t_->trail_store().flush(10s).is_ok());
  t_->tick();
  ASSERT_TRUE(testing::wait_for(
      [&] {
        return metrics_.render().find("edge_telemetry_trail_rows_purged_total 1") !=
               std::string::npos;
      },
      10s));
  EXPECT_TRUE(t_->trail("r1", 0, now, 10)->empty());
  EXPECT_EQ(t_->trail("r2", 0, now, 10)->size(), 1u);
}

TEST_F(TelemetryTest, RosterEditsTakeEffectAndPersist) {
  send("r9", "telemetry", telemetry_json("r9", kLat, now_ms()));
  drain();
  EXPECT_EQ(t_->dropped(DropReason::kUnknownRunner), 1u);
  auto created = t_->put_runner("r9", std::string_view("Nine"));
  ASSERT_TRUE(created.ok());
  EXPECT_TRUE(*created);
  send("r9", "telemetry", telemetry_json("r9", kLat, now_ms()));
  drain();
  EXPECT_TRUE(t_->runner("r9")->fix.has_value());
  EXPECT_EQ(t_->runner("r9")->name, "Nine");

  ASSERT_TRUE(t_->retire_runner("r1").is_ok());
  EXPECT_EQ(t_->retire_runner("r1").code(), StatusCode::kNotFound);
  EXPECT_EQ(bus_events("runner.retired").size(), 1u);
  send("r1", "telemetry", telemetry_json("r1", kLat, now_ms()));
  drain();
  EXPECT_EQ(t_->dropped(DropReason::kUnknownRunner), 2u);

  open();  // restart with the same seed {r1, r2}
  std::vector<std::string> ids;
  for (const auto& v : t_->runners()) ids.push_back(v.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"r2", "r9"}));
}

TEST_F(TelemetryTest, AssignmentsArePublishedQos1ToTheRunnersTopic) {
  wire::Assignment a;
  a.assignment_id = "as-1";
  a.runner_id = "r1";
  a.store = {kLat, kLon};
  a.stops = {wire::AssignmentStop{"o-1", kLat + 0.01, kLon, std::nullopt, now_ms() + 600'000}};
  a.issued_at_ms = now_ms();
  ASSERT_TRUE(t_->send_assignment(a).is_ok());
  ASSERT_EQ(mqtt_.sent.size(), 1u);
  EXPECT_EQ(mqtt_.sent[0].topic, "runners/r1/assignment");
  EXPECT_EQ(mqtt_.sent[0].qos, 1);
  EXPECT_FALSE(mqtt_.sent[0].retain);
  auto back = wire::parse_assignment(mqtt_.sent[0].payload);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, a);

  wire::Assignment empty = a;
  empty.stops.clear();
  EXPECT_EQ(t_->send_assignment(empty).code(), StatusCode::kInvalidArgument);
  wire::Assignment stranger = a;
  stranger.runner_id = "ghost";
  EXPECT_EQ(t_->send_assignment(stranger).code(), StatusCode::kNotFound);
  mqtt_.up = false;
  EXPECT_EQ(t_->send_assignment(a).code(), StatusCode::kUnavailable);
  t_->set_publisher(nullptr);
  EXPECT_EQ(t_->send_assignment(a).code(), StatusCode::kUnavailable);
  EXPECT_EQ(mqtt_.sent.size(), 1u);
}

TEST_F(TelemetryTest, SubscriptionsUseWildcards) {
  auto subs = Telemetry::subscriptions();
  ASSERT_EQ(subs.size(), 3u);
  EXPECT_EQ(subs[0].topic_filter, "runners/+/telemetry");
  EXPECT_EQ(subs[0].qos, 0);
  EXPECT_EQ(subs[1].topic_filter, "runners/+/status");
  EXPECT_EQ(subs[1].qos, 1);
  EXPECT_EQ(subs[2].topic_filter, "runners/+/events");
  EXPECT_EQ(subs[2].qos, 1);
}

TEST_F(TelemetryTest, BadOptionsNameTheirConfigKey) {
  TelemetryOptions o = options();
  o.max_speed_mps = 0;
  auto t = Telemetry::open(o, clock_, bus_, nullptr, log::Logger(sink_, log::Level::kInfo, "t"),
                           metrics_);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().field(), "telemetry.max_speed_mps");
  o = options();
  o.runners = {"fine", "not fine"};
  EXPECT_EQ(validate(o).field(), "telemetry.runners[1]");
  o = options();
  o.max_payload_bytes = 10;
  EXPECT_EQ(validate(o).field(), "telemetry.max_payload_bytes");
  o = options();
  o.state_dir = dir_->file("missing").string();
  EXPECT_EQ(validate(o).code(), StatusCode::kOk);
  EXPECT_EQ(Telemetry::open(o, clock_, bus_, nullptr, log::Logger(sink_, log::Level::kInfo, "t"),
                            metrics_)
                .status()
                .code(),
            StatusCode::kUnavailable);
}

TEST_F(TelemetryTest, MessagesAfterStopAreIgnored) {
  t_->stop();
  t_->stop();
  send("r1", "telemetry", telemetry_json("r1", kLat, now_ms()));
  EXPECT_FALSE(t_->runner("r1")->fix.has_value());
  EXPECT_EQ(t_->dropped(DropReason::kQueueFull), 0u);
}

TEST_F(TelemetryTest, OwnTickerDetectsStalenessWithoutTheOwnerTicking) {
  t_.reset();
  TelemetryOptions o = options();
  o.tick_interval_ms = 10;
  auto t = Telemetry::open(o, clock_, bus_, nullptr, log::Logger(sink_, log::Level::kInfo, "t"),
                           metrics_);
  ASSERT_TRUE(t.ok());
  t_ = std::move(*t);
  send("r1", "telemetry", telemetry_json("r1", kLat, now_ms()));
  drain();
  clock_.advance(11s);
  EXPECT_TRUE(
      testing::wait_for([&] { return t_->runner("r1")->presence == Presence::kStale; }, 10s));
}

}  // namespace
}  // namespace shopeasy::edge::telemetry
