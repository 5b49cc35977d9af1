// GET /api/pricing (viewer, picker, manager, admin): the cloud's view of this store's
// prices as the store last received it, with its age and whether the cloud answers
// (see PricingFollower::status_json). `follower` null: this store does not sync, and
// the answer says so.
#pragma once

#include "common/http/server.hpp"
#include "edge/pricing/pricing_follower.hpp"

namespace shopeasy::edge::pricing {

void register_pricing_routes(http::HttpServer& server, const PricingFollower* follower);

}  // namespace shopeasy::edge::pricing
