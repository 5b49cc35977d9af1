// Payment types shared by every provider: a payment intent (one attempt to take money
// for one order), the event a gateway reports about it, and the PaymentProvider
// interface the order flow talks to, so the built-in sandbox and a real gateway are
// interchangeable.
#pragma once

#include <cstdint>
#include <string>

#include "common/status/status.hpp"

namespace shopeasy::cloud::payments {

// Bounds every provider enforces on amounts, in minor units (cents).
inline constexpr std::int64_t kMaxAmountCents = 1'000'000'000;

// Intent statuses.
inline constexpr const char* kRequiresConfirmation = "requires_confirmation";
inline constexpr const char* kSucceeded = "succeeded";
inline constexpr const char* kFailed = "failed";
inline constexpr const char* kRefunded = "refunded";

// Event types a provider reports.
inline constexpr const char* kEventSucceeded = "payment_intent.succeeded";
inline constexpr const char* kEventFailed = "payment_intent.payment_failed";
inline constexpr const char* kEventRefunded = "charge.refunded";

struct PaymentIntent {
  std::string id;
  std::string order_id;
  std::int64_t amount_cents = 0;
  std::string currency;     // ISO 4217, upper case ("EUR")
  std::string status;       // requires_confirmation | succeeded | failed | refunded
  std::string confirm_url;  // where the customer is sent to pay
  std::int64_t created_ms = 0;
  // Refunded so far. A partly refunded intent stays "succeeded"; it becomes "refunded"
  // once all of amount_cents has been given back.
  std::int64_t refunded_cents = 0;
};

// A verified gateway event. For refunds amount_cents is the amount of that refund.
struct PaymentEvent {
  std::string event_id;
  std::string type;
  std::string intent_id;
  std::string order_id;
  std::int64_t amount_cents = 0;
  std::int64_t created_s = 0;
};

class PaymentProvider {
 public:
  virtual ~PaymentProvider() = default;

  // Creates an intent awaiting confirmation. Calling again with the same idempotency key
  // and the same arguments returns the first intent (its current state); the same key
  // with different arguments is kInvalidArgument. Amounts must be in 1..kMaxAmountCents.
  virtual StatusOr<PaymentIntent> create_intent(const std::string& order_id,
                                                std::int64_t amount_cents,
                                                const std::string& currency,
                                                const std::string& idempotency_key) = 0;
  // kNotFound for an unknown id.
  virtual StatusOr<PaymentIntent> get_intent(const std::string& id) = 0;
  // Gives back part or all of a succeeded intent; never more than is still captured
  // (kFailedPrecondition). Idempotent by key like create_intent.
  virtual StatusOr<PaymentIntent> refund(const std::string& intent_id, std::int64_t amount_cents,
                                         const std::string& idempotency_key) = 0;
};

}  // namespace shopeasy::cloud::payments
