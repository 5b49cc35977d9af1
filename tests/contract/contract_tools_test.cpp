#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/contract/json_schema.hpp"
#include "tests/contract/openapi_lint.hpp"
#include "tests/contract/route_template.hpp"
#include "tests/contract/sse.hpp"

namespace shopeasy::contract {
namespace {

using nlohmann::json;

std::vector<SchemaError> check(const json& value, const json& schema, const json& doc = {}) {
  return SchemaValidator(doc).validate(value, schema);
}

TEST(SchemaValidator, Types) {
  EXPECT_TRUE(check(1, {{"type", "integer"}}).empty());
  EXPECT_TRUE(check(1.0, {{"type", "integer"}}).empty());
  EXPECT_FALSE(check(1.5, {{"type", "integer"}}).empty());
  EXPECT_TRUE(check(1.5, {{"type", "number"}}).empty());
  EXPECT_FALSE(check("1", {{"type", "number"}}).empty());
  EXPECT_TRUE(check(nullptr, {{"type", {"string", "null"}}}).empty());
  EXPECT_FALSE(check(3, {{"type", {"string", "null"}}}).empty());
  EXPECT_FALSE(check(json::object(), {{"type", "array"}}).empty());
  EXPECT_TRUE(check(true, {{"type", "boolean"}}).empty());
}

TEST(SchemaValidator, ObjectsRequiredAndClosed) {
  const json schema = {{"type", "object"},
                       {"properties", {{"a", {{"type", "string"}}}, {"b", {{"type", "integer"}}}}},
                       {"required", {"a"}},
                       {"additionalProperties", false}};
  EXPECT_TRUE(check({{"a", "x"}}, schema).empty());
  auto errors = check({{"b", 1}}, schema);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "$");
  errors = check({{"a", "x"}, {"c", 1}}, schema);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "$.c");
  errors = check({{"a", 1}}, schema);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "$.a");
  // Open objects take anything else.
  EXPECT_TRUE(check({{"a", "x"}, {"c", 1}}, {{"type", "object"}}).empty());
  EXPECT_FALSE(
      check({{"c", "x"}}, {{"type", "object"}, {"additionalProperties", {{"type", "integer"}}}})
          .empty());
}

TEST(SchemaValidator, ItemsEnumConstPattern) {
  const json schema = {{"type", "array"},
                       {"items", {{"type", "string"}, {"enum", {"ok", "degraded"}}}}};
  EXPECT_TRUE(check({"ok", "degraded"}, schema).empty());
  auto errors = check({"ok", "bad"}, schema);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "$[1]");
  EXPECT_FALSE(check(false, {{"const", true}}).empty());
  EXPECT_TRUE(check("ab12", {{"pattern", "^[a-z0-9]+$"}}).empty());
  EXPECT_FALSE(check("AB", {{"pattern", "^[a-z0-9]+$"}}).empty());
}

TEST(SchemaValidator, RefsAndCombinators) {
  const json doc = {{"components",
                     {{"schemas",
                       {{"Error",
                         {{"type", "object"},
                          {"properties",
                           {{"error",
                             {{"type", "object"},
                              {"required", {"code", "message"}},
                              {"properties", {{"code", {{"type", "string"}}}}}}}}},
                          {"required", {"error"}}}}}}}}};
  const json ref = {{"$ref", "#/components/schemas/Error"}};
  EXPECT_TRUE(check({{"error", {{"code", "x"}, {"message", "m"}}}}, ref, doc).empty());
  EXPECT_FALSE(check({{"error", {{"code", "x"}}}}, ref, doc).empty());
  EXPECT_FALSE(check(json::object(), {{"$ref", "#/components/schemas/Nope"}}, doc).empty());
  const json all = {{"allOf", {ref, {{"properties", {{"lines", {{"type", "array"}}}}}}}}};
  EXPECT_TRUE(
      check({{"error", {{"code", "x"}, {"message", "m"}}}, {"lines", json::array()}}, all, doc)
          .empty());
  EXPECT_FALSE(
      check({{"error", {{"code", "x"}, {"message", "m"}}}, {"lines", 1}}, all, doc).empty());
  const json one = {{"oneOf",
                     {{{"type", "object"}, {"required", {"lat"}}},
                      {{"type", "object"}, {"required", {"geohash"}}}}}};
  EXPECT_TRUE(check({{"lat", 1}}, one).empty());
  EXPECT_FALSE(check({{"lat", 1}, {"geohash", "x"}}, one).empty());  // both match
  EXPECT_FALSE(check({{"x", 1}}, one).empty());                      // none matches
}

TEST(SchemaValidator, RefCycleEnds) {
  const json doc = {{"a", {{"$ref", "#/a"}}}};
  EXPECT_FALSE(check(1, {{"$ref", "#/a"}}, doc).empty());
}

