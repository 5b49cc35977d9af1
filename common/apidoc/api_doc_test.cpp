#include "common/apidoc/api_doc.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

namespace shopeasy::apidoc {
namespace {

nlohmann::json parse(const http::EmbeddedFile& f) {
  return nlohmann::json::parse(std::string(reinterpret_cast<const char*>(f.data), f.size), nullptr,
                               false);
}

TEST(ApiDoc, EveryDocumentIsEmbeddedAndValidJson) {
  for (const char* name : {"cloud.openapi.json", "edge.openapi.json", "mqtt.asyncapi.json"}) {
    const http::EmbeddedFile* f = find_document(name);
    ASSERT_NE(f, nullptr) << name;
    const nlohmann::json doc = parse(*f);
    ASSERT_TRUE(doc.is_object()) << name << " is not a JSON object";
  }
  EXPECT_EQ(parse(*find_document("cloud.openapi.json")).value("openapi", ""), "3.1.0");
  EXPECT_EQ(parse(*find_document("edge.openapi.json")).value("openapi", ""), "3.1.0");
  EXPECT_EQ(parse(*find_document("mqtt.asyncapi.json")).value("asyncapi", ""), "3.0.0");
}

TEST(ApiDoc, UnknownDocumentIsNotFound) {
  EXPECT_EQ(find_document("nope.json"), nullptr);
  EXPECT_EQ(find_document("../CMakeLists.txt"), nullptr);
}

// The AsyncAPI document's x-acl entries for the edge's user and the runner pattern are
// exactly the shipped ACL's lines (scanner blocks are written per device by
// add-runner.sh and are not in the shipped file).
TEST(ApiDoc, MqttDocumentMatchesTheShippedAcl) {
  std::ifstream in(std::string(SHOPEASY_SOURCE_DIR) + "/firmware-config/mosquitto/acl");
  ASSERT_TRUE(in.good());
  std::set<std::string> from_acl;
  std::string user;
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string kind, access, topic;
    words >> kind >> access >> topic;
    if (kind == "user") user = access;
    if (kind == "topic" && !user.empty()) from_acl.insert(user + " " + access + " " + topic);
    if (kind == "pattern") from_acl.insert("%u " + access + " " + topic);
  }
  std::set<std::string> from_doc;
  const nlohmann::json doc = parse(*find_document("mqtt.asyncapi.json"));
  for (const auto& [name, channel] : doc.at("channels").items()) {
    ASSERT_TRUE(channel.contains("x-acl")) << name;
    for (const auto& e : channel.at("x-acl")) {
      const std::string who = e.at("who");
      if (who == "shopeasy-edge" || who == "%u") {
        from_doc.insert(who + " " + e.at("access").get<std::string>() + " " +
                        e.at("topic").get<std::string>());
      }
    }
  }
  EXPECT_EQ(from_doc, from_acl);
}

}  // namespace
}  // namespace shopeasy::apidoc
