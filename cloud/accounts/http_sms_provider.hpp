// An SmsProvider that posts each message to an SMS gateway's HTTP API:
// POST <url> with {"to": "+91...", "text": "..."} as JSON and "Authorization: Bearer
// <token>". Any 2xx is accepted; another status or a transport failure is kUnavailable
// naming the status only (never the token or the gateway's answer, which may echo the
// message). Gateways with another request shape need a small adapter in front, or a
// provider of their own here. Thread-safe: the client is used by one call at a time.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "cloud/accounts/sms.hpp"
#include "common/http/client.hpp"
#include "common/sync/mutex.hpp"

namespace shopeasy::cloud::accounts {

struct HttpSmsOptions {
  // https://host[:port]/path; http only for a loopback host (tests, a local relay).
  std::string url{};
  std::string token{};  // secret
  std::chrono::milliseconds timeout{5000};
  std::string ca_file{};  // trust only this CA for the gateway (empty: the system's)
};

class HttpSmsProvider final : public SmsProvider {
 public:
  // kInvalidArgument naming "url" for a malformed or plain-http remote URL.
  static StatusOr<std::unique_ptr<HttpSmsProvider>> create(HttpSmsOptions options);
  // A non-empty idempotency_key goes along as the Idempotency-Key header, for gateways
  // that drop a message they were already given.
  Status send(const std::string& phone, const std::string& text,
              const std::string& idempotency_key = "") override EXCLUDES(mu_);

 private:
  HttpSmsProvider(HttpSmsOptions options, std::string base, std::string path)
      : options_(std::move(options)), base_(std::move(base)), path_(std::move(path)) {}
  HttpSmsOptions options_;
  std::string base_;  // scheme://host[:port]
  std::string path_;
  sync::Mutex mu_;  // guards client_: HttpClient is not thread-safe
  std::unique_ptr<http::HttpClient> client_ GUARDED_BY(mu_);
};

}  // namespace shopeasy::cloud::accounts
