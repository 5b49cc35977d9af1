#include "cloud/orders/order_service.hpp"

#include <algorithm>

#include "cloud/routing/router.hpp"
#include "common/http/auth.hpp"
#include "common/security/encoding.hpp"
#include "common/wire/json_fields.hpp"

namespace shopeasy::cloud::orders {
namespace {

using storage::OrderRecord;
using wire::OrderStatus;

constexpr std::size_t kMaxNotes = 500;
constexpr std::size_t kMaxKey = 128;
constexpr int kDuePage = 500;

Reply error_reply(int status, std::string_view code, const std::string& message,
                  const std::string& field = {}) {
  nlohmann::json error = {{"code", code}, {"message", message}};
  if (!field.empty()) error["field"] = field;
  return Reply{status, {{"error", std::move(error)}}};
}

Reply status_reply(const Status& st) {
  return error_reply(http::http_status_for(st.code()), status_code_name(st.code()), st.message(),
                     st.field());
}

bool is_printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u != 0x7F;
  });
}

}  // namespace

StatusOr<Cart> parse_cart(const nlohmann::json& j) {
  Cart out;
  wire::FieldReader r(j, "");
  r.required_array("lines", 1, wire::kMaxOrderLines, [&](wire::FieldReader& item, std::size_t) {
    wire::OrderLine& line = out.lines.emplace_back();
    item.required_string("sku", &line.sku, wire::kIdRule);
    item.required_int("qty", &line.qty, 1, wire::kMaxLineQty);
  });
  if (!r.ok()) return r.status();
  if (!j.contains("delivery") || !j["delivery"].is_object()) {
    return invalid_argument("must be an object with lat and lon, or geohash", "delivery");
  }
  const nlohmann::json& d = j["delivery"];
  wire::FieldReader dr(d, "delivery");
  std::optional<std::string> hash;
  dr.optional_string("geohash", &hash, wire::StringRule{.max_len = 12, .non_empty = true});
  std::optional<double> lat, lon;
  dr.optional_double("lat", &lat, -90, 90);
  dr.optional_double("lon", &lon, -180, 180);
  if (!dr.ok()) return dr.status();
  if (hash) {
    StatusOr<geohash::LatLon> centre = geohash::decode(*hash);
    if (!centre.ok()) {
      return invalid_argument("must be 1 to 12 geohash characters (0-9, b-z except i, l, o)",
                              "delivery.geohash");
    }
    out.delivery.geohash = *hash;
    if (!lat || !lon) {
      lat = centre->lat;
      lon = centre->lon;
    }
  }
  if (!lat || !lon) return invalid_argument("lat and lon, or geohash, are required", "delivery");
  out.delivery.lat = *lat;
  out.delivery.lon = *lon;
  return out;
}

namespace {

struct ParsedRequest {
  std::vector<wire::OrderLine> lines;
  wire::DeliveryLocation delivery;
  std::string notes;
};

StatusOr<ParsedRequest> parse_request(const nlohmann::json& j) {
  StatusOr<Cart> cart = parse_cart(j);
  if (!cart.ok()) return cart.status();
  ParsedRequest out{.lines = std::move(cart->lines), .delivery = cart->delivery, .notes = {}};
  std::optional<std::string> notes;
  wire::FieldReader nr(j, "");
  nr.optional_string("notes", &notes, wire::StringRule{.max_len = kMaxNotes});
  if (!nr.ok()) return nr.status();
  out.notes = notes.value_or("");
  return out;
}

}  // namespace

StatusOr<std::string> new_order_id() {
  // A general-purpose generator (mt19937 and the like) is predictable from a few outputs,
  // so ids come from the CSPRNG.
  StatusOr<std::string> hex = security::random_hex(16);
  if (!hex.ok()) return hex.status();
  return "ord_" + *hex;
}

CandidateRanker rank_by_eta() {
  return [](const routing::StoreIndex& index, geohash::LatLon point, std::int64_t now_ms,
            std::int64_t units, std::int64_t online_window_ms) {
    routing::RouteOptions options;
    options.online_window_ms = online_window_ms;
    return routing::rank(index, point, now_ms, units, {}, {}, options);
  };
}

