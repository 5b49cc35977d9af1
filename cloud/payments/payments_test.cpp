// Unit tests of the payments module: webhook signing and verification (refusals,
// tolerance, replay), the webhook route's retry semantics, and the sandbox gateway's
// intents, refunds and delivery queue, all on a FakeClock.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <regex>
#include <string>

#include <nlohmann/json.hpp>

#include "cloud/payments/payments.hpp"
#include "cloud/payments/webhook_sender.hpp"
#include "tests/harness/harness.hpp"

namespace shopeasy::cloud::payments {
namespace {

using namespace std::chrono_literals;

const std::string kSecret = "whsec_0123456789abcdef0123456789abcdef";

std::int64_t unix_s(const Clock& clock) {
  return std::chrono::duration_cast<std::chrono::seconds>(clock.wall_now().time_since_epoch())
      .count();
}

std::string event_body(const std::string& id = "evt_1", std::int64_t amount = 1250) {
  return nlohmann::json{
      {"id", id},
      {"type", "payment_intent.succeeded"},
      {"created", 1767225600},
      {"data", {{"intent_id", "pi_abc"}, {"order_id", "ord-7"}, {"amount_cents", amount}}}}
      .dump();
}

class VerifierTest : public ::testing::Test {
 protected:
  void SetUp() override { verifier_ = make(); }

