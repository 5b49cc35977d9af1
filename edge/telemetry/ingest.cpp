#include "edge/telemetry/ingest.hpp"

#include <algorithm>
#include <utility>

#include "edge/telemetry/roster.hpp"

namespace shopeasy::edge::telemetry {

bool parse_runner_topic(std::string_view topic, std::string_view* runner_id, MessageKind* kind) {
  constexpr std::string_view kPrefix = "runners/";
  if (!topic.starts_with(kPrefix)) return false;
  topic.remove_prefix(kPrefix.size());
  const auto slash = topic.find('/');
  if (slash == std::string_view::npos) return false;
  const std::string_view id = topic.substr(0, slash);
  const std::string_view rest = topic.substr(slash + 1);
  if (!is_valid_runner_id(id)) return false;
  if (rest == "telemetry") {
    *kind = MessageKind::kTelemetry;
  } else if (rest == "status") {
    *kind = MessageKind::kStatus;
  } else if (rest == "events") {
    *kind = MessageKind::kEvent;
  } else {
    return false;
  }
  *runner_id = id;
  return true;
}

MessageQueue::MessageQueue(std::size_t capacity)
    : capacity_(std::max<std::size_t>(capacity, 2)),
      reserve_(std::max<std::size_t>(capacity_ / 8, 1)),
      ring_(capacity_) {}

void MessageQueue::put(MessageKind kind, std::string_view runner_id, std::string_view payload) {
  QueuedMessage& slot = ring_[(head_ + size_) % capacity_];
  slot.kind = kind;
  // assign() reuses the slot's buffer when it is big enough: no allocation once warm.
  slot.runner_id.assign(runner_id);
  slot.payload.assign(payload);
  ++size_;
}

MessageQueue::PushResult MessageQueue::push(MessageKind kind, std::string_view runner_id,
                                            std::string_view payload) {
  PushResult result = PushResult::kQueued;
  bool wake = false;
  {
    shopeasy::sync::MutexLock lock(mutex_);
    if (closed_) return PushResult::kClosed;
    if (kind == MessageKind::kTelemetry) {
      if (size_ >= capacity_ - reserve_) {
        // Drop-oldest only when the oldest is telemetry too; never evict a status or
        // an event to make room for a position.
        if (ring_[head_].kind != MessageKind::kTelemetry) return PushResult::kRejected;
        head_ = (head_ + 1) % capacity_;
        --size_;
        result = PushResult::kQueuedDroppedOldest;
      }
    } else if (size_ >= capacity_) {
      return PushResult::kRejected;
    }
    put(kind, runner_id, payload);
    wake = consumer_waiting_;
  }
  if (wake) ready_cv_.notify_one();
  return result;
}

std::size_t MessageQueue::pop(std::vector<QueuedMessage>& out) {
  shopeasy::sync::MutexLock lock(mutex_);
  while (size_ == 0 && !closed_) {
    consumer_waiting_ = true;
    ready_cv_.wait(mutex_);
    consumer_waiting_ = false;
  }
  const std::size_t n = std::min(size_, out.size());
  for (std::size_t i = 0; i < n; ++i) {
    QueuedMessage& slot = ring_[head_];
    out[i].kind = slot.kind;
    out[i].runner_id.swap(slot.runner_id);
    out[i].payload.swap(slot.payload);
    head_ = (head_ + 1) % capacity_;
  }
  size_ -= n;
  in_flight_ = n;
  return n;
}

void MessageQueue::done() {
  {
    shopeasy::sync::MutexLock lock(mutex_);
    in_flight_ = 0;
  }
  idle_cv_.notify_all();
}

bool MessageQueue::wait_idle(std::chrono::milliseconds timeout) {
  // A real-time wait for the worker thread, so steady_clock rather than a Clock.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  shopeasy::sync::MutexLock lock(mutex_);
  while (size_ != 0 || in_flight_ != 0) {
    if (idle_cv_.wait_until(mutex_, deadline) == std::cv_status::timeout) {
      return size_ == 0 && in_flight_ == 0;
    }
  }
  return true;
}

void MessageQueue::close() {
  {
    shopeasy::sync::MutexLock lock(mutex_);
    closed_ = true;
  }
  ready_cv_.notify_all();
}

std::size_t MessageQueue::size() const {
  shopeasy::sync::MutexLock lock(mutex_);
  return size_;
}

Ingest::Ingest(IngestOptions options, const Clock& clock, DropCounter& drops,
               metrics::Registry& metrics)
    : options_(options), clock_(clock), drops_(drops), queue_(options.queue_capacity) {
  constexpr std::array<std::string_view, 3> kKinds = {"telemetry", "status", "events"};
  for (std::size_t i = 0; i < kKinds.size(); ++i) {
    received_[i] = &metrics.counter("edge_telemetry_messages_total",
                                    "Runner messages handed to telemetry by the MQTT client",
                                    {{"kind", std::string(kKinds[i])}});
  }
}

void Ingest::allow(std::string_view runner_id) {
  shopeasy::sync::MutexLock lock(gate_mutex_);
  auto it = gates_.find(runner_id);
  if (it != gates_.end()) return;
  gates_.emplace(std::string(runner_id), Bucket{options_.per_runner_burst, clock_.mono_now()});
}

void Ingest::disallow(std::string_view runner_id) {
  shopeasy::sync::MutexLock lock(gate_mutex_);
  auto it = gates_.find(runner_id);
  if (it != gates_.end()) gates_.erase(it);
}

void Ingest::on_message(const mqtt::Message& m) {
  std::string_view runner_id;
  MessageKind kind = MessageKind::kTelemetry;
  if (!parse_runner_topic(m.topic, &runner_id, &kind)) {
    drops_.drop(DropReason::kBadTopic, m.topic);
    return;
  }
  received_[static_cast<std::size_t>(kind)]->inc();
  if (m.payload.size() > options_.max_payload_bytes) {
    drops_.drop(DropReason::kTooLarge, runner_id, "payload over max_payload_bytes");
    return;
  }
  {
    shopeasy::sync::MutexLock lock(gate_mutex_);
    auto it = gates_.find(runner_id);
    if (it == gates_.end()) {
      drops_.drop(DropReason::kUnknownRunner, runner_id, "not on the roster");
      return;
    }
    // Only positions are rate limited: a storm of fixes is noise, but every status and
    // event matters (an SOS must get through whatever else the phone is doing).
    if (kind == MessageKind::kTelemetry) {
      Bucket& b = it->second;
      const MonoTime now = clock_.mono_now();
      const double elapsed = std::chrono::duration<double>(now - b.last).count();
      b.last = now;
      b.tokens = std::min(options_.per_runner_burst, b.tokens + elapsed * options_.per_runner_rate);
      if (b.tokens < 1.0) {
        drops_.drop(DropReason::kRateLimited, runner_id, "above per_runner_rate");
        return;
      }
      b.tokens -= 1.0;
    }
  }
  switch (queue_.push(kind, runner_id, m.payload)) {
    case MessageQueue::PushResult::kQueued:
      break;
    case MessageQueue::PushResult::kQueuedDroppedOldest:
      drops_.drop(DropReason::kQueueFull, runner_id, "oldest queued telemetry replaced");
      break;
    case MessageQueue::PushResult::kRejected:
      drops_.drop(DropReason::kQueueFull, runner_id, "ingest queue full");
      break;
    case MessageQueue::PushResult::kClosed:
      break;  // shutting down
  }
}

}  // namespace shopeasy::edge::telemetry
