#include "cloud/storage/order_rules.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "cloud/notify/notification_text.hpp"
#include "cloud/storage/store_rules.hpp"
#include "common/wire/json_fields.hpp"

namespace shopeasy::cloud::storage::detail {
namespace {

using wire::OrderStatus;

bool is_printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u != 0x7F;
  });
}

// Lines folded per SKU in SKU order: a fixed order keeps concurrent placements' row
// locks in the same order, so they wait for each other instead of deadlocking.
std::vector<HeldLine> holds_for(const std::vector<wire::OrderLine>& lines) {
  std::map<std::string, std::int64_t> per_sku;
  for (const wire::OrderLine& line : lines) per_sku[line.sku] += line.qty;
  std::vector<HeldLine> out;
  out.reserve(per_sku.size());
  for (const auto& [sku, qty] : per_sku) out.push_back(HeldLine{sku, qty});
  return out;
}

std::vector<std::string> skus_of(const std::vector<HeldLine>& a,
                                 const std::vector<HeldLine>& b = {}) {
  std::vector<std::string> out;
  for (const HeldLine& h : a) out.push_back(h.sku);
  for (const HeldLine& h : b) out.push_back(h.sku);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Holds every line at the store, or nothing.
StatusOr<bool> hold_all(OrderTx& tx, const std::string& store_id,
                        const std::vector<HeldLine>& holds) {
  for (std::size_t i = 0; i < holds.size(); ++i) {
    StatusOr<bool> held = tx.try_hold(store_id, holds[i].sku, holds[i].qty);
    if (!held.ok()) return held.status();
    if (!*held) {
      for (std::size_t j = 0; j < i; ++j) {
        SHOPEASY_RETURN_IF_ERROR(tx.release_hold(store_id, holds[j].sku, holds[j].qty));
      }
      return false;
    }
  }
  return true;
}

Status release(OrderTx& tx, OrderRecord& order) {
  if (!order.holds.empty() && order.order.store_id) {
    for (const HeldLine& h : order.holds) {
      SHOPEASY_RETURN_IF_ERROR(tx.release_hold(*order.order.store_id, h.sku, h.qty));
    }
  }
  order.holds.clear();
  return Status::ok();
}

// Records the new status and its event. The caller has checked legality.
Status set_status(OrderTx& tx, OrderRecord& order, OrderStatus to, const std::string& reason,
                  std::int64_t now_ms) {
  const OrderStatus from = order.order.status;
  order.order.status = to;
  order.order.updated_at_ms = now_ms;
  if (!reason.empty()) order.reason = reason;
  nlohmann::json body = {{"status", wire::to_string(to)}, {"at_ms", now_ms}};
  if (!reason.empty()) body["reason"] = reason;
  if (order.order.store_id) body["store_id"] = *order.order.store_id;
  if (order.eta_ms > 0) body["eta_ms"] = order.eta_ms;
  if (!order.runner_id.empty()) body["runner_id"] = order.runner_id;
  ++order.event_seq;
  // The customer hears of it in the transaction that records it: never one without the
  // other.
  const std::string_view kind = notification_kind(from, to);
  if (!kind.empty() && !order.order.customer_id.empty()) {
    SHOPEASY_RETURN_IF_ERROR(
        tx.add_notifications(NotificationEvent{.order_id = order.order.order_id,
                                               .event_seq = order.event_seq,
                                               .customer_id = order.order.customer_id,
                                               .kind = std::string(kind),
                                               .body = body,
                                               .at_ms = now_ms}));
  }
  // The live order stream is a channel too: the app shows the same sentence the SMS
  // carries, from the event itself, with no second key to keep unique.
  if (!kind.empty()) {
    body["notification"] = {
        {"kind", kind},
        {"text", notify::notification_text(kind, order.order.order_id, body, now_ms)}};
  }
  return tx.append_event(
      order.order.order_id,
      OrderEvent{
          .seq = order.event_seq, .kind = "status", .body = std::move(body), .at_ms = now_ms});
}

// Sends the order to the store it holds at: status routed, accept deadline set.
Status route(OrderTx& tx, OrderRecord& order, const std::string& reason, std::int64_t now_ms) {
  order.accept_by_ms = now_ms + order.accept_window_ms;
  SHOPEASY_RETURN_IF_ERROR(set_status(tx, order, OrderStatus::kRouted, reason, now_ms));
  nlohmann::json body = wire::encode(order.order);
  body["accept_by_ms"] = order.accept_by_ms;
  return tx.enqueue(*order.order.store_id, "order", body);
}

Status fail_or_cancel(OrderTx& tx, OrderRecord& order, OrderStatus to, const std::string& reason,
                      std::int64_t now_ms) {
  SHOPEASY_RETURN_IF_ERROR(release(tx, order));
  if (order.paid) order.refund_due = true;
  return set_status(tx, order, to, reason, now_ms);
}

// The store the order is at gives it up (refusal or missed deadline): the next candidate
// that can hold every line gets it, else the order fails.
Status reroute(OrderTx& tx, OrderRecord& order, const std::string& reason, std::int64_t now_ms) {
  const std::vector<HeldLine> wanted = holds_for(order.order.lines);
  // Every row this may release or hold, locked up front in the one global order.
  std::vector<std::string> stores;
  if (order.order.store_id) stores.push_back(*order.order.store_id);
  for (const std::string& candidate : order.candidates) {
    if (std::find(order.tried.begin(), order.tried.end(), candidate) == order.tried.end()) {
      stores.push_back(candidate);
    }
  }
  SHOPEASY_RETURN_IF_ERROR(tx.lock_stock(stores, skus_of(wanted, order.holds)));
  SHOPEASY_RETURN_IF_ERROR(release(tx, order));
  if (order.order.store_id) order.tried.push_back(*order.order.store_id);
  for (const std::string& candidate : order.candidates) {
    if (std::find(order.tried.begin(), order.tried.end(), candidate) != order.tried.end()) continue;
    StatusOr<bool> held = hold_all(tx, candidate, wanted);
    if (!held.ok()) return held.status();
    if (!*held) continue;
    order.order.store_id = candidate;
    order.holds = wanted;
    return route(tx, order, reason, now_ms);
  }
  return fail_or_cancel(tx, order, OrderStatus::kFailed, "no_store_available: " + reason, now_ms);
}

Status not_allowed(const OrderRecord& order, std::string_view what) {
  return failed_precondition("cannot " + std::string(what) + " an order that is " +
                             std::string(wire::to_string(order.order.status)));
}

}  // namespace

