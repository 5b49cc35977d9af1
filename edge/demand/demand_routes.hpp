// GET /api/forecast/{sku}?hours=168: the SKU's demand forecast per hour (mean, p50, p90,
// p95) from the ledger. Readers (viewer, picker, manager, admin).
#pragma once

#include "common/clock/clock.hpp"
#include "common/http/server.hpp"
#include "edge/demand/demand_service.hpp"

namespace shopeasy::edge::demand {

void register_demand_routes(http::HttpServer& server, const DemandService& service,
                            const Clock& clock);

}  // namespace shopeasy::edge::demand
