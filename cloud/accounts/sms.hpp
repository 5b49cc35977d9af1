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
  virtual Status send(const std::string& phone, const std::string& text) = 0;
};

class SandboxSmsProvider final : public SmsProvider {
 public:
  SandboxSmsProvider(AccountStore& store, const Clock& clock) : store_(store), clock_(clock) {}
  Status send(const std::string& phone, const std::string& text) override {
    return store_.add_sandbox_sms({phone, text, to_unix_ms(clock_.wall_now())});
  }

 private:
  AccountStore& store_;
  const Clock& clock_;
};

}  // namespace shopeasy::cloud::accounts
