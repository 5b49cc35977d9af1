// StripeProvider: the PaymentProvider for Stripe's REST API. An intent is a Stripe
// PaymentIntent (POST /v1/payment_intents, form-encoded, amount in minor units,
// lower-case currency, the order in metadata[order_id]); the customer confirms it in
// the browser with Stripe.js using its client_secret (GET /v1/payments/checkout/{id}
// on the cloud hands that out); refunds are POST /v1/refunds against the intent. Every
// mutating call carries Stripe's Idempotency-Key header, so a retry after a lost answer
// returns the first result. Authentication is the secret key as a Bearer token; it is
// never logged or put in an error.
//
// Errors: transport failures, timeouts, 409 (a request with the same key in flight),
// 429 and 5xx are kUnavailable (retry); 401 kUnauthenticated; 404 kNotFound; an
// idempotency key reused with other parameters kInvalidArgument; a refund beyond what
// is left kFailedPrecondition; a 2xx whose body is not the documented object kInternal.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cloud/payments/payment_types.hpp"
#include "cloud/payments/provider_http.hpp"
#include "common/log/log.hpp"
#include "common/status/status.hpp"

namespace shopeasy::cloud::payments {

inline constexpr const char* kStripeApiBase = "https://api.stripe.com";

struct StripeOptions {
  std::string api_base_url = kStripeApiBase;
  std::string secret_key;  // sk_... or rk_...
  // The cloud's public base URL: confirm_url is <base>/v1/payments/checkout/<intent id>.
  std::string public_base_url;
  std::chrono::milliseconds timeout{10000};
  std::string ca_file;
};

class StripeProvider final : public PaymentProvider {
 public:
  // kInvalidArgument naming the option for a missing key or a bad base URL.
  static StatusOr<std::unique_ptr<StripeProvider>> create(StripeOptions options,
                                                          log::Logger logger);

  StatusOr<PaymentIntent> create_intent(const std::string& order_id, std::int64_t amount_cents,
                                        const std::string& currency,
                                        const std::string& idempotency_key) override;
  StatusOr<PaymentIntent> get_intent(const std::string& id) override;
  StatusOr<PaymentIntent> refund(const std::string& intent_id, std::int64_t amount_cents,
                                 const std::string& idempotency_key) override;

  // What the customer's browser needs to confirm the intent with Stripe.js:
  // {"provider":"stripe","intent_id","client_secret","amount_cents","currency","status"}.
  StatusOr<nlohmann::json> checkout(const std::string& intent_id);

 private:
  StripeProvider(StripeOptions options, std::unique_ptr<ProviderHttp> http, log::Logger logger);
  // One API call; non-2xx answers become the Status described above.
  StatusOr<nlohmann::json> call(const std::string& method, const std::string& path,
                                const std::string& form, const std::string& idempotency_key);
  StatusOr<PaymentIntent> to_intent(const nlohmann::json& pi, const std::string& what) const;

  StripeOptions options_;
  std::unique_ptr<ProviderHttp> http_;
  log::Logger logger_;
};

// A Stripe event body as a PaymentEvent: payment_intent.succeeded and
// payment_intent.payment_failed (data.object is the PaymentIntent; the order from
// metadata.order_id) and charge.refunded (data.object is the Charge; amount is what it
// has refunded in total). Other types pass through with what they carry.
StatusOr<PaymentEvent> parse_stripe_event(std::string_view body, std::string_view event_id);

}  // namespace shopeasy::cloud::payments
