// The real shopeasy-cloud binary taking payments through Stripe and Razorpay, each
// played by its local fake: an order is placed (the cloud creates the provider's
// PaymentIntent / Order), paid (the fake confirms and sends its signed webhook), routed,
// then cancelled and refunded through the provider's refund API. Secrets come from the
// environment and never show in the cloud's output. Also the start-up checks of the
// provider settings, production included.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cloud/payments/fake_razorpay.hpp"
#include "cloud/payments/fake_stripe.hpp"
#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::testing {
namespace {

using namespace std::chrono_literals;
using cloud::payments::FakeRazorpay;
using cloud::payments::FakeRazorpayOptions;
using cloud::payments::FakeStripe;
using cloud::payments::FakeStripeOptions;
using nlohmann::json;

constexpr const char* kAlice = "alice-token";
constexpr const char* kBob = "bob-token";
constexpr const char* kStoreSecret = "store-secret-0123456789";

class PaymentProvidersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("payment-providers");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
  }

  void start_cloud(std::vector<std::string> extra, std::map<std::string, std::string> env) {
    std::vector<std::string> args = {
        "--http.port=0", "--state_dir=" + dir_->file("cloud").string(),
        "--auth.tokens=" + tokens_json({{"alice", "customer", kAlice}, {"bob", "customer", kBob}})};
    args.insert(args.end(), extra.begin(), extra.end());
    auto cloud = start_daemon("shopeasy-cloud", args, env);
    ASSERT_TRUE(cloud.ok()) << cloud.status().to_string();
    cloud_.emplace(std::move(*cloud));
  }

  std::string webhook_url() const {
    return "http://127.0.0.1:" + std::to_string(cloud_->http_port) + "/v1/payments/webhook";
  }

  HttpReply call(const std::string& method, const std::string& path, const std::string& body = "",
                 const std::string& token = kAdminToken,
                 std::map<std::string, std::string> extra = {}) {
    auto headers = bearer(token);
    if (!body.empty()) headers["Content-Type"] = "application/json";
    for (auto& [k, v] : extra) headers[k] = v;
    return http_request("127.0.0.1", cloud_->http_port, method, path, body, headers, 30s)
        .value_or(HttpReply{});
  }

  // One store near the customer with milk in stock, as the store's sync would report.
  void stock_a_store() {
    ASSERT_EQ(call("PUT", "/v1/stores/s1",
                   json{{"name", "Store s1"},
                        {"lat", 12.9719},
                        {"lon", 77.6412},
                        {"service_radius_m", 3000},
                        {"secret", kStoreSecret}}
                       .dump())
                  .status,
              200);
    ASSERT_EQ(call("PUT", "/v1/catalog/MILK", json{{"name", "Milk"}, {"price_cents", 6500}}.dump())
                  .status,
              200);
    json batch = {{"store_id", "s1"},
                  {"first_seq", 1},
                  {"changes",
                   {{{"seq", 1},
                     {"kind", "stock.changed"},
                     {"body", {{"sku", "MILK"}, {"sku_on_hand", 5}, {"sku_reserved", 0}}}}}},
                  {"downstream_cursor", 0},
                  {"sent_at_ms", 1'800'000'000'000}};
    auto headers = bearer(std::string("s1:") + kStoreSecret);
    headers["Content-Type"] = "application/json";
    auto reply = http_request("127.0.0.1", cloud_->http_port, "POST", "/v1/stores/s1/sync",
                              batch.dump(), headers, 30s);
    ASSERT_TRUE(reply && reply->status == 200) << (reply ? reply->body : "no answer");
  }

  json place_order() {
    const json body = {{"lines", {{{"sku", "MILK"}, {"qty", 1}}}},
                       {"delivery", {{"lat", 12.975}, {"lon", 77.645}}}};
    auto r = call("POST", "/api/orders", body.dump(), kAlice, {{"Idempotency-Key", "pay-1"}});
    EXPECT_EQ(r.status, 201) << r.body << "\n" << cloud_->process.describe();
    return r.status == 201 ? json::parse(r.body) : json();
  }

  std::string order_status(const std::string& id) {
    auto r = call("GET", "/api/orders/" + id, "", kAlice);
    return r.status == 200 ? json::parse(r.body).value("status", "") : "";
  }

  void expect_status(const std::string& id, const std::string& status) {
    EXPECT_TRUE(wait_for([&] { return order_status(id) == status; }, 20s))
        << "order " << id << " is " << order_status(id) << ", expected " << status << "\n"
        << cloud_->process.describe();
  }

  std::optional<TempDir> dir_;
  std::optional<RunningDaemon> cloud_;
};

