// Who may move stock over MQTT, with real processes: the store's broker configured
// with the shipped ACL as add-runner.sh edits it, and the edge. A listed handheld
// scanner posts scans and reads their results; a runner, signed in with its own valid
// credentials, cannot post a scan under any name, and the credential script refuses
// the edge's own name and keeps passwords off command lines.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kMilkEan = "4006381333931";

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string script() {
  return std::string(SHOPEASY_SOURCE_DIR) + "/firmware-config/mosquitto/add-runner.sh";
}

// Runs add-runner.sh with `args`, the password (if any) on standard input.
StatusOr<ChildProcess> run_script(std::vector<std::string> args, const std::string& password) {
  std::vector<std::string> argv = {"bash", "-c", "printf '%s\\n' \"$PASS\" | bash \"$0\" \"$@\"",
                                   script()};
  argv.insert(argv.end(), args.begin(), args.end());
  return ChildProcess::spawn({.argv = argv, .env = {{"PASS", password}}});
}

class MqttAclTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("mqtt-acl");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    // The shipped ACL with one scanner added by the script.
    acl_path_ = dir_->file("acl").string();
    ASSERT_TRUE(dir_->write_file("acl", read_text(std::string(SHOPEASY_SOURCE_DIR) +
                                                  "/firmware-config/mosquitto/acl"))
                    .is_ok());
    auto added =
        run_script({dir_->file("passwd").string(), "add-scanner", "h7", acl_path_}, "h7-pass");
    ASSERT_TRUE(added.ok());
    ASSERT_EQ(added->wait_exit(20s), 0) << added->describe();
    auto broker = MosquittoBroker::start(
        {.allow_anonymous = false,
         .users = {{"shopeasy-edge", "edge-pass"}, {"r1", "r1-pass"}, {"h7", "h7-pass"}},
         .acl = read_text(acl_path_)});
    ASSERT_TRUE(broker.ok()) << broker.status().to_string();
    broker_.emplace(std::move(*broker));
    auto edge = start_daemon(
        "shopeasy-edge",
        {"--http.port=0", "--state_dir=" + dir_->file("edge").string(),
         "--mqtt.port=" + std::to_string(broker_->port()), "--mqtt.username=shopeasy-edge",
         "--auth.tokens=" + admin_tokens_json(), R"(--telemetry.runners=["r1"])"},
        {{"SHOPEASY_EDGE_MQTT_PASSWORD", "edge-pass"}});
    ASSERT_TRUE(edge.ok()) << edge.status().to_string();
    edge_.emplace(std::move(*edge));
    // Subscribed, not just connected: a scan published before the edge's SUBACK would be
    // lost, and a refused one could not be told from one that never arrived.
    ASSERT_TRUE(wait_edge_subscribed(*edge_)) << health().dump();
    auto bins = api("POST", "/api/bins", R"({"bins":[{"code":"A-01","walk_order":1}]})",
                    "application/json");
    ASSERT_EQ(bins.status, 200) << bins.body;
    auto catalog = api("POST", "/api/catalog",
                       "sku,name,category,price_cents,barcodes,home_bin,reorder_point\n"
                       "MILK-1L,Milk 1 L,dairy,6500,4006381333931,A-01,5\n",
                       "text/csv");
    ASSERT_EQ(catalog.status, 200) << catalog.body;
  }

  json health() {
    auto r = http_request("127.0.0.1", edge_->http_port, "GET", "/health");
    return r ? json::parse(r->body, nullptr, false) : json();
  }
  HttpReply api(const std::string& method, const std::string& path, const std::string& body,
                const std::string& type) {
    auto headers = bearer();
    if (!type.empty()) headers["Content-Type"] = type;
    auto r = http_request("127.0.0.1", edge_->http_port, method, path, body, headers);
    return r.value_or(HttpReply{});
  }
  std::int64_t on_hand() {
    auto r = api("GET", "/api/stock/MILK-1L", "", "");
    if (r.status != 200) return -1;
    return json::parse(r.body).value("on_hand", std::int64_t{-1});
  }
  // Publishes a receive scan of `qty` as `user` on `topic`; the broker has processed
  // the message when this returns (QoS 1, acknowledged).
  void publish_scan(const std::string& user, const std::string& password, const std::string& topic,
                    const std::string& scan_id, int qty) {
    const std::string payload = json{
        {"scan_id", scan_id},
        {"scanner_id", user},
        {"code", kMilkEan},
        {"action", "receive"},
        {"qty", qty}}.dump();
    auto pub =
        ChildProcess::spawn({.argv = {"mosquitto_pub", "-h", "127.0.0.1", "-p",
                                      std::to_string(broker_->port()), "-u", user, "-P", password,
                                      "-i", user + "-pub", "-t", topic, "-q", "1", "-m", payload}});
    ASSERT_TRUE(pub.ok());
    ASSERT_EQ(pub->wait_exit(10s), 0) << pub->describe();
  }

  std::optional<TempDir> dir_;
  std::string acl_path_;
  std::optional<MosquittoBroker> broker_;
  std::optional<RunningDaemon> edge_;
};

