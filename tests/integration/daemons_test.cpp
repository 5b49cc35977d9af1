// The foundation's promises, checked on the real binaries: each daemon starts, answers
// /health without a token and /metrics only with one, reports bad configuration with
// exit code 2 naming the key, rides out a missing broker, and stops cleanly on SIGTERM.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <iostream>

#include <nlohmann/json.hpp>

#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::testing {
namespace {

using namespace std::chrono_literals;

class DaemonsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("daemons");
    ASSERT_TRUE(dir.ok()) << dir.status().to_string();
    dir_.emplace(std::move(*dir));
  }

  std::vector<std::string> edge_args(int mqtt_port) {
    return {"--http.port=0", "--state_dir=" + dir_->file("edge").string(),
            "--mqtt.port=" + std::to_string(mqtt_port), "--auth.tokens=" + admin_tokens_json()};
  }

  std::optional<TempDir> dir_;
};

nlohmann::json json_of(const std::optional<HttpReply>& reply) {
  return nlohmann::json::parse(reply->body);
}

TEST_F(DaemonsTest, EdgeServesHealthAndProtectedMetricsWithBroker) {
  auto broker = MosquittoBroker::start();
  ASSERT_TRUE(broker.ok()) << broker.status().to_string();
  auto edge = start_daemon("shopeasy-edge", edge_args(broker->port()));
  ASSERT_TRUE(edge.ok()) << edge.status().to_string();

  auto health = get(*edge, "/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(json_of(health)["status"], "ok");
  EXPECT_TRUE(
      wait_for([&] { return json_of(get(*edge, "/health"))["mqtt"]["connected"] == true; }, 10s))
      << edge->process.describe();

  auto anonymous = get(*edge, "/metrics");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  EXPECT_EQ(json_of(anonymous)["error"]["code"], "unauthenticated");

  auto metrics = get(*edge, "/metrics", bearer());
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("mqtt_connected 1"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("# TYPE http_requests_total counter"), std::string::npos);

  auto status = edge->process.terminate_and_wait(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 0) << edge->process.describe();
  EXPECT_NE(edge->process.output().find("event=stopped"), std::string::npos);
}

TEST_F(DaemonsTest, EdgeRidesOutMissingBrokerAndConnectsWhenItAppears) {
  auto broker = MosquittoBroker::start();
  ASSERT_TRUE(broker.ok()) << broker.status().to_string();
  // Only the broker's absence matters here. SIGKILL, because on a loaded box a broker
  // stopped a moment after it started once took more than the 15 s grace to exit.
  ASSERT_TRUE(broker->kill9().is_ok());
  auto edge = start_daemon("shopeasy-edge", edge_args(broker->port()));
  ASSERT_TRUE(edge.ok()) << edge.status().to_string();
  EXPECT_TRUE(edge->process.wait_for_output("event=broker_unreachable", 10s));
  auto health = get(*edge, "/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(json_of(health)["mqtt"]["connected"], false);

  ASSERT_TRUE(broker->restart().is_ok());
  EXPECT_TRUE(
      wait_for([&] { return json_of(get(*edge, "/health"))["mqtt"]["connected"] == true; }, 15s))
      << edge->process.describe();
}

TEST_F(DaemonsTest, EdgeReconnectsAfterBrokerRestart) {
  auto broker = MosquittoBroker::start();
  ASSERT_TRUE(broker.ok()) << broker.status().to_string();
  auto edge = start_daemon("shopeasy-edge", edge_args(broker->port()));
  ASSERT_TRUE(edge.ok()) << edge.status().to_string();
  auto connected = [&] { return json_of(get(*edge, "/health"))["mqtt"]["connected"] == true; };
  ASSERT_TRUE(wait_for(connected, 10s));
  ASSERT_TRUE(broker->kill9().is_ok());
  EXPECT_TRUE(wait_for([&] { return !connected(); }, 10s));
  ASSERT_TRUE(broker->restart().is_ok());
  EXPECT_TRUE(wait_for(connected, 10s)) << edge->process.describe();
}

// The store's broker restarted 100 times in a row (an upgrade loop, a flapping box):
// each time the edge is connected again within 2 s of the broker accepting
// connections, counted by the edge's own connection counter so no reconnect is missed.
TEST_F(DaemonsTest, EdgeResumesAfterEachOfAHundredBrokerRestarts) {
  auto broker = MosquittoBroker::start();
  ASSERT_TRUE(broker.ok()) << broker.status().to_string();
  auto edge = start_daemon("shopeasy-edge", edge_args(broker->port()));
  ASSERT_TRUE(edge.ok()) << edge.status().to_string();
  auto connects = [&]() -> double {
    auto metrics = get(*edge, "/metrics", bearer());
    if (!metrics || metrics->status != 200) return -1;
    const std::string& text = metrics->body;
    const std::string name = "\nmqtt_connects_total ";
    const std::size_t at = text.find(name);
    return at == std::string::npos ? -1 : std::stod(text.substr(at + name.size()));
  };
  ASSERT_TRUE(wait_for([&] { return connects() >= 1; }, 10s)) << edge->process.describe();
  std::vector<double> resumed_ms;
  for (int i = 0; i < 100; ++i) {
    const double before = connects();
    ASSERT_TRUE(broker->restart().is_ok()) << "restart " << i;
    const auto up = std::chrono::steady_clock::now();
    ASSERT_TRUE(wait_for([&] { return connects() > before; }, 10s, 10ms))
        << "restart " << i << "\n"
        << edge->process.describe();
    resumed_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - up).count());
  }
  std::sort(resumed_ms.begin(), resumed_ms.end());
  std::cout << "resumed after a broker restart: median " << resumed_ms[50] << " ms, max "
            << resumed_ms.back() << " ms over 100 restarts\n";
  EXPECT_LT(resumed_ms.back(), 2000.0);
}

