#include "cloud/search/search_service.hpp"

#include <gtest/gtest.h>

namespace shopeasy::cloud::search {
namespace {

constexpr std::int64_t kNow = 1'700'000'000'000;

template <typename T>
T value_of(StatusOr<T> r, const char* what) {
  EXPECT_TRUE(r.ok()) << what << ": " << r.status().to_string();
  if (!r.ok()) return T{};
  return std::move(*r);
}
#define VALUE(expr) value_of((expr), #expr)

class SearchServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = storage::open_sqlite_store(":memory:");
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    store_ = std::move(*opened);
    ASSERT_TRUE(store_->migrate().is_ok());
    storage::StoreRegistration reg;
    reg.id = "s1";
    reg.name = "Store 1";
    reg.lat = 12.97;
    reg.lon = 77.64;
    ASSERT_TRUE(store_->upsert_store(reg).is_ok());
    for (const auto& [sku, name] :
         std::vector<std::pair<std::string, std::string>>{{"A-MILK", "Amul Milk 500 ml"},
                                                          {"B-MILK", "Nandini Milk 500 ml"},
                                                          {"C-MILK", "Heritage Milk 500 ml"},
                                                          {"BREAD", "Harvest Gold Bread"}}) {
      put(sku, name);
    }
    service_ = std::make_unique<SearchService>(*store_, log::Logger(), metrics_);
    ASSERT_TRUE(service_->load(kNow).is_ok());
  }

  void put(const std::string& sku, const std::string& name, bool active = true) {
    storage::CatalogItem item;
    item.sku = sku;
    item.name = name;
    item.category = "dairy";
    item.price_cents = 3000;
    item.active = active;
    ASSERT_TRUE(store_->upsert_catalog_item(item).ok());
  }

  void stock(const std::string& sku, std::int64_t on_hand) {
    storage::Change c{
        ++seq_,
        "stock.changed",
        {{"sku", sku}, {"sku_on_hand", on_hand}, {"sku_reserved", 0}, {"version", seq_}}};
    auto applied = store_->apply_batch("s1", {c}, kNow);
    ASSERT_TRUE(applied.ok()) << applied.status().to_string();
  }

  StatusOr<SearchPage> search(const std::string& q, const std::string& cursor = "",
                              int limit = 20) {
    SearchRequest r;
    r.store_id = "s1";
    r.query.text = q;
    r.cursor = cursor;
    r.limit = limit;
    return service_->search(r);
  }

  std::vector<std::string> skus(const std::string& q) {
    auto page = search(q);
    EXPECT_TRUE(page.ok()) << page.status().to_string();
    std::vector<std::string> out;
    if (page.ok()) {
      for (const auto& i : page->items) out.push_back(i.item.sku);
    }
    return out;
  }

  metrics::Registry metrics_;
  std::unique_ptr<storage::CloudStore> store_;
  std::unique_ptr<SearchService> service_;
  std::int64_t seq_ = 0;
};

TEST_F(SearchServiceTest, InStockRanksFirstAmongEquallyRelevantAndStockIsReadEachTime) {
  EXPECT_EQ(skus("milk"), (std::vector<std::string>{"A-MILK", "C-MILK", "B-MILK"}));
  stock("C-MILK", 4);
  auto page = search("milk");
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 3u);
  EXPECT_EQ(page->items[0].item.sku, "C-MILK");
  EXPECT_TRUE(page->items[0].in_stock);
  EXPECT_EQ(page->items[0].available, 4);
  EXPECT_FALSE(page->items[1].in_stock);
  // A stock change shows in the very next search.
  stock("C-MILK", 0);
  stock("B-MILK", 2);
  EXPECT_EQ(skus("milk"), (std::vector<std::string>{"B-MILK", "A-MILK", "C-MILK"}));
  // Relevance still comes first: an exact word beats a prefix match in stock.
  put("D", "Milkshake Mix 200 g");
  service_->on_catalog_item(*VALUE(store_->get_catalog_item("D")), kNow);
  stock("D", 9);
  auto milk = skus("milk");
  ASSERT_EQ(milk.size(), 4u);
  EXPECT_EQ(milk.back(), "D");
}

