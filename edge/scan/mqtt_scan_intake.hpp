// Scans from handheld scanners over MQTT (scanners/{id}/scan, QoS 1). The broker may
// deliver a message twice; the scan id makes the second delivery a no-op. The MQTT
// thread only queues (bounded; a full queue drops and counts); one worker applies
// scans through Inventory and answers on scanners/{id}/result so the handheld can
// beep or buzz. A lookup (the scanner used as an input device) is also published on the
// store's bus as a live "scanner.input" event, so a handheld screen paired with that
// scanner takes the code as its own scan (pick, receive, move, count).
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "edge/events/event_bus.hpp"
#include "edge/inventory/inventory.hpp"
#include "edge/mqtt/mqtt_client.hpp"

namespace shopeasy::edge::scan {

class MqttScanIntake {
 public:
  // `bus` (may be null) receives the "scanner.input" events.
  MqttScanIntake(inventory::Inventory& inventory, mqtt::MqttClient* publisher,
                 events::EventBus* bus, log::Logger logger, metrics::Registry& metrics,
                 std::size_t max_queue = 10000);
  ~MqttScanIntake();

  // For the MQTT client's message callback: routes scanners/+/scan messages; ignores
  // other topics. Never blocks.
  void on_message(const mqtt::Message& message);
  static constexpr const char* kTopicFilter = "scanners/+/scan";

  void stop();

 private:
  void run();
  void drop(const std::string& reason, const std::string& detail);

  inventory::Inventory& inventory_;
  mqtt::MqttClient* publisher_;
  events::EventBus* bus_;
  log::Logger logger_;
  std::size_t max_queue_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<mqtt::Message> queue_;
  bool stopping_ = false;
  metrics::CounterFamily& dropped_;
  metrics::Counter& applied_;
  log::RateLimiter drop_log_{5, std::chrono::seconds(10)};
  std::thread worker_;
};

}  // namespace shopeasy::edge::scan
