#include <mosquitto.h>

#include <algorithm>
#include <mutex>
#include <utility>

#include "edge/mqtt/mqtt_client.hpp"

namespace shopeasy::edge::mqtt {

namespace {
void init_library_once() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
}
}  // namespace

MosquittoClient::MosquittoClient(MosquittoOptions options, MessageHandler on_message,
                                 log::Logger logger, metrics::Registry& metrics, const Clock& clock)
    : options_(std::move(options)),
      clock_(clock),
      on_message_(std::move(on_message)),
      logger_(std::move(logger)),
      connected_gauge_(metrics.gauge("mqtt_connected", "1 while connected to the broker")),
      subscribed_gauge_(metrics.gauge("mqtt_subscribed",
                                      "1 while connected with every subscription acknowledged")),
      connects_(metrics.counter("mqtt_connects_total", "Successful broker connections")),
      connect_failures_(
          metrics.counter("mqtt_connect_failures_total", "Failed broker connection attempts")),
      received_(metrics.counter("mqtt_messages_received_total", "Messages received")),
      publish_failures_(
          metrics.counter("mqtt_publish_failures_total", "Publishes refused or failed")) {}

MosquittoClient::~MosquittoClient() {
  stop();
  if (mosq_) mosquitto_destroy(mosq_);
}

void MosquittoClient::subscribe(std::string topic_filter, int qos) {
  subscriptions_.emplace_back(std::move(topic_filter), qos);
}

Status MosquittoClient::start() {
  init_library_once();
  mosq_ = mosquitto_new(options_.client_id.c_str(), options_.clean_session, this);
  if (!mosq_) return internal_error("mosquitto_new failed");
  mosquitto_threaded_set(mosq_, true);
  mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  if (!options_.username.empty()) {
    mosquitto_username_pw_set(mosq_, options_.username.c_str(),
                              options_.password.empty() ? nullptr : options_.password.c_str());
  }
  if (!options_.ca_file.empty()) {
    const int rc =
        mosquitto_tls_set(mosq_, options_.ca_file.c_str(), nullptr, nullptr, nullptr, nullptr);
    if (rc != MOSQ_ERR_SUCCESS) {
      return invalid_argument(
          "cannot use CA file " + options_.ca_file + ": " + mosquitto_strerror(rc), "mqtt.ca_file");
    }
  }
  mosquitto_connect_callback_set(mosq_, &MosquittoClient::handle_connect);
  mosquitto_disconnect_callback_set(mosq_, &MosquittoClient::handle_disconnect);
  mosquitto_message_callback_set(mosq_, &MosquittoClient::handle_message);
  mosquitto_subscribe_callback_set(mosq_, &MosquittoClient::handle_subscribe);
  thread_ = std::thread([this] { run(); });
  return Status::ok();
}

void MosquittoClient::stop() {
  if (stop_.exchange(true)) return;
  if (thread_.joinable()) thread_.join();
  connected_ = false;
  connected_gauge_.set(0);
  set_subscribed(false);
}

void MosquittoClient::set_subscribed(bool value) {
  subscribed_ = value;
  subscribed_gauge_.set(value ? 1 : 0);
}