  std::unique_ptr<WebhookVerifier> make(std::string db_path = {}, std::size_t max = 100'000) {
    WebhookVerifierOptions options;
    options.secret = kSecret;
    options.clock = clock_;
    options.db_path = std::move(db_path);
    options.max_remembered = max;
    auto v =
        WebhookVerifier::create(options, log::Logger(sink_, log::Level::kDebug, "pay"), metrics_);
    EXPECT_TRUE(v.ok()) << v.status().to_string();
    return v.ok() ? std::move(v).value() : nullptr;
  }
  std::string sign(const std::string& body, std::int64_t offset_s = 0) {
    return webhook_signature_header(kSecret, unix_s(*clock_) + offset_s, body);
  }

  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  std::shared_ptr<log::MemorySink> sink_ = std::make_shared<log::MemorySink>();
  metrics::Registry metrics_;
  std::unique_ptr<WebhookVerifier> verifier_;
};

TEST_F(VerifierTest, AcceptsAGoodSignatureAndParsesTheEvent) {
  const std::string body = event_body();
  auto event = verifier_->verify(sign(body), body);
  ASSERT_TRUE(event.ok()) << event.status().to_string();
  EXPECT_EQ(event->event_id, "evt_1");
  EXPECT_EQ(event->type, "payment_intent.succeeded");
  EXPECT_EQ(event->intent_id, "pi_abc");
  EXPECT_EQ(event->order_id, "ord-7");
  EXPECT_EQ(event->amount_cents, 1250);
  EXPECT_EQ(event->created_s, 1767225600);
}

TEST_F(VerifierTest, KnownVectorMatchesIndependentHmac) {
  // HMAC-SHA256("key", "1.x"), computed independently with openssl dgst -hmac.
  EXPECT_EQ(webhook_hmac_hex("key", 1, "x"),
            "fc4913c41a7bf793267e2a384f3261c9436ec2cd097bd745e7b0d99113f510ec")
      << "if this fails, recompute: printf '1.x' | openssl dgst -sha256 -hmac key";
}

TEST_F(VerifierTest, TamperedBodyIsRefusedAndLoggedWithoutTheSecret) {
  const std::string header = sign(event_body());
  auto event = verifier_->verify(header, event_body("evt_1", 1));
  ASSERT_FALSE(event.ok());
  EXPECT_EQ(event.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(event.status().message(), "webhook signature does not match the payload");
  EXPECT_EQ(verifier_->refused("bad_signature"), 1u);
  EXPECT_TRUE(sink_->contains({"event=webhook_refused", "reason=bad_signature"}));
  for (const std::string& line : sink_->lines()) EXPECT_EQ(line.find(kSecret), std::string::npos);
}

TEST_F(VerifierTest, WrongSecretIsRefused) {
  const std::string body = event_body();
  const std::string header =
      webhook_signature_header("another-secret-of-at-least-32-bytes!!", unix_s(*clock_), body);
  auto event = verifier_->verify(header, body);
  ASSERT_FALSE(event.ok());
  EXPECT_EQ(event.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(verifier_->refused("bad_signature"), 1u);
}

TEST_F(VerifierTest, TimestampsOutsideToleranceAreRefusedEdgesAccepted) {
  const std::string body = event_body();
  auto old = verifier_->verify(sign(body, -301), body);
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(old.status().message().find("301 s old"), std::string::npos) << old.status().message();
  auto future = verifier_->verify(sign(body, 301), body);
  ASSERT_FALSE(future.ok());
  EXPECT_NE(future.status().message().find("301 s in the future"), std::string::npos);
  EXPECT_EQ(verifier_->refused("timestamp"), 2u);
  EXPECT_TRUE(verifier_->verify(sign(body, -300), body).ok());
  EXPECT_TRUE(verifier_->verify(sign(body, 300), body).ok());
}

TEST_F(VerifierTest, ReplayOfAnAcceptedEventIsRefused) {
  const std::string body = event_body();
  const std::string header = sign(body);
  auto first = verifier_->verify(header, body);
  ASSERT_TRUE(first.ok());
  // Not yet handled: verifying again (a retry after a failed handler) still passes.
  ASSERT_TRUE(verifier_->verify(header, body).ok());
  ASSERT_TRUE(verifier_->mark_seen(*first).is_ok());
  clock_->advance(10s);
  auto replay = verifier_->verify(header, body);
  ASSERT_FALSE(replay.ok());
  EXPECT_EQ(replay.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(replay.status().message().find("replayed webhook"), std::string::npos);
  EXPECT_EQ(verifier_->refused("replay"), 1u);
  EXPECT_TRUE(sink_->contains({"reason=replay"}));
  // Freshly signed with another timestamp still within the window: refused too.
  EXPECT_FALSE(verifier_->verify(sign(body), body).ok());
}

TEST_F(VerifierTest, ReplayStoreInSqliteSurvivesARestart) {
  auto dir = testing::TempDir::create("payments");
  ASSERT_TRUE(dir.ok());
  const std::string path = dir->file("seen.db").string();
  const std::string body = event_body();
  const std::string header = sign(body);
  {
    auto v = make(path);
    auto event = v->verify(header, body);
    ASSERT_TRUE(event.ok());
    ASSERT_TRUE(v->mark_seen(*event).is_ok());
  }
  auto again = make(path);
  auto replay = again->verify(header, body);
  ASSERT_FALSE(replay.ok());
  EXPECT_EQ(replay.status().code(), StatusCode::kAlreadyExists);
}

TEST_F(VerifierTest, MemoryStoreIsBoundedAndForgetsAfterTwiceTheTolerance) {
  auto v = make({}, 2);
  for (const char* id : {"evt_a", "evt_b"}) {
    auto event = v->verify(sign(event_body(id)), event_body(id));
    ASSERT_TRUE(event.ok());
    ASSERT_TRUE(v->mark_seen(*event).is_ok());
  }
  auto third = v->verify(sign(event_body("evt_c")), event_body("evt_c"));
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(v->mark_seen(*third).code(), StatusCode::kResourceExhausted);
  clock_->advance(601s);
  EXPECT_TRUE(v->mark_seen(*third).is_ok());
}

TEST_F(VerifierTest, MalformedHeadersAreRefusedEachWithItsReason) {
  const std::string body = event_body();
  const std::string mac = webhook_hmac_hex(kSecret, unix_s(*clock_), body);
  const std::string t = std::to_string(unix_s(*clock_));
  auto missing = verifier_->verify("", body);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(missing.status().message(), "missing ShopEasy-Signature header");

  const std::vector<std::pair<std::string, std::string>> cases = {
      {"garbage", "expected key=value"},
      {"v1=" + mac, "no t= timestamp"},
      {"t=" + t, "no v1= signature"},
      {"t=abc,v1=" + mac, "t is not a unix time"},
      {"t=-5,v1=" + mac, "t is not a unix time"},
      {"t=" + t + ",t=" + t + ",v1=" + mac, "t given twice"},
      {"t=" + t + ",v1=" + mac.substr(2), "v1 is not 64 hex digits"},
      {"t=" + t + ",v1=" + std::string(64, 'z'), "v1 is not 64 hex digits"},
      {"t=" + t + ",v1=" + mac + "," + std::string(1100, 'x'), "longer than 1024"},
  };
  for (const auto& [header, expect] : cases) {
    auto event = verifier_->verify(header, body);
    ASSERT_FALSE(event.ok()) << header;
    EXPECT_EQ(event.status().code(), StatusCode::kInvalidArgument) << header;
    EXPECT_NE(event.status().message().find(expect), std::string::npos)
        << header << " -> " << event.status().message();
  }
  EXPECT_EQ(verifier_->refused("missing_header"), 1u);
  EXPECT_EQ(verifier_->refused("malformed_header"), cases.size());
  // Spaces around items and an unknown scheme are tolerated.
  EXPECT_TRUE(verifier_->verify(" t=" + t + " , v0=abc, v1=" + mac, body).ok());
}

TEST_F(VerifierTest, MalformedBodiesWithGoodSignaturesAreRefused) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "not JSON"},
      {"[1,2]", "not a JSON object"},
      {R"({"type":"x","created":1,"data":{}})", "id must be a string"},
      {R"({"id":"evt_1","type":"x","created":"1","data":{}})", "created must be an integer"},
      {R"({"id":"evt_1","type":"x","created":1})", "data must be an object"},
      {R"({"id":"evt_1","type":"x","created":1,"data":{"intent_id":"pi","order_id":"o"}})",
       "data.amount_cents must be an integer"},
      {R"({"id":"evt_1","type":"x","created":1,"data":{"intent_id":"pi","order_id":"o",
          "amount_cents":0}})",
       "out of range"},
  };
  for (const auto& [body, expect] : cases) {
    auto event = verifier_->verify(sign(body), body);
    ASSERT_FALSE(event.ok()) << body;
    EXPECT_EQ(event.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(event.status().message().find(expect), std::string::npos)
        << body << " -> " << event.status().message();
  }
  EXPECT_EQ(verifier_->refused("malformed_body"), cases.size());
}

