// Replenishment on the store box: suppliers, each SKU's supplier, the proposal of what
// to order now (policy.hpp over the SKU's demand forecast and stock position) and
// purchase orders in the ledger, all without the cloud.
//
// A purchase order goes draft -> sent -> partially_received -> received, or cancelled
// (from draft, sent or partially_received: what was received stays). Creating one is
// idempotent by its request_id; a SKU already on another open draft for the supplier is
// refused, so a store never holds two open suggestions for one SKU and supplier. What
// is on open orders (draft, sent or partially received, less what was received) is on
// order in the next proposal. Receiving against a line moves stock (a "receive" ledger
// movement, ref = the PO) and the line's received quantity in one transaction,
// idempotent by receipt_id: a repeat answers the first result and changes nothing.
//
// Errors, by what the caller does next: kInvalidArgument naming the field (a wrong item
// scanned against a line names "code"), kNotFound (unknown supplier, SKU, PO or line),
// kAlreadyExists (a supplier id taken), kFailedPrecondition (the PO's state does not
// allow it: receiving a closed PO, more than is open on a line, cancelling a received
// PO; nothing to order), kUnavailable (retry).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock/clock.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/status/status.hpp"
#include "common/sync/mutex.hpp"
#include "edge/demand/demand_service.hpp"
#include "edge/inventory/inventory.hpp"
#include "edge/replenish/forecast_cache.hpp"
#include "edge/replenish/policy.hpp"
#include "edge/store/edge_store.hpp"

namespace shopeasy::edge::replenish {

struct ReplenishOptions {
  std::string store_id;
  int utc_offset_minutes = 0;  // store-local time = UTC + this (order days, lot expiry)
  int forecast_hours = demand::DemandService::kMaxHours;
  // Keep each SKU's fitted forecast between proposals (forecast_cache.hpp); off, every
  // proposal fits every SKU again (the same proposal, slower).
  bool cache_forecasts = true;
  // About 2.9 KB a SKU with 336 forecast hours: 25,000 SKUs fit in ~73 MB.
  std::size_t forecast_cache_bytes = std::size_t{96} << 20;
};

struct SupplierRecord {
  Supplier supplier;
  std::int64_t updated_at_ms = 0;
  std::vector<SkuSupply> skus;  // by SKU
};

enum class PoStatus { kDraft, kSent, kPartiallyReceived, kReceived, kCancelled };
std::string_view po_status_name(PoStatus s);
StatusOr<PoStatus> parse_po_status(std::string_view text, std::string_view field);

struct PoLine {
  int line_no = 0;
  std::string sku;
  std::int64_t qty = 0;
  std::int64_t received = 0;
  std::optional<nlohmann::json> why;  // the proposal line it came from, if any
};

struct PoEvent {
  std::string status;
  std::int64_t at_ms = 0;
  std::string actor;
  std::optional<std::string> reason;
};

struct PurchaseOrder {
  std::string po_id;
  std::string supplier_id;
  PoStatus status = PoStatus::kDraft;
  std::optional<std::string> request_id;
  std::string created_by;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  std::optional<std::int64_t> expected_at_ms;  // sent + lead time
  std::optional<std::string> note;
  std::vector<PoLine> lines;
  std::vector<PoEvent> history;
  bool duplicate = false;  // create() with a request_id seen before: nothing changed
};

struct PoLineInput {
  std::string sku;
  std::int64_t qty = 0;
};

struct PoCreate {
  std::string request_id;  // idempotency key
  std::string supplier_id;
  // Empty: the current proposal's lines for the supplier with something to order.
  std::vector<PoLineInput> lines;
  std::optional<std::string> note;
};

struct PoReceive {
  std::string receipt_id;           // idempotency key (the scan id)
  std::optional<int> line_no;       // the line; or found by the scanned code's SKU
  std::optional<std::string> code;  // scanned barcode or SKU; must be the line's item
  std::int64_t qty = 0;
  std::optional<std::string> bin;  // default the product's home bin
  std::optional<std::string> lot;
  std::optional<std::string> expiry;  // "YYYY-MM-DD"
};

struct PoReceipt {
  std::string receipt_id;
  std::string po_id;
  int line_no = 0;
  std::string sku;
  std::int64_t qty = 0;
  std::string bin;
  std::int64_t ledger_id = 0;
  std::int64_t sku_on_hand = 0;  // the SKU's on-hand after this receipt
  bool duplicate = false;
  PurchaseOrder order;  // as it stands now
};

struct ProposalQuery {
  std::optional<std::string> supplier_id;
  std::optional<std::string> sku;
  bool only_to_order = false;  // leave out lines with nothing to order
};

struct ProposalReport {
  std::int64_t generated_at_ms = 0;
  std::vector<Proposal> lines;
};

class Replenishment {
 public:
  Replenishment(store::EdgeStore& store, inventory::Inventory& inventory,
                const demand::DemandService& demand, const Clock& clock, ReplenishOptions options,
                log::Logger logger, metrics::Registry& metrics);

