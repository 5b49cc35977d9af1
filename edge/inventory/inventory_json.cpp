#include "edge/inventory/inventory_json.hpp"

namespace shopeasy::edge::inventory {

namespace {

using nlohmann::json;

void put_if(json& j, const char* key, const std::optional<std::string>& value) {
  if (value) j[key] = *value;
}

std::optional<std::string> optional_string(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return it->get<std::string>();
}

StockMovement movement_from_json(const json& j) {
  StockMovement m;
  m.store_id = j.at("store_id").get<std::string>();
  m.sku = j.at("sku").get<std::string>();
  m.bin = j.at("bin").get<std::string>();
  m.lot = optional_string(j, "lot");
  m.expiry = optional_string(j, "expiry");
  m.delta = j.at("delta").get<std::int64_t>();
  m.reserved_delta = j.at("reserved_delta").get<std::int64_t>();
  m.reason = j.at("reason").get<std::string>();
  m.actor = j.at("actor").get<std::string>();
  m.source = j.at("source").get<std::string>();
  m.ref = optional_string(j, "ref");
  m.note = optional_string(j, "note");
  m.ts_ms = j.at("ts_ms").get<std::int64_t>();
  m.on_hand_after = j.at("on_hand_after").get<std::int64_t>();
  m.reserved_after = j.at("reserved_after").get<std::int64_t>();
  m.sku_on_hand = j.at("sku_on_hand").get<std::int64_t>();
  m.sku_reserved = j.at("sku_reserved").get<std::int64_t>();
  m.version = j.at("version").get<std::int64_t>();
  m.ledger_id = j.at("ledger_id").get<std::int64_t>();
  if (auto it = j.find("seq"); it != j.end() && !it->is_null()) m.seq = it->get<std::int64_t>();
  return m;
}

}  // namespace

json movement_json(const StockMovement& m) {
  json j = {{"store_id", m.store_id},
            {"sku", m.sku},
            {"bin", m.bin},
            {"delta", m.delta},
            {"reserved_delta", m.reserved_delta},
            {"reason", m.reason},
            {"actor", m.actor},
            {"source", m.source},
            {"ts_ms", m.ts_ms},
            {"on_hand_after", m.on_hand_after},
            {"reserved_after", m.reserved_after},
            {"sku_on_hand", m.sku_on_hand},
            {"sku_reserved", m.sku_reserved},
            {"sku_available", m.sku_on_hand - m.sku_reserved},
            {"version", m.version},
            {"ledger_id", m.ledger_id}};
  put_if(j, "lot", m.lot);
  put_if(j, "expiry", m.expiry);
  put_if(j, "ref", m.ref);
  put_if(j, "note", m.note);
  if (m.seq) j["seq"] = *m.seq;
  return j;
}

json stock_level_json(const StockLevel& level) {
  json j = {{"sku", level.sku},
            {"name", level.name},
            {"category", level.category},
            {"price_cents", level.price_cents},
            {"unit", level.unit},
            {"reorder_point", level.reorder_point},
            {"on_hand", level.on_hand},
            {"reserved", level.reserved},
            {"available", level.available()},
            {"version", level.version},
            {"low", level.low()}};
  put_if(j, "home_bin", level.home_bin);
  return j;
}

json stock_item_json(const StockItem& item) {
  json j = stock_level_json(item.level);
  j["barcodes"] = item.barcodes;
  json stock = json::array();
  for (const auto& part : item.stock) {
    json p = {{"bin", part.bin}, {"on_hand", part.on_hand}, {"reserved", part.reserved}};
    put_if(p, "lot", part.lot);
    put_if(p, "expiry", part.expiry);
    stock.push_back(std::move(p));
  }
  j["stock"] = std::move(stock);
  // The SKU is the item's own and notes stay in the ledger view: neither is repeated.
  json recent = json::array();
  for (const auto& e : item.recent_movements) {
    json m = {{"id", e.id},
              {"ts_ms", e.ts_ms},
              {"bin", e.bin},
              {"delta", e.delta},
              {"reserved_delta", e.reserved_delta},
              {"reason", e.reason},
              {"actor", e.actor},
              {"source", e.source},
              {"on_hand_after", e.on_hand_after}};
    put_if(m, "lot", e.lot);
    put_if(m, "ref", e.ref);
    recent.push_back(std::move(m));
  }
  j["recent_movements"] = std::move(recent);
  return j;
}

json stock_page_json(const StockPage& page) {
  json items = json::array();
  for (const auto& level : page.items) items.push_back(stock_level_json(level));
  return {{"items", std::move(items)},
          {"next_cursor", page.next_cursor ? json(*page.next_cursor) : json(nullptr)}};
}

json ledger_entry_json(const LedgerEntry& e) {
  json m = {{"id", e.id},         {"ts_ms", e.ts_ms},
            {"sku", e.sku},       {"bin", e.bin},
            {"delta", e.delta},   {"reserved_delta", e.reserved_delta},
            {"reason", e.reason}, {"actor", e.actor},
            {"source", e.source}, {"on_hand_after", e.on_hand_after}};
  put_if(m, "lot", e.lot);
  put_if(m, "ref", e.ref);
  put_if(m, "note", e.note);
  return m;
}

json ledger_page_json(const LedgerPage& page) {
  json items = json::array();
  for (const auto& e : page.items) items.push_back(ledger_entry_json(e));
  return {{"items", std::move(items)},
          {"next_cursor", page.next_cursor ? json(*page.next_cursor) : json(nullptr)}};
}

json stock_edited_json(const StockEdited& edited) {
  json movements = json::array();
  for (const auto& m : edited.movements) movements.push_back(movement_json(m));
  return {{"sku", edited.sku}, {"version", edited.version}, {"movements", std::move(movements)}};
}

json scan_result_json(const ScanResult& r) {
  if (r.looked_up) return stock_item_json(*r.looked_up);
  json movements = json::array();
  for (const auto& m : r.movements) movements.push_back(movement_json(m));
  json j = {{"scan_id", r.scan_id}, {"action", r.action}, {"sku", r.sku},
            {"name", r.name},       {"qty", r.qty},       {"movements", std::move(movements)}};
  if (r.duplicate) j["duplicate"] = true;
  return j;
}

StatusOr<ScanResult> scan_result_from_json(const json& j) {
  try {
    ScanResult r;
    r.scan_id = j.at("scan_id").get<std::string>();
    r.action = j.at("action").get<std::string>();
    r.sku = j.at("sku").get<std::string>();
    r.name = j.at("name").get<std::string>();
    r.qty = j.at("qty").get<std::int64_t>();
    for (const auto& m : j.at("movements")) r.movements.push_back(movement_from_json(m));
    if (auto it = j.find("duplicate"); it != j.end()) r.duplicate = it->get<bool>();
    return r;
  } catch (const json::exception& e) {
    return internal_error(std::string("unreadable scan result: ") + e.what());
  }
}

}  // namespace shopeasy::edge::inventory
