// Runner telemetry end to end with real processes: the store's broker configured with
// the shipped ACL and password file, the edge, and the shopeasy-runner device client.
// A runner shows up on the edge's API, goes offline by its last will when its process
// dies, and cannot publish as another runner or read another's assignments.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string shipped_acl() {
  std::ifstream in(std::string(SHOPEASY_SOURCE_DIR) + "/firmware-config/mosquitto/acl");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class TelemetryE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("telemetry-e2e");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    const std::string acl = shipped_acl();
    ASSERT_FALSE(acl.empty());
    auto broker = MosquittoBroker::start(
        {.allow_anonymous = false,
         .users = {{"shopeasy-edge", "edge-pass"}, {"r1", "r1-pass"}, {"r2", "r2-pass"}},
         .acl = acl});
    ASSERT_TRUE(broker.ok()) << broker.status().to_string();
    broker_.emplace(std::move(*broker));
    auto edge =
        start_daemon("shopeasy-edge",
                     {"--http.port=0", "--state_dir=" + dir_->file("edge").string(),
                      "--mqtt.port=" + std::to_string(broker_->port()),
                      "--mqtt.username=shopeasy-edge", "--auth.tokens=" + admin_tokens_json(),
                      R"(--telemetry.runners=["r1","r2"])", "--telemetry.stale_after_s=3"},
                     {{"SHOPEASY_EDGE_MQTT_PASSWORD", "edge-pass"}});
    ASSERT_TRUE(edge.ok()) << edge.status().to_string();
    edge_.emplace(std::move(*edge));
    // Subscribed, not just connected: a spoof published before the edge's SUBACK would
    // be lost and prove nothing.
    ASSERT_TRUE(wait_edge_subscribed(*edge_)) << health().dump();
  }
  json health() {
    auto r = http_request("127.0.0.1", edge_->http_port, "GET", "/health");
    return r ? json::parse(r->body) : json();
  }
  std::optional<json> runner(const std::string& id) {
    auto r = http_request("127.0.0.1", edge_->http_port, "GET", "/api/runners/" + id, "", bearer());
    if (!r || r->status != 200) return std::nullopt;
    return json::parse(r->body);
  }
  StatusOr<ChildProcess> start_runner(const std::string& id, const std::string& password) {
    return ChildProcess::spawn({.argv = {binary_path("shopeasy-runner"), "--runner.id=" + id,
                                         "--mqtt.port=" + std::to_string(broker_->port()),
                                         "--telemetry.interval_ms=200", "--mqtt.keepalive_s=2"},
                                .env = {{"SHOPEASY_RUNNER_MQTT_PASSWORD", password}}});
  }

  std::optional<TempDir> dir_;
  std::optional<MosquittoBroker> broker_;
  std::optional<RunningDaemon> edge_;
};

TEST_F(TelemetryE2eTest, RunnerAppearsMovesOnlineAndGoesOfflineByLastWill) {
  // The store's screens follow the runner on the event stream, open before it starts.
  auto stream =
      ChildProcess::spawn({.argv = {"curl", "-sN", "--max-time", "60", "-H",
                                    std::string("Authorization: Bearer ") + kAdminToken,
                                    "http://127.0.0.1:" + std::to_string(edge_->http_port) +
                                        "/api/events?types=runner"}});
  ASSERT_TRUE(stream.ok());
  ASSERT_TRUE(stream->wait_for_output("shopeasy edge events", 10s)) << stream->describe();
  auto r1 = start_runner("r1", "r1-pass");
  ASSERT_TRUE(r1.ok()) << r1.status().to_string();
  std::string seen;
  EXPECT_TRUE(wait_for(
      [&] {
        auto r = runner("r1");
        if (!r) return false;
        seen = r->dump();
        return r->contains("fix") || r->dump().find("\"lat\"") != std::string::npos;
      },
      10s))
      << seen << "\n"
      << r1->describe() << edge_->process.describe();
  r1->kill9();
  // The broker publishes the runner's last will; the edge marks it offline.
  EXPECT_TRUE(wait_for(
      [&] {
        auto r = runner("r1");
        seen = r ? r->dump() : "";
        return seen.find("offline") != std::string::npos;
      },
      15s))
      << seen;
  EXPECT_TRUE(stream->wait_for_output("event: runner.updated", 10s)) << stream->describe();
  EXPECT_TRUE(stream->wait_for_output(R"("presence":"offline")", 10s)) << stream->describe();
  record_stream(edge_->http_port, "/api/events?types=runner", stream->stdout_text());
}

