#include "common/wire/json_fields.hpp"

#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "common/wire/runner.hpp"

namespace shopeasy::wire {
namespace {

using nlohmann::json;

std::string nested_arrays(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

::testing::AssertionResult is_invalid(const Status& s, std::string_view field,
                                      std::string_view message) {
  if (s.is_ok()) return ::testing::AssertionFailure() << "status is OK";
  if (s.code() != StatusCode::kInvalidArgument || s.field() != field || s.message() != message) {
    return ::testing::AssertionFailure() << "got " << s.to_string() << ", want field '" << field
                                         << "' message '" << message << "'";
  }
  return ::testing::AssertionSuccess();
}

TEST(ParseJsonTest, ParsesObjectsWithoutTrailingContent) {
  StatusOr<json> j = parse_json(R"({"a":1,"b":[true,null,"x"],"c":{"d":-2.5}})");
  ASSERT_TRUE(j.ok()) << j.status().to_string();
  EXPECT_EQ((*j)["a"], 1);
  EXPECT_EQ((*j)["b"][2], "x");
  EXPECT_EQ((*j)["c"]["d"], -2.5);
  // Scalars and arrays are valid documents; FieldReader is what insists on an object.
  EXPECT_TRUE(parse_json("42").ok());
  EXPECT_TRUE(parse_json(" [1, 2] \n").ok());
}

TEST(ParseJsonTest, SyntaxErrorsReportByteOffset) {
  StatusOr<json> empty = parse_json("");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(empty.status().message().rfind("malformed JSON at byte 0: ", 0), 0u)
      << empty.status().message();

  StatusOr<json> bad_literal = parse_json(R"({"a":tru})");
  ASSERT_FALSE(bad_literal.ok());
  EXPECT_EQ(bad_literal.status().message().rfind("malformed JSON at byte 8: ", 0), 0u)
      << bad_literal.status().message();
  EXPECT_TRUE(bad_literal.status().field().empty());

  StatusOr<json> trailing = parse_json("{} x");
  ASSERT_FALSE(trailing.ok());
  EXPECT_EQ(trailing.status().message().rfind("malformed JSON at byte 3: ", 0), 0u)
      << trailing.status().message();

  StatusOr<json> unterminated = parse_json(R"({"a":1)");
  ASSERT_FALSE(unterminated.ok());
  EXPECT_EQ(unterminated.status().message().rfind("malformed JSON at byte 6: ", 0), 0u)
      << unterminated.status().message();

  EXPECT_FALSE(parse_json("{'a':1}").ok());
  EXPECT_FALSE(parse_json(R"({"a":1,})").ok());
  EXPECT_FALSE(parse_json("// comment\n{}").ok());
}

TEST(ParseJsonTest, InvalidUtf8IsRejectedWithAsciiMessage) {
  StatusOr<json> j = parse_json("{\"a\":\"\xff\xfe\"}");
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), StatusCode::kInvalidArgument);
  for (char c : j.status().message()) {
    EXPECT_TRUE(static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7F)
        << "non-printable byte in message: " << j.status().message();
  }
}

TEST(ParseJsonTest, EnforcesDepthLimit) {
  EXPECT_TRUE(parse_json(nested_arrays(32)).ok());
  StatusOr<json> deep = parse_json(nested_arrays(33));
  ASSERT_FALSE(deep.ok());
  EXPECT_TRUE(is_invalid(deep.status(), "", "JSON nesting exceeds 32 levels"));

  EXPECT_TRUE(parse_json(nested_arrays(3), kDefaultMaxJsonBytes, 3).ok());
  EXPECT_FALSE(parse_json(nested_arrays(4), kDefaultMaxJsonBytes, 3).ok());

  // A bomb: never closed, far deeper than the bound; must stop early and cleanly.
  std::string bomb;
  for (int i = 0; i < 200000; ++i) bomb += (i % 2 == 0) ? "{\"a\":" : "[";
  StatusOr<json> exploded = parse_json(bomb);
  ASSERT_FALSE(exploded.ok());
  EXPECT_TRUE(is_invalid(exploded.status(), "", "JSON nesting exceeds 32 levels"));
}

TEST(ParseJsonTest, EnforcesSizeLimit) {
  EXPECT_TRUE(parse_json(R"({"a":"12"})", 10).ok());
  StatusOr<json> big = parse_json(R"({"a":"123"})", 10);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kPayloadTooLarge);
  EXPECT_EQ(big.status().message(), "payload of 11 bytes exceeds the limit of 10 bytes");
}

