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

}  // namespace
}  // namespace shopeasy::edge::events