TEST_F(PaymentProvidersTest, StripeOrderIsPaidByWebhookThenRefunded) {
  FakeStripeOptions fake_options;
  auto fake = FakeStripe::start(fake_options);
  ASSERT_TRUE(fake.ok()) << fake.status().to_string();
  start_cloud({"--payments.provider=stripe", "--payments.api_base_url=" + (*fake)->base_url()},
              {{"SHOPEASY_CLOUD_PAYMENTS_STRIPE_SECRET_KEY", fake_options.secret_key},
               {"SHOPEASY_CLOUD_PAYMENTS_WEBHOOK_SECRET", fake_options.webhook_secret}});
  (*fake)->set_webhook_url(webhook_url());
  stock_a_store();

  const json placed = place_order();
  ASSERT_FALSE(placed.is_null());
  EXPECT_EQ(placed["status"], "pending_payment");
  const std::string intent = placed["payment"]["intent_id"];
  const std::string id = placed["order_id"];
  EXPECT_EQ(intent.rfind("pi_", 0), 0u) << placed.dump();
  EXPECT_NE(
      placed["payment"]["confirm_url"].get<std::string>().find("/v1/payments/checkout/" + intent),
      std::string::npos);
  EXPECT_EQ((*fake)->intents_created(), 1);

  // The customer's app fetches what Stripe.js needs; strangers get nothing.
  auto checkout = call("GET", "/v1/payments/checkout/" + intent, "", kAlice);
  ASSERT_EQ(checkout.status, 200) << checkout.body;
  EXPECT_EQ(json::parse(checkout.body)["client_secret"].get<std::string>().rfind(intent, 0), 0u);
  EXPECT_EQ(call("GET", "/v1/payments/checkout/" + intent, "", "").status, 401);
  // Another customer cannot read its client_secret: the intent is not theirs.
  auto stranger = call("GET", "/v1/payments/checkout/" + intent, "", kBob);
  EXPECT_EQ(stranger.status, 404) << stranger.body;
  EXPECT_EQ(stranger.body.find("client_secret"), std::string::npos);

  ASSERT_TRUE((*fake)->succeed(intent).is_ok());
  expect_status(id, "routed");

  ASSERT_EQ(call("POST", "/api/orders/" + id + "/cancel", "", kAlice).status, 200);
  expect_status(id, "refunded");
  EXPECT_EQ((*fake)->refunds_created(), 1);
  ASSERT_TRUE((*fake)->drain(10s));
  for (const auto& d : (*fake)->deliveries()) {
    EXPECT_EQ(d.status, 200) << d.type << " " << d.event_id;
  }
  EXPECT_EQ((*fake)->deliveries().size(), 2u);  // succeeded, refunded
  EXPECT_EQ(cloud_->process.output().find(fake_options.secret_key), std::string::npos);
  EXPECT_EQ(cloud_->process.output().find(fake_options.webhook_secret), std::string::npos);
}

