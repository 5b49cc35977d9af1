#include "edge/events/event_bus.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace shopeasy::edge::events {
namespace {

using namespace std::chrono_literals;

Event ev(std::int64_t seq) { return Event{seq, "stock.changed", {{"n", seq}}, 0}; }

TEST(EventBusTest, ReadersSeeEventsInOrderFromTheirPosition) {
  EventBus bus(8);
  const auto start = bus.head();
  bus.publish({ev(1), ev(2), ev(3)});
  auto r = bus.read(start, 2, 0ms);
  ASSERT_EQ(r.events.size(), 2u);
  EXPECT_EQ(r.events[0].seq, 1);
  EXPECT_EQ(r.events[1].seq, 2);
  auto rest = bus.read(r.next, 10, 0ms);
  ASSERT_EQ(rest.events.size(), 1u);
  EXPECT_EQ(rest.events[0].seq, 3);
  EXPECT_FALSE(rest.lost);
}

TEST(EventBusTest, SlowReaderLearnsItLostEvents) {
  EventBus bus(4);
  const auto start = bus.head();
  for (int i = 1; i <= 10; ++i) bus.publish(ev(i));
  auto r = bus.read(start, 100, 0ms);
  EXPECT_TRUE(r.lost);
  ASSERT_EQ(r.events.size(), 4u);
  EXPECT_EQ(r.events.front().seq, 7);
}

TEST(EventBusTest, WaitingReaderWakesOnPublish) {
  EventBus bus;
  const auto start = bus.head();
  std::thread writer([&] { bus.publish(ev(42)); });
  auto r = bus.read(start, 10, 10s);
  writer.join();
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].seq, 42);
}

TEST(EventBusTest, TimeoutReturnsNothing) {
  EventBus bus;
  auto r = bus.read(bus.head(), 10, 1ms);
  EXPECT_TRUE(r.events.empty());
  EXPECT_EQ(r.next, bus.head());
}

Event position(const std::string& runner, int n) {
  Event e{0, "runner.updated", {{"id", runner}, {"n", n}}, 0};
  e.coalesce_key = "runner.updated/" + runner;
  return e;
}

TEST(EventBusTest, CoalescedEventsNeverPushOthersOutOfTheRing) {
  EventBus bus(8);
  const auto start = bus.head();
  const auto latest_start = bus.latest_head();
  for (int i = 0; i < 3000; ++i) {
    bus.publish(position("r" + std::to_string(i % 3), i));
    if (i == 1500) bus.publish(Event{0, "order.claim", {{"order_id", "o-1"}}, 0});
  }
  bus.publish(ev(1));
  // The slow reader of the ring lost nothing: one claim and one stock change.
  auto ring = bus.read(start, 100, 0ms);
  EXPECT_FALSE(ring.lost);
  ASSERT_EQ(ring.events.size(), 2u);
  EXPECT_EQ(ring.events[0].type, "order.claim");
  EXPECT_EQ(ring.events[1].seq, 1);
  // The positions: the newest per runner, the runner changed longest ago first.
  auto latest = bus.read_latest(latest_start, 100);
  ASSERT_EQ(latest.events.size(), 3u);
  EXPECT_EQ(latest.events[0].body["n"], 2997);
  EXPECT_EQ(latest.events[1].body["n"], 2998);
  EXPECT_EQ(latest.events[2].body["n"], 2999);
  EXPECT_EQ(latest.events[2].body["id"], "r2");
  // Read again from where it stopped: nothing, until a runner moves.
  EXPECT_TRUE(bus.read_latest(latest.next, 100).events.empty());
  bus.publish(position("r1", 3000));
  auto next = bus.read_latest(latest.next, 100);
  ASSERT_EQ(next.events.size(), 1u);
  EXPECT_EQ(next.events[0].body["n"], 3000);
}

TEST(EventBusTest, ReadLatestPagesAndForgetsTheStalestKeyPastTheCap) {
  EventBus bus(8, 3);
  for (int i = 0; i < 4; ++i) bus.publish(position("r" + std::to_string(i), i));
  auto first = bus.read_latest(0, 2);
  ASSERT_EQ(first.events.size(), 2u);
  EXPECT_EQ(first.events[0].body["id"], "r1");  // r0 was forgotten for r3
  auto rest = bus.read_latest(first.next, 2);
  ASSERT_EQ(rest.events.size(), 1u);
  EXPECT_EQ(rest.events[0].body["id"], "r3");
  EXPECT_EQ(rest.next, bus.latest_head());
}

TEST(EventBusTest, WaitAnyWakesOnEitherKind) {
  EventBus bus;
  EXPECT_FALSE(bus.wait_any(bus.head(), bus.latest_head(), 1ms));
  const auto ring_at = bus.head();
  const auto latest_at = bus.latest_head();
  std::thread writer([&] { bus.publish(position("r1", 1)); });
  EXPECT_TRUE(bus.wait_any(ring_at, latest_at, 10s));
  writer.join();
  EXPECT_EQ(bus.head(), ring_at);  // nothing entered the ring
  EXPECT_TRUE(bus.wait_any(ring_at, latest_at, 0ms));
}

}  // namespace
}  // namespace shopeasy::edge::events
