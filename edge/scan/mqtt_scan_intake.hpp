// Scans from handheld scanners over MQTT (scanners/{id}/scan, QoS 1). The broker may
// deliver a message twice; the scan id makes the second delivery a no-op. The MQTT
// thread only queues (bounded; a full queue drops and counts); one worker applies
// scans through Inventory and answers on scanners/{id}/result so the handheld can
// beep or buzz. A lookup (the scanner used as an input device) is also published on the
// store's bus as a live "scanner.input" event, so a handheld screen paired with that
// scanner takes the code as its own scan (pick, receive, move, count).
#pragma once

#include <deque>
#include <thread>

#include "common/clock/clock.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/sync/mutex.hpp"
#include "edge/events/event_bus.hpp"
#include "edge/inventory/inventory.hpp"
#include "edge/mqtt/mqtt_client.hpp"

namespace shopeasy::edge::scan {

class MqttScanIntake {
 public:
  static constexpr std::size_t kDefaultMaxQueue = 10000;

  // `bus` (may be null) receives the "scanner.input" events. `clock` paces the drop log
  // (and must outlive the intake).
  MqttScanIntake(inventory::Inventory& inventory, mqtt::MqttClient* publisher,
                 events::EventBus* bus, log::Logger logger, metrics::Registry& metrics,
                 std::size_t max_queue = kDefaultMaxQueue, const Clock& clock = real_clock());
  ~MqttScanIntake();

  // For the MQTT client's message callback: routes scanners/+/scan messages; ignores
  // other topics. Never blocks.
  void on_message(const mqtt::Message& message) EXCLUDES(mutex_);
  static constexpr const char* kTopicFilter = "scanners/+/scan";

  void stop() EXCLUDES(mutex_);

 private:
  void run() EXCLUDES(mutex_);
  void drop(const std::string& reason, const std::string& detail);

  inventory::Inventory& inventory_;
  mqtt::MqttClient* publisher_;
  events::EventBus* bus_;
  log::Logger logger_;
  std::size_t max_queue_;
  const Clock& clock_;
  // Guards the queue between the MQTT thread and the worker, and the stop signal.
  shopeasy::sync::Mutex mutex_;
  shopeasy::sync::CondVar cv_;  // a scan queued or stopping_ set
  std::deque<mqtt::Message> queue_ GUARDED_BY(mutex_);
  bool stopping_ GUARDED_BY(mutex_) = false;
  metrics::CounterFamily& dropped_;
  metrics::Counter& applied_;
  log::RateLimiter drop_log_{5, std::chrono::seconds(10)};
  std::thread worker_;
};

}  // namespace shopeasy::edge::scan