TEST_F(PaymentProvidersTest, RazorpayOrderIsPaidByUpiAndWebhookThenRefunded) {
  FakeRazorpayOptions fake_options;
  auto fake = FakeRazorpay::start(fake_options);
  ASSERT_TRUE(fake.ok()) << fake.status().to_string();
  start_cloud({"--payments.provider=razorpay", "--payments.api_base_url=" + (*fake)->base_url(),
               "--payments.razorpay.key_id=" + fake_options.key_id, "--orders.currency=INR"},
              {{"SHOPEASY_CLOUD_PAYMENTS_RAZORPAY_KEY_SECRET", fake_options.key_secret},
               {"SHOPEASY_CLOUD_PAYMENTS_WEBHOOK_SECRET", fake_options.webhook_secret}});
  (*fake)->set_webhook_url(webhook_url());
  stock_a_store();

  const json placed = place_order();
  ASSERT_FALSE(placed.is_null());
  const std::string intent = placed["payment"]["intent_id"];
  const std::string id = placed["order_id"];
  EXPECT_EQ(intent.rfind("order_", 0), 0u) << placed.dump();
  EXPECT_EQ(placed["payment"]["currency"], "INR");
  EXPECT_EQ((*fake)->orders_created(), 1);

  auto checkout = call("GET", "/v1/payments/checkout/" + intent, "", kAlice);
  ASSERT_EQ(checkout.status, 200) << checkout.body;
  EXPECT_EQ(json::parse(checkout.body)["key_id"], fake_options.key_id);

  // A bad UPI id is the customer's to fix; a good one starts the collect request.
  json upi = {{"flow", "collect"},
              {"vpa", "asha"},
              {"email", "asha@example.in"},
              {"contact", "+919876543210"}};
  // Neither the checkout nor a UPI payment of Alice's order is open to Bob.
  EXPECT_EQ(call("GET", "/v1/payments/checkout/" + intent, "", kBob).status, 404);
  EXPECT_EQ(call("POST", "/v1/payments/upi/" + intent, upi.dump(), kBob).status, 404);
  auto bad = call("POST", "/v1/payments/upi/" + intent, upi.dump(), kAlice);
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(json::parse(bad.body)["error"]["field"], "vpa");
  upi["vpa"] = "asha@okbank";
  auto started = call("POST", "/v1/payments/upi/" + intent, upi.dump(), kAlice);
  ASSERT_EQ(started.status, 200) << started.body;
  const std::string payment_id = json::parse(started.body)["payment_id"];

  // The customer approves in their UPI app; Razorpay's webhook pays the order.
  ASSERT_TRUE((*fake)->approve(payment_id).is_ok());
  expect_status(id, "routed");
  auto again = call("POST", "/v1/payments/upi/" + intent, upi.dump(), kAlice);
  EXPECT_EQ(again.status, 409) << again.body;

  ASSERT_EQ(call("POST", "/api/orders/" + id + "/cancel", "", kAlice).status, 200);
  expect_status(id, "refunded");
  EXPECT_EQ((*fake)->refunds_created(), 1);
  ASSERT_TRUE((*fake)->drain(10s));
  for (const auto& d : (*fake)->deliveries()) {
    EXPECT_EQ(d.status, 200) << d.type << " " << d.event_id;
  }
  EXPECT_EQ((*fake)->deliveries().size(), 2u);  // captured, refund processed
  EXPECT_EQ(cloud_->process.output().find(fake_options.key_secret), std::string::npos);
  EXPECT_EQ(cloud_->process.output().find(fake_options.webhook_secret), std::string::npos);
}

TEST_F(PaymentProvidersTest, ProductionTakesRealProvidersAndStartUpChecksTheirSettings) {
  const std::string secret = "whsec_0123456789abcdef0123456789abcdef";
  auto check = [&](std::vector<std::string> args, int expected, const std::string& needle) {
    std::vector<std::string> argv = {binary_path("shopeasy-cloud"), "--check-config",
                                     "--deployment.production=true",
                                     "--payments.webhook_secret=" + secret};
    argv.insert(argv.end(), args.begin(), args.end());
    auto child = ChildProcess::spawn({.argv = argv});
    ASSERT_TRUE(child.ok());
    EXPECT_EQ(child->wait_exit(10s), expected) << child->describe();
    if (!needle.empty()) {
      EXPECT_NE(child->stderr_text().find(needle), std::string::npos) << child->describe();
    }
    EXPECT_EQ(child->output().find(secret), std::string::npos) << child->describe();
    EXPECT_EQ(child->output().find("sk_live_donotprint"), std::string::npos) << child->describe();
  };
  check({"--payments.provider=stripe", "--payments.stripe.secret_key=sk_live_donotprint"}, 0, "");
  check({"--payments.provider=razorpay", "--payments.razorpay.key_id=rzp_live_x",
         "--payments.razorpay.key_secret=sk_live_donotprint"},
        0, "");
  check({"--payments.provider=sandbox"}, 2, "payments.provider");
  check({"--payments.provider=stripe"}, 2, "payments.stripe.secret_key");
  check({"--payments.provider=razorpay", "--payments.razorpay.key_id=rzp_live_x"}, 2,
        "payments.razorpay.key_secret");
  check({"--payments.provider=stripe", "--payments.stripe.secret_key=sk_live_donotprint",
         "--payments.api_base_url=http://payments.example.com"},
        2, "payments.api_base_url");
}

}  // namespace
}  // namespace shopeasy::testing