TEST(DumpCompactTest, CompactAndNeverThrows) {
  json j = {{"b", 1}, {"a", {1, 2}}};
  EXPECT_EQ(dump_compact(j), R"({"a":[1,2],"b":1})");
  json bad = {{"s", std::string("ok\xff")}};
  std::string out;
  EXPECT_NO_THROW(out = dump_compact(bad));
  EXPECT_EQ(out, "{\"s\":\"ok\xEF\xBF\xBD\"}");
}

TEST(IsValidDateTest, AcceptsOnlyRealCalendarDates) {
  for (const char* good : {"2026-01-01", "2026-12-31", "2024-02-29", "2000-02-29", "2026-04-30",
                           "0001-01-01", "9999-12-31"}) {
    EXPECT_TRUE(is_valid_date(good)) << good;
  }
  for (const char* bad :
       {"2026-02-30", "2026-02-29", "1900-02-29", "2026-04-31", "2026-13-01", "2026-00-10",
        "2026-01-00", "0000-01-01", "2026-1-01", "20260101", "2026-01-1x", " 2026-01-01",
        "2026-01-01T00:00:00Z", "", "2026/01/01", "+026-01-01"}) {
    EXPECT_FALSE(is_valid_date(bad)) << bad;
  }
}

TEST(EnumNamesTest, ToAndFromString) {
  EXPECT_EQ(to_string(RunnerState::kToCustomer), "to_customer");
  EXPECT_EQ(from_string<RunnerState>("returning"), RunnerState::kReturning);
  EXPECT_EQ(from_string<RunnerState>("IDLE"), std::nullopt);
  EXPECT_EQ(from_string<RunnerState>(""), std::nullopt);
  EXPECT_EQ(to_string(static_cast<RunnerState>(99)), "unknown");
}

TEST(FieldReaderTest, TopLevelMustBeObject) {
  for (const json& j : {json::array(), json(nullptr), json(3), json("x"), json(true)}) {
    FieldReader r(j);
    EXPECT_TRUE(is_invalid(r.status(), "", "must be a JSON object")) << j.dump();
    std::string out = "unchanged";
    EXPECT_FALSE(r.required_string("a", &out));
    EXPECT_EQ(out, "unchanged");
  }
  FieldReader prefixed(json::array(), "stops[3]");
  EXPECT_TRUE(is_invalid(prefixed.status(), "stops[3]", "must be a JSON object"));
}

TEST(FieldReaderTest, StringRules) {
  json j = {{"id", "abc_D-9"}, {"empty", ""},    {"num", 5},
            {"ctl", "a\nb"},   {"slash", "a/b"}, {"accents", std::string(64 * 2, 'x')},
            {"nul", nullptr}};
  {
    FieldReader r(j);
    std::string out;
    EXPECT_TRUE(r.required_string("id", &out,
                                  {.max_len = 7, .non_empty = true, .charset = CharSet::kToken}));
    EXPECT_EQ(out, "abc_D-9");
    EXPECT_TRUE(r.ok());
  }
  auto first_error = [&](auto&& read) {
    FieldReader r(j);
    read(r);
    return r.status();
  };
  std::string s;
  EXPECT_TRUE(is_invalid(first_error([&](FieldReader& r) { r.required_string("missing", &s); }),
                         "missing", "is required"));
  EXPECT_TRUE(is_invalid(first_error([&](FieldReader& r) { r.required_string("nul", &s); }), "nul",
                         "is required"));
  EXPECT_TRUE(is_invalid(first_error([&](FieldReader& r) { r.required_string("num", &s); }), "num",
                         "must be a string"));
  EXPECT_TRUE(is_invalid(
      first_error([&](FieldReader& r) { r.required_string("empty", &s, {.non_empty = true}); }),
      "empty", "must not be empty"));
  EXPECT_TRUE(
      is_invalid(first_error([&](FieldReader& r) { r.required_string("id", &s, {.max_len = 6}); }),
                 "id", "must be at most 6 characters long"));
  EXPECT_TRUE(is_invalid(first_error([&](FieldReader& r) {
                           r.required_string("ctl", &s, {.charset = CharSet::kPrintable});
                         }),
                         "ctl", "must not contain control characters"));
  EXPECT_TRUE(is_invalid(first_error([&](FieldReader& r) {
                           r.required_string("slash", &s, {.charset = CharSet::kToken});
                         }),
                         "slash", "must contain only letters, digits, '_' and '-'"));
  // Empty is allowed unless non_empty is set; control characters unless excluded.
  EXPECT_TRUE(first_error([&](FieldReader& r) { r.required_string("empty", &s); }).is_ok());
  EXPECT_TRUE(first_error([&](FieldReader& r) { r.required_string("ctl", &s); }).is_ok());
}

