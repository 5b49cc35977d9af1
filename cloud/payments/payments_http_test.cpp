// The payment journey over real loopback HTTP: a sandbox gateway serving its hosted
// page and delivering signed webhooks, and a receiver verifying them, each on its own
// HttpServer. Real clocks, real retries; every wait is a poll with a deadline.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloud/payments/payments.hpp"
#include "common/http/client.hpp"
#include "tests/harness/harness.hpp"

namespace shopeasy::cloud::payments {
namespace {

using namespace std::chrono_literals;

const std::string kSecret = "whsec_fedcba9876543210fedcba9876543210";
constexpr auto kDeadline = 15s;

// A shop's webhook endpoint: verifier + route on its own server, recording events.
class Receiver {
 public:
  explicit Receiver(int port) {
    WebhookVerifierOptions options;
    options.secret = kSecret;
    auto verifier =
        WebhookVerifier::create(options, log::Logger(sink_, log::Level::kInfo, "rx"), metrics_);
    EXPECT_TRUE(verifier.ok()) << verifier.status().to_string();
    verifier_ = std::move(verifier).value();
    http::ServerOptions server_options;
    server_options.port = port;
    server_ = std::make_unique<http::HttpServer>(
        server_options, nullptr, log::Logger(sink_, log::Level::kInfo, "rx.http"), metrics_);
    register_webhook_route(*server_, *verifier_, [this](const PaymentEvent& e) {
      std::lock_guard lock(mutex_);
      events_.push_back(e);
      return Status::ok();
    });
    auto bound = server_->start();
    EXPECT_TRUE(bound.ok()) << bound.status().to_string();
    port_ = bound.ok() ? *bound : 0;
  }
  ~Receiver() { server_->stop(); }

  int port() const { return port_; }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/v1/payments/webhook";
  }
  std::vector<PaymentEvent> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }
  bool has(const std::string& type) {
    for (const PaymentEvent& e : events()) {
      if (e.type == type) return true;
    }
    return false;
  }

 private:
  std::shared_ptr<log::MemorySink> sink_ = std::make_shared<log::MemorySink>();
  metrics::Registry metrics_;
  std::unique_ptr<WebhookVerifier> verifier_;
  std::unique_ptr<http::HttpServer> server_;
  std::mutex mutex_;
  std::vector<PaymentEvent> events_;
  int port_ = 0;
};

class PaymentsHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = testing::TempDir::create("payments-http");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<testing::TempDir>(std::move(dir).value());
  }

  std::unique_ptr<SandboxProvider> open_provider(const std::string& webhook_url) {
    SandboxOptions options;
    options.db_path = dir_->file("sandbox.db").string();
    options.webhook_url = webhook_url;
    options.webhook_secret = kSecret;
    options.public_base_url = "http://127.0.0.1:" + std::to_string(gateway_port_);
    options.retry_initial = 20ms;
    options.retry_max = 200ms;
    auto p =
        SandboxProvider::open(options, log::Logger(sink_, log::Level::kInfo, "sandbox"), metrics_);
    EXPECT_TRUE(p.ok()) << p.status().to_string();
    return p.ok() ? std::move(p).value() : nullptr;
  }

  // The gateway's own server with the hosted page.
  void start_gateway(SandboxProvider& provider) {
    gateway_ = std::make_unique<http::HttpServer>(
        http::ServerOptions{}, nullptr, log::Logger(sink_, log::Level::kInfo, "gw"), metrics_);
    register_sandbox_routes(*gateway_, provider);
    auto port = gateway_->start();
    ASSERT_TRUE(port.ok());
    gateway_port_ = *port;
    auto client = http::HttpClient::create("http://127.0.0.1:" + std::to_string(*port), {});
    ASSERT_TRUE(client.ok());
    customer_ = std::move(client).value();
  }
  void TearDown() override {
    customer_.reset();  // its keep-alive connection would hold up stop()
    if (gateway_) gateway_->stop();
  }

  std::shared_ptr<log::MemorySink> sink_ = std::make_shared<log::MemorySink>();
  metrics::Registry metrics_;
  std::unique_ptr<testing::TempDir> dir_;
  std::unique_ptr<http::HttpServer> gateway_;
  std::unique_ptr<http::HttpClient> customer_;
  int gateway_port_ = 0;
};

