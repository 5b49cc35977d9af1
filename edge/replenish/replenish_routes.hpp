// The replenishment routes, for managers and admins:
//   GET/POST /api/suppliers, GET/PUT/DELETE /api/suppliers/{id},
//   PUT/DELETE /api/suppliers/{id}/skus/{sku}     a SKU's supplier link
//   GET /api/replenishment/proposal                what to order now and why
//   GET/POST /api/purchase-orders, GET /api/purchase-orders/{id},
//   POST /api/purchase-orders/{id}/send|cancel|receive
#pragma once

#include "common/http/server.hpp"
#include "edge/replenish/replenishment.hpp"

namespace shopeasy::edge::replenish {

void register_replenish_routes(http::HttpServer& server, Replenishment& service);

}  // namespace shopeasy::edge::replenish
