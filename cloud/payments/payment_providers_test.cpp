// The Stripe and Razorpay adapters against local fakes of the providers' APIs over real
// loopback HTTP: create, fetch, partial and full refunds, idempotent retries, refused
// credentials, provider outages and timeouts, malformed answers, UPI, and the signed
// webhooks each provider sends (good, forged, stale, replayed).
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloud/payments/fake_razorpay.hpp"
#include "cloud/payments/fake_stripe.hpp"
#include "cloud/payments/payments.hpp"
#include "tests/harness/harness.hpp"

namespace shopeasy::cloud::payments {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr auto kDeadline = 10s;

// A shop's webhook endpoint for one provider scheme, recording handled events.
class Receiver {
 public:
  Receiver(WebhookScheme scheme, const std::string& secret, EventParser parser,
           std::chrono::seconds tolerance) {
    WebhookVerifierOptions options;
    options.scheme = scheme;
    options.secret = secret;
    options.parser = std::move(parser);
    options.tolerance = tolerance;
    auto verifier =
        WebhookVerifier::create(options, log::Logger(sink_, log::Level::kInfo, "rx"), metrics_);
    EXPECT_TRUE(verifier.ok()) << verifier.status().to_string();
    verifier_ = std::move(verifier).value();
    server_ = std::make_unique<http::HttpServer>(
        http::ServerOptions{}, nullptr, log::Logger(sink_, log::Level::kInfo, "rx.http"), metrics_);
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

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/v1/payments/webhook";
  }
  std::vector<PaymentEvent> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::size_t count(const std::string& type) {
    std::size_t n = 0;
    for (const PaymentEvent& e : events()) n += e.type == type ? 1 : 0;
    return n;
  }
  WebhookVerifier& verifier() { return *verifier_; }

 private:
  std::shared_ptr<log::MemorySink> sink_ = std::make_shared<log::MemorySink>();
  metrics::Registry metrics_;
  std::unique_ptr<WebhookVerifier> verifier_;
  std::unique_ptr<http::HttpServer> server_;
  std::mutex mutex_;
  std::vector<PaymentEvent> events_;
  int port_ = 0;
};

// ---------------------------------------------------------------------------- Stripe

class StripeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fake = FakeStripe::start({});
    ASSERT_TRUE(fake.ok()) << fake.status().to_string();
    fake_ = std::move(fake).value();
    provider_ = open(FakeStripeOptions{}.secret_key, 2000ms);
    ASSERT_NE(provider_, nullptr);
  }

  std::unique_ptr<StripeProvider> open(const std::string& key, std::chrono::milliseconds timeout) {
    StripeOptions options;
    options.api_base_url = fake_->base_url();
    options.secret_key = key;
    options.public_base_url = "https://shop.example";
    options.timeout = timeout;
    auto p = StripeProvider::create(options, log::Logger(sink_, log::Level::kInfo, "stripe"));
    EXPECT_TRUE(p.ok()) << p.status().to_string();
    return p.ok() ? std::move(p).value() : nullptr;
  }

  std::shared_ptr<log::MemorySink> sink_ = std::make_shared<log::MemorySink>();
  std::unique_ptr<FakeStripe> fake_;
  std::unique_ptr<StripeProvider> provider_;
};

