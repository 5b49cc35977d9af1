// The accounts module's state: customers known by phone number, one-time sign-in codes
// (stored as keyed hashes), the sliding-window send log every OTP limit counts in,
// refresh-token families, the ids of deleted customers (whose access tokens are refused),
// and the sandbox SMS outbox. Two implementations with the same
// behaviour: SQLite (its own file beside cloud.db, so its schema versions do not mix
// with the cloud store's) and PostgreSQL (tables in the cloud's database, with their own
// migrations table), so several cloud instances share every counter. Every method is
// one transaction; the limit counting and the refresh rotation are atomic across
// instances, which is what makes the limits hold when requests are spread over them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status/status.hpp"

namespace shopeasy::cloud::accounts {

// The longest window a limit may have: sends older than this are deleted whatever keys
// a call counts, so every limit sharing the table must fit in it.
inline constexpr std::int64_t kMaxLimitWindowMs = 24 * 60 * 60 * 1000;

// How long the id of a deleted customer is kept to refuse their access tokens: longer
// than any access token the cloud accepts lives (its own last 15 minutes; the verifier
// refuses any whose lifetime exceeds 24 hours, plus at most 10 minutes of leeway).
inline constexpr std::int64_t kDeletedCustomerKeepMs = 2 * 24 * 60 * 60 * 1000;

// One sliding-window limit: at most `max` recorded sends under `key` within `window_ms`.
struct SendLimit {
  std::string kind{};  // what the caller reports when it trips ("phone_15m", "prefix", ...)
  std::string key{};   // what is counted ("phone:+9198...", "client:127.0.0.1", "global")
  std::int64_t window_ms = 0;
  std::int64_t max = 0;
};

// The answer of record_send: allowed (and recorded under every distinct key), or the
// first limit that is full and when a slot in it frees up.
struct SendDecision {
  bool allowed = false;
  std::string tripped_kind{};
  std::int64_t retry_after_ms = 0;
};

// A live code as stored.
struct StoredCode {
  std::string code_id{};
  std::string code_hash{};  // hex HMAC-SHA256 of the code under the server secret
  std::int64_t expires_ms = 0;
  std::int64_t attempts = 0;  // checks made, this one included when returned by take_attempt
};

enum class RotateOutcome { kRotated, kUnknown, kExpired, kRevoked, kReused };

struct RotateResult {
  RotateOutcome outcome = RotateOutcome::kUnknown;
  std::string customer_id{};  // set for kRotated (and kReused: whose family was revoked)
  std::string family_id{};
};

struct SandboxSms {
  std::string phone{};
  std::string body{};
  std::int64_t at_ms = 0;
  std::string ref{};  // the sender's idempotency key; a second message under it is dropped
};

// A place a customer saved to deliver to.
struct SavedAddress {
  std::string address_id{};  // the customer's own name for it: [A-Za-z0-9_-]{1,32}
  std::string label{};       // "Home", "Office"
  std::string line{};        // free text for the runner: flat, floor, landmark
  double lat = 0;
  double lon = 0;
  std::string geohash{};  // of (lat, lon), precision 9
  std::int64_t updated_at_ms = 0;
};

// Most addresses one customer keeps.
inline constexpr std::int64_t kMaxSavedAddresses = 20;

class AccountStore {
 public:
  virtual ~AccountStore() = default;

  // Creates or upgrades the tables. Safe to run from several instances at once.
  virtual Status migrate() = 0;

  // Counts, for every limit, the sends under its key within its window ending at now_ms;
  // if one is full answers which (the first in the given order) and the wait until its
  // oldest send leaves the window, recording nothing. Otherwise records one send per
  // distinct key at now_ms. Sends older than kMaxLimitWindowMs are deleted on the way;
  // kInvalidArgument for a window longer than that.
  virtual StatusOr<SendDecision> record_send(const std::vector<SendLimit>& limits,
                                             std::int64_t now_ms) = 0;

  // Makes `code` the one live code of the phone number (any earlier one is gone).
  virtual Status put_code(const std::string& phone, const StoredCode& code) = 0;