TEST_F(PaymentsHttpTest, CustomerPaysOnHostedPageAndReceiverGetsSignedEvents) {
  Receiver receiver(0);
  auto owned = open_provider(receiver.url());
  ASSERT_NE(owned, nullptr);
  start_gateway(*owned);
  SandboxProvider& provider = *owned;

  auto intent = provider.create_intent("ord-42", 1999, "EUR", "order-ord-42");
  ASSERT_TRUE(intent.ok()) << intent.status().to_string();
  const std::string path = "/sandbox/pay/" + intent->id;
  EXPECT_TRUE(intent->confirm_url.ends_with(path)) << intent->confirm_url;

  auto page = customer_->get(path);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->headers["content-type"].find("text/html"), std::string::npos);
  EXPECT_NE(page->body.find("ord-42"), std::string::npos);
  EXPECT_NE(page->body.find("19.99 EUR"), std::string::npos);
  EXPECT_NE(page->body.find(">Pay</button>"), std::string::npos);

  auto paid = customer_->post(path, R"({"outcome":"succeed"})", "application/json");
  ASSERT_TRUE(paid.ok());
  ASSERT_EQ(paid->status, 200) << paid->body;
  EXPECT_EQ(nlohmann::json::parse(paid->body)["status"], "succeeded");

  ASSERT_TRUE(testing::wait_for([&] { return receiver.has(kEventSucceeded); }, kDeadline));
  PaymentEvent event = receiver.events().front();
  EXPECT_EQ(event.intent_id, intent->id);
  EXPECT_EQ(event.order_id, "ord-42");
  EXPECT_EQ(event.amount_cents, 1999);
  EXPECT_EQ(event.event_id.rfind("evt_", 0), 0u);

  // Refund on cancellation: charge.refunded arrives too, for the refunded amount.
  auto refunded = provider.refund(intent->id, 1999, "cancel-ord-42");
  ASSERT_TRUE(refunded.ok()) << refunded.status().to_string();
  ASSERT_TRUE(testing::wait_for([&] { return receiver.has(kEventRefunded); }, kDeadline));
  EXPECT_EQ(receiver.events().size(), 2u);
  EXPECT_EQ(receiver.events().back().amount_cents, 1999);

  auto page_after = customer_->get(path);
  ASSERT_TRUE(page_after.ok());
  EXPECT_EQ(page_after->body.find(">Pay</button>"), std::string::npos);  // nothing to pay
  ASSERT_TRUE(testing::wait_for(
      [&] {
        auto s = provider.outbox_stats();
        return s.ok() && s->delivered == 2;
      },
      kDeadline));
  auto stats = provider.outbox_stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->delivered, 2);
  EXPECT_EQ(stats->pending, 0);
}

TEST_F(PaymentsHttpTest, ReceiverDownAtFirstGetsTheEventOnceUpEvenAcrossGatewayRestart) {
  const int port = testing::free_tcp_port();
  ASSERT_NE(port, 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/v1/payments/webhook";
  std::string intent_id;
  {
    auto provider = open_provider(url);
    ASSERT_NE(provider, nullptr);
    auto intent = provider->create_intent("ord-9", 500, "EUR", "k-9");
    ASSERT_TRUE(intent.ok());
    intent_id = intent->id;
    ASSERT_TRUE(provider->confirm(intent_id, true).ok());
    ASSERT_TRUE(testing::wait_for(
        [&] {
          auto s = provider->outbox_stats();
          return s.ok() && s->failed_attempts >= 2;
        },
        kDeadline));
  }  // gateway restarts with the event still queued

  auto provider = open_provider(url);
  ASSERT_NE(provider, nullptr);
  Receiver receiver(port);
  ASSERT_EQ(receiver.port(), port);
  ASSERT_TRUE(testing::wait_for([&] { return !receiver.events().empty(); }, kDeadline));
  ASSERT_EQ(receiver.events().size(), 1u);
  EXPECT_EQ(receiver.events()[0].intent_id, intent_id);
  EXPECT_EQ(receiver.events()[0].type, kEventSucceeded);
  // The gateway records the delivery once the receiver's answer is back, just after the
  // receiver has seen the event.
  ASSERT_TRUE(testing::wait_for(
      [&] {
        auto s = provider->outbox_stats();
        return s.ok() && s->delivered == 1;
      },
      kDeadline));
  auto stats = provider->outbox_stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->delivered, 1);
  EXPECT_GE(stats->failed_attempts, 2);
  EXPECT_TRUE(sink_->contains({"event=webhook_delivery_failed"}));
  provider.reset();  // closes its connection before the receiver stops
}

TEST_F(PaymentsHttpTest, HostedPageRefusesBadRequests) {
  auto provider = open_provider("http://127.0.0.1:1/hook");
  ASSERT_NE(provider, nullptr);
  start_gateway(*provider);
  auto intent = provider->create_intent("<script>alert(1)</script>", 100, "EUR", "x");
  ASSERT_TRUE(intent.ok());
  const std::string path = "/sandbox/pay/" + intent->id;

  auto page = customer_->get(path);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->body.find("<script>alert"), std::string::npos);
  EXPECT_NE(page->body.find("&lt;script&gt;alert(1)"), std::string::npos);

  EXPECT_EQ(customer_->get("/sandbox/pay/pi_unknown")->status, 404);
  EXPECT_EQ(
      customer_->post("/sandbox/pay/pi_unknown", R"({"outcome":"succeed"})", "application/json")
          ->status,
      404);
  auto bad_outcome = customer_->post(path, R"({"outcome":"maybe"})", "application/json");
  EXPECT_EQ(bad_outcome->status, 400);
  EXPECT_NE(bad_outcome->body.find("\"field\":\"outcome\""), std::string::npos);
  EXPECT_EQ(customer_->post(path, "outcome=succeed", "application/x-www-form-urlencoded")->status,
            415);
  EXPECT_EQ(customer_->post(path, "{", "application/json")->status, 400);
  EXPECT_EQ(customer_->post(path, R"({"outcome":"decline"})", "application/json")->status, 200);
  EXPECT_EQ(customer_->post(path, R"({"outcome":"succeed"})", "application/json")->status, 409);
  EXPECT_EQ(provider->get_intent(intent->id)->status, "failed");
}

}  // namespace
}  // namespace shopeasy::cloud::payments
