// DELETE /api/me: a customer deletes their account. Their orders stay for accounting
// under a tombstone id with the delivery point coarsened to about 1 km, at the cloud and
// at every store that held one (CloudStore::forget_customer); the sign-in link of their
// phone number, refresh tokens and saved addresses go (AccountStore::delete_customer).
//
// Answers 200 {"deleted":true,"orders_anonymised":N,"stores_told":M}; 409
// failed_precondition while an order is still open (the store is serving it, or a
// refund is owed), with nothing changed. The orders are forgotten first, then the account:
// after a failure between the two, the customer can still sign in and ask again.
#pragma once

#include "cloud/accounts/account_store.hpp"
#include "cloud/storage/cloud_store.hpp"
#include "common/clock/clock.hpp"
#include "common/http/server.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"

namespace shopeasy::cloud::accounts {

// `accounts` may be null (no phone sign-in here: the customers' tokens come from an
// external issuer, so only their orders are forgotten). Everything must outlive the
// server.
void register_account_deletion_route(http::HttpServer& server, storage::CloudStore& orders,
                                     AccountStore* accounts, const Clock& clock, log::Logger logger,
                                     metrics::Registry& metrics);

}  // namespace shopeasy::cloud::accounts
