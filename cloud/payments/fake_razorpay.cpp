// The local Razorpay stand-in; see fake_razorpay.hpp.
#include "cloud/payments/fake_razorpay.hpp"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <thread>
#include <utility>

#include "cloud/payments/provider_http.hpp"
#include "common/sync/mutex.hpp"

namespace shopeasy::cloud::payments {
namespace {

using nlohmann::json;

json rzp_error(const std::string& description, const std::string& field = "",
               const std::string& code = "BAD_REQUEST_ERROR") {
  json e = {{"code", code},   {"description", description}, {"source", "NA"}, {"step", "NA"},
            {"reason", "NA"}, {"metadata", json::object()}};
  if (!field.empty()) e["field"] = field;
  return {{"error", e}};
}

bool valid_refund_key(const std::string& key) {
  return key.size() >= 10 && std::all_of(key.begin(), key.end(), [](unsigned char c) {
           return std::isalnum(c) != 0 || c == '-' || c == '_';
         });
}

}  // namespace

struct FakeRazorpay::Impl {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  mutable sync::Mutex mutex;  // guards the maps and counters below
  std::map<std::string, json> orders GUARDED_BY(mutex);
  std::map<std::string, json> payments GUARDED_BY(mutex);
  struct StoredRefund {
    std::string body;  // the request body, compared on a retry
    json refund;
  };
  std::map<std::string, StoredRefund> refund_keys
      GUARDED_BY(mutex);  // X-Refund-Idempotency -> first refund
  json last_upi GUARDED_BY(mutex);
  int orders_created GUARDED_BY(mutex) = 0;
  int refunds_created GUARDED_BY(mutex) = 0;
};

FakeRazorpay::FakeRazorpay(FakeRazorpayOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>()) {}

FakeRazorpay::~FakeRazorpay() {
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::string FakeRazorpay::base_url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port);
}

int FakeRazorpay::orders_created() const {
  sync::MutexLock lock(impl_->mutex);
  return impl_->orders_created;
}

int FakeRazorpay::refunds_created() const {
  sync::MutexLock lock(impl_->mutex);
  return impl_->refunds_created;
}

json FakeRazorpay::last_upi_request() const {
  sync::MutexLock lock(impl_->mutex);
  return impl_->last_upi;
}

std::string FakeRazorpay::sign(const std::string& body) const {
  return hmac_sha256_hex(options_.webhook_secret, body);
}

void FakeRazorpay::emit(const std::string& event, const json& payload) {
  json contains = json::array();
  for (auto it = payload.begin(); it != payload.end(); ++it) contains.push_back(it.key());
  json body = {{"entity", "event"},  {"account_id", "acc_" + fake::random_token(14)},
               {"event", event},     {"contains", contains},
               {"payload", payload}, {"created_at", fake::unix_now()}};
  const std::string text = body.dump();
  const std::string event_id = "evt_" + fake::random_token(14);
  pump_.post(event_id, event, text,
             {{"X-Razorpay-Signature", sign(text)}, {"X-Razorpay-Event-Id", event_id}});
}

json FakeRazorpay::event_for(const std::string& event, const std::string& payment_id,
                             std::int64_t created_at) {
  json payment;
  {
    sync::MutexLock lock(impl_->mutex);
    auto it = impl_->payments.find(payment_id);
    if (it != impl_->payments.end()) payment = it->second;
  }
  return {{"entity", "event"},
          {"account_id", "acc_fake"},
          {"event", event},
          {"contains", {"payment"}},
          {"payload", {{"payment", {{"entity", payment}}}}},
          {"created_at", created_at}};
}

int FakeRazorpay::deliver(const std::string& body, const std::string& signature,
                          const std::string& event_id) {
  std::map<std::string, std::string> headers;
  if (!signature.empty()) headers["X-Razorpay-Signature"] = signature;
  if (!event_id.empty()) headers["X-Razorpay-Event-Id"] = event_id;
  return pump_.post_now(body, headers);
}

StatusOr<FakeCheckoutResult> FakeRazorpay::pay(const std::string& order_id) {
  std::string payment_id;
  {
    sync::MutexLock lock(impl_->mutex);
    auto it = impl_->orders.find(order_id);
    if (it == impl_->orders.end()) return not_found("no such order " + order_id);
    if (it->second["status"] == "paid") return failed_precondition("order already paid");
    payment_id = "pay_" + fake::random_token(14);
    impl_->payments[payment_id] = {{"id", payment_id},
                                   {"entity", "payment"},
                                   {"amount", it->second["amount"]},
                                   {"currency", it->second["currency"]},
                                   {"status", "created"},
                                   {"order_id", order_id},
                                   {"method", "card"},
                                   {"amount_refunded", 0},
                                   {"refund_status", nullptr},
                                   {"captured", false},
                                   {"notes", json::array()},
                                   {"created_at", fake::unix_now()}};
    it->second["attempts"] = it->second["attempts"].get<int>() + 1;
    it->second["status"] = "attempted";
  }
  SHOPEASY_RETURN_IF_ERROR(finish(payment_id, true));
  return FakeCheckoutResult{payment_id,
                            hmac_sha256_hex(options_.key_secret, order_id + "|" + payment_id)};
}

