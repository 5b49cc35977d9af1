// HttpSmsProvider against a local gateway (a real HttpServer on a free loopback port):
// the request it sends, refused and unreachable gateways, and the URLs it refuses.
#include "cloud/accounts/http_sms_provider.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include <nlohmann/json.hpp>

#include "common/http/server.hpp"
#include "common/metrics/metrics.hpp"

namespace shopeasy::cloud::accounts {
namespace {

const std::string kToken = "gateway-token-0123456789";

class Gateway {
 public:
  Gateway() {
    server_ =
        std::make_unique<http::HttpServer>(http::ServerOptions{}, nullptr, log::Logger(), metrics_);
    server_->route("POST", "/v1/messages", http::Access::public_route(),
                   [this](const http::Request& r) {
                     std::lock_guard lock(mu_);
                     authorization_ = r.header("Authorization");
                     body_ = r.body;
                     return http::Response::json(answer_.load(), {{"id", "m-1"}});
                   });
    auto port = server_->start();
    EXPECT_TRUE(port.ok());
    port_ = port.value_or(0);
  }
  ~Gateway() { server_->stop(); }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1/messages"; }
  void answer_with(int status) { answer_ = status; }
  std::string body() {
    std::lock_guard lock(mu_);
    return body_;
  }
  std::string authorization() {
    std::lock_guard lock(mu_);
    return authorization_;
  }

 private:
  metrics::Registry metrics_;
  std::unique_ptr<http::HttpServer> server_;
  int port_ = 0;
  std::atomic<int> answer_{202};
  std::mutex mu_;  // guards body_ and authorization_, written by the server's threads
  std::string body_;
  std::string authorization_;
};

TEST(HttpSmsProviderTest, PostsTheMessageWithTheToken) {
  Gateway gateway;
  auto sms = HttpSmsProvider::create({.url = gateway.url(), .token = kToken});
  ASSERT_TRUE(sms.ok()) << sms.status().to_string();
  ASSERT_TRUE((*sms)->send("+919876543210", "Your code is 123456").is_ok());
  const nlohmann::json sent = nlohmann::json::parse(gateway.body());
  EXPECT_EQ(sent["to"], "+919876543210");
  EXPECT_EQ(sent["text"], "Your code is 123456");
  EXPECT_EQ(gateway.authorization(), "Bearer " + kToken);
}

TEST(HttpSmsProviderTest, ARefusalOrNoGatewayIsUnavailableWithoutSecrets) {
  Gateway gateway;
  auto sms = HttpSmsProvider::create({.url = gateway.url(), .token = kToken});
  ASSERT_TRUE(sms.ok());
  gateway.answer_with(500);
  Status st = (*sms)->send("+919876543210", "Your code is 123456");
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("500"), std::string::npos);
  EXPECT_EQ(st.message().find(kToken), std::string::npos);
  EXPECT_EQ(st.message().find("123456"), std::string::npos);
  gateway.answer_with(200);
  EXPECT_TRUE((*sms)->send("+919876543210", "again").is_ok());

  // Nothing listens there once this server is gone.
  std::string url;
  {
    Gateway gone;
    url = gone.url();
  }
  auto orphan = HttpSmsProvider::create(
      {.url = url, .token = kToken, .timeout = std::chrono::milliseconds(500)});
  ASSERT_TRUE(orphan.ok());
  EXPECT_EQ((*orphan)->send("+919876543210", "x").code(), StatusCode::kUnavailable);
}

TEST(HttpSmsProviderTest, RefusesPlainHttpToRemoteHostsAndMissingToken) {
  EXPECT_EQ(HttpSmsProvider::create({.url = "http://sms.example.com/send", .token = kToken})
                .status()
                .field(),
            "url");
  EXPECT_EQ(
      HttpSmsProvider::create({.url = "sms.example.com/send", .token = kToken}).status().field(),
      "url");
  EXPECT_EQ(HttpSmsProvider::create({.url = "https://sms.example.com/send"}).status().field(),
            "token");
  EXPECT_TRUE(
      HttpSmsProvider::create({.url = "https://sms.example.com/send", .token = kToken}).ok());
}

}  // namespace
}  // namespace shopeasy::cloud::accounts
