// OrderBook: the store's side of a customer order, from the moment the cloud routes it
// here until a runner hands it over. The store is the truth about its stock, so it
// accepts an order only if it can reserve every line (FEFO) and refuses it otherwise;
// pickers then work from a pick list in bin walk order, each scan checked against the
// order on the spot; short picks are resolved by a substitute of the same category at
// no higher price, or by dropping the line; packing closes the pick and hands the order
// to dispatch, whose runner events move it on to delivered or failed.
//
// Every change goes through EdgeStore (one writer, group commit) and changes the order,
// its stock and its "order.status" outbox event (see the cloud/edge orders contract) in
// one transaction, so the cloud hears each status exactly once and in order. Status
// changes follow wire::is_legal_transition; anything else is kFailedPrecondition.
//
// Errors, by what the caller should do: kNotFound (unknown order), kInvalidArgument
// (fix the request; field names the part), kFailedPrecondition (not allowed in the
// order's state, or the stock is not there: the message says what was expected),
// kUnavailable (retry). Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock/clock.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/status/status.hpp"
#include "common/sync/mutex.hpp"
#include "edge/inventory/inventory.hpp"
#include "edge/store/edge_store.hpp"

namespace shopeasy::edge::orders {

// A packed order waiting for a runner, as dispatch sees it.
struct PackedOrder {
  std::string order_id;
  double lat;
  double lon;
  std::int64_t promised_at_ms;
  std::int64_t packed_at_ms;
  int units;
};

struct OrderBookOptions {
  std::string store_id;
  // Accept a routed order at once when every line can be reserved (else staff decide).
  bool auto_accept = true;
  // Live position events per order are sent at most this often.
  std::chrono::milliseconds position_interval{3000};
  // A picker's claim on an order lapses after this long without a claim or a pick scan
  // by that picker, so an order left by someone who walked away is not stuck.
  std::chrono::milliseconds claim_timeout{std::chrono::minutes(5)};
};

// Who holds an order another picker asked to claim (the claim was refused).
struct ClaimHolder {
  std::string picker;
  std::int64_t picker_seen_at_ms = 0;
  std::int64_t stale_at_ms = 0;  // when the claim lapses unless the picker is seen again
};

// How a pick, short pick or pack treats another picker's claim on the order. A fresh
// claim held by someone else refuses the change (kFailedPrecondition with field
// "picker", *held_by naming the holder) unless may_override (managers); an unclaimed
// order, or one whose claim went stale, is claimed by the actor on the way.
struct ClaimGuard {
  bool may_override = false;
  std::optional<ClaimHolder>* held_by = nullptr;
};

// Most bags one order is packed into.
inline constexpr std::int64_t kMaxBags = 50;

// The machine-readable reason of a claim refused because another picker holds the order.
inline constexpr const char* kClaimedByOther = "claimed_by_other";

// One scan at the packing table or shelf (POST /api/orders/{id}/pick).
struct PickScan {
  std::string code;                    // what the scanner read
  std::optional<std::string> bin;      // where the picker took it from
  std::int64_t qty = 1;                // scans of this code at once
  std::optional<std::string> scan_id;  // makes a retried scan a no-op
};

// A short pick (POST /api/orders/{id}/short).
struct ShortPick {
  std::string sku;
  bool substitute = false;  // false: cancel the line's missing units
  std::optional<std::string> substitute_sku;
};

class OrderBook {
 public:
  OrderBook(store::EdgeStore& store, inventory::Inventory& inventory, OrderBookOptions options,
            const Clock& clock, log::Logger logger, metrics::Registry& metrics);
  ~OrderBook();
  OrderBook(const OrderBook&) = delete;
  OrderBook& operator=(const OrderBook&) = delete;

  // True for the downstream kinds apply_downstream handles ("order", "order.cancel",
  // "customer.forget").
  static bool handles(const std::string& kind);
  // Applies a downstream item inside the sync client's write (so the order and the sync
  // cursor commit together). "order": stored as routed (a repeat is a no-op), then with
  // auto_accept reserved and accepted, or refused as cancelled with reason
  // "refused: out_of_stock <sku>". "order.cancel": reservation released, picked units
  // put back, cancelled. "customer.forget" {customer_id, tombstone}: the customer
  // deleted their account, so their orders here take the tombstone id and a delivery
  // point rounded to two decimals. kInvalidArgument for a malformed body.
  Status apply_downstream(store::WriteContext& ctx, const std::string& kind,
                          const nlohmann::json& body);

  // Staff decisions on a routed order. accept reserves every line (kFailedPrecondition
  // naming the short SKU, or after the accept deadline); refuse releases what the order
  // holds and cancels it with reason "refused: <reason>".
  StatusOr<nlohmann::json> accept(const std::string& order_id, const inventory::Actor& actor);
  StatusOr<nlohmann::json> refuse(const std::string& order_id, const std::string& reason,
                                  const inventory::Actor& actor);
  // One pick scan: a code that is not in the order, or more units than the order still
  // wants, is kFailedPrecondition naming what is expected. The first good scan moves the
  // order to picking.
  StatusOr<nlohmann::json> pick(const std::string& order_id, const PickScan& scan,
                                const inventory::Actor& actor, ClaimGuard guard = {});
  // Resolves a line the picker cannot fill: a substitute must be of the same category
  // and cost no more than the line's unit price, and be in stock; cancelling the last
  // remaining units of the order cancels it. Otherwise the cloud hears the order's new
  // lines ("order.lines": sku, qty, unit_price_cents, substitute_for).
  StatusOr<nlohmann::json> short_pick(const std::string& order_id, const ShortPick& request,
                                      const inventory::Actor& actor, ClaimGuard guard = {});
  // Closes the pick when every line is picked or resolved: packed. `bags`, when given
  // (1..50, else kInvalidArgument naming "bags"), is stored and shown in the detail.
  StatusOr<nlohmann::json> pack(const std::string& order_id, const inventory::Actor& actor,
                                std::optional<std::int64_t> bags = std::nullopt,
                                ClaimGuard guard = {});

