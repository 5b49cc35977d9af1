// OrderService: the customer's order from placement to a terminal status. Placement
// validates the request against the cloud's catalog (prices never come from the
// client), ranks the stores that serve the delivery point, and has storage hold every
// line at the best store that can supply them all; a payment intent follows. Payment
// webhooks confirm and route the order (or cancel it); store events arrive through sync
// (CloudStore::apply_batch); tick() enforces the payment and accept deadlines and pays
// back refunds that are owed. All state lives in CloudStore, so several cloud
// instances may serve the same orders. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloud/payments/payment_types.hpp"
#include "cloud/routing/router.hpp"
#include "cloud/routing/store_index.hpp"
#include "cloud/storage/cloud_store.hpp"
#include "common/clock/clock.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"

namespace shopeasy::cloud::orders {

struct OrderOptions {
  std::int64_t payment_timeout_ms = 900'000;
  std::int64_t accept_timeout_ms = 60'000;
  std::int64_t online_window_ms = 30'000;
  std::string currency = "EUR";
  // The promise to the customer is the best store's estimated delivery time plus this
  // margin (payment, acceptance, a late runner).
  std::int64_t promise_margin_ms = 120'000;
  // Refuse orders while no payment provider is set, rather than sending them to a store
  // unpaid. The daemon sets it; unit tests of routing and holds leave it off.
  bool require_payment = false;
  // Units (sum of line quantities) one order may ask for.
  std::int64_t max_units_per_order = 200;
  // Orders one customer may have waiting for payment at once (0: no limit).
  std::int64_t max_unpaid_per_customer = 0;
  // How long an Idempotency-Key is remembered: a retry within it gets the first answer;
  // afterwards tick() forgets the key, so the records do not grow without bound.
  std::int64_t idempotency_window_ms = 86'400'000;
};

// Candidate stores for a delivery point, best first. The default ranks by estimated
// delivery time (routing::rank); tests and benchmarks may swap it.
using CandidateRanker = std::function<std::vector<routing::RankedStore>(
    const routing::StoreIndex& index, geohash::LatLon point, std::int64_t now_ms,
    std::int64_t units, std::int64_t online_window_ms)>;
CandidateRanker rank_by_eta();

// A new order id: "ord_" and 32 lower-case hex digits of 128 bits from the operating
// system's CSPRNG, so knowing one order id tells nothing about any other.
// kUnavailable if the generator fails.
StatusOr<std::string> new_order_id();

// What an order body asks for: its "lines" (1..wire::kMaxOrderLines of {"sku","qty"}) and
// its "delivery" ({"lat","lon"}, or {"geohash"} meaning the cell's centre). POST
// /api/quote reads a cart the same way. kInvalidArgument names the first bad field.
struct Cart {
  std::vector<wire::OrderLine> lines;
  wire::DeliveryLocation delivery;
};
StatusOr<Cart> parse_cart(const nlohmann::json& j);

// An HTTP-shaped answer: status code and JSON body (errors in the project's shape).
struct Reply {
  int status = 200;
  nlohmann::json body;
};

// What an order carrying a "quote_id" is charged: the quote's unit prices and total
// when it is still good for these lines, or why not (with the lines whose price moved
// or that differ from the quote, for the customer to see before ordering again). An
// empty quote_id asks what an order without one is charged: what a quote would say now,
// fees included (in `current`), or kUnknown when no store can quote.
struct QuoteCheck {
  // kPlaceChanged: the order goes somewhere other than the point that was quoted (a fee
  // quoted where no store is busy must not pay for a delivery where one is).
  enum class Outcome { kHonoured, kUnknown, kExpired, kCartChanged, kPlaceChanged };
  Outcome outcome = Outcome::kUnknown;
  std::int64_t total_cents = 0;
  std::map<std::string, std::int64_t> unit_price_cents;  // by SKU
  nlohmann::json changed_lines = nlohmann::json::array();
  nlohmann::json current = nullptr;  // a fresh quote for the same cart, when refused
};
using QuoteChecker = std::function<StatusOr<QuoteCheck>(const std::string& quote_id,
                                                        const std::vector<wire::OrderLine>& lines,
                                                        const wire::DeliveryLocation& delivery)>;

class OrderService {
 public:
  // `payments` may be null: orders are then confirmed and routed at once (no payment
  // step), which is what unit tests and benchmarks want.
  OrderService(storage::CloudStore& store, const routing::StoreIndex& index,
               payments::PaymentProvider* payments, const Clock& clock, OrderOptions options,
               log::Logger logger, metrics::Registry& metrics, CandidateRanker ranker = {});

  // Sets the payment provider (null: no payment step) for orders placed from now on.
  void set_payments(payments::PaymentProvider* payments) { payments_.store(payments); }
  // Sets the check for orders that carry a quote id; called once, before the first
  // place(). Without one such orders are refused.
  void set_quote_checker(QuoteChecker checker) { quote_checker_ = std::move(checker); }
  // Told of every new order once it is placed (not of replays of its key); called once,
  // before the first place(). Product search counts the units toward popularity.
  using PlacedListener = std::function<void(const wire::Order& order)>;
  void set_placed_listener(PlacedListener listener) { on_placed_ = std::move(listener); }

  // POST /api/orders for `customer_id` with the raw JSON body.
  Reply place(const std::string& customer_id, const std::string& idempotency_key,
              const std::string& body);
  // The order if `customer_id` placed it (any order when `is_admin`); kNotFound otherwise,
  // so one customer cannot learn whether another's order id exists.
  StatusOr<storage::OrderRecord> get(const std::string& order_id, const std::string& customer_id,
                                     bool is_admin);
  StatusOr<storage::OrderRecord> cancel(const std::string& order_id, const std::string& customer_id,
                                        bool is_admin);
  // A verified payment event (webhook). Errors make the gateway retry.
  Status on_payment_event(const payments::PaymentEvent& event);
  // Deadlines and refunds, and forgets idempotency keys older than the window; returns
  // how many orders were looked at.
  int tick();

  // The customer's view of an order.
  static nlohmann::json order_json(const storage::OrderRecord& order);

 private:
  // `fees`, when not null, is the fee breakdown of an order priced without a quote; it
  // is shown in the answer (and its replays).
  Reply finish_placement(const storage::OrderRecord& order, const std::string& idempotency_key,
                         const std::string& request_hash,
                         const nlohmann::json& fees = nlohmann::json());
  Status settle_refund(const storage::OrderRecord& order);

  PlacedListener on_placed_;
  storage::CloudStore& store_;
  const routing::StoreIndex& index_;
  std::atomic<payments::PaymentProvider*> payments_;
  const Clock& clock_;
  OrderOptions options_;
  log::Logger logger_;
  CandidateRanker ranker_;
  QuoteChecker quote_checker_;
  metrics::CounterFamily& placed_;
  metrics::Histogram& place_seconds_;
  metrics::Counter& keys_purged_;
};

}  // namespace shopeasy::cloud::orders
