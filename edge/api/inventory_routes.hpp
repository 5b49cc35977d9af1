// The staff inventory API: scans, stock, the ledger, alerts, counts, bins and
// catalog import. Roles: viewer reads; picker also scans (but not adjust scans);
// manager also edits stock, imports the catalog and runs counts; admin everything.
#pragma once

#include "common/clock/clock.hpp"
#include "common/http/server.hpp"
#include "edge/inventory/inventory.hpp"

namespace shopeasy::edge::api {

struct InventoryRouteOptions {
  int default_expiry_days = 3;  // alerts: warn this many days before expiry
};

void register_inventory_routes(http::HttpServer& server, inventory::Inventory& inventory,
                               const Clock& clock, InventoryRouteOptions options);

// The actor recorded in the ledger for a request: the principal, via the API or the
// scanner named in the body.
inventory::Actor actor_of(const http::Request& request, std::string_view scanner_id = {});

}  // namespace shopeasy::edge::api
