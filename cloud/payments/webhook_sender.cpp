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
  std::unique_ptr<WebhookSender> sender(new WebhookSender(std::move(impl)));
  sender->max_response_bytes_ = options.max_response_bytes;
  return sender;
}

StatusOr<http::ClientResponse> WebhookSender::post(
    const std::string& path, const std::string& body, const std::string& content_type,
    const std::map<std::string, std::string>& headers) {
  return send("POST", path, body, content_type, headers);
}

StatusOr<http::ClientResponse> WebhookSender::send(
    const std::string& method, const std::string& path, const std::string& body,
    const std::string& content_type, const std::map<std::string, std::string>& headers) {
  httplib::Request req;
  req.method = method;
  req.path = path;
  for (const auto& [k, v] : headers) req.set_header(k, v);
  if (!content_type.empty()) req.set_header("Content-Type", content_type);
  req.body = body;
  std::string received;
  bool too_large = false;
  const std::size_t cap = max_response_bytes_;
  req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
    if (cap > 0 && received.size() + n > cap) {
      too_large = true;
      return false;
    }
    received.append(data, n);
    return true;
  };
  httplib::Result result = impl_->client->send(req);
  if (too_large) {
    return Status(
        StatusCode::kPayloadTooLarge,
        method + " " + path + ": the answer is larger than " + std::to_string(cap) + " bytes");
  }
  if (!result) {
    return unavailable(method + " " + path + " failed: " + httplib::to_string(result.error()));
  }
  http::ClientResponse response;
  response.status = result->status;
  response.body = std::move(received);
  for (const auto& [k, v] : result->headers) {
    std::string key = k;
    std::transform(key.begin(), key.end(), key.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    response.headers[key] = v;
  }
  return response;
}

}  // namespace shopeasy::cloud::payments