TEST_F(StripeTest, CreatesFetchesAndRefundsPartlyThenFully) {
  auto intent = provider_->create_intent("ord_1", 2500, "EUR", "order-ord_1");
  ASSERT_TRUE(intent.ok()) << intent.status().to_string();
  EXPECT_EQ(intent->id.rfind("pi_", 0), 0u);
  EXPECT_EQ(intent->order_id, "ord_1");
  EXPECT_EQ(intent->amount_cents, 2500);
  EXPECT_EQ(intent->currency, "EUR");
  EXPECT_EQ(intent->status, kRequiresConfirmation);
  EXPECT_EQ(intent->confirm_url, "https://shop.example/v1/payments/checkout/" + intent->id);

  auto checkout = provider_->checkout(intent->id);
  ASSERT_TRUE(checkout.ok()) << checkout.status().to_string();
  EXPECT_EQ((*checkout)["provider"], "stripe");
  EXPECT_EQ((*checkout)["client_secret"].get<std::string>().rfind(intent->id + "_secret_", 0), 0u);

  // Not paid yet: nothing to refund.
  auto early = provider_->refund(intent->id, 100, "refund-early");
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.status().code(), StatusCode::kFailedPrecondition) << early.status().to_string();

  ASSERT_TRUE(fake_->succeed(intent->id).is_ok());
  auto paid = provider_->get_intent(intent->id);
  ASSERT_TRUE(paid.ok()) << paid.status().to_string();
  EXPECT_EQ(paid->status, kSucceeded);
  EXPECT_EQ(paid->refunded_cents, 0);

  auto partial = provider_->refund(intent->id, 1000, "refund-1");
  ASSERT_TRUE(partial.ok()) << partial.status().to_string();
  EXPECT_EQ(partial->status, kSucceeded);
  EXPECT_EQ(partial->refunded_cents, 1000);

  auto too_much = provider_->refund(intent->id, 1501, "refund-2");
  ASSERT_FALSE(too_much.ok());
  EXPECT_EQ(too_much.status().code(), StatusCode::kFailedPrecondition);

  auto rest = provider_->refund(intent->id, 1500, "refund-3");
  ASSERT_TRUE(rest.ok()) << rest.status().to_string();
  EXPECT_EQ(rest->status, kRefunded);
  EXPECT_EQ(rest->refunded_cents, 2500);

  auto again = provider_->refund(intent->id, 1, "refund-4");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(StripeTest, RetriesWithOneKeyCreateAndRefundOnce) {
  auto first = provider_->create_intent("ord_2", 990, "EUR", "order-ord_2");
  auto second = provider_->create_intent("ord_2", 990, "EUR", "order-ord_2");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->id, second->id);
  EXPECT_EQ(fake_->intents_created(), 1);

  auto other = provider_->create_intent("ord_2", 991, "EUR", "order-ord_2");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(other.status().field(), "idempotency_key");

  ASSERT_TRUE(fake_->succeed(first->id).is_ok());
  auto r1 = provider_->refund(first->id, 990, "refund-ord_2");
  auto r2 = provider_->refund(first->id, 990, "refund-ord_2");
  ASSERT_TRUE(r1.ok()) << r1.status().to_string();
  ASSERT_TRUE(r2.ok()) << r2.status().to_string();
  EXPECT_EQ(r2->status, kRefunded);
  EXPECT_EQ(fake_->refunds_created(), 1);
}

TEST_F(StripeTest, RefusedKeyIsUnauthenticatedAndNeverQuoted) {
  const std::string wrong = "sk_test_wrong_key_that_must_not_leak";
  auto provider = open(wrong, 2000ms);
  ASSERT_NE(provider, nullptr);
  auto intent = provider->create_intent("ord_3", 100, "EUR", "order-ord_3");
  ASSERT_FALSE(intent.ok());
  EXPECT_EQ(intent.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(intent.status().message().find("wrong_key"), std::string::npos);
  for (const auto& line : sink_->lines()) EXPECT_EQ(line.find("wrong_key"), std::string::npos);
}

TEST_F(StripeTest, OutagesAndTimeoutsAreUnavailableMalformedAnswersInternal) {
  fake_->faults().fail(1, 503);
  auto down = provider_->create_intent("ord_4", 100, "EUR", "order-ord_4");
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.status().code(), StatusCode::kUnavailable);

  fake_->faults().fail(1, 429);
  auto limited = provider_->create_intent("ord_4", 100, "EUR", "order-ord_4");
  ASSERT_FALSE(limited.ok());
  EXPECT_EQ(limited.status().code(), StatusCode::kUnavailable);

  auto slow_provider = open(FakeStripeOptions{}.secret_key, 200ms);
  fake_->faults().delay(1, 1000ms);
  auto slow = slow_provider->create_intent("ord_4", 100, "EUR", "order-ord_4");
  ASSERT_FALSE(slow.ok());
  EXPECT_EQ(slow.status().code(), StatusCode::kUnavailable) << slow.status().to_string();

  fake_->faults().malform(1);
  auto garbled = provider_->create_intent("ord_4", 100, "EUR", "order-ord_4");
  ASSERT_FALSE(garbled.ok());
  EXPECT_EQ(garbled.status().code(), StatusCode::kInternal);
  EXPECT_NE(garbled.status().message().find("not a JSON object"), std::string::npos);

  // After all that the same key still creates exactly one intent.
  auto fine = provider_->create_intent("ord_4", 100, "EUR", "order-ord_4");
  ASSERT_TRUE(fine.ok()) << fine.status().to_string();
  EXPECT_EQ(fake_->intents_created(), 1);
}

