#include "cloud/accounts/otp_service.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstring>

#include "common/security/encoding.hpp"

namespace shopeasy::cloud::accounts {
namespace {

constexpr std::int64_t kMinute = 60 * 1000;
// The one answer for every refused code, so a caller learns nothing about why.
constexpr const char* kRefused = "the code is wrong, expired or used up; request a new one";

bool all_digits(const std::string& s, std::size_t from = 0) {
  return s.size() > from && std::all_of(s.begin() + static_cast<std::ptrdiff_t>(from), s.end(),
                                        [](char c) { return c >= '0' && c <= '9'; });
}

// A uniform 6-digit code: 4-byte draws from the CSPRNG, rejecting the top values that
// would make some codes likelier than others.
StatusOr<std::string> random_code() {
  constexpr std::uint32_t kLimit = 4'294'000'000u;  // a multiple of 1,000,000
  for (;;) {
    SHOPEASY_ASSIGN_OR_RETURN(std::string bytes, security::random_bytes(4));
    std::uint32_t v = 0;
    std::memcpy(&v, bytes.data(), 4);
    if (v >= kLimit) continue;
    std::string code = std::to_string(v % 1'000'000u);
    return std::string(6 - code.size(), '0') + code;
  }
}

}  // namespace

Status check_phone(const std::string& phone, const std::vector<std::string>& allowed,
                   const std::string& field) {
  if (phone.empty()) return invalid_argument("is required", field);
  if (phone.size() > 16 || phone[0] != '+' || !all_digits(phone, 1) || phone.size() < 9 ||
      phone[1] == '0') {
    return invalid_argument(
        "must be an E.164 number: '+', country code and number, 8 to 15 "
        "digits, no spaces",
        field);
  }
  for (const std::string& cc : allowed) {
    if (phone.compare(1, cc.size(), cc) == 0 && phone.size() >= cc.size() + 1 + 6) {
      return Status::ok();
    }
  }
  return invalid_argument("numbers of this country cannot sign in here", field);
}

StatusOr<std::unique_ptr<OtpService>> OtpService::create(OtpOptions options, AccountStore& store,
                                                         SmsProvider& sms, const Clock& clock,
                                                         log::Logger logger,
                                                         metrics::Registry& metrics) {
  if (options.secret.size() < 32) return invalid_argument("must have at least 32 bytes", "secret");
  if (options.allowed_country_codes.empty()) {
    return invalid_argument("needs at least one country code", "allowed_country_codes");
  }
  for (const std::string& cc : options.allowed_country_codes) {
    if (cc.empty() || cc.size() > 3 || !all_digits(cc) || cc[0] == '0') {
      return invalid_argument("'" + cc + "' is not a country calling code (1 to 3 digits)",
                              "allowed_country_codes");
    }
  }
  return std::unique_ptr<OtpService>(
      new OtpService(std::move(options), store, sms, clock, std::move(logger), metrics));
}

OtpService::OtpService(OtpOptions options, AccountStore& store, SmsProvider& sms,
                       const Clock& clock, log::Logger logger, metrics::Registry& metrics)
    : options_(std::move(options)),
      store_(store),
      sms_(sms),
      clock_(clock),
      logger_(std::move(logger)),
      metrics_(metrics),
      sends_(metrics.counter("cloud_auth_otp_sent_total", "Sign-in codes sent")),
      verified_(metrics.counter("cloud_auth_otp_verifications_total",
                                "Sign-in code checks by result", {{"result", "ok"}})),
      refused_(metrics.counter("cloud_auth_otp_verifications_total",
                               "Sign-in code checks by result", {{"result", "failed"}})) {}

void OtpService::count_bad_request(const std::string& field) {
  metrics_
      .counter("cloud_auth_bad_requests_total", "Sign-in requests refused as malformed",
               {{"field", field}})
      .inc();
}

std::string OtpService::code_hash(const std::string& phone, const std::string& code_id,
                                  const std::string& code) const {
  const std::string message = phone + '\n' + code_id + '\n' + code;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), options_.secret.data(), static_cast<int>(options_.secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len);
  return security::hex_encode(std::string_view(reinterpret_cast<const char*>(mac), len));
}

