// OrderService on an in-memory SQLite CloudStore with a fake clock and no payment step
// (orders are confirmed and routed at once): the state machine as the customer and the
// stores drive it, holds, re-routing, deadlines and what bad input leaves behind.
#include "cloud/orders/order_service.hpp"

#include <gtest/gtest.h>

#include <array>
#include <set>

namespace shopeasy::cloud::orders {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr double kLat = 12.975;
constexpr double kLon = 77.645;

class OrderServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = storage::open_sqlite_store(":memory:");
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    store_ = std::move(*opened);
    ASSERT_TRUE(store_->migrate().is_ok());
    add_store("near", 12.9740, 77.6440);
    add_store("far", 12.9600, 77.6300);
    ASSERT_TRUE(store_
                    ->upsert_catalog_item({.sku = "MILK",
                                           .name = "Milk",
                                           .category = "dairy",
                                           .price_cents = 250,
                                           .unit = "each",
                                           .barcodes = {},
                                           .active = true,
                                           .version = 0})
                    .ok());
    rebuild();
    service_ = std::make_unique<OrderService>(*store_, index_, nullptr, clock_,
                                              OrderOptions{.payment_timeout_ms = 60'000,
                                                           .accept_timeout_ms = 30'000,
                                                           .online_window_ms = 3'600'000,
                                                           .currency = "EUR"},
                                              log::Logger(), metrics_);
  }

  std::int64_t now() const { return to_unix_ms(clock_.wall_now()); }

  void add_store(const std::string& id, double lat, double lon) {
    ASSERT_TRUE(store_
                    ->upsert_store({.id = id,
                                    .name = id,
                                    .lat = lat,
                                    .lon = lon,
                                    .service_radius_m = 3000,
                                    .opening_hours = json::object(),
                                    .secret_sha256 = "",
                                    .active = true})
                    .is_ok());
  }
  void rebuild() {
    std::vector<routing::IndexedStore> indexed;
    auto stores = store_->list_stores();
    ASSERT_TRUE(stores.ok());
    for (const auto& s : *stores) {
      indexed.push_back({s.registration.id,
                         s.registration.name,
                         {s.registration.lat, s.registration.lon},
                         s.registration.service_radius_m,
                         s.registration.opening_hours,
                         now(),
                         true});
    }
    ASSERT_TRUE(index_.rebuild(std::move(indexed)).is_ok());
  }
  void event(const std::string& store, const std::string& kind, json body) {
    std::int64_t& seq = seqs_[store];
    ++seq;
    ASSERT_TRUE(store_->apply_batch(store, {{seq, kind, std::move(body)}}, now()).ok());
  }
  void stock(const std::string& store, std::int64_t on_hand, std::int64_t reserved = 0) {
    event(store, "stock.changed",
          {{"sku", "MILK"}, {"sku_on_hand", on_hand}, {"sku_reserved", reserved}});
  }
  std::int64_t held(const std::string& store) {
    auto rows = store_->availability(store, {"MILK"});
    return rows.ok() && !rows->empty() ? rows->front().held : -1;
  }
  Reply place(std::int64_t qty, const std::string& key) {
    return service_->place("alice", key,
                           json{{"lines", {{{"sku", "MILK"}, {"qty", qty}}}},
                                {"delivery", {{"lat", kLat}, {"lon", kLon}}}}
                               .dump());
  }
  storage::OrderRecord order(const std::string& id) { return *store_->get_order(id); }

  FakeClock clock_{WallTime(std::chrono::milliseconds(1'800'000'000'000))};
  metrics::Registry metrics_;
  std::unique_ptr<storage::CloudStore> store_;
  routing::StoreIndex index_;
  std::unique_ptr<OrderService> service_;
  std::map<std::string, std::int64_t> seqs_;
};

