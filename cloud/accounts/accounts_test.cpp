// The accounts module on SQLite and on a throwaway PostgreSQL server: sign-in code
// limits with a FakeClock (checks per code, per-number caps, prefix, client and global
// budgets, expiry, reuse, the same answer for unknown numbers), bad input, and the
// tokens (tampered, expired, rotation, reuse revoking the family, sign-out, the key file).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <regex>

#include "cloud/accounts/account_store.hpp"
#include "cloud/accounts/deleted_account_gate.hpp"
#include "cloud/accounts/otp_service.hpp"
#include "cloud/accounts/sms.hpp"
#include "cloud/accounts/token_service.hpp"
#include "common/clock/clock.hpp"
#include "common/security/jwt.hpp"
#include "tests/harness/postgres_server.hpp"
#include "tests/harness/temp_dir.hpp"

namespace shopeasy::cloud::accounts {
namespace {

using shopeasy::testing::PostgresServer;
using shopeasy::testing::TempDir;
using namespace std::chrono_literals;

#define ASSERT_OK(expr)                                                      \
  do {                                                                       \
    const ::shopeasy::Status assert_ok_status_ = (expr);                     \
    ASSERT_TRUE(assert_ok_status_.is_ok()) << assert_ok_status_.to_string(); \
  } while (false)

const std::string kSecret(32, 's');

// The value of a StatusOr, failing the test (and answering T{}) on an error.
template <typename T>
T value_or_die(StatusOr<T> r, const char* what) {
  if (!r.ok()) {
    ADD_FAILURE() << what << ": " << r.status().to_string();
    return T{};
  }
  return std::move(*r);
}
#define VALUE_OR_DIE(expr) value_or_die((expr), #expr)

class AccountsTest : public ::testing::TestWithParam<std::string> {
 protected:
  static std::optional<PostgresServer>& server() {
    static std::optional<PostgresServer> instance;
    return instance;
  }
  static void TearDownTestSuite() { server().reset(); }

  void SetUp() override {
    auto dir = TempDir::create("shopeasy-accounts");
    ASSERT_TRUE(dir.ok()) << dir.status().to_string();
    dir_.emplace(std::move(*dir));
    if (GetParam() == "postgres") {
      if (!server()) {
        auto started = PostgresServer::start({.settings = {"fsync=off"}});
        ASSERT_TRUE(started.ok()) << started.status().to_string();
        server().emplace(std::move(*started));
      }
      static int databases = 0;
      const std::string name = "accounts_" + std::to_string(++databases);
      pg_database_ = name;
      ASSERT_OK(server()->create_database(name));
      auto opened = open_postgres_account_store(server()->dsn(name));
      ASSERT_TRUE(opened.ok()) << opened.status().to_string();
      store_ = std::move(*opened);
    } else {
      auto opened = open_sqlite_account_store(dir_->file("accounts.db").string());
      ASSERT_TRUE(opened.ok()) << opened.status().to_string();
      store_ = std::move(*opened);
    }
    ASSERT_OK(store_->migrate());
    ASSERT_OK(store_->migrate());  // a second run (another instance) changes nothing
    sms_ = std::make_unique<SandboxSmsProvider>(*store_, clock_);
    make_otp(OtpOptions{.secret = kSecret});
  }

  void make_otp(OtpOptions options) {
    auto otp =
        OtpService::create(std::move(options), *store_, *sms_, clock_, log::Logger(), metrics_);
    ASSERT_TRUE(otp.ok()) << otp.status().to_string();
    otp_ = std::move(*otp);
  }

  // The code in the newest message to `phone`, or "" when there is none.
  std::string last_code(const std::string& phone) {
    auto messages = store_->sandbox_sms(phone, 1);
    if (!messages.ok() || messages->empty()) return "";
    std::smatch m;
    const std::string body = messages->front().body;
    return std::regex_search(body, m, std::regex("code is ([0-9]{6})")) ? m[1].str() : "";
  }

  // verify() as the customer id, or kResourceExhausted naming the limit.
  StatusOr<std::string> check(const std::string& phone, const std::string& code,
                              const std::string& client = "10.9.0.1") {
    StatusOr<OtpVerifyResult> r = otp_->verify(phone, code, client);
    if (!r.ok()) return r.status();
    if (r->customer_id.empty()) return Status(StatusCode::kResourceExhausted, r->limit);
    return r->customer_id;
  }