std::string_view notification_kind(OrderStatus from, OrderStatus to) {
  if (from == to) return {};
  switch (to) {
    case OrderStatus::kConfirmed:
    case OrderStatus::kPacked:
    case OrderStatus::kOutForDelivery:
    case OrderStatus::kDelivered:
    case OrderStatus::kCancelled:
    case OrderStatus::kRefunded:
    case OrderStatus::kFailed:
      return wire::to_string(to);
    default:
      return {};
  }
}

bool is_order_kind(std::string_view kind) {
  return kind == kOrderStatusKind || kind == kOrderPositionKind || kind == kOrderLinesKind;
}

namespace {

// "order.lines": the store resolved a short pick (a substitute, or fewer units). The
// order's lines become the store's; a hold the cloud still has for the order follows
// them, so availability and the order agree with the store. The total charged stays.
Status apply_lines(OrderTx& tx, const std::string& store_id, const Change& change,
                   std::int64_t now_ms) {
  wire::FieldReader r(change.body, "body");
  std::string order_id;
  r.required_string("order_id", &order_id, wire::kIdRule);
  std::vector<wire::OrderLine> lines;
  nlohmann::json shown = nlohmann::json::array();
  r.required_array("lines", 1, wire::kMaxOrderLines, [&](wire::FieldReader& item, std::size_t) {
    wire::OrderLine& line = lines.emplace_back();
    item.required_string("sku", &line.sku, wire::kIdRule);
    item.required_int("qty", &line.qty, 1, wire::kMaxLineQty);
    item.required_int("unit_price_cents", &line.unit_price_cents, 0, wire::kMaxInt64);
    std::optional<std::string> substitute_for;
    item.optional_string("substitute_for", &substitute_for, wire::kIdRule);
    nlohmann::json j = {
        {"sku", line.sku}, {"qty", line.qty}, {"unit_price_cents", line.unit_price_cents}};
    if (substitute_for) j["substitute_for"] = *substitute_for;
    shown.push_back(std::move(j));
  });
  if (!r.ok()) return tx.count_kind(store_id, kOrderMalformedKind);
  StatusOr<std::optional<OrderRecord>> loaded = tx.load_order(order_id);
  if (!loaded.ok()) return loaded.status();
  if (!loaded->has_value() || (*loaded)->order.store_id != store_id) {
    return tx.count_kind(store_id, kOrderIgnoredKind);
  }
  OrderRecord order = std::move(**loaded);
  const OrderStatus at = order.order.status;
  if (at != OrderStatus::kAccepted && at != OrderStatus::kPicking && at != OrderStatus::kPacked) {
    return tx.count_kind(store_id, kOrderIgnoredKind);
  }
  if (!order.holds.empty()) {
    const std::vector<HeldLine> wanted = holds_for(lines);
    SHOPEASY_RETURN_IF_ERROR(tx.lock_stock({store_id}, skus_of(wanted, order.holds)));
    SHOPEASY_RETURN_IF_ERROR(release(tx, order));
    StatusOr<bool> held = hold_all(tx, store_id, wanted);
    if (!held.ok()) return held.status();
    // The store has already reserved them; a replica behind it must not block the change.
    if (*held) order.holds = wanted;
  }
  order.order.lines = std::move(lines);
  order.order.updated_at_ms = now_ms;
  ++order.event_seq;
  SHOPEASY_RETURN_IF_ERROR(
      tx.append_event(order_id, OrderEvent{.seq = order.event_seq,
                                           .kind = "lines",
                                           .body = {{"lines", std::move(shown)}, {"at_ms", now_ms}},
                                           .at_ms = now_ms}));
  return tx.update_order(order);
}

}  // namespace