TEST_F(VerifierTest, ShortSecretAndBadToleranceAreRefused) {
  WebhookVerifierOptions options;
  options.secret = "short";
  auto v = WebhookVerifier::create(options, log::Logger(), metrics_);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().field(), "webhook_secret");
  options.secret = kSecret;
  options.tolerance = 0s;
  EXPECT_EQ(WebhookVerifier::create(options, log::Logger(), metrics_).status().field(),
            "tolerance");
}

// The route over a real loopback server: retries after a failing handler are accepted,
// refusals have the right statuses.
class WebhookRouteTest : public VerifierTest {
 protected:
  void SetUp() override {
    VerifierTest::SetUp();
    server_ = std::make_unique<http::HttpServer>(
        http::ServerOptions{}, nullptr, log::Logger(sink_, log::Level::kInfo, "http"), metrics_);
    register_webhook_route(*server_, *verifier_, [this](const PaymentEvent& e) {
      ++calls_;
      if (fail_.load()) return unavailable("orders database is down");
      last_event_id_ = e.event_id;
      return Status::ok();
    });
    auto port = server_->start();
    ASSERT_TRUE(port.ok());
    auto sender = WebhookSender::create("http://127.0.0.1:" + std::to_string(*port), {});
    ASSERT_TRUE(sender.ok());
    sender_ = std::move(sender).value();
  }
  // The client's keep-alive connection goes first, or stop() may wait out its timeout.
  void TearDown() override {
    sender_.reset();
    server_->stop();
  }