TEST(FieldReaderTest, LengthCountsCodePoints) {
  std::string e_acute = "\xC3\xA9";
  std::string sixty_four;
  for (int i = 0; i < 64; ++i) sixty_four += e_acute;
  json j = {{"ok", sixty_four}, {"long", sixty_four + e_acute}};
  FieldReader r(j);
  std::string out;
  EXPECT_TRUE(r.required_string("ok", &out, {.max_len = 64}));
  EXPECT_FALSE(r.required_string("long", &out, {.max_len = 64}));
  EXPECT_TRUE(is_invalid(r.status(), "long", "must be at most 64 characters long"));
}

TEST(FieldReaderTest, OptionalAndNullAreAbsent) {
  json j = {{"n", nullptr}, {"s", "x"}};
  FieldReader r(j);
  std::optional<std::string> a;
  std::optional<std::string> b;
  std::optional<std::int64_t> c;
  EXPECT_FALSE(r.optional_string("n", &a));
  EXPECT_FALSE(r.optional_string("absent", &b));
  EXPECT_FALSE(r.optional_int("absent", &c));
  EXPECT_FALSE(a.has_value());
  EXPECT_FALSE(b.has_value());
  EXPECT_FALSE(c.has_value());
  EXPECT_TRUE(r.optional_string("s", &a));
  EXPECT_EQ(a, "x");
  int plain = 7;
  EXPECT_FALSE(r.optional_int("absent", &plain, 0, 10));
  EXPECT_EQ(plain, 7);
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(r.has("n"));
  EXPECT_TRUE(r.has("s"));
}

TEST(FieldReaderTest, IntegerRangesAndMessages) {
  StatusOr<json> j = parse_json(
      R"({"pos":5,"neg":-3,"zero":0,"float":5.0,"exp":5e0,"str":"5","huge":18446744073709551615,
          "over":99999999999999999999,"min":-9223372036854775808,"bool":true})");
  ASSERT_TRUE(j.ok());
  auto check = [&](std::string_view key, std::int64_t min, std::int64_t max, std::string_view msg) {
    FieldReader r(*j);
    std::int64_t out = 0;
    EXPECT_FALSE(r.required_int(key, &out, min, max)) << key;
    EXPECT_TRUE(is_invalid(r.status(), key, msg)) << key;
  };
  constexpr std::int64_t kMin = FieldReader::kIntMin;
  constexpr std::int64_t kMax = FieldReader::kIntMax;
  check("neg", 1, kMax, "must be a positive integer");
  check("neg", 0, kMax, "must be a non-negative integer");
  check("zero", 1, 1000, "must be an integer between 1 and 1000");
  check("float", kMin, kMax, "must be an integer");
  check("exp", kMin, kMax, "must be an integer");
  check("str", kMin, kMax, "must be an integer");
  check("bool", kMin, kMax, "must be an integer");
  check("huge", kMin, kMax, "must be an integer");
  check("over", kMin, kMax, "must be an integer");
  check("pos", 10, kMax, "must be an integer >= 10");
  check("pos", kMin, 4, "must be an integer <= 4");

  FieldReader r(*j);
  std::int64_t min = 0;
  int pos = 0;
  std::uint64_t huge = 0;
  EXPECT_TRUE(r.required_int("min", &min));
  EXPECT_EQ(min, kMin);
  EXPECT_TRUE(r.required_int("pos", &pos, 5, 5));
  EXPECT_EQ(pos, 5);
  EXPECT_TRUE(r.required_uint("huge", &huge));
  EXPECT_EQ(huge, 18446744073709551615ull);
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(r.required_uint("neg", &huge));
  EXPECT_TRUE(is_invalid(r.status(), "neg", "must be a non-negative integer"));

  // Programmatic DOMs hold non-negative ints as signed; both forms must be accepted.
  json programmatic = {{"seq", std::int64_t{4}}};
  FieldReader pr(programmatic);
  std::optional<std::uint64_t> seq;
  EXPECT_TRUE(pr.optional_uint("seq", &seq, 10));
  EXPECT_EQ(seq, 4u);
  EXPECT_FALSE(pr.optional_uint("seq", &seq, 3));
  EXPECT_TRUE(is_invalid(pr.status(), "seq", "must be an integer between 0 and 3"));
}

