#include "edge/telemetry/registry.hpp"

#include <gtest/gtest.h>

namespace shopeasy::edge::telemetry {
namespace {

using namespace std::chrono_literals;

constexpr double kLat = 12.9716;
constexpr double kLon = 77.5946;

class RegistryTest : public ::testing::Test {
 protected:
  RegistryTest() {
    options_.stale_after_s = 10;
    options_.frozen_repeats = 3;
    registry_ = std::make_unique<RunnerRegistry>(options_, clock_);
    registry_->add("r1", "Asha");
  }
  std::int64_t now_ms() const { return to_unix_ms(clock_.wall_now()); }
  wire::Telemetry report(double lat, std::int64_t ts, std::optional<int> battery = 80,
                         wire::RunnerState state = wire::RunnerState::kToCustomer) {
    wire::Telemetry t;
    t.runner_id = "r1";
    t.lat = lat;
    t.lon = kLon;
    t.accuracy_m = 5;
    t.device_ts_ms = ts;
    t.battery_pct = battery;
    t.state = state;
    return t;
  }
  wire::RunnerStatus status(wire::RunnerPresence p) {
    return wire::RunnerStatus{"r1", p, now_ms(), std::nullopt, std::nullopt};
  }
  Presence presence() { return registry_->find("r1")->presence; }