  std::size_t messages_to(const std::string& phone) {
    auto messages = store_->sandbox_sms(phone, 100);
    return messages.ok() ? messages->size() : 0;
  }

  OtpSendResult send(const std::string& phone, const std::string& client = "10.0.0.1") {
    auto r = otp_->send(phone, client);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : OtpSendResult{};
  }

  // A wrong code for `phone` (the right one plus one, mod 10^6).
  std::string wrong_code(const std::string& phone) {
    const int right = std::stoi(last_code(phone));
    std::string s = std::to_string((right + 1) % 1000000);
    return std::string(6 - s.size(), '0') + s;
  }

  std::uint64_t counter(const std::string& series) {
    const std::string text = metrics_.render();
    const std::size_t at = text.find("\n" + series + " ");
    return at == std::string::npos ? 0 : std::stoull(text.substr(at + series.size() + 2));
  }

  std::optional<TempDir> dir_;
  std::string pg_database_;  // the PostgreSQL backend's database
  FakeClock clock_{WallTime(std::chrono::milliseconds(1'795'000'000'000))};
  metrics::Registry metrics_;
  std::unique_ptr<AccountStore> store_;
  std::unique_ptr<SandboxSmsProvider> sms_;
  std::unique_ptr<OtpService> otp_;
};

TEST_P(AccountsTest, RightCodeSignsInOnceAndKeepsTheCustomer) {
  const std::string phone = "+919876543210";
  ASSERT_TRUE(send(phone).sent);
  const std::string code = last_code(phone);
  ASSERT_EQ(code.size(), 6u);
  auto first = check(phone, code);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_EQ(first->rfind("c_", 0), 0u);
  // The used code is gone.
  auto again = check(phone, code);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kUnauthenticated);
  // A second sign-in is the same customer.
  clock_.advance(1min);
  ASSERT_TRUE(send(phone).sent);
  auto second = check(phone, last_code(phone));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, *first);
  EXPECT_EQ(counter("cloud_auth_otp_verifications_total{result=\"ok\"}"), 2u);
  EXPECT_EQ(counter("cloud_auth_otp_verifications_total{result=\"failed\"}"), 1u);
}

TEST_P(AccountsTest, FiveChecksPerCode) {
  const std::string phone = "+919876543211";
  ASSERT_TRUE(send(phone).sent);
  const std::string right = last_code(phone);
  const std::string wrong = wrong_code(phone);
  for (int i = 0; i < 4; ++i) {
    auto r = check(phone, wrong);
    ASSERT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  }
  // The fifth check may still be the right one.
  ASSERT_TRUE(send("+919876543219").sent);
  const std::string other_right = last_code("+919876543219");
  for (int i = 0; i < 5; ++i) (void)check("+919876543219", wrong_code("+919876543219"));
  // Five wrong checks used the other code up: its right code no longer works.
  EXPECT_EQ(check("+919876543219", other_right).status().code(), StatusCode::kUnauthenticated);
  EXPECT_TRUE(check(phone, right).ok());
}

TEST_P(AccountsTest, ChecksPerClientAddressAreLimitedAcrossNumbers) {
  make_otp(OtpOptions{.secret = kSecret, .verify_per_client_15m = 6});
  // Two numbers, three wrong checks each from one address: its budget is spent.
  for (const std::string phone : {"+919811111111", "+919822222222"}) {
    ASSERT_TRUE(send(phone, "10.6.0.1").sent);
    for (int i = 0; i < 3; ++i) {
      ASSERT_EQ(check(phone, wrong_code(phone), "10.6.6.6").status().code(),
                StatusCode::kUnauthenticated);
    }
  }
  // Even the right code is not checked from that address now, and no check is spent.
  const std::string right = last_code("+919811111111");
  auto limited = otp_->verify("+919811111111", right, "10.6.6.6");
  ASSERT_TRUE(limited.ok());
  EXPECT_TRUE(limited->customer_id.empty());
  EXPECT_EQ(limited->limit, "verify_client_15m");
  EXPECT_GT(limited->retry_after_s, 0);
  EXPECT_EQ(counter("cloud_auth_otp_limited_total{limit=\"verify_client_15m\"}"), 1u);
  // Another address may still use the code's remaining checks.
  EXPECT_TRUE(check("+919811111111", right, "10.6.0.1").ok());
  // The day's send counts survive the pruning the 15-minute check log does.
  for (int i = 0; i < 10; ++i) {
    clock_.advance(16min);
    if (!send("+919833333333", "10.6.1." + std::to_string(i)).sent) FAIL() << i;
    (void)check("+919822222222", "000000", "10.6.3." + std::to_string(i));
  }
  clock_.advance(16min);
  EXPECT_EQ(send("+919833333333", "10.6.2.1").limit, "phone_day");
}