  http::ClientResponse post(const std::string& header, const std::string& body) {
    std::map<std::string, std::string> headers;
    if (!header.empty()) headers[std::string(kSignatureHeader)] = header;
    auto r = sender_->post("/v1/payments/webhook", body, "application/json", headers);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : http::ClientResponse{};
  }

  std::unique_ptr<http::HttpServer> server_;
  std::unique_ptr<WebhookSender> sender_;
  std::atomic<int> calls_{0};
  std::atomic<bool> fail_{false};
  std::string last_event_id_;
};

TEST_F(WebhookRouteTest, RetryAfterHandlerFailureIsAcceptedThenReplayRefused) {
  const std::string body = event_body();
  const std::string header = sign(body);
  fail_ = true;
  EXPECT_EQ(post(header, body).status, 503);
  fail_ = false;
  // The same delivery again (a gateway retry): not a replay, since it was never handled.
  EXPECT_EQ(post(header, body).status, 200);
  EXPECT_EQ(calls_.load(), 2);
  EXPECT_EQ(last_event_id_, "evt_1");
  auto replay = post(header, body);
  EXPECT_EQ(replay.status, 409);
  EXPECT_NE(replay.body.find("replayed webhook"), std::string::npos) << replay.body;
  EXPECT_EQ(calls_.load(), 2);
  EXPECT_TRUE(sink_->contains({"event=webhook_handler_failed", "event_id=evt_1"}));
}

TEST_F(WebhookRouteTest, GatewayRedeliveryAfterTheWindowIsAcknowledgedNotHandledTwice) {
  const std::string body = event_body();
  EXPECT_EQ(post(sign(body), body).status, 200);
  clock_->advance(301s);
  auto again = post(sign(body), body);
  EXPECT_EQ(again.status, 200);
  EXPECT_NE(again.body.find("duplicate"), std::string::npos);
  EXPECT_EQ(calls_.load(), 1);
}

TEST_F(WebhookRouteTest, RefusalsAnswer400Or401WithTheErrorShape) {
  const std::string body = event_body();
  auto missing = post("", body);
  EXPECT_EQ(missing.status, 401);
  EXPECT_NE(missing.body.find("\"code\":\"unauthenticated\""), std::string::npos) << missing.body;
  EXPECT_EQ(post("t=1", body).status, 400);
  EXPECT_EQ(post(sign(body), event_body("evt_1", 99)).status, 401);
  EXPECT_EQ(post(sign(body, -1000), body).status, 401);
  EXPECT_EQ(post(sign("{}"), "{}").status, 400);
  EXPECT_EQ(calls_.load(), 0);
}

// The sandbox gateway, delivering by hand on a FakeClock.
class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = testing::TempDir::create("payments");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<testing::TempDir>(std::move(dir).value());
    closed_port_ = testing::free_tcp_port();  // nobody listens: deliveries fail fast
    provider_ = open();
    ASSERT_NE(provider_, nullptr);
  }
  std::unique_ptr<SandboxProvider> open() {
    SandboxOptions options;
    options.db_path = dir_->file("sandbox.db").string();
    options.webhook_url = "http://127.0.0.1:" + std::to_string(closed_port_) + "/hook";
    options.webhook_secret = kSecret;
    options.public_base_url = "https://pay.example.test/";
    options.clock = clock_;
    options.deliver_in_background = false;
    auto p =
        SandboxProvider::open(options, log::Logger(sink_, log::Level::kInfo, "sandbox"), metrics_);
    EXPECT_TRUE(p.ok()) << p.status().to_string();
    return p.ok() ? std::move(p).value() : nullptr;
  }
  PaymentIntent paid(std::int64_t amount = 1000) {
    auto intent = provider_->create_intent("ord-1", amount, "EUR", "key-" + std::to_string(n_++));
    EXPECT_TRUE(intent.ok()) << intent.status().to_string();
    auto confirmed = provider_->confirm(intent->id, true);
    EXPECT_TRUE(confirmed.ok()) << confirmed.status().to_string();
    return *confirmed;
  }

  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  std::shared_ptr<log::MemorySink> sink_ = std::make_shared<log::MemorySink>();
  metrics::Registry metrics_;
  std::unique_ptr<testing::TempDir> dir_;
  int closed_port_ = 0;
  std::unique_ptr<SandboxProvider> provider_;
  int n_ = 0;
};

