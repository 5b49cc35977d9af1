// The fleet dashboard's routes (operators, role admin; the /ops page reads them with its
// session cookie):
//   GET /v1/fleet/summary[?window_s=]      FleetService::summary
//   GET /v1/fleet/events[?window_s=]       the summary pushed as Server-Sent Events
//                                          ("summary"), every 2 s while it changes,
//                                          a keepalive comment otherwise
//   GET /v1/fleet/stores/{id}[?window_s=]  FleetService::store
//   GET /v1/orders/{id}                    FleetService::order (any customer's order)
#pragma once

#include "cloud/fleet/fleet_service.hpp"
#include "common/http/server.hpp"

namespace shopeasy::cloud::fleet {

// `service` must outlive the server.
void register_fleet_routes(http::HttpServer& server, FleetService& service);

}  // namespace shopeasy::cloud::fleet