// Popularity is the last key: among equally relevant products with the same stock
// state, the one customers order most comes first. Counts reach the ranking through the
// database (flushed, then read), so every instance ranks alike; they cover
// popularity_days, and a failed flush keeps them for the next one.
TEST_F(SearchServiceTest, AmongEquallyRelevantTheMoreOrderedComesFirst) {
  EXPECT_EQ(skus("milk"), (std::vector<std::string>{"A-MILK", "C-MILK", "B-MILK"}));
  service_->count_order({{"B-MILK", 3}, {"BREAD", 1}});
  service_->count_order({{"C-MILK", 1}});
  // Counted, but not yet in the database: the ranking has not moved.
  EXPECT_EQ(skus("milk"), (std::vector<std::string>{"A-MILK", "C-MILK", "B-MILK"}));
  ASSERT_TRUE(service_->flush_popularity(kNow).is_ok());
  ASSERT_TRUE(service_->read_popularity(kNow).is_ok());
  auto page = search("milk");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->items[0].item.sku, "B-MILK");
  EXPECT_EQ(page->items[0].popularity, 3);
  EXPECT_EQ(skus("milk"), (std::vector<std::string>{"B-MILK", "C-MILK", "A-MILK"}));
  // Stock still beats popularity.
  stock("A-MILK", 5);
  EXPECT_EQ(skus("milk"), (std::vector<std::string>{"A-MILK", "B-MILK", "C-MILK"}));
  // Another instance's counts add up in the database.
  ASSERT_TRUE(store_->add_sku_sales(kNow / 86'400'000, {{"C-MILK", 5}}).is_ok());
  ASSERT_TRUE(service_->read_popularity(kNow + 60'000).is_ok());
  EXPECT_EQ(skus("milk"), (std::vector<std::string>{"A-MILK", "C-MILK", "B-MILK"}));
  // Orders older than the window no longer count.
  ASSERT_TRUE(service_->read_popularity(kNow + 31LL * 86'400'000).is_ok());
  EXPECT_EQ(VALUE(search("milk")).items[1].popularity, 0);
}

TEST_F(SearchServiceTest, CatalogWritesReachTheIndexAtOnce) {
  EXPECT_TRUE(skus("paneer").empty());
  put("P", "Amul Paneer 200 g");
  // Not yet told: the periodic rebuild would find it.
  EXPECT_TRUE(skus("paneer").empty());
  service_->on_catalog_item(*VALUE(store_->get_catalog_item("P")), kNow);
  EXPECT_EQ(skus("paneer"), std::vector<std::string>{"P"});
  put("P", "Amul Paneer 200 g", /*active=*/false);
  service_->refresh_if_due(kNow + 60'000);
  EXPECT_TRUE(skus("paneer").empty());
}

TEST_F(SearchServiceTest, AnotherInstancesWritesShowAtItsNextPoll) {
  metrics::Registry other_metrics;
  SearchService other(*store_, log::Logger(), other_metrics);
  ASSERT_TRUE(other.load(kNow).is_ok());
  SearchRequest r;
  r.store_id = "s1";
  r.query.text = "paneer";
  // Nothing changed: a poll does not rebuild (the periodic rebuild is a minute away).
  put("P", "Amul Paneer 200 g");
  other.refresh_if_due(kNow + 1000);
  EXPECT_TRUE(VALUE(other.search(r)).items.empty());
  // This instance announces its write; the other sees it at its next poll.
  service_->on_catalog_item(*VALUE(store_->get_catalog_item("P")), kNow);
  other.refresh_if_due(kNow + 1500);
  EXPECT_EQ(VALUE(other.search(r)).items.size(), 1u);
  // Synonyms too.
  ASSERT_TRUE(
      service_->put_synonyms(nlohmann::json::parse(R"({"groups":[["chhena","paneer"]]})"), kNow)
          .is_ok());
  r.query.text = "chhena";
  other.refresh_if_due(kNow + 2000);
  EXPECT_EQ(VALUE(other.search(r)).items.size(), 1u);
}

TEST_F(SearchServiceTest, CursorsPageThroughTheRanking) {
  auto first = search("milk", "", 2);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->items.size(), 2u);
  ASSERT_TRUE(first->next_cursor.has_value());
  auto second = search("milk", *first->next_cursor, 2);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->items.size(), 1u);
  EXPECT_FALSE(second->next_cursor.has_value());
  EXPECT_EQ(second->items[0].item.sku, "B-MILK");
}

TEST_F(SearchServiceTest, BadRequestsNameTheField) {
  struct Case {
    std::string q, cursor;
    int limit;
    std::string field;
  };
  for (const auto& c : std::vector<Case>{{"", "", 20, "q"},
                                         {"!!!", "", 20, "q"},
                                         {std::string(257, 'a'), "", 20, "q"},
                                         {"milk\x01", "", 20, "q"},
                                         {"milk\x7f", "", 20, "q"},
                                         {"milk", "abc", 20, "cursor"},
                                         {"milk", "-1", 20, "cursor"},
                                         {"milk", "0", 20, "cursor"},
                                         {"milk", "99999999999999999999999", 20, "cursor"},
                                         {"milk", "", 0, "limit"},
                                         {"milk", "", 101, "limit"}}) {
    auto r = search(c.q, c.cursor, c.limit);
    ASSERT_FALSE(r.ok()) << c.q << " " << c.cursor;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().field(), c.field);
  }
  // Each refusal is counted by the field at fault.
  EXPECT_EQ(metrics_
                .counter_family("cloud_search_refused_total",
                                "Product searches refused, by the field at fault", {"field"})
                .with({"q"})
                .value(),
            5);
  SearchRequest unknown_store;
  unknown_store.store_id = "nope";
  unknown_store.query.text = "milk";
  EXPECT_EQ(service_->search(unknown_store).status().code(), StatusCode::kNotFound);
}

TEST_F(SearchServiceTest, OperatorSynonymsArePersistedAndApplied) {
  EXPECT_EQ(VALUE(service_->synonyms()), nlohmann::json::parse(R"({"groups":[]})"));
  EXPECT_TRUE(skus("roti").empty());
  ASSERT_TRUE(
      service_->put_synonyms(nlohmann::json::parse(R"({"groups":[["Roti","bread"]]})"), kNow)
          .is_ok());
  EXPECT_EQ(skus("roti"), std::vector<std::string>{"BREAD"});
  EXPECT_EQ(VALUE(service_->synonyms()), nlohmann::json::parse(R"({"groups":[["roti","bread"]]})"));
  // A second instance on the same database loads them.
  metrics::Registry other_metrics;
  SearchService other(*store_, log::Logger(), other_metrics);
  ASSERT_TRUE(other.load(kNow).is_ok());
  SearchRequest r;
  r.store_id = "s1";
  r.query.text = "roti";
  EXPECT_EQ(VALUE(other.search(r)).items.size(), 1u);
  // Refused groups change nothing.
  auto bad = service_->put_synonyms(nlohmann::json::parse(R"({"groups":[["x"]]})"), kNow);
  EXPECT_EQ(bad.field(), "groups[0]");
  EXPECT_EQ(skus("roti"), std::vector<std::string>{"BREAD"});
}

}  // namespace
}  // namespace shopeasy::cloud::search
