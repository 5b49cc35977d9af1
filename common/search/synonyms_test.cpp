#include "common/search/synonyms.hpp"

#include <gtest/gtest.h>

namespace shopeasy::search {
namespace {

nlohmann::json J(const char* s) { return nlohmann::json::parse(s); }

bool has(const std::vector<Phrase>& alts, const Phrase& p) {
  return std::find(alts.begin(), alts.end(), p) != alts.end();
}

TEST(Synonyms, BuiltinTableParsesAndIsLarge) {
  auto parsed = Synonyms::parse(builtin_synonyms_text());
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_GE(parsed->entries(), 800u);
  EXPECT_EQ(Synonyms::builtin().entries(), parsed->entries());
}

TEST(Synonyms, HinglishWordsFindTheEnglishNameAndBack) {
  const Synonyms& s = Synonyms::builtin();
  EXPECT_TRUE(has(s.alternatives({"doodh"}), {"milk"}));
  for (const char* w : {"pyaaz", "pyaj", "pyaz"}) EXPECT_TRUE(has(s.alternatives({w}), {"onion"}));
  EXPECT_TRUE(has(s.alternatives({"atta"}), Phrase{"wheat", "flour"}));
  EXPECT_TRUE(has(s.alternatives({"wheat", "flour"}), Phrase{"atta"}));
  EXPECT_TRUE(has(s.alternatives({"aloo"}), {"potato"}));
  EXPECT_TRUE(has(s.alternatives({"baingan"}), {"brinjal"}));
  EXPECT_TRUE(has(s.alternatives({"dahi"}), {"curd"}));
  EXPECT_TRUE(has(s.alternatives({"amool"}), {"amul"}));
  EXPECT_FALSE(has(s.alternatives({"milk"}), {"milk"}));
  EXPECT_TRUE(s.alternatives({"zzzz"}).empty());
}

TEST(Synonyms, ParseNamesTheBadLine) {
  auto bad = Synonyms::parse("milk | doodh\n# fine\nlonely\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().field(), "line 3");
  auto long_member = Synonyms::parse("a b c d | e\n");
  ASSERT_FALSE(long_member.ok());
  EXPECT_EQ(long_member.status().field(), "line 1[0]");
}

TEST(Synonyms, JsonGroupsAreCheckedFieldByField) {
  auto ok = Synonyms::from_json(J(R"({"groups":[["Chhena", "paneer"]]})"));
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(has(ok->alternatives({"chhena"}), {"paneer"}));
  EXPECT_EQ(ok->to_json(), nlohmann::json(J(R"({"groups":[["chhena", "paneer"]]})")));

  struct Case {
    nlohmann::json body;
    std::string field;
  };
  const std::vector<Case> cases = {
      {nlohmann::json::object(), "groups"},
      {{{"groups", "x"}}, "groups"},
      {J(R"({"groups":[["only"]]})"), "groups[0]"},
      {J(R"({"groups":[["a", 3]]})"), "groups[0][1]"},
      {J(R"({"groups":[["a", ""]]})"), "groups[0][1]"},
      {J(R"({"groups":[["a", "b\u0001"]]})"), "groups[0][1]"},
      {J(R"({"groups":[["milk", "!!!"]]})"), "groups[0][1]"},
      {J(R"({"groups":[["milk", "MILK"]]})"), "groups[0]"},
  };
  for (const auto& c : cases) {
    auto r = Synonyms::from_json(c.body);
    ASSERT_FALSE(r.ok()) << c.body.dump();
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().field(), c.field) << c.body.dump();
  }
}

TEST(Synonyms, MergeAddsOperatorGroups) {
  Synonyms s = Synonyms::builtin();
  auto extra = Synonyms::from_json(J(R"({"groups":[["chhena", "paneer"]]})"));
  ASSERT_TRUE(extra.ok());
  s.merge(*extra);
  EXPECT_TRUE(has(s.alternatives({"chhena"}), {"paneer"}));
  EXPECT_TRUE(has(s.alternatives({"paneer"}), {"chhena"}));
  EXPECT_TRUE(has(s.alternatives({"paneer"}), Phrase{"cottage", "cheese"}));
}

}  // namespace
}  // namespace shopeasy::search
