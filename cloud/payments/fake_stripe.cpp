// The local Stripe stand-in; see fake_stripe.hpp.
#include "cloud/payments/fake_stripe.hpp"

#include <httplib.h>

#include <map>
#include <set>
#include <thread>
#include <utility>

#include "cloud/payments/provider_http.hpp"
#include "cloud/payments/webhook.hpp"
#include "common/sync/mutex.hpp"

namespace shopeasy::cloud::payments {
namespace {

using nlohmann::json;

json stripe_error(const std::string& type, const std::string& message, const std::string& code = "",
                  const std::string& param = "") {
  json e = {{"type", type}, {"message", message}};
  if (!code.empty()) e["code"] = code;
  if (!param.empty()) e["param"] = param;
  return {{"error", e}};
}

bool parse_amount(const std::string& text, std::int64_t* out) {
  if (text.empty() || text.size() > 12) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  *out = std::stoll(text);
  return true;
}

}  // namespace

struct FakeStripe::Impl {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  mutable sync::Mutex mutex;  // guards the maps and counters below
  std::map<std::string, json> intents
      GUARDED_BY(mutex);  // id -> PaymentIntent (latest_charge as an id)
  std::map<std::string, json> charges GUARDED_BY(mutex);  // id -> Charge
  struct Stored {
    std::string fingerprint;
    int status = 0;
    std::string body;
  };
  std::map<std::string, Stored> idempotent GUARDED_BY(mutex);  // Idempotency-Key -> first answer
  int intents_created GUARDED_BY(mutex) = 0;
  int refunds_created GUARDED_BY(mutex) = 0;
};

FakeStripe::FakeStripe(FakeStripeOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>()) {}

FakeStripe::~FakeStripe() {
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::string FakeStripe::base_url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port);
}

int FakeStripe::intents_created() const {
  sync::MutexLock lock(impl_->mutex);
  return impl_->intents_created;
}

int FakeStripe::refunds_created() const {
  sync::MutexLock lock(impl_->mutex);
  return impl_->refunds_created;
}

std::string FakeStripe::sign(const std::string& body, std::int64_t t) const {
  return webhook_signature_header(options_.webhook_secret, t, body);
}

void FakeStripe::emit(const std::string& type, const json& object) {
  const std::string id = "evt_" + fake::random_token(24);
  json event = {{"id", id},
                {"object", "event"},
                {"api_version", "2024-06-20"},
                {"created", fake::unix_now()},
                {"data", {{"object", object}}},
                {"livemode", false},
                {"pending_webhooks", 1},
                {"request", {{"id", nullptr}, {"idempotency_key", nullptr}}},
                {"type", type}};
  const std::string body = event.dump();
  pump_.post(id, type, body, {{"Stripe-Signature", sign(body, fake::unix_now())}});
}

json FakeStripe::event_for(const std::string& type, const std::string& intent_id) {
  json object;
  {
    sync::MutexLock lock(impl_->mutex);
    auto it = impl_->intents.find(intent_id);
    if (it != impl_->intents.end()) {
      if (type == "charge.refunded" && it->second["latest_charge"].is_string()) {
        object = impl_->charges[it->second["latest_charge"].get<std::string>()];
      } else {
        object = it->second;
      }
    }
  }
  return {
      {"id", "evt_" + fake::random_token(24)}, {"object", "event"}, {"created", fake::unix_now()},
      {"data", {{"object", object}}},          {"livemode", false}, {"type", type}};
}

int FakeStripe::deliver(const std::string& body, const std::string& signature_header) {
  std::map<std::string, std::string> headers;
  if (!signature_header.empty()) headers["Stripe-Signature"] = signature_header;
  return pump_.post_now(body, headers);
}

Status FakeStripe::succeed(const std::string& intent_id) {
  json snapshot;
  {
    sync::MutexLock lock(impl_->mutex);
    auto it = impl_->intents.find(intent_id);
    if (it == impl_->intents.end()) return not_found("no such payment_intent " + intent_id);
    json& pi = it->second;
    if (pi["status"] == "succeeded") return failed_precondition("already succeeded");
    const std::string charge_id = "ch_" + fake::random_token(24);
    impl_->charges[charge_id] = {{"id", charge_id},
                                 {"object", "charge"},
                                 {"amount", pi["amount"]},
                                 {"amount_captured", pi["amount"]},
                                 {"amount_refunded", 0},
                                 {"currency", pi["currency"]},
                                 {"payment_intent", intent_id},
                                 {"metadata", pi["metadata"]},
                                 {"paid", true},
                                 {"refunded", false},
                                 {"status", "succeeded"},
                                 {"created", fake::unix_now()}};
    pi["status"] = "succeeded";
    pi["amount_received"] = pi["amount"];
    pi["latest_charge"] = charge_id;
    snapshot = pi;
  }
  emit("payment_intent.succeeded", snapshot);
  return Status::ok();
}

