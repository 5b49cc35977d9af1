// Small helpers route handlers share: reading JSON bodies and query parameters with
// errors that name what is wrong, and turning a result into a response.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/http/types.hpp"
#include "common/status/status.hpp"

namespace shopeasy::http {

// The request body as a JSON object; kUnsupportedMediaType unless the Content-Type is
// application/json, kInvalidArgument for malformed JSON or a non-object.
StatusOr<nlohmann::json> json_body(const Request& request);

// An integer query parameter within [min, max]; nullopt when absent; kInvalidArgument
// naming the parameter otherwise.
StatusOr<std::optional<std::int64_t>> int_param(const Request& request, std::string_view name,
                                                std::int64_t min, std::int64_t max);

// A non-empty string query parameter of at most `max_len` bytes; nullopt when absent.
StatusOr<std::optional<std::string>> string_param(const Request& request, std::string_view name,
                                                  std::size_t max_len = 128);

// 200 with the JSON, or the error shape for a failed status.
Response reply(const StatusOr<nlohmann::json>& result, int ok_status = 200);

}  // namespace shopeasy::http
