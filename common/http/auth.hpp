// Authentication of HTTP requests. An Authenticator turns a request's credentials
// into a Principal (who, and in which role); routes then decide by role. Tokens are
// configured as SHA-256 hashes so a leaked config file does not leak a credential.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/http/types.hpp"
#include "common/status/status.hpp"

namespace shopeasy::http {

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // The principal for `request`; kUnauthenticated when credentials are missing or
  // wrong. Must be thread-safe.
  virtual StatusOr<Principal> authenticate(const Request& request) const = 0;
};

// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);
// Compares in time independent of where the inputs differ.
bool constant_time_equal(std::string_view a, std::string_view b);

struct TokenEntry {
  std::string name;  // shown in logs and audit, never the token itself
  std::string role;
  std::string sha256;  // lower-case hex of the token
};

// Bearer tokens from configuration:
//   [{"name": "ops", "role": "admin", "sha256": "<64 hex>"}, ...]
class TokenAuthenticator final : public Authenticator {
 public:
  // Validates the table: each entry an object with a non-empty name, a role from
  // `allowed_roles` and a 64-hex-digit sha256; names unique. Errors name the entry.
  static StatusOr<TokenAuthenticator> from_json(const nlohmann::json& table,
                                                const std::vector<std::string>& allowed_roles);
  explicit TokenAuthenticator(std::vector<TokenEntry> entries) : entries_(std::move(entries)) {}

  StatusOr<Principal> authenticate(const Request& request) const override;
  std::size_t size() const { return entries_.size(); }

 private:
  std::vector<TokenEntry> entries_;
};

// The token of an "Authorization: Bearer <token>" header, or empty.
std::string bearer_token(const Request& request);

// The value of cookie `name` in the request's Cookie header, or empty.
std::string cookie_value(const Request& request, std::string_view name);

}  // namespace shopeasy::http
