#include "edge/pricing/pricing_routes.hpp"

namespace shopeasy::edge::pricing {

void register_pricing_routes(http::HttpServer& server, const PricingFollower* follower) {
  server.route("GET", "/api/pricing",
               http::Access::roles_of({"viewer", "picker", "manager", "admin"}),
               [follower](const http::Request&) {
                 if (follower == nullptr) {
                   return http::Response::json(
                       200, {{"following", false},
                             {"view", nullptr},
                             {"reason", "this store does not sync with a cloud (sync.url unset)"}});
                 }
                 nlohmann::json out = follower->status_json();
                 out["following"] = true;
                 return http::Response::json(200, out);
               });
}

}  // namespace shopeasy::edge::pricing
