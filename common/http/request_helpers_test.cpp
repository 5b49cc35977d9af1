#include "common/http/request_helpers.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace shopeasy::http {
namespace {

Request with_body(std::string content_type, std::string body) {
  Request r;
  r.method = "POST";
  if (!content_type.empty()) r.headers["Content-Type"] = std::move(content_type);
  r.body = std::move(body);
  return r;
}

Request with_query(std::map<std::string, std::string> query) {
  Request r;
  r.method = "GET";
  r.query = std::move(query);
  return r;
}

TEST(JsonBodyTest, ReadsAnObject) {
  auto body = json_body(with_body("application/json; charset=utf-8", R"({"a":1})"));
  ASSERT_TRUE(body.ok()) << body.status().message();
  EXPECT_EQ((*body)["a"], 1);
}

TEST(JsonBodyTest, RefusesOtherContentTypesNamingWhatCame) {
  auto body = json_body(with_body("text/plain", R"({"a":1})"));
  ASSERT_FALSE(body.ok());
  EXPECT_EQ(body.status().code(), StatusCode::kUnsupportedMediaType);
  EXPECT_NE(body.status().message().find("'text/plain'"), std::string::npos);
  EXPECT_EQ(json_body(with_body("", "{}")).status().code(), StatusCode::kUnsupportedMediaType);
}

TEST(JsonBodyTest, RefusesMalformedJsonAndNonObjects) {
  for (const char* text : {"", "{", "[1,2]", "\"text\"", "42", "null"}) {
    auto body = json_body(with_body("application/json", text));
    ASSERT_FALSE(body.ok()) << text;
    EXPECT_EQ(body.status().code(), StatusCode::kInvalidArgument) << text;
  }
}

TEST(IntParamTest, AbsentIsNulloptAndInRangeIsTheValue) {
  auto none = int_param(with_query({}), "limit", 1, 500);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  for (auto [text, value] : {std::pair{"1", 1}, {"500", 500}, {"42", 42}}) {
    auto got = int_param(with_query({{"limit", text}}), "limit", 1, 500);
    ASSERT_TRUE(got.ok()) << text;
    EXPECT_EQ(got->value(), value);
  }
  const std::int64_t max = std::numeric_limits<std::int64_t>::max();
  auto big = int_param(with_query({{"since", std::to_string(max)}}), "since", 0, max);
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->value(), max);
}

TEST(IntParamTest, BadValuesNameTheParameter) {
  for (const char* text : {"", "x", "12x", " 1", "1.5", "0", "501", "-3", "99999999999999999999"}) {
    auto got = int_param(with_query({{"limit", text}}), "limit", 1, 500);
    ASSERT_FALSE(got.ok()) << text;
    EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(got.status().field(), "limit") << text;
  }
  EXPECT_NE(int_param(with_query({{"limit", "501"}}), "limit", 1, 500)
                .status()
                .message()
                .find("between 1 and 500"),
            std::string::npos);
}

TEST(StringParamTest, AbsentOrEmptyIsNulloptAndLengthIsBounded) {
  EXPECT_FALSE(string_param(with_query({}), "q")->has_value());
  EXPECT_FALSE(string_param(with_query({{"q", ""}}), "q")->has_value());
  EXPECT_EQ(string_param(with_query({{"q", "milk"}}), "q")->value(), "milk");
  EXPECT_EQ(string_param(with_query({{"q", std::string(4, 'a')}}), "q", 4)->value(), "aaaa");
  auto too_long = string_param(with_query({{"q", std::string(5, 'a')}}), "q", 4);
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(too_long.status().field(), "q");
}

TEST(ReplyTest, OkIsJsonWithTheStatusAndErrorsUseTheErrorShape) {
  auto ok = reply(StatusOr<nlohmann::json>(nlohmann::json{{"id", "a"}}), 201);
  EXPECT_EQ(ok.status, 201);
  EXPECT_EQ(nlohmann::json::parse(ok.body), (nlohmann::json{{"id", "a"}}));
  auto bad = reply(StatusOr<nlohmann::json>(not_found("no order 'x'")));
  EXPECT_EQ(bad.status, 404);
  auto err = nlohmann::json::parse(bad.body);
  EXPECT_EQ(err["error"]["code"], "not_found");
  EXPECT_EQ(err["error"]["message"], "no order 'x'");
}

}  // namespace
}  // namespace shopeasy::http