OrderService::OrderService(storage::CloudStore& store, const routing::StoreIndex& index,
                           payments::PaymentProvider* payments, const Clock& clock,
                           OrderOptions options, log::Logger logger, metrics::Registry& metrics,
                           CandidateRanker ranker)
    : store_(store),
      index_(index),
      payments_(payments),
      clock_(clock),
      options_(std::move(options)),
      logger_(std::move(logger)),
      ranker_(ranker ? std::move(ranker) : rank_by_eta()),
      placed_(metrics.counter_family("cloud_orders_placement_total",
                                     "Order placement attempts, by outcome", {"outcome"})),
      place_seconds_(metrics.histogram("cloud_order_place_seconds",
                                       "Time to validate, route and hold one order",
                                       metrics::default_latency_buckets())),
      keys_purged_(metrics.counter("cloud_idempotency_keys_purged_total",
                                   "Idempotency keys forgotten after their window")) {}

Reply OrderService::place(const std::string& customer_id, const std::string& idempotency_key,
                          const std::string& body_text) {
  const auto started = clock_.mono_now();
  auto outcome = [&](std::string_view what, Reply reply) {
    placed_.with({std::string(what)}).inc();
    place_seconds_.observe(std::chrono::duration<double>(clock_.mono_now() - started).count());
    return reply;
  };
  if (idempotency_key.empty()) {
    return outcome("bad_request",
                   error_reply(400, "invalid_argument", "the Idempotency-Key header is required",
                               "Idempotency-Key"));
  }
  if (idempotency_key.size() > kMaxKey || !is_printable(idempotency_key)) {
    return outcome("bad_request",
                   error_reply(400, "invalid_argument", "must be 1 to 128 printable characters",
                               "Idempotency-Key"));
  }
  if (options_.require_payment && payments_.load() == nullptr) {
    return outcome("no_payment_provider",
                   status_reply(unavailable("this cloud takes no orders: no payment provider is "
                                            "configured (payments.provider)")));
  }
  StatusOr<nlohmann::json> body = wire::parse_json(body_text, 1 << 20);
  if (!body.ok()) return outcome("bad_request", status_reply(body.status()));
  if (!body->is_object()) {
    return outcome("bad_request", status_reply(invalid_argument("the body must be an object")));
  }
  const std::string request_hash = http::sha256_hex(body->dump());

  // A retry answers from the record, before anything else is looked at.
  StatusOr<std::optional<storage::IdempotentReply>> earlier =
      store_.idempotent_reply(customer_id, idempotency_key);
  if (!earlier.ok()) return outcome("error", status_reply(earlier.status()));
  auto replay = [&](const storage::IdempotentReply& e) -> Reply {
    if (e.request_hash != request_hash) {
      return outcome(
          "key_reused",
          error_reply(422, "idempotency_key_reused",
                      "this Idempotency-Key was used for a different request", "Idempotency-Key"));
    }
    if (e.status_code != 0) return outcome("replayed", Reply{e.status_code, e.body});
    // The first request placed the order but did not finish answering: finish it now.
    StatusOr<OrderRecord> order = store_.get_order(e.order_id);
    if (!order.ok()) return outcome("error", status_reply(order.status()));
    return outcome("replayed", finish_placement(*order, idempotency_key, request_hash));
  };
  if (earlier->has_value()) return replay(**earlier);

  StatusOr<ParsedRequest> request = parse_request(*body);
  if (!request.ok()) return outcome("bad_request", status_reply(request.status()));
  // One unpaid order holds its stock until its payment deadline; a cap on its size keeps
  // one customer from holding a store's whole shelf.
  std::int64_t requested_units = 0;
  for (const wire::OrderLine& line : request->lines) requested_units += line.qty;
  if (requested_units > options_.max_units_per_order) {
    return outcome("bad_request",
                   status_reply(invalid_argument(
                       "an order may hold at most " + std::to_string(options_.max_units_per_order) +
                           " units; this one asks for " + std::to_string(requested_units),
                       "lines")));
  }

  wire::Order order;
  StatusOr<std::string> order_id = new_order_id();
  if (!order_id.ok()) return outcome("error", status_reply(order_id.status()));
  order.order_id = std::move(*order_id);
  order.customer_id = customer_id;
  order.delivery = request->delivery;
  std::int64_t units = 0;
  for (std::size_t i = 0; i < request->lines.size(); ++i) {
    wire::OrderLine& line = request->lines[i];
    StatusOr<std::optional<storage::CatalogItem>> item = store_.get_catalog_item(line.sku);
    if (!item.ok()) return outcome("error", status_reply(item.status()));
    if (!item->has_value() || !(*item)->active) {
      return outcome("unknown_sku", error_reply(422, "unknown_sku",
                                                "line " + std::to_string(i) + ": no product '" +
                                                    line.sku + "' in the catalog",
                                                "lines[" + std::to_string(i) + "].sku"));
    }
    line.unit_price_cents = (*item)->price_cents;
    order.total_cents += line.qty * line.unit_price_cents;
    units += line.qty;
  }
  nlohmann::json priced_now;  // the implicit quote of an order placed without one
  if (body->contains("quote_id")) {
    // A quoted order is charged exactly the quote's total (fees included) or refused:
    // the price shown is the price paid.
    const nlohmann::json& qid = (*body)["quote_id"];
    if (!qid.is_string() || qid.get<std::string>().empty() ||
        qid.get<std::string>().size() > kMaxKey) {
      return outcome("bad_request",
                     error_reply(400, "invalid_argument", "must be a quote id from POST /api/quote",
                                 "quote_id"));
    }
    if (!quote_checker_) {
      return outcome("bad_request", error_reply(400, "invalid_argument",
                                                "this cloud gives no quotes", "quote_id"));
    }
    StatusOr<QuoteCheck> check =
        quote_checker_(qid.get<std::string>(), request->lines, request->delivery);
    if (!check.ok()) return outcome("error", status_reply(check.status()));
    switch (check->outcome) {
      case QuoteCheck::Outcome::kHonoured:
        break;
      case QuoteCheck::Outcome::kUnknown:
        return outcome("quote_unknown", error_reply(404, "not_found", "no such quote", "quote_id"));
      case QuoteCheck::Outcome::kPlaceChanged:
        return outcome("quote_mismatch",
                       error_reply(409, "quote_mismatch",
                                   "the delivery point is not the quoted one; ask for a new quote",
                                   "delivery"));
      case QuoteCheck::Outcome::kExpired:
      case QuoteCheck::Outcome::kCartChanged: {
        const bool expired = check->outcome == QuoteCheck::Outcome::kExpired;
        Reply reply =
            error_reply(409, expired ? "quote_expired" : "quote_mismatch",
                        expired ? "the quote has expired; these are the prices now"
                                : "the order's lines are not the quoted ones; ask for a new quote",
                        "quote_id");
        reply.body["lines"] = check->changed_lines;
        if (!check->current.is_null()) reply.body["quote"] = check->current;
        return outcome(expired ? "quote_expired" : "quote_mismatch", std::move(reply));
      }
    }
    for (wire::OrderLine& line : request->lines) {
      auto it = check->unit_price_cents.find(line.sku);
      if (it != check->unit_price_cents.end()) line.unit_price_cents = it->second;
    }
    order.total_cents = check->total_cents;
  } else if (quote_checker_) {
    // No quote: charged what a quote would say now (fees included), shown in the answer
    // and on the payment page before anything is paid.
    StatusOr<QuoteCheck> implicit = quote_checker_("", request->lines, request->delivery);
    if (!implicit.ok()) return outcome("error", status_reply(implicit.status()));
    if (implicit->outcome == QuoteCheck::Outcome::kHonoured) {
      for (wire::OrderLine& line : request->lines) {
        auto it = implicit->unit_price_cents.find(line.sku);
        if (it != implicit->unit_price_cents.end()) line.unit_price_cents = it->second;
      }
      order.total_cents = implicit->total_cents;
      priced_now = std::move(implicit->current);
    }
  }
  order.lines = request->lines;

  const std::int64_t now = to_unix_ms(clock_.wall_now());
  const geohash::LatLon point{order.delivery.lat, order.delivery.lon};
  routing::Serving serving = index_.serving(point, now, options_.online_window_ms);
  if (serving.candidates.empty()) {
    return outcome("no_store", error_reply(422, "no_store_serves_location",
                                           "no store delivers to this location", "delivery"));
  }
  const std::vector<routing::RankedStore> ranked =
      ranker_(index_, point, now, units, options_.online_window_ms);
  std::vector<std::string> candidates;
  // Each candidate's own promise: the store that ends up holding the order sets it.
  std::vector<std::int64_t> promises;
  for (const routing::RankedStore& r : ranked) {
    candidates.push_back(r.store_id);
    promises.push_back(now + r.eta_s * 1000 + options_.promise_margin_ms);
  }
  if (candidates.empty()) {
    return outcome("no_store", error_reply(409, "no_store_available",
                                           "the stores serving this location are closed or "
                                           "offline; try again later",
                                           "delivery"));
  }
  if (candidates.size() > 64) {
    candidates.resize(64);
    promises.resize(64);
  }
  order.status = OrderStatus::kPendingPayment;
  order.created_at_ms = now;
  order.updated_at_ms = now;
  // The best store's estimate until placement knows which candidate holds the order.
  order.promised_at_ms = promises.front();

  const storage::NewOrder new_order{.order = order,
                                    .candidates = candidates,
                                    .promised_at_ms = promises,
                                    .payment_due_ms = now + options_.payment_timeout_ms,
                                    .idempotency_key = idempotency_key,
                                    .request_hash = request_hash,
                                    .max_unpaid_per_customer = options_.max_unpaid_per_customer};
  StatusOr<storage::PlaceResult> placed = store_.place_order(new_order, now);
  // The PostgreSQL store already runs a placement again after a deadlock, serialization
  // failure or lost connection (cloud_pg_retries_total); one still unavailable after
  // that gets a few more tries here. Safe: with the idempotency key a second run finds
  // the first's record rather than placing again.
  for (int retry = 0;
       retry < 3 && !placed.ok() && placed.status().code() == StatusCode::kUnavailable; ++retry) {
    placed = store_.place_order(new_order, now);
  }
  if (!placed.ok()) {
    if (placed.status().code() == StatusCode::kAlreadyExists) {
      StatusOr<std::optional<storage::IdempotentReply>> again =
          store_.idempotent_reply(customer_id, idempotency_key);
      if (again.ok() && again->has_value()) return replay(**again);
      return outcome("conflict", error_reply(409, "conflict",
                                             "a request with this Idempotency-Key is in "
                                             "progress; retry",
                                             "Idempotency-Key"));
    }
    return outcome("error", status_reply(placed.status()));
  }
  if (placed->earlier) return replay(*placed->earlier);
  if (placed->too_many_unpaid) {
    // Each unpaid order holds its stock until its deadline: a customer pays (or
    // cancels) before holding more. Not recorded under the key, so a retry after
    // paying goes through.
    return outcome("too_many_unpaid",
                   error_reply(429, "resource_exhausted",
                               "you have " + std::to_string(options_.max_unpaid_per_customer) +
                                   " orders waiting for payment; pay or cancel one first",
                               ""));
  }
  if (!placed->placed) {
    nlohmann::json lines = nlohmann::json::array();
    for (const storage::Shortage& s : placed->shortages) {
      lines.push_back({{"sku", s.sku}, {"requested", s.requested}, {"available", s.available}});
    }
    Reply reply =
        error_reply(409, "out_of_stock", "no store serving this location can supply every line");
    reply.body["lines"] = std::move(lines);
    // Recorded so that a retry gets this same answer.
    Status saved =
        store_.save_idempotent_reply(storage::IdempotentReply{.customer_id = customer_id,
                                                              .key = idempotency_key,
                                                              .request_hash = request_hash,
                                                              .order_id = "",
                                                              .status_code = 409,
                                                              .body = reply.body,
                                                              .created_at_ms = now});
    if (!saved.is_ok()) logger_.warn("idempotency_save_failed", {{"error", saved.to_string()}});
    return outcome("out_of_stock", std::move(reply));
  }
  if (on_placed_) on_placed_(placed->placed->order);
  return outcome("placed",
                 finish_placement(*placed->placed, idempotency_key, request_hash,
                                  priced_now.is_object() ? priced_now["fees"] : nlohmann::json()));
}

