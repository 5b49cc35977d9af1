// A customer's saved delivery addresses (customer role, their own only):
//   GET    /api/me/addresses            -> {"addresses":[{address_id, label, line, lat, lon,
//                                          geohash, updated_at_ms}]}
//   PUT    /api/me/addresses/{id}       {"label","line"?,"lat","lon"} -> the address
//   DELETE /api/me/addresses/{id}       -> {"deleted": true}
// Coordinates are checked (lat -90..90, lon -180..180, not the 0,0 of an unset GPS fix)
// and stored with their geohash, which /api/inventory and /api/search take as is. A
// customer keeps at most kMaxSavedAddresses; the next new one is refused (409).
#pragma once

#include "cloud/accounts/account_store.hpp"
#include "common/clock/clock.hpp"
#include "common/http/server.hpp"

namespace shopeasy::cloud::accounts {

// The store and clock must outlive the server.
void register_address_routes(http::HttpServer& server, AccountStore& store, const Clock& clock);

}  // namespace shopeasy::cloud::accounts
