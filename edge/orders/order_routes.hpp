// The staff orders API: the order queue, pick lists, pick scans, short picks, packing,
// and accepting or refusing routed orders. Roles: picker and up list, read, accept,
// pick, pack and cancel short lines; manager and up also refuse orders and substitute.
#pragma once

#include "common/http/server.hpp"
#include "edge/orders/order_book.hpp"

namespace shopeasy::edge::orders {

void register_order_routes(http::HttpServer& server, OrderBook& book);

}  // namespace shopeasy::edge::orders