Status validate_new_order(const NewOrder& order) {
  StatusOr<wire::Order> decoded = wire::decode_order(wire::encode(order.order));
  if (!decoded.ok()) return decoded.status();
  if (order.order.status != OrderStatus::kPendingPayment) {
    return invalid_argument("a new order is pending_payment", "status");
  }
  if (order.order.store_id) return invalid_argument("placement picks the store", "store_id");
  if (order.candidates.empty() || order.candidates.size() > kMaxCandidates) {
    return invalid_argument("1 to " + std::to_string(kMaxCandidates) + " candidate stores",
                            "candidates");
  }
  for (std::size_t i = 0; i < order.candidates.size(); ++i) {
    SHOPEASY_RETURN_IF_ERROR(
        validate_store_id(order.candidates[i], "candidates[" + std::to_string(i) + "]"));
  }
  if (!order.promised_at_ms.empty()) {
    if (order.promised_at_ms.size() != order.candidates.size()) {
      return invalid_argument("one promise per candidate store", "promised_at_ms");
    }
    for (std::size_t i = 0; i < order.promised_at_ms.size(); ++i) {
      if (order.promised_at_ms[i] <= 0) {
        return invalid_argument("must be positive", "promised_at_ms[" + std::to_string(i) + "]");
      }
    }
  }
  if (order.idempotency_key.size() > 128 || !is_printable(order.idempotency_key)) {
    return invalid_argument("must be at most 128 printable characters", "idempotency_key");
  }
  return Status::ok();
}