TEST_F(DaemonsTest, BadConfigurationExitsTwoNamingEveryKey) {
  ASSERT_TRUE(
      dir_->write_file("edge.json", R"({"http": {"port": 70000}, "mqtt": {"prot": 1}})").is_ok());
  auto child = ChildProcess::spawn(
      {.argv = {binary_path("shopeasy-edge"), "--config", dir_->file("edge.json").string()}});
  ASSERT_TRUE(child.ok());
  auto status = child->wait_exit(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 2);
  EXPECT_NE(child->stderr_text().find("http.port: 70000 is out of range"), std::string::npos)
      << child->describe();
  EXPECT_NE(child->stderr_text().find("unknown key mqtt.prot"), std::string::npos);
}

TEST_F(DaemonsTest, BadFlagsAndEnvironmentExitTwo) {
  auto flag = ChildProcess::spawn({.argv = {binary_path("shopeasy-cloud"), "--no-such-flag"}});
  ASSERT_TRUE(flag.ok());
  EXPECT_EQ(flag->wait_exit(10s), 2);
  EXPECT_NE(flag->stderr_text().find("unknown flag --no-such-flag"), std::string::npos);

  auto env = ChildProcess::spawn({.argv = {binary_path("shopeasy-edge"), "--check-config"},
                                  .env = {{"SHOPEASY_EDGE_MQTT_PORT", "many"}}});
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->wait_exit(10s), 2);
  EXPECT_NE(env->stderr_text().find("SHOPEASY_EDGE_MQTT_PORT"), std::string::npos)
      << env->describe();
}

TEST_F(DaemonsTest, PlainHttpSyncToAnotherHostIsRefusedUnlessAllowed) {
  const std::vector<std::string> base = {binary_path("shopeasy-edge"), "--check-config",
                                         "--sync.enabled=true",
                                         "--sync.url=http://cloud.example.com:8090"};
  auto refused = ChildProcess::spawn({.argv = base});
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->wait_exit(10s), 2);
  EXPECT_NE(refused->stderr_text().find("sync.url"), std::string::npos) << refused->describe();
  EXPECT_NE(refused->stderr_text().find("unencrypted"), std::string::npos);

  auto allowed_args = base;
  allowed_args.push_back("--sync.allow_plain_http=true");
  auto allowed = ChildProcess::spawn({.argv = allowed_args});
  ASSERT_TRUE(allowed.ok());
  EXPECT_EQ(allowed->wait_exit(10s), 0) << allowed->describe();
  for (const char* url : {"http://127.0.0.1:8090", "http://localhost:8090", "http://[::1]:8090",
                          "https://cloud.example.com"}) {
    auto local =
        ChildProcess::spawn({.argv = {binary_path("shopeasy-edge"), "--check-config",
                                      "--sync.enabled=true", std::string("--sync.url=") + url}});
    ASSERT_TRUE(local.ok());
    EXPECT_EQ(local->wait_exit(10s), 0) << url << local->describe();
  }
}

