#include "common/search/search_index.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>

#include "common/search/text.hpp"

namespace shopeasy::search {
namespace {

Product item(std::string sku, std::string name, std::string category = "grocery") {
  Product i;
  i.sku = std::move(sku);
  i.name = std::move(name);
  i.category = std::move(category);
  i.price_cents = 100;
  return i;
}

class SearchIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    index_.rebuild({
        item("MILK-500", "Amul Taaza Toned Milk 500 ml", "dairy"),
        item("MILK-1L", "Amul Taaza Toned Milk 1 L", "dairy"),
        item("MD-MILK", "Mother Dairy Full Cream Milk 1 litre", "dairy"),
        item("BUT-100", "Amul Butter 100 g", "dairy"),
        item("BUT-500", "Amul Butter 500g", "dairy"),
        item("BRIN", "Brinjal Bharta 1 kg", "vegetables"),
        item("ONION", "Onion 1 kg", "vegetables"),
        item("ATTA", "Aashirvaad Atta 5 kg", "staples"),
        item("FLOUR", "Organic Wheat Flour 1 kg", "staples"),
        item("CURD", "Nandini Curd 400 g", "dairy"),
        item("MAGGI", "Maggi 2-Minute Noodles 70 g", "snacks"),
        item("EGGS", "Farm Eggs 6 pcs", "dairy"),
        item("AMLA", "Amla Juice 1 L", "beverages"),
    });
  }

  std::vector<std::string> skus(const std::string& q, const std::string& category = "",
                                const std::string& brand = "") {
    auto hits = index_.search(TextQuery{q, category, brand, 100});
    EXPECT_TRUE(hits.ok()) << hits.status().to_string();
    std::vector<std::string> out;
    if (hits.ok()) {
      for (const auto& h : *hits) out.push_back(h.item.sku);
    }
    return out;
  }
  bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  }

  SearchIndex index_;
};

TEST_F(SearchIndexTest, HinglishWordsFindTheirProducts) {
  auto milk = skus("doodh");
  EXPECT_TRUE(contains(milk, "MILK-500"));
  EXPECT_TRUE(contains(milk, "MD-MILK"));
  EXPECT_TRUE(contains(skus("pyaaz"), "ONION"));
  EXPECT_TRUE(contains(skus("pyaj"), "ONION"));
  EXPECT_TRUE(contains(skus("baingan"), "BRIN"));
  EXPECT_TRUE(contains(skus("dahi"), "CURD"));
  // Both directions: "wheat flour" also finds atta, "atta" also finds wheat flour.
  EXPECT_TRUE(contains(skus("wheat flour"), "ATTA"));
  EXPECT_TRUE(contains(skus("atta"), "FLOUR"));
  EXPECT_EQ(skus("atta").front(), "ATTA");  // the literal match ranks first
}

TEST_F(SearchIndexTest, TyposAndPrefixes) {
  EXPECT_EQ(skus("amul buter"), (std::vector<std::string>{"BUT-100", "BUT-500"}));
  EXPECT_EQ(skus("brin"), std::vector<std::string>{"BRIN"});
  EXPECT_TRUE(contains(skus("mlik"), "MILK-500"));     // transposition, 4 letters: 1 edit
  EXPECT_TRUE(contains(skus("noodels"), "MAGGI"));     // 1 edit
  EXPECT_TRUE(contains(skus("aashirvaaad"), "ATTA"));  // 11 letters: up to 2 edits
  // Under 4 letters no typo is allowed: "mik" is no word's start.
  EXPECT_TRUE(skus("mik").empty());
  EXPECT_TRUE(skus("amul butterr milkk").empty());
}

TEST_F(SearchIndexTest, EveryWordMustMatchShortOnesAndNumbersIncluded) {
  EXPECT_EQ(skus("amul butter 500"), std::vector<std::string>{"BUT-500"});
  EXPECT_EQ(skus("amul butter 500g"), std::vector<std::string>{"BUT-500"});
  EXPECT_EQ(skus("amul butter 0.5 kg"), std::vector<std::string>{"BUT-500"});
  EXPECT_TRUE(skus("amul butter 250g").empty());
  EXPECT_TRUE(skus("amul xy").empty());
  EXPECT_EQ(skus("eggs 6 pieces"), std::vector<std::string>{"EGGS"});
}

