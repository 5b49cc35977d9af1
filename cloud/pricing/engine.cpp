#include "cloud/pricing/engine.hpp"

#include <algorithm>
#include <map>

#include "common/wire/json_fields.hpp"

namespace shopeasy::cloud::pricing {
namespace {

std::int64_t clamp_to(std::int64_t v, std::int64_t floor, std::int64_t mrp) {
  return std::clamp(v, std::min(floor, mrp), mrp);
}

}  // namespace

StatusOr<PricingConfig> config_from_json(const nlohmann::json& j) {
  PricingConfig c;
  wire::FieldReader r(j, "");
  std::optional<bool> enabled;
  r.optional_bool("enabled", &enabled);
  r.optional_int("max_change_per_hour_bp", &c.max_change_per_hour_bp, 0, 10'000);
  r.optional_int("approval_threshold_bp", &c.approval_threshold_bp, 0, 10'000);
  r.optional_int("quote_ttl_ms", &c.quote_ttl_ms, 1'000, 86'400'000);
  r.optional_object("surge", [&](wire::FieldReader& s) {
    s.optional_int("base_fee_cents", &c.surge.base_fee_cents, 0, kMaxPriceCents);
    s.optional_int("hysteresis_bp", &c.surge.hysteresis_bp, 0, 9'000);
    s.optional_int("max_signal_age_ms", &c.surge.max_signal_age_ms, 1'000, 600'000);
    if (s.has("steps")) {
      c.surge.steps.clear();
      s.required_array("steps", 0, 10, [&](wire::FieldReader& item, std::size_t) {
        SurgeStep& st = c.surge.steps.emplace_back();
        item.required_double("orders_per_runner", &st.orders_per_runner, 0, 1000);
        item.optional_int("pick_queue", &st.pick_queue, 0, 100'000);
        item.required_int("fee_cents", &st.fee_cents, 0, kMaxPriceCents);
      });
    }
  });
  r.optional_object("markdown", [&](wire::FieldReader& m) {
    std::optional<bool> on;
    m.optional_bool("enabled", &on);
    if (on) c.markdown.enabled = *on;
    if (m.has("tiers")) {
      c.markdown.tiers.clear();
      m.required_array("tiers", 0, 10, [&](wire::FieldReader& item, std::size_t) {
        MarkdownTier& t = c.markdown.tiers.emplace_back();
        item.required_int("within_ms", &t.within_ms, 1, 30LL * 86'400'000);
        item.required_int("off_bp", &t.off_bp, 0, 9'000);
      });
    }
  });
  r.optional_object("competitor", [&](wire::FieldReader& m) {
    std::optional<bool> on;
    m.optional_bool("enabled", &on);
    if (on) c.competitor.enabled = *on;
    m.optional_int("beat_by_cents", &c.competitor.beat_by_cents, 0, kMaxPriceCents);
    m.optional_int("band_bp", &c.competitor.band_bp, 0, 10'000);
    m.optional_int("max_age_ms", &c.competitor.max_age_ms, 60'000, 30LL * 86'400'000);
  });
  r.optional_object("inventory", [&](wire::FieldReader& m) {
    std::optional<bool> on;
    m.optional_bool("enabled", &on);
    if (on) c.inventory.enabled = *on;
    // Days are bounded by a year: beyond it a threshold means nothing for a dark store.
    std::optional<double> overstock_days;
    std::optional<double> scarce_days;
    if (m.optional_double("overstock_days", &overstock_days, 0, 365, wire::Upper::kInclusive) &&
        overstock_days) {
      if (*overstock_days <= 0) {
        m.fail("overstock_days", "must be a number > 0 and <= 365");
      } else {
        c.inventory.overstock_days = *overstock_days;
      }
    }
    m.optional_int("overstock_off_bp", &c.inventory.overstock_off_bp, 0, 9'000);
    if (m.optional_double("scarce_days", &scarce_days, 0, 365, wire::Upper::kInclusive) &&
        scarce_days) {
      if (*scarce_days <= 0) {
        m.fail("scarce_days", "must be a number > 0 and <= 365");
      } else {
        c.inventory.scarce_days = *scarce_days;
      }
    }
    if (m.ok() && c.inventory.scarce_days >= c.inventory.overstock_days) {
      m.fail("scarce_days", "must be less than overstock_days");
    }
  });
  if (!r.ok()) return r.status();
  if (enabled) c.enabled = *enabled;
  for (std::size_t k = 1; k < c.surge.steps.size(); ++k) {
    if (c.surge.steps[k].orders_per_runner < c.surge.steps[k - 1].orders_per_runner) {
      return invalid_argument("steps must be in rising order of load",
                              "surge.steps[" + std::to_string(k) + "].orders_per_runner");
    }
  }
  return c;
}

nlohmann::json config_to_json(const PricingConfig& c) {
  nlohmann::json steps = nlohmann::json::array();
  for (const SurgeStep& s : c.surge.steps) {
    steps.push_back({{"orders_per_runner", s.orders_per_runner},
                     {"pick_queue", s.pick_queue},
                     {"fee_cents", s.fee_cents}});
  }
  nlohmann::json tiers = nlohmann::json::array();
  for (const MarkdownTier& t : c.markdown.tiers) {
    tiers.push_back({{"within_ms", t.within_ms}, {"off_bp", t.off_bp}});
  }
  return {{"enabled", c.enabled},
          {"max_change_per_hour_bp", c.max_change_per_hour_bp},
          {"approval_threshold_bp", c.approval_threshold_bp},
          {"quote_ttl_ms", c.quote_ttl_ms},
          {"surge",
           {{"base_fee_cents", c.surge.base_fee_cents},
            {"hysteresis_bp", c.surge.hysteresis_bp},
            {"max_signal_age_ms", c.surge.max_signal_age_ms},
            {"steps", steps}}},
          {"markdown", {{"enabled", c.markdown.enabled}, {"tiers", tiers}}},
          {"competitor",
           {{"enabled", c.competitor.enabled},
            {"beat_by_cents", c.competitor.beat_by_cents},
            {"band_bp", c.competitor.band_bp},
            {"max_age_ms", c.competitor.max_age_ms}}},
          {"inventory",
           {{"enabled", c.inventory.enabled},
            {"overstock_days", c.inventory.overstock_days},
            {"overstock_off_bp", c.inventory.overstock_off_bp},
            {"scarce_days", c.inventory.scarce_days}}}};
}

PriceDecision price_sku(const PricingConfig& config, const PriceModel& model,
                        const SkuInputs& inputs, std::int64_t now_ms) {
  PriceDecision d;
  d.price_cents = d.proposed_cents = model.base_cents;
  if (!config.enabled) {
    d.rule = "kill_switch";
    d.reason = "dynamic pricing is off: base price";
    return d;
  }
  const std::optional<std::int64_t> floor = floor_cents(model);
  if (!floor) {
    d.rule = "no_floor";
    d.reason = "no cost on file: never repriced";
    return d;
  }
  std::int64_t want = model.base_cents;
  d.rule = "base";
  d.reason = "base price";
  const CoverVerdict cover =
      inputs.cover ? classify_cover(config.inventory, *inputs.cover) : CoverVerdict{};
  if (cover.state == CoverState::kScarce) {
    // A SKU about to sell out is not promoted: undercutting a competitor would only
    // empty the shelf sooner. (Its near-expiry lots are still marked down by
    // price_lot: those units expire whether or not the SKU is scarce.)
    d.rule = "scarce";
    d.reason = "cover " + describe_cover_days(cover.days) + ", scarce: no promotion";
  } else if (auto target =
                 competitor_target(config.competitor, model.base_cents, inputs.competitor, now_ms);
             target && *target != model.base_cents) {
    want = *target;
    d.rule = "competitor";
    d.reason = "competitor median, beaten by " + std::to_string(config.competitor.beat_by_cents) +
               " cents";
  }
  if (cover.state == CoverState::kOverstock) {
    const std::int64_t off = model.base_cents * config.inventory.overstock_off_bp / 10'000;
    // Both lower the price; the lower one wins (a competitor tie stays "competitor").
    if (model.base_cents - off < want) {
      want = model.base_cents - off;
      d.rule = "overstock";
      d.reason = "cover " + describe_cover_days(cover.days) +
                 ", overstocked: " + std::to_string(config.inventory.overstock_off_bp) + " bp off";
    }
  }
  want = clamp_to(want, *floor, model.mrp_cents);
  // The cap is measured from the price an hour ago, so a run of small moves cannot add
  // up to more than the cap within any hour.
  const std::int64_t anchor = inputs.hour_ago_cents.value_or(model.base_cents);
  const std::int64_t step = anchor * config.max_change_per_hour_bp / 10'000;
  const std::int64_t capped = std::clamp(want, anchor - step, anchor + step);
  if (capped != want) {
    d.capped = true;
    d.reason += "; limited to " + std::to_string(config.max_change_per_hour_bp) + " bp an hour";
  }
  // The clamp comes last: whatever the anchor was, the price lands in [floor, MRP].
  d.proposed_cents = clamp_to(capped, *floor, model.mrp_cents);
  const std::int64_t drift = std::abs(d.proposed_cents - model.base_cents);
  if (drift * 10'000 > model.base_cents * static_cast<std::int64_t>(config.approval_threshold_bp)) {
    d.pending_approval = true;
    d.price_cents = clamp_to(model.base_cents, *floor, model.mrp_cents);
    d.reason += "; waits for approval";
  } else {
    d.price_cents = d.proposed_cents;
  }
  return d;
}

std::optional<LotPrice> price_lot(const PricingConfig& config, const PriceModel& model,
                                  const Lot& lot, std::int64_t now_ms) {
  if (!config.enabled) return std::nullopt;
  const std::optional<std::int64_t> floor = floor_cents(model);
  if (!floor) return std::nullopt;
  const std::optional<MarkdownTier> tier = markdown_tier(config.markdown, lot, now_ms);
  if (!tier) return std::nullopt;
  LotPrice p;
  p.off_bp = tier->off_bp;
  p.price_cents = clamp_to(model.base_cents - model.base_cents * tier->off_bp / 10'000, *floor,
                           model.mrp_cents);
  p.reason = "lot " + lot.lot_id + " expires within " +
             std::to_string(tier->within_ms / 3'600'000) +
             " h: " + std::to_string(tier->off_bp / 100) + "% off, floored";
  return p;
}

Status check_feed(const std::vector<CompetitorPrice>& rows, const std::vector<PriceModel>& models) {
  std::map<std::string, const PriceModel*> by_sku;
  for (const PriceModel& m : models) {
    if (m.store_id.empty()) by_sku[m.sku] = &m;
  }
  for (const CompetitorPrice& r : rows) {
    auto it = by_sku.find(r.sku);
    if (it == by_sku.end()) continue;
    const PriceModel& m = *it->second;
    if (r.price_cents * 10 < m.base_cents || r.price_cents > m.mrp_cents * 10) {
      return invalid_argument(r.row + ": price " + std::to_string(r.price_cents) +
                                  " cents is absurd for " + r.sku + " (base " +
                                  std::to_string(m.base_cents) + ", MRP " +
                                  std::to_string(m.mrp_cents) + ")",
                              r.row);
    }
  }
  return Status::ok();
}

}  // namespace shopeasy::cloud::pricing
