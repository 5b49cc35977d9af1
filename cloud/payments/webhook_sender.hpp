// WebhookSender: outbound HTTP for webhook deliveries and provider API calls. It is
// http::HttpClient's behaviour (keep-alive, timeouts, TLS verification, never throws,
// transport failures as kUnavailable, a capped answer body) plus per-request headers,
// which signatures and API authentication need and HttpClient does not offer.
// cpp-httplib stays inside the .cpp.
// Not thread-safe: one sender per delivering thread.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include "common/http/client.hpp"
#include "common/status/status.hpp"

namespace shopeasy::cloud::payments {

class WebhookSender {
 public:
  // `base_url` is "http://host:port" or "https://host:port"; kInvalidArgument otherwise.
  static StatusOr<std::unique_ptr<WebhookSender>> create(const std::string& base_url,
                                                         const http::ClientOptions& options);
  ~WebhookSender();
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  // Any HTTP status is a response; only transport failures are errors (kUnavailable).
  StatusOr<http::ClientResponse> post(const std::string& path, const std::string& body,
                                      const std::string& content_type,
                                      const std::map<std::string, std::string>& headers);
  // Any method; an answer larger than options.max_response_bytes (when non-zero) is
  // kPayloadTooLarge.
  StatusOr<http::ClientResponse> send(const std::string& method, const std::string& path,
                                      const std::string& body, const std::string& content_type,
                                      const std::map<std::string, std::string>& headers);

 private:
  struct Impl;
  explicit WebhookSender(std::unique_ptr<Impl> impl);
  std::size_t max_response_bytes_ = 0;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shopeasy::cloud::payments
