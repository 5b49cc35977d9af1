#include "edge/search/product_search.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "edge/inventory/inventory.hpp"

namespace shopeasy::edge::search {
namespace {

constexpr const char* kMilkEan = "4006381333931";

class ProductSearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/product-search-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    store::StoreOptions o;
    o.path = dir_ + "/edge.db";
    o.durable = false;
    auto s = store::EdgeStore::open(o, clock_, bus_, logger_, metrics_);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    store_ = std::move(*s);
    inv_ = std::make_unique<inventory::Inventory>(*store_, "store-1", logger_, metrics_);
    ASSERT_TRUE(inv_->upsert_bins({{"A-01", 1, "chilled"}}, actor_).ok());
    add({"MILK-1L", "Amul Taaza Milk 1 L", "dairy", 6500, "each", {kMilkEan}, "A-01", 0});
    add({"MILK-S", "Milk", "dairy", 3000, "each", {}, std::nullopt, 0});
    add({"BUTTER", "Amul Butter 500 g", "dairy", 27500, "each", {}, std::nullopt, 0});
    add({"BREAD", "Bread", "bakery", 4000, "each", {}, std::nullopt, 0});
    add({"ONION", "Onion 1 kg", "vegetables", 4500, "each", {}, std::nullopt, 0});
    wire::Scan receive;
    receive.scan_id = "r1";
    receive.scanner_id = "h1";
    receive.code = kMilkEan;
    receive.action = wire::ScanAction::kReceive;
    receive.qty = 12;
    receive.bin = "A-01";
    ASSERT_TRUE(inv_->apply_scan(receive, actor_).ok());
    search_ = std::make_unique<ProductSearch>(*store_, clock_, metrics_);
    ASSERT_TRUE(search_->rebuild().is_ok());
  }
  void TearDown() override {
    search_.reset();
    inv_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void add(inventory::ProductInput p) {
    std::vector<StatusOr<inventory::ProductInput>> rows{std::move(p)};
    auto done = inv_->upsert_products(rows, true, actor_);
    ASSERT_TRUE(done.ok()) << done.status().to_string();
  }
  std::vector<std::string> skus(const std::string& q, std::size_t limit = 20) {
    auto found = search_->search(q, limit);
    EXPECT_TRUE(found.ok()) << q << ": " << found.status().to_string();
    std::vector<std::string> out;
    if (found.ok()) {
      for (const auto& h : found->items) out.push_back(h.product.sku);
    }
    return out;
  }

  std::string dir_;
  FakeClock clock_;
  events::EventBus bus_;
  log::Logger logger_{std::make_shared<log::MemorySink>(), log::Level::kInfo, "t"};
  metrics::Registry metrics_;
  std::unique_ptr<store::EdgeStore> store_;
  std::unique_ptr<inventory::Inventory> inv_;
  std::unique_ptr<ProductSearch> search_;
  inventory::Actor actor_{"tester", "api"};
};

TEST_F(ProductSearchTest, HinglishTyposAndPrefixesFindTheStoresProducts) {
  EXPECT_EQ(skus("doodh").front(), "MILK-1L");      // Hinglish for milk, in stock first
  EXPECT_EQ(skus("amul buter").front(), "BUTTER");  // one typo in a 6-letter word
  EXPECT_EQ(skus("bred"), std::vector<std::string>{"BREAD"});
  EXPECT_EQ(skus("pyaaz"), std::vector<std::string>{"ONION"});
  EXPECT_EQ(skus("oni"), std::vector<std::string>{"ONION"});  // a prefix
  EXPECT_TRUE(skus("amul 200").empty());                      // no word is dropped
}

TEST_F(ProductSearchTest, WhatTheStoreHasComesFirstWithItsStock) {
  // "Milk" alone is the shorter name, but the store has none of it.
  auto found = search_->search("milk", 20);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->items.size(), 2u);
  EXPECT_EQ(found->items[0].product.sku, "MILK-1L");
  EXPECT_EQ(found->items[0].on_hand, 12);
  EXPECT_EQ(found->items[0].available, 12);
  EXPECT_EQ(found->items[1].product.sku, "MILK-S");
  EXPECT_EQ(found->items[1].available, 0);
  EXPECT_EQ(found->matched, 2u);
  EXPECT_EQ(skus("milk", 1), std::vector<std::string>{"MILK-1L"});
}

TEST_F(ProductSearchTest, AProductWrittenAfterTheBuildIsFoundOnTheNextSearch) {
  EXPECT_TRUE(skus("paneer").empty());
  add({"PANEER", "Malai Paneer 200 g", "dairy", 9000, "each", {}, std::nullopt, 0});
  EXPECT_EQ(skus("paneer"), std::vector<std::string>{"PANEER"});
  // Renamed: found by its new name only.
  add({"PANEER", "Cottage Cheese 200 g", "dairy", 9000, "each", {}, std::nullopt, 0});
  EXPECT_TRUE(skus("malai").empty());
  EXPECT_EQ(skus("cottage"), std::vector<std::string>{"PANEER"});
}

TEST_F(ProductSearchTest, BadQueriesAreRefusedNamingTheField) {
  for (const std::string& bad :
       {std::string(), std::string(300, 'a'), std::string("milk\n"), std::string("***")}) {
    auto found = search_->search(bad, 20);
    ASSERT_FALSE(found.ok()) << bad;
    EXPECT_EQ(found.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(found.status().field(), "q");
  }
  EXPECT_EQ(search_->search("milk", 0).status().field(), "limit");
  EXPECT_EQ(search_->search("milk", 51).status().field(), "limit");
  // Query syntax of other engines is only text here.
  EXPECT_TRUE(search_->search("NEAR( \"* OR milk", 20).ok());
}

}  // namespace
}  // namespace shopeasy::edge::search