// A password in sync.url would be echoed by every message naming the URL: refused,
// without repeating it.
TEST_F(DaemonsTest, ASyncUrlWithAPasswordIsRefusedWithoutEchoingIt) {
  for (const char* url : {"http://store1:hunter2-secret@cloud.example.com",
                          "https://store1:hunter2-secret@cloud.example.com/v1",
                          "https://hunter2-secret@127.0.0.1:8090"}) {
    for (const char* allow : {"false", "true"}) {
      auto refused =
          ChildProcess::spawn({.argv = {binary_path("shopeasy-edge"), "--check-config",
                                        "--sync.enabled=true", std::string("--sync.url=") + url,
                                        std::string("--sync.allow_plain_http=") + allow}});
      ASSERT_TRUE(refused.ok());
      EXPECT_EQ(refused->wait_exit(10s), 2) << url << refused->describe();
      EXPECT_NE(refused->stderr_text().find("sync.url"), std::string::npos) << refused->describe();
      EXPECT_EQ(refused->stderr_text().find("hunter2"), std::string::npos) << refused->describe();
      EXPECT_EQ(refused->stdout_text().find("hunter2"), std::string::npos) << refused->describe();
    }
  }
}

// The cloud's public base URL reaches customers in confirm_url: no credentials in it,
// and the refusal does not repeat them.
TEST_F(DaemonsTest, APublicBaseUrlWithAPasswordIsRefusedWithoutEchoingIt) {
  for (const char* url : {"https://ops:hunter2-secret@shop.example.com",
                          "http://hunter2-secret@127.0.0.1:8080/base"}) {
    auto refused = ChildProcess::spawn(
        {.argv = {binary_path("shopeasy-cloud"), "--check-config", "--payments.provider=sandbox",
                  "--payments.webhook_secret=0123456789abcdef0123456789abcdef",
                  std::string("--payments.public_base_url=") + url}});
    ASSERT_TRUE(refused.ok());
    EXPECT_EQ(refused->wait_exit(10s), 2) << url << refused->describe();
    EXPECT_NE(refused->stderr_text().find("payments.public_base_url"), std::string::npos)
        << refused->describe();
    EXPECT_EQ(refused->stderr_text().find("hunter2"), std::string::npos) << refused->describe();
    EXPECT_EQ(refused->stdout_text().find("hunter2"), std::string::npos) << refused->describe();
  }
  for (const char* url : {"https://shop.example.com", "http://127.0.0.1:8080/base"}) {
    auto accepted = ChildProcess::spawn(
        {.argv = {binary_path("shopeasy-cloud"), "--check-config", "--payments.provider=sandbox",
                  "--payments.webhook_secret=0123456789abcdef0123456789abcdef",
                  std::string("--payments.public_base_url=") + url}});
    ASSERT_TRUE(accepted.ok());
    EXPECT_EQ(accepted->wait_exit(10s), 0) << url << accepted->describe();
  }
}

TEST_F(DaemonsTest, SecretsAreNeverEchoedInConfigurationErrors) {
  // A secret given with the wrong type, and a token table that fails validation.
  ASSERT_TRUE(dir_->write_file("edge.json",
                               R"({"sync": {"store_secret": 918273645546372819},
                                   "mqtt": {"password": ["hunter2-hunter2"]}})")
                  .is_ok());
  auto child = ChildProcess::spawn({.argv = {binary_path("shopeasy-edge"), "--check-config",
                                             "--config", dir_->file("edge.json").string()}});
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(child->wait_exit(10s), 2);
  EXPECT_NE(child->stderr_text().find("sync.store_secret"), std::string::npos) << child->describe();
  EXPECT_EQ(child->stderr_text().find("918273645546372819"), std::string::npos)
      << child->describe();
  EXPECT_EQ(child->stderr_text().find("hunter2"), std::string::npos) << child->describe();
}

TEST_F(DaemonsTest, CheckConfigAcceptsAValidFile) {
  ASSERT_TRUE(dir_->write_file("cloud.json", R"({"http": {"port": 9000}})").is_ok());
  auto child = ChildProcess::spawn({.argv = {binary_path("shopeasy-cloud"), "--check-config",
                                             "--config", dir_->file("cloud.json").string()}});
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(child->wait_exit(10s), 0) << child->describe();
  EXPECT_NE(child->stdout_text().find("configuration OK"), std::string::npos);
}

