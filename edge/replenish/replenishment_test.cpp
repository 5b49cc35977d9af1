#include "edge/replenish/replenishment.hpp"

#include <gtest/gtest.h>

#include <unistd.h>
#include <algorithm>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <random>
#include <thread>

#include "common/clock/clock.hpp"
#include "edge/forecast/series.hpp"

namespace shopeasy::edge::replenish {
namespace {

constexpr const char* kMilkEan = "4006381333931";
constexpr const char* kBreadEan = "5901234123457";

bool has_reason(const nlohmann::json& line, const std::string& code) {
  for (const auto& r : line["reasons"]) {
    if (r == code) return true;
  }
  return false;
}

// A store whose milk sells 20 a day (picked at 10:00 and 16:00 for three weeks from
// Monday 2026-01-05) and a Dairy Co supplier with a 2-day lead time.
class ReplenishmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/replenish-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    store::StoreOptions o;
    o.path = dir_ + "/edge.db";
    o.durable = false;
    clock_.set_wall(at(0, 0, 0));
    auto s = store::EdgeStore::open(o, clock_, bus_, logger_, metrics_);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    store_ = std::move(*s);
    inv_ = std::make_unique<inventory::Inventory>(*store_, "store-1", logger_, metrics_);
    demand_ = std::make_unique<demand::DemandService>(*store_, demand::DemandOptions{28, 0});
    rep_ = std::make_unique<Replenishment>(*store_, *inv_, *demand_, clock_,
                                           ReplenishOptions{"store-1", 0, 336}, logger_, metrics_);
    ASSERT_TRUE(inv_->upsert_bins({{"A-01", 1, "chilled"}, {"B-01", 2, ""}}, actor_).ok());
    std::vector<StatusOr<inventory::ProductInput>> rows;
    rows.push_back(inventory::ProductInput{
        "MILK-1L", "Milk 1 L", "dairy", 6500, "each", {kMilkEan}, "A-01", 0});
    rows.push_back(
        inventory::ProductInput{"BREAD", "Bread", "bakery", 4000, "each", {kBreadEan}, "B-01", 0});
    ASSERT_TRUE(inv_->upsert_products(rows, true, actor_).ok());
  }
  void TearDown() override {
    rep_.reset();
    demand_.reset();
    inv_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  static WallTime at(int day, int hour, int minute) {
    const std::int64_t s =
        forecast::days_from_civil(2026, 1, 5) * 86400 + day * 86400 + hour * 3600 + minute * 60;
    return WallTime(std::chrono::seconds(s));
  }
  void scan(int day, int hour, int minute, const char* code, wire::ScanAction action, int qty) {
    clock_.set_wall(at(day, hour, minute));
    wire::Scan s;
    s.scan_id = "s" + std::to_string(++scans_);
    s.scanner_id = "h1";
    s.code = code;
    s.action = action;
    s.qty = qty;
    auto r = inv_->apply_scan(s, actor_);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
  }
  // Three weeks of milk sales, 20 a day, never sold out (or, with `sell_out`, gone at
  // 16:00 every day); ends with 10 on hand on day 21 at 08:00.
  void three_weeks_of_milk(bool sell_out = false) {
    for (int day = 0; day < 21; ++day) {
      scan(day, 7, 0, kMilkEan, wire::ScanAction::kReceive, day == 0 && !sell_out ? 30 : 20);
      scan(day, 10, 0, kMilkEan, wire::ScanAction::kPick, 10);
      scan(day, 16, 0, kMilkEan, wire::ScanAction::kPick, 10);
    }
    if (sell_out) scan(21, 7, 0, kMilkEan, wire::ScanAction::kReceive, 10);
    clock_.set_wall(at(21, 8, 0));
  }
  void dairy(std::int64_t pack = 6, std::int64_t moq = 0) {
    auto s = rep_->create_supplier(Supplier{"DAIRY", "Dairy Co", 2, 0x7F, moq, pack, true});
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    auto l = rep_->link_sku(SkuSupply{"MILK-1L", "DAIRY", 0.95, std::nullopt, std::nullopt});
    ASSERT_TRUE(l.ok()) << l.status().to_string();
  }
  std::int64_t on_hand(const std::string& sku) {
    auto item = inv_->stock_item(sku);
    EXPECT_TRUE(item.ok());
    return item.ok() ? item->level.on_hand : -1;
  }
  // A sent PO for 30 milk and 12 bread.
  PurchaseOrder sent_po() {
    auto po =
        rep_->create_po(PoCreate{"req-1", "DAIRY", {{"MILK-1L", 30}, {"BREAD", 12}}, {}}, actor_);
    EXPECT_TRUE(po.ok()) << po.status().to_string();
    auto sent = rep_->send_po(po->po_id, actor_);
    EXPECT_TRUE(sent.ok()) << sent.status().to_string();
    return *sent;
  }

  std::string dir_;
  FakeClock clock_;
  events::EventBus bus_;
  log::Logger logger_{std::make_shared<log::MemorySink>(), log::Level::kInfo, "t"};
  metrics::Registry metrics_;
  std::unique_ptr<store::EdgeStore> store_;
  std::unique_ptr<inventory::Inventory> inv_;
  std::unique_ptr<demand::DemandService> demand_;
  std::unique_ptr<Replenishment> rep_;
  inventory::Actor actor_{"manager-1", "api"};
  int scans_ = 0;
};

TEST_F(ReplenishmentTest, SupplierBadInputIsRefusedNamingTheField) {
  auto zero = rep_->create_supplier(Supplier{"S1", "Zero", 0, 0x7F, 0, 1, true});
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(zero.status().field(), "lead_time_days");
  auto far = rep_->create_supplier(Supplier{"S1", "Far", 400, 0x7F, 0, 1, true});
  EXPECT_EQ(far.status().field(), "lead_time_days");
  EXPECT_EQ(rep_->list_suppliers()->size(), 0u);  // nothing changed

  dairy();
  auto again = rep_->create_supplier(Supplier{"DAIRY", "Other", 3, 0x7F, 0, 1, true});
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  auto missing = rep_->update_supplier(Supplier{"NOPE", "Nope", 3, 0x7F, 0, 1, true});
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  auto unknown_sku = rep_->link_sku(SkuSupply{"NO-SUCH", "DAIRY", 0.95, {}, {}});
  EXPECT_EQ(unknown_sku.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(unknown_sku.status().field(), "sku");
  auto unknown_supplier = rep_->link_sku(SkuSupply{"BREAD", "NOPE", 0.95, {}, {}});
  EXPECT_EQ(unknown_supplier.status().code(), StatusCode::kNotFound);
  auto level = rep_->link_sku(SkuSupply{"BREAD", "DAIRY", 1.5, {}, {}});
  EXPECT_EQ(level.status().field(), "service_level");

  auto updated = rep_->update_supplier(Supplier{"DAIRY", "Dairy Co", 3, 0b0001001, 24, 6, true});
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(supplier_json(*updated)["order_days"], "mon,thu");
  EXPECT_EQ(updated->skus.size(), 1u);
  auto off = rep_->deactivate_supplier("DAIRY");
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->supplier.active);
  auto unlinked = rep_->unlink_sku("DAIRY", "MILK-1L");
  ASSERT_TRUE(unlinked.ok());
  EXPECT_TRUE(unlinked->skus.empty());
  EXPECT_EQ(rep_->unlink_sku("DAIRY", "MILK-1L").status().code(), StatusCode::kNotFound);
}

TEST_F(ReplenishmentTest, ProposalFromForecastThenPoNetsOnOrder) {
  three_weeks_of_milk();
  dairy(/*pack=*/6);
  auto report = rep_->proposal({});
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  ASSERT_EQ(report->lines.size(), 1u);
  const nlohmann::json line = proposal_json(report->lines[0]);
  // 20 a day over 2 days' lead time + 1 day's review: about 60, more with safety stock.
  EXPECT_NEAR(line["forecast_protection"].get<double>(), 60, 12) << line.dump();
  EXPECT_GT(line["order_up_to"].get<double>(), line["forecast_protection"].get<double>());
  EXPECT_EQ(line["on_hand"], 10);
  EXPECT_EQ(line["on_order"], 0);
  const std::int64_t qty = line["qty"];
  EXPECT_GT(qty, 40);
  EXPECT_EQ(qty % 6, 0);
  EXPECT_TRUE(has_reason(line, "below_order_up_to"));

  // A PO from the proposal carries its lines and why.
  auto po = rep_->create_po(PoCreate{"req-1", "DAIRY", {}, {}}, actor_);
  ASSERT_TRUE(po.ok()) << po.status().to_string();
  EXPECT_EQ(po->status, PoStatus::kDraft);
  ASSERT_EQ(po->lines.size(), 1u);
  EXPECT_EQ(po->lines[0].qty, qty);
  ASSERT_TRUE(po->lines[0].why.has_value());
  EXPECT_EQ((*po->lines[0].why)["order_up_to"], line["order_up_to"]);

  // The draft is on order now: nothing more to order, and no second open suggestion.
  auto after = rep_->proposal({});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->lines[0].on_order, qty);
  EXPECT_EQ(after->lines[0].qty, 0);
  auto second = rep_->create_po(PoCreate{"req-2", "DAIRY", {}, {}}, actor_);
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(second.status().field(), "lines");
  auto twice = rep_->create_po(PoCreate{"req-3", "DAIRY", {{"MILK-1L", 6}}, {}}, actor_);
  EXPECT_EQ(twice.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(twice.status().field(), "lines[0].sku");

  EXPECT_EQ(after->lines[0].draft_po_id, po->po_id);
  EXPECT_EQ(after->lines[0].draft_qty, qty);
  EXPECT_FALSE(has_reason(proposal_json(after->lines[0]), "draft_no_longer_needed"));
  // Stock arrives some other way: the draft is no longer needed, and the proposal says so.
  scan(21, 9, 0, kMilkEan, wire::ScanAction::kReceive, 200);
  auto covered = rep_->proposal({});
  ASSERT_TRUE(covered.ok());
  EXPECT_TRUE(has_reason(proposal_json(covered->lines[0]), "draft_no_longer_needed"))
      << proposal_json(covered->lines[0]).dump();

  // The same request again is the same PO, nothing new.
  auto repeat = rep_->create_po(PoCreate{"req-1", "DAIRY", {}, {}}, actor_);
  ASSERT_TRUE(repeat.ok());
  EXPECT_TRUE(repeat->duplicate);
  EXPECT_EQ(repeat->po_id, po->po_id);
  EXPECT_EQ(rep_->list_pos(std::nullopt, 50)->size(), 1u);
}

TEST_F(ReplenishmentTest, ReceivingMovesStockAndTheLineTogether) {
  dairy();
  const PurchaseOrder po = sent_po();
  EXPECT_EQ(po.status, PoStatus::kSent);
  ASSERT_TRUE(po.expected_at_ms.has_value());
  EXPECT_EQ(*po.expected_at_ms, to_unix_ms(clock_.wall_now()) + 2 * 86'400'000);

  clock_.advance(std::chrono::hours(48));
  auto r1 =
      rep_->receive(po.po_id, PoReceive{"rc-1", std::nullopt, kMilkEan, 20, {}, {}, {}}, actor_);
  ASSERT_TRUE(r1.ok()) << r1.status().to_string();
  EXPECT_EQ(r1->line_no, 1);
  EXPECT_EQ(r1->bin, "A-01");
  EXPECT_EQ(r1->sku_on_hand, 20);
  EXPECT_EQ(r1->order.status, PoStatus::kPartiallyReceived);
  EXPECT_EQ(r1->order.lines[0].received, 20);
  EXPECT_EQ(on_hand("MILK-1L"), 20);
  auto ledger = inv_->movements(inventory::LedgerQuery{"MILK-1L", {}, {}, {}, {}, 10});
  ASSERT_TRUE(ledger.ok());
  ASSERT_EQ(ledger->items.size(), 1u);
  EXPECT_EQ(ledger->items[0].reason, "receive");
  EXPECT_EQ(ledger->items[0].ref, po.po_id);

  // The same receipt again: the first answer, stock unchanged.
  auto dup =
      rep_->receive(po.po_id, PoReceive{"rc-1", std::nullopt, kMilkEan, 20, {}, {}, {}}, actor_);
  ASSERT_TRUE(dup.ok());
  EXPECT_TRUE(dup->duplicate);
  EXPECT_EQ(dup->qty, 20);
  EXPECT_EQ(on_hand("MILK-1L"), 20);

  // More than is open, the wrong item, an unknown line: refused, nothing changed.
  auto over = rep_->receive(po.po_id, PoReceive{"rc-2", 1, std::nullopt, 11, {}, {}, {}}, actor_);
  EXPECT_EQ(over.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(over.status().field(), "qty");
  auto wrong = rep_->receive(po.po_id, PoReceive{"rc-2", 1, kBreadEan, 1, {}, {}, {}}, actor_);
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(wrong.status().field(), "code");
  auto no_line = rep_->receive(po.po_id, PoReceive{"rc-2", 9, std::nullopt, 1, {}, {}, {}}, actor_);
  EXPECT_EQ(no_line.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(no_line.status().field(), "line_no");
  auto zero = rep_->receive(po.po_id, PoReceive{"rc-2", 1, std::nullopt, 0, {}, {}, {}}, actor_);
  EXPECT_EQ(zero.status().field(), "qty");
  auto nothing = rep_->receive(po.po_id, PoReceive{"rc-2", {}, {}, 1, {}, {}, {}}, actor_);
  EXPECT_EQ(nothing.status().field(), "line_no");
  auto bad_bin = rep_->receive(po.po_id, PoReceive{"rc-2", 1, {}, 1, "Z-99", {}, {}}, actor_);
  EXPECT_EQ(bad_bin.status().field(), "bin");
  EXPECT_EQ(on_hand("MILK-1L"), 20);
  EXPECT_EQ(rep_->get_po(po.po_id)->lines[0].received, 20);

  // A GS1-128 label gives the lot and expiry; a request that says otherwise is refused.
  const std::string label = "(01)04006381333931(10)L42(17)260201";
  auto mismatch =
      rep_->receive(po.po_id, PoReceive{"rc-3", std::nullopt, label, 5, {}, "L43", {}}, actor_);
  EXPECT_EQ(mismatch.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(mismatch.status().field(), "lot");
  auto by_label =
      rep_->receive(po.po_id, PoReceive{"rc-3", std::nullopt, label, 5, {}, {}, {}}, actor_);
  ASSERT_TRUE(by_label.ok()) << by_label.status().to_string();
  auto labelled = inv_->movements(inventory::LedgerQuery{"MILK-1L", {}, {}, {}, {}, 1});
  ASSERT_TRUE(labelled.ok());
  ASSERT_EQ(labelled->items.size(), 1u);
  EXPECT_EQ(labelled->items[0].lot, "L42");
  auto item = inv_->stock_item("MILK-1L");
  ASSERT_TRUE(item.ok());
  auto l42 = std::find_if(item->stock.begin(), item->stock.end(),
                          [](const inventory::BinStock& b) { return b.lot == "L42"; });
  ASSERT_NE(l42, item->stock.end());
  EXPECT_EQ(l42->expiry, "2026-02-01");
  EXPECT_EQ(l42->on_hand, 5);

  // The rest, with a lot and expiry given as fields; then bread: the PO is received.
  auto r2 = rep_->receive(
      po.po_id, PoReceive{"rc-3b", 1, std::nullopt, 5, "A-01", "L42", "2026-02-01"}, actor_);
  ASSERT_TRUE(r2.ok()) << r2.status().to_string();
  EXPECT_EQ(r2->order.status, PoStatus::kPartiallyReceived);
  auto r3 = rep_->receive(po.po_id, PoReceive{"rc-4", 2, kBreadEan, 12, {}, {}, {}}, actor_);
  ASSERT_TRUE(r3.ok()) << r3.status().to_string();
  EXPECT_EQ(r3->order.status, PoStatus::kReceived);
  EXPECT_EQ(on_hand("MILK-1L"), 30);
  EXPECT_EQ(on_hand("BREAD"), 12);

  // A received PO is closed: no more receipts, no cancelling.
  auto closed = rep_->receive(po.po_id, PoReceive{"rc-5", 1, std::nullopt, 1, {}, {}, {}}, actor_);
  EXPECT_EQ(closed.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(closed.status().field(), "status");
  EXPECT_EQ(rep_->cancel_po(po.po_id, "", actor_).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(on_hand("MILK-1L"), 30);
  const auto history = rep_->get_po(po.po_id)->history;
  ASSERT_EQ(history.size(), 4u);
  EXPECT_EQ(history[0].status, "draft");
  EXPECT_EQ(history[3].status, "received");

  // Each change went into the outbox for the cloud with the order as it then stood:
  // created, sent, four receipts (the refused ones and the repeat wrote nothing).
  std::vector<nlohmann::json> changed;
  ASSERT_TRUE(store_
                  ->read([&](db::Database& db) -> Status {
                    auto q = db.query(
                        "SELECT body FROM events WHERE type = 'purchase_order.changed' ORDER BY "
                        "seq");
                    while (const db::Statement* row = q.next()) {
                      changed.push_back(nlohmann::json::parse(row->column_text(0)));
                    }
                    return q.status();
                  })
                  .is_ok());
  ASSERT_EQ(changed.size(), 6u);
  EXPECT_EQ(changed[0]["status"], "draft");
  EXPECT_EQ(changed[1]["status"], "sent");
  EXPECT_EQ(changed[1]["expected_at_ms"], *po.expected_at_ms);
  EXPECT_EQ(changed[2]["status"], "partially_received");
  EXPECT_EQ(changed[2]["lines"][0]["received"], 20);
  EXPECT_EQ(changed[5]["status"], "received");
  EXPECT_EQ(changed[5]["po_id"], po.po_id);
  EXPECT_EQ(changed[5]["lines"][1]["received"], 12);
}

TEST_F(ReplenishmentTest, SellOutsAreCensoredDemandNotLowDemand) {
  // The same 20 a day, but gone by 16:00: the hours after are censored, so the
  // forecast (and the order) is for more than what the till saw.
  three_weeks_of_milk(/*sell_out=*/true);
  dairy(1);
  auto report = rep_->proposal({});
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->lines.size(), 1u);
  const Proposal& p = report->lines[0];
  EXPECT_GT(p.censored_steps, 200);
  EXPECT_GT(p.demand_protection, 70);
  EXPECT_TRUE(has_reason(proposal_json(p), "stockouts_in_history"));
}

TEST_F(ReplenishmentTest, DraftsAndCancelledOrdersTakeNoReceipts) {
  dairy();
  auto po = rep_->create_po(PoCreate{"req-9", "DAIRY", {{"MILK-1L", 6}}, "phone order"}, actor_);
  ASSERT_TRUE(po.ok());
  auto draft = rep_->receive(po->po_id, PoReceive{"rc-1", 1, {}, 1, {}, {}, {}}, actor_);
  EXPECT_EQ(draft.status().code(), StatusCode::kFailedPrecondition);
  auto cancelled = rep_->cancel_po(po->po_id, "supplier out of stock", actor_);
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->status, PoStatus::kCancelled);
  EXPECT_EQ(cancelled->history.back().reason, "supplier out of stock");
  EXPECT_TRUE(rep_->cancel_po(po->po_id, "", actor_).ok());  // again: as it is
  EXPECT_EQ(rep_->send_po(po->po_id, actor_).status().code(), StatusCode::kFailedPrecondition);
  auto closed = rep_->receive(po->po_id, PoReceive{"rc-1", 1, {}, 1, {}, {}, {}}, actor_);
  EXPECT_EQ(closed.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(on_hand("MILK-1L"), 0);
  EXPECT_EQ(rep_->get_po("PO-nope").status().code(), StatusCode::kNotFound);
  // A cancelled draft no longer blocks a new one for the SKU.
  EXPECT_TRUE(rep_->create_po(PoCreate{"req-10", "DAIRY", {{"MILK-1L", 6}}, {}}, actor_).ok());
  auto listed = rep_->list_pos(PoStatus::kCancelled, 10);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 1u);
}

TEST_F(ReplenishmentTest, PoLineBadInputNamesTheLine) {
  dairy();
  auto zero = rep_->create_po(PoCreate{"r", "DAIRY", {{"MILK-1L", 0}}, {}}, actor_);
  EXPECT_EQ(zero.status().field(), "lines[0].qty");
  auto same = rep_->create_po(PoCreate{"r", "DAIRY", {{"MILK-1L", 1}, {"MILK-1L", 2}}, {}}, actor_);
  EXPECT_EQ(same.status().field(), "lines[1].sku");
  auto unknown = rep_->create_po(PoCreate{"r", "DAIRY", {{"NOPE", 1}}, {}}, actor_);
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(unknown.status().field(), "lines[0].sku");
  auto supplier = rep_->create_po(PoCreate{"r", "NOPE", {{"MILK-1L", 1}}, {}}, actor_);
  EXPECT_EQ(supplier.status().code(), StatusCode::kNotFound);
  auto no_request = rep_->create_po(PoCreate{"", "DAIRY", {{"MILK-1L", 1}}, {}}, actor_);
  EXPECT_EQ(no_request.status().field(), "request_id");
  EXPECT_TRUE(rep_->list_pos(std::nullopt, 10)->empty());
}

TEST_F(ReplenishmentTest, ExpiringLotsAreNotCover) {
  three_weeks_of_milk();
  dairy(1);
  // 100 more that expire at the end of today count only for what sells today.
  wire::Scan s;
  s.scan_id = "lot-old";
  s.scanner_id = "h1";
  s.code = kMilkEan;
  s.action = wire::ScanAction::kReceive;
  s.qty = 100;
  s.lot = "OLD";
  s.expiry = "2026-01-26";
  ASSERT_TRUE(inv_->apply_scan(s, actor_).ok());
  auto report = rep_->proposal(ProposalQuery{"DAIRY", "MILK-1L", false});
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  ASSERT_EQ(report->lines.size(), 1u);
  const Proposal& p = report->lines[0];
  EXPECT_EQ(p.on_hand, 110);
  EXPECT_LT(p.usable_on_hand, 40);
  EXPECT_GT(p.qty, 0);
  EXPECT_TRUE(has_reason(proposal_json(p), "expiring_stock_not_cover"));
}

// Property: whatever managers do, in any order (proposal POs, explicit lines, sends,
// cancels, receipts, repeats), a SKU is never on two open drafts of one supplier, a
// line never has more received than ordered, and stock equals what was received.
TEST_F(ReplenishmentTest, NeverTwoOpenSuggestionsForOneSkuAndSupplier) {
  ASSERT_TRUE(rep_->create_supplier(Supplier{"DAIRY", "Dairy Co", 2, 0x7F, 0, 1, true}).ok());
  ASSERT_TRUE(rep_->create_supplier(Supplier{"BAKE", "Bakery", 1, 0x7F, 0, 1, true}).ok());
  ASSERT_TRUE(rep_->link_sku(SkuSupply{"MILK-1L", "DAIRY", 0.95, {}, {}}).ok());
  ASSERT_TRUE(rep_->link_sku(SkuSupply{"BREAD", "BAKE", 0.95, {}, {}}).ok());
  const std::vector<std::string> suppliers = {"DAIRY", "BAKE"};
  const std::vector<std::string> skus = {"MILK-1L", "BREAD"};
  std::mt19937 rng(20261207);
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  std::vector<std::string> pos;
  std::int64_t received_units = 0;
  int refused = 0;
  for (int step = 0; step < 3000; ++step) {
    clock_.advance(std::chrono::minutes(7));
    const int action = pick(6);
    const std::string request = "req-" + std::to_string(pick(400));  // repeats happen
    if (action == 0 || action == 1) {
      PoCreate in{request, suppliers[pick(2)], {}, {}};
      if (action == 1) in.lines.push_back(PoLineInput{skus[pick(2)], 1 + pick(20)});
      auto po = rep_->create_po(in, actor_);
      if (po.ok() && !po->duplicate) pos.push_back(po->po_id);
      if (!po.ok()) ++refused;
    } else if (!pos.empty()) {
      const std::string& id = pos[pick(static_cast<int>(pos.size()))];
      if (action == 2) {
        (void)rep_->send_po(id, actor_);
      } else if (action == 3) {
        (void)rep_->cancel_po(id, "", actor_);
      } else {
        auto r = rep_->receive(
            id,
            PoReceive{"rc-" + std::to_string(pick(2000)), 1, std::nullopt, 1 + pick(5), {}, {}, {}},
            actor_);
        if (r.ok() && !r->duplicate) received_units += r->qty;
      }
    }
    // The invariants, read straight from the ledger's tables.
    const Status checked = store_->read([&](db::Database& db) -> Status {
      SHOPEASY_ASSIGN_OR_RETURN(
          auto twice, db.query_one<std::int64_t>(
                          "SELECT COUNT(*) FROM (SELECT l.sku, p.supplier_id FROM po_lines l "
                          "JOIN purchase_orders p ON p.po_id = l.po_id WHERE p.status = 'draft' "
                          "GROUP BY 1, 2 HAVING COUNT(*) > 1)"));
      if (twice.value_or(0) != 0) return internal_error("a SKU is on two drafts");
      SHOPEASY_ASSIGN_OR_RETURN(
          auto over,
          db.query_one<std::int64_t>("SELECT COUNT(*) FROM po_lines WHERE received > qty"));
      if (over.value_or(0) != 0) return internal_error("a line received more than ordered");
      return Status();
    });
    ASSERT_TRUE(checked.is_ok()) << "step " << step << ": " << checked.to_string();
  }
  EXPECT_EQ(on_hand("MILK-1L") + on_hand("BREAD"), received_units);
  EXPECT_GT(pos.size(), 20u);
  EXPECT_GT(refused, 0);  // the property was put to the test
}

// --- the forecast cache ---

class ReplenishmentCacheTest : public ReplenishmentTest {
 protected:
  void SetUp() override {
    ReplenishmentTest::SetUp();
    ReplenishOptions off{"store-1", 0, 336};
    off.cache_forecasts = false;
    plain_ =
        std::make_unique<Replenishment>(*store_, *inv_, *demand_, clock_, off, logger_, metrics_);
  }
  void TearDown() override {
    plain_.reset();
    ReplenishmentTest::TearDown();
  }
  // The cached proposal, checked equal to the uncached one at the same instant.
  nlohmann::json same_as_uncached() {
    auto cached = rep_->proposal(ProposalQuery{});
    EXPECT_TRUE(cached.ok()) << cached.status().to_string();
    auto fresh = plain_->proposal(ProposalQuery{});
    EXPECT_TRUE(fresh.ok()) << fresh.status().to_string();
    if (!cached.ok() || !fresh.ok()) return {};
    const nlohmann::json a = proposal_report_json(*cached);
    EXPECT_EQ(a.dump(), proposal_report_json(*fresh).dump());
    return a;
  }
  void both_linked() {
    dairy();
    auto l = rep_->link_sku(SkuSupply{"BREAD", "DAIRY", 0.9, std::nullopt, std::nullopt});
    ASSERT_TRUE(l.ok()) << l.status().to_string();
  }
  std::unique_ptr<Replenishment> plain_;
};

TEST_F(ReplenishmentCacheTest, WarmProposalIsTheUncachedOneWithoutRefitting) {
  three_weeks_of_milk();
  both_linked();
  same_as_uncached();
  EXPECT_EQ(rep_->forecast_cache_stats().misses, 2u);
  EXPECT_EQ(rep_->forecast_cache_stats().entries, 2u);
  clock_.set_wall(at(21, 8, 40));  // same hour: nothing refitted
  const nlohmann::json warm = same_as_uncached();
  EXPECT_EQ(rep_->forecast_cache_stats().misses, 2u);
  EXPECT_EQ(rep_->forecast_cache_stats().hits, 2u);
  EXPECT_GT(rep_->forecast_cache_stats().bytes, 2 * 336 * sizeof(double));
  // The next hour reads one more hour of history: every SKU is fitted again.
  clock_.set_wall(at(21, 9, 0));
  same_as_uncached();
  EXPECT_EQ(rep_->forecast_cache_stats().misses, 4u);
  // One SKU asked for: the same line as in the whole proposal.
  auto one = rep_->proposal(ProposalQuery{std::nullopt, std::string("MILK-1L"), false});
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->lines.size(), 1u);
  EXPECT_EQ(rep_->forecast_cache_stats().misses, 4u);
}

TEST_F(ReplenishmentCacheTest, ASaleRefitsThatSkuOnly) {
  three_weeks_of_milk();
  both_linked();
  const nlohmann::json before = same_as_uncached();
  scan(21, 8, 30, kMilkEan, wire::ScanAction::kPick, 6);
  const nlohmann::json after = same_as_uncached();
  EXPECT_NE(before.dump(), after.dump());
  EXPECT_EQ(rep_->forecast_cache_stats().misses, 3u);  // milk again, not bread
  EXPECT_EQ(rep_->forecast_cache_stats().hits, 1u);
}

TEST_F(ReplenishmentCacheTest, APickWrittenIntoAPastHourRefitsEverySku) {
  three_weeks_of_milk();
  both_linked();
  const nlohmann::json before = same_as_uncached();
  // A pick recorded late (e.g. replayed from a scanner that was offline) lands in
  // yesterday's history: the SKU's series and the store's pooled shape both change.
  const std::int64_t yesterday_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(at(20, 12, 0).time_since_epoch())
          .count();
  auto w = store_->write([&](store::WriteContext& ctx) -> Status {
    return ctx.db().run(
        "INSERT INTO ledger (ts_ms, sku, bin, lot_id, delta, reason, actor, source, "
        "on_hand_after) VALUES (?, 'MILK-1L', 'A-01', 0, -40, 'pick', 't', 't', 0)",
        yesterday_ms);
  });
  ASSERT_TRUE(w.is_ok()) << w.to_string();
  const nlohmann::json after = same_as_uncached();
  EXPECT_NE(before.dump(), after.dump());
  EXPECT_EQ(rep_->forecast_cache_stats().misses, 4u);
}

TEST_F(ReplenishmentCacheTest, LinkAndSupplierChangesRefitTheirSkus) {
  three_weeks_of_milk();
  both_linked();
  const nlohmann::json before = same_as_uncached();
  auto l = rep_->link_sku(SkuSupply{"MILK-1L", "DAIRY", 0.99, 3, std::nullopt});
  ASSERT_TRUE(l.ok()) << l.status().to_string();
  const nlohmann::json linked = same_as_uncached();
  EXPECT_NE(before.dump(), linked.dump());
  EXPECT_EQ(rep_->forecast_cache_stats().misses, 3u);
  auto s = rep_->update_supplier(Supplier{"DAIRY", "Dairy Co", 4, 0x7F, 0, 6, true});
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  const nlohmann::json updated = same_as_uncached();
  EXPECT_NE(linked.dump(), updated.dump());
  EXPECT_EQ(rep_->forecast_cache_stats().misses, 5u);
  auto u = rep_->unlink_sku("DAIRY", "BREAD");
  ASSERT_TRUE(u.ok()) << u.status().to_string();
  EXPECT_EQ(same_as_uncached()["lines"].size(), 1u);
  EXPECT_EQ(rep_->forecast_cache_stats().entries, 1u);
}

TEST_F(ReplenishmentCacheTest, UnknownSkuAndBadQueryAreNotCached) {
  three_weeks_of_milk();
  both_linked();
  auto bad = rep_->proposal(ProposalQuery{std::string(""), std::nullopt, false});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(rep_->forecast_cache_stats().misses, 0u);
}

TEST(ForecastCache, ConcurrentRequestsFitASkuOnce) {
  ForecastCache cache(std::size_t{1} << 20);
  std::atomic<int> fits{0};
  std::mutex gate_mu;
  std::condition_variable gate_cv;
  bool open = false;
  auto slow_fit = [&]() -> StatusOr<DemandForecast> {
    ++fits;
    std::unique_lock lock(gate_mu);
    gate_cv.wait(lock, [&] { return open; });
    DemandForecast d;
    d.mean.assign(336, 1.5);
    return d;
  };
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto r = cache.get("MILK", 100, slow_fit);
      if (r.ok() && (*r)->mean.size() == 336) ++ok;
    });
  }
  // Every other request waits for the first one's fit (polled, with a deadline).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (cache.stats().waits < 7 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(cache.stats().waits, 7u);
  {
    std::lock_guard lock(gate_mu);
    open = true;
  }
  gate_cv.notify_all();
  for (auto& t : threads) t.join();
  EXPECT_EQ(fits.load(), 1);
  EXPECT_EQ(ok.load(), 8);
}

