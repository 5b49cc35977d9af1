#include "cloud/accounts/http_sms_provider.hpp"

#include <nlohmann/json.hpp>

#include "cloud/payments/provider_http.hpp"

namespace shopeasy::cloud::accounts {

StatusOr<std::unique_ptr<HttpSmsProvider>> HttpSmsProvider::create(HttpSmsOptions options) {
  const std::string& url = options.url;
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) {
    return invalid_argument("must be https://host[:port]/path", "url");
  }
  const std::size_t path_start = url.find('/', scheme_end + 3);
  std::string base = url.substr(0, path_start);
  std::string path = path_start == std::string::npos ? "/" : url.substr(path_start);
  // The same rule as the payment APIs: https, or http to a loopback address only.
  if (std::string problem = payments::check_api_base_url(base); !problem.empty()) {
    return invalid_argument(problem, "url");
  }
  if (options.token.empty()) return invalid_argument("is required", "token");
  return std::unique_ptr<HttpSmsProvider>(
      new HttpSmsProvider(std::move(options), std::move(base), std::move(path)));
}

Status HttpSmsProvider::send(const std::string& phone, const std::string& text,
                             const std::string& idempotency_key) {
  sync::MutexLock lock(mu_);
  if (!client_) {
    http::ClientOptions o;
    o.connect_timeout = options_.timeout;
    o.read_timeout = options_.timeout;
    o.write_timeout = options_.timeout;
    o.ca_file = options_.ca_file;
    o.bearer_token = options_.token;
    o.max_response_bytes = 64 * 1024;
    auto client = http::HttpClient::create(base_, std::move(o));
    if (!client.ok()) return client.status();
    client_ = std::move(*client);
  }
  std::map<std::string, std::string> headers;
  if (!idempotency_key.empty()) headers["Idempotency-Key"] = idempotency_key;
  StatusOr<http::ClientResponse> r = client_->post(
      path_, nlohmann::json{{"to", phone}, {"text", text}}.dump(), "application/json", headers);
  if (!r.ok()) {
    client_.reset();  // a fresh connection next time
    return unavailable("the SMS gateway cannot be reached");
  }
  if (r->status < 200 || r->status > 299) {
    return unavailable("the SMS gateway answered " + std::to_string(r->status));
  }
  return Status::ok();
}

}  // namespace shopeasy::cloud::accounts
