// Refuses the access tokens of deleted accounts at once. An access JWT stays valid by its
// signature until it expires (up to 15 minutes); after DELETE /api/me the account store
// records the customer id as deleted, and this authenticator, wrapped around the one that
// verifies customer JWTs, asks the store about every customer principal: one primary-key
// read of the shared database, so a deletion through any instance holds on all of them.
// Principals of other roles (admins, stores, operators) pass without a read.
//
// A deleted subject is refused 401 unauthenticated, counted in
// cloud_auth_customer_refused_total{reason="account_deleted"}; when the store cannot
// answer, the request is refused 503 (reason="check_failed") rather than let through.
// The read's duration is in cloud_auth_deleted_check_seconds. Thread-safe.
#pragma once

#include "cloud/accounts/account_store.hpp"
#include "common/clock/clock.hpp"
#include "common/http/auth.hpp"
#include "common/metrics/metrics.hpp"

namespace shopeasy::cloud::accounts {

class DeletedAccountGate final : public http::Authenticator {
 public:
  // `inner`, `store` and `clock` must outlive the gate.
  DeletedAccountGate(const http::Authenticator& inner, AccountStore& store, const Clock& clock,
                     metrics::Registry& metrics);

  StatusOr<http::Principal> authenticate(const http::Request& request) const override;

 private:
  const http::Authenticator& inner_;
  AccountStore& store_;
  const Clock& clock_;
  metrics::Counter& deleted_;
  metrics::Counter& check_failed_;
  metrics::Histogram& check_seconds_;
};

}  // namespace shopeasy::cloud::accounts
