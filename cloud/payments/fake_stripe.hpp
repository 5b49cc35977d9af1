// FakeStripe: a local stand-in for the parts of Stripe's API the adapter uses, for
// tests. It serves on 127.0.0.1 (a free port), checks the Bearer secret key, parses
// form-encoded bodies as Stripe does (unknown or missing parameters are refused in
// Stripe's error shape), honours Idempotency-Key (a replay returns the first answer, the
// same key with other parameters is an idempotency_error), and keeps PaymentIntents,
// Charges and Refunds in memory. The test plays the customer with succeed()/decline();
// each change sends a Stripe-signed event to the webhook URL, as Stripe would.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloud/payments/fake_provider_common.hpp"
#include "common/status/status.hpp"

namespace shopeasy::cloud::payments {

struct FakeStripeOptions {
  std::string secret_key = "sk_test_fake0123456789abcdefghijklmn";
  std::string webhook_secret = "whsec_fake0123456789abcdefghijklmnopqrstuv";
  std::string webhook_url;  // may be set later with set_webhook_url()
};

class FakeStripe {
 public:
  static StatusOr<std::unique_ptr<FakeStripe>> start(FakeStripeOptions options);
  ~FakeStripe();
  FakeStripe(const FakeStripe&) = delete;
  FakeStripe& operator=(const FakeStripe&) = delete;

  std::string base_url() const;  // "http://127.0.0.1:<port>"
  void set_webhook_url(std::string url) { pump_.set_url(std::move(url)); }
  fake::Faults& faults() { return faults_; }

  // The customer completes the payment: the intent succeeds with a charge, and
  // payment_intent.succeeded is sent. kNotFound / kFailedPrecondition otherwise.
  Status succeed(const std::string& intent_id);
  // The card is declined: the intent goes back to requires_payment_method and
  // payment_intent.payment_failed is sent.
  Status decline(const std::string& intent_id);

  // The header Stripe would send for this body at time t.
  std::string sign(const std::string& body, std::int64_t t) const;
  // An event of `type` about the intent's current state, with a fresh id.
  nlohmann::json event_for(const std::string& type, const std::string& intent_id);
  // Posts an event body with the given signature header now; the receiver's status.
  int deliver(const std::string& body, const std::string& signature_header);

  std::vector<fake::Delivery> deliveries() { return pump_.deliveries(); }
  bool drain(std::chrono::milliseconds timeout) { return pump_.drain(timeout); }
  // PaymentIntents created so far (replays do not count).
  int intents_created() const;
  int refunds_created() const;

 private:
  struct Impl;
  explicit FakeStripe(FakeStripeOptions options);
  void emit(const std::string& type, const nlohmann::json& object);
  FakeStripeOptions options_;
  fake::Faults faults_;
  fake::WebhookPump pump_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shopeasy::cloud::payments