StatusOr<PlaceResult> place_order(OrderTx& tx, const NewOrder& request, std::int64_t now_ms) {
  PlaceResult result;
  const std::string& customer = request.order.customer_id;
  if (!request.idempotency_key.empty()) {
    StatusOr<std::optional<IdempotentReply>> earlier =
        tx.find_reply(customer, request.idempotency_key);
    if (!earlier.ok()) return earlier.status();
    if (earlier->has_value()) {
      result.earlier = std::move(**earlier);
      return result;
    }
  }
  if (request.max_unpaid_per_customer > 0) {
    StatusOr<std::int64_t> unpaid = tx.unpaid_orders(customer);
    if (!unpaid.ok()) return unpaid.status();
    if (*unpaid >= request.max_unpaid_per_customer) {
      result.too_many_unpaid = true;
      return result;
    }
  }
  const std::vector<HeldLine> wanted = holds_for(request.order.lines);
  std::map<std::string, std::int64_t> best;  // most free stock seen per SKU
  // Candidates in the placement's own preference order. A failed try gives back the
  // rows it locked, so a placement only ever has the rows of the store it is trying,
  // taken in SKU order: two placements over the same stores in opposite orders wait for
  // each other but cannot deadlock.
  for (std::size_t c = 0; c < request.candidates.size(); ++c) {
    const std::string& candidate = request.candidates[c];
    SHOPEASY_RETURN_IF_ERROR(tx.begin_try());
    StatusOr<bool> held = hold_all(tx, candidate, wanted);
    if (!held.ok()) return held.status();
    if (!*held) {
      SHOPEASY_RETURN_IF_ERROR(tx.abandon_try());
      for (const HeldLine& h : wanted) {
        StatusOr<std::int64_t> free = tx.free_stock(candidate, h.sku);
        if (!free.ok()) return free.status();
        auto [it, inserted] = best.try_emplace(h.sku, *free);
        if (!inserted) it->second = std::max(it->second, *free);
      }
      continue;
    }
    OrderRecord order;
    order.order = request.order;
    order.order.store_id = candidate;
    // The promise is the estimate of the store that holds the order.
    if (c < request.promised_at_ms.size()) order.order.promised_at_ms = request.promised_at_ms[c];
    order.order.created_at_ms = now_ms;
    order.order.updated_at_ms = now_ms;
    order.payment_due_ms = request.payment_due_ms;
    order.candidates = request.candidates;
    order.holds = wanted;
    order.event_seq = 1;
    SHOPEASY_RETURN_IF_ERROR(tx.insert_order(order));
    SHOPEASY_RETURN_IF_ERROR(tx.append_event(
        order.order.order_id,
        OrderEvent{.seq = 1,
                   .kind = "status",
                   .body = {{"status", wire::to_string(OrderStatus::kPendingPayment)},
                            {"store_id", candidate},
                            {"at_ms", now_ms}},
                   .at_ms = now_ms}));
    if (!request.idempotency_key.empty()) {
      SHOPEASY_RETURN_IF_ERROR(tx.insert_reply(IdempotentReply{.customer_id = customer,
                                                               .key = request.idempotency_key,
                                                               .request_hash = request.request_hash,
                                                               .order_id = order.order.order_id,
                                                               .status_code = 0,
                                                               .body = nullptr},
                                               now_ms));
    }
    result.placed = std::move(order);
    return result;
  }
  for (const HeldLine& h : wanted) {
    const std::int64_t available = std::max<std::int64_t>(best[h.sku], 0);
    if (available < h.qty) result.shortages.push_back(Shortage{h.sku, h.qty, available});
  }
  // Every line is somewhere, but no one store has them all.
  if (result.shortages.empty()) {
    for (const HeldLine& h : wanted) {
      result.shortages.push_back(Shortage{h.sku, h.qty, std::max<std::int64_t>(best[h.sku], 0)});
    }
  }
  return result;
}

