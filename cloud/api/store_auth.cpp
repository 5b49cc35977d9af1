#include "cloud/api/store_auth.hpp"

namespace shopeasy::cloud::api {

StatusOr<http::Principal> CloudAuthenticator::authenticate(const http::Request& request) const {
  const std::string token = http::bearer_token(request);
  const auto colon = token.find(':');
  if (colon == std::string::npos || colon == 0) return tokens_.authenticate(request);
  const std::string store_id = token.substr(0, colon);
  auto store = store_.get_store(store_id);
  const Status refused(StatusCode::kUnauthenticated, "unknown store or wrong store credential");
  if (!store.ok()) {
    return store.status().code() == StatusCode::kNotFound ? refused : store.status();
  }
  const auto& reg = store->registration;
  if (!reg.active || reg.secret_sha256.empty()) return refused;
  if (!http::constant_time_equal(http::sha256_hex(token.substr(colon + 1)), reg.secret_sha256)) {
    return refused;
  }
  return http::Principal{store_id, "store"};
}

}  // namespace shopeasy::cloud::api
