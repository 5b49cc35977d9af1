#include "common/http/client.hpp"

#include <httplib.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>

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

namespace {
StatusOr<ClientResponse> convert(httplib::Result&& result, const std::string& what) {
  if (!result) {
    return unavailable(what + " failed: " + httplib::to_string(result.error()));
  }
  ClientResponse r;
  r.status = result->status;
  r.body = std::move(result->body);
  for (const auto& [k, v] : result->headers) r.headers[lower(k)] = v;
  return r;
}
}  // namespace

StatusOr<ClientResponse> HttpClient::post(const std::string& path, const std::string& body,
                                          const std::string& content_type) {
  httplib::Headers headers;
  if (impl_->options.compress_requests && body.size() > 256) {
    std::string packed = gzip(body);
    if (!packed.empty()) {
      headers.emplace("Content-Encoding", "gzip");
      last_body_bytes_ = packed.size();
      return convert(impl_->client->Post(path, headers, packed, content_type), "POST " + path);
    }
  }
  last_body_bytes_ = body.size();
  return convert(impl_->client->Post(path, headers, body, content_type), "POST " + path);
}

StatusOr<ClientResponse> HttpClient::put(const std::string& path, const std::string& body,
                                         const std::string& content_type) {
  last_body_bytes_ = body.size();
  return convert(impl_->client->Put(path, body, content_type), "PUT " + path);
}

StatusOr<ClientResponse> HttpClient::get(const std::string& path) {
  last_body_bytes_ = 0;
  return convert(impl_->client->Get(path), "GET " + path);
}

}  // namespace shopeasy::http