StatusOr<OrderRecord> act_on_order(OrderTx& tx, const std::string& order_id,
                                   const OrderActionRequest& request, std::int64_t now_ms) {
  StatusOr<std::optional<OrderRecord>> loaded = tx.load_order(order_id);
  if (!loaded.ok()) return loaded.status();
  if (!loaded->has_value()) return not_found("unknown order");
  OrderRecord order = std::move(**loaded);
  const OrderStatus status = order.order.status;
  switch (request.action) {
    case OrderAction::kPaymentSucceeded:
      if (status != OrderStatus::kPendingPayment) {
        // Paid after it was cancelled (payment timeout raced the customer): give it back.
        if (!order.paid && (status == OrderStatus::kCancelled || status == OrderStatus::kFailed)) {
          order.paid = true;
          order.refund_due = true;
          break;
        }
        return order;
      }
      order.paid = true;
      order.accept_window_ms = request.accept_window_ms;
      SHOPEASY_RETURN_IF_ERROR(
          set_status(tx, order, OrderStatus::kConfirmed, request.reason, now_ms));
      SHOPEASY_RETURN_IF_ERROR(route(tx, order, "", now_ms));
      break;
    case OrderAction::kPaymentFailed:
      if (status != OrderStatus::kPendingPayment) return order;
      SHOPEASY_RETURN_IF_ERROR(
          fail_or_cancel(tx, order, OrderStatus::kCancelled,
                         request.reason.empty() ? "payment_failed" : request.reason, now_ms));
      break;
    case OrderAction::kCancel: {
      if (!wire::is_legal_transition(status, OrderStatus::kCancelled)) {
        return not_allowed(order, "cancel");
      }
      const bool at_store = status == OrderStatus::kRouted || status == OrderStatus::kAccepted ||
                            status == OrderStatus::kPicking || status == OrderStatus::kPacked;
      const std::string reason = request.reason.empty() ? "cancelled_by_customer" : request.reason;
      if (at_store && order.order.store_id) {
        SHOPEASY_RETURN_IF_ERROR(tx.enqueue(*order.order.store_id, "order.cancel",
                                            {{"order_id", order_id}, {"reason", reason}}));
      }
      SHOPEASY_RETURN_IF_ERROR(fail_or_cancel(tx, order, OrderStatus::kCancelled, reason, now_ms));
      break;
    }
    case OrderAction::kExpire:
      if (status == OrderStatus::kPendingPayment && now_ms >= order.payment_due_ms) {
        SHOPEASY_RETURN_IF_ERROR(
            fail_or_cancel(tx, order, OrderStatus::kCancelled, "payment_timeout", now_ms));
      } else if (status == OrderStatus::kRouted && now_ms >= order.accept_by_ms &&
                 order.order.store_id) {
        const std::string late = *order.order.store_id;
        SHOPEASY_RETURN_IF_ERROR(tx.enqueue(
            late, "order.cancel", {{"order_id", order_id}, {"reason", "accept_timeout"}}));
        SHOPEASY_RETURN_IF_ERROR(reroute(
            tx, order, "accept_timeout: store " + late + " did not accept in time", now_ms));
      } else {
        return order;
      }
      break;
    case OrderAction::kRefunded:
      if (!order.refund_due) return failed_precondition("no refund is owed on this order");
      order.refund_due = false;
      if (wire::is_legal_transition(status, OrderStatus::kRefunded)) {
        SHOPEASY_RETURN_IF_ERROR(
            set_status(tx, order, OrderStatus::kRefunded, order.reason, now_ms));
      }
      break;
  }
  order.order.updated_at_ms = now_ms;
  SHOPEASY_RETURN_IF_ERROR(tx.update_order(order));
  return order;
}

