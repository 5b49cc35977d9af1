// OrderBook against a real EdgeStore in a temporary directory: acceptance against the
// store's stock, pick lists, scans, short picks, packing, cloud cancellation and the
// dispatch hand-over, each checked through what staff, the cloud and the ledger see.
#include "edge/orders/order_book.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "common/wire/order.hpp"

namespace shopeasy::edge::orders {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kMilkEan = "4006381333931";
constexpr const char* kBreadEan = "5901234123457";

class OrderBookTest : public ::testing::Test {
 protected:
  void SetUp() override { open(true); }

  void open(bool auto_accept) {
    char tmpl[] = "/tmp/orders-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    store::StoreOptions o;
    o.path = dir_ + "/edge.db";
    o.durable = false;
    auto s = store::EdgeStore::open(o, clock_, bus_, logger_, metrics_);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    store_ = std::move(*s);
    inv_ = std::make_unique<inventory::Inventory>(*store_, "blr-1", logger_, metrics_);
    OrderBookOptions opts;
    opts.store_id = "blr-1";
    opts.auto_accept = auto_accept;
    book_ = std::make_unique<OrderBook>(*store_, *inv_, opts, clock_, logger_, metrics_);
    ASSERT_TRUE(
        inv_->upsert_bins({{"A-01", 1, "chilled"}, {"A-02", 2, "chilled"}, {"B-01", 3, ""}}, staff_)
            .ok());
    std::vector<StatusOr<inventory::ProductInput>> rows;
    rows.push_back(
        inventory::ProductInput{"MILK-1L", "Milk 1 L", "dairy", 6500, "each", {kMilkEan}, "A-01"});
    rows.push_back(inventory::ProductInput{"CURD", "Curd", "dairy", 6000, "each", {}, "A-02"});
    rows.push_back(inventory::ProductInput{"CREAM", "Cream", "dairy", 9000, "each", {}, "A-02"});
    rows.push_back(
        inventory::ProductInput{"BREAD", "Bread", "bakery", 4000, "each", {kBreadEan}, "B-01"});
    ASSERT_TRUE(inv_->upsert_products(rows, true, staff_).ok());
    // Milk: the later lot sits in the first bin of the walk, the sooner one in the second.
    receive("r1", "(01)04006381333931(10)LATE(17)300201", 3, "A-01");
    receive("r2", "(01)04006381333931(10)SOON(17)300101", 2, "A-02");
    receive("r3", kBreadEan, 10, "B-01");
    receive("r4", "CURD", 4, "A-02");
    receive("r5", "CREAM", 4, "A-02");
  }
  void TearDown() override {
    book_.reset();
    inv_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void receive(const std::string& id, const std::string& code, std::int64_t qty,
               const std::string& bin) {
    wire::Scan s;
    s.scan_id = id;
    s.scanner_id = "h1";
    s.code = code;
    s.action = wire::ScanAction::kReceive;
    s.qty = qty;
    s.bin = bin;
    auto r = inv_->apply_scan(s, staff_);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
  }

  std::int64_t now_ms() const { return to_unix_ms(clock_.wall_now()); }

  json order(const std::string& id, std::vector<std::pair<std::string, int>> lines) {
    wire::Order o;
    o.order_id = id;
    o.customer_id = "c-1";
    o.store_id = "blr-1";
    o.status = wire::OrderStatus::kRouted;
    for (auto& [sku, qty] : lines) {
      const std::int64_t price = sku == "MILK-1L" ? 6500 : sku == "BREAD" ? 4000 : 6000;
      o.lines.push_back({sku, qty, price});
    }
    o.delivery = {12.97, 77.64, std::nullopt};
    o.promised_at_ms = now_ms() + 600000;
    o.created_at_ms = now_ms();
    o.updated_at_ms = now_ms();
    o.total_cents = 10000;
    json j = wire::encode(o);
    j["accept_by_ms"] = now_ms() + 60000;
    return j;
  }

  Status downstream(const std::string& kind, const json& body) {
    auto r = store_->write([&](store::WriteContext& ctx) -> StatusOr<json> {
      Status st = book_->apply_downstream(ctx, kind, body);
      if (!st.is_ok()) return st;
      return json();
    });
    return r.ok() ? Status::ok() : r.status();
  }

  std::string status_of(const std::string& id) {
    auto o = book_->get(id);
    EXPECT_TRUE(o.ok()) << o.status().to_string();
    return o.ok() ? (*o)["status"].get<std::string>() : "";
  }

  // The order.status events in the outbox, oldest first.
  std::vector<json> status_events(const std::string& id) {
    std::vector<json> out;
    auto events = inv_->events_after(0, 10000);
    EXPECT_TRUE(events.ok());
    for (const auto& e : *events) {
      if (e.type == "order.status" && e.body["order_id"] == id) out.push_back(e.body);
    }
    return out;
  }

  std::int64_t sku_field(const std::string& sku, const std::string& field) {
    auto item = inv_->get_sku(sku);
    EXPECT_TRUE(item.ok());
    return item.ok() ? (*item)[field].get<std::int64_t>() : -1;
  }

  StatusOr<json> pick(const std::string& id, const std::string& code, std::int64_t qty = 1,
                      std::optional<std::string> bin = std::nullopt) {
    return book_->pick(id, PickScan{code, std::move(bin), qty, std::nullopt}, picker_);
  }

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
  std::unique_ptr<inventory::Inventory> inv_;
  std::unique_ptr<OrderBook> book_;
  inventory::Actor staff_{"manager-1", "api"};
  // What the routes pass for a manager: another picker's claim does not stop them.
  static constexpr ClaimGuard kManager{.may_override = true, .held_by = nullptr};
  inventory::Actor picker_{"picker-1", "api"};
};

TEST_F(OrderBookTest, ARoutedOrderInStockIsAcceptedAndReservedOnce) {
  ASSERT_TRUE(downstream("order", order("o-1", {{"MILK-1L", 3}, {"BREAD", 2}})).is_ok());
  EXPECT_EQ(status_of("o-1"), "accepted");
  EXPECT_EQ(sku_field("MILK-1L", "reserved"), 3);
  EXPECT_EQ(sku_field("BREAD", "reserved"), 2);
  // The cloud re-sends the same item after a lost acknowledgement: nothing changes.
  ASSERT_TRUE(downstream("order", order("o-1", {{"MILK-1L", 3}, {"BREAD", 2}})).is_ok());
  EXPECT_EQ(sku_field("MILK-1L", "reserved"), 3);
  auto events = status_events("o-1");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["status"], "accepted");
  EXPECT_GT(events[0]["at_ms"].get<std::int64_t>(), 0);
  expect_ledger_matches_stock();
}

TEST_F(OrderBookTest, AnOrderTheStoreCannotFillIsRefusedNamingTheSku) {
  ASSERT_TRUE(downstream("order", order("o-2", {{"BREAD", 1}, {"MILK-1L", 6}})).is_ok());
  EXPECT_EQ(status_of("o-2"), "cancelled");
  EXPECT_EQ(sku_field("BREAD", "reserved"), 0);
  EXPECT_EQ(sku_field("MILK-1L", "reserved"), 0);
  auto events = status_events("o-2");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["status"], "cancelled");
  EXPECT_EQ(events[0]["reason"], "refused: out_of_stock MILK-1L");
}

