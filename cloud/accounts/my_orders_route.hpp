// GET /api/me/orders?cursor=&limit=: the signed-in customer's own orders, newest first,
// paged by an opaque cursor ("next_cursor", null on the last page).
#pragma once

#include "cloud/storage/cloud_store.hpp"
#include "common/http/server.hpp"

namespace shopeasy::cloud::accounts {

// `store` must outlive the server.
void register_my_orders_route(http::HttpServer& server, storage::CloudStore& store);

}  // namespace shopeasy::cloud::accounts