TEST(FieldReaderTest, DoubleRangesRejectNonFinite) {
  // JSON text cannot carry infinities (the parser refuses 1e400), but a DOM built in code
  // can, and decoders run on such DOMs too.
  StatusOr<json> overflow = parse_json(R"({"big":1e400})");
  ASSERT_FALSE(overflow.ok());
  EXPECT_EQ(overflow.status().message(),
            "malformed JSON at byte 11: number overflow parsing '1e400'");
  StatusOr<json> j = parse_json(R"({"lat":45,"s":"1.5","h":360})");
  ASSERT_TRUE(j.ok());
  (*j)["big"] = std::numeric_limits<double>::infinity();
  (*j)["neg"] = -std::numeric_limits<double>::infinity();
  FieldReader r(*j);
  double lat = 0;
  EXPECT_TRUE(r.required_double("lat", &lat, -90, 90));
  EXPECT_EQ(lat, 45.0);
  auto check = [&](std::string_view key, double min, double max, Upper upper,
                   std::string_view msg) {
    FieldReader fr(*j);
    double out = 0;
    EXPECT_FALSE(fr.required_double(key, &out, min, max, upper)) << key;
    EXPECT_TRUE(is_invalid(fr.status(), key, msg)) << key;
  };
  check("big", -90, 90, Upper::kInclusive, "must be a number between -90 and 90");
  check("big", -FieldReader::kInf, FieldReader::kInf, Upper::kInclusive, "must be a finite number");
  check("neg", 0, FieldReader::kInf, Upper::kInclusive, "must be a non-negative number");
  check("s", -90, 90, Upper::kInclusive, "must be a number between -90 and 90");
  check("h", 0, 360, Upper::kExclusive, "must be a number >= 0 and < 360");
  check("lat", 0.5, 10.25, Upper::kInclusive, "must be a number between 0.5 and 10.25");

  json nan = {{"x", std::numeric_limits<double>::quiet_NaN()}};
  FieldReader nr(nan);
  double out = 0;
  EXPECT_FALSE(nr.required_double("x", &out));
  EXPECT_TRUE(is_invalid(nr.status(), "x", "must be a finite number"));
}

TEST(FieldReaderTest, BoolsAndDates) {
  json j = {{"t", true}, {"one", 1}, {"d", "2028-02-29"}, {"bad", "2026-02-30"}};
  FieldReader r(j);
  bool t = false;
  std::optional<bool> absent;
  EXPECT_TRUE(r.required_bool("t", &t));
  EXPECT_TRUE(t);
  EXPECT_FALSE(r.optional_bool("nope", &absent));
  std::string d;
  EXPECT_TRUE(r.required_date("d", &d));
  EXPECT_EQ(d, "2028-02-29");
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(r.required_bool("one", &t));
  EXPECT_TRUE(is_invalid(r.status(), "one", "must be true or false"));

  FieldReader dr(j);
  std::optional<std::string> bad;
  EXPECT_FALSE(dr.optional_date("bad", &bad));
  EXPECT_TRUE(
      is_invalid(dr.status(), "bad", "must be a real calendar date in the form YYYY-MM-DD"));
}

TEST(FieldReaderTest, EnumErrorsListChoicesAndSanitizeInput) {
  json j = {{"state", "flying"}, {"num", 1}, {"long", std::string(100, 'x') + "\n"}};
  RunnerState state = RunnerState::kIdle;
  {
    FieldReader r(j);
    EXPECT_FALSE(r.required_enum("state", &state));
    EXPECT_TRUE(is_invalid(r.status(), "state",
                           "unknown value 'flying'; expected one of idle, to_store, at_store, "
                           "to_customer, at_customer, returning, offline"));
  }
  {
    FieldReader r(j);
    EXPECT_FALSE(r.required_enum("num", &state));
    EXPECT_TRUE(is_invalid(r.status(), "num", "must be a string"));
  }
  {
    FieldReader r(j);
    std::optional<RunnerState> opt;
    EXPECT_FALSE(r.optional_enum("long", &opt));
    EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
    EXPECT_NE(r.status().message().find(std::string(64, 'x') + "..."), std::string::npos);
    EXPECT_EQ(r.status().message().find(std::string(65, 'x')), std::string::npos);
  }
}

