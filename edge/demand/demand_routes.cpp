#include "edge/demand/demand_routes.hpp"

#include <chrono>

#include "common/http/request_helpers.hpp"

namespace shopeasy::edge::demand {

namespace {

std::int64_t now_ms(const Clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.wall_now().time_since_epoch())
      .count();
}

}  // namespace

void register_demand_routes(http::HttpServer& server, const DemandService& service,
                            const Clock& clock, forecast::StaffingRates staffing) {
  using http::Access;
  using http::Request;
  using http::Response;
  const Access readers = Access::roles_of({"viewer", "picker", "manager", "admin"});
  server.route(
      "GET", "/api/forecast/peak-hours", readers, [&service, &clock, staffing](const Request& req) {
        auto days = http::int_param(req, "days", 1, DemandService::kMaxPeakDays);
        if (!days.ok()) return Response::error(days.status());
        auto plan =
            service.peak_hours(now_ms(clock), static_cast<int>(days->value_or(7)), staffing);
        if (!plan.ok()) return Response::error(plan.status());
        return http::reply(store_peak_hours_json(*plan));
      });
  server.route("GET", R"(/api/forecast/([^/]+))", readers, [&service, &clock](const Request& req) {
    auto hours = http::int_param(req, "hours", 1, DemandService::kMaxHours);
    if (!hours.ok()) return Response::error(hours.status());
    auto history = http::int_param(req, "history_hours", 0, DemandService::kMaxHours);
    if (!history.ok()) return Response::error(history.status());
    auto f = service.forecast(req.params[0], now_ms(clock), static_cast<int>(hours->value_or(168)),
                              static_cast<int>(history->value_or(168)));
    if (!f.ok()) return Response::error(f.status());
    return http::reply(sku_demand_forecast_json(*f));
  });
}

}  // namespace shopeasy::edge::demand