TEST_P(AccountsTest, ExpiredCodeIsRefused) {
  const std::string phone = "+919876543212";
  ASSERT_TRUE(send(phone).sent);
  const std::string code = last_code(phone);
  clock_.advance(5min + 1s);
  EXPECT_EQ(check(phone, code).status().code(), StatusCode::kUnauthenticated);
}

TEST_P(AccountsTest, NewCodeReplacesTheOldOne) {
  const std::string phone = "+919876543213";
  ASSERT_TRUE(send(phone).sent);
  const std::string old_code = last_code(phone);
  clock_.advance(10s);
  ASSERT_TRUE(send(phone).sent);
  const std::string new_code = last_code(phone);
  if (old_code != new_code) {
    EXPECT_EQ(check(phone, old_code).status().code(), StatusCode::kUnauthenticated);
  }
  EXPECT_TRUE(check(phone, new_code).ok());
}

TEST_P(AccountsTest, PerNumberLimits) {
  const std::string phone = "+919876543214";
  int client = 0;
  auto from_new_client = [&] { return "10.1.0." + std::to_string(++client); };
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(send(phone, from_new_client()).sent) << i;
  OtpSendResult limited = send(phone, from_new_client());
  EXPECT_FALSE(limited.sent);
  EXPECT_EQ(limited.limit, "phone_15m");
  EXPECT_GT(limited.retry_after_s, 0);
  EXPECT_LE(limited.retry_after_s, 15 * 60);
  EXPECT_EQ(messages_to(phone), 3u);  // nothing sent past the limit
  // Ten a day: three per 15 minutes until the daily cap.
  int sent = 3;
  for (int window = 0; window < 4 && sent < 10; ++window) {
    clock_.advance(15min + 1s);
    for (int i = 0; i < 3 && sent < 10; ++i, ++sent) {
      ASSERT_TRUE(send(phone, from_new_client()).sent) << sent;
    }
  }
  clock_.advance(15min + 1s);
  limited = send(phone, from_new_client());
  EXPECT_FALSE(limited.sent);
  EXPECT_EQ(limited.limit, "phone_day");
  EXPECT_GT(limited.retry_after_s, 15 * 60);
  EXPECT_EQ(counter("cloud_auth_otp_limited_total{limit=\"phone_day\"}"), 1u);
  clock_.advance(24h);
  EXPECT_TRUE(send(phone, from_new_client()).sent);
}

TEST_P(AccountsTest, PrefixLimitTripsOnAdjacentNumbers) {
  make_otp(OtpOptions{.secret = kSecret, .per_prefix_hour = 5});
  // Many numbers sharing their first 8 digits, each from its own address.
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(send("+9198765000" + std::to_string(10 + i), "10.2.0." + std::to_string(i)).sent);
  }
  const OtpSendResult limited = send("+919876500099", "10.2.1.1");
  EXPECT_FALSE(limited.sent);
  EXPECT_EQ(limited.limit, "prefix_hour");
  EXPECT_EQ(messages_to("+919876500099"), 0u);
  // Another prefix is untouched.
  EXPECT_TRUE(send("+919912300099", "10.2.1.2").sent);
}

TEST_P(AccountsTest, ClientAndGlobalLimits) {
  make_otp(OtpOptions{.secret = kSecret, .per_client_15m = 2, .global_per_day = 4});
  EXPECT_TRUE(send("+919000000001", "10.3.0.1").sent);
  EXPECT_TRUE(send("+919100000001", "10.3.0.1").sent);
  OtpSendResult limited = send("+919200000001", "10.3.0.1");
  EXPECT_EQ(limited.limit, "client_15m");
  EXPECT_TRUE(send("+919300000001", "10.3.0.2").sent);
  EXPECT_TRUE(send("+919400000001", "10.3.0.3").sent);
  limited = send("+919500000001", "10.3.0.4");
  EXPECT_FALSE(limited.sent);
  EXPECT_EQ(limited.limit, "global_day");
}

