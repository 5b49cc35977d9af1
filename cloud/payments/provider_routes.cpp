// Checkout and UPI routes; see provider_routes.hpp.
#include "cloud/payments/provider_routes.hpp"

#include <utility>

namespace shopeasy::cloud::payments {
namespace {

// The customer-facing view of a provider error: their own mistakes stay as they are,
// everything else (our credentials, the provider's health) is "retry later".
Status for_customer(const Status& st) {
  switch (st.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:
    case StatusCode::kFailedPrecondition:
      return st;
    default:
      return unavailable("the payment gateway is unavailable; retry");
  }
}

// Admins may use any intent; a customer only the intents of their own orders.
Status may_use(const http::Request& req, const IntentOwnerFn& owner) {
  if (req.principal.role == "admin") return Status::ok();
  StatusOr<std::string> customer = owner(req.params[0]);
  if (!customer.ok()) return for_customer(customer.status());
  if (*customer != req.principal.subject) return not_found("no such payment");
  return Status::ok();
}

}  // namespace

void register_checkout_route(http::HttpServer& server, CheckoutFn checkout, IntentOwnerFn owner) {
  server.route(
      "GET", "/v1/payments/checkout/([A-Za-z0-9_]{1,64})",
      http::Access::roles_of({"customer", "admin"}),
      [checkout = std::move(checkout), owner = std::move(owner)](const http::Request& req) {
        if (Status allowed = may_use(req, owner); !allowed.is_ok()) {
          return http::Response::error(allowed);
        }
        StatusOr<nlohmann::json> details = checkout(req.params[0]);
        if (!details.ok()) return http::Response::error(for_customer(details.status()));
        return http::Response::json(200, *details);
      });
}

void register_upi_route(http::HttpServer& server, RazorpayProvider& provider, IntentOwnerFn owner) {
  server.route("POST", "/v1/payments/upi/([A-Za-z0-9_]{1,64})",
               http::Access::roles_of({"customer", "admin"}),
               [&provider, owner = std::move(owner)](const http::Request& req) {
                 if (Status allowed = may_use(req, owner); !allowed.is_ok()) {
                   return http::Response::error(allowed);
                 }
                 nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
                 if (body.is_discarded() || !body.is_object()) {
                   return http::Response::error(invalid_argument("body must be a JSON object"));
                 }
                 UpiRequest upi;
                 for (auto [key, target] :
                      {std::pair{"flow", &upi.flow}, std::pair{"vpa", &upi.vpa},
                       std::pair{"email", &upi.email}, std::pair{"contact", &upi.contact}}) {
                   auto it = body.find(key);
                   if (it == body.end()) continue;
                   if (!it->is_string()) {
                     return http::Response::error(
                         invalid_argument(std::string(key) + " must be a string", key));
                   }
                   *target = it->get<std::string>();
                 }
                 upi.ip = req.remote_addr;
                 upi.user_agent = req.header("User-Agent");
                 StatusOr<UpiPayment> payment = provider.pay_upi(req.params[0], upi);
                 if (!payment.ok()) return http::Response::error(for_customer(payment.status()));
                 return http::Response::json(
                     200, {{"payment_id", payment->payment_id}, {"link", payment->link}});
               });
}

}  // namespace shopeasy::cloud::payments
