#include "cloud/pricing/store_view.hpp"

#include "common/wire/sync.hpp"

namespace shopeasy::cloud::pricing {
namespace {

// Everything but the time of making, so the version only moves when the content does.
nlohmann::json content_of(const StorePricing& v) {
  nlohmann::json prices = nlohmann::json::array();
  for (const ServedPrice& p : v.prices) {
    prices.push_back({{"sku", p.sku},
                      {"price_cents", p.price_cents},
                      {"base_cents", p.base_cents},
                      {"rule", p.rule},
                      {"reason", p.reason},
                      {"since_ms", p.since_ms}});
  }
  nlohmann::json markdowns = nlohmann::json::array();
  for (const LotMarkdown& m : v.markdowns) {
    markdowns.push_back({{"sku", m.sku},
                         {"lot", m.lot},
                         {"expires_ms", m.expires_ms},
                         {"units", m.units},
                         {"price_cents", m.price_cents},
                         {"base_cents", m.base_cents},
                         {"off_bp", m.off_bp},
                         {"reason", m.reason}});
  }
  nlohmann::json overrides = nlohmann::json::array();
  for (const PriceModel& m : v.overrides) {
    overrides.push_back(model_to_json(m));
  }
  return {{"store_id", v.store_id},
          {"enabled", v.rules.enabled},
          {"delivery_fee",
           {{"amount_cents", v.delivery_fee.fee_cents},
            {"base_cents", v.rules.surge.base_fee_cents},
            {"step", v.delivery_fee.step},
            {"stale_signal", v.delivery_fee.stale_signal},
            {"reason", v.delivery_fee.reason}}},
          {"rules", config_to_json(v.rules)},
          {"prices", std::move(prices)},
          {"markdowns", std::move(markdowns)},
          {"overrides", std::move(overrides)},
          {"truncated", v.truncated}};
}

}  // namespace

std::string store_pricing_version(const StorePricing& view) {
  nlohmann::json j = content_of(view);
  // The fee's reason quotes the live load ("7 open orders, 3 runners") and a stale
  // signal's age, which move with every sync batch; the version moves with the fee
  // itself (amount, step, staleness), so a busy store is not sent a new view every few
  // seconds only for its wording.
  j["delivery_fee"].erase("reason");
  return wire::downstream_item_hash("store_pricing", j);
}

nlohmann::json store_pricing_json(const StorePricing& view) {
  nlohmann::json j = content_of(view);
  j["version"] = store_pricing_version(view);
  j["generated_at_ms"] = view.generated_at_ms;
  return j;
}

}  // namespace shopeasy::cloud::pricing