TEST_P(AccountsTest, SameAnswerWhetherTheNumberHasAnAccount) {
  const std::string known = "+919876543215", unknown = "+919876543216";
  ASSERT_TRUE(send(known).sent);
  ASSERT_TRUE(check(known, last_code(known)).ok());
  clock_.advance(1min);
  const OtpSendResult a = send(known, "10.4.0.1");
  const OtpSendResult b = send(unknown, "10.4.0.2");
  EXPECT_EQ(a.sent, b.sent);
  EXPECT_EQ(a.expires_in_s, b.expires_in_s);
  auto wa = check(known, wrong_code(known));
  auto wb = check(unknown, wrong_code(unknown));
  EXPECT_EQ(wa.status().code(), wb.status().code());
  EXPECT_EQ(wa.status().message(), wb.status().message());
  // A number that never asked for a code gets that same answer too.
  auto wc = check("+919876543217", "123456");
  EXPECT_EQ(wc.status().message(), wa.status().message());
}

TEST_P(AccountsTest, BadInputIsRefusedNamingTheFieldAndChangesNothing) {
  for (const std::string bad :
       {"", "9876543210", "+91 98765 43210", "+0919876543210", "+91987", "+9198765432101234567",
        "+91abcdefghij", "+449876543210" /* blocked country */}) {
    auto r = otp_->send(bad, "10.5.0.1");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(r.status().field(), "phone") << bad;
    EXPECT_EQ(messages_to(bad), 0u);
  }
  EXPECT_EQ(counter("cloud_auth_bad_requests_total{field=\"phone\"}"), 8u);
  for (const std::string bad : {"", "12345", "1234567", "12a456"}) {
    auto r = check("+919876543218", bad);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(r.status().field(), "code") << bad;
  }
  // Nothing was counted against the client by the refused sends.
  make_otp(OtpOptions{.secret = kSecret, .per_client_15m = 1});
  EXPECT_TRUE(send("+919876543218", "10.5.0.1").sent);
  // Allowed country codes are configurable.
  make_otp(OtpOptions{.allowed_country_codes = {"44"}, .secret = kSecret});
  EXPECT_TRUE(send("+447700900123", "10.5.0.9").sent);
  EXPECT_EQ(otp_->send("+919876543218", "10.5.0.9").status().field(), "phone");
}

TEST_P(AccountsTest, ServiceRefusesWeakOptions) {
  EXPECT_EQ(OtpService::create(OtpOptions{.secret = "short"}, *store_, *sms_, clock_, log::Logger(),
                               metrics_)
                .status()
                .field(),
            "secret");
  EXPECT_EQ(OtpService::create(OtpOptions{.allowed_country_codes = {"+91"}, .secret = kSecret},
                               *store_, *sms_, clock_, log::Logger(), metrics_)
                .status()
                .field(),
            "allowed_country_codes");
}

TEST_P(AccountsTest, TheSandboxKeepsOneMessagePerIdempotencyKey) {
  const std::string phone = "+919812300001";
  SandboxSmsProvider sandbox(*store_, clock_);
  ASSERT_TRUE(sandbox.send(phone, "Your order was packed.", "ord-1:4:sms:c1").is_ok());
  // Sent again after a crash, with the same key: dropped, not an error.
  ASSERT_TRUE(sandbox.send(phone, "Your order was packed.", "ord-1:4:sms:c1").is_ok());
  ASSERT_TRUE(sandbox.send(phone, "Your order is on its way.", "ord-1:5:sms:c1").is_ok());
  // Without a key (sign-in codes) every message is kept.
  ASSERT_TRUE(sandbox.send(phone, "Your code is 1").is_ok());
  ASSERT_TRUE(sandbox.send(phone, "Your code is 1").is_ok());
  auto messages = store_->sandbox_sms(phone, 100);
  ASSERT_TRUE(messages.ok()) << messages.status().to_string();
  EXPECT_EQ(messages->size(), 4u);
  std::size_t packed = 0;
  for (const auto& m : *messages) packed += m.body == "Your order was packed." ? 1 : 0;
  EXPECT_EQ(packed, 1u);
}

