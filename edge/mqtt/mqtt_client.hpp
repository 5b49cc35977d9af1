// The edge's connection to the store's own Mosquitto broker. MqttClient is the
// interface the rest of the edge uses (telemetry, scans, dispatch); MosquittoClient
// implements it on libmosquitto with its own network thread, reconnects with
// exponential backoff whenever the broker goes away, and re-subscribes on every
// connect. Message callbacks run on that network thread and must not block: hand
// work to a queue.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock/clock.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/status/status.hpp"

struct mosquitto;
struct mosquitto_message;

namespace shopeasy::edge::mqtt {

struct Message {
  std::string topic;
  std::string payload;
  int qos = 0;
  bool retain = false;
};

using MessageHandler = std::function<void(const Message&)>;

class MqttClient {
 public:
  virtual ~MqttClient() = default;
  // Adds a subscription, kept across reconnects. Call before start().
  virtual void subscribe(std::string topic_filter, int qos) = 0;
  // Queues a message. kUnavailable while disconnected (the caller decides whether to
  // keep it); kInvalidArgument for a bad topic or oversized payload. Thread-safe.
  virtual Status publish(const std::string& topic, std::string_view payload, int qos,
                         bool retain) = 0;
  virtual bool connected() const = 0;
};

struct MosquittoOptions {
  std::string host = "127.0.0.1";
  int port = 1883;
  std::string client_id = "shopeasy-edge";
  std::string username;  // empty: anonymous
  std::string password;
  int keepalive_s = 15;
  // A persistent session lets the broker keep QoS 1 scans and runner events queued
  // while the edge restarts.
  bool clean_session = false;
  std::chrono::milliseconds min_backoff{200};
  std::chrono::milliseconds max_backoff{5000};
  std::string ca_file;  // TLS when set
};

class MosquittoClient final : public MqttClient {
 public:
  // `clock` times the reconnect backoff (and must outlive the client).
  MosquittoClient(MosquittoOptions options, MessageHandler on_message, log::Logger logger,
                  metrics::Registry& metrics, const Clock& clock = real_clock());
  ~MosquittoClient() override;
  MosquittoClient(const MosquittoClient&) = delete;
  MosquittoClient& operator=(const MosquittoClient&) = delete;

  void subscribe(std::string topic_filter, int qos) override;
  Status publish(const std::string& topic, std::string_view payload, int qos, bool retain) override;
  bool connected() const override { return connected_.load(); }
  // True while connected with every subscription acknowledged by the broker (SUBACK)
  // and granted. Until then a message published to a subscribed topic may not reach us:
  // the CONNACK comes before the SUBACK.
  bool subscribed() const { return subscribed_.load(); }
  // Connections so far on which every subscription was acknowledged and granted; after
  // a reconnect, waiting for this to grow tells the new connection's SUBACK from the
  // previous one's.
  std::uint64_t subscribed_connections() const { return subscribed_connections_.load(); }

  // Starts the network thread; the first connection is attempted at once and retried
  // with backoff. kInternal if libmosquitto cannot create a client.
  Status start();
  // Disconnects and joins the network thread. Idempotent.
  void stop();

  // Called (on the network thread) after every successful (re)connect.
  void set_on_connect(std::function<void()> fn) { on_connect_ = std::move(fn); }

 private:
  static void handle_connect(mosquitto* m, void* self, int rc);
  static void handle_disconnect(mosquitto* m, void* self, int rc);
  static void handle_message(mosquitto* m, void* self, const mosquitto_message* msg);
  static void handle_subscribe(mosquitto* m, void* self, int mid, int qos_count,
                               const int* granted_qos);
  void set_subscribed(bool value);
  void run();

  MosquittoOptions options_;
  const Clock& clock_;
  MessageHandler on_message_;
  std::function<void()> on_connect_;
  log::Logger logger_;
  mosquitto* mosq_ = nullptr;
  std::vector<std::pair<std::string, int>> subscriptions_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> connected_{false};
  // Set by the CONNACK callback (on the loop thread) so a refusal is reported once.
  bool refused_by_broker_ = false;
  // SUBSCRIBE message ids of this connection not yet acknowledged, with their topic
  // filters. Touched only on the loop thread (connect and SUBACK callbacks), so unlocked.
  std::map<int, std::string> pending_subacks_;
  // Whether a subscription of this connection was refused (granted 0x80) or could not
  // be sent; loop thread only.
  bool subscription_failed_ = false;
  std::atomic<bool> subscribed_{false};
  std::atomic<std::uint64_t> subscribed_connections_{0};
  metrics::Gauge& connected_gauge_;
  metrics::Gauge& subscribed_gauge_;
  metrics::Counter& connects_;
  metrics::Counter& connect_failures_;
  metrics::Counter& received_;
  metrics::Counter& publish_failures_;
};

}  // namespace shopeasy::edge::mqtt
