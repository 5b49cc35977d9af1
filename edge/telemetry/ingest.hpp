// Ingest: the part of the pipeline that runs on the MQTT library's network thread. It
// must never block that thread, so it only routes by topic, applies the cheap checks
// (topic shape, payload size, roster, per-runner rate) and copies the message into a
// bounded queue; a worker thread pops batches and does the decoding.
//
// The queue keeps its slots' buffers between uses, so after warm-up moving a message
// through it allocates nothing. When it is full a telemetry message replaces the oldest
// queued telemetry (the newest position matters most); part of the capacity is kept
// for status and event messages, which are never crowded out by telemetry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock/clock.hpp"
#include "common/metrics/metrics.hpp"
#include "common/sync/mutex.hpp"
#include "edge/mqtt/mqtt_client.hpp"
#include "edge/telemetry/drops.hpp"

namespace shopeasy::edge::telemetry {

enum class MessageKind : std::uint8_t { kTelemetry, kStatus, kEvent };

struct QueuedMessage {
  MessageKind kind = MessageKind::kTelemetry;
  std::string runner_id;  // from the topic
  std::string payload;
};

class MessageQueue {
 public:
  // `capacity` >= 2; an eighth of it (at least 1) is reserved for status and events.
  explicit MessageQueue(std::size_t capacity);

  enum class PushResult { kQueued, kQueuedDroppedOldest, kRejected, kClosed };
  // Copies the message in. Never blocks beyond a short lock. kRejected when full,
  // kClosed once closed. Thread-safe.
  PushResult push(MessageKind kind, std::string_view runner_id, std::string_view payload)
      EXCLUDES(mutex_);
  // Waits until messages are queued or the queue is closed, then swaps up to out.size()
  // of them into `out` (whose buffers go back into the queue for reuse). Returns how
  // many; 0 only when closed and empty. One consumer.
  std::size_t pop(std::vector<QueuedMessage>& out) EXCLUDES(mutex_);
  // The consumer calls this after handling what pop() gave it.
  void done() EXCLUDES(mutex_);
  // Waits until the queue is empty and the consumer idle; false on timeout.
  bool wait_idle(std::chrono::milliseconds timeout) EXCLUDES(mutex_);
  // Wakes the consumer; later pushes are rejected and pop() drains what is left.
  void close() EXCLUDES(mutex_);
  std::size_t size() const EXCLUDES(mutex_);

 private:
  void put(MessageKind kind, std::string_view runner_id, std::string_view payload) REQUIRES(mutex_);

  const std::size_t capacity_;
  const std::size_t reserve_;
  // Guards the ring and the consumer's state: the MQTT thread pushes, the worker pops.
  mutable shopeasy::sync::Mutex mutex_;
  shopeasy::sync::CondVar ready_cv_;  // messages queued or the queue closed, for the consumer
  shopeasy::sync::CondVar idle_cv_;   // the consumer finished a batch, for wait_idle
  std::vector<QueuedMessage> ring_ GUARDED_BY(mutex_);
  std::size_t head_ GUARDED_BY(mutex_) = 0;
  std::size_t size_ GUARDED_BY(mutex_) = 0;
  std::size_t in_flight_ GUARDED_BY(mutex_) = 0;
  bool consumer_waiting_ GUARDED_BY(mutex_) = false;
  bool closed_ GUARDED_BY(mutex_) = false;
};

struct IngestOptions {
  std::size_t max_payload_bytes = 4096;
  double per_runner_rate = 20;   // telemetry messages per second, sustained
  double per_runner_burst = 40;  // and in a burst
  std::size_t queue_capacity = 16384;
};

class Ingest {
 public:
  Ingest(IngestOptions options, const Clock& clock, DropCounter& drops, metrics::Registry& metrics);

  // The MQTT message callback. Cheap, bounded, never blocks for long, never throws.
  void on_message(const mqtt::Message& m) EXCLUDES(gate_mutex_);

  // Lets a runner's messages in (with a full token bucket) / keeps them out.
  void allow(std::string_view runner_id) EXCLUDES(gate_mutex_);
  void disallow(std::string_view runner_id) EXCLUDES(gate_mutex_);

  MessageQueue& queue() { return queue_; }

 private:
  struct Bucket {
    double tokens = 0;
    MonoTime last{};
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  const IngestOptions options_;
  const Clock& clock_;
  DropCounter& drops_;
  MessageQueue queue_;
  // Guards gates_: the MQTT thread spends tokens, roster changes add and remove runners.
  shopeasy::sync::Mutex gate_mutex_;
  std::unordered_map<std::string, Bucket, Hash, std::equal_to<>> gates_ GUARDED_BY(gate_mutex_);
  std::array<metrics::Counter*, 3> received_{};
};

// Splits "runners/{id}/{kind}" into id and kind; false for anything else (including
// ids that are not 1..64 of [A-Za-z0-9_-]).
bool parse_runner_topic(std::string_view topic, std::string_view* runner_id, MessageKind* kind);

}  // namespace shopeasy::edge::telemetry