Reply OrderService::finish_placement(const OrderRecord& placed, const std::string& idempotency_key,
                                     const std::string& request_hash, const nlohmann::json& fees) {
  OrderRecord order = placed;
  nlohmann::json payment = nullptr;
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  payments::PaymentProvider* provider = payments_.load();
  if (provider != nullptr && order.order.total_cents > 0) {
    StatusOr<payments::PaymentIntent> intent =
        provider->create_intent(order.order.order_id, order.order.total_cents, options_.currency,
                                "order-" + order.order.order_id);
    if (!intent.ok()) {
      logger_.warn("payment_intent_failed",
                   {{"order", order.order.order_id}, {"error", intent.status().to_string()}});
      // The order stays held until its payment deadline; a retry with the same key
      // finishes it.
      return status_reply(unavailable("the payment gateway is unavailable; retry"));
    }
    if (order.payment_intent_id != intent->id) {
      Status st = store_.set_payment_intent(order.order.order_id, intent->id);
      if (!st.is_ok()) return status_reply(st);
      order.payment_intent_id = intent->id;
    }
    payment = {{"intent_id", intent->id},
               {"confirm_url", intent->confirm_url},
               {"amount_cents", intent->amount_cents},
               {"currency", intent->currency}};
  } else {
    // Nothing to pay (or no payment step configured): straight to the store.
    StatusOr<OrderRecord> routed = store_.act_on_order(
        order.order.order_id,
        storage::OrderActionRequest{.action = storage::OrderAction::kPaymentSucceeded,
                                    .reason = "",
                                    .accept_window_ms = options_.accept_timeout_ms},
        now);
    if (!routed.ok()) return status_reply(routed.status());
    order = std::move(*routed);
  }
  nlohmann::json body = order_json(order);
  body["payment"] = payment;
  if (!fees.is_null()) body["fees"] = fees;
  Status saved =
      store_.save_idempotent_reply(storage::IdempotentReply{.customer_id = order.order.customer_id,
                                                            .key = idempotency_key,
                                                            .request_hash = request_hash,
                                                            .order_id = order.order.order_id,
                                                            .status_code = 201,
                                                            .body = body,
                                                            .created_at_ms = now});
  if (!saved.is_ok()) logger_.warn("idempotency_save_failed", {{"error", saved.to_string()}});
  logger_.info("order_placed", {{"order", order.order.order_id},
                                {"store", order.order.store_id.value_or("")},
                                {"total_cents", order.order.total_cents}});
  return Reply{201, std::move(body)};
}

