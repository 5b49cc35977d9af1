// HttpClient: outbound HTTP(S) for the edge's cloud sync and the tools, without
// exposing cpp-httplib. Keeps one keep-alive connection; never throws; a transport
// failure (refused, reset, timeout, TLS verification) is kUnavailable so callers back
// off and retry. Not thread-safe: one client per thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include "common/status/status.hpp"

namespace shopeasy::http {

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds read_timeout{15000};
  std::chrono::milliseconds write_timeout{15000};
  bool compress_requests = false;  // gzip request bodies
  std::string ca_file{};           // https: verify the server against this CA (pinning)
  bool verify_server = true;       // https: verify the certificate chain and host name
  std::string bearer_token{};      // sent as Authorization: Bearer
  // Largest answer body accepted, counted after decompression (a gzip bomb from a
  // broken or hostile server stops here); past it the call fails with
  // kPayloadTooLarge. 0: no limit.
  std::size_t max_response_bytes = 64u << 20;
};

struct ClientResponse {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

class HttpClient {
 public:
  // `base_url` is "http://host:port" or "https://host:port". kInvalidArgument for
  // anything else.
  static StatusOr<std::unique_ptr<HttpClient>> create(const std::string& base_url,
                                                      ClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends a request; any HTTP status is a response, only transport failures are errors.
  StatusOr<ClientResponse> post(const std::string& path, const std::string& body,
                                const std::string& content_type);
  // The same with extra request headers (a signature, an idempotency key).
  StatusOr<ClientResponse> post(const std::string& path, const std::string& body,
                                const std::string& content_type,
                                const std::map<std::string, std::string>& headers);
  StatusOr<ClientResponse> get(const std::string& path);
  StatusOr<ClientResponse> put(const std::string& path, const std::string& body,
                               const std::string& content_type);

  // Ends the request in flight, if any (it fails as kUnavailable), and the connection:
  // how a thread holding a long request open is stopped. The one call that may come
  // from another thread than the one making requests.
  void cancel();

  // Bytes sent on the wire by the last request's body (after compression).
  std::size_t last_request_body_bytes() const { return last_body_bytes_; }

 private:
  struct Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  // One request through the library with the answer body capped.
  StatusOr<ClientResponse> exchange(const std::string& method, const std::string& path,
                                    std::string body, const std::string& content_type, bool gzipped,
                                    const std::map<std::string, std::string>& headers = {});
  std::unique_ptr<Impl> impl_;
  std::size_t last_body_bytes_ = 0;
};

}  // namespace shopeasy::http