TEST_F(OrderServiceTest, PlacesAtTheBestStoreWithStockAndRoutesAtOnce) {
  stock("near", 1);
  stock("far", 5);
  Reply r = place(2, "k1");
  ASSERT_EQ(r.status, 201) << r.body.dump();
  EXPECT_EQ(r.body["store_id"], "far");  // near cannot hold two
  EXPECT_EQ(r.body["status"], "routed");
  EXPECT_EQ(r.body["total_cents"], 500);
  EXPECT_EQ(held("far"), 2);
  EXPECT_EQ(held("near"), 0);
  auto down = store_->downstream("far", 0, 100);
  ASSERT_TRUE(down.ok());
  EXPECT_EQ(down->back().kind, "order");
  EXPECT_EQ(down->back().body["accept_by_ms"], now() + 30'000);
}

TEST_F(OrderServiceTest, AcceptReleasesTheHoldAndRefusalReroutes) {
  stock("near", 5);
  stock("far", 5);
  Reply r = place(1, "k1");
  ASSERT_EQ(r.status, 201);
  const std::string id = r.body["order_id"];
  const std::string first = r.body["store_id"];
  const std::string second = first == "near" ? "far" : "near";
  event(first, "order.status",
        {{"order_id", id}, {"status", "cancelled"}, {"reason", "refused: closed"}});
  EXPECT_EQ(order(id).order.status, wire::OrderStatus::kRouted);
  EXPECT_EQ(order(id).order.store_id, second);
  EXPECT_EQ(held(first), 0);
  EXPECT_EQ(held(second), 1);
  // The refusing store can no longer move the order.
  event(first, "order.status", {{"order_id", id}, {"status", "accepted"}});
  EXPECT_EQ(order(id).order.status, wire::OrderStatus::kRouted);
  EXPECT_EQ(store_->change_counts(first)->at("order.status.ignored"), 1);
  event(second, "order.status", {{"order_id", id}, {"status", "accepted"}});
  EXPECT_EQ(order(id).order.status, wire::OrderStatus::kAccepted);
  EXPECT_EQ(held(second), 0);
  // Skipping ahead is not a legal transition.
  event(second, "order.status", {{"order_id", id}, {"status", "delivered"}});
  EXPECT_EQ(order(id).order.status, wire::OrderStatus::kAccepted);
}

TEST_F(OrderServiceTest, ALastRefusalFailsTheOrderWithAReason) {
  stock("near", 5);
  Reply r = place(1, "k1");
  ASSERT_EQ(r.status, 201);
  const std::string id = r.body["order_id"];
  event("near", "order.status",
        {{"order_id", id}, {"status", "cancelled"}, {"reason", "refused: no"}});
  const storage::OrderRecord o = order(id);
  EXPECT_EQ(o.order.status, wire::OrderStatus::kFailed);
  EXPECT_NE(o.reason.find("no_store_available"), std::string::npos) << o.reason;
  EXPECT_TRUE(o.refund_due);
  EXPECT_EQ(held("near"), 0);
  service_->tick();  // pays back what is owed
  EXPECT_EQ(order(id).order.status, wire::OrderStatus::kRefunded);
}

TEST_F(OrderServiceTest, AMissedAcceptDeadlineMovesTheOrderOn) {
  stock("near", 5);
  stock("far", 5);
  Reply r = place(1, "k1");
  ASSERT_EQ(r.status, 201);
  const std::string id = r.body["order_id"];
  const std::string first = r.body["store_id"];
  clock_.advance(29s);
  service_->tick();
  EXPECT_EQ(order(id).order.store_id, first);
  clock_.advance(2s);
  service_->tick();
  EXPECT_NE(order(id).order.store_id, first);
  auto down = store_->downstream(first, 0, 100);
  EXPECT_EQ(down->back().kind, "order.cancel");
  clock_.advance(31s);
  service_->tick();
  // Failed, and as it was paid, refunded at once; the reason stays.
  EXPECT_EQ(order(id).order.status, wire::OrderStatus::kRefunded);
  EXPECT_NE(order(id).reason.find("accept_timeout"), std::string::npos) << order(id).reason;
  EXPECT_EQ(held("near"), 0);
  EXPECT_EQ(held("far"), 0);
}

TEST_F(OrderServiceTest, BadInputHoldsNothing) {
  stock("near", 5);
  EXPECT_EQ(place(0, "a").status, 400);
  EXPECT_EQ(place(1001, "b").status, 400);
  EXPECT_EQ(place(1, "").status, 400);
  EXPECT_EQ(service_->place("alice", "c", "{not json").status, 400);
  EXPECT_EQ(service_
                ->place("alice", "d",
                        R"({"lines":[{"sku":"X","qty":1}],"delivery":{"lat":12.975,"lon":77.645}})")
                .status,
            422);
  EXPECT_EQ(service_
                ->place("alice", "e",
                        R"({"lines":[{"sku":"MILK","qty":1}],"delivery":{"geohash":"zz!"}})")
                .status,
            400);
  Reply far = service_->place(
      "alice", "f", R"({"lines":[{"sku":"MILK","qty":1}],"delivery":{"lat":40,"lon":-3}})");
  EXPECT_EQ(far.status, 422);
  EXPECT_EQ(far.body["error"]["code"], "no_store_serves_location");
  Reply none = place(6, "g");
  EXPECT_EQ(none.status, 409);
  EXPECT_EQ(none.body["error"]["code"], "out_of_stock");
  EXPECT_EQ(held("near"), 0);
}

TEST_F(OrderServiceTest, CancellingTellsTheStoreAndADeliveredOrderCannotBeCancelled) {
  stock("near", 5);
  Reply r = place(1, "k1");
  const std::string id = r.body["order_id"];
  auto cancelled = service_->cancel(id, "alice", false);
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->order.status, wire::OrderStatus::kRefunded);  // paid (no payment step)
  EXPECT_EQ(held("near"), 0);
  EXPECT_EQ(store_->downstream("near", 0, 100)->back().kind, "order.cancel");
  EXPECT_EQ(service_->cancel(id, "bob", false).status().code(), StatusCode::kNotFound);

  Reply second = place(1, "k2");
  const std::string id2 = second.body["order_id"];
  for (const char* s : {"accepted", "picking", "packed", "out_for_delivery", "delivered"}) {
    event("near", "order.status", {{"order_id", id2}, {"status", s}});
  }
  EXPECT_EQ(order(id2).order.status, wire::OrderStatus::kDelivered);
  EXPECT_EQ(service_->cancel(id2, "alice", false).status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(OrderServiceTest, ARunnerAssignedAndGivenBackShowsAndThenDisappears) {
  stock("near", 5);
  Reply r = place(1, "asg-1");
  const std::string id = r.body["order_id"];
  for (const char* s : {"accepted", "picking", "packed"}) {
    event("near", "order.status", {{"order_id", id}, {"status", s}});
  }
  EXPECT_TRUE(order(id).runner_id.empty());
  event("near", "order.status",
        {{"order_id", id}, {"status", "packed"}, {"runner_id", "r-1"}, {"eta_ms", 1234567}});
  EXPECT_EQ(order(id).order.status, wire::OrderStatus::kPacked);
  EXPECT_EQ(order(id).runner_id, "r-1");
  EXPECT_EQ(order(id).eta_ms, 1234567);
  // The runner gave it back: no runner, no ETA, and the customer's stream says so.
  event("near", "order.status", {{"order_id", id}, {"status", "packed"}, {"reason", "unassigned"}});
  EXPECT_TRUE(order(id).runner_id.empty());
  EXPECT_EQ(order(id).eta_ms, 0);
  auto events = store_->order_events(id, 0, 100);
  ASSERT_TRUE(events.ok());
  ASSERT_GE(events->size(), 2u);
  EXPECT_EQ(events->back().body["status"], "packed");
  EXPECT_FALSE(events->back().body.contains("runner_id"));
  EXPECT_EQ((*events)[events->size() - 2].body["runner_id"], "r-1");
  // The next runner shows.
  event("near", "order.status", {{"order_id", id}, {"status", "packed"}, {"runner_id", "r-2"}});
  EXPECT_EQ(order(id).runner_id, "r-2");
  EXPECT_EQ(OrderService::order_json(order(id))["runner_id"], "r-2");
}

TEST_F(OrderServiceTest, TheStoresNewLinesReplaceTheOrdersAndBadOnesAreCounted) {
  stock("near", 5);
  Reply r = place(2, "lines-1");
  const std::string id = r.body["order_id"];
  // Before the store accepts there is nothing to change.
  event("near", "order.lines",
        {{"order_id", id}, {"lines", {{{"sku", "MILK"}, {"qty", 1}, {"unit_price_cents", 100}}}}});
  EXPECT_EQ(order(id).order.lines.front().qty, 2);
  event("near", "order.status", {{"order_id", id}, {"status", "accepted"}});
  const std::int64_t total = order(id).order.total_cents;
  // Malformed lines (zero units) are counted and change nothing.
  event("near", "order.lines",
        {{"order_id", id}, {"lines", {{{"sku", "MILK"}, {"qty", 0}, {"unit_price_cents", 100}}}}});
  EXPECT_EQ(order(id).order.lines.front().qty, 2);
  event("near", "order.lines",
        {{"order_id", id},
         {"lines",
          {{{"sku", "MILK"}, {"qty", 1}, {"unit_price_cents", 6500}},
           {{"sku", "MILK-TONED"},
            {"qty", 1},
            {"unit_price_cents", 5500},
            {"substitute_for", "MILK"}}}}});
  const storage::OrderRecord after = order(id);
  ASSERT_EQ(after.order.lines.size(), 2u);
  EXPECT_EQ(after.order.lines[1].sku, "MILK-TONED");
  EXPECT_EQ(after.order.total_cents, total);  // what was charged stays
  auto events = store_->order_events(id, 0, 100);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->back().kind, "lines");
  EXPECT_EQ(events->back().body["lines"][1]["substitute_for"], "MILK");
  auto counts = store_->change_counts("near");
  ASSERT_TRUE(counts.ok());
  std::map<std::string, std::int64_t> by_kind = *counts;
  EXPECT_EQ(by_kind["order.malformed"], 1);
  EXPECT_GE(by_kind["order.status.ignored"], 1);
}

// Order ids are "ord_" and 32 lower-case hex digits, never repeat, and every digit
// position takes many values (no stuck or constant part).
TEST(NewOrderIdTest, IdsAreWellFormedAndDistinct) {
  constexpr int kDraws = 20'000;
  std::set<std::string> seen;
  std::array<std::set<char>, 32> digits_at;
  for (int i = 0; i < kDraws; ++i) {
    StatusOr<std::string> id = new_order_id();
    ASSERT_TRUE(id.ok()) << id.status().to_string();
    ASSERT_EQ(id->size(), 36u) << *id;
    ASSERT_EQ(id->substr(0, 4), "ord_") << *id;
    for (std::size_t k = 4; k < id->size(); ++k) {
      const char c = (*id)[k];
      ASSERT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << *id;
      digits_at[k - 4].insert(c);
    }
    seen.insert(*id);
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kDraws));
  for (std::size_t k = 0; k < digits_at.size(); ++k) {
    EXPECT_EQ(digits_at[k].size(), 16u) << "hex digit " << k;
  }
}

}  // namespace
}  // namespace shopeasy::cloud::orders