TEST_F(StripeTest, BadInputsAndUnknownIds) {
  EXPECT_EQ(provider_->create_intent("ord_5", 0, "EUR", "k").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(provider_->create_intent("ord_5", 100, "EURO", "k").status().field(), "currency");
  EXPECT_EQ(provider_->create_intent("ord_5", 100, "EUR", "").status().field(), "idempotency_key");
  EXPECT_EQ(provider_->get_intent("pi_doesnotexist").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(provider_->get_intent("../v1/refunds").status().code(), StatusCode::kNotFound);
}

TEST(ProviderConfig, PlainHttpOnlyForLoopback) {
  auto sink = std::make_shared<log::MemorySink>();
  StripeOptions options;
  options.secret_key = "sk_test_x";
  options.api_base_url = "http://api.stripe.com";
  auto remote = StripeProvider::create(options, log::Logger(sink, log::Level::kInfo, "s"));
  ASSERT_FALSE(remote.ok());
  EXPECT_EQ(remote.status().field(), "api_base_url");
  options.api_base_url = "https://api.stripe.com/v1";
  EXPECT_FALSE(StripeProvider::create(options, log::Logger(sink, log::Level::kInfo, "s")).ok());
  options.api_base_url = "https://api.stripe.com";
  EXPECT_TRUE(StripeProvider::create(options, log::Logger(sink, log::Level::kInfo, "s")).ok());
  options.api_base_url = "http://127.0.0.1:1";
  EXPECT_TRUE(StripeProvider::create(options, log::Logger(sink, log::Level::kInfo, "s")).ok());
  options.secret_key.clear();
  EXPECT_FALSE(StripeProvider::create(options, log::Logger(sink, log::Level::kInfo, "s")).ok());
}

TEST_F(StripeTest, WebhooksVerifiedRefusedWhenForgedStaleOrReplayed) {
  Receiver receiver(WebhookScheme::kStripe, FakeStripeOptions{}.webhook_secret, parse_stripe_event,
                    300s);
  fake_->set_webhook_url(receiver.url());
  auto intent = provider_->create_intent("ord_6", 4200, "EUR", "order-ord_6");
  ASSERT_TRUE(intent.ok());
  ASSERT_TRUE(fake_->succeed(intent->id).is_ok());
  ASSERT_TRUE(testing::wait_for([&] { return receiver.count(kEventSucceeded) == 1; }, kDeadline));
  PaymentEvent paid = receiver.events().front();
  EXPECT_EQ(paid.intent_id, intent->id);
  EXPECT_EQ(paid.order_id, "ord_6");
  EXPECT_EQ(paid.amount_cents, 4200);

  ASSERT_TRUE(provider_->refund(intent->id, 4200, "refund-ord_6").ok());
  ASSERT_TRUE(testing::wait_for([&] { return receiver.count(kEventRefunded) == 1; }, kDeadline));

  const std::string body = fake_->event_for(kEventSucceeded, intent->id).dump();
  const std::int64_t now = fake::unix_now();
  // Forged: signed with another secret.
  EXPECT_EQ(fake_->deliver(
                body, webhook_signature_header("whsec_other_secret_0123456789abcdef", now, body)),
            401);
  // Stale: older than the 300 s tolerance.
  EXPECT_EQ(fake_->deliver(body, fake_->sign(body, now - 301)), 401);
  EXPECT_EQ(fake_->deliver(body, ""), 401);
  // Several v1 entries (a secret being rolled): one valid is enough.
  const std::string good = fake_->sign(body, now);
  const std::string rolled = "t=" + std::to_string(now) + ",v1=" + std::string(64, '0') + "," +
                             good.substr(good.find("v1="));
  EXPECT_EQ(fake_->deliver(body, rolled), 200);
  // The same delivery again is a replay.
  EXPECT_EQ(fake_->deliver(body, rolled), 409);
  EXPECT_EQ(receiver.count(kEventSucceeded), 2u);  // the fake's own and the test's event
  EXPECT_EQ(receiver.verifier().refused("bad_signature"), 1u);
  EXPECT_EQ(receiver.verifier().refused("timestamp"), 1u);
  EXPECT_EQ(receiver.verifier().refused("replay"), 1u);
}

// -------------------------------------------------------------------------- Razorpay

class RazorpayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = testing::TempDir::create("razorpay");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<testing::TempDir>(std::move(dir).value());
    auto fake = FakeRazorpay::start({});
    ASSERT_TRUE(fake.ok()) << fake.status().to_string();
    fake_ = std::move(fake).value();
    provider_ = open("rzp.db", FakeRazorpayOptions{}.key_secret, 2000ms);
    ASSERT_NE(provider_, nullptr);
  }

  std::unique_ptr<RazorpayProvider> open(const std::string& db, const std::string& secret,
                                         std::chrono::milliseconds timeout) {
    RazorpayOptions options;
    options.api_base_url = fake_->base_url();
    options.key_id = FakeRazorpayOptions{}.key_id;
    options.key_secret = secret;
    options.db_path = dir_->file(db).string();
    options.public_base_url = "https://shop.example";
    options.timeout = timeout;
    auto p = RazorpayProvider::open(options, log::Logger(sink_, log::Level::kInfo, "rzp"));
    EXPECT_TRUE(p.ok()) << p.status().to_string();
    return p.ok() ? std::move(p).value() : nullptr;
  }

  std::shared_ptr<log::MemorySink> sink_ = std::make_shared<log::MemorySink>();
  std::unique_ptr<testing::TempDir> dir_;
  std::unique_ptr<FakeRazorpay> fake_;
  std::unique_ptr<RazorpayProvider> provider_;
};

