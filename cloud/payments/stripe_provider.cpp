// Stripe adapter; see stripe_provider.hpp.
#include "cloud/payments/stripe_provider.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

namespace shopeasy::cloud::payments {
namespace {

constexpr std::size_t kMaxIdempotencyKey = 255;  // Stripe's documented limit

// A path segment from an id we were given: Stripe ids are [A-Za-z0-9_].
bool valid_id(const std::string& id) {
  return !id.empty() && id.size() <= 255 && std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '_';
  });
}

Status check_amount(std::int64_t amount_cents) {
  if (amount_cents < 1 || amount_cents > kMaxAmountCents) {
    return invalid_argument("amount_cents must be between 1 and " + std::to_string(kMaxAmountCents),
                            "amount_cents");
  }
  return Status::ok();
}

const nlohmann::json* member(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

std::string text_of(const nlohmann::json& obj, const char* key) {
  const nlohmann::json* v = member(obj, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

}  // namespace

StripeProvider::StripeProvider(StripeOptions options, std::unique_ptr<ProviderHttp> http,
                               log::Logger logger)
    : options_(std::move(options)), http_(std::move(http)), logger_(std::move(logger)) {}

StatusOr<std::unique_ptr<StripeProvider>> StripeProvider::create(StripeOptions options,
                                                                 log::Logger logger) {
  if (options.secret_key.empty()) {
    return invalid_argument("a Stripe secret key is required", "stripe.secret_key");
  }
  if (options.api_base_url.empty()) options.api_base_url = kStripeApiBase;
  ProviderHttpOptions http_options;
  http_options.base_url = options.api_base_url;
  http_options.timeout = options.timeout;
  http_options.ca_file = options.ca_file;
  auto http = ProviderHttp::create(std::move(http_options));
  if (!http.ok()) return http.status();
  return std::unique_ptr<StripeProvider>(
      new StripeProvider(std::move(options), std::move(http).value(), std::move(logger)));
}

StatusOr<nlohmann::json> StripeProvider::call(const std::string& method, const std::string& path,
                                              const std::string& form,
                                              const std::string& idempotency_key) {
  std::map<std::string, std::string> headers{{"Authorization", "Bearer " + options_.secret_key}};
  if (!idempotency_key.empty()) headers["Idempotency-Key"] = idempotency_key;
  const std::string what = "stripe " + method + " " + path.substr(0, path.find('?'));
  StatusOr<http::ClientResponse> response = http_->send(
      method, path, form, method == "POST" ? "application/x-www-form-urlencoded" : "", headers);
  if (!response.ok()) {
    Status st = response.status();
    if (st.code() != StatusCode::kPayloadTooLarge) st = unavailable(what + ": " + st.message());
    logger_.warn("stripe_call_failed", {{"call", what}, {"error", st.to_string()}});
    return st;
  }
  const int code = response->status;
  nlohmann::json body = nlohmann::json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (code >= 200 && code < 300) {
    if (body.is_discarded() || !body.is_object()) {
      Status st = internal_error(what + " answered " + std::to_string(code) +
                                 " with a body that is not a JSON object");
      logger_.error("stripe_malformed_answer", {{"call", what}, {"status", code}});
      return st;
    }
    return body;
  }
  // Stripe's error shape: {"error":{"type","code","message","param"}}.
  const nlohmann::json* error = body.is_discarded() ? nullptr : member(body, "error");
  const std::string type = error ? text_of(*error, "type") : "";
  const std::string err_code = error ? text_of(*error, "code") : "";
  const std::string message = error ? text_of(*error, "message") : "";
  const std::string param = error ? text_of(*error, "param") : "";
  const std::string detail =
      " (HTTP " + std::to_string(code) + (err_code.empty() ? "" : ", " + err_code) + ")";
  Status st;
  if (code == 401) {
    // Stripe's message quotes part of the key; ours names no part of it.
    st = Status(StatusCode::kUnauthenticated, what + ": Stripe refused the secret key" + detail);
  } else if (code == 403) {
    st = Status(StatusCode::kPermissionDenied, what + ": the key may not do this" + detail);
  } else if (code == 404) {
    st = not_found(what + ": " + (message.empty() ? "no such object" : message) + detail);
  } else if (code == 409 || code == 429 || code >= 500) {
    st = unavailable(what + ": Stripe is unavailable, retry" + detail);
  } else if (type == "idempotency_error") {
    st = invalid_argument(what + ": idempotency key reused with different parameters" + detail,
                          "idempotency_key");
  } else if (err_code == "amount_too_large" || err_code == "charge_already_refunded" ||
             err_code == "payment_intent_unexpected_state") {
    st = failed_precondition(what + ": " + message + detail);
  } else if (code == 400 || code == 402) {
    st = invalid_argument(what + ": " + (message.empty() ? "refused" : message) + detail, param);
  } else {
    st = unavailable(what + ": unexpected answer" + detail);
  }
  logger_.warn("stripe_call_failed", {{"call", what},
                                      {"error", st.to_string()},
                                      {"request_id", response->headers.count("request-id")
                                                         ? response->headers.at("request-id")
                                                         : std::string()}});
  return st;
}

StatusOr<PaymentIntent> StripeProvider::to_intent(const nlohmann::json& pi,
                                                  const std::string& what) const {
  auto bad = [&](const std::string& field) {
    return internal_error(what + ": the PaymentIntent in Stripe's answer lacks a valid " + field);
  };
  PaymentIntent intent;
  intent.id = text_of(pi, "id");
  if (!valid_id(intent.id) || text_of(pi, "object") != "payment_intent") return bad("id/object");
  const nlohmann::json* amount = member(pi, "amount");
  if (amount == nullptr || !amount->is_number_integer()) return bad("amount");
  intent.amount_cents = amount->get<std::int64_t>();
  intent.currency = ascii_upper(text_of(pi, "currency"));
  if (!valid_currency(intent.currency)) return bad("currency");
  const nlohmann::json* metadata = member(pi, "metadata");
  intent.order_id = metadata ? text_of(*metadata, "order_id") : "";
  const nlohmann::json* created = member(pi, "created");
  if (created != nullptr && created->is_number_integer()) {
    intent.created_ms = created->get<std::int64_t>() * 1000;
  }
  const nlohmann::json* charge = member(pi, "latest_charge");
  if (charge != nullptr && charge->is_object()) {
    const nlohmann::json* refunded = member(*charge, "amount_refunded");
    if (refunded != nullptr && refunded->is_number_integer()) {
      intent.refunded_cents = refunded->get<std::int64_t>();
    }
  }
  const std::string status = text_of(pi, "status");
  if (status == "succeeded") {
    intent.status = intent.refunded_cents >= intent.amount_cents ? kRefunded : kSucceeded;
  } else if (status == "canceled") {
    intent.status = kFailed;
  } else if (status == "requires_payment_method" || status == "requires_confirmation" ||
             status == "requires_action" || status == "processing" ||
             status == "requires_capture") {
    intent.status = kRequiresConfirmation;
  } else {
    return bad("status");
  }
  intent.confirm_url = options_.public_base_url + "/v1/payments/checkout/" + intent.id;
  return intent;
}

StatusOr<PaymentIntent> StripeProvider::create_intent(const std::string& order_id,
                                                      std::int64_t amount_cents,
                                                      const std::string& currency,
                                                      const std::string& idempotency_key) {
  SHOPEASY_RETURN_IF_ERROR(check_amount(amount_cents));
  if (!valid_currency(currency)) {
    return invalid_argument("currency must be a 3-letter ISO 4217 code", "currency");
  }
  if (order_id.empty() || order_id.size() > 500) {
    return invalid_argument("order_id must have 1 to 500 characters", "order_id");
  }
  if (idempotency_key.empty() || idempotency_key.size() > kMaxIdempotencyKey) {
    return invalid_argument("idempotency key must have 1 to 255 characters", "idempotency_key");
  }
  const std::string form = form_encode({{"amount", std::to_string(amount_cents)},
                                        {"currency", ascii_lower(currency)},
                                        {"metadata[order_id]", order_id},
                                        {"automatic_payment_methods[enabled]", "true"}});
  StatusOr<nlohmann::json> pi = call("POST", "/v1/payment_intents", form, idempotency_key);
  if (!pi.ok()) return pi.status();
  StatusOr<PaymentIntent> intent = to_intent(*pi, "stripe POST /v1/payment_intents");
  if (!intent.ok()) return intent.status();
  if (intent->order_id != order_id || intent->amount_cents != amount_cents ||
      intent->currency != ascii_upper(currency)) {
    return internal_error("stripe POST /v1/payment_intents returned intent " + intent->id +
                          " for other terms than were asked");
  }
  // A replayed key returns the intent as first created; its current state is one GET away.
  return intent->status == kRequiresConfirmation ? intent : get_intent(intent->id);
}

StatusOr<PaymentIntent> StripeProvider::get_intent(const std::string& id) {
  if (!valid_id(id)) return not_found("no payment intent " + id);
  const std::string path =
      "/v1/payment_intents/" + id + "?" + form_encode({{"expand[]", "latest_charge"}});
  StatusOr<nlohmann::json> pi = call("GET", path, "", "");
  if (!pi.ok()) return pi.status();
  return to_intent(*pi, "stripe GET /v1/payment_intents");
}

StatusOr<PaymentIntent> StripeProvider::refund(const std::string& intent_id,
                                               std::int64_t amount_cents,
                                               const std::string& idempotency_key) {
  SHOPEASY_RETURN_IF_ERROR(check_amount(amount_cents));
  if (!valid_id(intent_id)) return not_found("no payment intent " + intent_id);
  if (idempotency_key.empty() || idempotency_key.size() > kMaxIdempotencyKey) {
    return invalid_argument("idempotency key must have 1 to 255 characters", "idempotency_key");
  }
  const std::string form =
      form_encode({{"payment_intent", intent_id}, {"amount", std::to_string(amount_cents)}});
  StatusOr<nlohmann::json> refund = call("POST", "/v1/refunds", form, idempotency_key);
  if (!refund.ok()) {
    if (refund.status().code() == StatusCode::kInvalidArgument &&
        refund.status().field() != "idempotency_key") {
      // Stripe words an over-refund as a plain invalid request; tell it apart by state.
      StatusOr<PaymentIntent> now = get_intent(intent_id);
      if (now.ok() &&
          (now->status != kSucceeded || amount_cents > now->amount_cents - now->refunded_cents)) {
        return failed_precondition("cannot refund " + std::to_string(amount_cents) + " of intent " +
                                   intent_id + ": " +
                                   std::to_string(now->amount_cents - now->refunded_cents) +
                                   " left to refund (status " + now->status + ")");
      }
    }
    return refund.status();
  }
  if (text_of(*refund, "object") != "refund" || text_of(*refund, "id").empty()) {
    return internal_error("stripe POST /v1/refunds: the answer is not a refund object");
  }
  const std::string status = text_of(*refund, "status");
  if (status == "failed" || status == "canceled") {
    return failed_precondition("stripe refund " + text_of(*refund, "id") + " " + status);
  }
  return get_intent(intent_id);
}

StatusOr<nlohmann::json> StripeProvider::checkout(const std::string& intent_id) {
  if (!valid_id(intent_id)) return not_found("no payment intent " + intent_id);
  StatusOr<nlohmann::json> pi = call("GET", "/v1/payment_intents/" + intent_id, "", "");
  if (!pi.ok()) return pi.status();
  StatusOr<PaymentIntent> intent = to_intent(*pi, "stripe GET /v1/payment_intents");
  if (!intent.ok()) return intent.status();
  return nlohmann::json{{"provider", "stripe"},
                        {"intent_id", intent->id},
                        {"client_secret", text_of(*pi, "client_secret")},
                        {"amount_cents", intent->amount_cents},
                        {"currency", intent->currency},
                        {"status", intent->status}};
}

StatusOr<PaymentEvent> parse_stripe_event(std::string_view body, std::string_view) {
  auto bad = [](const std::string& what, const std::string& field) {
    return invalid_argument("malformed Stripe event: " + what, field);
  };
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return bad("not a JSON object", "");
  PaymentEvent event;
  event.event_id = text_of(doc, "id");
  if (event.event_id.empty() || event.event_id.size() > 128) return bad("id", "id");
  event.type = text_of(doc, "type");
  if (event.type.empty() || event.type.size() > 128) return bad("type", "type");
  const nlohmann::json* created = member(doc, "created");
  if (created == nullptr || !created->is_number_integer()) return bad("created", "created");
  event.created_s = created->get<std::int64_t>();
  const nlohmann::json* data = member(doc, "data");
  const nlohmann::json* object = data ? member(*data, "object") : nullptr;
  if (object == nullptr || !object->is_object()) return bad("data.object", "data.object");
  const nlohmann::json* metadata = member(*object, "metadata");
  event.order_id = metadata ? text_of(*metadata, "order_id") : "";
  auto amount = [&](const char* key) -> Status {
    const nlohmann::json* v = member(*object, key);
    if (v == nullptr || !v->is_number_integer() || v->get<std::int64_t>() < 0 ||
        v->get<std::int64_t>() > kMaxAmountCents) {
      return bad(std::string("data.object.") + key, std::string("data.object.") + key);
    }
    event.amount_cents = v->get<std::int64_t>();
    return Status::ok();
  };
  if (event.type == kEventSucceeded || event.type == kEventFailed) {
    if (text_of(*object, "object") != "payment_intent") {
      return bad("data.object is not a payment_intent", "data.object.object");
    }
    event.intent_id = text_of(*object, "id");
    SHOPEASY_RETURN_IF_ERROR(amount("amount"));
  } else if (event.type == kEventRefunded) {
    if (text_of(*object, "object") != "charge") {
      return bad("data.object is not a charge", "data.object.object");
    }
    event.intent_id = text_of(*object, "payment_intent");
    SHOPEASY_RETURN_IF_ERROR(amount("amount_refunded"));
  } else {
    event.intent_id = text_of(*object, "id");
  }
  if (event.intent_id.empty() && (event.type == kEventSucceeded || event.type == kEventFailed ||
                                  event.type == kEventRefunded)) {
    return bad("no payment intent id", "data.object");
  }
  return event;
}

}  // namespace shopeasy::cloud::payments
