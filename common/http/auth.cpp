#include "common/http/auth.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <set>

namespace shopeasy::http {

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

std::string bearer_token(const Request& request) {
  const std::string value = request.header("Authorization");
  constexpr std::string_view kScheme = "Bearer ";
  if (value.size() <= kScheme.size()) return {};
  if (!std::equal(kScheme.begin(), kScheme.end(), value.begin(),
                  [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    return {};
  }
  return value.substr(kScheme.size());
}

std::string cookie_value(const Request& request, std::string_view name) {
  const std::string cookies = request.header("Cookie");
  std::size_t pos = 0;
  while (pos < cookies.size()) {
    while (pos < cookies.size() && (cookies[pos] == ' ' || cookies[pos] == ';')) ++pos;
    const std::size_t end = std::min(cookies.find(';', pos), cookies.size());
    const std::string_view pair = std::string_view(cookies).substr(pos, end - pos);
    if (pair.size() > name.size() && pair.substr(0, name.size()) == name &&
        pair[name.size()] == '=') {
      return std::string(pair.substr(name.size() + 1));
    }
    pos = end + 1;
  }
  return {};
}

StatusOr<TokenAuthenticator> TokenAuthenticator::from_json(
    const nlohmann::json& table, const std::vector<std::string>& allowed_roles) {
  if (!table.is_array()) return invalid_argument("must be an array of token entries");
  std::vector<TokenEntry> entries;
  std::set<std::string> names;
  for (std::size_t i = 0; i < table.size(); ++i) {
    const auto& e = table[i];
    const std::string where = "[" + std::to_string(i) + "]";
    if (!e.is_object()) return invalid_argument("must be an object", where);
    for (const char* key : {"name", "role", "sha256"}) {
      if (!e.contains(key) || !e[key].is_string() || e[key].get<std::string>().empty()) {
        return invalid_argument(std::string(key) + " must be a non-empty string",
                                where + "." + key);
      }
    }
    TokenEntry entry{e["name"].get<std::string>(), e["role"].get<std::string>(),
                     e["sha256"].get<std::string>()};
    if (std::find(allowed_roles.begin(), allowed_roles.end(), entry.role) == allowed_roles.end()) {
      std::string list;
      for (const auto& r : allowed_roles) list += (list.empty() ? "" : ", ") + r;
      return invalid_argument("unknown role '" + entry.role + "'; expected one of " + list,
                              where + ".role");
    }
    const bool hex = entry.sha256.size() == 64 &&
                     std::all_of(entry.sha256.begin(), entry.sha256.end(), [](char c) {
                       return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                     });
    if (!hex) {
      return invalid_argument("sha256 must be 64 lower-case hex digits (the token's SHA-256)",
                              where + ".sha256");
    }
    if (!names.insert(entry.name).second) {
      return invalid_argument("duplicate token name '" + entry.name + "'", where + ".name");
    }
    entries.push_back(std::move(entry));
  }
  return TokenAuthenticator(std::move(entries));
}

StatusOr<Principal> TokenAuthenticator::authenticate(const Request& request) const {
  const std::string token = bearer_token(request);
  if (token.empty()) {
    return Status(StatusCode::kUnauthenticated, "missing bearer token (Authorization: Bearer ...)");
  }
  const std::string hash = sha256_hex(token);
  for (const auto& e : entries_) {
    if (constant_time_equal(hash, e.sha256)) return Principal{e.name, e.role};
  }
  return Status(StatusCode::kUnauthenticated, "unknown or revoked token");
}

}  // namespace shopeasy::http