TEST_F(SandboxTest, CreateIsIdempotentByKey) {
  auto a = provider_->create_intent("ord-1", 1250, "EUR", "k1");
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_TRUE(std::regex_match(a->id, std::regex("pi_[0-9a-f]{32}"))) << a->id;
  EXPECT_EQ(a->status, "requires_confirmation");
  EXPECT_EQ(a->confirm_url, "https://pay.example.test/sandbox/pay/" + a->id);
  EXPECT_EQ(a->created_ms, to_unix_ms(clock_->wall_now()));
  auto again = provider_->create_intent("ord-1", 1250, "EUR", "k1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id, a->id);
  auto other = provider_->create_intent("ord-1", 1300, "EUR", "k1");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(other.status().field(), "idempotency_key");
  auto second = provider_->create_intent("ord-1", 1250, "EUR", "k2");
  ASSERT_TRUE(second.ok());
  EXPECT_NE(second->id, a->id);
}

TEST_F(SandboxTest, BadInputIsRefusedNamingTheField) {
  struct Case {
    std::string order;
    std::int64_t amount;
    std::string currency;
    std::string key;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"o", 0, "EUR", "k", "amount_cents"},
      {"o", -5, "EUR", "k", "amount_cents"},
      {"o", kMaxAmountCents + 1, "EUR", "k", "amount_cents"},
      {"o", 100, "eur", "k", "currency"},
      {"o", 100, "EURO", "k", "currency"},
      {"", 100, "EUR", "k", "order_id"},
      {"o\n", 100, "EUR", "k", "order_id"},
      {"o", 100, "EUR", "", "idempotency_key"},
      {"o", 100, "EUR", std::string(256, 'k'), "idempotency_key"},
  };
  for (const Case& c : cases) {
    auto r = provider_->create_intent(c.order, c.amount, c.currency, c.key);
    ASSERT_FALSE(r.ok()) << c.field;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().field(), c.field);
  }
  EXPECT_TRUE(provider_->create_intent("o", kMaxAmountCents, "EUR", "k").ok());
  EXPECT_EQ(provider_->get_intent("pi_nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(provider_->confirm("pi_nope", true).status().code(), StatusCode::kNotFound);
}

TEST_F(SandboxTest, ConfirmAnswersOnceAndRepeatsAreHarmless) {
  auto declined = provider_->create_intent("ord-2", 500, "EUR", "d");
  ASSERT_TRUE(declined.ok());
  auto d = provider_->confirm(declined->id, false);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->status, "failed");
  EXPECT_TRUE(provider_->confirm(declined->id, false).ok());
  EXPECT_EQ(provider_->confirm(declined->id, true).status().code(),
            StatusCode::kFailedPrecondition);
  auto stats = provider_->outbox_stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->pending, 1);  // one payment_failed event, not one per answer
}

