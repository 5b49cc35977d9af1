// The typed inventory results and the API's JSON made from them.
#include "edge/inventory/inventory_json.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "edge/inventory/inventory.hpp"

namespace shopeasy::edge::inventory {
namespace {

using nlohmann::json;

constexpr const char* kMilkEan = "4006381333931";

class InventoryTypedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/inventory-typed-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    store::StoreOptions o;
    o.path = dir_ + "/edge.db";
    o.durable = false;
    auto s = store::EdgeStore::open(o, clock_, bus_, logger_, metrics_);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    store_ = std::move(*s);
    inv_ = std::make_unique<Inventory>(*store_, "store-1", logger_, metrics_);
    ASSERT_TRUE(inv_->upsert_bins({{"A-01", 1, "chilled"}, {"A-02", 2, "chilled"}}, actor_).ok());
    std::vector<StatusOr<ProductInput>> rows;
    rows.push_back(
        ProductInput{"MILK-1L", "Milk 1 L", "dairy", 6500, "each", {kMilkEan}, "A-01", 10});
    ASSERT_TRUE(inv_->upsert_products(rows, true, actor_).ok());
  }
  void TearDown() override {
    inv_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  wire::Scan scan(std::string id, std::string code, wire::ScanAction action, std::int64_t qty) {
    wire::Scan s;
    s.scan_id = std::move(id);
    s.scanner_id = "h1";
    s.code = std::move(code);
    s.action = action;
    s.qty = qty;
    return s;
  }

  std::string dir_;
  FakeClock clock_;
  events::EventBus bus_;
  log::Logger logger_{std::make_shared<log::MemorySink>(), log::Level::kInfo, "t"};
  metrics::Registry metrics_;
  std::unique_ptr<store::EdgeStore> store_;
  std::unique_ptr<Inventory> inv_;
  Actor actor_{"tester", "api"};
};

TEST_F(InventoryTypedTest, ScanReturnsItsMovementsTyped) {
  auto received = inv_->scan(
      scan("r1", "(01)04006381333931(10)L1(17)261231", wire::ScanAction::kReceive, 6), actor_);
  ASSERT_TRUE(received.ok()) << received.status().to_string();
  EXPECT_EQ(received->action, "receive");
  EXPECT_EQ(received->sku, "MILK-1L");
  EXPECT_EQ(received->qty, 6);
  EXPECT_FALSE(received->duplicate);
  ASSERT_EQ(received->movements.size(), 1u);
  const StockMovement& m = received->movements[0];
  EXPECT_EQ(m.bin, "A-01");
  EXPECT_EQ(m.lot, "L1");
  EXPECT_EQ(m.expiry, "2026-12-31");
  EXPECT_EQ(m.delta, 6);
  EXPECT_EQ(m.on_hand_after, 6);
  EXPECT_EQ(m.sku_on_hand, 6);
  EXPECT_EQ(m.ref, "r1");
  ASSERT_TRUE(m.seq.has_value());

  // The event on the bus is the movement's JSON without its own seq.
  auto events = inv_->events_after(0, 100);
  ASSERT_TRUE(events.ok());
  const events::Event* changed = nullptr;
  for (const auto& e : *events) {
    if (e.type == "stock.changed") changed = &e;
  }
  ASSERT_NE(changed, nullptr);
  EXPECT_EQ(changed->seq, *m.seq);
  json expected = movement_json(m);
  expected.erase("seq");
  EXPECT_EQ(changed->body, expected);
}

TEST_F(InventoryTypedTest, RepeatedScanReadsBackTheFirstResult) {
  auto first = inv_->scan(scan("d1", kMilkEan, wire::ScanAction::kReceive, 3), actor_);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  auto again = inv_->scan(scan("d1", kMilkEan, wire::ScanAction::kReceive, 3), actor_);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_TRUE(again->duplicate);
  json expected = scan_result_json(*first);
  expected["duplicate"] = true;
  EXPECT_EQ(scan_result_json(*again), expected);
  // The JSON wrapper answers the same.
  auto as_json = inv_->apply_scan(scan("d1", kMilkEan, wire::ScanAction::kReceive, 3), actor_);
  ASSERT_TRUE(as_json.ok());
  EXPECT_EQ(*as_json, expected);
}

TEST_F(InventoryTypedTest, UnreadableStoredScanResultIsInternalNotAGuess) {
  ASSERT_TRUE(store_
                  ->write([](store::WriteContext& ctx) -> Status {
                    return ctx.db().run(
                        "INSERT INTO applied_scans (scan_id, ts_ms, response) VALUES "
                        "('broken', 0, '{\"scan_id\":\"broken\"}')");
                  })
                  .is_ok());
  auto r = inv_->scan(scan("broken", kMilkEan, wire::ScanAction::kReceive, 1), actor_);
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
  EXPECT_EQ(scan_result_from_json(json::array()).status().code(), StatusCode::kInternal);
}

TEST_F(InventoryTypedTest, StockItemAndPagesAreTypedAndShapedAsBefore) {
  ASSERT_TRUE(inv_->scan(scan("r1", kMilkEan, wire::ScanAction::kReceive, 4), actor_).ok());
  auto item = inv_->stock_item("MILK-1L");
  ASSERT_TRUE(item.ok()) << item.status().to_string();
  EXPECT_EQ(item->level.on_hand, 4);
  EXPECT_EQ(item->level.available(), 4);
  EXPECT_TRUE(item->level.low());  // reorder point 10
  EXPECT_EQ(item->level.home_bin, "A-01");
  ASSERT_EQ(item->barcodes.size(), 1u);
  ASSERT_EQ(item->stock.size(), 1u);
  EXPECT_FALSE(item->stock[0].lot.has_value());
  ASSERT_EQ(item->recent_movements.size(), 1u);
  EXPECT_EQ(item->recent_movements[0].ref, "r1");

  const json j = stock_item_json(*item);
  EXPECT_EQ(j["available"], 4);
  EXPECT_EQ(j["low"], true);
  EXPECT_FALSE(j["stock"][0].contains("lot"));
  // Recent movements leave out the SKU and the note; the ledger view has them.
  EXPECT_FALSE(j["recent_movements"][0].contains("sku"));
  EXPECT_EQ(inv_->get_sku("MILK-1L").value(), j);

  LedgerQuery lq;
  lq.sku = "MILK-1L";
  lq.limit = 1;
  ASSERT_TRUE(inv_->scan(scan("p1", kMilkEan, wire::ScanAction::kPick, 1), actor_).ok());
  auto page = inv_->movements(lq);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].reason, "pick");
  ASSERT_TRUE(page->next_cursor.has_value());
  EXPECT_EQ(*page->next_cursor, page->items[0].id);
  const json lj = ledger_page_json(*page);
  EXPECT_EQ(lj["items"][0]["sku"], "MILK-1L");
  EXPECT_EQ(lj["next_cursor"], *page->next_cursor);
  EXPECT_EQ(inv_->ledger(lq).value(), lj);

  auto stock = inv_->stock_page(StockQuery{});
  ASSERT_TRUE(stock.ok());
  ASSERT_EQ(stock->items.size(), 1u);
  EXPECT_FALSE(stock->next_cursor.has_value());
  EXPECT_EQ(stock_page_json(*stock)["next_cursor"], nullptr);
}

