#include "cloud/accounts/address_routes.hpp"

#include <regex>

#include "common/geohash/geohash.hpp"
#include "common/http/request_helpers.hpp"
#include "common/wire/json_fields.hpp"

namespace shopeasy::cloud::accounts {
namespace {

using http::Access;
using http::Request;
using http::Response;
using nlohmann::json;

constexpr int kAddressGeohashPrecision = 9;  // about 5 m: a building's door
constexpr std::size_t kMaxAddressBody = 4096;

json address_json(const SavedAddress& a) {
  return {{"address_id", a.address_id},
          {"label", a.label},
          {"line", a.line},
          {"lat", a.lat},
          {"lon", a.lon},
          {"geohash", a.geohash},
          {"updated_at_ms", a.updated_at_ms}};
}

bool valid_address_id(const std::string& id) {
  static const std::regex kId("[A-Za-z0-9_-]{1,32}");
  return std::regex_match(id, kId);
}

// The address a PUT describes, or why not (kInvalidArgument naming the field).
StatusOr<SavedAddress> parse_address(const Request& r, const std::string& address_id) {
  if (!valid_address_id(address_id)) {
    return invalid_argument("must be 1 to 32 of [A-Za-z0-9_-]", "address_id");
  }
  if (r.body.size() > kMaxAddressBody) {
    return Status(StatusCode::kPayloadTooLarge,
                  "the body must be at most " + std::to_string(kMaxAddressBody) + " bytes", "body");
  }
  StatusOr<json> body = http::json_body(r);
  if (!body.ok()) return body.status();
  SavedAddress a;
  a.address_id = address_id;
  std::optional<std::string> line;
  wire::FieldReader f(*body, "");
  f.required_string("label", &a.label,
                    {.max_len = 40, .non_empty = true, .charset = wire::CharSet::kPrintable});
  f.optional_string("line", &line, {.max_len = 200, .charset = wire::CharSet::kAny});
  f.required_double("lat", &a.lat, -90, 90);
  f.required_double("lon", &a.lon, -180, 180);
  SHOPEASY_RETURN_IF_ERROR(f.status());
  if (a.lat == 0 && a.lon == 0) {
    return invalid_argument("0,0 is an unset position, not an address", "lat");
  }
  a.line = line.value_or("");
  SHOPEASY_ASSIGN_OR_RETURN(a.geohash, geohash::encode({a.lat, a.lon}, kAddressGeohashPrecision));
  return a;
}

}  // namespace

void register_address_routes(http::HttpServer& server, AccountStore& store, const Clock& clock) {
  server.route("GET", "/api/me/addresses", Access::roles_of({"customer"}),
               [&store](const Request& r) {
                 StatusOr<std::vector<SavedAddress>> list = store.addresses(r.principal.subject);
                 if (!list.ok()) return Response::error(list.status());
                 json out = json::array();
                 for (const SavedAddress& a : *list) out.push_back(address_json(a));
                 return Response::json(200, {{"addresses", out}});
               });

  server.route("PUT", R"(/api/me/addresses/([^/]+))", Access::roles_of({"customer"}),
               [&store, &clock](const Request& r) {
                 StatusOr<SavedAddress> a = parse_address(r, r.params[0]);
                 if (!a.ok()) return Response::error(a.status());
                 a->updated_at_ms = to_unix_ms(clock.wall_now());
                 StatusOr<bool> stored = store.put_address(r.principal.subject, *a);
                 if (!stored.ok()) return Response::error(stored.status());
                 if (!*stored) {
                   return Response::error(Status(StatusCode::kFailedPrecondition,
                                                 "at most " + std::to_string(kMaxSavedAddresses) +
                                                     " saved addresses; delete one first",
                                                 "address_id"));
                 }
                 return Response::json(200, address_json(*a));
               });

  server.route("DELETE", R"(/api/me/addresses/([^/]+))", Access::roles_of({"customer"}),
               [&store](const Request& r) {
                 if (!valid_address_id(r.params[0])) {
                   return Response::error(
                       invalid_argument("must be 1 to 32 of [A-Za-z0-9_-]", "address_id"));
                 }
                 StatusOr<bool> gone = store.delete_address(r.principal.subject, r.params[0]);
                 if (!gone.ok()) return Response::error(gone.status());
                 if (!*gone) return Response::error(not_found("no saved address by that id"));
                 return Response::json(200, {{"deleted", true}});
               });
}

}  // namespace shopeasy::cloud::accounts
