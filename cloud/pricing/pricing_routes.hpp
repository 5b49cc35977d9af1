// The pricing API:
//   customer apps (customer, admin): POST /api/quote
//   operators (admin): GET/PUT /v1/prices/models/{sku}, PUT
//     /v1/prices/models/{sku}/stores/{store_id}, GET /v1/prices/history, POST
//     /v1/prices/competitor (CSV or JSON), GET/PUT /v1/pricing (rules; {"enabled": false}
//     is the kill switch), PUT /v1/pricing/signals/{store_id} (a store's load, weather)
// A quote reads nothing of the caller but the body: no user, device or user agent.
#pragma once

#include "cloud/pricing/pricing_service.hpp"
#include "common/http/server.hpp"

namespace shopeasy::cloud::pricing {

void register_pricing_routes(http::HttpServer& server, PricingService& service);

}  // namespace shopeasy::cloud::pricing
