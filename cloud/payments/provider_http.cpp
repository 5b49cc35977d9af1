// Outbound HTTP for provider adapters; see provider_http.hpp.
#include "cloud/payments/provider_http.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>

#include "cloud/payments/webhook_sender.hpp"
#include "common/security/encoding.hpp"

namespace shopeasy::cloud::payments {
namespace {

bool is_loopback_host(std::string_view host) {
  return host == "localhost" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

StatusOr<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= text.size()) {
        return invalid_argument("truncated %-escape in form body");
      }
      const int hi = hex_value(text[i + 1]);
      const int lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return invalid_argument("bad %-escape in form body");
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string check_api_base_url(const std::string& base_url) {
  std::string_view rest;
  bool https = false;
  if (base_url.rfind("https://", 0) == 0) {
    https = true;
    rest = std::string_view(base_url).substr(8);
  } else if (base_url.rfind("http://", 0) == 0) {
    rest = std::string_view(base_url).substr(7);
  } else {
    return "must start with https:// (or http:// for a loopback test server)";
  }
  if (rest.empty() || rest.find('/') != std::string_view::npos ||
      rest.find('@') != std::string_view::npos || rest.find('?') != std::string_view::npos) {
    return "must be scheme://host[:port] with no path, query or credentials";
  }
  std::string_view host = rest;
  if (host.front() == '[') {
    host = host.substr(0, host.find(']') + 1);
  } else {
    host = host.substr(0, host.find(':'));
  }
  if (host.empty()) return "has no host";
  if (!https && !is_loopback_host(host)) {
    return "must be https: API keys would cross the network in clear text (http is "
           "accepted only for localhost, 127.0.0.0/8 and [::1])";
  }
  return {};
}

ProviderHttp::ProviderHttp(ProviderHttpOptions options) : options_(std::move(options)) {}
ProviderHttp::~ProviderHttp() = default;

StatusOr<std::unique_ptr<ProviderHttp>> ProviderHttp::create(ProviderHttpOptions options) {
  if (std::string problem = check_api_base_url(options.base_url); !problem.empty()) {
    return invalid_argument("api base URL '" + options.base_url + "' " + problem, "api_base_url");
  }
  if (options.timeout <= std::chrono::milliseconds(0) ||
      options.connect_timeout <= std::chrono::milliseconds(0)) {
    return invalid_argument("timeouts must be positive", "api_timeout_ms");
  }
  return std::unique_ptr<ProviderHttp>(new ProviderHttp(std::move(options)));
}

StatusOr<http::ClientResponse> ProviderHttp::send(
    const std::string& method, const std::string& path, const std::string& body,
    const std::string& content_type, const std::map<std::string, std::string>& headers) {
  std::unique_ptr<WebhookSender> client;
  {
    sync::MutexLock lock(mutex_);
    if (!idle_.empty()) {
      client = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!client) {
    http::ClientOptions o;
    o.connect_timeout = options_.connect_timeout;
    o.read_timeout = options_.timeout;
    o.write_timeout = options_.timeout;
    o.ca_file = options_.ca_file;
    o.max_response_bytes = options_.max_response_bytes;
    auto created = WebhookSender::create(options_.base_url, o);
    if (!created.ok()) return created.status();
    client = std::move(created).value();
  }
  StatusOr<http::ClientResponse> response = client->send(method, path, body, content_type, headers);
  if (response.ok()) {
    // A connection that failed may be half-closed; only healthy ones go back.
    sync::MutexLock lock(mutex_);
    if (idle_.size() < options_.pool_size) idle_.push_back(std::move(client));
  }
  return response;
}

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [key, value] : fields) {
    if (!out.empty()) out += '&';
    out += url_encode(key);
    out += '=';
    out += url_encode(value);
  }
  return out;
}

StatusOr<std::vector<std::pair<std::string, std::string>>> form_decode(std::string_view body) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!body.empty()) {
    const std::size_t amp = body.find('&');
    std::string_view item = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    if (item.empty()) continue;
    const std::size_t eq = item.find('=');
    StatusOr<std::string> key = percent_decode(item.substr(0, eq));
    if (!key.ok()) return key.status();
    StatusOr<std::string> value =
        percent_decode(eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1));
    if (!value.ok()) return value.status();
    out.emplace_back(std::move(key).value(), std::move(value).value());
  }
  return out;
}

std::string basic_auth(std::string_view user, std::string_view password) {
  std::string pair(user);
  pair += ':';
  pair.append(password);
  std::string encoded = security::base64_encode_unpadded(pair);
  while (encoded.size() % 4 != 0) encoded += '=';
  return "Basic " + encoded;
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  std::size_t len = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, sizeof(out),
                &len) == nullptr) {
    return {};  // never equal to a 64-digit MAC
  }
  return security::hex_encode(std::string_view(reinterpret_cast<const char*>(out), len));
}

std::string sha256_hex(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr) != 1) return {};
  return security::hex_encode(std::string_view(reinterpret_cast<const char*>(out), len));
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string ascii_lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string ascii_upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}

bool valid_currency(const std::string& code) {
  return code.size() == 3 && std::all_of(code.begin(), code.end(),
                                         [](unsigned char c) { return std::isalpha(c) != 0; });
}

}  // namespace shopeasy::cloud::payments
