// The cloud's routes for paying through a real provider: the customer's app fetches
// what the provider's client-side checkout needs, and (Razorpay) starts a UPI payment.
// The outcome always arrives by the provider's signed webhook, never from these routes.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "cloud/payments/razorpay_provider.hpp"
#include "common/http/server.hpp"
#include "common/status/status.hpp"

namespace shopeasy::cloud::payments {

using CheckoutFn = std::function<StatusOr<nlohmann::json>(const std::string& intent_id)>;
// The customer whose order an intent pays; kNotFound for an unknown intent.
using IntentOwnerFn = std::function<StatusOr<std::string>(const std::string& intent_id)>;

// GET /v1/payments/checkout/{intent_id} (customer or admin): the provider's checkout
// details (StripeProvider::checkout, RazorpayProvider::checkout). A customer reaches
// only the intents of their own orders: another's is 404, as an unknown one, so ids
// cannot be probed. A provider failure is 503 whatever its cause, so a customer never
// sees the cloud's credential trouble.
void register_checkout_route(http::HttpServer& server, CheckoutFn checkout, IntentOwnerFn owner);

// POST /v1/payments/upi/{intent_id} (customer or admin) with
// {"flow":"intent"|"collect","vpa":"name@bank","email":"...","contact":"+91..."}:
// 200 {"payment_id","link"} (link: the upi:// URL for the intent flow); 400 naming the
// field; 404 unknown order or another customer's; 409 already paid; 503 provider trouble.
void register_upi_route(http::HttpServer& server, RazorpayProvider& provider, IntentOwnerFn owner);

}  // namespace shopeasy::cloud::payments