  // Counts one check against the phone's live code and returns it (attempts includes
  // this check), or nullopt when the number has no code, it expired at now_ms, or it
  // already had max_attempts checks (the code is then deleted).
  virtual StatusOr<std::optional<StoredCode>> take_attempt(const std::string& phone,
                                                           std::int64_t now_ms,
                                                           std::int64_t max_attempts) = 0;

  // Deletes the code if it is still the live one; false when another check consumed it
  // first (so a code signs in once even when two checks race).
  virtual StatusOr<bool> consume_code(const std::string& phone, const std::string& code_id) = 0;

  // The customer id of the phone number, created (with `new_id`) on first sign-in.
  virtual StatusOr<std::string> customer_for_phone(const std::string& phone,
                                                   const std::string& new_id,
                                                   std::int64_t now_ms) = 0;
  // The phone number of a customer; kNotFound if there is none.
  virtual StatusOr<std::string> phone_of(const std::string& customer_id) = 0;

  // Stores a refresh token (its SHA-256 hex) as a member of `family_id`.
  virtual Status add_refresh(const std::string& token_hash, const std::string& family_id,
                             const std::string& customer_id, std::int64_t now_ms,
                             std::int64_t expires_ms) = 0;
  // Uses a refresh token: a live, unused one is marked used and `new_hash` joins its
  // family (kRotated); a used one revokes its whole family (kReused); revoked, expired
  // and unknown ones change nothing.
  virtual StatusOr<RotateResult> rotate_refresh(const std::string& token_hash,
                                                const std::string& new_hash, std::int64_t now_ms,
                                                std::int64_t new_expires_ms) = 0;
  // Revokes the family of the token (sign-out); false if the token is unknown.
  virtual StatusOr<bool> revoke_family(const std::string& token_hash) = 0;

  // Deletes what can no longer matter at now_ms: expired codes and refresh tokens (an
  // expired token is refused as unknown afterwards), sends and sandbox messages older
  // than kMaxLimitWindowMs, deleted customers' ids older than kDeletedCustomerKeepMs.
  // Returns the rows deleted.
  virtual StatusOr<std::int64_t> purge(std::int64_t now_ms) = 0;

  // Keeps a message; one whose non-empty ref was already kept is dropped (not an error).
  virtual Status add_sandbox_sms(const SandboxSms& sms) = 0;

  // The customer's saved addresses, by address_id.
  virtual StatusOr<std::vector<SavedAddress>> addresses(const std::string& customer_id) = 0;
  // Creates or replaces one. false (nothing stored) when it is new and the customer
  // already has kMaxSavedAddresses.
  virtual StatusOr<bool> put_address(const std::string& customer_id,
                                     const SavedAddress& address) = 0;
  // false when the customer has no address by that id.
  virtual StatusOr<bool> delete_address(const std::string& customer_id,
                                        const std::string& address_id) = 0;
  // Deletes a customer's account in one transaction: the phone number's link to the
  // customer id (signing in again with it makes a new customer), live codes, every
  // refresh token (so no new access token is issued) and saved addresses, and records
  // the id as deleted at now_ms (customer_deleted), so access tokens already issued to
  // it are refused by every instance sharing the store. false when there was no such
  // customer (already deleted, or signed in elsewhere); the id is recorded all the same.
  virtual StatusOr<bool> delete_customer(const std::string& customer_id, std::int64_t now_ms) = 0;
  // Whether delete_customer recorded this id within the last kDeletedCustomerKeepMs. One
  // primary-key read: it runs on every request a customer token authenticates.
  virtual StatusOr<bool> customer_deleted(const std::string& customer_id) = 0;
  // The newest `limit` messages to `phone`, newest first.
  virtual StatusOr<std::vector<SandboxSms>> sandbox_sms(const std::string& phone,
                                                        std::int64_t limit) = 0;
};

StatusOr<std::unique_ptr<AccountStore>> open_sqlite_account_store(const std::string& path);
StatusOr<std::unique_ptr<AccountStore>> open_postgres_account_store(const std::string& dsn);

}  // namespace shopeasy::cloud::accounts