TEST_F(RazorpayTest, CreatesFetchesAndRefundsPartlyThenFully) {
  auto intent = provider_->create_intent("ord_1", 25000, "INR", "order-ord_1");
  ASSERT_TRUE(intent.ok()) << intent.status().to_string();
  EXPECT_EQ(intent->id.rfind("order_", 0), 0u);
  EXPECT_EQ(intent->order_id, "ord_1");
  EXPECT_EQ(intent->amount_cents, 25000);
  EXPECT_EQ(intent->currency, "INR");
  EXPECT_EQ(intent->status, kRequiresConfirmation);
  EXPECT_EQ(intent->confirm_url, "https://shop.example/v1/payments/checkout/" + intent->id);

  auto early = provider_->refund(intent->id, 1000, "refund-early-1");
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.status().code(), StatusCode::kFailedPrecondition);

  auto paid = fake_->pay(intent->id);
  ASSERT_TRUE(paid.ok());
  EXPECT_TRUE(provider_->verify_payment_signature(intent->id, paid->payment_id, paid->signature));
  EXPECT_FALSE(
      provider_->verify_payment_signature(intent->id, paid->payment_id, std::string(64, 'a')));
  EXPECT_FALSE(
      provider_->verify_payment_signature("order_other", paid->payment_id, paid->signature));
  auto fetched = provider_->get_intent(intent->id);
  ASSERT_TRUE(fetched.ok()) << fetched.status().to_string();
  EXPECT_EQ(fetched->status, kSucceeded);

  auto partial = provider_->refund(intent->id, 10000, "refund-ord_1-a");
  ASSERT_TRUE(partial.ok()) << partial.status().to_string();
  EXPECT_EQ(partial->status, kSucceeded);
  EXPECT_EQ(partial->refunded_cents, 10000);

  auto too_much = provider_->refund(intent->id, 15001, "refund-ord_1-b");
  ASSERT_FALSE(too_much.ok());
  EXPECT_EQ(too_much.status().code(), StatusCode::kFailedPrecondition);

  auto rest = provider_->refund(intent->id, 15000, "refund-ord_1-c");
  ASSERT_TRUE(rest.ok()) << rest.status().to_string();
  EXPECT_EQ(rest->status, kRefunded);
  EXPECT_EQ(rest->refunded_cents, 25000);
}