StatusOr<OtpSendResult> OtpService::send(const std::string& phone, const std::string& client) {
  if (Status st = check_phone(phone, options_.allowed_country_codes); !st.is_ok()) {
    count_bad_request("phone");
    return st;
  }
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  const std::string prefix = phone.substr(1, 8);
  const std::vector<SendLimit> limits = {
      {"phone_15m", "phone:" + phone, 15 * kMinute, options_.per_phone_15m},
      {"phone_day", "phone:" + phone, 1440 * kMinute, options_.per_phone_day},
      {"client_15m", "client:" + client, 15 * kMinute, options_.per_client_15m},
      {"client_day", "client:" + client, 1440 * kMinute, options_.per_client_day},
      {"prefix_hour", "prefix:" + prefix, 60 * kMinute, options_.per_prefix_hour},
      {"global_day", "global", 1440 * kMinute, options_.global_per_day},
  };
  SHOPEASY_ASSIGN_OR_RETURN(SendDecision decision, store_.record_send(limits, now));
  if (!decision.allowed) {
    metrics_
        .counter("cloud_auth_otp_limited_total", "Sign-in code sends refused by a limit",
                 {{"limit", decision.tripped_kind}})
        .inc();
    logger_.info("otp_limited", {{"limit", decision.tripped_kind}, {"prefix", prefix}});
    return OtpSendResult{.limit = decision.tripped_kind,
                         .retry_after_s = (decision.retry_after_ms + 999) / 1000};
  }
  SHOPEASY_ASSIGN_OR_RETURN(std::string code, random_code());
  SHOPEASY_ASSIGN_OR_RETURN(std::string code_id, security::random_hex(16));
  SHOPEASY_RETURN_IF_ERROR(
      store_.put_code(phone, StoredCode{.code_id = code_id,
                                        .code_hash = code_hash(phone, code_id, code),
                                        .expires_ms = now + options_.code_ttl_ms}));
  if (Status st = sms_.send(phone, "Your ShopEasy code is " + code + ". It expires in " +
                                       std::to_string(options_.code_ttl_ms / kMinute) +
                                       " minutes. Do not share it.");
      !st.is_ok()) {
    logger_.warn("otp_sms_failed", {{"error", st.to_string()}});
    return unavailable("the code could not be sent; try again shortly");
  }
  sends_.inc();
  return OtpSendResult{.sent = true, .expires_in_s = options_.code_ttl_ms / 1000};
}

StatusOr<OtpVerifyResult> OtpService::verify(const std::string& phone, const std::string& code,
                                             const std::string& client) {
  if (Status st = check_phone(phone, options_.allowed_country_codes); !st.is_ok()) {
    count_bad_request("phone");
    return st;
  }
  if (code.size() != 6 || !all_digits(code)) {
    count_bad_request("code");
    return invalid_argument("must be the 6 digits sent by SMS", "code");
  }
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  SHOPEASY_ASSIGN_OR_RETURN(SendDecision budget,
                            store_.record_send({{"verify_client_15m", "verify:" + client,
                                                 15 * kMinute, options_.verify_per_client_15m}},
                                               now));
  if (!budget.allowed) {
    metrics_
        .counter("cloud_auth_otp_limited_total", "Sign-in code sends refused by a limit",
                 {{"limit", budget.tripped_kind}})
        .inc();
    return OtpVerifyResult{.limit = budget.tripped_kind,
                           .retry_after_s = (budget.retry_after_ms + 999) / 1000};
  }
  SHOPEASY_ASSIGN_OR_RETURN(std::optional<StoredCode> stored,
                            store_.take_attempt(phone, now, options_.max_checks_per_code));
  bool match = false;
  if (stored) {
    const std::string candidate = code_hash(phone, stored->code_id, code);
    match = candidate.size() == stored->code_hash.size() &&
            CRYPTO_memcmp(candidate.data(), stored->code_hash.data(), candidate.size()) == 0;
  }
  if (match) {
    // A code signs in once, even when two checks of it race.
    SHOPEASY_ASSIGN_OR_RETURN(match, store_.consume_code(phone, stored->code_id));
  }
  if (!match) {
    refused_.inc();
    return Status(StatusCode::kUnauthenticated, kRefused, "code");
  }
  SHOPEASY_ASSIGN_OR_RETURN(std::string id, security::random_hex(12));
  SHOPEASY_ASSIGN_OR_RETURN(std::string customer, store_.customer_for_phone(phone, "c_" + id, now));
  verified_.inc();
  return OtpVerifyResult{.customer_id = std::move(customer)};
}

}  // namespace shopeasy::cloud::accounts
