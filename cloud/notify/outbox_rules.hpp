// The rules of the customer notification outbox, kept free of I/O so they can be tested
// with a fake clock and a seeded generator: which answers are retried, how long to wait
// before the next attempt (exponential backoff with full jitter), when a row gives up,
// what a customer's preferences allow, and the shape of a webhook delivery.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloud/storage/cloud_store.hpp"
#include "common/status/status.hpp"

namespace shopeasy::cloud::notify {

inline constexpr std::string_view kSms = "sms";
inline constexpr std::string_view kWebhook = "webhook";
// Every channel a customer can switch, and every order change they can hear about.
const std::vector<std::string>& channel_names();
const std::vector<std::string>& event_kinds();

struct RetryPolicy {
  std::int64_t base_ms = 1000;           // the first retry waits up to this
  std::int64_t cap_ms = 60 * 60 * 1000;  // no wait is longer than this
  std::int64_t max_age_ms =
      72LL * 3600 * 1000;  // a row still failing this long after it was queued is dead
};

// What one delivery attempt came to.
enum class Attempt {
  kDelivered,  // the receiver took it
  kPermanent,  // the receiver refused it for good (a 4xx other than 408 and 429)
  kTransient,  // try again later (5xx, 408, 429, timeout, connection error)
};

// An HTTP answer's status code as an attempt's result.
Attempt classify_http(int status);
// A transport or provider failure as an attempt's result: kInvalidArgument (the
// provider refused the request itself) is permanent, anything else transient.
Attempt classify_status(const Status& status);

// The wait before retry number `attempts` (1 = the first retry): uniform in
// [0, min(cap, base * 2^(attempts-1))].
std::int64_t backoff_ms(std::int64_t attempts, const RetryPolicy& policy, std::mt19937_64& rng);

// The row's new state after an attempt at now_ms; `error` says what went wrong.
storage::NotificationOutcome decide(const storage::NotificationRow& row, Attempt attempt,
                                    const std::string& error, std::int64_t now_ms,
                                    const RetryPolicy& policy, std::mt19937_64& rng);

// A customer's choices: every channel and event kind on unless switched off.
struct Preferences {
  std::map<std::string, bool> channels;
  std::map<std::string, bool> events;

  bool allows(std::string_view channel, std::string_view kind) const;
  nlohmann::json to_json() const;
};

Preferences default_preferences();
// A PUT body: {"channels": {"sms": false}, "events": {"packed": false}}; keys left out
// keep their default (on). kInvalidArgument naming the field for an unknown key,
// channel or event, or a value that is not a boolean.
StatusOr<Preferences> parse_preferences(const nlohmann::json& body);
// Stored preferences (already validated when saved); unknown keys are ignored.
Preferences stored_preferences(const nlohmann::json& stored);

// The JSON a webhook receiver gets for a row.
nlohmann::json webhook_payload(const storage::NotificationRow& row);
// The text of the SMS for a row.
std::string sms_text(const storage::NotificationRow& row);

}  // namespace shopeasy::cloud::notify
