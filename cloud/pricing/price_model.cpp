#include "cloud/pricing/price_model.hpp"

#include "common/wire/json_fields.hpp"

namespace shopeasy::cloud::pricing {

bool is_valid_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::int64_t> floor_cents(const PriceModel& m) {
  if (!m.cost_cents || *m.cost_cents <= 0) return std::nullopt;
  // Rounded up: a floor a fraction of a cent low would let a rule sell under the margin.
  const std::int64_t scaled = *m.cost_cents * (10'000 + m.min_margin_bp);
  return (scaled + 9'999) / 10'000;
}

Status validate(const PriceModel& m) {
  if (!is_valid_id(m.sku)) return invalid_argument("must be 1 to 64 of [A-Za-z0-9_.-]", "sku");
  if (!m.store_id.empty() && !is_valid_id(m.store_id)) {
    return invalid_argument("must be 1 to 64 of [A-Za-z0-9_.-]", "store_id");
  }
  if (m.mrp_cents <= 0 || m.mrp_cents > kMaxPriceCents) {
    return invalid_argument("must be 1 to " + std::to_string(kMaxPriceCents), "mrp_cents");
  }
  if (m.base_cents <= 0 || m.base_cents > m.mrp_cents) {
    return invalid_argument(
        "must be above 0 and at most the MRP (" + std::to_string(m.mrp_cents) + ")", "base_cents");
  }
  if (m.cost_cents && (*m.cost_cents <= 0 || *m.cost_cents > kMaxPriceCents)) {
    return invalid_argument("must be above 0 (leave it out for a SKU no rule may reprice)",
                            "cost_cents");
  }
  if (m.min_margin_bp < 0 || m.min_margin_bp > 10'000) {
    return invalid_argument("must be 0 to 10000 basis points", "min_margin_bp");
  }
  if (const auto f = floor_cents(m); f && *f > m.mrp_cents) {
    return invalid_argument("cost plus minimum margin (" + std::to_string(*f) +
                                ") is above the MRP (" + std::to_string(m.mrp_cents) + ")",
                            "cost_cents");
  }
  return Status::ok();
}

StatusOr<PriceModel> model_from_json(const nlohmann::json& j, const std::string& sku,
                                     const std::string& store_id) {
  if (!j.is_object()) return invalid_argument("the body must be an object");
  // A present but null cost is a blank floor: refused, never read as "no cost".
  if (j.contains("cost_cents") && j["cost_cents"].is_null()) {
    return invalid_argument("is blank; leave the field out for a SKU no rule may reprice",
                            "cost_cents");
  }
  PriceModel m;
  m.sku = sku;
  m.store_id = store_id;
  wire::FieldReader r(j, "");
  r.required_int("base_cents", &m.base_cents, 1, kMaxPriceCents);
  r.required_int("mrp_cents", &m.mrp_cents, 1, kMaxPriceCents);
  std::optional<std::int64_t> cost;
  r.optional_int("cost_cents", &cost, 1, kMaxPriceCents);
  r.optional_int("min_margin_bp", &m.min_margin_bp, 0, 10'000);
  if (!r.ok()) return r.status();
  m.cost_cents = cost;
  SHOPEASY_RETURN_IF_ERROR(validate(m));
  return m;
}

nlohmann::json model_to_json(const PriceModel& m) {
  nlohmann::json j = {
      {"sku", m.sku},
      {"store_id", m.store_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.store_id)},
      {"base_cents", m.base_cents},
      {"mrp_cents", m.mrp_cents},
      {"min_margin_bp", m.min_margin_bp}};
  j["cost_cents"] = m.cost_cents ? nlohmann::json(*m.cost_cents) : nlohmann::json(nullptr);
  const auto f = floor_cents(m);
  j["floor_cents"] = f ? nlohmann::json(*f) : nlohmann::json(nullptr);
  return j;
}

std::optional<PriceModel> resolve(const std::vector<PriceModel>& rows,
                                  const std::string& store_id) {
  std::optional<PriceModel> fallback;
  for (const PriceModel& m : rows) {
    if (!store_id.empty() && m.store_id == store_id) return m;
    if (m.store_id.empty()) fallback = m;
  }
  return fallback;
}

}  // namespace shopeasy::cloud::pricing
