#include "edge/telemetry/routes.hpp"

#include <charconv>
#include <optional>
#include <string>

#include "common/wire/json_fields.hpp"
#include "edge/telemetry/telemetry.hpp"

namespace shopeasy::edge::telemetry {

namespace {

using http::Request;
using http::Response;

// An optional integer query parameter; kInvalidArgument naming it when not an integer.
StatusOr<std::optional<std::int64_t>> int_param(const Request& r, const char* name) {
  const auto text = r.query_param(name);
  if (!text) return std::optional<std::int64_t>();
  std::int64_t v = 0;
  const char* end = text->data() + text->size();
  const auto [ptr, ec] = std::from_chars(text->data(), end, v);
  if (text->empty() || ec != std::errc() || ptr != end) {
    return invalid_argument("must be an integer", name);
  }
  return std::optional<std::int64_t>(v);
}

Status check_id(const std::string& id) {
  if (!is_valid_runner_id(id)) {
    return invalid_argument("must be 1 to 64 of letters, digits, '-' and '_'", "id");
  }
  return Status::ok();
}

Response not_on_roster(const std::string& id) {
  return Response::error(not_found("runner " + id + " is not on the roster"));
}

Response list(Telemetry& t) {
  const std::int64_t now = to_unix_ms(t.clock().wall_now());
  nlohmann::json runners = nlohmann::json::array();
  for (const RunnerView& v : t.runners()) runners.push_back(to_json(v, now));
  const std::size_t count = runners.size();
  return Response::json(200, {{"runners", std::move(runners)}, {"count", count}});
}

Response get_one(Telemetry& t, const Request& r) {
  const std::string& id = r.params.at(0);
  if (Status s = check_id(id); !s.is_ok()) return Response::error(s);
  auto v = t.runner(id);
  if (!v) return not_on_roster(id);
  return Response::json(200, to_json(*v, to_unix_ms(t.clock().wall_now())));
}

Response get_trail(Telemetry& t, const Request& r) {
  const std::string& id = r.params.at(0);
  if (Status s = check_id(id); !s.is_ok()) return Response::error(s);
  auto since = int_param(r, "since");
  if (!since.ok()) return Response::error(since.status());
  auto until = int_param(r, "until");
  if (!until.ok()) return Response::error(until.status());
  auto limit = int_param(r, "limit");
  if (!limit.ok()) return Response::error(limit.status());
  const std::int64_t until_ms = until->value_or(to_unix_ms(t.clock().wall_now()));
  const std::int64_t since_ms = since->value_or(until_ms - 3'600'000);
  if (since_ms > until_ms)
    return Response::error(invalid_argument("must not exceed until", "since"));
  const std::int64_t max = limit->value_or(static_cast<std::int64_t>(kDefaultTrailLimit));
  if (max < 1 || max > static_cast<std::int64_t>(kMaxTrailLimit)) {
    return Response::error(
        invalid_argument("must be between 1 and " + std::to_string(kMaxTrailLimit), "limit"));
  }
  auto known = t.ever_on_roster(id);
  if (!known.ok()) return Response::error(known.status());
  if (!*known) return not_on_roster(id);
  // One more than asked tells whether the answer was cut short.
  auto points = t.trail(id, since_ms, until_ms, static_cast<std::size_t>(max) + 1);
  if (!points.ok()) return Response::error(points.status());
  const bool truncated = points->size() > static_cast<std::size_t>(max);
  if (truncated) points->pop_back();
  nlohmann::json out = nlohmann::json::array();
  for (const TrailPoint& p : *points) out.push_back(to_json(p));
  return Response::json(200, {{"runner_id", id},
                              {"since", since_ms},
                              {"until", until_ms},
                              {"points", std::move(out)},
                              {"truncated", truncated}});
}

Response put(Telemetry& t, const Request& r) {
  const std::string& id = r.params.at(0);
  if (Status s = check_id(id); !s.is_ok()) return Response::error(s);
  std::optional<std::string> name;
  if (!r.body.empty()) {
    if (!r.is_json()) {
      return Response::error(
          Status(StatusCode::kUnsupportedMediaType, "expected Content-Type application/json"));
    }
    auto j = wire::parse_json(r.body, 4096);
    if (!j.ok()) return Response::error(j.status());
    wire::FieldReader reader(*j);
    reader.optional_string(
        "name", &name, {.max_len = 64, .non_empty = false, .charset = wire::CharSet::kPrintable});
    if (!reader.ok()) return Response::error(reader.status());
  }
  auto created = t.put_runner(id, name ? std::optional<std::string_view>(*name) : std::nullopt);
  if (!created.ok()) return Response::error(created.status());
  auto v = t.runner(id);
  if (!v) return Response::error(internal_error("runner vanished while being added"));
  return Response::json(*created ? 201 : 200, to_json(*v, to_unix_ms(t.clock().wall_now())));
}

Response retire(Telemetry& t, const Request& r) {
  const std::string& id = r.params.at(0);
  if (Status s = check_id(id); !s.is_ok()) return Response::error(s);
  if (Status s = t.retire_runner(id); !s.is_ok()) return Response::error(s);
  Response out;
  out.status = 204;
  return out;
}

}  // namespace

void register_routes(http::HttpServer& server, Telemetry& telemetry) {
  Telemetry* t = &telemetry;
  const std::vector<std::string> readers = {"admin", "manager", "picker", "viewer"};
  const std::vector<std::string> editors = {"admin", "manager"};
  server.route("GET", "/api/runners", http::Access::roles_of(readers),
               [t](const Request&) { return list(*t); });
  server.route("GET", "/api/runners/([^/]+)", http::Access::roles_of(readers),
               [t](const Request& r) { return get_one(*t, r); });
  server.route("GET", "/api/runners/([^/]+)/trail", http::Access::roles_of(readers),
               [t](const Request& r) { return get_trail(*t, r); });
  server.route("PUT", "/api/runners/([^/]+)", http::Access::roles_of(editors).audited("runner.put"),
               [t](const Request& r) { return put(*t, r); });
  server.route("DELETE", "/api/runners/([^/]+)",
               http::Access::roles_of(editors).audited("runner.retire"),
               [t](const Request& r) { return retire(*t, r); });
}

}  // namespace shopeasy::edge::telemetry
