// The customer's order API (role customer; admin may read and cancel any order):
//   POST /api/orders                 place (Idempotency-Key header required)
//   GET  /api/orders/{id}            the order
//   GET  /api/orders/{id}/events     Server-Sent Events: status and position changes,
//                                    resumable with Last-Event-ID
//   POST /api/orders/{id}/cancel     cancel (refunded if paid)
// A customer sees only their own orders; anyone else's id answers 404.
#pragma once

#include <chrono>

#include "cloud/orders/order_service.hpp"
#include "cloud/storage/cloud_store.hpp"
#include "common/http/server.hpp"

namespace shopeasy::cloud::api {

struct OrderRouteOptions {
  // How often an open event stream looks for new events; the events live in the shared
  // database, so a stream sees changes made through any cloud instance.
  std::chrono::milliseconds poll_interval{200};
  std::chrono::seconds keepalive{15};
};

void register_order_routes(http::HttpServer& server, orders::OrderService& service,
                           storage::CloudStore& store, OrderRouteOptions options = {});

}  // namespace shopeasy::cloud::api