// One thread drives the socket. We run our own loop instead of mosquitto_loop_start()
// so stop() never waits on a blocked reconnect inside the library.
void MosquittoClient::run() {
  auto backoff = options_.min_backoff;
  bool socket_open = false;
  MonoTime next_attempt = clock_.mono_now();
  log::RateLimiter failure_log(3, std::chrono::seconds(30));
  auto report_unreachable = [&](int rc) {
    connect_failures_.inc();
    std::uint64_t suppressed = 0;
    if (failure_log.allow(clock_.mono_now(), &suppressed)) {
      logger_.warn("broker_unreachable", {{"host", options_.host},
                                          {"port", options_.port},
                                          {"error", mosquitto_strerror(rc)},
                                          {"retry_ms", static_cast<std::int64_t>(backoff.count())},
                                          {"suppressed", suppressed}});
    }
  };
  while (!stop_.load()) {
    if (!socket_open) {
      if (clock_.mono_now() < next_attempt) {
        // Real time passes here whatever clock_ is; it is read again after the nap.
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      const int rc =
          mosquitto_connect(mosq_, options_.host.c_str(), options_.port, options_.keepalive_s);
      if (rc != MOSQ_ERR_SUCCESS) {
        report_unreachable(rc);
        next_attempt = clock_.mono_now() + backoff;
        backoff = std::min(backoff * 2, options_.max_backoff);
        continue;
      }
      socket_open = true;
    }
    const int rc = mosquitto_loop(mosq_, 100, 1);
    if (connected_.load()) backoff = options_.min_backoff;
    if (rc != MOSQ_ERR_SUCCESS && !stop_.load()) {
      // The broker went away or refused us (bad credentials arrive as a disconnect).
      socket_open = false;
      set_subscribed(false);
      if (connected_.exchange(false)) {
        connected_gauge_.set(0);
        logger_.warn("broker_disconnected", {{"error", mosquitto_strerror(rc)}});
      } else if (!std::exchange(refused_by_broker_, false)) {
        // The connection failed before CONNACK, for example a TLS handshake that the
        // library finishes inside the loop rather than inside mosquitto_connect().
        report_unreachable(rc);
      }
      next_attempt = clock_.mono_now() + backoff;
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
  }
  if (socket_open) {
    // Flush the DISCONNECT so the broker does not fire our last will.
    mosquitto_disconnect(mosq_);
    mosquitto_loop(mosq_, 50, 1);
  }
}

void MosquittoClient::handle_connect(mosquitto* m, void* self_ptr, int rc) {
  auto* self = static_cast<MosquittoClient*>(self_ptr);
  if (rc != 0) {
    self->connect_failures_.inc();
    self->refused_by_broker_ = true;
    self->logger_.error("broker_refused", {{"reason", mosquitto_connack_string(rc)},
                                           {"user", self->options_.username}});
    return;
  }
  // A new connection: nothing of it is acknowledged yet.
  self->set_subscribed(false);
  self->pending_subacks_.clear();
  self->subscription_failed_ = false;
  for (const auto& [topic, qos] : self->subscriptions_) {
    int mid = 0;
    const int sent = mosquitto_subscribe(m, &mid, topic.c_str(), qos);
    if (sent == MOSQ_ERR_SUCCESS) {
      self->pending_subacks_.emplace(mid, topic);
    } else {
      self->subscription_failed_ = true;
      self->logger_.error("subscribe_failed",
                          {{"topic", topic}, {"error", mosquitto_strerror(sent)}});
    }
  }
  self->connected_ = true;
  if (self->pending_subacks_.empty() && !self->subscription_failed_) {
    self->set_subscribed(true);
    self->subscribed_connections_.fetch_add(1);
  }
  self->connected_gauge_.set(1);
  self->connects_.inc();
  self->logger_.info("broker_connected",
                     {{"host", self->options_.host}, {"port", self->options_.port}});
  if (self->on_connect_) self->on_connect_();
}

void MosquittoClient::handle_subscribe(mosquitto*, void* self_ptr, int mid, int qos_count,
                                       const int* granted_qos) {
  auto* self = static_cast<MosquittoClient*>(self_ptr);
  auto it = self->pending_subacks_.find(mid);
  if (it == self->pending_subacks_.end()) return;  // from an earlier connection
  for (int i = 0; i < qos_count; ++i) {
    // 0x80: the broker refused the subscription (MQTT 3.1.1, 3.9.3).
    if (granted_qos[i] == 0x80) {
      self->subscription_failed_ = true;
      self->logger_.error("subscription_refused", {{"topic", it->second}});
    }
  }
  self->pending_subacks_.erase(it);
  if (self->pending_subacks_.empty() && !self->subscription_failed_) {
    self->set_subscribed(true);
    self->subscribed_connections_.fetch_add(1);
  }
}

void MosquittoClient::handle_disconnect(mosquitto*, void* self_ptr, int rc) {
  auto* self = static_cast<MosquittoClient*>(self_ptr);
  self->set_subscribed(false);
  if (self->connected_.exchange(false)) {
    self->connected_gauge_.set(0);
    if (rc != 0 && !self->stop_.load()) {
      self->logger_.warn("broker_connection_lost", {{"rc", rc}});
    }
  }
}

void MosquittoClient::handle_message(mosquitto*, void* self_ptr, const mosquitto_message* msg) {
  auto* self = static_cast<MosquittoClient*>(self_ptr);
  self->received_.inc();
  if (!self->on_message_) return;
  Message m;
  m.topic = msg->topic ? msg->topic : "";
  if (msg->payload && msg->payloadlen > 0) {
    m.payload.assign(static_cast<const char*>(msg->payload),
                     static_cast<std::size_t>(msg->payloadlen));
  }
  m.qos = msg->qos;
  m.retain = msg->retain;
  self->on_message_(m);
}

Status MosquittoClient::publish(const std::string& topic, std::string_view payload, int qos,
                                bool retain) {
  if (!connected_.load()) {
    publish_failures_.inc();
    return unavailable("not connected to the broker");
  }
  const int rc = mosquitto_publish(mosq_, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                                   payload.data(), qos, retain);
  if (rc == MOSQ_ERR_SUCCESS) return Status::ok();
  publish_failures_.inc();
  if (rc == MOSQ_ERR_INVAL || rc == MOSQ_ERR_PAYLOAD_SIZE || rc == MOSQ_ERR_MALFORMED_UTF8) {
    return invalid_argument(std::string("cannot publish to ") + topic + ": " +
                            mosquitto_strerror(rc));
  }
  return unavailable(std::string("publish failed: ") + mosquitto_strerror(rc));
}

}  // namespace shopeasy::edge::mqtt
