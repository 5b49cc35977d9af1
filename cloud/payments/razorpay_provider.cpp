// Razorpay adapter; see razorpay_provider.hpp.
#include "cloud/payments/razorpay_provider.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

namespace shopeasy::cloud::payments {
namespace {

constexpr std::size_t kMaxReceipt = 40;  // Razorpay's limit on an order's receipt

// Razorpay ids ("order_...", "pay_...", "rfnd_...") are [A-Za-z0-9_].
bool valid_id(std::string_view id, std::string_view prefix) {
  return id.size() > prefix.size() && id.size() <= 64 && id.substr(0, prefix.size()) == prefix &&
         std::all_of(id.begin(), id.end(),
                     [](unsigned char c) { return std::isalnum(c) != 0 || c == '_'; });
}

bool key_chars(std::string_view key) {
  return std::all_of(key.begin(), key.end(),
                     [](unsigned char c) { return std::isalnum(c) != 0 || c == '-' || c == '_'; });
}

// The order's receipt: the key itself when it fits, else a digest of it.
std::string receipt_for(const std::string& key) {
  if (key.size() <= kMaxReceipt) return key;
  return "k_" + sha256_hex(key).substr(0, kMaxReceipt - 2);
}

// X-Refund-Idempotency takes 10+ characters of [A-Za-z0-9_-].
std::string refund_key_for(const std::string& key) {
  if (key.size() >= 10 && key.size() <= 128 && key_chars(key)) return key;
  return "k-" + sha256_hex(key);
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

bool int_of(const nlohmann::json& obj, const char* key, std::int64_t* out) {
  const nlohmann::json* v = member(obj, key);
  if (v == nullptr || !v->is_number_integer()) return false;
  *out = v->get<std::int64_t>();
  return true;
}

Status check_amount(std::int64_t amount_cents) {
  if (amount_cents < 1 || amount_cents > kMaxAmountCents) {
    return invalid_argument("amount_cents must be between 1 and " + std::to_string(kMaxAmountCents),
                            "amount_cents");
  }
  return Status::ok();
}

bool valid_vpa(const std::string& vpa) {
  const std::size_t at = vpa.find('@');
  if (at == std::string::npos || at < 2 || at > 256 || vpa.size() - at - 1 < 2 ||
      vpa.size() - at - 1 > 64) {
    return false;
  }
  for (std::size_t i = 0; i < vpa.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(vpa[i]);
    if (i == at) continue;
    if (i < at ? !(std::isalnum(c) || c == '.' || c == '-' || c == '_') : !std::isalpha(c)) {
      return false;
    }
  }
  return true;
}

bool valid_contact(const std::string& contact) {
  std::size_t digits = 0;
  for (std::size_t i = 0; i < contact.size(); ++i) {
    if (std::isdigit(static_cast<unsigned char>(contact[i]))) {
      ++digits;
    } else if (!(i == 0 && contact[i] == '+')) {
      return false;
    }
  }
  return digits >= 8 && digits <= 15;
}

// Releases an idempotency key claimed for the length of one call. `keys` is guarded by
// `mutex`.
class KeyClaim {
 public:
  KeyClaim(sync::Mutex& mutex, std::set<std::string>* keys, std::string key)
      : mutex_(mutex), keys_(keys), key_(std::move(key)) {
    sync::MutexLock lock(mutex_);
    claimed_ = keys_->insert(key_).second;
  }
  ~KeyClaim() {
    if (!claimed_) return;
    sync::MutexLock lock(mutex_);
    keys_->erase(key_);
  }
  KeyClaim(const KeyClaim&) = delete;
  KeyClaim& operator=(const KeyClaim&) = delete;
  bool claimed() const { return claimed_; }

 private:
  sync::Mutex& mutex_;
  std::set<std::string>* const keys_ PT_GUARDED_BY(mutex_);
  std::string key_;
  bool claimed_ = false;
};

}  // namespace

RazorpayProvider::RazorpayProvider(RazorpayOptions options, std::unique_ptr<ProviderHttp> http,
                                   log::Logger logger, db::Database db)
    : options_(std::move(options)),
      http_(std::move(http)),
      logger_(std::move(logger)),
      db_(std::move(db)) {}

StatusOr<std::unique_ptr<RazorpayProvider>> RazorpayProvider::open(RazorpayOptions options,
                                                                   log::Logger logger) {
  if (options.key_id.empty()) {
    return invalid_argument("a Razorpay key id is required", "razorpay.key_id");
  }
  if (options.key_secret.empty()) {
    return invalid_argument("a Razorpay key secret is required", "razorpay.key_secret");
  }
  if (options.api_base_url.empty()) options.api_base_url = kRazorpayApiBase;
  ProviderHttpOptions http_options;
  http_options.base_url = options.api_base_url;
  http_options.timeout = options.timeout;
  http_options.ca_file = options.ca_file;
  auto http = ProviderHttp::create(std::move(http_options));
  if (!http.ok()) return http.status();
  StatusOr<db::Database> db = db::Database::open(options.db_path);
  if (!db.ok()) return db.status();
  SHOPEASY_RETURN_IF_ERROR(
      db->exec("CREATE TABLE IF NOT EXISTS razorpay_orders ("
               " idempotency_key TEXT PRIMARY KEY, order_id TEXT NOT NULL,"
               " amount INTEGER NOT NULL, currency TEXT NOT NULL,"
               " razorpay_order_id TEXT NOT NULL UNIQUE);"
               "CREATE TABLE IF NOT EXISTS razorpay_refunds ("
               " idempotency_key TEXT PRIMARY KEY, razorpay_order_id TEXT NOT NULL,"
               " amount INTEGER NOT NULL, refund_id TEXT NOT NULL);"));
  return std::unique_ptr<RazorpayProvider>(new RazorpayProvider(
      std::move(options), std::move(http).value(), std::move(logger), std::move(db).value()));
}

StatusOr<nlohmann::json> RazorpayProvider::call(
    const std::string& method, const std::string& path, const nlohmann::json* body,
    const std::map<std::string, std::string>& extra_headers) {
  std::map<std::string, std::string> headers = extra_headers;
  headers["Authorization"] = basic_auth(options_.key_id, options_.key_secret);
  const std::string what = "razorpay " + method + " " + path.substr(0, path.find('?'));
  StatusOr<http::ClientResponse> response = http_->send(
      method, path, body ? body->dump() : std::string(), body ? "application/json" : "", headers);
  if (!response.ok()) {
    Status st = response.status();
    if (st.code() != StatusCode::kPayloadTooLarge) st = unavailable(what + ": " + st.message());
    logger_.warn("razorpay_call_failed", {{"call", what}, {"error", st.to_string()}});
    return st;
  }
  const int code = response->status;
  nlohmann::json doc = nlohmann::json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (code >= 200 && code < 300) {
    if (doc.is_discarded() || !doc.is_object()) {
      logger_.error("razorpay_malformed_answer", {{"call", what}, {"status", code}});
      return internal_error(what + " answered " + std::to_string(code) +
                            " with a body that is not a JSON object");
    }
    return doc;
  }
  // Razorpay's error shape: {"error":{"code","description","field",...}}.
  const nlohmann::json* error = doc.is_discarded() ? nullptr : member(doc, "error");
  const std::string err_code = error ? text_of(*error, "code") : "";
  const std::string description = error ? text_of(*error, "description") : "";
  const std::string field = error ? text_of(*error, "field") : "";
  const std::string detail =
      " (HTTP " + std::to_string(code) + (err_code.empty() ? "" : ", " + err_code) + ")";
  Status st;
  if (code == 401) {
    st = Status(StatusCode::kUnauthenticated, what + ": Razorpay refused the API key" + detail);
  } else if (code == 403) {
    st = Status(StatusCode::kPermissionDenied, what + ": the key may not do this" + detail);
  } else if (code == 404 || (code == 400 && method == "GET")) {
    // Razorpay answers an unknown id with 400; a GET has no other input to be wrong.
    st = not_found(what + ": " + (description.empty() ? "not found" : description) + detail);
  } else if (code == 409 || code == 429 || code >= 500) {
    st = unavailable(what + ": Razorpay is unavailable, retry" + detail);
  } else if (code == 400) {
    st = invalid_argument(what + ": " + (description.empty() ? "refused" : description) + detail,
                          field);
  } else {
    st = unavailable(what + ": unexpected answer" + detail);
  }
  logger_.warn("razorpay_call_failed", {{"call", what}, {"error", st.to_string()}});
  return st;
}

StatusOr<std::string> RazorpayProvider::local_order_of(const std::string& rzp_order_id) {
  sync::MutexLock lock(db_mutex_);
  db::Query q =
      db_.query("SELECT order_id FROM razorpay_orders WHERE razorpay_order_id = ?", rzp_order_id);
  std::string found;
  if (const db::Statement* row = q.next()) found = row->column_text(0);
  if (!q.status().is_ok()) return q.status();
  return found;
}

Status RazorpayProvider::remember(const std::string& key, const std::string& order_id,
                                  std::int64_t amount, const std::string& currency,
                                  const std::string& rzp_order_id) {
  sync::MutexLock lock(db_mutex_);
  return db_.run(
      "INSERT INTO razorpay_orders(idempotency_key, order_id, amount, currency, "
      "razorpay_order_id) VALUES(?, ?, ?, ?, ?) ON CONFLICT(idempotency_key) DO NOTHING",
      key, order_id, amount, currency, rzp_order_id);
}

StatusOr<PaymentIntent> RazorpayProvider::to_intent(const nlohmann::json& order,
                                                    std::int64_t refunded,
                                                    const std::string& what) {
  auto bad = [&](const std::string& field) {
    return internal_error(what + ": the order in Razorpay's answer lacks a valid " + field);
  };
  PaymentIntent intent;
  intent.id = text_of(order, "id");
  if (!valid_id(intent.id, "order_") || text_of(order, "entity") != "order") {
    return bad("id/entity");
  }
  if (!int_of(order, "amount", &intent.amount_cents) || intent.amount_cents <= 0) {
    return bad("amount");
  }
  intent.currency = ascii_upper(text_of(order, "currency"));
  if (!valid_currency(intent.currency)) return bad("currency");
  std::int64_t created = 0;
  if (int_of(order, "created_at", &created)) intent.created_ms = created * 1000;
  StatusOr<std::string> local = local_order_of(intent.id);
  if (!local.ok()) return local.status();
  intent.order_id = *local;
  if (intent.order_id.empty()) {
    const nlohmann::json* notes = member(order, "notes");
    if (notes != nullptr) intent.order_id = text_of(*notes, "order_id");
  }
  intent.refunded_cents = refunded;
  const std::string status = text_of(order, "status");
  if (status == "paid") {
    intent.status = refunded >= intent.amount_cents ? kRefunded : kSucceeded;
  } else if (status == "created" || status == "attempted") {
    intent.status = kRequiresConfirmation;
  } else {
    return bad("status");
  }
  intent.confirm_url = options_.public_base_url + "/v1/payments/checkout/" + intent.id;
  return intent;
}

StatusOr<nlohmann::json> RazorpayProvider::payments_of(const std::string& order_id) {
  StatusOr<nlohmann::json> list = call("GET", "/v1/orders/" + order_id + "/payments", nullptr, {});
  if (!list.ok()) return list.status();
  const nlohmann::json* items = member(*list, "items");
  if (items == nullptr || !items->is_array()) {
    return internal_error("razorpay GET /v1/orders/{id}/payments: the answer has no items array");
  }
  return *items;
}

StatusOr<PaymentIntent> RazorpayProvider::create_intent(const std::string& order_id,
                                                        std::int64_t amount_cents,
                                                        const std::string& currency,
                                                        const std::string& idempotency_key) {
  SHOPEASY_RETURN_IF_ERROR(check_amount(amount_cents));
  if (!valid_currency(currency)) {
    return invalid_argument("currency must be a 3-letter ISO 4217 code", "currency");
  }
  if (order_id.empty() || order_id.size() > 256) {
    return invalid_argument("order_id must have 1 to 256 characters", "order_id");
  }
  if (idempotency_key.empty() || idempotency_key.size() > 255) {
    return invalid_argument("idempotency key must have 1 to 255 characters", "idempotency_key");
  }
  KeyClaim claim(keys_mutex_, &in_flight_, "order:" + idempotency_key);
  if (!claim.claimed()) {
    return unavailable("a request with idempotency key " + idempotency_key +
                       " is under way; retry");
  }
  std::string known;
  {
    sync::MutexLock lock(db_mutex_);
    db::Query q = db_.query(
        "SELECT order_id, amount, currency, razorpay_order_id FROM razorpay_orders "
        "WHERE idempotency_key = ?",
        idempotency_key);
    if (const db::Statement* row = q.next()) {
      if (row->column_text(0) != order_id || row->column_int64(1) != amount_cents ||
          row->column_text(2) != ascii_upper(currency)) {
        return invalid_argument("idempotency key reused with different parameters",
                                "idempotency_key");
      }
      known = row->column_text(3);
    }
    if (!q.status().is_ok()) return q.status();
  }
  if (!known.empty()) return get_intent(known);

  const std::string receipt = receipt_for(idempotency_key);
  // An order made under this key before a crash lost our record of it.
  StatusOr<nlohmann::json> found =
      call("GET", "/v1/orders?receipt=" + url_encode(receipt), nullptr, {});
  if (!found.ok()) return found.status();
  const nlohmann::json* items = member(*found, "items");
  if (items != nullptr && items->is_array()) {
    for (const nlohmann::json& order : *items) {
      const nlohmann::json* notes = member(order, "notes");
      std::int64_t amount = 0;
      if (text_of(order, "receipt") == receipt && int_of(order, "amount", &amount) &&
          amount == amount_cents &&
          ascii_upper(text_of(order, "currency")) == ascii_upper(currency) && notes != nullptr &&
          text_of(*notes, "order_id") == order_id) {
        const std::string id = text_of(order, "id");
        SHOPEASY_RETURN_IF_ERROR(
            remember(idempotency_key, order_id, amount_cents, ascii_upper(currency), id));
        logger_.info("razorpay_order_recovered", {{"order", order_id}, {"razorpay_order", id}});
        return get_intent(id);
      }
    }
  }

  const nlohmann::json request = {{"amount", amount_cents},
                                  {"currency", ascii_upper(currency)},
                                  {"receipt", receipt},
                                  {"notes", {{"order_id", order_id}}}};
  StatusOr<nlohmann::json> order = call("POST", "/v1/orders", &request, {});
  if (!order.ok()) return order.status();
  const std::string id = text_of(*order, "id");
  if (!valid_id(id, "order_")) {
    return internal_error("razorpay POST /v1/orders: the answer has no valid order id");
  }
  SHOPEASY_RETURN_IF_ERROR(
      remember(idempotency_key, order_id, amount_cents, ascii_upper(currency), id));
  return to_intent(*order, 0, "razorpay POST /v1/orders");
}

StatusOr<PaymentIntent> RazorpayProvider::get_intent(const std::string& id) {
  if (!valid_id(id, "order_")) return not_found("no payment intent " + id);
  StatusOr<nlohmann::json> order = call("GET", "/v1/orders/" + id, nullptr, {});
  if (!order.ok()) return order.status();
  std::int64_t refunded = 0;
  if (text_of(*order, "status") == "paid") {
    StatusOr<nlohmann::json> payments = payments_of(id);
    if (!payments.ok()) return payments.status();
    for (const nlohmann::json& p : *payments) {
      std::int64_t r = 0;
      if (int_of(p, "amount_refunded", &r)) refunded += r;
    }
  }
  return to_intent(*order, refunded, "razorpay GET /v1/orders");
}

StatusOr<PaymentIntent> RazorpayProvider::refund(const std::string& intent_id,
                                                 std::int64_t amount_cents,
                                                 const std::string& idempotency_key) {
  SHOPEASY_RETURN_IF_ERROR(check_amount(amount_cents));
  if (!valid_id(intent_id, "order_")) return not_found("no payment intent " + intent_id);
  if (idempotency_key.empty() || idempotency_key.size() > 255) {
    return invalid_argument("idempotency key must have 1 to 255 characters", "idempotency_key");
  }
  KeyClaim claim(keys_mutex_, &in_flight_, "refund:" + idempotency_key);
  if (!claim.claimed()) {
    return unavailable("a refund with idempotency key " + idempotency_key + " is under way; retry");
  }
  bool done = false;
  {
    sync::MutexLock lock(db_mutex_);
    db::Query q = db_.query(
        "SELECT razorpay_order_id, amount FROM razorpay_refunds WHERE idempotency_key = ?",
        idempotency_key);
    if (const db::Statement* row = q.next()) {
      if (row->column_text(0) != intent_id || row->column_int64(1) != amount_cents) {
        return invalid_argument("idempotency key reused with different parameters",
                                "idempotency_key");
      }
      done = true;
    }
    if (!q.status().is_ok()) return q.status();
  }
  if (done) return get_intent(intent_id);  // a retry of a refund already made
  StatusOr<nlohmann::json> payments = payments_of(intent_id);
  if (!payments.ok()) return payments.status();
  const nlohmann::json* captured = nullptr;
  std::int64_t left = 0;
  for (const nlohmann::json& p : *payments) {
    std::int64_t amount = 0;
    std::int64_t refunded = 0;
    if (text_of(p, "status") != "captured" || !int_of(p, "amount", &amount)) continue;
    int_of(p, "amount_refunded", &refunded);
    captured = &p;
    left = amount - refunded;
    break;
  }
  if (captured == nullptr) {
    return failed_precondition("order " + intent_id + " has no captured payment to refund");
  }
  if (amount_cents > left) {
    return failed_precondition("cannot refund " + std::to_string(amount_cents) + " of order " +
                               intent_id + ": " + std::to_string(left) + " left to refund");
  }
  const std::string payment_id = text_of(*captured, "id");
  if (!valid_id(payment_id, "pay_")) {
    return internal_error("razorpay GET /v1/orders/{id}/payments: a payment has no valid id");
  }
  const nlohmann::json request = {{"amount", amount_cents}, {"speed", "normal"}};
  StatusOr<nlohmann::json> refund =
      call("POST", "/v1/payments/" + payment_id + "/refund", &request,
           {{"X-Refund-Idempotency", refund_key_for(idempotency_key)}});
  if (!refund.ok()) return refund.status();
  const std::string refund_id = text_of(*refund, "id");
  if (text_of(*refund, "entity") != "refund" || !valid_id(refund_id, "rfnd_")) {
    return internal_error("razorpay POST /v1/payments/{id}/refund: the answer is not a refund");
  }
  if (text_of(*refund, "status") == "failed") {
    return failed_precondition("razorpay refund " + refund_id + " failed");
  }
  {
    sync::MutexLock lock(db_mutex_);
    SHOPEASY_RETURN_IF_ERROR(db_.run(
        "INSERT INTO razorpay_refunds(idempotency_key, razorpay_order_id, amount, refund_id) "
        "VALUES(?, ?, ?, ?) ON CONFLICT(idempotency_key) DO NOTHING",
        idempotency_key, intent_id, amount_cents, refund_id));
  }
  return get_intent(intent_id);
}

StatusOr<UpiPayment> RazorpayProvider::pay_upi(const std::string& intent_id,
                                               const UpiRequest& request) {
  if (!valid_id(intent_id, "order_")) return not_found("no payment intent " + intent_id);
  if (request.flow != "intent" && request.flow != "collect") {
    return invalid_argument("flow must be \"intent\" or \"collect\"", "flow");
  }
  if (request.flow == "collect" && !valid_vpa(request.vpa)) {
    return invalid_argument("vpa must be a UPI id such as name@bank", "vpa");
  }
  if (request.email.empty() || request.email.size() > 254 ||
      request.email.find('@') == std::string::npos) {
    return invalid_argument("email must be an e-mail address", "email");
  }
  if (!valid_contact(request.contact)) {
    return invalid_argument("contact must be a phone number of 8 to 15 digits", "contact");
  }
  if (request.expiry_minutes < 1 || request.expiry_minutes > 30) {
    return invalid_argument("expiry_minutes must be between 1 and 30", "expiry_minutes");
  }
  StatusOr<nlohmann::json> order = call("GET", "/v1/orders/" + intent_id, nullptr, {});
  if (!order.ok()) return order.status();
  StatusOr<PaymentIntent> intent = to_intent(*order, 0, "razorpay GET /v1/orders");
  if (!intent.ok()) return intent.status();
  if (intent->status != kRequiresConfirmation) {
    return failed_precondition("order " + intent_id + " is already paid");
  }
  nlohmann::json upi = {{"flow", request.flow}};
  if (request.flow == "collect") {
    upi["vpa"] = request.vpa;
    upi["expiry_time"] = request.expiry_minutes;
  }
  nlohmann::json body = {{"amount", intent->amount_cents},
                         {"currency", intent->currency},
                         {"order_id", intent_id},
                         {"method", "upi"},
                         {"email", request.email},
                         {"contact", request.contact},
                         {"upi", upi}};
  if (!request.ip.empty()) body["ip"] = request.ip;
  if (!request.user_agent.empty()) body["user_agent"] = request.user_agent;
  StatusOr<nlohmann::json> created = call("POST", "/v1/payments/create/upi", &body, {});
  if (!created.ok()) return created.status();
  UpiPayment payment;
  payment.payment_id = text_of(*created, "razorpay_payment_id");
  payment.link = text_of(*created, "link");
  if (!valid_id(payment.payment_id, "pay_")) {
    return internal_error(
        "razorpay POST /v1/payments/create/upi: the answer has no razorpay_payment_id");
  }
  if (request.flow == "intent" && payment.link.rfind("upi://", 0) != 0) {
    return internal_error("razorpay POST /v1/payments/create/upi: the answer has no upi:// link");
  }
  logger_.info(
      "razorpay_upi_started",
      {{"razorpay_order", intent_id}, {"payment", payment.payment_id}, {"flow", request.flow}});
  return payment;
}

bool RazorpayProvider::verify_payment_signature(std::string_view order_id,
                                                std::string_view payment_id,
                                                std::string_view signature) const {
  std::string payload(order_id);
  payload += '|';
  payload.append(payment_id);
  return constant_time_equal(hmac_sha256_hex(options_.key_secret, payload),
                             ascii_lower(std::string(signature)));
}

StatusOr<nlohmann::json> RazorpayProvider::checkout(const std::string& intent_id) {
  if (!valid_id(intent_id, "order_")) return not_found("no payment intent " + intent_id);
  StatusOr<nlohmann::json> order = call("GET", "/v1/orders/" + intent_id, nullptr, {});
  if (!order.ok()) return order.status();
  StatusOr<PaymentIntent> intent = to_intent(*order, 0, "razorpay GET /v1/orders");
  if (!intent.ok()) return intent.status();
  return nlohmann::json{{"provider", "razorpay"},       {"key_id", options_.key_id},
                        {"order_id", intent->id},       {"amount_cents", intent->amount_cents},
                        {"currency", intent->currency}, {"status", intent->status}};
}

StatusOr<PaymentEvent> RazorpayProvider::parse_event(std::string_view body,
                                                     std::string_view event_id) {
  auto bad = [](const std::string& what, const std::string& field) {
    return invalid_argument("malformed Razorpay event: " + what, field);
  };
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return bad("not a JSON object", "");
  if (text_of(doc, "entity") != "event") return bad("entity is not \"event\"", "entity");
  const std::string name = text_of(doc, "event");
  if (name.empty() || name.size() > 64) return bad("event", "event");
  PaymentEvent event;
  if (!int_of(doc, "created_at", &event.created_s)) return bad("created_at", "created_at");
  const nlohmann::json* payload = member(doc, "payload");
  if (payload == nullptr || !payload->is_object()) return bad("payload", "payload");
  auto entity = [&](const char* kind) -> const nlohmann::json* {
    const nlohmann::json* wrapper = member(*payload, kind);
    const nlohmann::json* e = wrapper ? member(*wrapper, "entity") : nullptr;
    return e != nullptr && e->is_object() ? e : nullptr;
  };
  const nlohmann::json* payment = entity("payment");
  const nlohmann::json* refund = entity("refund");
  std::string entity_id;
  if (name == kRazorpayPaymentCaptured || name == kRazorpayPaymentFailed) {
    if (payment == nullptr) return bad("payload.payment.entity", "payload.payment");
    event.type = name == kRazorpayPaymentCaptured ? kEventSucceeded : kEventFailed;
    event.intent_id = text_of(*payment, "order_id");
    entity_id = text_of(*payment, "id");
    if (!int_of(*payment, "amount", &event.amount_cents)) {
      return bad("payload.payment.entity.amount", "payload.payment.entity.amount");
    }
  } else if (name == kRazorpayRefundProcessed) {
    if (refund == nullptr) return bad("payload.refund.entity", "payload.refund");
    event.type = kEventRefunded;
    entity_id = text_of(*refund, "id");
    if (!int_of(*refund, "amount", &event.amount_cents)) {
      return bad("payload.refund.entity.amount", "payload.refund.entity.amount");
    }
    if (payment != nullptr) event.intent_id = text_of(*payment, "order_id");
  } else {
    event.type = name;
    if (payment != nullptr) {
      event.intent_id = text_of(*payment, "order_id");
      entity_id = text_of(*payment, "id");
    }
  }
  if (event.amount_cents < 0 || event.amount_cents > kMaxAmountCents) {
    return bad("amount out of range", "payload");
  }
  if ((event.type == kEventSucceeded || event.type == kEventFailed) &&
      !valid_id(event.intent_id, "order_")) {
    return bad("the payment has no order_id", "payload.payment.entity.order_id");
  }
  event.event_id = std::string(event_id);
  if (event.event_id.empty()) {
    if (entity_id.empty()) return bad("no event id header and no entity id", "id");
    event.event_id = name + ":" + entity_id;
  }
  if (event.event_id.size() > 128) return bad("event id longer than 128 characters", "id");
  if (!event.intent_id.empty()) {
    StatusOr<std::string> local = local_order_of(event.intent_id);
    if (!local.ok()) return local.status();
    event.order_id = *local;
  }
  return event;
}

}  // namespace shopeasy::cloud::payments
