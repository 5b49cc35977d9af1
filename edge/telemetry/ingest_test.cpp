#include "edge/telemetry/ingest.hpp"

#include <gtest/gtest.h>

namespace shopeasy::edge::telemetry {
namespace {

using namespace std::chrono_literals;

TEST(RunnerTopicTest, AcceptsTheThreeKindsOnly) {
  std::string_view id;
  MessageKind kind{};
  ASSERT_TRUE(parse_runner_topic("runners/r-1_A/telemetry", &id, &kind));
  EXPECT_EQ(id, "r-1_A");
  EXPECT_EQ(kind, MessageKind::kTelemetry);
  ASSERT_TRUE(parse_runner_topic("runners/r1/status", &id, &kind));
  EXPECT_EQ(kind, MessageKind::kStatus);
  ASSERT_TRUE(parse_runner_topic("runners/r1/events", &id, &kind));
  EXPECT_EQ(kind, MessageKind::kEvent);
  for (const char* bad : {"", "runners/", "runners/r1", "runners//telemetry",
                          "runners/r1/assignment", "runners/r1/telemetry/x", "runner/r1/telemetry",
                          "runners/r 1/telemetry", "runners/r1+/status", "scanners/s1/scan"}) {
    EXPECT_FALSE(parse_runner_topic(bad, &id, &kind)) << bad;
  }
  EXPECT_FALSE(parse_runner_topic("runners/" + std::string(65, 'a') + "/status", &id, &kind));
}

TEST(MessageQueueTest, FifoAndBuffersAreReused) {
  MessageQueue q(16);
  ASSERT_EQ(q.push(MessageKind::kTelemetry, "r1", "one"), MessageQueue::PushResult::kQueued);
  ASSERT_EQ(q.push(MessageKind::kStatus, "r2", "two"), MessageQueue::PushResult::kQueued);
  std::vector<QueuedMessage> out(8);
  ASSERT_EQ(q.pop(out), 2u);
  EXPECT_EQ(out[0].runner_id, "r1");
  EXPECT_EQ(out[0].payload, "one");
  EXPECT_EQ(out[1].kind, MessageKind::kStatus);
  EXPECT_EQ(out[1].payload, "two");
  q.done();
  EXPECT_TRUE(q.wait_idle(0ms));
}

TEST(MessageQueueTest, FullQueueDropsOldestTelemetryButNeverStatusOrEvents) {
  MessageQueue q(16);  // two slots kept for status and events
  for (int i = 0; i < 14; ++i) {
    ASSERT_EQ(q.push(MessageKind::kTelemetry, "r1", std::to_string(i)),
              MessageQueue::PushResult::kQueued);
  }
  EXPECT_EQ(q.push(MessageKind::kTelemetry, "r1", "14"),
            MessageQueue::PushResult::kQueuedDroppedOldest);
  EXPECT_EQ(q.push(MessageKind::kStatus, "r1", "s"), MessageQueue::PushResult::kQueued);
  EXPECT_EQ(q.push(MessageKind::kEvent, "r1", "e"), MessageQueue::PushResult::kQueued);
  EXPECT_EQ(q.size(), 16u);
  EXPECT_EQ(q.push(MessageKind::kEvent, "r1", "e2"), MessageQueue::PushResult::kRejected);
  std::vector<QueuedMessage> out(32);
  ASSERT_EQ(q.pop(out), 16u);
  EXPECT_EQ(out[0].payload, "1");  // "0" made room for "14"
  EXPECT_EQ(out[13].payload, "14");
  EXPECT_EQ(out[14].payload, "s");
  EXPECT_EQ(out[15].payload, "e");
  q.done();
}

TEST(MessageQueueTest, TelemetryDoesNotEvictAStatusAtTheHead) {
  MessageQueue q(16);
  ASSERT_EQ(q.push(MessageKind::kStatus, "r1", "s"), MessageQueue::PushResult::kQueued);
  for (int i = 0; i < 13; ++i) q.push(MessageKind::kTelemetry, "r1", "t");
  EXPECT_EQ(q.push(MessageKind::kTelemetry, "r1", "t"), MessageQueue::PushResult::kRejected);
  std::vector<QueuedMessage> out(1);
  ASSERT_EQ(q.pop(out), 1u);
  EXPECT_EQ(out[0].kind, MessageKind::kStatus);
  q.done();
}

TEST(MessageQueueTest, CloseWakesTheConsumerAndRejectsPushes) {
  MessageQueue q(16);
  q.push(MessageKind::kTelemetry, "r1", "last");
  q.close();
  EXPECT_EQ(q.push(MessageKind::kTelemetry, "r1", "late"), MessageQueue::PushResult::kClosed);
  std::vector<QueuedMessage> out(4);
  EXPECT_EQ(q.pop(out), 1u);  // what was queued is still delivered
  q.done();
  EXPECT_EQ(q.pop(out), 0u);
}

class IngestTest : public ::testing::Test {
 protected:
  IngestTest() : drops_(clock_, log::Logger(sink_, log::Level::kInfo, "t"), metrics_) {
    IngestOptions o;
    o.max_payload_bytes = 64;
    o.per_runner_rate = 20;
    o.per_runner_burst = 40;
    o.queue_capacity = 4096;
    ingest_ = std::make_unique<Ingest>(o, clock_, drops_, metrics_);
    ingest_->allow("r1");
  }
  void send(const std::string& topic, const std::string& payload = "{}") {
    ingest_->on_message(mqtt::Message{topic, payload, 0, false});
  }

