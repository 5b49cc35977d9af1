// GET /api/forecast/{sku}?hours=168&history_hours=168: the SKU's demand forecast per hour
// (mean, p50, p90, p95) from the ledger, with the hours of history it read.
// GET /api/forecast/peak-hours?days=7: the store's orders per hour for the coming days
// with the pickers and runners each hour needs. Readers (viewer, picker, manager, admin).
// ("peak-hours" is matched first, so a SKU of that name has no forecast route.)
#pragma once

#include "common/clock/clock.hpp"
#include "common/http/server.hpp"
#include "edge/demand/demand_service.hpp"
#include "edge/forecast/peak.hpp"

namespace shopeasy::edge::demand {

// `staffing`: the rates used until the store has measured its own.
void register_demand_routes(http::HttpServer& server, const DemandService& service,
                            const Clock& clock, forecast::StaffingRates staffing);

}  // namespace shopeasy::edge::demand
