#include "common/http/client.hpp"

#include <httplib.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace shopeasy::http {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// gzip-compresses `in`; empty on failure (the caller then sends it plain).
std::string gzip(const std::string& in) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return {};
  }
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(in.size())));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return rc == Z_STREAM_END ? out : std::string();
}

}  // namespace

struct HttpClient::Impl {
  std::unique_ptr<httplib::Client> client;
  ClientOptions options;
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

void HttpClient::cancel() { impl_->client->stop(); }

StatusOr<std::unique_ptr<HttpClient>> HttpClient::create(const std::string& base_url,
                                                         ClientOptions options) {
  if (base_url.rfind("http://", 0) != 0 && base_url.rfind("https://", 0) != 0) {
    return invalid_argument("must start with http:// or https://, got '" + base_url + "'", "url");
  }
  auto impl = std::make_unique<Impl>();
  impl->client = std::make_unique<httplib::Client>(base_url);
  if (!impl->client->is_valid()) return invalid_argument("not a usable URL: " + base_url, "url");
  auto& c = *impl->client;
  c.set_keep_alive(true);
  // Headers and body go out in separate writes; without this, Nagle holds the body until
  // the peer's delayed ACK (up to 40 ms per request).
  c.set_tcp_nodelay(true);
  c.set_connection_timeout(options.connect_timeout);
  c.set_read_timeout(options.read_timeout);
  c.set_write_timeout(options.write_timeout);
  c.set_decompress(true);
  if (!options.bearer_token.empty()) c.set_bearer_token_auth(options.bearer_token);
  if (base_url.rfind("https://", 0) == 0) {
    c.enable_server_certificate_verification(options.verify_server);
    if (!options.ca_file.empty()) c.set_ca_cert_path(options.ca_file);
  }
  impl->options = std::move(options);
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

StatusOr<ClientResponse> HttpClient::exchange(const std::string& method, const std::string& path,
                                              std::string body, const std::string& content_type,
                                              bool gzipped,
                                              const std::map<std::string, std::string>& headers) {
  httplib::Request req;
  req.method = method;
  req.path = path;
  for (const auto& [name, value] : headers) req.set_header(name, value);
  if (!content_type.empty()) req.set_header("Content-Type", content_type);
  if (gzipped) req.set_header("Content-Encoding", "gzip");
  last_body_bytes_ = body.size();
  req.body = std::move(body);
  std::string received;
  bool too_large = false;
  const std::size_t cap = impl_->options.max_response_bytes;
  // The library inflates a compressed answer before handing it over, so the cap
  // counts what would be kept in memory.
  req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
    if (cap > 0 && received.size() + n > cap) {
      too_large = true;
      return false;
    }
    received.append(data, n);
    return true;
  };
  httplib::Result result = impl_->client->send(req);
  const std::string what = method + " " + path;
  if (too_large) {
    return Status(StatusCode::kPayloadTooLarge,
                  what + ": the answer is larger than " + std::to_string(cap) + " bytes");
  }
  if (!result) {
    return unavailable(what + " failed: " + httplib::to_string(result.error()));
  }
  ClientResponse r;
  r.status = result->status;
  r.body = std::move(received);
  for (const auto& [k, v] : result->headers) r.headers[lower(k)] = v;
  return r;
}

StatusOr<ClientResponse> HttpClient::post(const std::string& path, const std::string& body,
                                          const std::string& content_type) {
  if (impl_->options.compress_requests && body.size() > 256) {
    std::string packed = gzip(body);
    if (!packed.empty()) return exchange("POST", path, std::move(packed), content_type, true);
  }
  return exchange("POST", path, body, content_type, false);
}

StatusOr<ClientResponse> HttpClient::post(const std::string& path, const std::string& body,
                                          const std::string& content_type,
                                          const std::map<std::string, std::string>& headers) {
  return exchange("POST", path, body, content_type, false, headers);
}

StatusOr<ClientResponse> HttpClient::put(const std::string& path, const std::string& body,
                                         const std::string& content_type) {
  return exchange("PUT", path, body, content_type, false);
}

StatusOr<ClientResponse> HttpClient::get(const std::string& path) {
  return exchange("GET", path, "", "", false);
}

}  // namespace shopeasy::http