Status apply_order_change(OrderTx& tx, const std::string& store_id, const Change& change,
                          std::int64_t now_ms) {
  if (change.kind == kOrderLinesKind) return apply_lines(tx, store_id, change, now_ms);
  const bool is_status = change.kind == kOrderStatusKind;
  wire::FieldReader r(change.body, "body");
  std::string order_id;
  r.required_string("order_id", &order_id, wire::kIdRule);
  std::string status_text;
  std::optional<std::string> reason, runner_id;
  std::optional<std::int64_t> eta_ms;
  std::optional<double> lat, lon;
  if (is_status) {
    r.required_string("status", &status_text, wire::StringRule{.max_len = 32, .non_empty = true});
    r.optional_string("reason", &reason, wire::StringRule{.max_len = 256});
  } else {
    r.optional_double("lat", &lat, -90, 90);
    r.optional_double("lon", &lon, -180, 180);
  }
  r.optional_string("runner_id", &runner_id, wire::kIdRule);
  r.optional_int("eta_ms", &eta_ms, std::int64_t{0}, wire::kMaxInt64);
  OrderStatus to_status = OrderStatus::kPendingPayment;
  bool known_status = false;
  if (is_status) {
    if (auto parsed = wire::from_string<OrderStatus>(status_text)) {
      to_status = *parsed;
      known_status = true;
    }
  }
  const OrderStatus* to = &to_status;
  // A malformed event must not block the store's other changes: it is counted, not applied.
  if (!r.ok() || (is_status && !known_status)) {
    return tx.count_kind(store_id, kOrderMalformedKind);
  }

  StatusOr<std::optional<OrderRecord>> loaded = tx.load_order(order_id);
  if (!loaded.ok()) return loaded.status();
  if (!loaded->has_value() || (*loaded)->order.store_id != store_id) {
    return tx.count_kind(store_id, kOrderIgnoredKind);
  }
  OrderRecord order = std::move(**loaded);
  if (runner_id) order.runner_id = *runner_id;
  if (eta_ms && *eta_ms > 0) order.eta_ms = *eta_ms;

  if (!is_status) {
    if (order.order.status != OrderStatus::kOutForDelivery) {
      return tx.count_kind(store_id, kOrderIgnoredKind);
    }
    nlohmann::json body = {{"at_ms", now_ms}};
    if (lat && lon) {
      body["lat"] = *lat;
      body["lon"] = *lon;
    }
    if (order.eta_ms > 0) body["eta_ms"] = order.eta_ms;
    if (!order.runner_id.empty()) body["runner_id"] = order.runner_id;
    ++order.event_seq;
    SHOPEASY_RETURN_IF_ERROR(
        tx.append_event(order_id, OrderEvent{.seq = order.event_seq,
                                             .kind = std::string(kOrderEventPositionKind),
                                             .body = body,
                                             .at_ms = now_ms}));
    return tx.update_order(order);
  }

  const std::string why = reason.value_or("");
  const bool refused = *to == OrderStatus::kCancelled && why.rfind("refused", 0) == 0;
  if (refused && order.order.status == OrderStatus::kRouted) {
    SHOPEASY_RETURN_IF_ERROR(reroute(tx, order, "store " + store_id + " " + why, now_ms));
  } else if (*to == OrderStatus::kPacked && order.order.status == OrderStatus::kPacked) {
    // A packed order gets a runner, or gives one back: the status stays, the runner and
    // ETA are what this event says (none when it names none), and the customer sees it.
    if (!runner_id) {
      order.runner_id.clear();
      order.eta_ms = 0;
    }
    SHOPEASY_RETURN_IF_ERROR(set_status(tx, order, OrderStatus::kPacked, "", now_ms));
  } else if (!wire::is_legal_transition(order.order.status, *to) || *to == OrderStatus::kRouted ||
             *to == OrderStatus::kRefunded) {
    return tx.count_kind(store_id, kOrderIgnoredKind);
  } else if (*to == OrderStatus::kCancelled || *to == OrderStatus::kFailed) {
    SHOPEASY_RETURN_IF_ERROR(fail_or_cancel(tx, order, *to, why, now_ms));
  } else {
    // Once the store accepts, the stock is reserved there and shows in its replica.
    if (*to == OrderStatus::kAccepted) SHOPEASY_RETURN_IF_ERROR(release(tx, order));
    SHOPEASY_RETURN_IF_ERROR(set_status(tx, order, *to, why, now_ms));
  }
  return tx.update_order(order);
}

namespace {

// Whether an order is over for its store and its customer: nothing left to deliver,
// and no refund still owed.
bool order_is_closed(const OrderRecord& o) {
  switch (o.order.status) {
    case OrderStatus::kDelivered:
    case OrderStatus::kRefunded:
      return true;
    case OrderStatus::kCancelled:
    case OrderStatus::kFailed:
      return !o.refund_due;
    default:
      return false;
  }
}

// Two decimals of a degree: about 1.1 km, the size of a delivery zone.
double coarse_degrees(double v) { return std::round(v * 100.0) / 100.0; }

}  // namespace