TEST_P(AccountsTest, SavedAddressesAreTheCustomersOwnAndCapped) {
  const SavedAddress home{.address_id = "home",
                          .label = "Home",
                          .line = "Flat 4B, near the temple",
                          .lat = 12.9716,
                          .lon = 77.5946,
                          .geohash = "tdr1vzc9e",
                          .updated_at_ms = 1};
  ASSERT_TRUE(*store_->put_address("c1", home));
  // Replacing keeps one row; another customer's list is apart.
  SavedAddress moved = home;
  moved.line = "Flat 5C";
  moved.updated_at_ms = 2;
  ASSERT_TRUE(*store_->put_address("c1", moved));
  auto mine = store_->addresses("c1");
  ASSERT_TRUE(mine.ok()) << mine.status().to_string();
  ASSERT_EQ(mine->size(), 1u);
  EXPECT_EQ((*mine)[0].line, "Flat 5C");
  EXPECT_DOUBLE_EQ((*mine)[0].lat, 12.9716);
  EXPECT_EQ((*mine)[0].geohash, "tdr1vzc9e");
  EXPECT_TRUE(store_->addresses("c2")->empty());
  EXPECT_FALSE(*store_->delete_address("c2", "home"));  // not theirs: nothing gone

  // The cap counts new addresses only: the 21st is refused, replacing one is not.
  for (int i = 1; i < kMaxSavedAddresses; ++i) {
    SavedAddress a = home;
    a.address_id = "a" + std::to_string(i);
    ASSERT_TRUE(*store_->put_address("c1", a)) << i;
  }
  SavedAddress extra = home;
  extra.address_id = "extra";
  EXPECT_FALSE(*store_->put_address("c1", extra));
  EXPECT_TRUE(*store_->put_address("c1", moved));
  EXPECT_EQ(store_->addresses("c1")->size(), static_cast<std::size_t>(kMaxSavedAddresses));
  EXPECT_TRUE(*store_->delete_address("c1", "home"));
  EXPECT_FALSE(*store_->delete_address("c1", "home"));
  EXPECT_TRUE(*store_->put_address("c1", extra));
}

TEST_P(AccountsTest, PurgeDropsOnlyWhatCanNoLongerMatter) {
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  ASSERT_TRUE(send("+919844444444").sent);
  ASSERT_OK(store_->add_refresh(std::string(64, 'a'), "f1", "c_1", now, now + 60'000));
  ASSERT_OK(store_->add_refresh(std::string(64, 'b'), "f1", "c_1", now, now + 86'400'000));
  // Nothing has expired yet.
  EXPECT_EQ(store_->purge(now).value_or(-1), 0);
  clock_.advance(6min);  // the code and the first refresh token have expired
  const std::int64_t later = to_unix_ms(clock_.wall_now());
  EXPECT_EQ(store_->purge(later).value_or(-1), 2);
  EXPECT_EQ(VALUE_OR_DIE(store_->rotate_refresh(std::string(64, 'a'), std::string(64, 'c'), later,
                                                later + 1000))
                .outcome,
            RotateOutcome::kUnknown);
  EXPECT_EQ(messages_to("+919844444444"), 1u);
  // A day on, the sends and sandbox messages go too; the number may be sent codes again.
  clock_.advance(24h);
  EXPECT_GT(store_->purge(to_unix_ms(clock_.wall_now())).value_or(-1), 0);
  EXPECT_EQ(messages_to("+919844444444"), 0u);
}

// Deleting a customer removes their refresh tokens, addresses and the phone's link, and
// records the id so that access tokens already issued to it are refused; the record is
// kept for longer than any accepted access token lives, then purged.
TEST_P(AccountsTest, DeletedCustomerIsRecordedUntilNoTokenCanOutliveIt) {
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  ASSERT_TRUE(send("+919855555555").sent);
  const std::string customer = VALUE_OR_DIE(check("+919855555555", last_code("+919855555555")));
  ASSERT_FALSE(customer.empty());
  ASSERT_OK(store_->add_refresh(std::string(64, 'd'), "f9", customer, now, now + 86'400'000));
  ASSERT_TRUE(*store_->put_address(customer, SavedAddress{.address_id = "home",
                                                          .label = "Home",
                                                          .lat = 12.97,
                                                          .lon = 77.59,
                                                          .geohash = "tdr1vzc9e",
                                                          .updated_at_ms = now}));
  EXPECT_FALSE(VALUE_OR_DIE(store_->customer_deleted(customer)));

  EXPECT_TRUE(VALUE_OR_DIE(store_->delete_customer(customer, now)));
  EXPECT_TRUE(VALUE_OR_DIE(store_->customer_deleted(customer)));
  EXPECT_FALSE(VALUE_OR_DIE(store_->customer_deleted("c_other")));
  EXPECT_EQ(VALUE_OR_DIE(
                store_->rotate_refresh(std::string(64, 'd'), std::string(64, 'e'), now, now + 1000))
                .outcome,
            RotateOutcome::kUnknown);
  EXPECT_TRUE(store_->addresses(customer)->empty());
  EXPECT_EQ(store_->phone_of(customer).status().code(), StatusCode::kNotFound);
  // A second deletion (another instance, a retry) finds no account but keeps the record.
  EXPECT_FALSE(VALUE_OR_DIE(store_->delete_customer(customer, now + 1)));
  EXPECT_TRUE(VALUE_OR_DIE(store_->customer_deleted(customer)));
  // An id that never signed in here (an external issuer's subject) is recorded too.
  EXPECT_FALSE(VALUE_OR_DIE(store_->delete_customer("ext-7", now)));
  EXPECT_TRUE(VALUE_OR_DIE(store_->customer_deleted("ext-7")));

  // A day on, every token issued before the deletion has expired, yet the record stays
  // as long as a token the verifier accepts could live; then purge drops it.
  const std::int64_t day = 24 * 3600 * 1000;
  ASSERT_TRUE(store_->purge(now + day).ok());
  EXPECT_TRUE(VALUE_OR_DIE(store_->customer_deleted(customer)));
  ASSERT_TRUE(store_->purge(now + kDeletedCustomerKeepMs + 1).ok());
  EXPECT_FALSE(VALUE_OR_DIE(store_->customer_deleted(customer)));
  EXPECT_FALSE(VALUE_OR_DIE(store_->customer_deleted("ext-7")));
}

// What the per-request check costs on each backend (printed; bounded loosely, as the
// machine may be shared).
TEST_P(AccountsTest, DeletedCheckIsOnePrimaryKeyRead) {
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(store_->delete_customer("gone-" + std::to_string(i), 1).ok());
  }
  ASSERT_TRUE(store_->customer_deleted("warm-up").ok());
  constexpr int kChecks = 2000;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < kChecks; ++i) {
    ASSERT_EQ(VALUE_OR_DIE(store_->customer_deleted(i % 2 ? "gone-" + std::to_string(i % 200)
                                                          : "live-" + std::to_string(i))),
              i % 2 == 1);
  }
  const double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - started)
          .count() /
      kChecks;
  std::printf("customer_deleted on %s: %.1f us per check\n", GetParam().c_str(), us);
  EXPECT_LT(us, 5000.0);
}

