// A small JSON Schema validator for the contract tests: the subset the API documents
// (docs/api) use for response bodies. Supported keywords: type (a name or a list of
// names; "integer" takes only whole numbers, "number" any number), properties,
// required, items, enum, const, additionalProperties (false or a schema), pattern,
// oneOf, allOf, anyOf and local $ref ("#/components/schemas/X", any JSON pointer into
// the document). Other keywords (description, format, minimum, ...) are ignored, so a
// body that passes here may still break a rule this validator does not check.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace shopeasy::contract {

struct SchemaError {
  std::string path;     // where in the value: "$.lines[0].qty"
  std::string message;  // what is wrong
};

class SchemaValidator {
 public:
  // `document` holds the schemas that $ref points into; it must outlive the validator.
  explicit SchemaValidator(const nlohmann::json& document) : document_(document) {}

  // Every rule `value` breaks against `schema`; empty when it conforms.
  std::vector<SchemaError> validate(const nlohmann::json& value,
                                    const nlohmann::json& schema) const;

 private:
  void check(const nlohmann::json& value, const nlohmann::json& schema, const std::string& path,
             std::vector<SchemaError>& errors, int depth) const;
  const nlohmann::json* resolve(const std::string& ref) const;

  const nlohmann::json& document_;
};

// The errors as one line per error, for test failure messages.
std::string describe(const std::vector<SchemaError>& errors);

}  // namespace shopeasy::contract
