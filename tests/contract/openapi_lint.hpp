// Structural checks of an OpenAPI 3.1 document that a JSON Schema of the format does
// not make: every path template parameter is declared as a path parameter (and no
// other), every local $ref resolves, every security requirement names a declared
// scheme, every operation has responses, operationIds (when given) are unique, and
// every text/event-stream response lists its event types (`x-events`), each with the
// schema of its data.
// Not a full linter: it keeps the documents in docs/api honest between releases of
// one.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace shopeasy::contract {

// One message per problem, naming where; empty when none was found.
std::vector<std::string> lint_openapi(const nlohmann::json& doc);

}  // namespace shopeasy::contract
