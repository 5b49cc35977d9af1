// The inventory API's JSON shapes of the typed results (docs/PROTOCOL.md), in one place:
// the staff routes and the MQTT scan replies answer with them, stock.changed events
// carry movement_json, and a scan's result is kept in this shape so that a repeated
// scan_id answers exactly what the first one did.
#pragma once

#include <nlohmann/json.hpp>

#include "common/status/status.hpp"
#include "edge/inventory/inventory.hpp"

namespace shopeasy::edge::inventory {

// A movement as in stock.changed events and scan/edit results; `seq` only when set.
nlohmann::json movement_json(const StockMovement& m);
// {"sku", ..., "on_hand", "reserved", "available", "version", "low", "home_bin"?}
nlohmann::json stock_level_json(const StockLevel& level);
// stock_level_json plus "barcodes", "stock" and "recent_movements".
nlohmann::json stock_item_json(const StockItem& item);
// {"items": [stock_level_json...], "next_cursor": sku or null}
nlohmann::json stock_page_json(const StockPage& page);
// A ledger row as GET /api/ledger lists it.
nlohmann::json ledger_entry_json(const LedgerEntry& entry);
// {"items": [ledger_entry_json...], "next_cursor": id or null}
nlohmann::json ledger_page_json(const LedgerPage& page);
// {"sku", "version", "movements"}: what PATCH /api/inventory/{sku} answers.
nlohmann::json stock_edited_json(const StockEdited& edited);
// {"scan_id", "action", "sku", "name", "qty", "movements", "duplicate"?}; for a lookup,
// the looked-up product's stock_item_json.
nlohmann::json scan_result_json(const ScanResult& result);
// Reads back what scan_result_json wrote for a scan that changed stock. kInternal
// when the stored text is not such a result.
StatusOr<ScanResult> scan_result_from_json(const nlohmann::json& j);

}  // namespace shopeasy::edge::inventory