TEST(RouteTemplate, PatternsAndPaths) {
  EXPECT_EQ(template_of_pattern("/v1/stores/([A-Za-z0-9_-]{1,64})/sync"), "/v1/stores/{}/sync");
  EXPECT_EQ(template_of_pattern(R"(/openapi\.json)"), "/openapi.json");
  EXPECT_EQ(template_of_pattern("/ui/([A-Za-z0-9._/-]{1,200})"), "/ui/{}");
  EXPECT_EQ(template_of_pattern("/api/a/([^/]+)/b/((x)|y)"), "/api/a/{}/b/{}");
  EXPECT_EQ(template_of_pattern("/"), "/");
  EXPECT_EQ(template_of_pattern("/api/(a|b"), std::nullopt);
  EXPECT_EQ(template_of_pattern("/api/a|b"), std::nullopt);
  EXPECT_EQ(template_of_pattern("/api/x.*"), std::nullopt);
  EXPECT_EQ(template_of_path("/v1/stores/{id}/sync"), "/v1/stores/{}/sync");
  EXPECT_EQ(template_of_path("/health"), "/health");
}

TEST(OpenApiLint, FindsStructuralProblems) {
  const json doc = json::parse(R"({
    "openapi": "3.1.0", "info": {"title": "t", "version": "1"},
    "components": {"securitySchemes": {"bearer": {"type": "http"}}},
    "paths": {"/a/{id}": {"get": {
      "security": [{"nope": []}],
      "responses": {"200": {"$ref": "#/components/responses/Missing"}}}}}})");
  const auto problems = lint_openapi(doc);
  std::string all;
  for (const auto& p : problems) all += p + "\n";
  EXPECT_NE(all.find("does not resolve"), std::string::npos) << all;
  EXPECT_NE(all.find("path parameters declared differ"), std::string::npos) << all;
  EXPECT_NE(all.find("unknown security scheme nope"), std::string::npos) << all;
  EXPECT_FALSE(lint_openapi(json{{"swagger", "2.0"}}).empty());
}

TEST(OpenApiLint, EventStreamsNameTheirEventsAndDataSchemas) {
  json doc = json::parse(R"({
    "openapi": "3.1.0", "info": {"title": "t", "version": "1"},
    "paths": {"/events": {"get": {"responses": {"200": {"description": "s",
      "content": {"text/event-stream": {"schema": {"type": "string"}}}}}}}}})");
  auto all = [](const std::vector<std::string>& problems) {
    std::string out;
    for (const auto& p : problems) out += p + "\n";
    return out;
  };
  EXPECT_NE(all(lint_openapi(doc)).find("event stream without x-events"), std::string::npos);
  json& stream = doc["paths"]["/events"]["get"]["responses"]["200"]["content"]["text/event-stream"];
  stream["x-events"] = {{"tick", {{"description", "no schema"}}}};
  EXPECT_NE(all(lint_openapi(doc)).find("event tick has no data schema"), std::string::npos);
  stream["x-events"]["tick"]["schema"] = {{"type", "object"}};
  EXPECT_EQ(all(lint_openapi(doc)), "");
}

TEST(Sse, ParsesCompleteEventsOnly) {
  const auto events = parse_sse(
      "retry: 1000\n: a comment\n\n"
      "id: 7\nevent: stock.changed\ndata: {\"a\":1}\n\n"
      "event: order.claim\r\ndata:{\"b\":\r\ndata: 2}\r\n\r\n"
      "data: plain\rdata: two\r\r"
      "event: lost\ndata: {\"cut\":");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, "stock.changed");
  EXPECT_EQ(events[0].id, "7");
  EXPECT_EQ(events[0].data, R"({"a":1})");
  EXPECT_EQ(events[1].type, "order.claim");
  EXPECT_EQ(events[1].id, std::nullopt);
  EXPECT_EQ(events[1].data, "{\"b\":\n2}");
  EXPECT_EQ(events[2].type, "message");
  EXPECT_EQ(events[2].data, "plain\ntwo");
  EXPECT_TRUE(parse_sse("").empty());
  EXPECT_TRUE(parse_sse("event: x\n\n").empty());  // no data: nothing dispatched
}

TEST(OpenApiLint, ShippedDocumentsAreClean) {
  for (const char* name : {"cloud.openapi.json", "edge.openapi.json"}) {
    std::ifstream in(std::string(SHOPEASY_SOURCE_DIR) + "/docs/api/" + name);
    std::stringstream text;
    text << in.rdbuf();
    const json doc = json::parse(text.str(), nullptr, false);
    ASSERT_FALSE(doc.is_discarded()) << name;
    std::string all;
    for (const auto& p : lint_openapi(doc)) all += p + "\n";
    EXPECT_TRUE(all.empty()) << name << ":\n" << all;
  }
}

}  // namespace
}  // namespace shopeasy::contract