Status FakeRazorpay::approve(const std::string& payment_id) { return finish(payment_id, true); }
Status FakeRazorpay::decline(const std::string& payment_id) { return finish(payment_id, false); }

Status FakeRazorpay::finish(const std::string& payment_id, bool captured) {
  json payment;
  {
    sync::MutexLock lock(impl_->mutex);
    auto it = impl_->payments.find(payment_id);
    if (it == impl_->payments.end()) return not_found("no such payment " + payment_id);
    if (it->second["status"] != "created") return failed_precondition("payment already finished");
    json& order = impl_->orders[it->second["order_id"].get<std::string>()];
    if (captured) {
      it->second["status"] = "captured";
      it->second["captured"] = true;
      order["status"] = "paid";
      order["amount_paid"] = order["amount"];
      order["amount_due"] = 0;
    } else {
      it->second["status"] = "failed";
      it->second["error_code"] = "BAD_REQUEST_ERROR";
      it->second["error_description"] = "Payment was unsuccessful as the customer declined it.";
      it->second["error_reason"] = "payment_cancelled";
    }
    payment = it->second;
  }
  emit(captured ? "payment.captured" : "payment.failed", {{"payment", {{"entity", payment}}}});
  return Status::ok();
}

StatusOr<std::unique_ptr<FakeRazorpay>> FakeRazorpay::start(FakeRazorpayOptions options) {
  std::unique_ptr<FakeRazorpay> fake(new FakeRazorpay(std::move(options)));
  FakeRazorpay* self = fake.get();
  Impl& impl = *fake->impl_;
  fake->pump_.set_url(fake->options_.webhook_url);

  auto reply = [](httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(body.dump(), "application/json");
  };
  auto intercept = [self, reply](const httplib::Request& req, httplib::Response& res) {
    fake::Faults::Next fault = self->faults_.take();
    if (fault.kind == fake::Faults::Kind::kDelay) std::this_thread::sleep_for(fault.delay);
    if (fault.kind == fake::Faults::Kind::kStatus) {
      reply(res, fault.status,
            rzp_error("injected failure", "",
                      fault.status >= 500 ? "SERVER_ERROR" : "BAD_REQUEST_ERROR"));
      return true;
    }
    if (fault.kind == fake::Faults::Kind::kMalformed) {
      res.status = 200;
      res.set_content("{\"truncated\":", "application/json");
      return true;
    }
    if (req.get_header_value("Authorization") !=
        basic_auth(self->options_.key_id, self->options_.key_secret)) {
      reply(res, 401, rzp_error("Authentication failed"));
      return true;
    }
    return false;
  };
  // A JSON object body, or a 400 already sent.
  auto json_body = [reply](const httplib::Request& req, httplib::Response& res, json* out) {
    if (req.get_header_value("Content-Type").rfind("application/json", 0) != 0) {
      reply(res, 400, rzp_error("Content-Type must be application/json"));
      return false;
    }
    *out = json::parse(req.body, nullptr, false);
    if (out->is_discarded() || !out->is_object()) {
      reply(res, 400, rzp_error("The request body is not valid JSON"));
      return false;
    }
    return true;
  };
  auto no_such_id = [reply](httplib::Response& res) {
    reply(res, 400, rzp_error("The id provided does not exist"));
  };

  impl.server.Post("/v1/orders", [intercept, json_body, reply, &impl](const httplib::Request& req,
                                                                      httplib::Response& res) {
    if (intercept(req, res)) return;
    json body;
    if (!json_body(req, res, &body)) return;
    if (!body.contains("amount") || !body["amount"].is_number_integer()) {
      return reply(res, 400, rzp_error("The amount field is required.", "amount"));
    }
    if (body["amount"].get<std::int64_t>() < 100) {
      return reply(res, 400, rzp_error("The amount must be atleast INR 1.00", "amount"));
    }
    if (!body.contains("currency") || !body["currency"].is_string() ||
        body["currency"].get<std::string>().size() != 3) {
      return reply(res, 400, rzp_error("The currency field is required.", "currency"));
    }
    const std::string receipt = body.value("receipt", "");
    if (receipt.size() > 40) {
      return reply(res, 400, rzp_error("receipt: the length must be no more than 40.", "receipt"));
    }
    json notes = body.value("notes", json::object());
    if (!notes.is_object() || notes.size() > 15) {
      return reply(res, 400, rzp_error("notes must be an object of at most 15 keys", "notes"));
    }
    const std::string id = "order_" + fake::random_token(14);
    json order = {{"id", id},
                  {"entity", "order"},
                  {"amount", body["amount"]},
                  {"amount_paid", 0},
                  {"amount_due", body["amount"]},
                  {"currency", body["currency"]},
                  {"receipt", receipt.empty() ? json(nullptr) : json(receipt)},
                  {"offer_id", nullptr},
                  {"status", "created"},
                  {"attempts", 0},
                  {"notes", notes},
                  {"created_at", fake::unix_now()}};
    sync::MutexLock lock(impl.mutex);
    impl.orders[id] = order;
    ++impl.orders_created;
    reply(res, 200, order);
  });

  impl.server.Get(
      "/v1/orders", [intercept, reply, &impl](const httplib::Request& req, httplib::Response& res) {
        if (intercept(req, res)) return;
        const std::string receipt = req.get_param_value("receipt");
        json items = json::array();
        sync::MutexLock lock(impl.mutex);
        for (const auto& [id, order] : impl.orders) {
          if (receipt.empty() || (order["receipt"].is_string() && order["receipt"] == receipt)) {
            items.push_back(order);
          }
        }
        reply(res, 200, {{"entity", "collection"}, {"count", items.size()}, {"items", items}});
      });

  impl.server.Get(
      R"(/v1/orders/([A-Za-z0-9_]+))",
      [intercept, reply, no_such_id, &impl](const httplib::Request& req, httplib::Response& res) {
        if (intercept(req, res)) return;
        sync::MutexLock lock(impl.mutex);
        auto it = impl.orders.find(req.matches[1].str());
        if (it == impl.orders.end()) return no_such_id(res);
        reply(res, 200, it->second);
      });

  impl.server.Get(
      R"(/v1/orders/([A-Za-z0-9_]+)/payments)",
      [intercept, reply, no_such_id, &impl](const httplib::Request& req, httplib::Response& res) {
        if (intercept(req, res)) return;
        sync::MutexLock lock(impl.mutex);
        if (!impl.orders.count(req.matches[1].str())) return no_such_id(res);
        json items = json::array();
        for (const auto& [id, p] : impl.payments) {
          if (p["order_id"] == req.matches[1].str()) items.push_back(p);
        }
        reply(res, 200, {{"entity", "collection"}, {"count", items.size()}, {"items", items}});
      });

  impl.server.Get(
      R"(/v1/payments/([A-Za-z0-9_]+))",
      [intercept, reply, no_such_id, &impl](const httplib::Request& req, httplib::Response& res) {
        if (intercept(req, res)) return;
        sync::MutexLock lock(impl.mutex);
        auto it = impl.payments.find(req.matches[1].str());
        if (it == impl.payments.end()) return no_such_id(res);
        reply(res, 200, it->second);
      });

  impl.server.Post("/v1/payments/create/upi", [intercept, json_body, reply, no_such_id, &impl](
                                                  const httplib::Request& req,
                                                  httplib::Response& res) {
    if (intercept(req, res)) return;
    json body;
    if (!json_body(req, res, &body)) return;
    for (const char* field : {"amount", "currency", "order_id", "email", "contact", "method"}) {
      if (!body.contains(field)) {
        return reply(res, 400,
                     rzp_error(std::string("The ") + field + " field is required.", field));
      }
    }
    if (body["method"] != "upi") return reply(res, 400, rzp_error("method must be upi", "method"));
    const json upi = body.value("upi", json::object());
    const std::string flow = upi.is_object() ? upi.value("flow", "") : "";
    if (flow != "collect" && flow != "intent") {
      return reply(res, 400, rzp_error("upi.flow must be collect or intent", "upi.flow"));
    }
    if (flow == "collect" && !upi.contains("vpa")) {
      return reply(res, 400, rzp_error("The vpa field is required.", "upi.vpa"));
    }
    sync::MutexLock lock(impl.mutex);
    impl.last_upi = body;
    const std::string order_id =
        body["order_id"].is_string() ? body["order_id"].get<std::string>() : "";
    auto order = impl.orders.find(order_id);
    if (order == impl.orders.end()) return no_such_id(res);
    if (order->second["status"] == "paid") {
      return reply(res, 400, rzp_error("Order has already been paid", "order_id"));
    }
    if (body["amount"] != order->second["amount"]) {
      return reply(res, 400,
                   rzp_error("Your payment amount is different from your order amount.", "amount"));
    }
    const std::string id = "pay_" + fake::random_token(14);
    impl.payments[id] = {{"id", id},
                         {"entity", "payment"},
                         {"amount", body["amount"]},
                         {"currency", body["currency"]},
                         {"status", "created"},
                         {"order_id", order_id},
                         {"method", "upi"},
                         {"vpa", flow == "collect" ? upi["vpa"] : json(nullptr)},
                         {"email", body["email"]},
                         {"contact", body["contact"]},
                         {"amount_refunded", 0},
                         {"refund_status", nullptr},
                         {"captured", false},
                         {"notes", json::array()},
                         {"created_at", fake::unix_now()}};
    order->second["attempts"] = order->second["attempts"].get<int>() + 1;
    order->second["status"] = "attempted";
    json answer = {{"razorpay_payment_id", id}};
    if (flow == "intent") {
      answer["link"] = "upi://pay?pa=fake@razorpay&pn=ShopEasy&tr=" + id +
                       "&am=" + std::to_string(body["amount"].get<std::int64_t>() / 100) +
                       "&cu=INR";
    }
    reply(res, 200, answer);
  });

  impl.server.Post(R"(/v1/payments/([A-Za-z0-9_]+)/refund)", [self, intercept, json_body, reply,
                                                              no_such_id,
                                                              &impl](const httplib::Request& req,
                                                                     httplib::Response& res) {
    if (intercept(req, res)) return;
    json body;
    if (!json_body(req, res, &body)) return;
    const std::string key = req.get_header_value("X-Refund-Idempotency");
    if (!key.empty() && !valid_refund_key(key)) {
      return reply(res, 400, rzp_error("The idempotency key is invalid"));
    }
    json refund;
    json payment_snapshot;
    {
      sync::MutexLock lock(impl.mutex);
      if (!key.empty()) {
        auto it = impl.refund_keys.find(key);
        if (it != impl.refund_keys.end()) {
          if (it->second.body != req.matches[1].str() + "\n" + req.body) {
            return reply(res, 400,
                         rzp_error("Different request with the same idempotency key has already "
                                   "been processed."));
          }
          return reply(res, 200, it->second.refund);
        }
      }
      auto p = impl.payments.find(req.matches[1].str());
      if (p == impl.payments.end()) return no_such_id(res);
      json& payment = p->second;
      if (payment["status"] != "captured") {
        return reply(res, 400, rzp_error("The payment has not been captured or is fully refunded"));
      }
      const std::int64_t left =
          payment["amount"].get<std::int64_t>() - payment["amount_refunded"].get<std::int64_t>();
      std::int64_t amount = left;
      if (body.contains("amount")) {
        if (!body["amount"].is_number_integer() || body["amount"].get<std::int64_t>() < 100) {
          return reply(res, 400, rzp_error("The amount must be atleast INR 1.00", "amount"));
        }
        amount = body["amount"].get<std::int64_t>();
      }
      if (amount > left) {
        return reply(
            res, 400,
            rzp_error("The refund amount provided is greater than amount captured", "amount"));
      }
      payment["amount_refunded"] = payment["amount_refunded"].get<std::int64_t>() + amount;
      const bool full = amount == left;
      payment["refund_status"] = full ? "full" : "partial";
      if (full) payment["status"] = "refunded";
      const std::string id = "rfnd_" + fake::random_token(14);
      refund = {{"id", id},
                {"entity", "refund"},
                {"amount", amount},
                {"currency", payment["currency"]},
                {"payment_id", payment["id"]},
                {"notes", body.value("notes", json::object())},
                {"receipt", body.value("receipt", json(nullptr))},
                {"acquirer_data", {{"arn", nullptr}}},
                {"created_at", fake::unix_now()},
                {"batch_id", nullptr},
                {"status", "processed"},
                {"speed_processed", "normal"},
                {"speed_requested", body.value("speed", "normal")}};
      ++impl.refunds_created;
      if (!key.empty()) {
        impl.refund_keys[key] = Impl::StoredRefund{req.matches[1].str() + "\n" + req.body, refund};
      }
      payment_snapshot = payment;
    }
    self->emit("refund.processed",
               {{"refund", {{"entity", refund}}}, {"payment", {{"entity", payment_snapshot}}}});
    reply(res, 200, refund);
  });

  impl.port = impl.server.bind_to_any_port("127.0.0.1");
  if (impl.port <= 0) return unavailable("fake Razorpay could not bind a port");
  impl.thread = std::thread([&impl] { impl.server.listen_after_bind(); });
  return fake;
}

}  // namespace shopeasy::cloud::payments
