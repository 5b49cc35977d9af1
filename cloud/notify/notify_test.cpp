// The outbox rules on their own: which answers are retried, the backoff schedule (full
// jitter under a doubling ceiling, seeded so every run is the same), when a row dies,
// the dedupe key, the preferences a customer may set, and what receivers get.
#include <gtest/gtest.h>

#include <random>

#include "cloud/notify/notify_service.hpp"
#include "cloud/notify/outbox_rules.hpp"
#include "common/clock/clock.hpp"

namespace shopeasy::cloud::notify {
namespace {

storage::NotificationRow row_at(std::int64_t created_ms, std::int64_t attempts = 0) {
  storage::NotificationRow r;
  r.id = 7;
  r.order_id = "o-1";
  r.event_seq = 3;
  r.customer_id = "c-1";
  r.channel = "webhook";
  r.kind = "out_for_delivery";
  r.dedupe_key = storage::notification_key(r.order_id, r.event_seq, r.channel, r.customer_id);
  r.body = {
      {"status", "out_for_delivery"}, {"eta_ms", created_ms + 20 * 60'000}, {"at_ms", created_ms}};
  r.state = "pending";
  r.attempts = attempts;
  r.created_at_ms = created_ms;
  r.next_at_ms = created_ms;
  return r;
}

TEST(OutboxRules, OnlyTransientAnswersAreRetried) {
  for (int s : {200, 201, 202, 204}) EXPECT_EQ(classify_http(s), Attempt::kDelivered) << s;
  for (int s : {408, 429, 500, 502, 503, 504})
    EXPECT_EQ(classify_http(s), Attempt::kTransient) << s;
  for (int s : {301, 400, 401, 403, 404, 409, 410, 413, 422}) {
    EXPECT_EQ(classify_http(s), Attempt::kPermanent) << s;
  }
  EXPECT_EQ(classify_status(Status::ok()), Attempt::kDelivered);
  EXPECT_EQ(classify_status(unavailable("gateway down")), Attempt::kTransient);
  EXPECT_EQ(classify_status(invalid_argument("bad number", "phone")), Attempt::kPermanent);
}

TEST(OutboxRules, BackoffIsFullJitterUnderADoublingCappedCeiling) {
  const RetryPolicy policy{.base_ms = 1000, .cap_ms = 60'000, .max_age_ms = 3'600'000};
  std::mt19937_64 rng(42);
  for (std::int64_t attempt = 1; attempt <= 12; ++attempt) {
    const std::int64_t ceiling = std::min<std::int64_t>(60'000, 1000LL << (attempt - 1));
    std::int64_t lo = INT64_MAX, hi = 0;
    for (int i = 0; i < 2000; ++i) {
      const std::int64_t wait = backoff_ms(attempt, policy, rng);
      ASSERT_GE(wait, 0);
      ASSERT_LE(wait, ceiling) << "attempt " << attempt;
      lo = std::min(lo, wait);
      hi = std::max(hi, wait);
    }
    // Spread over the whole range, not bunched at the ceiling.
    EXPECT_LT(lo, ceiling / 10) << attempt;
    EXPECT_GT(hi, ceiling * 9 / 10) << attempt;
  }
  // A huge attempt count neither overflows nor passes the cap.
  EXPECT_LE(backoff_ms(1'000'000, policy, rng), 60'000);
}

TEST(OutboxRules, RetriesUntilMaxAgeOnAFakeClockThenDies) {
  FakeClock clock;
  const RetryPolicy policy{.base_ms = 1000, .cap_ms = 10 * 60'000, .max_age_ms = 72LL * 3'600'000};
  std::mt19937_64 rng(7);
  storage::NotificationRow row = row_at(to_unix_ms(clock.wall_now()));
  int retries = 0;
  std::int64_t last_wait = 0;
  for (;;) {
    const std::int64_t now = to_unix_ms(clock.wall_now());
    storage::NotificationOutcome o = decide(row, Attempt::kTransient, "HTTP 503", now, policy, rng);
    EXPECT_EQ(o.attempts, row.attempts + 1);
    EXPECT_EQ(o.error, "HTTP 503");
    if (o.state == "dead") {
      // Only once the next try would land past 72 h from when it was queued.
      EXPECT_GT(now + policy.cap_ms - row.created_at_ms, policy.max_age_ms);
      break;
    }
    ASSERT_EQ(o.state, "pending");
    ASSERT_GE(o.next_at_ms, now);
    last_wait = o.next_at_ms - now;
    ASSERT_LE(last_wait, policy.cap_ms);
    clock.advance(std::chrono::milliseconds(o.next_at_ms - now));
    row.attempts = o.attempts;
    row.next_at_ms = o.next_at_ms;
    ++retries;
    ASSERT_LT(retries, 100'000);
  }
  // 72 h at waits of at most 10 min, averaging 5 min once capped: hundreds of tries.
  EXPECT_GT(retries, 400);
  EXPECT_GE(to_unix_ms(clock.wall_now()) - row.created_at_ms, 71LL * 3'600'000);
}

TEST(OutboxRules, APermanentRefusalFailsAtOnceAndSuccessClearsTheError) {
  std::mt19937_64 rng(1);
  const storage::NotificationRow row = row_at(1'000'000, 2);
  storage::NotificationOutcome o = decide(row, Attempt::kPermanent, "HTTP 400", 1'000'500, {}, rng);
  EXPECT_EQ(o.state, "failed");
  EXPECT_EQ(o.attempts, 3);
  EXPECT_EQ(o.error, "HTTP 400");
  o = decide(row, Attempt::kDelivered, "", 1'000'500, {}, rng);
  EXPECT_EQ(o.state, "sent");
  EXPECT_EQ(o.id, row.id);
}

TEST(OutboxRules, TheDedupeKeyNamesEventChannelAndRecipient) {
  EXPECT_EQ(storage::notification_key("o-1", 4, "sms", "c-9"), "o-1:4:sms:c-9");
  EXPECT_NE(storage::notification_key("o-1", 4, "sms", "c-9"),
            storage::notification_key("o-1", 4, "webhook", "c-9"));
  EXPECT_NE(storage::notification_key("o-1", 4, "sms", "c-9"),
            storage::notification_key("o-1", 5, "sms", "c-9"));
  // The webhook carries it as its id.
  const storage::NotificationRow row = row_at(5'000);
  const nlohmann::json payload = webhook_payload(row);
  EXPECT_EQ(payload["id"], "o-1:3:webhook:c-1");
  EXPECT_EQ(payload["type"], "order.out_for_delivery");
  EXPECT_EQ(payload["data"]["eta_ms"], 5'000 + 20 * 60'000);
  EXPECT_EQ(payload["data"]["order_id"], "o-1");
  EXPECT_EQ(sms_text(row), "ShopEasy: your order o-1 is on its way, arriving in about 20 min.");
}

TEST(OutboxRules, PreferencesDefaultOnAndRefuseUnknownNames) {
  const Preferences defaults = default_preferences();
  EXPECT_TRUE(defaults.allows("sms", "delivered"));
  EXPECT_TRUE(defaults.allows("webhook", "packed"));

  StatusOr<Preferences> p =
      parse_preferences({{"channels", {{"sms", false}}}, {"events", {{"packed", false}}}});
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_FALSE(p->allows("sms", "delivered"));
  EXPECT_FALSE(p->allows("webhook", "packed"));
  EXPECT_TRUE(p->allows("webhook", "delivered"));
  // Stored and read back.
  EXPECT_FALSE(stored_preferences(p->to_json()).allows("sms", "confirmed"));

  struct Bad {
    nlohmann::json body;
    std::string field;
  };
  for (const Bad& bad : std::vector<Bad>{
           {{{"channels", {{"fax", true}}}}, "channels.fax"},
           {{{"channels", {{"sms", "no"}}}}, "channels.sms"},
           {{{"channels", {"sms"}}}, "channels"},
           {{{"events", {{"shipped", false}}}}, "events.shipped"},
           {{{"events", {{"packed", 0}}}}, "events.packed"},
           {{{"sms", false}}, "sms"},
           {nlohmann::json::array(), "body"},
       }) {
    StatusOr<Preferences> refused = parse_preferences(bad.body);
    ASSERT_FALSE(refused.ok()) << bad.body.dump();
    EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(refused.status().field(), bad.field) << bad.body.dump();
  }
}

TEST(OutboxRules, WebhookUrlsSplitIntoBaseAndPath) {
  StatusOr<WebhookTarget> t = parse_webhook_url("http://127.0.0.1:8080/hooks/shopeasy?x=1");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->base, "http://127.0.0.1:8080");
  EXPECT_EQ(t->path, "/hooks/shopeasy?x=1");
  EXPECT_EQ(parse_webhook_url("https://hooks.example.com")->path, "/");
  EXPECT_FALSE(parse_webhook_url("ftp://x/y").ok());
  EXPECT_FALSE(parse_webhook_url("http:///path").ok());
  EXPECT_EQ(parse_webhook_url("hooks.example.com").status().field(), "webhook_url");
}

}  // namespace
}  // namespace shopeasy::cloud::notify