StatusOr<OrderRecord> OrderService::get(const std::string& order_id, const std::string& customer_id,
                                        bool is_admin) {
  StatusOr<OrderRecord> order = store_.get_order(order_id);
  if (!order.ok()) return order.status();
  if (!is_admin && order->order.customer_id != customer_id) return not_found("unknown order");
  return order;
}

StatusOr<OrderRecord> OrderService::cancel(const std::string& order_id,
                                           const std::string& customer_id, bool is_admin) {
  StatusOr<OrderRecord> order = get(order_id, customer_id, is_admin);
  if (!order.ok()) return order.status();
  StatusOr<OrderRecord> cancelled = store_.act_on_order(
      order_id,
      storage::OrderActionRequest{.action = storage::OrderAction::kCancel,
                                  .reason = is_admin && order->order.customer_id != customer_id
                                                ? "cancelled_by_operator"
                                                : "cancelled_by_customer",
                                  .accept_window_ms = 0},
      to_unix_ms(clock_.wall_now()));
  if (!cancelled.ok()) return cancelled.status();
  if (cancelled->refund_due) {
    Status refunded = settle_refund(*cancelled);
    if (refunded.is_ok()) {
      StatusOr<OrderRecord> latest = store_.get_order(order_id);
      if (latest.ok()) return latest;
    }
  }
  return cancelled;
}