TEST_F(SearchIndexTest, UnitsMatchWhateverTheSpelling) {
  for (const char* q : {"milk 1l", "milk 1 litre", "milk 1000 ml", "milk 1 ltr"}) {
    auto r = skus(q);
    EXPECT_TRUE(contains(r, "MILK-1L")) << q;
    EXPECT_TRUE(contains(r, "MD-MILK")) << q;
    EXPECT_FALSE(contains(r, "MILK-500")) << q;
  }
  // 100 ml is not a prefix of 1000 ml.
  EXPECT_TRUE(skus("milk 100ml").empty());
}

TEST_F(SearchIndexTest, ExactWordsRankAboveTyposAndPrefixes) {
  auto r = skus("amul");
  ASSERT_GE(r.size(), 5u);
  EXPECT_EQ(r.back(), "AMLA");  // "amla" is a 1-edit prefix match of "amul"
  EXPECT_EQ(skus("onion").front(), "ONION");
}

TEST_F(SearchIndexTest, SynonymsAreMatchedAsWrittenNotWithTypos) {
  index_.upsert(item("CHIPS", "Lays Potato Chips 50 g", "snacks"));
  index_.upsert(item("TEA", "Tata Tea Gold 250 g", "beverages"));
  // "tea" stands for "chai" too, but "chai" must not reach "chips" by one edit.
  EXPECT_EQ(skus("tea"), std::vector<std::string>{"TEA"});
  // Typed by the customer, "chai" is itself one edit from "chips": ranked after tea.
  EXPECT_EQ(skus("chai").front(), "TEA");
}

TEST_F(SearchIndexTest, SynonymWordsMatchWholeOrAsPlurals) {
  index_.upsert(item("KELAT", "Kelat Lemon 6 pcs", "fruits"));
  index_.upsert(item("KELA", "Robusta Kelas 6 pcs", "fruits"));
  // "banana" stands for "kela": the plural "kelas" matches, the longer word "kelat" not.
  EXPECT_EQ(skus("banana"), std::vector<std::string>{"KELA"});
  EXPECT_TRUE(contains(skus("onion"), "ONION"));
  EXPECT_TRUE(contains(skus("pyaaz"), "ONION"));
}

TEST_F(SearchIndexTest, ARepeatedWordNeedsASecondOccurrence) {
  index_.upsert(item("PH", "Pure Harvest Apple 1 kg", "fruits"));
  index_.upsert(item("PHP", "Pure Harvest Pure Apple 1 kg", "fruits"));
  // The longer name wins: it has a "Pure" for each "pure" of the query.
  EXPECT_EQ(skus("pure harvest pure app"), (std::vector<std::string>{"PHP", "PH"}));
  EXPECT_EQ(skus("pure harvest app"), (std::vector<std::string>{"PH", "PHP"}));
}

TEST_F(SearchIndexTest, CategoryAndBrandFilters) {
  EXPECT_EQ(skus("milk", "Dairy", "mother dairy"), std::vector<std::string>{"MD-MILK"});
  EXPECT_EQ(skus("amul", "beverages"), std::vector<std::string>{"AMLA"});  // a 1-edit match
  EXPECT_TRUE(skus("butter", "beverages").empty());
  EXPECT_EQ(skus("butter", "", "AMUL").size(), 2u);
}

TEST_F(SearchIndexTest, UpdatesApplyToOneProduct) {
  auto renamed = item("ONION", "Red Onion 2 kg", "vegetables");
  index_.upsert(renamed);
  EXPECT_TRUE(contains(skus("red onion"), "ONION"));
  EXPECT_TRUE(skus("onion 1kg").empty());
  renamed.active = false;
  index_.upsert(renamed);
  EXPECT_TRUE(skus("onion").empty());
  index_.upsert(item("NEW", "Kissan Tomato Ketchup 1 kg"));
  EXPECT_EQ(skus("kisan ketchup"), std::vector<std::string>{"NEW"});
  EXPECT_EQ(index_.size(), 13u);
}

