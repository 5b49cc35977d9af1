// MosquittoClient against a real mosquitto: subscribed() turns true only once the
// broker has acknowledged every subscription of the current connection, so a message
// published after it is delivered, on the first connection and after a reconnect.
#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <vector>

#include "common/clock/clock.hpp"
#include "edge/mqtt/mqtt_client.hpp"
#include "tests/harness/harness.hpp"

namespace shopeasy::edge::mqtt {
namespace {

using namespace std::chrono_literals;

class MosquittoClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto broker = testing::MosquittoBroker::start();
    if (!broker.ok() && broker.status().code() == StatusCode::kNotFound) {
      GTEST_SKIP() << "mosquitto is not installed";
    }
    ASSERT_TRUE(broker.ok()) << broker.status().to_string();
    broker_.emplace(std::move(*broker));
  }
  void TearDown() override {
    if (client_) client_->stop();
  }

  void make_client(const std::vector<std::string>& filters) {
    MosquittoOptions o;
    o.host = broker_->host();
    o.port = broker_->port();
    o.client_id = "client-under-test";
    o.clean_session = true;
    o.min_backoff = 50ms;
    o.max_backoff = 200ms;
    client_ = std::make_unique<MosquittoClient>(
        o,
        [this](const Message& m) {
          std::lock_guard lock(mu_);
          received_.push_back(m.topic + " " + m.payload);
        },
        log::Logger(sink_, log::Level::kInfo, "mqtt"), metrics_);
    for (const auto& f : filters) client_->subscribe(f, 1);
  }

  // One QoS 1 publish from an outside client; returns once the broker acknowledged it.
  void publish_once(const std::string& topic, const std::string& payload) {
    auto pub = testing::ChildProcess::spawn(
        {.argv = {"mosquitto_pub", "-h", broker_->host(), "-p", std::to_string(broker_->port()),
                  "-t", topic, "-m", payload, "-q", "1"}});
    ASSERT_TRUE(pub.ok()) << pub.status().to_string();
    ASSERT_EQ(pub->wait_exit(10s), 0) << pub->describe();
  }

  bool received(const std::string& line) {
    std::lock_guard lock(mu_);
    for (const auto& r : received_) {
      if (r == line) return true;
    }
    return false;
  }

  std::optional<testing::MosquittoBroker> broker_;
  std::shared_ptr<log::MemorySink> sink_ = std::make_shared<log::MemorySink>();
  metrics::Registry metrics_;
  std::unique_ptr<MosquittoClient> client_;
  std::mutex mu_;  // guards received_ (written on the client's network thread)
  std::vector<std::string> received_;
};

TEST_F(MosquittoClientTest, SubscribedAfterTheSubackAndThenASinglePublishArrives) {
  make_client({"shelf/+/scan", "shelf/+/status"});
  EXPECT_FALSE(client_->subscribed());
  EXPECT_EQ(client_->subscribed_connections(), 0u);
  ASSERT_TRUE(client_->start().is_ok());
  ASSERT_TRUE(testing::wait_for([&] { return client_->subscribed(); }, 10s)) << metrics_.render();
  EXPECT_TRUE(client_->connected());
  EXPECT_EQ(client_->subscribed_connections(), 1u);
  EXPECT_NE(metrics_.render().find("mqtt_subscribed 1"), std::string::npos) << metrics_.render();

  // Published once, never retried: both filters are live.
  publish_once("shelf/a/scan", "one");
  publish_once("shelf/b/status", "two");
  EXPECT_TRUE(testing::wait_for([&] { return received("shelf/b/status two"); }, 10s));
  EXPECT_TRUE(received("shelf/a/scan one"));

  client_->stop();
  EXPECT_FALSE(client_->subscribed());
  EXPECT_NE(metrics_.render().find("mqtt_subscribed 0"), std::string::npos) << metrics_.render();
}

TEST_F(MosquittoClientTest, AfterABrokerRestartTheNewSubscriptionsAreAwaited) {
  make_client({"shelf/+/scan"});
  ASSERT_TRUE(client_->start().is_ok());
  ASSERT_TRUE(testing::wait_for([&] { return client_->subscribed_connections() == 1; }, 10s));

  // A broker without persistence forgets the session: the client must subscribe again,
  // and only the second connection's SUBACK makes a publish safe.
  ASSERT_TRUE(broker_->restart().is_ok());
  ASSERT_TRUE(testing::wait_for([&] { return client_->subscribed_connections() >= 2; }, 15s))
      << broker_->output();
  EXPECT_TRUE(client_->subscribed());
  publish_once("shelf/a/scan", "after-restart");
  EXPECT_TRUE(testing::wait_for([&] { return received("shelf/a/scan after-restart"); }, 10s));
}

TEST_F(MosquittoClientTest, WithoutSubscriptionsItIsSubscribedOnConnect) {
  make_client({});
  ASSERT_TRUE(client_->start().is_ok());
  ASSERT_TRUE(testing::wait_for([&] { return client_->subscribed(); }, 10s));
  EXPECT_TRUE(client_->connected());
  EXPECT_EQ(client_->subscribed_connections(), 1u);
}

// The reconnect backoff is timed on the client's clock: with a fake clock that does not
// move, a refused connection is not tried again however much real time passes; moving
// the clock past the backoff brings the next attempt.
TEST_F(MosquittoClientTest, ReconnectBackoffIsTimedOnTheClientsClock) {
  const int port = testing::free_tcp_port();  // nothing listens there: refused at once
  ASSERT_NE(port, 0);
  FakeClock clock;
  MosquittoOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  o.client_id = "backoff-under-test";
  o.clean_session = true;
  o.min_backoff = 100ms;
  o.max_backoff = 100ms;
  client_ = std::make_unique<MosquittoClient>(
      o, [](const Message&) {}, log::Logger(sink_, log::Level::kInfo, "mqtt"), metrics_, clock);
  metrics::Counter& failures =
      metrics_.counter("mqtt_connect_failures_total", "Failed broker connection attempts");
  ASSERT_TRUE(client_->start().is_ok());
  ASSERT_TRUE(testing::wait_for([&] { return failures.value() >= 1; }, 10s));
  // Ten real backoffs: on the machine's clock there would have been several attempts.
  EXPECT_FALSE(testing::wait_for([&] { return failures.value() >= 2; }, 1s));
  EXPECT_EQ(failures.value(), 1u);
  clock.advance(100ms);
  EXPECT_TRUE(testing::wait_for([&] { return failures.value() >= 2; }, 10s));
  EXPECT_FALSE(client_->connected());
}

}  // namespace
}  // namespace shopeasy::edge::mqtt