Status OrderService::on_payment_event(const payments::PaymentEvent& event) {
  storage::OrderActionRequest request{.action = storage::OrderAction::kPaymentSucceeded,
                                      .reason = "",
                                      .accept_window_ms = options_.accept_timeout_ms};
  if (event.type == payments::kEventSucceeded) {
    request.action = storage::OrderAction::kPaymentSucceeded;
  } else if (event.type == payments::kEventFailed) {
    request.action = storage::OrderAction::kPaymentFailed;
    request.reason = "payment_failed";
  } else {
    return Status::ok();  // refunds are recorded when we ask for them
  }
  StatusOr<OrderRecord> order = store_.get_order(event.order_id);
  if (!order.ok()) {
    // An event for an order this cloud never placed cannot become valid by retrying.
    if (order.status().code() == StatusCode::kNotFound) {
      logger_.warn("payment_event_unknown_order", {{"order", event.order_id}});
      return Status::ok();
    }
    return order.status();
  }
  if (order->payment_intent_id != event.intent_id ||
      order->order.total_cents != event.amount_cents) {
    logger_.warn("payment_event_mismatch",
                 {{"order", event.order_id}, {"intent", event.intent_id}});
    return Status::ok();
  }
  StatusOr<OrderRecord> after =
      store_.act_on_order(event.order_id, request, to_unix_ms(clock_.wall_now()));
  if (!after.ok()) return after.status();
  logger_.info("order_payment", {{"order", event.order_id},
                                 {"event", event.type},
                                 {"status", wire::to_string(after->order.status)}});
  if (after->refund_due) (void)settle_refund(*after);
  return Status::ok();
}

