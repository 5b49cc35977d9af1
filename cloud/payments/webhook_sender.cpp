// Outbound webhook POSTs with headers; see webhook_sender.hpp.
#include "cloud/payments/webhook_sender.hpp"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <utility>

namespace shopeasy::cloud::payments {

struct WebhookSender::Impl {
  std::unique_ptr<httplib::Client> client;
};

WebhookSender::WebhookSender(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WebhookSender::~WebhookSender() = default;

StatusOr<std::unique_ptr<WebhookSender>> WebhookSender::create(const std::string& base_url,
                                                               const http::ClientOptions& options) {
  if (base_url.rfind("http://", 0) != 0 && base_url.rfind("https://", 0) != 0) {
    return invalid_argument("must start with http:// or https://, got '" + base_url + "'", "url");
  }
  auto impl = std::make_unique<Impl>();
  impl->client = std::make_unique<httplib::Client>(base_url);
  if (!impl->client->is_valid()) return invalid_argument("not a usable URL: " + base_url, "url");
  httplib::Client& c = *impl->client;
  c.set_keep_alive(true);
  c.set_tcp_nodelay(true);
  c.set_connection_timeout(options.connect_timeout);
  c.set_read_timeout(options.read_timeout);
  c.set_write_timeout(options.write_timeout);
  if (base_url.rfind("https://", 0) == 0) {
    c.enable_server_certificate_verification(options.verify_server);
    if (!options.ca_file.empty()) c.set_ca_cert_path(options.ca_file);
  }
  return std::unique_ptr<WebhookSender>(new WebhookSender(std::move(impl)));
}

StatusOr<http::ClientResponse> WebhookSender::post(
    const std::string& path, const std::string& body, const std::string& content_type,
    const std::map<std::string, std::string>& headers) {
  httplib::Headers h(headers.begin(), headers.end());
  httplib::Result result = impl_->client->Post(path, h, body, content_type);
  if (!result) {
    return unavailable("POST " + path + " failed: " + httplib::to_string(result.error()));
  }
  http::ClientResponse response;
  response.status = result->status;
  response.body = std::move(result->body);
  for (const auto& [k, v] : result->headers) {
    std::string key = k;
    std::transform(key.begin(), key.end(), key.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    response.headers[key] = v;
  }
  return response;
}

}  // namespace shopeasy::cloud::payments