  // One picker works an order at a time. claim() gives an accepted or picking order to
  // the actor when it is unclaimed, already theirs, or its claim is stale (see
  // claim_timeout); with take_over (managers) whatever the claim. Otherwise
  // kFailedPrecondition with field "picker", and *held_by (when given) names who holds
  // it: the HTTP answer carries reason kClaimedByOther. A pick scan by the holder keeps
  // the claim fresh. Returns the order's detail.
  StatusOr<nlohmann::json> claim(const std::string& order_id, const inventory::Actor& actor,
                                 bool take_over, std::optional<ClaimHolder>* held_by = nullptr);
  // Gives the order back (it becomes unclaimed). A no-op when it is not claimed; another
  // picker's fresh claim is refused like claim() unless take_over.
  StatusOr<nlohmann::json> release(const std::string& order_id, const inventory::Actor& actor,
                                   bool take_over = false,
                                   std::optional<ClaimHolder>* held_by = nullptr);

  // Reads.
  StatusOr<nlohmann::json> get(const std::string& order_id);
  // Oldest first; `after` is the last order id of the previous page.
  StatusOr<nlohmann::json> list(const std::optional<std::string>& status,
                                const std::optional<std::string>& after, int limit);
  // What is still to pick, in bin walk order, each entry one bin and lot (FEFO).
  StatusOr<nlohmann::json> picklist(const std::string& order_id);

  // Dispatch. Packed orders with no runner yet, oldest packed first.
  StatusOr<std::vector<PackedOrder>> packed_awaiting_dispatch();
  // Records the runner and ETA of a packed order (it stays packed) and tells the cloud
  // (order.status packed with runner_id and eta_ms). kFailedPrecondition if it is not
  // packed or already has another runner.
  Status mark_assigned(const std::string& order_id, const std::string& runner_id,
                       const std::string& assignment_id, std::int64_t eta_ms);
  // picked_up -> out_for_delivery, delivered -> delivered, failed -> failed (reason
  // "runner_failed: <reason>"); other types are ignored. An event from a runner the
  // order is not assigned to is refused (kFailedPrecondition), counted and logged.
  Status on_runner_event(const std::string& runner_id, const std::string& type,
                         const std::string& order_id, std::int64_t at_ms, const std::string& reason)
      EXCLUDES(position_mutex_);
  // Emits "order.position" for an order out for delivery with this runner, at most once
  // per position_interval per order (extra positions are dropped, not an error).
  Status on_position(const std::string& order_id, const std::string& runner_id, double lat,
                     double lon, std::int64_t eta_ms, std::int64_t at_ms) EXCLUDES(position_mutex_);
  // The runner went offline before pickup (or its route could not be sent): the order
  // waits for dispatch again, and the cloud hears order.status packed with reason
  // "unassigned" and no runner_id.
  void unassign(const std::string& order_id);

 private:
  Status receive(store::WriteContext& ctx, const nlohmann::json& body);
  Status cancel_from_cloud(store::WriteContext& ctx, const nlohmann::json& body);
  Status forget_customer(store::WriteContext& ctx, const nlohmann::json& body);
  // The ClaimGuard check inside a pick, short pick or pack: refuses the change when
  // another picker's claim is fresh (and the guard may not override), else makes the
  // actor the holder (claiming an unclaimed or stale order, renewing their own).
  // `outcome` gets kClaimedByOther when refused.
  Status hold_claim(store::WriteContext& ctx, const std::string& order_id,
                    const std::optional<std::string>& picker,
                    std::optional<std::int64_t> picker_seen_at_ms, const inventory::Actor& actor,
                    const ClaimGuard& guard);
  // Shared by claim() and release(): sets or clears orders.picker for the actor.
  StatusOr<nlohmann::json> set_picker(const std::string& order_id, const inventory::Actor& actor,
                                      bool take_over, bool claiming,
                                      std::optional<ClaimHolder>* held_by);

  store::EdgeStore& store_;
  inventory::Inventory& inventory_;
  OrderBookOptions options_;
  const Clock& clock_;
  log::Logger logger_;

  // Guards last_position_: positions arrive on the MQTT thread while runner events may
  // clear an order's slot from another.
  shopeasy::sync::Mutex position_mutex_;
  std::map<std::string, MonoTime> last_position_ GUARDED_BY(position_mutex_);  // per order

  metrics::CounterFamily& transitions_;
  metrics::CounterFamily& pick_scans_;
  metrics::CounterFamily& claims_;
  metrics::Counter& runner_events_refused_;
  metrics::Counter& positions_dropped_;
  std::vector<metrics::CallbackGauge> by_status_;  // last: unregistered first
};

}  // namespace shopeasy::edge::orders
