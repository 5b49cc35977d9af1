// The customer's side of notifications:
//   GET /api/me/notification-preferences   what the customer gets (channels and events)
//   PUT /api/me/notification-preferences   switches channels or events off (or on)
//   GET /api/me/notifications              what was sent (or is waiting), newest first
// Customer role only; every refused input answers 400 naming the field and is counted
// in cloud_notify_bad_requests_total.
#pragma once

#include "cloud/storage/cloud_store.hpp"
#include "common/clock/clock.hpp"
#include "common/http/server.hpp"
#include "common/metrics/metrics.hpp"

namespace shopeasy::cloud::notify {

void register_notify_routes(http::HttpServer& server, storage::NotificationStore& store,
                            const Clock& clock, metrics::Registry& metrics);

}  // namespace shopeasy::cloud::notify
