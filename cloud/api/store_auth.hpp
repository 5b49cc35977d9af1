// Who is calling the cloud: operators and customer apps with configured tokens, or a
// store with its own sync credential ("Authorization: Bearer <store-id>:<secret>",
// the secret stored only as its SHA-256 in the store registry).
#pragma once

#include "cloud/storage/cloud_store.hpp"
#include "common/http/auth.hpp"

namespace shopeasy::cloud::api {

class CloudAuthenticator final : public http::Authenticator {
 public:
  CloudAuthenticator(http::TokenAuthenticator tokens, storage::StoreRegistry& store)
      : tokens_(std::move(tokens)), store_(store) {}
  StatusOr<http::Principal> authenticate(const http::Request& request) const override;

 private:
  http::TokenAuthenticator tokens_;
  storage::StoreRegistry& store_;
};

}  // namespace shopeasy::cloud::api