  FakeClock clock_;
  std::shared_ptr<log::MemorySink> sink_ = std::make_shared<log::MemorySink>();
  metrics::Registry metrics_;
  DropCounter drops_;
  std::unique_ptr<Ingest> ingest_;
};

TEST_F(IngestTest, CheapChecksDropAndCountBeforeQueueing) {
  send("runners/bad id/telemetry");
  send("runners/r1/telemetry", std::string(65, 'x'));
  send("runners/r2/telemetry");
  send("runners/r1/telemetry");
  EXPECT_EQ(drops_.count(DropReason::kBadTopic), 1u);
  EXPECT_EQ(drops_.count(DropReason::kTooLarge), 1u);
  EXPECT_EQ(drops_.count(DropReason::kUnknownRunner), 1u);
  EXPECT_EQ(ingest_->queue().size(), 1u);
  EXPECT_TRUE(sink_->contains({"message_dropped", "reason=unknown_runner", "from=r2"}));
  const std::string text = metrics_.render();
  EXPECT_NE(text.find("edge_telemetry_dropped_total{reason=\"too_large\"} 1"), std::string::npos);
  EXPECT_NE(text.find("edge_telemetry_dropped_total{reason=\"teleport\"} 0"), std::string::npos);
}

TEST_F(IngestTest, TelemetryStormIsRateLimitedButStatusAndEventsAreNot) {
  for (int i = 0; i < 100; ++i) send("runners/r1/telemetry");
  EXPECT_EQ(drops_.count(DropReason::kRateLimited), 60u);  // burst of 40 got through
  for (int i = 0; i < 10; ++i) {
    send("runners/r1/status");
    send("runners/r1/events");
  }
  EXPECT_EQ(drops_.count(DropReason::kRateLimited), 60u);
  EXPECT_EQ(ingest_->queue().size(), 60u);
  // The bucket refills at 20 per second.
  clock_.advance(1s);
  for (int i = 0; i < 25; ++i) send("runners/r1/telemetry");
  EXPECT_EQ(drops_.count(DropReason::kRateLimited), 65u);
}

TEST_F(IngestTest, DropLogsAreBoundedPerReason) {
  for (int i = 0; i < 1000; ++i) send("runners/ghost/telemetry");
  EXPECT_EQ(drops_.count(DropReason::kUnknownRunner), 1000u);
  EXPECT_LE(sink_->lines().size(), 5u);
  clock_.advance(std::chrono::minutes(1));
  send("runners/ghost/telemetry");
  EXPECT_TRUE(sink_->contains({"reason=unknown_runner", "suppressed=995"}));
}

TEST_F(IngestTest, DisallowedRunnerIsDropped) {
  ingest_->disallow("r1");
  send("runners/r1/status");
  EXPECT_EQ(drops_.count(DropReason::kUnknownRunner), 1u);
  EXPECT_EQ(ingest_->queue().size(), 0u);
}

}  // namespace
}  // namespace shopeasy::edge::telemetry
