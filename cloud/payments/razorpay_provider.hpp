// RazorpayProvider: the PaymentProvider for Razorpay's REST API. An intent is a
// Razorpay Order (POST /v1/orders, JSON, amount in paise/minor units, receipt, the
// order in notes.order_id); the customer pays it with Razorpay Checkout or by UPI
// (pay_upi: POST /v1/payments/create/upi, intent or collect flow); refunds are
// POST /v1/payments/{payment}/refund on the order's captured payment. Authentication is
// HTTP Basic with key_id:key_secret; the secret is never logged or put in an error.
//
// Idempotency. Razorpay has no idempotency header for orders, so create_intent keeps
// its own mapping (idempotency key -> Razorpay order, in a small SQLite file) and sends
// the key as the order's receipt; a key it has no record of (a crash between create and
// record) is first looked up by receipt (GET /v1/orders?receipt=) before a new order is
// made. Refunds carry Razorpay's X-Refund-Idempotency header and are recorded too.
//
// Errors as StripeProvider: transport failures, timeouts, 409, 429 and 5xx
// kUnavailable; 401 kUnauthenticated; 404 kNotFound; 400 kInvalidArgument (Razorpay's
// description); a refund beyond what is left kFailedPrecondition; a 2xx that is not the
// documented entity kInternal.
#pragma once

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cloud/payments/payment_types.hpp"
#include "cloud/payments/provider_http.hpp"
#include "common/db/database.hpp"
#include "common/log/log.hpp"
#include "common/status/status.hpp"
#include "common/sync/mutex.hpp"

namespace shopeasy::cloud::payments {

inline constexpr const char* kRazorpayApiBase = "https://api.razorpay.com";
// Razorpay's event names, translated to the PaymentEvent types.
inline constexpr const char* kRazorpayPaymentCaptured = "payment.captured";
inline constexpr const char* kRazorpayPaymentFailed = "payment.failed";
inline constexpr const char* kRazorpayRefundProcessed = "refund.processed";

struct RazorpayOptions {
  std::string api_base_url = kRazorpayApiBase;
  std::string key_id;      // rzp_live_... / rzp_test_...
  std::string key_secret;  // signs payment signatures too
  std::string db_path;     // the idempotency mapping
  // The cloud's public base URL: confirm_url is <base>/v1/payments/checkout/<order id>.
  std::string public_base_url;
  std::chrono::milliseconds timeout{10000};
  std::string ca_file;
};

// A UPI payment request for an order (Razorpay S2S UPI).
struct UpiRequest {
  std::string flow = "intent";  // "intent" (the customer's UPI app) or "collect" (by VPA)
  std::string vpa;              // collect only: the customer's UPI id
  std::string email;
  std::string contact;
  int expiry_minutes = 5;  // collect only
  std::string ip;          // the customer's, as Razorpay asks
  std::string user_agent;
};

struct UpiPayment {
  std::string payment_id;  // pay_...
  std::string link;        // intent flow: the upi://pay link to open; empty for collect
};

class RazorpayProvider final : public PaymentProvider {
 public:
  // kInvalidArgument naming the option for missing keys or a bad base URL; database
  // errors as reported.
  static StatusOr<std::unique_ptr<RazorpayProvider>> open(RazorpayOptions options,
                                                          log::Logger logger);

  StatusOr<PaymentIntent> create_intent(const std::string& order_id, std::int64_t amount_cents,
                                        const std::string& currency,
                                        const std::string& idempotency_key) override;
  StatusOr<PaymentIntent> get_intent(const std::string& id) override;
  StatusOr<PaymentIntent> refund(const std::string& intent_id, std::int64_t amount_cents,
                                 const std::string& idempotency_key) override;

  // Starts a UPI payment for the Razorpay order `intent_id`. kInvalidArgument naming
  // the field for a bad flow, VPA, e-mail or contact; kFailedPrecondition when the order
  // is already paid.
  StatusOr<UpiPayment> pay_upi(const std::string& intent_id, const UpiRequest& request);

  // Checkout's success handler hands the customer three values; they are genuine when
  // signature == hex HMAC-SHA256(key_secret, order_id + "|" + payment_id).
  bool verify_payment_signature(std::string_view order_id, std::string_view payment_id,
                                std::string_view signature) const;

  // {"provider":"razorpay","key_id","order_id","amount_cents","currency","status"}: what
  // Razorpay Checkout needs in the customer's browser.
  StatusOr<nlohmann::json> checkout(const std::string& intent_id);

  // A Razorpay webhook body as a PaymentEvent (payment.captured -> succeeded,
  // payment.failed -> failed, refund.processed -> refunded; others pass through with
  // their own name). intent_id is the Razorpay order; order_id comes from this
  // provider's records (empty for an order it did not create). `event_id` is the
  // X-Razorpay-Event-Id header; without one the event name and entity id stand in.
  StatusOr<PaymentEvent> parse_event(std::string_view body, std::string_view event_id);

 private:
  RazorpayProvider(RazorpayOptions options, std::unique_ptr<ProviderHttp> http, log::Logger logger,
                   db::Database db);
  StatusOr<nlohmann::json> call(const std::string& method, const std::string& path,
                                const nlohmann::json* body,
                                const std::map<std::string, std::string>& extra_headers);
  StatusOr<PaymentIntent> to_intent(const nlohmann::json& order, std::int64_t refunded,
                                    const std::string& what);
  // The order's payments (GET /v1/orders/{id}/payments).
  StatusOr<nlohmann::json> payments_of(const std::string& order_id);
  StatusOr<std::string> local_order_of(const std::string& rzp_order_id) EXCLUDES(db_mutex_);
  Status remember(const std::string& key, const std::string& order_id, std::int64_t amount,
                  const std::string& currency, const std::string& rzp_order_id) EXCLUDES(db_mutex_);

  RazorpayOptions options_;
  std::unique_ptr<ProviderHttp> http_;
  log::Logger logger_;
  sync::Mutex db_mutex_;  // guards db_: one connection, calls come from many threads
  db::Database db_ GUARDED_BY(db_mutex_);
  // Guards in_flight_: idempotency keys with a create or refund under way, so two
  // concurrent calls with one key cannot both create.
  sync::Mutex keys_mutex_;
  std::set<std::string> in_flight_ GUARDED_BY(keys_mutex_);
};

}  // namespace shopeasy::cloud::payments