Status FakeStripe::decline(const std::string& intent_id) {
  json snapshot;
  {
    sync::MutexLock lock(impl_->mutex);
    auto it = impl_->intents.find(intent_id);
    if (it == impl_->intents.end()) return not_found("no such payment_intent " + intent_id);
    json& pi = it->second;
    if (pi["status"] == "succeeded") return failed_precondition("already succeeded");
    pi["status"] = "requires_payment_method";
    pi["last_payment_error"] = {
        {"type", "card_error"}, {"code", "card_declined"}, {"message", "Your card was declined."}};
    snapshot = pi;
  }
  emit("payment_intent.payment_failed", snapshot);
  return Status::ok();
}

StatusOr<std::unique_ptr<FakeStripe>> FakeStripe::start(FakeStripeOptions options) {
  std::unique_ptr<FakeStripe> fake(new FakeStripe(std::move(options)));
  FakeStripe* self = fake.get();
  Impl& impl = *fake->impl_;
  fake->pump_.set_url(fake->options_.webhook_url);

  auto reply = [](httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_header("Request-Id", "req_" + fake::random_token(14));
    res.set_content(body.dump(), "application/json");
  };
  // Faults and authentication, before any handler: true when the request was answered.
  auto intercept = [self, reply](const httplib::Request& req, httplib::Response& res) {
    fake::Faults::Next fault = self->faults_.take();
    if (fault.kind == fake::Faults::Kind::kDelay) std::this_thread::sleep_for(fault.delay);
    if (fault.kind == fake::Faults::Kind::kStatus) {
      reply(res, fault.status,
            stripe_error(fault.status == 429 ? "invalid_request_error" : "api_error",
                         "injected failure", fault.status == 429 ? "rate_limit" : ""));
      return true;
    }
    if (fault.kind == fake::Faults::Kind::kMalformed) {
      res.status = 200;
      res.set_content("<html>upstream proxy error</html>", "text/html");
      return true;
    }
    if (req.get_header_value("Authorization") != "Bearer " + self->options_.secret_key) {
      reply(res, 401,
            stripe_error("invalid_request_error", "Invalid API Key provided: sk_test_****"));
      return true;
    }
    return false;
  };
  // Idempotent POSTs: replays the first answer, refuses the key with other parameters.
  auto idempotent = [self, reply, &impl](const httplib::Request& req, httplib::Response& res,
                                         const std::function<std::pair<int, json>()>& work) {
    const std::string key = req.get_header_value("Idempotency-Key");
    const std::string fingerprint = req.path + "\n" + req.body;
    if (!key.empty()) {
      sync::MutexLock lock(impl.mutex);
      auto it = impl.idempotent.find(key);
      if (it != impl.idempotent.end()) {
        if (it->second.fingerprint != fingerprint) {
          reply(res, 400,
                stripe_error("idempotency_error",
                             "Keys for idempotent requests can only be used with the same "
                             "parameters they were first used with."));
          return;
        }
        res.status = it->second.status;
        res.set_header("Idempotent-Replayed", "true");
        res.set_content(it->second.body, "application/json");
        return;
      }
    }
    auto [status, body] = work();
    // Stripe stores answers that executed, including 4xx, but not 5xx.
    if (!key.empty() && status < 500) {
      sync::MutexLock lock(impl.mutex);
      impl.idempotent[key] = Impl::Stored{fingerprint, status, body.dump()};
    }
    (void)self;
    reply(res, status, body);
  };

  impl.server.Post("/v1/payment_intents", [self, intercept, idempotent, &impl](
                                              const httplib::Request& req, httplib::Response& res) {
    if (intercept(req, res)) return;
    idempotent(req, res, [&]() -> std::pair<int, json> {
      if (req.get_header_value("Content-Type").rfind("application/x-www-form-urlencoded", 0) != 0) {
        return {400, stripe_error("invalid_request_error",
                                  "Stripe takes application/x-www-form-urlencoded bodies")};
      }
      auto form = form_decode(req.body);
      if (!form.ok()) return {400, stripe_error("invalid_request_error", "malformed form body")};
      json metadata = json::object();
      std::string amount_text, currency;
      bool have_amount = false, have_currency = false;
      for (const auto& [key, value] : *form) {
        if (key == "amount") {
          amount_text = value;
          have_amount = true;
        } else if (key == "currency") {
          currency = value;
          have_currency = true;
        } else if (key.rfind("metadata[", 0) == 0 && key.back() == ']') {
          metadata[key.substr(9, key.size() - 10)] = value;
        } else if (key == "automatic_payment_methods[enabled]" || key == "description") {
        } else {
          return {400, stripe_error("invalid_request_error", "Received unknown parameter: " + key,
                                    "parameter_unknown", key)};
        }
      }
      if (!have_amount) {
        return {400, stripe_error("invalid_request_error", "Missing required param: amount.",
                                  "parameter_missing", "amount")};
      }
      if (!have_currency) {
        return {400, stripe_error("invalid_request_error", "Missing required param: currency.",
                                  "parameter_missing", "currency")};
      }
      std::int64_t amount = 0;
      if (!parse_amount(amount_text, &amount) || amount < 1) {
        return {400, stripe_error("invalid_request_error", "Invalid integer: " + amount_text,
                                  "parameter_invalid_integer", "amount")};
      }
      if (currency.size() != 3) {
        return {400, stripe_error("invalid_request_error", "Invalid currency: " + currency, "",
                                  "currency")};
      }
      const std::string id = "pi_" + fake::random_token(24);
      json pi = {{"id", id},
                 {"object", "payment_intent"},
                 {"amount", amount},
                 {"amount_received", 0},
                 {"currency", currency},
                 {"status", "requires_payment_method"},
                 {"client_secret", id + "_secret_" + fake::random_token(24)},
                 {"metadata", metadata},
                 {"created", fake::unix_now()},
                 {"latest_charge", nullptr},
                 {"livemode", false}};
      sync::MutexLock lock(impl.mutex);
      impl.intents[id] = pi;
      ++impl.intents_created;
      (void)self;
      return {200, pi};
    });
  });

  impl.server.Get(R"(/v1/payment_intents/([A-Za-z0-9_]+))",
                  [intercept, reply, &impl](const httplib::Request& req, httplib::Response& res) {
                    if (intercept(req, res)) return;
                    sync::MutexLock lock(impl.mutex);
                    auto it = impl.intents.find(req.matches[1].str());
                    if (it == impl.intents.end()) {
                      reply(res, 404,
                            stripe_error("invalid_request_error",
                                         "No such payment_intent: '" + req.matches[1].str() + "'",
                                         "resource_missing", "intent"));
                      return;
                    }
                    json pi = it->second;
                    bool expand = false;
                    for (auto range = req.params.equal_range("expand[]");
                         range.first != range.second; ++range.first) {
                      expand |= range.first->second == "latest_charge";
                    }
                    if (expand && pi["latest_charge"].is_string()) {
                      pi["latest_charge"] = impl.charges[pi["latest_charge"].get<std::string>()];
                    }
                    reply(res, 200, pi);
                  });

  impl.server.Post("/v1/refunds", [self, intercept, idempotent, &impl](const httplib::Request& req,
                                                                       httplib::Response& res) {
    if (intercept(req, res)) return;
    json charge_snapshot;
    idempotent(req, res, [&]() -> std::pair<int, json> {
      auto form = form_decode(req.body);
      if (!form.ok()) return {400, stripe_error("invalid_request_error", "malformed form body")};
      std::string intent_id, amount_text;
      for (const auto& [key, value] : *form) {
        if (key == "payment_intent") {
          intent_id = value;
        } else if (key == "amount") {
          amount_text = value;
        } else if (key != "reason" && key.rfind("metadata[", 0) != 0) {
          return {400, stripe_error("invalid_request_error", "Received unknown parameter: " + key,
                                    "parameter_unknown", key)};
        }
      }
      sync::MutexLock lock(impl.mutex);
      auto it = impl.intents.find(intent_id);
      if (it == impl.intents.end()) {
        return {404,
                stripe_error("invalid_request_error", "No such payment_intent: '" + intent_id + "'",
                             "resource_missing", "payment_intent")};
      }
      if (!it->second["latest_charge"].is_string()) {
        return {400, stripe_error("invalid_request_error",
                                  "This PaymentIntent does not have a successful charge to refund.",
                                  "", "payment_intent")};
      }
      json& charge = impl.charges[it->second["latest_charge"].get<std::string>()];
      const std::int64_t left =
          charge["amount"].get<std::int64_t>() - charge["amount_refunded"].get<std::int64_t>();
      if (left == 0) {
        return {400, stripe_error("invalid_request_error",
                                  "Charge " + charge["id"].get<std::string>() +
                                      " has already been refunded.",
                                  "charge_already_refunded")};
      }
      std::int64_t amount = left;
      if (!amount_text.empty() && (!parse_amount(amount_text, &amount) || amount < 1)) {
        return {400, stripe_error("invalid_request_error", "Invalid integer: " + amount_text,
                                  "parameter_invalid_integer", "amount")};
      }
      if (amount > left) {
        return {400, stripe_error("invalid_request_error",
                                  "Refund amount is greater than unrefunded amount on charge", "",
                                  "amount")};
      }
      charge["amount_refunded"] = charge["amount_refunded"].get<std::int64_t>() + amount;
      charge["refunded"] = amount == left;
      ++impl.refunds_created;
      charge_snapshot = charge;
      return {200, json{{"id", "re_" + fake::random_token(24)},
                        {"object", "refund"},
                        {"amount", amount},
                        {"charge", charge["id"]},
                        {"payment_intent", intent_id},
                        {"currency", charge["currency"]},
                        {"status", "succeeded"},
                        {"created", fake::unix_now()},
                        {"metadata", json::object()}}};
    });
    if (!charge_snapshot.is_null()) self->emit("charge.refunded", charge_snapshot);
  });

  impl.port = impl.server.bind_to_any_port("127.0.0.1");
  if (impl.port <= 0) return unavailable("fake Stripe could not bind a port");
  impl.thread = std::thread([&impl] { impl.server.listen_after_bind(); });
  return fake;
}

}  // namespace shopeasy::cloud::payments