TEST_F(DaemonsTest, HealthTellsStrangersOnlyTheStateAndMetricsAreForOperators) {
  auto edge = start_daemon(
      "shopeasy-edge",
      {"--http.port=0", "--state_dir=" + dir_->file("edge").string(), "--mqtt.port=1",
       "--store.id=secret-store", "--sync.enabled=true", "--sync.url=http://127.0.0.1:1",
       "--sync.store_secret=0123456789abcdef0123456789abcdef",
       "--auth.tokens=" + tokens_json({{"viewer-1", "viewer", "viewer-token"},
                                       {"scraper", "metrics", "scrape-token"}})});
  ASSERT_TRUE(edge.ok()) << edge.status().to_string();
  // Wait until the sync client has failed once, so there is an error text to hide.
  ASSERT_TRUE(wait_for(
      [&] { return json_of(get(*edge, "/health", bearer()))["sync"].contains("last_error"); }, 20s))
      << get(*edge, "/health", bearer())->body;
  const std::string anonymous = get(*edge, "/health")->body;
  EXPECT_EQ(json_of(get(*edge, "/health"))["status"], "ok");
  for (const char* secret : {"127.0.0.1:1", "secret-store", "last_error", "\"cloud\""}) {
    EXPECT_EQ(anonymous.find(secret), std::string::npos) << secret << " in " << anonymous;
  }
  const std::string detailed = get(*edge, "/health", bearer("viewer-token"))->body;
  EXPECT_NE(detailed.find("last_error"), std::string::npos) << detailed;
  // A bad credential is not an error on /health; it just sees the public view.
  auto wrong = get(*edge, "/health", bearer("wrong"));
  EXPECT_EQ(wrong->status, 200);
  EXPECT_EQ(wrong->body.find("last_error"), std::string::npos);

  EXPECT_EQ(get(*edge, "/metrics", bearer("viewer-token"))->status, 403);
  EXPECT_EQ(get(*edge, "/metrics", bearer("scrape-token"))->status, 200);
  EXPECT_EQ(get(*edge, "/metrics", bearer())->status, 200);
}

TEST_F(DaemonsTest, CloudServesHealthAndStopsOnSigint) {
  auto cloud = start_daemon(
      "shopeasy-cloud", {"--http.port=0", "--state_dir=" + dir_->file("cloud").string(),
                         "--auth.tokens=" + tokens_json({{"app", "customer", "customer-token"}})});
  ASSERT_TRUE(cloud.ok()) << cloud.status().to_string();
  auto health = get(*cloud, "/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(json_of(health)["service"], "shopeasy-cloud");
  auto metrics = get(*cloud, "/metrics", bearer());
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  auto wrong = get(*cloud, "/metrics", bearer("not-a-token"));
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_EQ(get(*cloud, "/metrics", bearer("customer-token"))->status, 403)
      << "customers do not read the cloud's metrics";
  // Nor do stores: a store credential syncs its own store and reads nothing else.
  auto headers = bearer();
  headers["Content-Type"] = "application/json";
  auto registered = http_request("127.0.0.1", cloud->http_port, "PUT", "/v1/stores/s1",
                                 R"({"name":"S1","lat":12.97,"lon":77.59,"service_radius_m":3000,)"
                                 R"("secret":"store-secret-0123456789"})",
                                 headers);
  ASSERT_TRUE(registered.has_value());
  ASSERT_EQ(registered->status, 200) << registered->body;
  EXPECT_EQ(get(*cloud, "/metrics", bearer("s1:store-secret-0123456789"))->status, 403)
      << "stores do not read the cloud's metrics";
  ASSERT_TRUE(cloud->process.send_signal(SIGINT).is_ok());
  EXPECT_EQ(cloud->process.wait_exit(10s), 0) << cloud->process.describe();
}

TEST_F(DaemonsTest, PortInUseIsAClearStartFailure) {
  auto first =
      start_daemon("shopeasy-cloud", {"--http.port=0", "--state_dir=" + dir_->file("c1").string()});
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  auto second = ChildProcess::spawn(
      {.argv = {binary_path("shopeasy-cloud"), "--http.port=" + std::to_string(first->http_port),
                "--state_dir=" + dir_->file("c2").string()}});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->wait_exit(10s), 1);
  EXPECT_NE(second->output().find("cannot bind"), std::string::npos) << second->describe();
}

}  // namespace
}  // namespace shopeasy::testing
