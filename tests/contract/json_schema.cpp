#include "tests/contract/json_schema.hpp"

#include <cmath>
#include <regex>

namespace shopeasy::contract {

namespace {

constexpr int kMaxDepth = 64;  // a $ref cycle in a broken document ends here

bool has_type(const nlohmann::json& v, const std::string& type) {
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "boolean") return v.is_boolean();
  if (type == "null") return v.is_null();
  if (type == "number") return v.is_number();
  if (type == "integer") {
    if (v.is_number_integer()) return true;
    // JSON has no integer type: 3.0 is an integer to JSON Schema.
    return v.is_number_float() && std::floor(v.get<double>()) == v.get<double>();
  }
  return false;
}

std::string kind_of(const nlohmann::json& v) {
  if (v.is_number_integer()) return "integer";
  if (v.is_number()) return "number";
  return v.type_name();
}

}  // namespace

const nlohmann::json* SchemaValidator::resolve(const std::string& ref) const {
  if (ref.rfind("#", 0) != 0) return nullptr;
  try {
    const nlohmann::json::json_pointer pointer(ref.substr(1));
    if (!document_.contains(pointer)) return nullptr;
    return &document_.at(pointer);
  } catch (const nlohmann::json::exception&) {
    return nullptr;
  }
}

std::vector<SchemaError> SchemaValidator::validate(const nlohmann::json& value,
                                                   const nlohmann::json& schema) const {
  std::vector<SchemaError> errors;
  check(value, schema, "$", errors, 0);
  return errors;
}

void SchemaValidator::check(const nlohmann::json& value, const nlohmann::json& schema,
                            const std::string& path, std::vector<SchemaError>& errors,
                            int depth) const {
  if (depth > kMaxDepth) {
    errors.push_back({path, "schema nests too deeply (a $ref cycle?)"});
    return;
  }
  if (schema.is_boolean()) {
    if (!schema.get<bool>()) errors.push_back({path, "no value is allowed here"});
    return;
  }
  if (!schema.is_object()) {
    errors.push_back({path, "schema is not an object"});
    return;
  }
  if (auto ref = schema.find("$ref"); ref != schema.end()) {
    const nlohmann::json* target = ref->is_string() ? resolve(ref->get<std::string>()) : nullptr;
    if (target == nullptr) {
      errors.push_back({path, "unresolvable $ref " + ref->dump()});
      return;
    }
    check(value, *target, path, errors, depth + 1);
  }
  if (auto type = schema.find("type"); type != schema.end()) {
    bool ok = false;
    if (type->is_string()) {
      ok = has_type(value, type->get<std::string>());
    } else if (type->is_array()) {
      for (const auto& t : *type)
        ok = ok || (t.is_string() && has_type(value, t.get<std::string>()));
    }
    if (!ok) {
      errors.push_back({path, "is " + kind_of(value) + ", expected " + type->dump()});
      return;  // the other keywords would only repeat the mismatch
    }
  }
  if (auto e = schema.find("enum"); e != schema.end() && e->is_array()) {
    bool found = false;
    for (const auto& option : *e) found = found || option == value;
    if (!found) errors.push_back({path, value.dump() + " is not one of " + e->dump()});
  }
  if (auto c = schema.find("const"); c != schema.end() && *c != value) {
    errors.push_back({path, value.dump() + " is not " + c->dump()});
  }
  if (auto p = schema.find("pattern"); p != schema.end() && p->is_string() && value.is_string()) {
    if (!std::regex_search(value.get<std::string>(), std::regex(p->get<std::string>()))) {
      errors.push_back({path, value.dump() + " does not match " + p->dump()});
    }
  }
  if (value.is_object()) {
    const auto props = schema.find("properties");
    if (auto req = schema.find("required"); req != schema.end() && req->is_array()) {
      for (const auto& name : *req) {
        if (name.is_string() && !value.contains(name.get<std::string>())) {
          errors.push_back({path, "lacks required property \"" + name.get<std::string>() + "\""});
        }
      }
    }
    const auto extra = schema.find("additionalProperties");
    for (const auto& [key, member] : value.items()) {
      const std::string at = path + "." + key;
      if (props != schema.end() && props->is_object() && props->contains(key)) {
        check(member, props->at(key), at, errors, depth + 1);
      } else if (extra != schema.end()) {
        if (extra->is_boolean() && !extra->get<bool>()) {
          errors.push_back({at, "is not a documented property"});
        } else if (extra->is_object()) {
          check(member, *extra, at, errors, depth + 1);
        }
      }
    }
  }
  if (value.is_array()) {
    if (auto items = schema.find("items"); items != schema.end()) {
      for (std::size_t i = 0; i < value.size(); ++i) {
        check(value[i], *items, path + "[" + std::to_string(i) + "]", errors, depth + 1);
      }
    }
  }
  if (auto all = schema.find("allOf"); all != schema.end() && all->is_array()) {
    for (const auto& sub : *all) check(value, sub, path, errors, depth + 1);
  }
  for (const char* keyword : {"oneOf", "anyOf"}) {
    auto alternatives = schema.find(keyword);
    if (alternatives == schema.end() || !alternatives->is_array()) continue;
    std::size_t matches = 0;
    std::vector<SchemaError> first_failure;
    for (const auto& sub : *alternatives) {
      std::vector<SchemaError> sub_errors;
      check(value, sub, path, sub_errors, depth + 1);
      if (sub_errors.empty()) {
        ++matches;
      } else if (first_failure.empty()) {
        first_failure = std::move(sub_errors);
      }
    }
    const bool one_of = std::string_view(keyword) == "oneOf";
    if (matches == 0) {
      errors.push_back({path, std::string("matches none of ") + keyword + " (first: " +
                                  (first_failure.empty()
                                       ? "?"
                                       : first_failure[0].path + " " + first_failure[0].message) +
                                  ")"});
    } else if (one_of && matches > 1) {
      errors.push_back({path, "matches " + std::to_string(matches) + " of oneOf, expected one"});
    }
  }
}

std::string describe(const std::vector<SchemaError>& errors) {
  std::string out;
  for (const auto& e : errors) out += e.path + ": " + e.message + "\n";
  return out;
}

}  // namespace shopeasy::contract