TEST_F(OrderBookTest, MalformedOrWrongStoreItemsAreRefusedWithoutTrace) {
  json bad = order("o-3", {{"BREAD", 1}});
  bad["lines"][0]["qty"] = 0;
  Status st = downstream("order", bad);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.field(), "lines[0].qty");
  json other = order("o-3", {{"BREAD", 1}});
  other["store_id"] = "mum-1";
  EXPECT_EQ(downstream("order", other).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(book_->get("o-3").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(downstream("order.cancel", json{{"reason", "x"}}).code(), StatusCode::kInvalidArgument);
}

// A customer who deleted their account: the store's copies of their orders take the
// tombstone id and a delivery point rounded to about 1 km; other customers' orders and a
// malformed item are left alone.
TEST_F(OrderBookTest, AForgottenCustomersOrdersKeepOnlyACoarseDeliveryPoint) {
  json mine = order("o-f1", {{"BREAD", 1}});
  mine["delivery"] = {{"lat", 12.971234}, {"lon", 77.645678}};
  ASSERT_TRUE(downstream("order", mine).is_ok());
  json other = order("o-f2", {{"BREAD", 1}});
  other["customer_id"] = "c-2";
  ASSERT_TRUE(downstream("order", other).is_ok());
  EXPECT_EQ(downstream("customer.forget", {{"customer_id", "c-1"}}).field(), "tombstone");
  EXPECT_EQ(downstream("customer.forget", {{"customer_id", "c-1"}, {"tombstone", "c-1"}}).code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE(downstream("customer.forget", {{"customer_id", "c-1"}, {"tombstone", "forgotten-9"}})
                  .is_ok());
  const json kept = book_->get("o-f1").value();
  EXPECT_EQ(kept["customer_id"], "forgotten-9");
  EXPECT_DOUBLE_EQ(kept["delivery"]["lat"].get<double>(), 12.97);
  EXPECT_DOUBLE_EQ(kept["delivery"]["lon"].get<double>(), 77.65);
  EXPECT_EQ(kept["status"], "accepted");
  EXPECT_EQ(book_->get("o-f2").value()["customer_id"], "c-2");
  // Repeated (a re-sent item): nothing left to change.
  ASSERT_TRUE(downstream("customer.forget", {{"customer_id", "c-1"}, {"tombstone", "forgotten-9"}})
                  .is_ok());
  EXPECT_EQ(book_->get("o-f1").value()["customer_id"], "forgotten-9");
}

TEST_F(OrderBookTest, PickListFollowsTheWalkWithFefoLots) {
  ASSERT_TRUE(downstream("order", order("o-4", {{"BREAD", 1}, {"MILK-1L", 3}})).is_ok());
  auto list = book_->picklist("o-4");
  ASSERT_TRUE(list.ok()) << list.status().to_string();
  const auto& e = (*list)["entries"];
  ASSERT_EQ(e.size(), 3u) << list->dump();
  // FEFO chose both SOON units and one LATE; the walk visits, B-01.
  EXPECT_EQ(e[0]["bin"], "A-01");
  EXPECT_EQ(e[0]["lot"], "LATE");
  EXPECT_EQ(e[0]["qty"], 1);
  EXPECT_EQ(e[1]["bin"], "A-02");
  EXPECT_EQ(e[1]["lot"], "SOON");
  EXPECT_EQ(e[1]["expiry"], "2030-01-01");
  EXPECT_EQ(e[1]["qty"], 2);
  EXPECT_EQ(e[1]["barcodes"][0], "04006381333931");
  EXPECT_EQ(e[2]["sku"], "BREAD");
  EXPECT_EQ(book_->picklist("nope").status().code(), StatusCode::kNotFound);
}

TEST_F(OrderBookTest, ScansArePickedAgainstTheOrderAndWrongOnesRefused) {
  ASSERT_TRUE(downstream("order", order("o-5", {{"MILK-1L", 2}, {"BREAD", 1}})).is_ok());
  // Not in the order: refused on the spot, naming what is expected.
  auto wrong = pick("o-5", "CURD");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(wrong.status().message().find("CURD"), std::string::npos);
  EXPECT_NE(wrong.status().message().find("expected MILK-1L x2"), std::string::npos)
      << wrong.status().message();
  // An unknown code is just as wrong; a malformed one is a bad request.
  EXPECT_EQ(pick("o-5", "96385074").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(pick("o-5", "4006381333932").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status_of("o-5"), "accepted");

  auto first = pick("o-5", kMilkEan);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_EQ((*first)["status"], "picking");
  EXPECT_EQ((*first)["units_left"], 2);
  // More than ordered: refused.
  auto over = pick("o-5", kMilkEan, 2);
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.status().message().find("needs 1 more of MILK-1L"), std::string::npos)
      << over.status().message();
  // Packing with a line open is refused.
  auto early = book_->pack("o-5", picker_);
  EXPECT_EQ(early.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(early.status().message().find("BREAD x1"), std::string::npos);

  ASSERT_TRUE(pick("o-5", kMilkEan).ok());
  auto last = pick("o-5", kBreadEan);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ((*last)["complete"], true);
  auto packed = book_->pack("o-5", picker_);
  ASSERT_TRUE(packed.ok()) << packed.status().to_string();
  EXPECT_EQ((*packed)["status"], "packed");
  EXPECT_TRUE((*packed)["timestamps"].contains("picking"));
  EXPECT_TRUE((*packed)["timestamps"].contains("packed"));

  // The stock left as picks of this order, and nothing stays reserved.
  EXPECT_EQ(sku_field("MILK-1L", "on_hand"), 3);
  EXPECT_EQ(sku_field("MILK-1L", "reserved"), 0);
  EXPECT_EQ(sku_field("BREAD", "on_hand"), 9);
  inventory::LedgerQuery query;
  query.sku = "MILK-1L";
  query.reason = "pick";
  auto ledger = inv_->ledger(query);
  ASSERT_TRUE(ledger.ok());
  ASSERT_FALSE((*ledger)["items"].empty()) << ledger->dump();
  EXPECT_EQ((*ledger)["items"][0]["ref"], "o-5");
  std::vector<std::string> statuses;
  for (const auto& e : status_events("o-5")) statuses.push_back(e["status"]);
  EXPECT_EQ(statuses, (std::vector<std::string>{"accepted", "picking", "packed"}));
  // Picking a packed order is an illegal transition.
  EXPECT_EQ(pick("o-5", kBreadEan).status().code(), StatusCode::kFailedPrecondition);
  expect_ledger_matches_stock();
}

TEST_F(OrderBookTest, ARetriedScanIsAppliedOnce) {
  ASSERT_TRUE(downstream("order", order("o-6", {{"BREAD", 2}})).is_ok());
  PickScan s{kBreadEan, std::nullopt, 1, "scan-1"};
  ASSERT_TRUE(book_->pick("o-6", s, picker_).ok());
  auto again = book_->pick("o-6", s, picker_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)["duplicate"], true);
  EXPECT_EQ(sku_field("BREAD", "on_hand"), 9);
}

TEST_F(OrderBookTest, APickFromAnotherBinSwapsTheReservation) {
  receive("r6", kBreadEan, 2, "A-01");
  ASSERT_TRUE(downstream("order", order("o-7", {{"BREAD", 1}})).is_ok());
  auto r = pick("o-7", kBreadEan, 1, "A-01");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ((*r)["from"][0]["bin"], "A-01");
  EXPECT_EQ(sku_field("BREAD", "reserved"), 0);
  EXPECT_EQ(sku_field("BREAD", "on_hand"), 11);
  // A bin that holds none of it is refused.
  ASSERT_TRUE(downstream("order", order("o-8", {{"BREAD", 1}})).is_ok());
  EXPECT_EQ(pick("o-8", kBreadEan, 1, "A-02").status().code(), StatusCode::kFailedPrecondition);
  expect_ledger_matches_stock();
}

TEST_F(OrderBookTest, ShortPicksSubstituteWithinRulesOrCancelTheLine) {
  ASSERT_TRUE(downstream("order", order("o-9", {{"MILK-1L", 2}, {"BREAD", 1}})).is_ok());
  ASSERT_TRUE(pick("o-9", kMilkEan).ok());
  // Another category, or a dearer product, is not a substitute.
  auto other = book_->short_pick("o-9", {"MILK-1L", true, "BREAD"}, staff_, kManager);
  EXPECT_EQ(other.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(other.status().message().find("same category"), std::string::npos);
  auto dearer = book_->short_pick("o-9", {"MILK-1L", true, "CREAM"}, staff_, kManager);
  EXPECT_EQ(dearer.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(book_->short_pick("o-9", {"MILK-1L", true, "NOPE"}, staff_, kManager).status().code(),
            StatusCode::kNotFound);

  auto sub = book_->short_pick("o-9", {"MILK-1L", true, "CURD"}, staff_, kManager);
  ASSERT_TRUE(sub.ok()) << sub.status().to_string();
  const auto& lines = (*sub)["lines"];
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["state"], "short");
  EXPECT_EQ(lines[0]["qty"], 1);
  EXPECT_EQ(lines[2]["sku"], "CURD");
  EXPECT_EQ(lines[2]["substitute_for"], "MILK-1L");
  EXPECT_EQ(sku_field("MILK-1L", "reserved"), 0);
  EXPECT_EQ(sku_field("CURD", "reserved"), 1);

  ASSERT_TRUE(book_->short_pick("o-9", {"BREAD", false, std::nullopt}, staff_, kManager).ok());
  EXPECT_EQ(sku_field("BREAD", "reserved"), 0);
  ASSERT_TRUE(pick("o-9", "CURD").ok());
  auto packed = book_->pack("o-9", picker_);
  ASSERT_TRUE(packed.ok()) << packed.status().to_string();
  EXPECT_EQ((*packed)["units"], 2);
  expect_ledger_matches_stock();
}

TEST_F(OrderBookTest, CancellingEveryLineCancelsTheOrder) {
  ASSERT_TRUE(downstream("order", order("o-10", {{"BREAD", 2}})).is_ok());
  auto r = book_->short_pick("o-10", {"BREAD", false, std::nullopt}, picker_);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ((*r)["status"], "cancelled");
  auto events = status_events("o-10");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1]["status"], "cancelled");
  EXPECT_EQ(sku_field("BREAD", "reserved"), 0);
}

TEST_F(OrderBookTest, TheCloudCancellingWhilePickingPutsEverythingBack) {
  ASSERT_TRUE(downstream("order", order("o-11", {{"MILK-1L", 3}})).is_ok());
  ASSERT_TRUE(pick("o-11", kMilkEan, 2).ok());
  ASSERT_TRUE(
      downstream("order.cancel", json{{"order_id", "o-11"}, {"reason", "customer cancelled"}})
          .is_ok());
  EXPECT_EQ(status_of("o-11"), "cancelled");
  EXPECT_EQ(sku_field("MILK-1L", "on_hand"), 5);
  EXPECT_EQ(sku_field("MILK-1L", "reserved"), 0);
  // Again, and for an order this store never saw: no-ops.
  EXPECT_TRUE(downstream("order.cancel", json{{"order_id", "o-11"}}).is_ok());
  EXPECT_TRUE(downstream("order.cancel", json{{"order_id", "o-404"}}).is_ok());
  EXPECT_EQ(pick("o-11", kMilkEan).status().code(), StatusCode::kFailedPrecondition);
  expect_ledger_matches_stock();
}

TEST_F(OrderBookTest, IllegalTransitionsAreRefused) {
  ASSERT_TRUE(downstream("order", order("o-12", {{"BREAD", 1}})).is_ok());
  EXPECT_EQ(book_->accept("o-12", staff_).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(book_->pack("o-12", staff_).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(book_->mark_assigned("o-12", "r1", "a1", now_ms()).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(book_->accept("nope", staff_).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(book_->refuse("o-12", "", staff_).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(OrderBookTest, DispatchHandsThePackedOrderToOneRunner) {
  ASSERT_TRUE(downstream("order", order("o-13", {{"BREAD", 2}})).is_ok());
  ASSERT_TRUE(pick("o-13", kBreadEan, 2).ok());
  ASSERT_TRUE(book_->pack("o-13", picker_).ok());
  auto waiting = book_->packed_awaiting_dispatch();
  ASSERT_TRUE(waiting.ok());
  ASSERT_EQ(waiting->size(), 1u);
  EXPECT_EQ((*waiting)[0].order_id, "o-13");
  EXPECT_EQ((*waiting)[0].units, 2);
  EXPECT_DOUBLE_EQ((*waiting)[0].lat, 12.97);

  const std::int64_t eta = now_ms() + 420000;
  ASSERT_TRUE(book_->mark_assigned("o-13", "runner-1", "as-1", eta).is_ok());
  EXPECT_TRUE(book_->packed_awaiting_dispatch()->empty());
  EXPECT_EQ(book_->mark_assigned("o-13", "runner-2", "as-2", eta).code(),
            StatusCode::kFailedPrecondition);
  auto events = status_events("o-13");
  EXPECT_EQ(events.back()["status"], "packed");
  EXPECT_EQ(events.back()["runner_id"], "runner-1");
  EXPECT_EQ(events.back()["eta_ms"], eta);

  // Another runner's event is refused and counted.
  EXPECT_EQ(book_->on_runner_event("runner-2", "picked_up", "o-13", 0, "").code(),
            StatusCode::kFailedPrecondition);
  EXPECT_NE(metrics_.render().find("edge_order_runner_events_refused_total 1"), std::string::npos);
  ASSERT_TRUE(book_->on_runner_event("runner-1", "picked_up", "o-13", now_ms(), "").is_ok());
  EXPECT_EQ(status_of("o-13"), "out_for_delivery");
  ASSERT_TRUE(book_->on_runner_event("runner-1", "heartbeat", "o-13", 0, "").is_ok());

  // Positions: at most one per interval per order.
  const auto positions = [&] {
    int n = 0;
    auto all = inv_->events_after(0, 10000);
    EXPECT_TRUE(all.ok());
    for (const auto& e : all.value()) n += e.type == "order.position";
    return n;
  };
  ASSERT_TRUE(book_->on_position("o-13", "runner-1", 12.96, 77.63, eta, now_ms()).is_ok());
  ASSERT_TRUE(book_->on_position("o-13", "runner-1", 12.965, 77.635, eta, now_ms()).is_ok());
  EXPECT_EQ(positions(), 1);
  clock_.advance(3s);
  ASSERT_TRUE(book_->on_position("o-13", "runner-1", 12.965, 77.635, eta, now_ms()).is_ok());
  EXPECT_EQ(positions(), 2);
  clock_.advance(3s);
  EXPECT_EQ(book_->on_position("o-13", "runner-2", 1, 1, eta, now_ms()).code(),
            StatusCode::kFailedPrecondition);

  ASSERT_TRUE(book_->on_runner_event("runner-1", "delivered", "o-13", now_ms(), "").is_ok());
  EXPECT_EQ(status_of("o-13"), "delivered");
  std::vector<std::string> statuses;
  for (const auto& e : status_events("o-13")) statuses.push_back(e["status"]);
  EXPECT_EQ(statuses, (std::vector<std::string>{"accepted", "picking", "packed", "packed",
                                                "out_for_delivery", "delivered"}));
  EXPECT_NE(metrics_.render().find("edge_orders{status=\"delivered\"} 1"), std::string::npos);
}

TEST_F(OrderBookTest, ARunnerFailureAndAnUnassignAreRecorded) {
  for (const std::string id : {"o-14", "o-15"}) {
    ASSERT_TRUE(downstream("order", order(id, {{"BREAD", 1}})).is_ok());
    ASSERT_TRUE(pick(id, kBreadEan).ok());
    ASSERT_TRUE(book_->pack(id, picker_).ok());
    ASSERT_TRUE(book_->mark_assigned(id, "runner-1", "as-" + id, now_ms() + 1000).is_ok());
  }
  book_->unassign("o-14");
  auto waiting = book_->packed_awaiting_dispatch();
  ASSERT_TRUE(waiting.ok());
  ASSERT_EQ(waiting->size(), 1u);
  EXPECT_EQ((*waiting)[0].order_id, "o-14");
  // The cloud hears that the runner is gone: packed again, without runner or ETA.
  auto events = status_events("o-14");
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back()["status"], "packed");
  EXPECT_EQ(events.back()["reason"], "unassigned");
  EXPECT_FALSE(events.back().contains("runner_id"));
  EXPECT_FALSE(events.back().contains("eta_ms"));
  // A second unassign (no runner any more) says nothing new.
  const std::size_t before = status_events("o-14").size();
  book_->unassign("o-14");
  EXPECT_EQ(status_events("o-14").size(), before);

  ASSERT_TRUE(book_->on_runner_event("runner-1", "picked_up", "o-15", 0, "").is_ok());
  ASSERT_TRUE(book_->on_runner_event("runner-1", "failed", "o-15", 0, "flat tyre").is_ok());
  auto o = book_->get("o-15");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ((*o)["status"], "failed");
  EXPECT_EQ((*o)["reason"], "runner_failed: flat tyre");
}

TEST_F(OrderBookTest, TwoPickersClaimDifferentOrders) {
  ASSERT_TRUE(downstream("order", order("o-30", {{"BREAD", 1}})).is_ok());
  ASSERT_TRUE(downstream("order", order("o-31", {{"BREAD", 1}})).is_ok());
  const inventory::Actor other{"picker-2", "api"};

  auto mine = book_->claim("o-30", picker_, false);
  ASSERT_TRUE(mine.ok()) << mine.status().to_string();
  EXPECT_EQ((*mine)["picker"], "picker-1");
  EXPECT_EQ((*mine)["picker_seen_at_ms"], now_ms());
  // Claiming again is harmless.
  ASSERT_TRUE(book_->claim("o-30", picker_, false).ok());

  std::optional<ClaimHolder> held_by;
  auto refused = book_->claim("o-30", other, false, &held_by);
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.status().field(), "picker");
  ASSERT_TRUE(held_by.has_value());
  EXPECT_EQ(held_by->picker, "picker-1");
  EXPECT_EQ(held_by->stale_at_ms, now_ms() + 300000);
  auto theirs = book_->claim("o-31", other, false, &held_by);
  ASSERT_TRUE(theirs.ok()) << theirs.status().to_string();
  EXPECT_FALSE(held_by.has_value());

  // The list shows who holds what.
  auto page = book_->list("accepted", std::nullopt, 10);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ((*page)["items"].size(), 2u);
  EXPECT_EQ((*page)["items"][0]["picker"], "picker-1");
  EXPECT_EQ((*page)["items"][1]["picker"], "picker-2");

  // A picker cannot release someone else's claim; the holder can.
  EXPECT_EQ(book_->release("o-30", other).status().code(), StatusCode::kFailedPrecondition);
  auto released = book_->release("o-30", picker_);
  ASSERT_TRUE(released.ok());
  EXPECT_FALSE(released->contains("picker"));
  EXPECT_FALSE(released->contains("picker_seen_at_ms"));
  EXPECT_TRUE(book_->release("o-30", picker_).ok());  // not claimed: a no-op
  ASSERT_TRUE(book_->claim("o-30", other, false).ok());

  // Only orders being picked can be claimed.
  EXPECT_EQ(book_->claim("nope", picker_, false).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(downstream("order", order("o-32", {{"MILK-1L", 9}})).is_ok());  // refused
  EXPECT_EQ(book_->claim("o-32", picker_, false).status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(OrderBookTest, AStaleClaimCanBeTakenAndPicksKeepItFresh) {
  ASSERT_TRUE(downstream("order", order("o-33", {{"BREAD", 3}})).is_ok());
  const inventory::Actor other{"picker-2", "api"};
  ASSERT_TRUE(book_->claim("o-33", picker_, false).ok());
  clock_.advance(4min);
  // A scan by the holder renews the claim: five minutes from now, not from the claim.
  ASSERT_TRUE(pick("o-33", kBreadEan).ok());
  auto detail = book_->get("o-33");
  ASSERT_TRUE(detail.ok());
  EXPECT_EQ((*detail)["picker_seen_at_ms"], now_ms());
  clock_.advance(4min);
  EXPECT_EQ(book_->claim("o-33", other, false).status().code(), StatusCode::kFailedPrecondition);
  // Someone else's scan is refused while the claim is fresh, naming the holder; a
  // manager's is taken and does not keep the claim alive for the holder.
  std::optional<ClaimHolder> refused_by;
  EXPECT_EQ(book_
                ->pick("o-33", PickScan{kBreadEan, std::nullopt, 1, std::nullopt}, other,
                       {.may_override = false, .held_by = &refused_by})
                .status()
                .code(),
            StatusCode::kFailedPrecondition);
  ASSERT_TRUE(refused_by.has_value());
  EXPECT_EQ(refused_by->picker, "picker-1");
  ASSERT_TRUE(
      book_->pick("o-33", PickScan{kBreadEan, std::nullopt, 1, std::nullopt}, staff_, kManager)
          .ok());
  clock_.advance(1min);
  auto taken = book_->claim("o-33", other, false);
  ASSERT_TRUE(taken.ok()) << taken.status().to_string();
  EXPECT_EQ((*taken)["picker"], "picker-2");
  EXPECT_EQ((*taken)["status"], "picking");
  // The first picker, back, is now the one refused.
  std::optional<ClaimHolder> held_by;
  EXPECT_EQ(book_->claim("o-33", picker_, false, &held_by).status().code(),
            StatusCode::kFailedPrecondition);
  ASSERT_TRUE(held_by.has_value());
  EXPECT_EQ(held_by->picker, "picker-2");
}

TEST_F(OrderBookTest, TheFirstPickClaimsTheOrderAndOthersAreRefusedUntilItLapses) {
  ASSERT_TRUE(downstream("order", order("o-36", {{"BREAD", 3}})).is_ok());
  const inventory::Actor other{"picker-2", "api"};
  const std::uint64_t from = bus_.head();
  // Nobody claimed it: the first scan does, and the store's screens hear who holds it.
  ASSERT_TRUE(pick("o-36", kBreadEan).ok());
  auto detail = book_->get("o-36");
  ASSERT_TRUE(detail.ok());
  EXPECT_EQ((*detail)["picker"], "picker-1");
  auto seen = bus_.read(from, 100, 0ms);
  auto claim_event = std::find_if(seen.events.begin(), seen.events.end(),
                                  [](const events::Event& e) { return e.type == "order.claim"; });
  ASSERT_NE(claim_event, seen.events.end());
  EXPECT_EQ(claim_event->seq, 0);  // store-local: never in the outbox
  EXPECT_EQ(claim_event->body["picker"], "picker-1");
  EXPECT_TRUE(status_events("o-36").size() >= 1);

  // Another picker's scan, short pick and pack are refused while the claim is fresh,
  // and change nothing.
  std::optional<ClaimHolder> held_by;
  auto refused = book_->pick("o-36", PickScan{kBreadEan, std::nullopt, 1, std::nullopt}, other,
                             {.may_override = false, .held_by = &held_by});
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.status().field(), "picker");
  ASSERT_TRUE(held_by.has_value());
  EXPECT_EQ(held_by->picker, "picker-1");
  EXPECT_EQ(book_->short_pick("o-36", {"BREAD", false, std::nullopt}, other).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(book_->pack("o-36", other).status().code(), StatusCode::kFailedPrecondition);
  detail = book_->get("o-36");
  ASSERT_TRUE(detail.ok());
  EXPECT_EQ((*detail)["lines"][0]["picked"], 1);
  EXPECT_EQ((*detail)["status"], "picking");

  // Once the holder has not been seen for the timeout, the next picker's scan takes it.
  clock_.advance(5min);
  ASSERT_TRUE(book_->pick("o-36", PickScan{kBreadEan, std::nullopt, 1, std::nullopt}, other).ok());
  detail = book_->get("o-36");
  ASSERT_TRUE(detail.ok());
  EXPECT_EQ((*detail)["picker"], "picker-2");
  EXPECT_EQ(pick("o-36", kBreadEan).status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(OrderBookTest, AManagerTakesOverAFreshClaim) {
  ASSERT_TRUE(downstream("order", order("o-34", {{"BREAD", 1}})).is_ok());
  ASSERT_TRUE(book_->claim("o-34", picker_, false).ok());
  EXPECT_EQ(book_->claim("o-34", staff_, false).status().code(), StatusCode::kFailedPrecondition);
  auto taken = book_->claim("o-34", staff_, true);
  ASSERT_TRUE(taken.ok()) << taken.status().to_string();
  EXPECT_EQ((*taken)["picker"], "manager-1");
  ASSERT_TRUE(book_->claim("o-34", picker_, true).ok());  // the route decides who may
  ASSERT_TRUE(book_->release("o-34", staff_, true).ok());
  auto detail = book_->get("o-34");
  ASSERT_TRUE(detail.ok());
  EXPECT_FALSE(detail->contains("picker"));
}

TEST_F(OrderBookTest, PackingRecordsTheBagCountAndRefusesBadOnes) {
  ASSERT_TRUE(downstream("order", order("o-35", {{"BREAD", 1}})).is_ok());
  ASSERT_TRUE(pick("o-35", kBreadEan).ok());
  for (std::int64_t bad : {0, -1, 51}) {
    auto refused = book_->pack("o-35", picker_, bad);
    EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(refused.status().field(), "bags");
  }
  EXPECT_EQ(status_of("o-35"), "picking");
  auto packed = book_->pack("o-35", picker_, 2);
  ASSERT_TRUE(packed.ok()) << packed.status().to_string();
  EXPECT_EQ((*packed)["status"], "packed");
  EXPECT_EQ((*packed)["bags"], 2);
  EXPECT_EQ((*book_->get("o-35"))["bags"], 2);
  // A packed order is no longer claimed for picking.
  EXPECT_EQ(book_->claim("o-35", picker_, false).status().code(), StatusCode::kFailedPrecondition);

  // Packing without a count still works and shows none.
  ASSERT_TRUE(downstream("order", order("o-36", {{"BREAD", 1}})).is_ok());
  ASSERT_TRUE(pick("o-36", kBreadEan).ok());
  auto plain = book_->pack("o-36", picker_);
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->contains("bags"));
}

TEST_F(OrderBookTest, TheClaimTimeoutIsAnOption) {
  book_.reset();
  OrderBookOptions opts;
  opts.store_id = "blr-1";
  opts.claim_timeout = 30s;
  book_ = std::make_unique<OrderBook>(*store_, *inv_, opts, clock_, logger_, metrics_);
  ASSERT_TRUE(downstream("order", order("o-37", {{"BREAD", 1}})).is_ok());
  ASSERT_TRUE(book_->claim("o-37", picker_, false).ok());
  const inventory::Actor other{"picker-2", "api"};
  clock_.advance(29s);
  EXPECT_EQ(book_->claim("o-37", other, false).status().code(), StatusCode::kFailedPrecondition);
  clock_.advance(1s);
  EXPECT_TRUE(book_->claim("o-37", other, false).ok());
}

class ManualOrderBookTest : public OrderBookTest {
 protected:
  void SetUp() override { open(false); }
};

TEST_F(ManualOrderBookTest, StaffAcceptOrRefuseRoutedOrders) {
  ASSERT_TRUE(downstream("order", order("o-20", {{"BREAD", 2}})).is_ok());
  ASSERT_TRUE(downstream("order", order("o-21", {{"BREAD", 1}})).is_ok());
  ASSERT_TRUE(downstream("order", order("o-22", {{"MILK-1L", 9}})).is_ok());
  EXPECT_EQ(status_of("o-20"), "routed");
  EXPECT_EQ(sku_field("BREAD", "reserved"), 0);
  auto routed = book_->list("routed", std::nullopt, 2);
  ASSERT_TRUE(routed.ok());
  EXPECT_EQ((*routed)["items"].size(), 2u);
  EXPECT_EQ((*routed)["next_cursor"], "o-21");
  EXPECT_EQ(book_->list("nonsense", std::nullopt, 10).status().code(),
            StatusCode::kInvalidArgument);

  auto accepted = book_->accept("o-20", staff_);
  ASSERT_TRUE(accepted.ok()) << accepted.status().to_string();
  EXPECT_EQ(sku_field("BREAD", "reserved"), 2);
  // Not enough milk: accepting is refused, refusing works.
  auto short_accept = book_->accept("o-22", staff_);
  EXPECT_EQ(short_accept.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(short_accept.status().message().find("MILK-1L"), std::string::npos);
  auto refused = book_->refuse("o-22", "freezer broken", staff_);
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ((*refused)["reason"], "refused: freezer broken");
  // Refusing an accepted order gives its reservation back.
  ASSERT_TRUE(book_->refuse("o-20", "no picker", staff_).ok());
  EXPECT_EQ(sku_field("BREAD", "reserved"), 0);

  // After the accept deadline the store may only refuse.
  clock_.advance(61s);
  EXPECT_EQ(book_->accept("o-21", staff_).status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace shopeasy::edge::orders