TEST(ForecastCache, FailedFitsAreNotKeptAndMemoryIsBounded) {
  DemandForecast one;
  one.mean.assign(336, 2.0);
  const std::size_t each = ForecastCache::entry_bytes("SKU-00", one);
  ForecastCache cache(each * 3);
  auto fail = []() -> StatusOr<DemandForecast> { return not_found("no SKU"); };
  EXPECT_EQ(cache.get("SKU-00", 1, fail).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(cache.stats().entries, 0u);
  auto fit = [&]() -> StatusOr<DemandForecast> { return one; };
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(cache.get("SKU-0" + std::to_string(i), 1, fit).ok());
  EXPECT_EQ(cache.stats().entries, 3u);
  EXPECT_LE(cache.stats().bytes, each * 3);
  EXPECT_EQ(cache.stats().evictions, 2u);
  // The least recently used went first; a kept one is a hit until its hour passes.
  const auto misses = cache.stats().misses;
  ASSERT_TRUE(cache.get("SKU-04", 1, fit).ok());
  EXPECT_EQ(cache.stats().misses, misses);
  ASSERT_TRUE(cache.get("SKU-04", 2, fit).ok());
  EXPECT_EQ(cache.stats().misses, misses + 1);
  ASSERT_TRUE(cache.get("SKU-00", 1, fit).ok());
  EXPECT_EQ(cache.stats().misses, misses + 2);
}

}  // namespace
}  // namespace shopeasy::edge::replenish