TEST_F(RazorpayTest, RetriesWithOneKeyCreateOnceEvenAfterLosingTheLocalRecord) {
  auto first = provider_->create_intent("ord_2", 9900, "INR", "order-ord_2");
  auto second = provider_->create_intent("ord_2", 9900, "INR", "order-ord_2");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->id, second->id);
  EXPECT_EQ(fake_->orders_created(), 1);
  auto other = provider_->create_intent("ord_2", 9901, "INR", "order-ord_2");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kInvalidArgument);

  // A fresh mapping file (the record lost in a crash): found again by its receipt.
  auto amnesiac = open("other.db", FakeRazorpayOptions{}.key_secret, 2000ms);
  auto third = amnesiac->create_intent("ord_2", 9900, "INR", "order-ord_2");
  ASSERT_TRUE(third.ok()) << third.status().to_string();
  EXPECT_EQ(third->id, first->id);
  EXPECT_EQ(fake_->orders_created(), 1);
  // A key longer than a receipt may be still works (the receipt is its digest).
  const std::string long_key = "order-" + std::string(60, 'x');
  auto long_one = provider_->create_intent("ord_3", 9900, "INR", long_key);
  ASSERT_TRUE(long_one.ok()) << long_one.status().to_string();
  auto long_again = amnesiac->create_intent("ord_3", 9900, "INR", long_key);
  ASSERT_TRUE(long_again.ok());
  EXPECT_EQ(long_again->id, long_one->id);

  ASSERT_TRUE(fake_->pay(first->id).ok());
  auto r1 = provider_->refund(first->id, 9900, "refund-ord_2");
  auto r2 = provider_->refund(first->id, 9900, "refund-ord_2");
  ASSERT_TRUE(r1.ok()) << r1.status().to_string();
  ASSERT_TRUE(r2.ok()) << r2.status().to_string();
  EXPECT_EQ(fake_->refunds_created(), 1);
  EXPECT_EQ(provider_->refund(first->id, 100, "refund-ord_2").status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(RazorpayTest, RefusedKeyOutagesTimeoutsAndMalformedAnswers) {
  auto wrong = open("wrong.db", "wrong_secret_that_must_not_leak", 2000ms);
  auto refused = wrong->create_intent("ord_4", 1000, "INR", "order-ord_4");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(refused.status().message().find("wrong_secret"), std::string::npos);
  for (const auto& line : sink_->lines()) EXPECT_EQ(line.find("wrong_secret"), std::string::npos);

  fake_->faults().fail(1, 502);
  EXPECT_EQ(provider_->create_intent("ord_4", 1000, "INR", "order-ord_4").status().code(),
            StatusCode::kUnavailable);
  auto slow_provider = open("slow.db", FakeRazorpayOptions{}.key_secret, 200ms);
  fake_->faults().delay(1, 1000ms);
  EXPECT_EQ(slow_provider->create_intent("ord_4", 1000, "INR", "order-ord_4").status().code(),
            StatusCode::kUnavailable);
  fake_->faults().malform(1);
  auto garbled = provider_->create_intent("ord_4", 1000, "INR", "order-ord_4");
  EXPECT_EQ(garbled.status().code(), StatusCode::kInternal) << garbled.status().to_string();

  auto fine = provider_->create_intent("ord_4", 1000, "INR", "order-ord_4");
  ASSERT_TRUE(fine.ok()) << fine.status().to_string();
  EXPECT_EQ(fake_->orders_created(), 1);
  EXPECT_EQ(provider_->get_intent("order_doesnotexist").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(provider_->get_intent("pi_notrazorpay").status().code(), StatusCode::kNotFound);
}

TEST_F(RazorpayTest, UpiIntentAndCollectFlows) {
  auto intent = provider_->create_intent("ord_5", 15000, "INR", "order-ord_5");
  ASSERT_TRUE(intent.ok());
  UpiRequest request;
  request.email = "asha@example.in";
  request.contact = "+919876543210";
  auto upi = provider_->pay_upi(intent->id, request);
  ASSERT_TRUE(upi.ok()) << upi.status().to_string();
  EXPECT_EQ(upi->link.rfind("upi://pay?", 0), 0u);
  json sent = fake_->last_upi_request();
  EXPECT_EQ(sent["method"], "upi");
  EXPECT_EQ(sent["order_id"], intent->id);
  EXPECT_EQ(sent["amount"], 15000);
  EXPECT_EQ(sent["upi"]["flow"], "intent");

  request.flow = "collect";
  request.vpa = "not-a-vpa";
  EXPECT_EQ(provider_->pay_upi(intent->id, request).status().field(), "vpa");
  request.vpa = "asha@okbank";
  auto collect = provider_->pay_upi(intent->id, request);
  ASSERT_TRUE(collect.ok()) << collect.status().to_string();
  EXPECT_TRUE(collect->link.empty());
  EXPECT_EQ(fake_->last_upi_request()["upi"]["vpa"], "asha@okbank");
  request.contact = "12";
  EXPECT_EQ(provider_->pay_upi(intent->id, request).status().field(), "contact");
  request.contact = "+919876543210";
  request.flow = "qr";
  EXPECT_EQ(provider_->pay_upi(intent->id, request).status().field(), "flow");

  ASSERT_TRUE(fake_->approve(collect->payment_id).is_ok());
  auto after = provider_->get_intent(intent->id);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->status, kSucceeded);
  request.flow = "intent";
  EXPECT_EQ(provider_->pay_upi(intent->id, request).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(RazorpayTest, WebhooksVerifiedRefusedWhenForgedStaleAndReplaysHandledOnce) {
  RazorpayProvider* provider = provider_.get();
  Receiver receiver(
      WebhookScheme::kRazorpay, FakeRazorpayOptions{}.webhook_secret,
      [provider](std::string_view body, std::string_view id) {
        return provider->parse_event(body, id);
      },
      std::chrono::hours(48));
  fake_->set_webhook_url(receiver.url());
  auto intent = provider_->create_intent("ord_6", 4200, "INR", "order-ord_6");
  ASSERT_TRUE(intent.ok());
  auto paid = fake_->pay(intent->id);
  ASSERT_TRUE(paid.ok());
  ASSERT_TRUE(testing::wait_for([&] { return receiver.count(kEventSucceeded) == 1; }, kDeadline));
  PaymentEvent event = receiver.events().front();
  EXPECT_EQ(event.intent_id, intent->id);
  EXPECT_EQ(event.order_id, "ord_6");
  EXPECT_EQ(event.amount_cents, 4200);

  ASSERT_TRUE(provider_->refund(intent->id, 4200, "refund-ord_6").ok());
  ASSERT_TRUE(testing::wait_for([&] { return receiver.count(kEventRefunded) == 1; }, kDeadline));

  const std::int64_t now = fake::unix_now();
  const std::string body = fake_->event_for("payment.captured", paid->payment_id, now).dump();
  EXPECT_EQ(fake_->deliver(body, hmac_sha256_hex("another_secret", body), "evt_forged0001"), 401);
  EXPECT_EQ(fake_->deliver(body, "", "evt_nosig0001"), 401);
  EXPECT_EQ(fake_->deliver(body, "zz", "evt_badhex0001"), 400);
  const std::string stale =
      fake_->event_for("payment.captured", paid->payment_id, now - 3 * 86400).dump();
  EXPECT_EQ(fake_->deliver(stale, fake_->sign(stale), "evt_stale0001"), 401);
  // Razorpay resends the same signed body under the same event id: acknowledged, handled once.
  EXPECT_EQ(fake_->deliver(body, fake_->sign(body), "evt_test0001"), 200);
  EXPECT_EQ(fake_->deliver(body, fake_->sign(body), "evt_test0001"), 200);
  EXPECT_EQ(receiver.count(kEventSucceeded), 2u);
  EXPECT_EQ(receiver.verifier()
                .verify(WebhookDelivery{fake_->sign(body), "evt_test0001", body})
                .status()
                .code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(receiver.verifier().refused("bad_signature"), 1u);
  EXPECT_EQ(receiver.verifier().refused("timestamp"), 1u);
  // An event for an order this cloud never created carries no order id.
  auto foreign = provider_->parse_event(
      json{{"entity", "event"},
           {"event", "payment.captured"},
           {"created_at", now},
           {"payload",
            {{"payment",
              {{"entity", {{"id", "pay_x1"}, {"order_id", "order_foreign"}, {"amount", 100}}}}}}}}
          .dump(),
      "evt_foreign");
  ASSERT_TRUE(foreign.ok()) << foreign.status().to_string();
  EXPECT_TRUE(foreign->order_id.empty());
  EXPECT_EQ(provider_->parse_event("{\"entity\":\"event\"}", "e").status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shopeasy::cloud::payments