// A check connection the server dropped fails that one check (the gate answers 503) and
// is replaced on the next.
TEST_P(AccountsTest, DeletedCheckReconnectsAfterTheServerDroppedItsConnection) {
  if (GetParam() != "postgres") GTEST_SKIP() << "PostgreSQL's own connections";
  ASSERT_TRUE(store_->delete_customer("c_gone", 1).ok());
  ASSERT_TRUE(VALUE_OR_DIE(store_->customer_deleted("c_gone")));
  ASSERT_OK(server()->execute("postgres",
                              "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                              "datname = '" +
                                  pg_database_ + "'"));
  EXPECT_EQ(store_->customer_deleted("c_gone").status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(VALUE_OR_DIE(store_->customer_deleted("c_gone")));
  EXPECT_FALSE(VALUE_OR_DIE(store_->customer_deleted("c_live")));
}

// The gate in front of the JWT authenticator: a deleted customer's token is refused 401
// and counted; other customers and other roles pass.
TEST_P(AccountsTest, GateRefusesTokensOfDeletedCustomersOnly) {
  class Fixed final : public http::Authenticator {
   public:
    StatusOr<http::Principal> authenticate(const http::Request& r) const override {
      const std::string who = r.header("X-Who");
      if (who.empty()) return Status(StatusCode::kUnauthenticated, "no credentials");
      const std::size_t colon = who.find(':');
      return http::Principal{who.substr(colon + 1), who.substr(0, colon)};
    }
  } inner;
  const DeletedAccountGate gate(inner, *store_, clock_, metrics_);
  auto as = [&](const std::string& who) {
    http::Request r;
    if (!who.empty()) r.headers["X-Who"] = who;
    return gate.authenticate(r);
  };
  ASSERT_TRUE(store_->delete_customer("c_gone", to_unix_ms(clock_.wall_now())).ok());
  EXPECT_EQ(VALUE_OR_DIE(as("customer:c_live")).subject, "c_live");
  const StatusOr<http::Principal> refused = as("customer:c_gone");
  EXPECT_EQ(refused.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(refused.status().message().find("deleted"), std::string::npos);
  // An admin token whose name happens to equal a deleted id is not a customer's.
  EXPECT_EQ(VALUE_OR_DIE(as("admin:c_gone")).role, "admin");
  // The inner refusal passes unchanged.
  EXPECT_EQ(as("").status().message(), "no credentials");
  EXPECT_EQ(counter("cloud_auth_customer_refused_total{reason=\"account_deleted\"}"), 1u);
  EXPECT_NE(metrics_.render().find("cloud_auth_deleted_check_seconds_count 2"), std::string::npos);
}

// A store whose every call fails, as when the database is unreachable.
class UnreachableStore final : public AccountStore {
 public:
  Status migrate() override { return down(); }
  StatusOr<SendDecision> record_send(const std::vector<SendLimit>&, std::int64_t) override {
    return down();
  }
  Status put_code(const std::string&, const StoredCode&) override { return down(); }
  StatusOr<std::optional<StoredCode>> take_attempt(const std::string&, std::int64_t,
                                                   std::int64_t) override {
    return down();
  }
  StatusOr<bool> consume_code(const std::string&, const std::string&) override { return down(); }
  StatusOr<std::string> customer_for_phone(const std::string&, const std::string&,
                                           std::int64_t) override {
    return down();
  }
  StatusOr<std::string> phone_of(const std::string&) override { return down(); }
  Status add_refresh(const std::string&, const std::string&, const std::string&, std::int64_t,
                     std::int64_t) override {
    return down();
  }
  StatusOr<RotateResult> rotate_refresh(const std::string&, const std::string&, std::int64_t,
                                        std::int64_t) override {
    return down();
  }
  StatusOr<bool> revoke_family(const std::string&) override { return down(); }
  StatusOr<std::int64_t> purge(std::int64_t) override { return down(); }
  Status add_sandbox_sms(const SandboxSms&) override { return down(); }
  StatusOr<std::vector<SavedAddress>> addresses(const std::string&) override { return down(); }
  StatusOr<bool> put_address(const std::string&, const SavedAddress&) override { return down(); }
  StatusOr<bool> delete_address(const std::string&, const std::string&) override { return down(); }
  StatusOr<bool> delete_customer(const std::string&, std::int64_t) override { return down(); }
  StatusOr<bool> customer_deleted(const std::string&) override { return down(); }
  StatusOr<std::vector<SandboxSms>> sandbox_sms(const std::string&, std::int64_t) override {
    return down();
  }

 private:
  static Status down() { return unavailable("accounts database: connection refused"); }
};

// When the store cannot say whether the account was deleted, a customer token is refused
// with 503 (unavailable) rather than let through, and counted; other roles never ask.
TEST(DeletedAccountGateTest, StoreThatCannotAnswerRefusesCustomersOnly) {
  class Customer final : public http::Authenticator {
   public:
    StatusOr<http::Principal> authenticate(const http::Request& r) const override {
      return http::Principal{"c_1", r.header("X-Role")};
    }
  } inner;
  UnreachableStore store;
  FakeClock clock{WallTime(std::chrono::milliseconds(1'795'000'000'000))};
  metrics::Registry metrics;
  const DeletedAccountGate gate(inner, store, clock, metrics);
  http::Request request;
  request.headers["X-Role"] = "customer";
  EXPECT_EQ(gate.authenticate(request).status().code(), StatusCode::kUnavailable);
  request.headers["X-Role"] = "store";
  EXPECT_TRUE(gate.authenticate(request).ok());
  EXPECT_NE(metrics.render().find("cloud_auth_customer_refused_total{reason=\"check_failed\"} 1"),
            std::string::npos)
      << metrics.render();
}

class TokensTest : public AccountsTest {
 protected:
  std::unique_ptr<TokenService> open_tokens() {
    auto t = TokenService::open(TokenOptions{.key_file = dir_->file("jwt.pem").string(),
                                             .issuer = "https://shopeasy.test",
                                             .audience = "shopeasy-cloud"},
                                *store_, clock_, log::Logger(), metrics_);
    EXPECT_TRUE(t.ok()) << t.status().to_string();
    return t.ok() ? std::move(*t) : nullptr;
  }
  security::JwtVerifier verifier(const TokenService& t) {
    auto v = security::JwtVerifier::create(
        {.issuer = "https://shopeasy.test", .audience = "shopeasy-cloud", .leeway = 0s},
        {t.public_key()}, clock_);
    EXPECT_TRUE(v.ok());
    return std::move(*v);
  }
};

TEST_P(TokensTest, AccessTokenVerifiesAndTamperedOrExpiredDoNot) {
  auto tokens = open_tokens();
  ASSERT_NE(tokens, nullptr);
  auto pair = tokens->issue("c_1");
  ASSERT_TRUE(pair.ok());
  EXPECT_EQ(pair->expires_in_s, 900);
  const security::JwtVerifier v = verifier(*tokens);
  auto claims = v.verify(pair->access_token);
  ASSERT_TRUE(claims.ok()) << claims.status().to_string();
  EXPECT_EQ(claims->subject, "c_1");
  EXPECT_EQ(claims->payload["role"], "customer");
  // A changed claim breaks the signature.
  std::string tampered = pair->access_token;
  const std::size_t dot = tampered.find('.');
  tampered[dot + 5] = tampered[dot + 5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(v.verify(tampered).status().code(), StatusCode::kUnauthenticated);
  clock_.advance(15min + 1s);
  EXPECT_EQ(v.verify(pair->access_token).status().code(), StatusCode::kUnauthenticated);
}

TEST_P(TokensTest, RefreshRotatesAndReuseRevokesTheFamily) {
  auto tokens = open_tokens();
  ASSERT_NE(tokens, nullptr);
  auto first = tokens->issue("c_2");
  ASSERT_TRUE(first.ok());
  clock_.advance(1min);
  auto second = tokens->refresh(first->refresh_token);
  ASSERT_TRUE(second.ok()) << second.status().to_string();
  EXPECT_NE(second->refresh_token, first->refresh_token);
  EXPECT_EQ(second->customer_id, "c_2");
  auto third = tokens->refresh(second->refresh_token);
  ASSERT_TRUE(third.ok());
  // The first token again: someone copied it. The whole family goes.
  EXPECT_EQ(tokens->refresh(first->refresh_token).status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(tokens->refresh(third->refresh_token).status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(counter("cloud_auth_refresh_refused_total{reason=\"reused\"}"), 1u);
  EXPECT_EQ(counter("cloud_auth_refresh_refused_total{reason=\"revoked\"}"), 1u);
  // Another customer's family is untouched.
  auto other = tokens->issue("c_3");
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(tokens->refresh(other->refresh_token).ok());
}

TEST_P(TokensTest, ExpiredUnknownMalformedAndSignedOutRefreshTokens) {
  auto tokens = open_tokens();
  ASSERT_NE(tokens, nullptr);
  auto pair = tokens->issue("c_4");
  ASSERT_TRUE(pair.ok());
  EXPECT_EQ(tokens->refresh("rt_" + std::string(64, '0')).status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(tokens->refresh("nonsense").status().field(), "refresh_token");
  EXPECT_EQ(tokens->refresh("").status().code(), StatusCode::kInvalidArgument);
  auto other = tokens->issue("c_4");
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(tokens->logout(other->refresh_token).is_ok());
  EXPECT_EQ(tokens->refresh(other->refresh_token).status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(tokens->logout("rt_" + std::string(64, '1')).code(), StatusCode::kUnauthenticated);
  clock_.advance(std::chrono::hours(24 * 30) + 1s);
  EXPECT_EQ(tokens->refresh(pair->refresh_token).status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(counter("cloud_auth_refresh_refused_total{reason=\"expired\"}"), 1u);
}

TEST_P(TokensTest, KeyFileIsPrivateAndKept) {
  auto first = open_tokens();
  ASSERT_NE(first, nullptr);
  struct stat st {};
  ASSERT_EQ(::stat(dir_->file("jwt.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = open_tokens();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->public_key().kid, first->public_key().kid);
  EXPECT_EQ(again->jwks(), first->jwks());
  EXPECT_EQ(first->jwks()["keys"][0]["crv"], "P-256");
  // A token from the first start verifies after the restart.
  auto pair = first->issue("c_5");
  ASSERT_TRUE(pair.ok());
  EXPECT_TRUE(verifier(*again).verify(pair->access_token).ok());
  ::chmod(dir_->file("jwt.pem").c_str(), 0644);
  auto loose = TokenService::open(TokenOptions{.key_file = dir_->file("jwt.pem").string()}, *store_,
                                  clock_, log::Logger(), metrics_);
  EXPECT_EQ(loose.status().code(), StatusCode::kFailedPrecondition);
}

INSTANTIATE_TEST_SUITE_P(Backends, AccountsTest, ::testing::Values("sqlite", "postgres"));
INSTANTIATE_TEST_SUITE_P(Backends, TokensTest, ::testing::Values("sqlite", "postgres"));

}  // namespace
}  // namespace shopeasy::cloud::accounts