  // Suppliers.
  StatusOr<SupplierRecord> create_supplier(const Supplier& s);
  StatusOr<SupplierRecord> update_supplier(const Supplier& s);  // kNotFound if missing
  StatusOr<SupplierRecord> get_supplier(const std::string& id);
  StatusOr<std::vector<SupplierRecord>> list_suppliers();
  // Deactivates (its POs stay; it is no longer proposed).
  StatusOr<SupplierRecord> deactivate_supplier(const std::string& id);
  // Links a SKU to the supplier (replacing its previous link); kNotFound for an unknown
  // SKU or supplier.
  StatusOr<SupplierRecord> link_sku(const SkuSupply& link);
  StatusOr<SupplierRecord> unlink_sku(const std::string& supplier_id, const std::string& sku);

  // What to order now for every linked SKU of active suppliers (or those asked for).
  StatusOr<ProposalReport> proposal(const ProposalQuery& query);

  // The forecast cache's counters (all zero when it is off).
  ForecastCacheStats forecast_cache_stats() const;
  // The SKU's mean demand per day over the next week from the forecast the cache holds
  // for now_ms's hour; nullopt when none is kept (or the cache is off). Never fits one,
  // so it is cheap enough for the sync thread.
  std::optional<double> cached_daily_demand(const std::string& sku, std::int64_t now_ms) const;

  // Purchase orders.
  StatusOr<PurchaseOrder> create_po(const PoCreate& in, const inventory::Actor& actor);
  StatusOr<PurchaseOrder> get_po(const std::string& po_id);
  StatusOr<std::vector<PurchaseOrder>> list_pos(std::optional<PoStatus> status, int limit);
  StatusOr<PurchaseOrder> send_po(const std::string& po_id, const inventory::Actor& actor);
  StatusOr<PurchaseOrder> cancel_po(const std::string& po_id, const std::string& reason,
                                    const inventory::Actor& actor);
  StatusOr<PoReceipt> receive(const std::string& po_id, const PoReceive& in,
                              const inventory::Actor& actor);

 private:
  std::int64_t now_ms() const;
  StatusOr<Proposal> propose_one(const Supplier& supplier, const SkuSupply& link,
                                 std::int64_t now_ms, const DemandForecast& demand);
  StatusOr<DemandForecast> fit(const std::string& sku, std::int64_t now_ms,
                               const demand::StorePool* pool) const;
  // Drops the kept forecasts of SKUs whose ledger changed since the last call (any
  // movement: picks and sales are its demand, the others change when it was out of
  // stock), and all of them when a pick was written into an hour already past (the
  // store's pooled shape changed).
  Status sync_forecast_cache(std::int64_t now_ms) EXCLUDES(ledger_seen_mu_, pool_mu_);
  void forget_forecasts(const SupplierRecord& r);  // its SKUs' kept forecasts

  store::EdgeStore& store_;
  inventory::Inventory& inventory_;
  const demand::DemandService& demand_;
  const Clock& clock_;
  ReplenishOptions options_;
  log::Logger logger_;
  metrics::CounterFamily& po_changes_;
  metrics::CounterFamily& receipts_;
  std::unique_ptr<ForecastCache> forecast_cache_;  // null when cache_forecasts is off
  shopeasy::sync::Mutex ledger_seen_mu_;           // guards ledger_seen_ (one sync at a time)
  // The last ledger id synced into the cache; -1 none yet.
  std::int64_t ledger_seen_ GUARDED_BY(ledger_seen_mu_) = -1;
  // The store's pooled shape for the hour it was read in, kept with the cache: reading
  // it scans every pick in the history window. Held while it is read, so concurrent
  // proposals wait for one read.
  shopeasy::sync::Mutex pool_mu_;  // guards pool_
  std::shared_ptr<const demand::StorePool> pool_ GUARDED_BY(pool_mu_);
  StatusOr<std::shared_ptr<const demand::StorePool>> store_pool(std::int64_t now_ms)
      EXCLUDES(pool_mu_);
};

// JSON for the routes.
nlohmann::json supplier_json(const SupplierRecord& s);
nlohmann::json proposal_json(const Proposal& p);
nlohmann::json proposal_report_json(const ProposalReport& r);
nlohmann::json purchase_order_json(const PurchaseOrder& po);
nlohmann::json po_receipt_json(const PoReceipt& r);

}  // namespace shopeasy::edge::replenish
