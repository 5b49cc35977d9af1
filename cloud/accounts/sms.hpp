// Where sign-in codes go. SmsProvider is what OtpService calls; SandboxSmsProvider
// keeps the messages in the accounts database instead of sending them, for the demo and
// the tests, which read them back through GET /v1/sandbox/sms (admins only);
// HttpSmsProvider (http_sms_provider.hpp) posts them to a gateway's HTTP API.
#pragma once

#include <string>

#include "cloud/accounts/account_store.hpp"
#include "common/clock/clock.hpp"
#include "common/status/status.hpp"

namespace shopeasy::cloud::accounts {

class SmsProvider {
 public:
  virtual ~SmsProvider() = default;
  // Sends `text` to `phone` (E.164). kUnavailable when the provider cannot take it.
  // `idempotency_key`, when not empty, names the message: a provider that was already
  // given a message under that key does not send it again (a notification resent after
  // a crash between sending and recording it reaches the customer once).
  virtual Status send(const std::string& phone, const std::string& text,
                      const std::string& idempotency_key = "") = 0;
};

class SandboxSmsProvider final : public SmsProvider {
 public:
  SandboxSmsProvider(AccountStore& store, const Clock& clock) : store_(store), clock_(clock) {}
  Status send(const std::string& phone, const std::string& text,
              const std::string& idempotency_key = "") override {
    return store_.add_sandbox_sms({.phone = phone,
                                   .body = text,
                                   .at_ms = to_unix_ms(clock_.wall_now()),
                                   .ref = idempotency_key});
  }

 private:
  AccountStore& store_;
  const Clock& clock_;
};

}  // namespace shopeasy::cloud::accounts