StatusOr<ForgetResult> forget_customer(OrderTx& tx, const std::string& customer_id,
                                       const std::string& tombstone, std::int64_t now_ms) {
  if (customer_id.empty()) return invalid_argument("is required", "customer_id");
  if (tombstone.empty() || tombstone == customer_id) {
    return invalid_argument("must be a new, non-empty id", "tombstone");
  }
  SHOPEASY_ASSIGN_OR_RETURN(std::vector<std::string> ids, tx.customer_order_ids(customer_id));
  std::vector<OrderRecord> orders;
  ForgetResult result;
  for (const std::string& id : ids) {
    SHOPEASY_ASSIGN_OR_RETURN(std::optional<OrderRecord> order, tx.load_order(id));
    if (!order) continue;
    if (!order_is_closed(*order)) ++result.open_orders;
    orders.push_back(std::move(*order));
  }
  if (result.open_orders > 0) return result;
  std::set<std::string> stores;
  for (OrderRecord& o : orders) {
    o.order.customer_id = tombstone;
    o.order.delivery.lat = coarse_degrees(o.order.delivery.lat);
    o.order.delivery.lon = coarse_degrees(o.order.delivery.lon);
    if (o.order.delivery.geohash && o.order.delivery.geohash->size() > 5) {
      o.order.delivery.geohash->resize(5);
    }
    o.order.updated_at_ms = std::max(o.order.updated_at_ms, now_ms);
    SHOPEASY_RETURN_IF_ERROR(tx.update_order(o));
    if (o.order.store_id && !o.order.store_id->empty()) stores.insert(*o.order.store_id);
    for (const std::string& tried : o.tried) stores.insert(tried);
    ++result.orders_forgotten;
  }
  SHOPEASY_RETURN_IF_ERROR(tx.erase_customer_traces(customer_id, ids));
  for (const std::string& store : stores) {
    const Status queued = tx.enqueue(store, kCustomerForgetKind,
                                     {{"customer_id", customer_id}, {"tombstone", tombstone}});
    // A store removed from the registry since keeps nothing the cloud can reach.
    if (queued.code() == StatusCode::kNotFound) continue;
    SHOPEASY_RETURN_IF_ERROR(queued);
    ++result.stores_told;
  }
  return result;
}

std::string order_doc(const OrderRecord& o) {
  nlohmann::json holds = nlohmann::json::array();
  for (const HeldLine& h : o.holds) holds.push_back({{"sku", h.sku}, {"qty", h.qty}});
  return dump_json({{"order", wire::encode(o.order)},
                    {"reason", o.reason},
                    {"payment_intent_id", o.payment_intent_id},
                    {"paid", o.paid},
                    {"refund_due", o.refund_due},
                    {"payment_due_ms", o.payment_due_ms},
                    {"accept_by_ms", o.accept_by_ms},
                    {"accept_window_ms", o.accept_window_ms},
                    {"candidates", o.candidates},
                    {"tried", o.tried},
                    {"holds", holds},
                    {"runner_id", o.runner_id},
                    {"eta_ms", o.eta_ms},
                    {"event_seq", o.event_seq}});
}

StatusOr<OrderRecord> parse_order_doc(std::string_view text) {
  StatusOr<nlohmann::json> j = parse_stored_json(text, "order");
  if (!j.ok()) return j.status();
  try {
    OrderRecord o;
    StatusOr<wire::Order> order = wire::decode_order(j->at("order"));
    if (!order.ok()) return internal_error("stored order is invalid: " + order.status().message());
    o.order = std::move(*order);
    o.reason = j->at("reason").get<std::string>();
    o.payment_intent_id = j->at("payment_intent_id").get<std::string>();
    o.paid = j->at("paid").get<bool>();
    o.refund_due = j->at("refund_due").get<bool>();
    o.payment_due_ms = j->at("payment_due_ms").get<std::int64_t>();
    o.accept_by_ms = j->at("accept_by_ms").get<std::int64_t>();
    o.accept_window_ms = j->at("accept_window_ms").get<std::int64_t>();
    o.candidates = j->at("candidates").get<std::vector<std::string>>();
    o.tried = j->at("tried").get<std::vector<std::string>>();
    for (const nlohmann::json& h : j->at("holds")) {
      o.holds.push_back(HeldLine{h.at("sku").get<std::string>(), h.at("qty").get<std::int64_t>()});
    }
    o.runner_id = j->at("runner_id").get<std::string>();
    o.eta_ms = j->at("eta_ms").get<std::int64_t>();
    o.event_seq = j->at("event_seq").get<std::int64_t>();
    return o;
  } catch (const nlohmann::json::exception& e) {
    return internal_error(std::string("stored order is corrupt: ") + e.what());
  }
}

}  // namespace shopeasy::cloud::storage::detail

namespace shopeasy::cloud::storage {

std::string notification_key(const std::string& order_id, std::int64_t event_seq,
                             std::string_view channel, const std::string& customer_id) {
  return order_id + ":" + std::to_string(event_seq) + ":" + std::string(channel) + ":" +
         customer_id;
}

}  // namespace shopeasy::cloud::storage
