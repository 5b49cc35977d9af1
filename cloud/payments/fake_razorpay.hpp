// FakeRazorpay: a local stand-in for the parts of Razorpay's API the adapter uses, for
// tests. It serves on 127.0.0.1 (a free port), checks HTTP Basic key_id:key_secret,
// takes JSON bodies, answers in Razorpay's entity and error shapes (an unknown id is a
// 400 BAD_REQUEST_ERROR, as Razorpay answers), and keeps orders, payments and refunds in
// memory. Refunds honour X-Refund-Idempotency. The test plays the customer: pay() is a
// Checkout payment, approve()/decline() finish a UPI payment the cloud started. Each
// change sends a webhook signed with X-Razorpay-Signature and carrying
// X-Razorpay-Event-Id, as Razorpay does.
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

struct FakeRazorpayOptions {
  std::string key_id = "rzp_test_fake12345678";
  std::string key_secret = "fake_key_secret_0123456789";
  std::string webhook_secret = "fake_razorpay_webhook_secret_0123456789";
  std::string webhook_url;
};

struct FakeCheckoutResult {
  std::string payment_id;
  std::string signature;  // razorpay_signature as Checkout hands it to the browser
};

class FakeRazorpay {
 public:
  static StatusOr<std::unique_ptr<FakeRazorpay>> start(FakeRazorpayOptions options);
  ~FakeRazorpay();
  FakeRazorpay(const FakeRazorpay&) = delete;
  FakeRazorpay& operator=(const FakeRazorpay&) = delete;

  std::string base_url() const;
  void set_webhook_url(std::string url) { pump_.set_url(std::move(url)); }
  fake::Faults& faults() { return faults_; }

  // The customer pays the order in Checkout: a captured payment, the order paid,
  // payment.captured sent.
  StatusOr<FakeCheckoutResult> pay(const std::string& order_id);
  // The customer approves / declines a UPI payment started with create/upi.
  Status approve(const std::string& payment_id);
  Status decline(const std::string& payment_id);

  // Webhook pieces for tests of the receiver.
  std::string sign(const std::string& body) const;  // hex HMAC-SHA256 of the body
  // An event body about a payment's current state, created_at as given.
  nlohmann::json event_for(const std::string& event, const std::string& payment_id,
                           std::int64_t created_at);
  // Posts a body with the given headers now; the receiver's status.
  int deliver(const std::string& body, const std::string& signature, const std::string& event_id);

  std::vector<fake::Delivery> deliveries() { return pump_.deliveries(); }
  bool drain(std::chrono::milliseconds timeout) { return pump_.drain(timeout); }
  int orders_created() const;
  int refunds_created() const;
  // The request body of the last POST /v1/payments/create/upi, for checks.
  nlohmann::json last_upi_request() const;

 private:
  struct Impl;
  explicit FakeRazorpay(FakeRazorpayOptions options);
  // Marks a payment captured (its order paid) or failed and sends the event.
  Status finish(const std::string& payment_id, bool captured);
  void emit(const std::string& event, const nlohmann::json& payload);
  FakeRazorpayOptions options_;
  fake::Faults faults_;
  fake::WebhookPump pump_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shopeasy::cloud::payments
