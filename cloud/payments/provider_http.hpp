// ProviderHttp: the outbound HTTP a real payment provider adapter needs. Thread-safe
// (requests from several order-flow threads share a small pool of keep-alive
// connections), never throws, every transport failure (refused, reset, timeout, TLS) is
// kUnavailable, and the answer body is capped. A base URL must be https unless it points
// at this machine (a local fake in tests): API keys never cross a network in clear text.
// Also the encoders the providers' wire formats need.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/http/client.hpp"
#include "common/status/status.hpp"
#include "common/sync/mutex.hpp"

namespace shopeasy::cloud::payments {

class WebhookSender;

struct ProviderHttpOptions {
  std::string base_url;  // "https://api.stripe.com"; http only for a loopback host
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds timeout{10000};  // read and write
  std::string ca_file;                       // https: trust only this CA (empty: system store)
  std::size_t max_response_bytes = 1 << 20;
  std::size_t pool_size = 4;  // idle connections kept
};

class ProviderHttp {
 public:
  // kInvalidArgument (field "api_base_url") for a URL that is not http(s)://host[:port],
  // or is plain http to a host other than localhost, 127.0.0.0/8 or ::1.
  static StatusOr<std::unique_ptr<ProviderHttp>> create(ProviderHttpOptions options);
  ~ProviderHttp();
  ProviderHttp(const ProviderHttp&) = delete;
  ProviderHttp& operator=(const ProviderHttp&) = delete;

  // Any HTTP status is a response; transport failures are kUnavailable and an answer
  // larger than max_response_bytes kPayloadTooLarge. `method` is GET or POST.
  StatusOr<http::ClientResponse> send(const std::string& method, const std::string& path,
                                      const std::string& body, const std::string& content_type,
                                      const std::map<std::string, std::string>& headers)
      EXCLUDES(mutex_);

  const std::string& base_url() const { return options_.base_url; }

 private:
  explicit ProviderHttp(ProviderHttpOptions options);
  ProviderHttpOptions options_;
  sync::Mutex mutex_;  // guards idle_: requests run on many threads at once
  std::vector<std::unique_ptr<WebhookSender>> idle_ GUARDED_BY(mutex_);
};

// Whether `base_url` (scheme://host[:port]) is acceptable for API traffic; the empty
// string when it is, else what is wrong.
std::string check_api_base_url(const std::string& base_url);

// RFC 3986 percent-encoding of everything but unreserved characters, for form values
// and path segments.
std::string url_encode(std::string_view text);
// application/x-www-form-urlencoded from ordered key/value pairs ("a=1&b=x%20y").
std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields);
// The inverse: pairs in order; kInvalidArgument for a bad %-escape.
StatusOr<std::vector<std::pair<std::string, std::string>>> form_decode(std::string_view body);
// "Basic base64(user:password)".
std::string basic_auth(std::string_view user, std::string_view password);
// Lower-case hex HMAC-SHA256(key, data).
std::string hmac_sha256_hex(std::string_view key, std::string_view data);
// Lower-case hex SHA-256(data).
std::string sha256_hex(std::string_view data);
// Constant-time comparison of two strings (length may leak, content does not).
bool constant_time_equal(std::string_view a, std::string_view b);

// ASCII case mapping (currencies: ISO 4217 upper case ours, lower case Stripe's).
std::string ascii_lower(std::string text);
std::string ascii_upper(std::string text);
// Three ASCII letters, any case: the shape of an ISO 4217 code.
bool valid_currency(const std::string& code);

}  // namespace shopeasy::cloud::payments