TEST_F(SearchIndexTest, OperatorSynonymsApply) {
  EXPECT_TRUE(skus("chhena").empty());
  Synonyms s = Synonyms::builtin();
  auto extra = Synonyms::from_json(nlohmann::json::parse(R"({"groups":[["chhena","curd"]]})"));
  ASSERT_TRUE(extra.ok());
  s.merge(*extra);
  index_.set_synonyms(std::move(s));
  EXPECT_EQ(skus("chhena"), std::vector<std::string>{"CURD"});
}

TEST_F(SearchIndexTest, HostileQueriesAreSearchedAsText) {
  for (const char* q : {"\"milk", "NEAR(milk", "\"*", "milk OR butter", "'; DROP TABLE catalog; --",
                        "milk%", "mi_k", "milk\\", "(((", "*"}) {
    auto hits = index_.search(TextQuery{q, "", "", 10});
    if (hits.ok()) continue;
    EXPECT_EQ(hits.status().code(), StatusCode::kInvalidArgument) << q;
    EXPECT_EQ(hits.status().field(), "q") << q;
  }
  EXPECT_FALSE(skus("\"milk").empty());
  EXPECT_TRUE(skus("NEAR(milk").empty());  // "near" is a word like any other
  EXPECT_EQ(skus("(milk* 500ml)").size(), 1u);
  EXPECT_TRUE(skus("milk OR butter").empty());  // "or" must match a word too
  EXPECT_EQ(index_.search(TextQuery{"\"*", "", "", 10}).status().field(), "q");
  EXPECT_EQ(index_.search(TextQuery{"", "", "", 10}).status().code(), StatusCode::kInvalidArgument);
  std::string many;
  for (int i = 0; i < 17; ++i) many += "milk ";
  EXPECT_EQ(index_.search(TextQuery{many, "", "", 10}).status().field(), "q");
}

// The index skips words by their letters before computing a distance; it must never
// skip one a full computation would match.
TEST(SearchIndexFilters, MatchWhatABruteForceScanMatches) {
  std::mt19937_64 rng(11);
  auto word = [&](std::size_t min_len) {
    std::string w;
    const std::size_t n = min_len + rng() % 8;
    for (std::size_t i = 0; i < n; ++i) w.push_back(static_cast<char>('a' + rng() % 6));
    return w;
  };
  std::vector<Product> items;
  std::vector<std::string> names;
  for (int i = 0; i < 3000; ++i) {
    names.push_back(word(2));
    items.push_back(item("S" + std::to_string(i), names.back()));
  }
  SearchIndex index;
  index.set_synonyms(Synonyms());
  index.rebuild(items);
  for (int q = 0; q < 300; ++q) {
    // A name with up to two random edits, so that many words are near it.
    std::string w = names[rng() % names.size()];
    for (int e = 0; e < 2; ++e) {
      const std::size_t pos = rng() % w.size();
      if (rng() % 2 == 0 && w.size() > 4) {
        w.erase(pos, 1);
      } else {
        w[pos] = static_cast<char>('a' + rng() % 6);
      }
    }
    if (w.size() < 4) continue;
    const int k = max_edits(w.size());
    std::set<std::string> expected;
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (osa_distance(w, names[i], k) <= k || prefix_osa_distance(w, names[i], k) <= k) {
        expected.insert(items[i].sku);
      }
    }
    auto hits = index.search(TextQuery{w, "", "", 100000});
    ASSERT_TRUE(hits.ok());
    std::set<std::string> got;
    for (const auto& h : *hits) got.insert(h.item.sku);
    EXPECT_EQ(got, expected) << w;
  }
}

}  // namespace
}  // namespace shopeasy::search