TEST_F(TelemetryE2eTest, ARunnerCannotPublishAsAnotherOrReadItsAssignments) {
  // r1's credentials, r2's topic: the broker drops it under the shipped ACL. QoS 1, so
  // the broker has handled it when mosquitto_pub exits.
  const std::string spoof =
      R"({"runner_id":"r2","lat":12.97,"lon":77.64,"state":"idle","device_ts_ms":1767225600000})";
  auto pub = ChildProcess::spawn(
      {.argv = {"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(broker_->port()), "-u",
                "r1", "-P", "r1-pass", "-q", "1", "-t", "runners/r2/telemetry", "-m", spoof}});
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(pub->wait_exit(10s), 0) << pub->describe();
  // Then a fix r1 may send. The broker forwards to the edge in order and the edge
  // applies telemetry in order, so once this one shows, the spoof would have too.
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const std::string marker = json{
      {"runner_id", "r1"},
      {"lat", 12.95},
      {"lon", 77.61},
      {"state", "idle"},
      {"device_ts_ms", now_ms}}.dump();
  auto marker_pub = ChildProcess::spawn(
      {.argv = {"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(broker_->port()), "-u",
                "r1", "-P", "r1-pass", "-q", "1", "-t", "runners/r1/telemetry", "-m", marker}});
  ASSERT_TRUE(marker_pub.ok());
  EXPECT_EQ(marker_pub->wait_exit(10s), 0) << marker_pub->describe();
  std::string seen;
  ASSERT_TRUE(wait_for(
      [&] {
        auto r = runner("r1");
        seen = r ? r->dump() : "";
        return seen.find("77.61") != std::string::npos;
      },
      10s))
      << seen;
  auto r2_before = runner("r2");
  EXPECT_TRUE(!r2_before || r2_before->dump().find("77.64") == std::string::npos)
      << "the spoofed fix was applied: " << r2_before->dump();

  // And r1 may not read r2's assignments. Its subscription to both its own topic and
  // r2's is acknowledged first; the edge then sends to r2, then to r1. r1 receives its
  // own, so r2's (sent earlier on the same route) would have arrived before it.
  auto sub = start_subscriber(broker_->port(),
                              {"-u", "r1", "-P", "r1-pass", "-i", "r1-sub", "-q", "1", "-v", "-t",
                               "runners/r2/assignment", "-t", "runners/r1/assignment", "-C", "1"});
  ASSERT_TRUE(sub.ok()) << sub.status().to_string();
  for (const auto& [topic, payload] : std::vector<std::pair<std::string, std::string>>{
           {"runners/r2/assignment", "for-r2"}, {"runners/r1/assignment", "for-r1"}}) {
    auto edge_pub = ChildProcess::spawn(
        {.argv = {"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(broker_->port()), "-u",
                  "shopeasy-edge", "-P", "edge-pass", "-t", topic, "-q", "1", "-m", payload}});
    ASSERT_TRUE(edge_pub.ok());
    EXPECT_EQ(edge_pub->wait_exit(10s), 0) << edge_pub->describe();
  }
  EXPECT_EQ(sub->wait_exit(10s), 0) << sub->describe();
  EXPECT_NE(sub->stdout_text().find("runners/r1/assignment for-r1"), std::string::npos)
      << sub->describe();
  EXPECT_EQ(sub->stdout_text().find("for-r2"), std::string::npos) << sub->describe();

  // A real r2 message is accepted, proving the edge would have shown the spoof.
  auto r2 = start_runner("r2", "r2-pass");
  ASSERT_TRUE(r2.ok());
  EXPECT_TRUE(wait_for([&] { return runner("r2").has_value(); }, 10s));
  auto r = runner("r2");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->dump().find("77.64,"), std::string::npos) << "the spoofed fix was applied";
  // Anonymous clients are refused outright.
  auto anon = ChildProcess::spawn(
      {.argv = {"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(broker_->port()), "-t",
                "runners/r1/telemetry", "-m", "{}"}});
  ASSERT_TRUE(anon.ok());
  EXPECT_NE(anon->wait_exit(10s), 0);
}

}  // namespace
}  // namespace shopeasy::testing