  FakeClock clock_;
  RegistryOptions options_;
  std::unique_ptr<RunnerRegistry> registry_;
};

TEST_F(RegistryTest, UnknownRunnerIsNotApplied) {
  auto t = report(kLat, now_ms());
  t.runner_id = "ghost";
  EXPECT_FALSE(registry_->apply_telemetry(t).known);
  EXPECT_FALSE(registry_->find("ghost").has_value());
  EXPECT_EQ(registry_->size(), 1u);
}

TEST_F(RegistryTest, FirstReportMakesTheRunnerOnlineWithAFix) {
  auto before = registry_->find("r1");
  ASSERT_TRUE(before.has_value());
  EXPECT_EQ(before->presence, Presence::kUnknown);
  EXPECT_FALSE(before->fix.has_value());

  auto r = registry_->apply_telemetry(report(kLat, now_ms()));
  ASSERT_TRUE(r.known);
  EXPECT_EQ(r.verdict, FixVerdict::kLive);
  ASSERT_TRUE(r.presence.has_value());
  EXPECT_EQ(r.presence->from, Presence::kUnknown);
  EXPECT_EQ(r.presence->to, Presence::kOnline);
  ASSERT_TRUE(r.update.has_value());
  EXPECT_EQ(r.update->name, "Asha");
  EXPECT_TRUE(r.trail.has_value());

  auto v = registry_->find("r1");
  EXPECT_EQ(v->presence, Presence::kOnline);
  EXPECT_EQ(v->state, wire::RunnerState::kToCustomer);
  EXPECT_EQ(v->battery_pct, 80);
  ASSERT_TRUE(v->fix.has_value());
  EXPECT_DOUBLE_EQ(v->fix->lat, kLat);
  EXPECT_EQ(v->fix->received_ts_ms, now_ms());
  EXPECT_EQ(v->last_seen_ms, now_ms());
}

TEST_F(RegistryTest, SilenceIsReportedStaleWithinOneSecondOfTheDeadline) {
  ASSERT_TRUE(registry_->apply_telemetry(report(kLat, now_ms())).known);
  clock_.advance(9999ms);
  EXPECT_TRUE(registry_->tick().presence.empty());
  EXPECT_EQ(presence(), Presence::kOnline);

  // A ticker every 200 ms notices on the first tick at or after the 10 s deadline.
  int ticks = 0;
  std::vector<PresenceChange> changes;
  while (changes.empty() && ticks < 10) {
    clock_.advance(200ms);
    ++ticks;
    changes = registry_->tick().presence;
  }
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(ticks, 1);  // at 10.199 s
  EXPECT_EQ(changes[0].runner_id, "r1");
  EXPECT_EQ(changes[0].from, Presence::kOnline);
  EXPECT_EQ(changes[0].to, Presence::kStale);
  EXPECT_EQ(presence(), Presence::kStale);
  // Reported once, not on every tick.
  clock_.advance(200ms);
  EXPECT_TRUE(registry_->tick().presence.empty());
}

TEST_F(RegistryTest, StaleIsExactlyAtTheDeadline) {
  ASSERT_TRUE(registry_->apply_telemetry(report(kLat, now_ms())).known);
  clock_.advance(10s - 1ms);
  EXPECT_TRUE(registry_->tick().presence.empty());
  clock_.advance(1ms);
  EXPECT_EQ(registry_->tick().presence.size(), 1u);
}

TEST_F(RegistryTest, NeverHeardRunnerDoesNotTurnStale) {
  clock_.advance(60s);
  auto r = registry_->tick();
  EXPECT_TRUE(r.presence.empty());
  EXPECT_EQ(r.by_presence[static_cast<std::size_t>(Presence::kUnknown)], 1u);
}

TEST_F(RegistryTest, OfflineStatusTakesEffectAtOnceAndTelemetryBringsItBack) {
  ASSERT_TRUE(registry_->apply_telemetry(report(kLat, now_ms())).known);
  clock_.advance(100ms);
  auto r = registry_->apply_status(status(wire::RunnerPresence::kOffline));
  ASSERT_TRUE(r.presence.has_value());
  EXPECT_EQ(r.presence->to, Presence::kOffline);
  EXPECT_EQ(presence(), Presence::kOffline);
  // Offline runners do not go stale.
  clock_.advance(60s);
  EXPECT_TRUE(registry_->tick().presence.empty());
  EXPECT_EQ(presence(), Presence::kOffline);

  auto back = registry_->apply_telemetry(report(kLat, now_ms()));
  ASSERT_TRUE(back.presence.has_value());
  EXPECT_EQ(back.presence->from, Presence::kOffline);
  EXPECT_EQ(back.presence->to, Presence::kOnline);
}

TEST_F(RegistryTest, OnlineStatusCountsAsASignOfLife) {
  auto r = registry_->apply_status(
      wire::RunnerStatus{"r1", wire::RunnerPresence::kOnline, now_ms(), 55, std::string("1.2.3")});
  ASSERT_TRUE(r.presence.has_value());
  EXPECT_EQ(r.presence->to, Presence::kOnline);
  auto v = registry_->find("r1");
  EXPECT_EQ(v->battery_pct, 55);
  EXPECT_EQ(v->app_version, "1.2.3");
  clock_.advance(10s);
  EXPECT_EQ(registry_->tick().presence.size(), 1u);
  EXPECT_EQ(presence(), Presence::kStale);
}

TEST_F(RegistryTest, FrozenGpsIsToldApartFromSilence) {
  const std::int64_t fix_ts = now_ms();
  ASSERT_TRUE(registry_->apply_telemetry(report(kLat, fix_ts)).known);
  // Messages keep coming every second, all carrying the same fix.
  for (int i = 1; i <= 3; ++i) {
    clock_.advance(1s);
    auto r = registry_->apply_telemetry(report(kLat, fix_ts));
    EXPECT_EQ(r.verdict, FixVerdict::kRepeat);
    EXPECT_TRUE(registry_->tick().presence.empty());
    if (i < 3) {
      EXPECT_EQ(presence(), Presence::kOnline) << i;
    } else {
      ASSERT_TRUE(r.presence.has_value());
      EXPECT_EQ(r.presence->to, Presence::kGpsFrozen);
    }
  }
  EXPECT_EQ(presence(), Presence::kGpsFrozen);
  // Then the phone falls silent: that is staleness, a different problem.
  clock_.advance(10s);
  auto ticked = registry_->tick();
  ASSERT_EQ(ticked.presence.size(), 1u);
  EXPECT_EQ(ticked.presence[0].from, Presence::kGpsFrozen);
  EXPECT_EQ(ticked.presence[0].to, Presence::kStale);
  // A fresh fix clears both.
  auto fresh = registry_->apply_telemetry(report(kLat + 0.0001, now_ms()));
  EXPECT_EQ(fresh.verdict, FixVerdict::kLive);
  EXPECT_EQ(presence(), Presence::kOnline);
}

TEST_F(RegistryTest, BacklogDoesNotRewindStateBatteryOrPosition) {
  const std::int64_t now = now_ms();
  ASSERT_TRUE(
      registry_->apply_telemetry(report(kLat, now, 40, wire::RunnerState::kReturning)).known);
  auto old = registry_->apply_telemetry(
      report(kLat + 0.01, now - 3'600'000, 95, wire::RunnerState::kToCustomer));
  EXPECT_EQ(old.verdict, FixVerdict::kBacklog);
  ASSERT_TRUE(old.trail.has_value());
  EXPECT_EQ(old.trail->ts_ms, now - 3'600'000);
  auto v = registry_->find("r1");
  EXPECT_EQ(v->battery_pct, 40);
  EXPECT_EQ(v->state, wire::RunnerState::kReturning);
  EXPECT_DOUBLE_EQ(v->fix->lat, kLat);
  EXPECT_EQ(v->fix->device_ts_ms, now);
}

TEST_F(RegistryTest, TeleportKeepsThePositionButNotTheRestOfTheReport) {
  ASSERT_TRUE(registry_->apply_telemetry(report(kLat, now_ms(), 80)).known);
  clock_.advance(1s);
  auto r =
      registry_->apply_telemetry(report(kLat + 1.0, now_ms(), 79, wire::RunnerState::kAtCustomer));
  EXPECT_EQ(r.verdict, FixVerdict::kTeleport);
  EXPECT_FALSE(r.trail.has_value());
  auto v = registry_->find("r1");
  EXPECT_DOUBLE_EQ(v->fix->lat, kLat);
  EXPECT_EQ(v->battery_pct, 79);
  EXPECT_EQ(v->state, wire::RunnerState::kAtCustomer);
}

TEST_F(RegistryTest, UpdatesAreThrottledButTheLastOneIsNotLost) {
  ASSERT_TRUE(registry_->apply_telemetry(report(kLat, now_ms())).update.has_value());
  int immediate = 0;
  for (int i = 1; i <= 4; ++i) {
    clock_.advance(100ms);
    if (registry_->apply_telemetry(report(kLat + i * 1e-5, now_ms())).update) ++immediate;
  }
  EXPECT_EQ(immediate, 0);  // 400 ms after the first: inside the interval
  clock_.advance(50ms);
  EXPECT_TRUE(registry_->tick().updates.empty());
  clock_.advance(50ms);
  auto r = registry_->tick();
  ASSERT_EQ(r.updates.size(), 1u);
  EXPECT_EQ(r.updates[0].fix->device_ts_ms, now_ms() - 100);
  clock_.advance(1s);
  EXPECT_TRUE(registry_->tick().updates.empty());
}

TEST_F(RegistryTest, PresenceChangesAreNeverThrottled) {
  ASSERT_TRUE(registry_->apply_telemetry(report(kLat, now_ms())).presence.has_value());
  clock_.advance(10ms);
  EXPECT_TRUE(registry_->apply_status(status(wire::RunnerPresence::kOffline)).presence);
  clock_.advance(10ms);
  EXPECT_TRUE(registry_->apply_status(status(wire::RunnerPresence::kOnline)).presence);
  clock_.advance(10ms);
  EXPECT_TRUE(registry_->apply_status(status(wire::RunnerPresence::kOffline)).presence);
}

TEST_F(RegistryTest, RemoveAndRenameAndSnapshotOrder) {
  EXPECT_FALSE(registry_->add("r1", "Asha K"));
  EXPECT_EQ(registry_->find("r1")->name, "Asha K");
  EXPECT_TRUE(registry_->add("a0", ""));
  auto all = registry_->snapshot();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, "a0");
  EXPECT_EQ(all[1].id, "r1");
  EXPECT_TRUE(registry_->remove("r1"));
  EXPECT_FALSE(registry_->remove("r1"));
  EXPECT_FALSE(registry_->apply_telemetry(report(kLat, now_ms())).known);
}

}  // namespace
}  // namespace shopeasy::edge::telemetry
