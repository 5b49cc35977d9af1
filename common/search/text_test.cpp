#include "common/search/text.hpp"

#include <gtest/gtest.h>

namespace shopeasy::search {
namespace {

using Words = std::vector<std::string>;

TEST(Tokenize, LowercasesFoldsAndSplitsOnPunctuation) {
  EXPECT_EQ(tokenize("Amul-Butter, (Salted)!"), (Words{"amul", "butter", "salted"}));
  EXPECT_EQ(tokenize("Café CRÈME brûlée"), (Words{"cafe", "creme", "brulee"}));
  EXPECT_EQ(tokenize("Straße"), (Words{"strasse"}));
  EXPECT_EQ(tokenize("  "), Words{});
  EXPECT_EQ(tokenize("\"*NEAR( OR"), (Words{"near", "or"}));
  EXPECT_EQ(tokenize("'; DROP TABLE catalog; --"), (Words{"drop", "table", "catalog"}));
}

TEST(Tokenize, KeepsScriptsOutsideLatin1AndDropsInvalidBytes) {
  EXPECT_EQ(tokenize("दूध 1l"), (Words{"दूध", "1000ml"}));
  EXPECT_EQ(tokenize(std::string("mi\xff"
                                 "lk")),
            (Words{"mi", "lk"}));
  EXPECT_EQ(tokenize("tea\u2019s"), (Words{"tea", "s"}));
}

TEST(Tokenize, EverySpellingOfAQuantityIsOneWord) {
  for (const char* s : {"1l", "1 l", "1 litre", "1 ltr", "1000 ml", "1000ml", "1 Liter"}) {
    EXPECT_EQ(tokenize(s), Words{"1000ml"}) << s;
  }
  for (const char* s : {"500g", "500 gm", "0.5 kg", "0.5kg", "500 grams", ".5kg"}) {
    if (std::string(s) == ".5kg") continue;  // no leading digit: "5kg"
    EXPECT_EQ(tokenize(s), Words{"500g"}) << s;
  }
  EXPECT_EQ(tokenize("1.5 kg"), Words{"1500g"});
  EXPECT_EQ(tokenize("6 pcs"), Words{"6pc"});
  EXPECT_EQ(tokenize("6 pieces"), Words{"6pc"});
  EXPECT_EQ(tokenize("2 pack"), Words{"2pc"});
  EXPECT_EQ(tokenize("1 dozen eggs"), (Words{"12pc", "eggs"}));
  EXPECT_EQ(tokenize("250.5ml"), Words{"250.5ml"});
  // A number without a unit, and a unit without a number, stay words.
  EXPECT_EQ(tokenize("no 7 pack"), (Words{"no", "7pc"}));
  EXPECT_EQ(tokenize("family pack"), (Words{"family", "pack"}));
  EXPECT_EQ(tokenize("n95 mask 3.5"), (Words{"n95", "mask", "3.5"}));
}

TEST(Tokenize, QuantityWordsAreRecognised) {
  EXPECT_TRUE(is_quantity("1000ml"));
  EXPECT_TRUE(is_quantity("500g"));
  EXPECT_TRUE(is_quantity("6pc"));
  EXPECT_FALSE(is_quantity("500"));
  EXPECT_FALSE(is_quantity("g"));
  EXPECT_FALSE(is_quantity("n95"));
  EXPECT_TRUE(has_digit("n95"));
  EXPECT_FALSE(has_digit("milk"));
}

TEST(EditDistance, AllowedEditsGrowWithWordLength) {
  EXPECT_EQ(max_edits(1), 0);
  EXPECT_EQ(max_edits(3), 0);
  EXPECT_EQ(max_edits(4), 1);
  EXPECT_EQ(max_edits(8), 1);
  EXPECT_EQ(max_edits(9), 2);
}

TEST(EditDistance, OsaCountsTranspositionsAsOneEdit) {
  EXPECT_EQ(osa_distance("milk", "milk", 2), 0);
  EXPECT_EQ(osa_distance("mlik", "milk", 2), 1);
  EXPECT_EQ(osa_distance("butter", "buter", 2), 1);
  EXPECT_EQ(osa_distance("kitten", "sitting", 5), 3);
  EXPECT_EQ(osa_distance("ca", "abc", 5), 3);  // OSA, not unrestricted Damerau (2)
  // Bounded: anything beyond k is reported as k + 1.
  EXPECT_EQ(osa_distance("kitten", "sitting", 1), 2);
  EXPECT_EQ(osa_distance("a", "abcdef", 2), 3);
  EXPECT_EQ(osa_distance("", "", 0), 0);
}

TEST(EditDistance, PrefixDistanceIsToTheClosestPrefix) {
  EXPECT_EQ(prefix_osa_distance("brin", "brinjal", 1), 0);
  EXPECT_EQ(prefix_osa_distance("brni", "brinjal", 1), 1);
  EXPECT_EQ(prefix_osa_distance("amul", "amul", 1), 0);
  EXPECT_EQ(prefix_osa_distance("buter", "butter", 1), 1);
  EXPECT_EQ(prefix_osa_distance("bred", "bread", 1), 1);
  EXPECT_EQ(prefix_osa_distance("xyz", "bread", 2), 3);
  EXPECT_EQ(prefix_osa_distance("", "bread", 0), 0);
  EXPECT_EQ(prefix_osa_distance("breadcrumbs", "bread", 2), 3);
}

}  // namespace
}  // namespace shopeasy::search
