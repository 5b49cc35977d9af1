// Phone sign-in with one-time codes. send() validates the number, counts the send
// against every limit in the database (per number over 15 minutes and a day, per client
// address, per number prefix, a global daily budget) and, when all allow it, stores a
// keyed hash of a fresh 6-digit code as the number's one live code and hands the code
// to the SMS provider. verify() spends one of the code's checks and, on a match,
// consumes the code and returns the customer (created on first sign-in). Neither tells
// whether the number already has an account: a send always looks the same, and every
// failed check gets the same answer whatever the reason (no code, expired, used up,
// wrong). Thread-safe; the limits hold across instances because they live in the
// database.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cloud/accounts/account_store.hpp"
#include "cloud/accounts/sms.hpp"
#include "common/clock/clock.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/status/status.hpp"

namespace shopeasy::cloud::accounts {

struct OtpOptions {
  // Country calling codes (digits, no '+') numbers may carry.
  std::vector<std::string> allowed_country_codes = {"91"};
  // Keys the code hashes (HMAC-SHA256); at least 32 bytes. Every instance on one
  // database needs the same secret.
  std::string secret{};
  std::int64_t code_ttl_ms = 5 * 60 * 1000;
  std::int64_t max_checks_per_code = 5;
  std::int64_t per_phone_15m = 3;
  std::int64_t per_phone_day = 10;
  std::int64_t per_client_15m = 10;
  std::int64_t per_client_day = 50;
  // Numbers sharing their first 8 digits (after '+'): SMS pumping walks adjacent ones.
  std::int64_t per_prefix_hour = 20;
  std::int64_t global_per_day = 10000;
  // Code checks one client address may make within 15 minutes, whatever the numbers:
  // without it one address could spend the 5 checks of every live code.
  std::int64_t verify_per_client_15m = 30;
};

// A phone number in E.164 ("+" and 8 to 15 digits, no leading zero) with an allowed
// country code, or kInvalidArgument naming `field`.
Status check_phone(const std::string& phone, const std::vector<std::string>& allowed,
                   const std::string& field = "phone");

// What verify() did: signed a customer in, or refused by the client's check budget.
struct OtpVerifyResult {
  std::string customer_id{};       // set when signed in
  std::string limit{};             // the limit that refused the check (nothing spent)
  std::int64_t retry_after_s = 0;  // when a check may be made again
};

// What send() did: sent, or refused by a limit (nothing sent, nothing stored).
struct OtpSendResult {
  bool sent = false;
  std::string limit{};             // the limit that refused it
  std::int64_t retry_after_s = 0;  // when a send may succeed again
  std::int64_t expires_in_s = 0;   // the code's lifetime when sent
};

class OtpService {
 public:
  // Errors: kInvalidArgument naming the option for a short secret or no country code.
  static StatusOr<std::unique_ptr<OtpService>> create(OtpOptions options, AccountStore& store,
                                                      SmsProvider& sms, const Clock& clock,
                                                      log::Logger logger,
                                                      metrics::Registry& metrics);

  // kInvalidArgument naming "phone" for a malformed or blocked number; kUnavailable when
  // the database or the SMS provider fails (the send is then still counted).
  StatusOr<OtpSendResult> send(const std::string& phone, const std::string& client);

  // The customer id the code signs in, or the limit that refused the check.
  // kInvalidArgument naming "phone" or "code" for malformed input; kUnauthenticated for
  // every refused code, with one message.
  StatusOr<OtpVerifyResult> verify(const std::string& phone, const std::string& code,
                                   const std::string& client);

  // Counts a refused request (bad body or field) under cloud_auth_bad_requests_total.
  void count_bad_request(const std::string& field);

 private:
  OtpService(OtpOptions options, AccountStore& store, SmsProvider& sms, const Clock& clock,
             log::Logger logger, metrics::Registry& metrics);
  std::string code_hash(const std::string& phone, const std::string& code_id,
                        const std::string& code) const;

  OtpOptions options_;
  AccountStore& store_;
  SmsProvider& sms_;
  const Clock& clock_;
  log::Logger logger_;
  metrics::Registry& metrics_;
  metrics::Counter& sends_;
  metrics::Counter& verified_;
  metrics::Counter& refused_;
};

}  // namespace shopeasy::cloud::accounts