TEST_F(InventoryTypedTest, EditsReservationsAndBinsAreTyped) {
  ASSERT_TRUE(inv_->scan(scan("r1", kMilkEan, wire::ScanAction::kReceive, 5), actor_).ok());
  StockEdit edit{"MILK-1L", "A-01", std::nullopt, std::nullopt, -2, "damage", "dropped", {}};
  auto edited = inv_->edit_stock(edit, actor_);
  ASSERT_TRUE(edited.ok()) << edited.status().to_string();
  ASSERT_EQ(edited->movements.size(), 1u);
  EXPECT_EQ(edited->movements[0].delta, -2);
  EXPECT_EQ(edited->movements[0].note, "dropped");
  EXPECT_EQ(edited->version, edited->movements[0].version);
  const json j = stock_edited_json(*edited);
  EXPECT_EQ(j["version"], edited->version);
  EXPECT_EQ(j["movements"][0]["seq"], *edited->movements[0].seq);

  // Setting what is already there moves nothing.
  StockEdit same{"MILK-1L", "A-01", std::nullopt, 3, std::nullopt, "count", std::nullopt, {}};
  auto unchanged = inv_->edit_stock(same, actor_);
  ASSERT_TRUE(unchanged.ok());
  EXPECT_TRUE(unchanged->movements.empty());
  EXPECT_EQ(unchanged->version, edited->version);

  auto reserved = inv_->reserve("o-1", {{"MILK-1L", 2}}, actor_);
  ASSERT_TRUE(reserved.ok()) << reserved.status().to_string();
  EXPECT_FALSE(reserved->already_reserved);
  ASSERT_EQ(reserved->movements.size(), 1u);
  EXPECT_EQ(reserved->movements[0].reserved_delta, 2);
  auto again = inv_->reserve("o-1", {{"MILK-1L", 2}}, actor_);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->already_reserved);
  EXPECT_TRUE(again->movements.empty());
  auto released = inv_->release("o-1", actor_);
  ASSERT_TRUE(released.ok());
  ASSERT_EQ(released->movements.size(), 1u);
  EXPECT_EQ(released->movements[0].reserved_delta, -2);

  auto bins = inv_->upsert_bins({{"B-01", 3, ""}, {"B-02", 4, ""}}, actor_);
  ASSERT_TRUE(bins.ok());
  EXPECT_EQ(*bins, 2u);
  EXPECT_EQ(inv_->upsert_bins({{"bad bin", 1, ""}}, actor_).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(InventoryTypedTest, LookupScanAnswersTheProduct) {
  auto r = inv_->scan(scan("l1", kMilkEan, wire::ScanAction::kLookup, 1), actor_);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_TRUE(r->looked_up.has_value());
  EXPECT_EQ(r->looked_up->level.sku, "MILK-1L");
  EXPECT_EQ(scan_result_json(*r), stock_item_json(*r->looked_up));
}

}  // namespace
}  // namespace shopeasy::edge::inventory
