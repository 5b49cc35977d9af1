// PricingService on an in-memory SQLite CloudStore with a fake clock: quotes, the order
// charged at its quote, expiry, the kill switch, surge from load signals, feed imports
// and the audit they leave.
#include "cloud/pricing/pricing_service.hpp"

#include <thread>

#include <gtest/gtest.h>

#include "common/geohash/geohash.hpp"

namespace shopeasy::cloud::pricing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr double kLat = 12.975;
constexpr double kLon = 77.645;

class PricingServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = storage::open_sqlite_store(":memory:");
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    store_ = std::move(*opened);
    ASSERT_TRUE(store_->migrate().is_ok());
    ASSERT_TRUE(store_
                    ->upsert_store({.id = "near",
                                    .name = "near",
                                    .lat = 12.9740,
                                    .lon = 77.6440,
                                    .service_radius_m = 3000,
                                    .opening_hours = json::object(),
                                    .secret_sha256 = "",
                                    .active = true})
                    .is_ok());
    for (const auto& [sku, price] : {std::pair<std::string, std::int64_t>{"MILK", 6'000},
                                     std::pair<std::string, std::int64_t>{"BREAD", 4'000}}) {
      ASSERT_TRUE(store_
                      ->upsert_catalog_item({.sku = sku,
                                             .name = sku,
                                             .category = "x",
                                             .price_cents = price,
                                             .unit = "each",
                                             .barcodes = {},
                                             .active = true,
                                             .version = 0})
                      .ok());
    }
    ASSERT_TRUE(
        index_.rebuild({{"near", "near", {12.9740, 77.6440}, 3000, json::object(), now(), true}})
            .is_ok());
    service_ = std::make_unique<PricingService>(*store_, index_, clock_, 3'600'000, log::Logger(),
                                                metrics_);
    orders_ = std::make_unique<orders::OrderService>(
        *store_, index_, nullptr, clock_,
        orders::OrderOptions{.payment_timeout_ms = 60'000, .online_window_ms = 3'600'000},
        log::Logger(), metrics_);
    orders_->set_quote_checker([this](const std::string& id,
                                      const std::vector<wire::OrderLine>& lines,
                                      const wire::DeliveryLocation& delivery) {
      return service_->check_quote(id, lines, delivery);
    });
    std::vector<storage::Change> stock;
    stock.push_back(
        {1, "stock.changed", json{{"sku", "MILK"}, {"sku_on_hand", 50}, {"sku_reserved", 0}}});
    stock.push_back(
        {2, "stock.changed", json{{"sku", "BREAD"}, {"sku_on_hand", 50}, {"sku_reserved", 0}}});
    ASSERT_TRUE(store_->apply_batch("near", stock, now()).ok());
    auto quarantined = store_->quarantined("near", 10);
    ASSERT_TRUE(quarantined.ok() && quarantined->empty());
    // MILK has a floor; BREAD has a model without a cost (never repriced).
    ASSERT_TRUE(service_
                    ->put_model("MILK", "",
                                {{"base_cents", 6'000},
                                 {"mrp_cents", 6'800},
                                 {"cost_cents", 4'000},
                                 {"min_margin_bp", 1'000}})
                    .ok());
    ASSERT_TRUE(
        service_->put_model("BREAD", "", {{"base_cents", 4'000}, {"mrp_cents", 4'500}}).ok());
  }

  std::int64_t now() const { return to_unix_ms(clock_.wall_now()); }
  static json cart(std::int64_t milk = 2, std::int64_t bread = 1) {
    return {{"lines", {{{"sku", "MILK"}, {"qty", milk}}, {{"sku", "BREAD"}, {"qty", bread}}}},
            {"delivery", {{"lat", kLat}, {"lon", kLon}}}};
  }
  json quote(const json& body = cart()) {
    auto q = service_->quote(body);
    EXPECT_TRUE(q.ok()) << q.status().to_string();
    return q.ok() ? *q : json();
  }
  void feed(const std::string& csv) {
    auto r = service_->import_competitor_feed(csv, false);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
  }
  orders::Reply order(json body, const std::string& key) {
    return orders_->place("alice", key, body.dump());
  }

  FakeClock clock_{WallTime(std::chrono::milliseconds(1'800'000'000'000))};
  metrics::Registry metrics_;
  std::unique_ptr<storage::CloudStore> store_;
  routing::StoreIndex index_;
  std::unique_ptr<PricingService> service_;
  std::unique_ptr<orders::OrderService> orders_;
};

TEST_F(PricingServiceTest, QuoteShowsEveryLineAndFeeUpFront) {
  const json q = quote();
  ASSERT_TRUE(q.contains("quote_id"));
  EXPECT_EQ(q["store_id"], "near");
  ASSERT_EQ(q["lines"].size(), 2u);
  EXPECT_EQ(q["lines"][0]["unit_price_cents"], 6'000);
  EXPECT_EQ(q["lines"][0]["amount_cents"], 12'000);
  ASSERT_EQ(q["fees"].size(), 1u);
  EXPECT_EQ(q["fees"][0]["kind"], "delivery");
  EXPECT_EQ(q["fees"][0]["amount_cents"], 2'500);
  EXPECT_EQ(q["total_cents"], 12'000 + 4'000 + 2'500);
  EXPECT_EQ(q["expires_at_ms"], now() + PricingConfig{}.quote_ttl_ms);
  // The same cart at the same moment gets the same prices.
  json again = quote();
  again.erase("quote_id");
  json first = q;
  first.erase("quote_id");
  EXPECT_EQ(again, first);
}

TEST_F(PricingServiceTest, BadCartsAreRefusedNamingTheField) {
  auto r =
      service_->quote({{"lines", json::array()}, {"delivery", {{"lat", kLat}, {"lon", kLon}}}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().field(), "lines");
  r = service_->quote(
      {{"lines", {{{"sku", "NOPE"}, {"qty", 1}}}}, {"delivery", {{"lat", kLat}, {"lon", kLon}}}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().field(), "lines[0].sku");
  r = service_->quote(
      {{"lines", {{{"sku", "MILK"}, {"qty", 1}}}}, {"delivery", {{"lat", 40.0}, {"lon", -3.0}}}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().field(), "delivery");
}

TEST_F(PricingServiceTest, OrderWithQuoteIsChargedExactlyTheQuotedTotal) {
  feed("sku,price\nMILK,55.00\n");
  const json q = quote();
  // 8% an hour at most: 60.00 -> 55.20, though the competitor rule asks for 54.00.
  EXPECT_EQ(q["lines"][0]["unit_price_cents"], 5'520);
  EXPECT_EQ(q["lines"][0]["rule"], "competitor");
  EXPECT_EQ(q["lines"][1]["unit_price_cents"], 4'000);  // no floor: never repriced
  EXPECT_EQ(q["lines"][1]["rule"], "no_floor");
  // Prices move after the quote; the order still pays what was shown.
  ASSERT_TRUE(service_->put_config({{"enabled", false}}).ok());
  json body = cart();
  body["quote_id"] = q["quote_id"];
  orders::Reply r = order(body, "k1");
  ASSERT_EQ(r.status, 201) << r.body.dump();
  EXPECT_EQ(r.body["total_cents"], q["total_cents"]);
  EXPECT_EQ(r.body["lines"][0]["unit_price_cents"], 5'520);
}

TEST_F(PricingServiceTest, ExpiredOrChangedQuoteIsRefusedWithTheLines) {
  feed("sku,price\nMILK,55.00\n");
  const json q = quote();
  json body = cart();
  body["quote_id"] = q["quote_id"];
  json other = cart(3, 1);
  other["quote_id"] = q["quote_id"];
  orders::Reply r = order(other, "k0");
  ASSERT_EQ(r.status, 409) << r.body.dump();
  EXPECT_EQ(r.body["error"]["code"], "quote_mismatch");
  EXPECT_EQ(r.body["lines"][0]["sku"], "MILK");

  ASSERT_TRUE(service_->put_config({{"enabled", false}}).ok());
  clock_.advance(std::chrono::milliseconds(PricingConfig{}.quote_ttl_ms));
  r = order(body, "k1");
  ASSERT_EQ(r.status, 409) << r.body.dump();
  EXPECT_EQ(r.body["error"]["code"], "quote_expired");
  ASSERT_EQ(r.body["lines"].size(), 1u);
  EXPECT_EQ(r.body["lines"][0]["sku"], "MILK");
  EXPECT_EQ(r.body["lines"][0]["quoted_unit_price_cents"], 5'520);
  EXPECT_EQ(r.body["lines"][0]["unit_price_cents"], 6'000);
  EXPECT_EQ(r.body["quote"]["total_cents"], 12'000 + 4'000 + 2'500);
  body["quote_id"] = "qt_unknown";
  EXPECT_EQ(order(body, "k2").status, 404);
}

// A quote holds where it was asked for: a fee quoted at a quiet spot cannot pay for a
// delivery elsewhere, however close the cart.
TEST_F(PricingServiceTest, AQuoteIsRefusedForAnotherDeliveryPoint) {
  const json q = quote();
  json moved = cart();
  moved["quote_id"] = q["quote_id"];
  moved["delivery"] = {{"lat", kLat + 0.01}, {"lon", kLon}};  // about 1.1 km north
  orders::Reply r = order(moved, "k1");
  ASSERT_EQ(r.status, 409) << r.body.dump();
  EXPECT_EQ(r.body["error"]["code"], "quote_mismatch");
  EXPECT_EQ(r.body["error"]["field"], "delivery");
  // The quoted point, given as its own geohash cell, is the same place.
  json same = cart();
  same["quote_id"] = q["quote_id"];
  same["delivery"] = {{"geohash", *geohash::encode({kLat, kLon}, 9)}};
  EXPECT_EQ(order(same, "k2").status, 201) << order(same, "k2").body.dump();
}

TEST_F(PricingServiceTest, KillSwitchServesBasePricesAtOnce) {
  feed("sku,price\nMILK,55.00\n");
  ASSERT_TRUE(service_->put_signal("near", {{"open_orders", 30}, {"available_runners", 5}}).ok());
  json q = quote();
  EXPECT_EQ(q["lines"][0]["unit_price_cents"], 5'520);
  EXPECT_EQ(q["fees"][0]["amount_cents"], 6'900);
  ASSERT_TRUE(service_->put_config({{"enabled", false}}).ok());
  q = quote();
  EXPECT_EQ(q["lines"][0]["unit_price_cents"], 6'000);
  EXPECT_EQ(q["lines"][0]["rule"], "kill_switch");
  EXPECT_EQ(q["fees"][0]["amount_cents"], 2'500);
  auto cfg = service_->get_config();
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ((*cfg)["enabled"], false);
}

// What the operators' dashboard shows: each store's fee now, without moving the step a
// quote would record, and the base fee for every store once the kill switch is on.
TEST_F(PricingServiceTest, SurgeNowShowsEachStoresFeeWithoutQuoting) {
  ASSERT_TRUE(service_->put_signal("near", {{"open_orders", 30}, {"available_runners", 5}}).ok());
  auto now = service_->surge_now({"near", "elsewhere"});
  ASSERT_TRUE(now.ok()) << now.status().to_string();
  EXPECT_TRUE(now->enabled);
  EXPECT_EQ(now->fees.at("near").step, 3);
  EXPECT_EQ(now->fees.at("near").fee_cents, 6'900);
  EXPECT_EQ(now->fees.at("elsewhere").step, 0);
  EXPECT_EQ(now->fees.at("elsewhere").fee_cents, 2'500);
  // Looking changed nothing a quote records.
  auto h = service_->history("", "near", 0, 100);
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE((*h)["items"].empty()) << h->dump();
  ASSERT_TRUE(service_->put_config({{"enabled", false}}).ok());
  now = service_->surge_now({"near"});
  ASSERT_TRUE(now.ok());
  EXPECT_FALSE(now->enabled);
  EXPECT_EQ(now->fees.at("near").step, 0);
  EXPECT_EQ(now->fees.at("near").fee_cents, 2'500);
}

TEST_F(PricingServiceTest, FrozenLoadSignalEndsTheSurgeWithin60Seconds) {
  ASSERT_TRUE(service_->put_signal("near", {{"open_orders", 30}, {"available_runners", 5}}).ok());
  EXPECT_EQ(quote()["fees"][0]["amount_cents"], 6'900);
  clock_.advance(60s);
  EXPECT_EQ(quote()["fees"][0]["amount_cents"], 6'900);
  clock_.advance(1ms);
  const json q = quote();
  EXPECT_EQ(q["fees"][0]["amount_cents"], 2'500);
  EXPECT_NE(q["fees"][0]["reason"].get<std::string>().find("neutral"), std::string::npos);
  // Both fee moves are in the audit.
  auto h = service_->history("", "near", 0, 100);
  ASSERT_TRUE(h.ok());
  int fees = 0;
  for (const json& e : (*h)["items"]) fees += e["kind"] == "fee" ? 1 : 0;
  EXPECT_EQ(fees, 2);
}

// The load a store reports with its sync batches drives the surge like an operator's
// signal, and goes neutral the same way when the store stops reporting.
TEST_F(PricingServiceTest, TheLoadAStoreReportsDrivesTheSurge) {
  ASSERT_TRUE(store_
                  ->put_store_load({.store_id = "near",
                                    .open_orders = 30,
                                    .available_runners = 5,
                                    .pick_queue = 12,
                                    .at_ms = now()})
                  .is_ok());
  EXPECT_EQ(quote()["fees"][0]["amount_cents"], 6'900);
  // A calmer report replaces it (one row per store).
  clock_.advance(2s);
  ASSERT_TRUE(store_
                  ->put_store_load({.store_id = "near",
                                    .open_orders = 1,
                                    .available_runners = 5,
                                    .pick_queue = 0,
                                    .at_ms = now()})
                  .is_ok());
  clock_.advance(1s);  // past the snapshot's refresh
  EXPECT_EQ(quote()["fees"][0]["amount_cents"], 2'500);
  // A busy report, then silence: neutral after the signal's maximum age.
  ASSERT_TRUE(store_
                  ->put_store_load({.store_id = "near",
                                    .open_orders = 30,
                                    .available_runners = 5,
                                    .pick_queue = 12,
                                    .at_ms = now()})
                  .is_ok());
  clock_.advance(1s);
  EXPECT_EQ(quote()["fees"][0]["amount_cents"], 6'900);
  clock_.advance(61s);
  EXPECT_EQ(quote()["fees"][0]["amount_cents"], 2'500);
}

TEST_F(PricingServiceTest, PriceFarFromBaseWaitsForApproval) {
  ASSERT_TRUE(
      service_->put_config({{"max_change_per_hour_bp", 10'000}, {"approval_threshold_bp", 500}})
          .ok());
  feed("sku,price\nMILK,50.00\n");  // asks for 49.00: 18% under the base
  json q = quote();
  EXPECT_EQ(q["lines"][0]["unit_price_cents"], 6'000);
  auto h = service_->history("MILK", "near", 0, 100);
  ASSERT_TRUE(h.ok());
  ASSERT_FALSE((*h)["items"].empty());
  EXPECT_EQ((*h)["items"].back()["kind"], "pending");
  EXPECT_EQ((*h)["items"].back()["new_cents"], 4'900);
  auto wrong = service_->approve({{"store_id", "near"}, {"sku", "MILK"}, {"price_cents", 4'000}});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(
      service_->approve({{"store_id", "near"}, {"sku", "MILK"}, {"price_cents", 4'900}}).ok());
  q = quote();
  EXPECT_EQ(q["lines"][0]["unit_price_cents"], 4'900);
  EXPECT_NE(q["lines"][0]["reason"].get<std::string>().find("approved"), std::string::npos);
}

TEST_F(PricingServiceTest, BadFeedChangesNothing) {
  feed("sku,price\nMILK,55.00\n");
  auto r = service_->import_competitor_feed("sku,price\nMILK,50\nBREAD,\n", false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "line 3: price is blank");
  r = service_->import_competitor_feed("sku,price\nMILK,0.01\n", false);  // absurd for the model
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().field(), "line 2");
  r = service_->import_competitor_feed(R"([{"sku":"MILK","price":"NaN"}])", true);
  ASSERT_FALSE(r.ok());
  // The earlier feed still prices.
  EXPECT_EQ(quote()["lines"][0]["unit_price_cents"], 5'520);
}

TEST_F(PricingServiceTest, ModelsAndPriceChangesAreAudited) {
  auto bad = service_->put_model(
      "MILK", "", {{"base_cents", 6'000}, {"mrp_cents", 6'800}, {"cost_cents", nullptr}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().field(), "cost_cents");
  ASSERT_TRUE(service_
                  ->put_model("MILK", "near",
                              {{"base_cents", 5'800}, {"mrp_cents", 6'800}, {"cost_cents", 4'000}})
                  .ok());
  EXPECT_EQ(quote()["lines"][0]["unit_price_cents"], 5'800);  // the store's override
  auto model = service_->get_model("MILK");
  ASSERT_TRUE(model.ok());
  EXPECT_EQ((*model)["rows"].size(), 2u);
  feed("sku,price\nMILK,55.00\n");
  (void)quote();
  auto h = service_->history("MILK", "near", 0, 100);
  ASSERT_TRUE(h.ok());
  ASSERT_FALSE((*h)["items"].empty());
  const json& last = (*h)["items"].back();
  EXPECT_EQ(last["kind"], "price");
  EXPECT_EQ(last["rule"], "competitor");
  EXPECT_EQ(last["old_cents"], 5'800);
  EXPECT_EQ(last["new_cents"], 5'400);
  EXPECT_EQ(last["inputs"]["base_cents"], 5'800);
}

TEST_F(PricingServiceTest, NearExpiryUnitsOfALineAreMarkedDownAndOnlyThose) {
  constexpr std::int64_t kHour = 3'600'000;
  // MILK's floor is 4,400 (cost 4,000 + 10%). Lot L1 (1 unit) is on its last day, L2
  // (5 units) two days out; BREAD has no floor, so its lot is never marked down.
  ASSERT_TRUE(store_
                  ->put_store_lots({.store_id = "near",
                                    .lots = {{"BREAD", "B1", now() + 10 * kHour, 3},
                                             {"MILK", "L1", now() + 20 * kHour, 1},
                                             {"MILK", "L2", now() + 40 * kHour, 5}},
                                    .at_ms = now()})
                  .is_ok());
  const json q = quote(cart(3, 1));
  const json& milk = q["lines"][0];
  EXPECT_EQ(milk["unit_price_cents"], 6'000);
  EXPECT_EQ(milk["amount_cents"], 18'000);
  ASSERT_EQ(milk["markdowns"].size(), 2u) << q.dump();
  EXPECT_EQ(milk["markdowns"][0]["lot"], "L1");
  EXPECT_EQ(milk["markdowns"][0]["qty"], 1);
  EXPECT_EQ(milk["markdowns"][0]["unit_price_cents"], 4'400);  // 40% off, held at the floor
  EXPECT_EQ(milk["markdowns"][1]["lot"], "L2");
  EXPECT_EQ(milk["markdowns"][1]["qty"], 2);
  EXPECT_EQ(milk["markdowns"][1]["unit_price_cents"], 4'800);  // 20% off
  EXPECT_FALSE(q["lines"][1].contains("markdowns"));
  // The fee list shows the delivery fee first, then what the lots took off.
  ASSERT_EQ(q["fees"].size(), 2u) << q.dump();
  EXPECT_EQ(q["fees"][0]["kind"], "delivery");
  EXPECT_EQ(q["fees"][1]["kind"], "markdown");
  EXPECT_EQ(q["fees"][1]["sku"], "MILK");
  EXPECT_EQ(q["fees"][1]["amount_cents"], -(1'600 + 2 * 1'200));
  EXPECT_EQ(q["total_cents"], 18'000 + 4'000 + 2'500 - 4'000);
  // The order pays exactly that; the change is on the record.
  json body = cart(3, 1);
  body["quote_id"] = q["quote_id"];
  orders::Reply r = order(body, "k1");
  ASSERT_EQ(r.status, 201) << r.body.dump();
  EXPECT_EQ(r.body["total_cents"], q["total_cents"]);
  auto h = service_->history("MILK", "near", 0, 100);
  ASSERT_TRUE(h.ok());
  int markdowns = 0;
  for (const json& item : (*h)["items"]) markdowns += item["kind"] == "markdown" ? 1 : 0;
  EXPECT_EQ(markdowns, 1);  // the deepest, 4,400, with both lots as its inputs

  // With dynamic pricing off, no markdown.
  ASSERT_TRUE(service_->put_config({{"enabled", false}}).ok());
  EXPECT_EQ(quote(cart(3, 1))["fees"].size(), 1u);
  ASSERT_TRUE(service_->put_config({{"enabled", true}}).ok());
  EXPECT_EQ(quote(cart(3, 1))["fees"].size(), 2u);
  // A list the store stopped refreshing is not trusted: those units may be sold.
  clock_.advance(11min);
  const json stale = quote(cart(3, 1));
  EXPECT_EQ(stale["fees"].size(), 1u) << stale.dump();
  EXPECT_FALSE(stale["lines"][0].contains("markdowns"));
}

TEST_F(PricingServiceTest, StockCoverDiscountsTheOverstockedAndHoldsTheScarce) {
  ASSERT_TRUE(service_->put_config({{"max_change_per_hour_bp", 10'000}}).ok());
  ASSERT_TRUE(store_
                  ->upsert_catalog_item({.sku = "RICE",
                                         .name = "RICE",
                                         .category = "x",
                                         .price_cents = 10'000,
                                         .unit = "each",
                                         .barcodes = {},
                                         .active = true,
                                         .version = 0})
                  .ok());
  ASSERT_TRUE(store_
                  ->apply_batch("near",
                                {{3, "stock.changed",
                                  json{{"sku", "RICE"}, {"sku_on_hand", 3}, {"sku_reserved", 0}}}},
                                now())
                  .ok());
  ASSERT_TRUE(service_
                  ->put_model("RICE", "",
                              {{"base_cents", 10'000},
                               {"mrp_cents", 11'000},
                               {"cost_cents", 5'000},
                               {"min_margin_bp", 1'000}})
                  .ok());
  feed("sku,price\nRICE,90.00\n");  // would undercut RICE to 89.00
  const json rice_cart = {{"lines", {{{"sku", "MILK"}, {"qty", 1}}, {{"sku", "RICE"}, {"qty", 1}}}},
                          {"delivery", {{"lat", kLat}, {"lon", kLon}}}};
  EXPECT_EQ(quote(rice_cart)["lines"][1]["rule"], "competitor");
  // MILK: 300 units selling 10 a day (30 days of cover); RICE: 3 units selling 2 a day.
  ASSERT_TRUE(store_
                  ->put_store_cover({.store_id = "near",
                                     .cover = {{"MILK", 300, 10.0}, {"RICE", 3, 2.0}},
                                     .at_ms = now()})
                  .is_ok());
  json q = quote(rice_cart);
  const json& milk = q["lines"][0];
  EXPECT_EQ(milk["rule"], "overstock") << q.dump();
  EXPECT_EQ(milk["unit_price_cents"], 5'400);  // 10% off the base
  EXPECT_EQ(milk["reason"], "cover 30.0 days, overstocked: 1000 bp off");
  const json& rice = q["lines"][1];
  EXPECT_EQ(rice["rule"], "scarce") << q.dump();
  EXPECT_EQ(rice["unit_price_cents"], 10'000);
  EXPECT_EQ(rice["reason"], "cover 1.5 days, scarce: no promotion");
  EXPECT_EQ(q["total_cents"], 5'400 + 10'000 + 2'500);
  // The audit shows the cover the price came from.
  auto h = service_->history("MILK", "near", 0, 100);
  ASSERT_TRUE(h.ok());
  ASSERT_FALSE((*h)["items"].empty());
  const json& last = (*h)["items"].back();
  EXPECT_EQ(last["rule"], "overstock");
  EXPECT_EQ(last["inputs"]["cover"]["units"], 300);
  // The rule switched off: the competitor undercut and the base again.
  ASSERT_TRUE(
      service_
          ->put_config({{"max_change_per_hour_bp", 10'000}, {"inventory", {{"enabled", false}}}})
          .ok());
  q = quote(rice_cart);
  EXPECT_EQ(q["lines"][0]["rule"], "base");
  EXPECT_EQ(q["lines"][1]["rule"], "competitor");
  ASSERT_TRUE(service_->put_config({{"inventory", {{"enabled", true}}}}).ok());
  EXPECT_EQ(quote(rice_cart)["lines"][0]["rule"], "overstock");
  // A list the store stopped refreshing is not trusted: its stock has moved since.
  clock_.advance(11min);
  q = quote(rice_cart);
  EXPECT_EQ(q["lines"][0]["rule"], "base") << q.dump();
  EXPECT_EQ(q["lines"][1]["rule"], "competitor");
  EXPECT_EQ(q["lines"][1]["unit_price_cents"], 8'900);
}

TEST_F(PricingServiceTest, ExpiredLotsAndLotsOfUnknownStoresAreNotSold) {
  ASSERT_TRUE(store_
                  ->put_store_lots(
                      {.store_id = "near", .lots = {{"MILK", "OLD", now() - 1, 4}}, .at_ms = now()})
                  .is_ok());
  EXPECT_FALSE(quote()["lines"][0].contains("markdowns"));
  const Status unknown =
      store_->put_store_lots({.store_id = "nowhere", .lots = {}, .at_ms = now()});
  EXPECT_EQ(unknown.code(), StatusCode::kNotFound);
  const Status bad = store_->put_store_lots(
      {.store_id = "near", .lots = {{"MILK", "L1", now(), 0}}, .at_ms = now()});
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.field(), "lots[0].units");
  // The refused list left the last one in place.
  auto kept = store_->store_lots("near");
  ASSERT_TRUE(kept.ok() && kept->has_value());
  EXPECT_EQ((*kept)->lots.at(0).lot, "OLD");
}

}  // namespace
}  // namespace shopeasy::cloud::pricing

namespace shopeasy::cloud::pricing {
namespace {

// What a store is told about its prices: its fee, the prices its quotes served off base
// with their reasons, its marked-down lots and its overrides; and nothing but base
// prices once the kill switch is on. The version moves with the content only.
TEST_F(PricingServiceTest, StoreViewShowsFeePricesMarkdownsAndOverrides) {
  constexpr std::int64_t kHour = 3'600'000;
  ASSERT_TRUE(service_->put_signal("near", {{"open_orders", 30}, {"available_runners", 5}}).ok());
  feed("sku,price,competitor\nMILK,58.00,rival\n");
  ASSERT_TRUE(
      store_
          ->put_store_lots(
              {.store_id = "near", .lots = {{"MILK", "L1", now() + 20 * kHour, 2}}, .at_ms = now()})
          .is_ok());
  ASSERT_TRUE(
      service_->put_model("BREAD", "near", {{"base_cents", 4'200}, {"mrp_cents", 4'500}}).ok());
  quote();  // serves MILK at the competitor price and moves the fee

  auto view = service_->store_pricing("near");
  ASSERT_TRUE(view.ok()) << view.status().to_string();
  const json j = store_pricing_json(*view);
  EXPECT_TRUE(j["enabled"]);
  EXPECT_EQ(j["delivery_fee"]["amount_cents"], 6'900);
  EXPECT_EQ(j["delivery_fee"]["step"], 3);
  ASSERT_EQ(j["prices"].size(), 1u) << j.dump();
  EXPECT_EQ(j["prices"][0]["sku"], "MILK");
  EXPECT_EQ(j["prices"][0]["rule"], "competitor");
  EXPECT_LT(j["prices"][0]["price_cents"].get<std::int64_t>(), 6'000);
  EXPECT_FALSE(j["prices"][0]["reason"].get<std::string>().empty());
  ASSERT_EQ(j["markdowns"].size(), 1u) << j.dump();
  EXPECT_EQ(j["markdowns"][0]["lot"], "L1");
  EXPECT_EQ(j["markdowns"][0]["price_cents"], 4'400);
  ASSERT_EQ(j["overrides"].size(), 1u);
  EXPECT_EQ(j["overrides"][0]["sku"], "BREAD");
  EXPECT_EQ(j["overrides"][0]["base_cents"], 4'200);
  EXPECT_EQ(j["rules"]["enabled"], true);
  const std::string version = j["version"];
  EXPECT_EQ(version.size(), 16u);

  // Asked again a second later, nothing changed: the same version.
  clock_.advance(1s);
  auto again = service_->store_pricing("near");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(store_pricing_version(*again), version);

  // The kill switch: base fee, no prices off base, no markdowns; a new version, and the
  // generation moved so a waiting store wakes at once.
  const std::uint64_t generation = service_->generation();
  auto key = service_->store_pricing_key("near");
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(service_->put_config({{"enabled", false}}).ok());
  EXPECT_GT(service_->generation(), generation);
  auto off_key = service_->store_pricing_key("near");
  ASSERT_TRUE(off_key.ok());
  EXPECT_NE(*off_key, *key);
  auto off = service_->store_pricing("near");
  ASSERT_TRUE(off.ok());
  const json k = store_pricing_json(*off);
  EXPECT_FALSE(k["enabled"]);
  EXPECT_EQ(k["delivery_fee"]["amount_cents"], 2'500);
  EXPECT_TRUE(k["prices"].empty());
  EXPECT_TRUE(k["markdowns"].empty());
  EXPECT_EQ(k["overrides"].size(), 1u);  // the override is the store's base: still shown
  EXPECT_NE(k["version"], version);

  EXPECT_EQ(service_->store_pricing("no such store!").status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(PricingServiceTest, WaitForChangeReturnsWhenAWriteLands) {
  const std::uint64_t seen = service_->generation();
  // Nothing changes: it returns after its timeout, generation unmoved.
  service_->wait_for_change(seen, 1ms);
  EXPECT_EQ(service_->generation(), seen);
  std::thread writer([this] { ASSERT_TRUE(service_->put_config({{"enabled", false}}).ok()); });
  service_->wait_for_change(seen, 30s);
  writer.join();
  EXPECT_GT(service_->generation(), seen);
}

}  // namespace
}  // namespace shopeasy::cloud::pricing