TEST(FieldReaderTest, NestedPathsAndFirstErrorWins) {
  StatusOr<json> j = parse_json(
      R"({"a":{"b":{"c":"x"}},"items":[{"x":1},{"x":-1},{"x":-2}],"grid":[{"row":[{"v":1},{"v":"no"}]}]})");
  ASSERT_TRUE(j.ok());
  {
    FieldReader r(*j);
    std::int64_t c = 0;
    EXPECT_FALSE(r.required_object("a", [&](FieldReader& a) {
      a.required_object("b", [&](FieldReader& b) { b.required_int("c", &c); });
    }));
    EXPECT_TRUE(is_invalid(r.status(), "a.b.c", "must be an integer"));
    // Later reads do nothing once an error is recorded.
    std::string s = "keep";
    EXPECT_FALSE(r.required_string("missing_too", &s));
    EXPECT_EQ(s, "keep");
    EXPECT_EQ(r.status().field(), "a.b.c");
  }
  {
    FieldReader r(*j);
    std::vector<std::int64_t> seen;
    EXPECT_FALSE(r.required_array("items", 1, 10, [&](FieldReader& item, std::size_t) {
      std::int64_t x = 0;
      if (item.required_int("x", &x, 0, 10)) seen.push_back(x);
    }));
    EXPECT_TRUE(is_invalid(r.status(), "items[1].x", "must be an integer between 0 and 10"));
    EXPECT_EQ(seen, std::vector<std::int64_t>{1});
  }
  {
    FieldReader r(*j);
    r.required_array("grid", 0, 5, [&](FieldReader& g, std::size_t) {
      g.required_array("row", 0, 5, [&](FieldReader& cell, std::size_t) {
        std::int64_t v = 0;
        cell.required_int("v", &v);
      });
    });
    EXPECT_TRUE(is_invalid(r.status(), "grid[0].row[1].v", "must be an integer"));
  }
  {
    FieldReader r(*j, "outer");
    r.fail("custom", "broke a cross-field rule");
    r.fail("other", "ignored");
    EXPECT_TRUE(is_invalid(r.status(), "outer.custom", "broke a cross-field rule"));
  }
}

TEST(FieldReaderTest, ArrayShapeErrors) {
  json j = {{"obj", json::object()},
            {"three", {1, 2, 3}},
            {"scalars", {json::object(), 5}},
            {"empty", json::array()}};
  auto status_of = [&](std::string_view key, std::size_t min, std::size_t max) {
    FieldReader r(j);
    r.required_array(key, min, max, [](FieldReader&, std::size_t) {});
    return r.status();
  };
  EXPECT_TRUE(is_invalid(status_of("obj", 0, 5), "obj", "must be an array"));
  EXPECT_TRUE(is_invalid(status_of("three", 1, 2), "three", "must have between 1 and 2 items"));
  EXPECT_TRUE(is_invalid(status_of("three", 0, 2), "three", "must have at most 2 items"));
  EXPECT_TRUE(is_invalid(status_of("empty", 1, std::numeric_limits<std::size_t>::max()), "empty",
                         "must have at least 1 item"));
  EXPECT_TRUE(is_invalid(status_of("scalars", 0, 5), "scalars[1]", "must be a JSON object"));
  EXPECT_TRUE(is_invalid(status_of("nope", 0, 5), "nope", "is required"));
  FieldReader r(j);
  EXPECT_FALSE(r.optional_array("nope", 0, 5, [](FieldReader&, std::size_t) {}));
  EXPECT_TRUE(r.ok());
}

TEST(FieldReaderTest, JsonObjectIsCopied) {
  json j = {{"body", {{"k", {1, 2}}}}, {"arr", {1}}};
  FieldReader r(j);
  json body;
  EXPECT_TRUE(r.required_json_object("body", &body));
  EXPECT_EQ(body, j["body"]);
  EXPECT_FALSE(r.required_json_object("arr", &body));
  EXPECT_TRUE(is_invalid(r.status(), "arr", "must be a JSON object"));
}

TEST(DecodeWithTest, ExceptionsBecomeInternalErrors) {
  StatusOr<int> r = decode_with<int>(json::object(),
                                     [](FieldReader&, int&) { throw std::runtime_error("boom"); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
  EXPECT_EQ(r.status().message(), "decoding failed: boom");
}

}  // namespace
}  // namespace shopeasy::wire