TEST_F(MqttAclTest, ScannerScansAndReadsItsResultButARunnerCannotMoveStock) {
  ASSERT_EQ(on_hand(), 0);
  // A runner with valid credentials tries its own name and the scanner's.
  publish_scan("r1", "r1-pass", "scanners/r1/scan", "evil-1", 500);
  publish_scan("r1", "r1-pass", "scanners/h7/scan", "evil-2", 500);

  // The handheld's result subscription is acknowledged before it scans, so the one
  // answer cannot slip past it.
  auto results =
      start_subscriber(broker_->port(), {"-u", "h7", "-P", "h7-pass", "-i", "h7-sub", "-t",
                                         "scanners/h7/result", "-C", "1", "-q", "1"});
  ASSERT_TRUE(results.ok()) << results.status().to_string();
  publish_scan("h7", "h7-pass", "scanners/h7/scan", "legit-1", 4);
  EXPECT_TRUE(results->wait_for_output("\"scan_id\":\"legit-1\"", 10s))
      << "the handheld never read its result: " << results->describe();
  // The broker handled the runner's publishes before the scanner's, and the edge
  // takes messages in order: had they passed, they would be applied by now.
  EXPECT_TRUE(wait_for([&] { return on_hand() == 4; }, 10s)) << on_hand();
  EXPECT_EQ(on_hand(), 4) << "a runner's scan moved stock";
}

TEST_F(MqttAclTest, ScriptRefusesTheEdgeNameAndRevokesScanners) {
  auto edge_name = run_script({dir_->file("passwd").string(), "add", "shopeasy-edge"}, "x");
  ASSERT_TRUE(edge_name.ok());
  EXPECT_EQ(edge_name->wait_exit(10s), 2);
  EXPECT_NE(edge_name->stderr_text().find("edge daemon"), std::string::npos)
      << edge_name->describe();

  const std::string before = read_text(acl_path_);
  EXPECT_NE(before.find("topic write scanners/h7/scan"), std::string::npos) << before;
  // The password file holds a hash, never the password.
  EXPECT_EQ(read_text(dir_->file("passwd").string()).find("h7-pass"), std::string::npos);
  auto revoked = run_script({dir_->file("passwd").string(), "revoke", "h7", acl_path_}, "");
  ASSERT_TRUE(revoked.ok());
  ASSERT_EQ(revoked->wait_exit(10s), 0) << revoked->describe();
  const std::string after = read_text(acl_path_);
  EXPECT_EQ(after.find("scanners/h7"), std::string::npos) << after;
  EXPECT_EQ(read_text(dir_->file("passwd").string()).find("h7:"), std::string::npos);
}

// The password reaches mosquitto_passwd on standard input, never as an argument (where
// the process list and shell history would show it): a stand-in mosquitto_passwd
// records what it was given.
TEST_F(MqttAclTest, ScriptNeverPutsThePasswordOnACommandLine) {
  const std::string shim_dir = dir_->file("shim").string();
  std::filesystem::create_directories(shim_dir);
  const std::string shim = shim_dir + "/mosquitto_passwd";
  ASSERT_TRUE(dir_->write_file("shim/mosquitto_passwd",
                               "#!/bin/sh\nprintf '%s\\n' \"$@\" >> \"$SHIM_LOG.argv\"\n"
                               "cat >> \"$SHIM_LOG.stdin\"\n")
                  .is_ok());
  std::filesystem::permissions(shim, std::filesystem::perms::owner_all);
  const std::string log = dir_->file("shim-log").string();
  const char* path = std::getenv("PATH");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{dir_->file("passwd2").string(), "add", "r9"},
        std::vector<std::string>{dir_->file("passwd2").string(), "add-scanner", "h9", acl_path_}}) {
    std::vector<std::string> argv = {"bash", "-c", "printf '%s\\n' \"$PASS\" | bash \"$0\" \"$@\"",
                                     script()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto run =
        ChildProcess::spawn({.argv = argv,
                             .env = {{"PASS", "pw-on-stdin-77"},
                                     {"SHIM_LOG", log},
                                     {"PATH", shim_dir + ":" + (path ? path : "/usr/bin:/bin")}}});
    ASSERT_TRUE(run.ok());
    ASSERT_EQ(run->wait_exit(20s), 0) << run->describe();
  }
  const std::string argv_seen = read_text(log + ".argv");
  EXPECT_NE(argv_seen.find("r9"), std::string::npos) << "the stand-in was not called";
  EXPECT_NE(argv_seen.find("h9"), std::string::npos) << argv_seen;
  EXPECT_EQ(argv_seen.find("pw-on-stdin-77"), std::string::npos) << argv_seen;
  EXPECT_NE(read_text(log + ".stdin").find("pw-on-stdin-77"), std::string::npos);
}

}  // namespace
}  // namespace shopeasy::testing
