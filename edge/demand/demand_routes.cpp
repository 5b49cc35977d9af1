#include "edge/demand/demand_routes.hpp"

#include <chrono>

#include "common/http/request_helpers.hpp"

namespace shopeasy::edge::demand {

void register_demand_routes(http::HttpServer& server, const DemandService& service,
                            const Clock& clock) {
  using http::Access;
  using http::Request;
  using http::Response;
  server.route(
      "GET", R"(/api/forecast/([^/]+))", Access::roles_of({"viewer", "picker", "manager", "admin"}),
      [&service, &clock](const Request& req) {
        auto hours = http::int_param(req, "hours", 1, DemandService::kMaxHours);
        if (!hours.ok()) return Response::error(hours.status());
        const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                        clock.wall_now().time_since_epoch())
                                        .count();
        auto f = service.forecast(req.params[0], now_ms, static_cast<int>(hours->value_or(168)));
        if (!f.ok()) return Response::error(f.status());
        return http::reply(sku_demand_forecast_json(*f));
      });
}

}  // namespace shopeasy::edge::demand
