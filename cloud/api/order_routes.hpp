// The customer's order API (role customer; admin may read and cancel any order):
//   POST /api/orders                 place (Idempotency-Key header required)
//   GET  /api/orders/{id}            the order
//   GET  /api/orders/{id}/events     Server-Sent Events: status and position changes,
//                                    resumable with Last-Event-ID; open past the final
//                                    status for a late refund (late_events_window)
//   POST /api/orders/{id}/cancel     cancel (refunded if paid)
// A customer sees only their own orders; anyone else's id answers 404.
#pragma once

#include <chrono>

#include "cloud/api/order_event_hub.hpp"
#include "cloud/orders/order_service.hpp"
#include "cloud/storage/cloud_store.hpp"
#include "common/clock/clock.hpp"
#include "common/http/server.hpp"

namespace shopeasy::cloud::api {

struct OrderRouteOptions {
  // How often an open event stream looks for new events when no OrderEventHub wakes it;
  // the events live in the shared database, so a stream sees changes made through any
  // cloud instance.
  std::chrono::milliseconds poll_interval{200};
  // With a hub: how long a stream waits to be woken before it looks anyway.
  std::chrono::milliseconds fallback_interval{15000};
  std::chrono::seconds keepalive{15};
  // After a final status (delivered, cancelled, failed) a paid order can still be
  // refunded, so its stream stays open for the refund until this long after the final
  // status, then ends. It ends at once after "refunded" (nothing follows it) and after
  // the final status of an order that was never paid (no money can move).
  std::chrono::milliseconds late_events_window{std::chrono::minutes(10)};
};

// `hub`, when given (and running), wakes the event streams; it must outlive the server's
// streams (stop it before the server, which then ends them promptly). `clock` times the
// streams' keepalives and late-event windows and must outlive them too.
void register_order_routes(http::HttpServer& server, orders::OrderService& service,
                           storage::CloudStore& store, OrderRouteOptions options = {},
                           OrderEventHub* hub = nullptr, const Clock& clock = real_clock());

}  // namespace shopeasy::cloud::api
