// Comparing the routes a server registers (regular expressions) with the paths of an
// OpenAPI document ("/v1/stores/{id}"): both are reduced to one template form in which
// every path parameter is "{}".
#pragma once

#include <optional>
#include <string>

namespace shopeasy::contract {

// "/v1/stores/([A-Za-z0-9_-]{1,64})/sync" -> "/v1/stores/{}/sync"; "/openapi\.json" ->
// "/openapi.json". nullopt for a pattern with regex syntax outside its capture groups
// (alternation, classes, quantifiers), which has no single template.
std::optional<std::string> template_of_pattern(const std::string& pattern);

// "/v1/stores/{id}/sync" -> "/v1/stores/{}/sync".
std::string template_of_path(const std::string& path);

}  // namespace shopeasy::contract
