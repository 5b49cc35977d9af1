#include "edge/inventory/inventory.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace shopeasy::edge::inventory {
namespace {

using namespace std::chrono_literals;

// EAN-13 codes with valid check digits.
constexpr const char* kMilkEan = "4006381333931";
constexpr const char* kBreadEan = "5901234123457";

class InventoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/inventory-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    store::StoreOptions o;
    o.path = dir_ + "/edge.db";
    o.durable = false;
    auto s = store::EdgeStore::open(o, clock_, bus_, logger_, metrics_);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    store_ = std::move(*s);
    inv_ = std::make_unique<Inventory>(*store_, "store-1", logger_, metrics_);
    ASSERT_TRUE(
        inv_->upsert_bins({{"A-01", 1, "chilled"}, {"A-02", 2, "chilled"}, {"B-01", 3, ""}}, actor_)
            .ok());
    std::vector<StatusOr<ProductInput>> rows;
    rows.push_back(
        ProductInput{"MILK-1L", "Milk 1 L", "dairy", 6500, "each", {kMilkEan}, "A-01", 10});
    rows.push_back(ProductInput{"BREAD", "Bread", "bakery", 4000, "each", {kBreadEan}, "B-01", 0});
    auto imported = inv_->upsert_products(rows, true, actor_);
    ASSERT_TRUE(imported.ok()) << imported.status().to_string();
  }
  void TearDown() override {
    inv_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  wire::Scan scan(std::string id, std::string code, wire::ScanAction action, std::int64_t qty = 1) {
    wire::Scan s;
    s.scan_id = std::move(id);
    s.scanner_id = "h1";
    s.code = std::move(code);
    s.action = action;
    s.qty = qty;
    return s;
  }
  std::int64_t on_hand(const std::string& sku) {
    auto item = inv_->get_sku(sku);
    EXPECT_TRUE(item.ok()) << item.status().to_string();
    return item.ok() ? (*item)["on_hand"].get<std::int64_t>() : -1;
  }
  // The ledger is the truth: on-hand per SKU must equal the sum of its deltas.
  void expect_ledger_matches_stock() {
    auto mismatches = store_->read([](db::Database& db) {
      return db
          .query_one<std::int64_t>(
              "SELECT count(*) FROM (SELECT sku, bin, lot_id, sum(delta) d, sum(reserved_delta) r "
              "FROM ledger GROUP BY sku, bin, lot_id) g LEFT JOIN stock s USING (sku, bin, lot_id) "
              "WHERE s.on_hand IS NOT g.d OR s.reserved IS NOT g.r")
          .value()
          .value_or(-1);
    });
    EXPECT_EQ(mismatches, 0);
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

TEST_F(InventoryTest, ReceiveThenPickMovesStockAndWritesLedger) {
  ASSERT_TRUE(inv_->apply_scan(scan("s1", kMilkEan, wire::ScanAction::kReceive, 12), actor_).ok());
  EXPECT_EQ(on_hand("MILK-1L"), 12);
  auto picked = inv_->apply_scan(scan("s2", kMilkEan, wire::ScanAction::kPick, 5), actor_);
  ASSERT_TRUE(picked.ok()) << picked.status().to_string();
  EXPECT_EQ(on_hand("MILK-1L"), 7);
  expect_ledger_matches_stock();
}

TEST_F(InventoryTest, Gs1LabelReceivesTheRightLotAndPicksFefo) {
  // (01) GTIN of the milk, (10) lot, (17) expiry.
  const std::string late = "(01)04006381333931(10)LATE(17)261231";
  const std::string early = "(01)04006381333931(10)EARLY(17)261201";
  ASSERT_TRUE(inv_->apply_scan(scan("r1", late, wire::ScanAction::kReceive, 5), actor_).ok());
  ASSERT_TRUE(inv_->apply_scan(scan("r2", early, wire::ScanAction::kReceive, 3), actor_).ok());
  auto pick = inv_->apply_scan(scan("p1", kMilkEan, wire::ScanAction::kPick, 4), actor_);
  ASSERT_TRUE(pick.ok()) << pick.status().to_string();
  const auto& moves = (*pick)["movements"];
  ASSERT_EQ(moves.size(), 2u);
  EXPECT_EQ(moves[0]["lot"], "EARLY");
  EXPECT_EQ(moves[0]["delta"], -3);
  EXPECT_EQ(moves[1]["lot"], "LATE");
  EXPECT_EQ(moves[1]["delta"], -1);
  auto item = inv_->get_sku("MILK-1L");
  ASSERT_TRUE(item.ok());
  ASSERT_EQ((*item)["stock"].size(), 1u);
  EXPECT_EQ((*item)["stock"][0]["expiry"], "2026-12-31");
}

TEST_F(InventoryTest, PickingMoreThanOnHandChangesNothing) {
  ASSERT_TRUE(inv_->apply_scan(scan("s1", kMilkEan, wire::ScanAction::kReceive, 2), actor_).ok());
  auto r = inv_->apply_scan(scan("s2", kMilkEan, wire::ScanAction::kPick, 3), actor_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("2 available, 3 asked"), std::string::npos);
  EXPECT_EQ(on_hand("MILK-1L"), 2);
  // The refused scan id was not consumed: a corrected retry is a new attempt.
  expect_ledger_matches_stock();
}

TEST_F(InventoryTest, DuplicateScanIsAppliedOnce) {
  auto first = inv_->apply_scan(scan("dup", kMilkEan, wire::ScanAction::kReceive, 4), actor_);
  auto again = inv_->apply_scan(scan("dup", kMilkEan, wire::ScanAction::kReceive, 4), actor_);
  ASSERT_TRUE(first.ok() && again.ok());
  EXPECT_EQ((*again)["duplicate"], true);
  EXPECT_EQ(on_hand("MILK-1L"), 4);
}

TEST_F(InventoryTest, UnknownCodeIsNotFoundAndRecorded) {
  const auto from = bus_.head();
  auto r = inv_->apply_scan(scan("u1", "96385074", wire::ScanAction::kReceive), actor_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  auto published = bus_.read(from, 10, 0ms);
  ASSERT_EQ(published.events.size(), 1u);
  EXPECT_EQ(published.events[0].type, "scan.unknown_code");
  EXPECT_EQ(published.events[0].body["code"], "96385074");
}

// A store's own Code 128 labels are free text: a label that reads like "count" or
// "unknown" must be recorded as an unknown code all the same, and an unknown count (also
// kNotFound) must not be.
TEST_F(InventoryTest, UnknownCode128LabelIsRecordedWhateverItsText) {
  const auto& unknown_codes =
      metrics_.counter("edge_unknown_codes_total", "Scans of codes that are not in the catalog");
  const std::vector<std::string> labels = {"discount-7", "unknown-count", "COUNT.2", "unknown"};
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const auto from = bus_.head();
    auto r = inv_->apply_scan(
        scan("c128-" + std::to_string(i), labels[i], wire::ScanAction::kReceive), actor_);
    ASSERT_FALSE(r.ok()) << labels[i];
    EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << labels[i];
    auto published = bus_.read(from, 10, 0ms);
    ASSERT_EQ(published.events.size(), 1u) << labels[i];
    EXPECT_EQ(published.events[0].type, "scan.unknown_code");
    EXPECT_EQ(published.events[0].body["code"], labels[i]);
  }
  EXPECT_EQ(unknown_codes.value(), labels.size());

  // The same text as a known SKU label, counted against a count that does not exist:
  // kNotFound for the count, and no unknown-code record.
  std::vector<StatusOr<ProductInput>> rows;
  rows.push_back(ProductInput{"discount-7", "Discount pack", "misc", 100, "each", {}, "B-01", 0});
  ASSERT_TRUE(inv_->upsert_products(rows, true, actor_).ok());
  const auto from = bus_.head();
  auto counted = scan("c128-count", "discount-7", wire::ScanAction::kCount);
  counted.count_id = "no-such-count";
  auto r = inv_->apply_scan(counted, actor_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(bus_.read(from, 10, 0ms).events.empty());
  EXPECT_EQ(unknown_codes.value(), labels.size());

  // Once in the catalog, the label scans like any other.
  auto received =
      inv_->apply_scan(scan("c128-ok", "discount-7", wire::ScanAction::kReceive, 2), actor_);
  ASSERT_TRUE(received.ok()) << received.status().to_string();
  EXPECT_EQ(on_hand("discount-7"), 2);
}

TEST_F(InventoryTest, BadCheckDigitIsRefusedNeverGuessed) {
  auto r = inv_->apply_scan(scan("b1", "4006381333932", wire::ScanAction::kReceive), actor_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().field(), "code");
  EXPECT_EQ(on_hand("MILK-1L"), 0);
}

TEST_F(InventoryTest, UnknownBinIsInvalidArgument) {
  auto s = scan("b2", kMilkEan, wire::ScanAction::kReceive);
  s.bin = "Z-99";
  auto r = inv_->apply_scan(s, actor_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().field(), "bin");
}

TEST_F(InventoryTest, MoveKeepsTotalAndAdjustTakesFromBin) {
  ASSERT_TRUE(inv_->apply_scan(scan("r", kMilkEan, wire::ScanAction::kReceive, 10), actor_).ok());
  auto mv = scan("m", kMilkEan, wire::ScanAction::kMove, 4);
  mv.bin = "A-01";
  mv.to_bin = "A-02";
  ASSERT_TRUE(inv_->apply_scan(mv, actor_).ok());
  EXPECT_EQ(on_hand("MILK-1L"), 10);
  auto adj = scan("a", kMilkEan, wire::ScanAction::kAdjust, -2);
  adj.bin = "A-02";
  adj.reason = "damage";
  auto r = inv_->apply_scan(adj, actor_);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ((*r)["movements"][0]["reason"], "damage");
  EXPECT_EQ(on_hand("MILK-1L"), 8);
  expect_ledger_matches_stock();
}

TEST_F(InventoryTest, CycleCountTurnsVarianceIntoAdjustments) {
  ASSERT_TRUE(inv_->apply_scan(scan("r", kMilkEan, wire::ScanAction::kReceive, 10), actor_).ok());
  auto opened = inv_->open_count("A-01", {}, actor_);
  ASSERT_TRUE(opened.ok()) << opened.status().to_string();
  const std::string id = (*opened)["count_id"];
  auto c = scan("c1", kMilkEan, wire::ScanAction::kCount, 7);
  c.count_id = id;
  c.bin = "A-01";
  ASSERT_TRUE(inv_->apply_scan(c, actor_).ok());
  auto closed = inv_->close_count(id, actor_);
  ASSERT_TRUE(closed.ok()) << closed.status().to_string();
  ASSERT_EQ((*closed)["lines"].size(), 1u);
  EXPECT_EQ((*closed)["lines"][0]["expected"], 10);
  EXPECT_EQ((*closed)["lines"][0]["counted"], 7);
  EXPECT_EQ((*closed)["lines"][0]["variance"], -3);
  EXPECT_EQ(on_hand("MILK-1L"), 7);
  EXPECT_EQ(inv_->close_count(id, actor_).status().code(), StatusCode::kFailedPrecondition);
  expect_ledger_matches_stock();
}

TEST_F(InventoryTest, ReservationsHoldStockAndPickConsumesThem) {
  ASSERT_TRUE(inv_->apply_scan(scan("r", kMilkEan, wire::ScanAction::kReceive, 5), actor_).ok());
  ASSERT_TRUE(inv_->reserve("order-1", {{"MILK-1L", 4}}, actor_).ok());
  auto short_order = inv_->reserve("order-2", {{"MILK-1L", 2}}, actor_);
  EXPECT_EQ(short_order.status().code(), StatusCode::kFailedPrecondition);
  auto adhoc = inv_->apply_scan(scan("p0", kMilkEan, wire::ScanAction::kPick, 2), actor_);
  EXPECT_EQ(adhoc.status().code(), StatusCode::kFailedPrecondition);
  auto p = scan("p1", kMilkEan, wire::ScanAction::kPick, 4);
  p.order_id = "order-1";
  ASSERT_TRUE(inv_->apply_scan(p, actor_).ok());
  auto item = inv_->get_sku("MILK-1L");
  EXPECT_EQ((*item)["on_hand"], 1);
  EXPECT_EQ((*item)["reserved"], 0);
  expect_ledger_matches_stock();
}

TEST_F(InventoryTest, StaleVersionEditIsAConflict) {
  ASSERT_TRUE(inv_->apply_scan(scan("r", kMilkEan, wire::ScanAction::kReceive, 5), actor_).ok());
  const std::int64_t version = (*inv_->get_sku("MILK-1L"))["version"];
  StockEdit edit{"MILK-1L", "A-01", std::nullopt, 3, std::nullopt, "count", "recount", version};
  ASSERT_TRUE(inv_->edit_stock(edit, actor_).ok());
  EXPECT_EQ(on_hand("MILK-1L"), 3);
  auto stale = inv_->edit_stock(edit, actor_);
  EXPECT_EQ(stale.status().code(), StatusCode::kConflict);
  EXPECT_EQ(on_hand("MILK-1L"), 3);
}

TEST_F(InventoryTest, AlertsShowLowExpiringAndExpired) {
  auto r = scan("r", "(01)04006381333931(10)OLD(17)261120", wire::ScanAction::kReceive, 2);
  ASSERT_TRUE(inv_->apply_scan(r, actor_).ok());
  auto soon = scan("s", "(01)04006381333931(10)SOON(17)261127", wire::ScanAction::kReceive, 2);
  ASSERT_TRUE(inv_->apply_scan(soon, actor_).ok());
  auto alerts = inv_->alerts("2026-11-25", 3);
  ASSERT_TRUE(alerts.ok()) << alerts.status().to_string();
  std::set<std::string> types;
  for (const auto& a : (*alerts)["alerts"]) types.insert(a["type"]);
  EXPECT_TRUE(types.count("below_reorder_point"));
  EXPECT_TRUE(types.count("expired_on_hand"));
  EXPECT_TRUE(types.count("expiring_soon"));
}

TEST_F(InventoryTest, NonAtomicImportKeepsGoodRowsAndReportsBadOnes) {
  std::vector<StatusOr<ProductInput>> rows;
  rows.push_back(
      ProductInput{"EGGS", "Eggs", "dairy", 9000, "each", {"96385074"}, std::nullopt, 0});
  rows.push_back(ProductInput{"BAD SKU", "x", "", 0, "each", {}, std::nullopt, 0});
  rows.push_back(ProductInput{"DUPE", "Dupe", "", 0, "each", {kMilkEan}, std::nullopt, 0});
  rows.push_back(Status(invalid_argument("price_cents must be a number", "price_cents")));
  auto report = inv_->upsert_products(rows, false, actor_);
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  EXPECT_EQ((*report)["applied"], 1);
  ASSERT_EQ((*report)["errors"].size(), 3u);
  EXPECT_EQ((*report)["errors"][0]["row"], 1);
  EXPECT_EQ((*report)["errors"][1]["code"], "conflict");
  EXPECT_TRUE(inv_->get_sku("EGGS").ok());
  EXPECT_EQ(inv_->get_sku("DUPE").status().code(), StatusCode::kNotFound);

  auto atomic = inv_->upsert_products(rows, true, actor_);
  EXPECT_EQ(atomic.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(InventoryTest, ListStockPagesAndFilters) {
  auto page = inv_->list_stock(
      StockQuery{std::nullopt, std::nullopt, std::nullopt, false, std::nullopt, 1});
  ASSERT_TRUE(page.ok()) << page.status().to_string();
  ASSERT_EQ((*page)["items"].size(), 1u);
  EXPECT_EQ((*page)["items"][0]["sku"], "BREAD");
  EXPECT_EQ((*page)["next_cursor"], "BREAD");
  auto rest = inv_->list_stock(
      StockQuery{std::nullopt, std::nullopt, std::nullopt, false, std::string("BREAD"), 10});
  ASSERT_EQ((*rest)["items"].size(), 1u);
  EXPECT_EQ((*rest)["next_cursor"], nullptr);
  auto by_code = inv_->list_stock(
      StockQuery{std::string(kMilkEan), std::nullopt, std::nullopt, false, std::nullopt, 10});
  ASSERT_EQ((*by_code)["items"].size(), 1u);
  EXPECT_EQ((*by_code)["items"][0]["sku"], "MILK-1L");
  auto wildcard = inv_->list_stock(
      StockQuery{std::string("%"), std::nullopt, std::nullopt, false, std::nullopt, 10});
  EXPECT_EQ((*wildcard)["items"].size(), 0u);
}

}  // namespace
}  // namespace shopeasy::edge::inventory
