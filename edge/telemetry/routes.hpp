// The staff API over runners:
//   GET    /api/runners                  every runner: state, presence, battery, fix, age
//   GET    /api/runners/{id}             one runner (404 when not on the roster)
//   GET    /api/runners/{id}/trail?since=<ms>&until=<ms>&limit=<n>
//          the stored trail, oldest first; until defaults to now, since to an hour
//          before until, limit to 5000 (at most 20000); "truncated" when more exist
//   PUT    /api/runners/{id}             add or reactivate; optional {"name": "..."}
//   DELETE /api/runners/{id}             retire (204)
// Reads need the viewer, picker, manager or admin role; changes manager or admin.
#pragma once

#include <cstddef>

#include "common/http/server.hpp"

namespace shopeasy::edge::telemetry {

class Telemetry;

inline constexpr std::size_t kDefaultTrailLimit = 5000;
inline constexpr std::size_t kMaxTrailLimit = 20000;

// Registers the routes above; `telemetry` must outlive the server.
void register_routes(http::HttpServer& server, Telemetry& telemetry);

}  // namespace shopeasy::edge::telemetry