TEST_F(SandboxTest, RefundsAreIdempotentAndNeverExceedWhatWasCaptured) {
  auto unpaid = provider_->create_intent("ord-3", 1000, "EUR", "u");
  ASSERT_TRUE(unpaid.ok());
  EXPECT_EQ(provider_->refund(unpaid->id, 100, "r0").status().code(),
            StatusCode::kFailedPrecondition);

  PaymentIntent intent = paid(1000);
  auto partial = provider_->refund(intent.id, 300, "r1");
  ASSERT_TRUE(partial.ok()) << partial.status().to_string();
  EXPECT_EQ(partial->status, "succeeded");
  EXPECT_EQ(partial->refunded_cents, 300);
  auto repeat = provider_->refund(intent.id, 300, "r1");
  ASSERT_TRUE(repeat.ok());
  EXPECT_EQ(repeat->refunded_cents, 300);
  EXPECT_EQ(provider_->refund(intent.id, 200, "r1").status().field(), "idempotency_key");

  auto over = provider_->refund(intent.id, 701, "r2");
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(over.status().message(), "refund of 701 cents exceeds the 700 cents still captured");
  EXPECT_EQ(provider_->refund(intent.id, 0, "r3").status().field(), "amount_cents");

  auto rest = provider_->refund(intent.id, 700, "r4");
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->status, "refunded");
  EXPECT_EQ(rest->refunded_cents, 1000);
  EXPECT_EQ(provider_->refund(intent.id, 1, "r5").status().code(), StatusCode::kFailedPrecondition);
  auto stats = provider_->outbox_stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->pending, 3);  // succeeded + two charge.refunded
}

TEST_F(SandboxTest, FailedDeliveriesBackOffExponentiallyAndSurviveRestart) {
  paid();
  EXPECT_EQ(provider_->deliver_due(), 0u);
  EXPECT_EQ(provider_->outbox_stats()->failed_attempts, 1);
  EXPECT_TRUE(sink_->contains({"event=webhook_delivery_failed", "retry_in_ms=1000"}));
  provider_->deliver_due();  // not due yet
  EXPECT_EQ(provider_->outbox_stats()->failed_attempts, 1);
  clock_->advance(1s);
  provider_->deliver_due();
  EXPECT_EQ(provider_->outbox_stats()->failed_attempts, 2);
  EXPECT_TRUE(sink_->contains({"event=webhook_delivery_failed", "retry_in_ms=2000"}));
  clock_->advance(1999ms);
  provider_->deliver_due();
  EXPECT_EQ(provider_->outbox_stats()->failed_attempts, 2);

  provider_.reset();
  provider_ = open();
  auto stats = provider_->outbox_stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->pending, 1);
  clock_->advance(1ms);
  provider_->deliver_due();
  EXPECT_EQ(provider_->outbox_stats()->failed_attempts, 3);
}

TEST_F(SandboxTest, UndeliverableEventsAreGivenUpAfterTheLimit) {
  paid();
  provider_->deliver_due();
  clock_->advance(73h);
  provider_->deliver_due();
  auto stats = provider_->outbox_stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->pending, 0);
  EXPECT_EQ(stats->abandoned, 1);
  EXPECT_TRUE(sink_->contains({"event=webhook_abandoned"}));
}

TEST(SandboxOptionsTest, BadOptionsAreRefusedNamingTheOption) {
  metrics::Registry metrics;
  SandboxOptions options;
  options.db_path = ":memory:";
  options.webhook_url = "ftp://x/hook";
  options.webhook_secret = kSecret;
  options.public_base_url = "https://pay.example.test";
  EXPECT_EQ(SandboxProvider::open(options, log::Logger(), metrics).status().field(), "webhook_url");
  options.webhook_url = "http://127.0.0.1:1/hook";
  options.public_base_url = "pay.example.test";
  EXPECT_EQ(SandboxProvider::open(options, log::Logger(), metrics).status().field(),
            "public_base_url");
  options.public_base_url = "https://pay.example.test";
  options.webhook_secret = "short";
  EXPECT_EQ(SandboxProvider::open(options, log::Logger(), metrics).status().field(),
            "webhook_secret");
}

}  // namespace
}  // namespace shopeasy::cloud::payments