Status OrderService::settle_refund(const OrderRecord& order) {
  payments::PaymentProvider* provider = payments_.load();
  if (provider != nullptr && !order.payment_intent_id.empty()) {
    StatusOr<payments::PaymentIntent> refund = provider->refund(
        order.payment_intent_id, order.order.total_cents, "refund-" + order.order.order_id);
    if (!refund.ok()) {
      logger_.warn("refund_failed",
                   {{"order", order.order.order_id}, {"error", refund.status().to_string()}});
      return refund.status();
    }
  }
  StatusOr<OrderRecord> done = store_.act_on_order(
      order.order.order_id,
      storage::OrderActionRequest{
          .action = storage::OrderAction::kRefunded, .reason = "", .accept_window_ms = 0},
      to_unix_ms(clock_.wall_now()));
  return done.status();
}

int OrderService::tick() {
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  // A bounded page per tick: a backlog (the first tick after a long outage) is worked
  // off over the next ticks instead of in one long transaction.
  StatusOr<std::int64_t> purged =
      store_.purge_idempotent_replies(now - options_.idempotency_window_ms, kDuePage);
  if (!purged.ok()) {
    logger_.warn("idempotency_purge_failed", {{"error", purged.status().to_string()}});
  } else if (*purged > 0) {
    keys_purged_.inc(static_cast<std::uint64_t>(*purged));
  }
  StatusOr<std::vector<std::string>> due = store_.due_orders(now, kDuePage);
  if (!due.ok()) {
    logger_.warn("due_orders_failed", {{"error", due.status().to_string()}});
    return 0;
  }
  for (const std::string& id : *due) {
    StatusOr<OrderRecord> order = store_.act_on_order(
        id,
        storage::OrderActionRequest{.action = storage::OrderAction::kExpire,
                                    .reason = "",
                                    .accept_window_ms = options_.accept_timeout_ms},
        now);
    if (!order.ok()) {
      logger_.warn("order_deadline_failed", {{"order", id}, {"error", order.status().to_string()}});
      continue;
    }
    if (order->refund_due) (void)settle_refund(*order);
  }
  return static_cast<int>(due->size());
}

nlohmann::json OrderService::order_json(const OrderRecord& r) {
  nlohmann::json lines = nlohmann::json::array();
  for (const wire::OrderLine& l : r.order.lines) {
    lines.push_back({{"sku", l.sku},
                     {"qty", l.qty},
                     {"unit_price_cents", l.unit_price_cents},
                     {"line_total_cents", l.qty * l.unit_price_cents}});
  }
  nlohmann::json delivery = {{"lat", r.order.delivery.lat}, {"lon", r.order.delivery.lon}};
  if (r.order.delivery.geohash) delivery["geohash"] = *r.order.delivery.geohash;
  nlohmann::json out = {{"order_id", r.order.order_id},
                        {"status", wire::to_string(r.order.status)},
                        {"lines", std::move(lines)},
                        {"delivery", std::move(delivery)},
                        {"total_cents", r.order.total_cents},
                        {"created_at_ms", r.order.created_at_ms},
                        {"promised_at_ms", r.order.promised_at_ms},
                        {"updated_at_ms", r.order.updated_at_ms},
                        {"paid", r.paid}};
  if (r.order.store_id) out["store_id"] = *r.order.store_id;
  if (!r.reason.empty()) out["reason"] = r.reason;
  if (r.eta_ms > 0) out["eta_ms"] = r.eta_ms;
  if (!r.runner_id.empty()) out["runner_id"] = r.runner_id;
  if (!r.payment_intent_id.empty()) out["payment_intent_id"] = r.payment_intent_id;
  return out;
}

}  // namespace shopeasy::cloud::orders
