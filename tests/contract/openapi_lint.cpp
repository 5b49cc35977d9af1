#include "tests/contract/openapi_lint.hpp"

#include <set>

namespace shopeasy::contract {

namespace {

void check_refs(const nlohmann::json& doc, const nlohmann::json& node, const std::string& where,
                std::vector<std::string>& problems) {
  if (node.is_object()) {
    if (auto ref = node.find("$ref"); ref != node.end()) {
      bool ok = false;
      if (ref->is_string() && ref->get<std::string>().rfind("#", 0) == 0) {
        try {
          ok = doc.contains(nlohmann::json::json_pointer(ref->get<std::string>().substr(1)));
        } catch (const nlohmann::json::exception&) {
          ok = false;
        }
      }
      if (!ok) problems.push_back(where + ": $ref " + ref->dump() + " does not resolve");
    }
    for (const auto& [key, value] : node.items())
      check_refs(doc, value, where + "/" + key, problems);
  } else if (node.is_array()) {
    for (std::size_t i = 0; i < node.size(); ++i) {
      check_refs(doc, node[i], where + "/" + std::to_string(i), problems);
    }
  }
}

const nlohmann::json& deref(const nlohmann::json& doc, const nlohmann::json& node) {
  if (node.is_object() && node.contains("$ref") && node["$ref"].is_string()) {
    const std::string ref = node["$ref"];
    try {
      const nlohmann::json::json_pointer p(ref.substr(1));
      if (doc.contains(p)) return doc.at(p);
    } catch (const nlohmann::json::exception&) {
    }
  }
  return node;
}

}  // namespace

std::vector<std::string> lint_openapi(const nlohmann::json& doc) {
  std::vector<std::string> problems;
  if (!doc.is_object() || doc.value("openapi", "").rfind("3.1", 0) != 0) {
    problems.push_back("not an OpenAPI 3.1 document");
    return problems;
  }
  if (!doc.contains("info") || !doc["info"].contains("title") || !doc["info"].contains("version")) {
    problems.push_back("info.title and info.version are required");
  }
  check_refs(doc, doc, "#", problems);
  std::set<std::string> schemes;
  if (doc.contains("components") && doc["components"].contains("securitySchemes")) {
    for (const auto& [name, _] : doc["components"]["securitySchemes"].items()) schemes.insert(name);
  }
  std::set<std::string> operation_ids;
  // Kept in a variable: items() of a temporary would dangle in the loop.
  const nlohmann::json paths = doc.value("paths", nlohmann::json::object());
  for (const auto& [path, item] : paths.items()) {
    std::set<std::string> in_template;
    for (std::size_t i = path.find('{'); i != std::string::npos; i = path.find('{', i + 1)) {
      in_template.insert(path.substr(i + 1, path.find('}', i) - i - 1));
    }
    for (const auto& [method, op] : item.items()) {
      const std::string where = method + " " + path;
      std::set<std::string> declared;
      const nlohmann::json parameters = op.value("parameters", nlohmann::json::array());
      for (const auto& p : parameters) {
        const nlohmann::json& param = deref(doc, p);
        if (param.value("in", "") == "path") {
          declared.insert(param.value("name", ""));
          if (!param.value("required", false)) {
            problems.push_back(where + ": path parameter " + param.value("name", "") +
                               " must be required");
          }
        }
      }
      if (declared != in_template) {
        problems.push_back(where + ": path parameters declared differ from the template's");
      }
      if (!op.contains("responses") || op["responses"].empty()) {
        problems.push_back(where + ": no responses");
      }
      const nlohmann::json security = op.value("security", nlohmann::json::array());
      for (const auto& requirement : security) {
        for (const auto& [scheme, _] : requirement.items()) {
          if (!schemes.contains(scheme)) {
            problems.push_back(where + ": unknown security scheme " + scheme);
          }
        }
      }
      if (op.contains("operationId") && !operation_ids.insert(op["operationId"]).second) {
        problems.push_back(where + ": duplicate operationId");
      }
      // An event stream names each event type it sends and the schema of its data,
      // so a client (and contract_replay) knows what each `data:` line holds.
      const nlohmann::json responses = op.value("responses", nlohmann::json::object());
      for (const auto& [code, response] : responses.items()) {
        const nlohmann::json content = response.value("content", nlohmann::json::object());
        if (!content.contains("text/event-stream")) continue;
        const nlohmann::json events =
            content["text/event-stream"].value("x-events", nlohmann::json::object());
        if (!events.is_object() || events.empty()) {
          problems.push_back(where + " " + code + ": event stream without x-events");
        }
        for (const auto& [type, event] : events.items()) {
          if (!event.is_object() || !event.contains("schema")) {
            problems.push_back(where + " " + code + ": event " + type + " has no data schema");
          }
        }
      }
    }
  }
  return problems;
}

}  // namespace shopeasy::contract
