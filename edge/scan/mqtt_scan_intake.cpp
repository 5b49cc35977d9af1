#include "edge/scan/mqtt_scan_intake.hpp"

#include "common/wire/json_fields.hpp"
#include "common/wire/scan.hpp"
#include "edge/inventory/inventory_json.hpp"

namespace shopeasy::edge::scan {

namespace {
constexpr std::size_t kMaxPayload = 4096;

// "scanners/<id>/scan" -> "<id>", or empty if the topic has another shape.
std::string scanner_of(const std::string& topic) {
  constexpr std::string_view kPrefix = "scanners/";
  constexpr std::string_view kSuffix = "/scan";
  if (topic.size() <= kPrefix.size() + kSuffix.size() || topic.rfind(kPrefix, 0) != 0 ||
      topic.compare(topic.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
    return {};
  }
  std::string id = topic.substr(kPrefix.size(), topic.size() - kPrefix.size() - kSuffix.size());
  return id.find('/') == std::string::npos ? id : std::string();
}
}  // namespace

MqttScanIntake::MqttScanIntake(inventory::Inventory& inventory, mqtt::MqttClient* publisher,
                               events::EventBus* bus, log::Logger logger,
                               metrics::Registry& metrics, std::size_t max_queue,
                               const Clock& clock)
    : inventory_(inventory),
      publisher_(publisher),
      bus_(bus),
      logger_(std::move(logger)),
      max_queue_(max_queue),
      clock_(clock),
      dropped_(metrics.counter_family("edge_mqtt_scans_dropped_total",
                                      "MQTT scans refused before reaching the ledger, by reason",
                                      {"reason"})),
      applied_(metrics.counter("edge_mqtt_scans_total", "MQTT scans processed")) {
  worker_ = std::thread([this] { run(); });
}

MqttScanIntake::~MqttScanIntake() { stop(); }

void MqttScanIntake::stop() {
  {
    shopeasy::sync::MutexLock lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void MqttScanIntake::drop(const std::string& reason, const std::string& detail) {
  dropped_.with({reason}).inc();
  std::uint64_t suppressed = 0;
  if (drop_log_.allow(clock_.mono_now(), &suppressed)) {
    logger_.warn("scan_dropped",
                 {{"reason", reason}, {"detail", detail}, {"suppressed", suppressed}});
  }
}

void MqttScanIntake::on_message(const mqtt::Message& message) {
  if (message.topic.rfind("scanners/", 0) != 0) return;
  if (message.payload.size() > kMaxPayload) {
    drop("too_large", message.topic);
    return;
  }
  {
    shopeasy::sync::MutexLock lock(mutex_);
    if (queue_.size() < max_queue_) {
      queue_.push_back(message);
      cv_.notify_one();
      return;
    }
  }
  drop("queue_full", message.topic);
}

void MqttScanIntake::run() {
  for (;;) {
    mqtt::Message m;
    {
      shopeasy::sync::MutexLock lock(mutex_);
      while (!stopping_ && queue_.empty()) cv_.wait(mutex_);
      if (queue_.empty()) return;
      m = std::move(queue_.front());
      queue_.pop_front();
    }
    const std::string scanner = scanner_of(m.topic);
    if (scanner.empty()) {
      drop("bad_topic", m.topic);
      continue;
    }
    auto parsed = wire::parse_scan(m.payload, kMaxPayload);
    nlohmann::json result;
    if (!parsed.ok()) {
      drop("invalid", parsed.status().to_string());
      result = {{"ok", false},
                {"error",
                 {{"code", status_code_name(parsed.status().code())},
                  {"message", parsed.status().message()},
                  {"field", parsed.status().field()}}}};
    } else if (parsed->scanner_id != scanner) {
      drop("scanner_mismatch", m.topic);
      result = {
          {"ok", false},
          {"scan_id", parsed->scan_id},
          {"error",
           {{"code", "permission_denied"}, {"message", "scanner_id does not match the topic"}}}};
    } else if (parsed->action == wire::ScanAction::kAdjust) {
      // Adjustments need a manager's token; a handheld's MQTT identity is not one.
      drop("adjust_over_mqtt", scanner);
      result = {{"ok", false},
                {"scan_id", parsed->scan_id},
                {"error",
                 {{"code", "permission_denied"},
                  {"message", "adjust through the API with a manager token"}}}};
    } else {
      auto applied = inventory_.scan(*parsed, inventory::Actor{scanner, "scanner:" + scanner});
      applied_.inc();
      if (bus_ != nullptr && parsed->action == wire::ScanAction::kLookup) {
        // Live only (seq 0): the screen paired with this scanner decides what the code
        // means; a redelivered message carries the same scan_id, which it ignores.
        bus_->publish(events::Event{0,
                                    "scanner.input",
                                    {{"scanner_id", scanner},
                                     {"scan_id", parsed->scan_id},
                                     {"code", parsed->code},
                                     {"known", applied.ok()}},
                                    parsed->ts_ms.value_or(0)});
      }
      if (applied.ok()) {
        result = {{"ok", true},
                  {"scan_id", parsed->scan_id},
                  {"result", inventory::scan_result_json(*applied)}};
      } else {
        result = {{"ok", false},
                  {"scan_id", parsed->scan_id},
                  {"error",
                   {{"code", status_code_name(applied.status().code())},
                    {"message", applied.status().message()},
                    {"field", applied.status().field()}}}};
      }
    }
    if (publisher_ != nullptr) {
      Status sent = publisher_->publish("scanners/" + scanner + "/result",
                                        wire::dump_compact(result), 1, false);
      (void)sent;  // a handheld that is gone will re-send its scan; nothing to do here
    }
  }
}

}  // namespace shopeasy::edge::scan
