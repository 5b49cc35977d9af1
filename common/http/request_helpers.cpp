#include "common/http/request_helpers.hpp"

#include <charconv>

#include "common/wire/json_fields.hpp"

namespace shopeasy::http {

StatusOr<nlohmann::json> json_body(const Request& request) {
  if (!request.is_json()) {
    return Status(
        StatusCode::kUnsupportedMediaType,
        "Content-Type must be application/json, got '" + request.header("Content-Type") + "'");
  }
  auto parsed = wire::parse_json(request.body);
  if (!parsed.ok()) return parsed.status();
  if (!parsed->is_object()) return invalid_argument("the body must be a JSON object");
  return parsed;
}

StatusOr<std::optional<std::int64_t>> int_param(const Request& request, std::string_view name,
                                                std::int64_t min, std::int64_t max) {
  auto text = request.query_param(name);
  if (!text) return std::optional<std::int64_t>();
  std::int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || ptr != text->data() + text->size() || text->empty()) {
    return invalid_argument("must be an integer", std::string(name));
  }
  if (value < min || value > max) {
    return invalid_argument(
        "must be between " + std::to_string(min) + " and " + std::to_string(max),
        std::string(name));
  }
  return std::optional<std::int64_t>(value);
}

StatusOr<std::optional<std::string>> string_param(const Request& request, std::string_view name,
                                                  std::size_t max_len) {
  auto text = request.query_param(name);
  if (!text || text->empty()) return std::optional<std::string>();
  if (text->size() > max_len) {
    return invalid_argument("must be at most " + std::to_string(max_len) + " bytes",
                            std::string(name));
  }
  return std::optional<std::string>(*text);
}

Response reply(const StatusOr<nlohmann::json>& result, int ok_status) {
  if (!result.ok()) return Response::error(result.status());
  return Response::json(ok_status, *result);
}

}  // namespace shopeasy::http
