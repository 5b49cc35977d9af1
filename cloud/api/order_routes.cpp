#include "cloud/api/order_routes.hpp"

#include <charconv>
#include <memory>
#include <optional>
#include <thread>

namespace shopeasy::cloud::api {
namespace {

using http::Access;
using http::Request;
using http::Response;

constexpr const char* kOrderPath = R"(/api/orders/([A-Za-z0-9_-]{1,64}))";
constexpr int kEventPage = 100;

bool is_admin(const Request& req) { return req.principal.role == "admin"; }

bool is_final(const nlohmann::json& body) {
  const std::string status = body.value("status", "");
  return status == "delivered" || status == "cancelled" || status == "failed" ||
         status == "refunded";
}

// -1 when absent or not a non-negative integer.
std::int64_t last_event_id(const Request& req) {
  std::string text = req.header("Last-Event-ID");
  if (text.empty()) text = req.query_param("last_event_id").value_or("");
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || v < 0) return -1;
  return v;
}

struct EventStream {
  storage::CloudStore* store = nullptr;
  http::HttpServer* server = nullptr;
  const Clock* clock = nullptr;
  OrderEventHub* hub = nullptr;             // null: the stream polls on its own
  bool hinted = false;                      // the hub said "look": if the read finds nothing, pause
  std::vector<storage::OrderEvent> handed;  // events the hub read for this order's streams
  std::string order_id;
  std::string customer_id;  // the customer watching; empty for an admin
  std::int64_t cursor = 0;
  OrderRouteOptions options;
  MonoTime last_write{};
  // Set once a final status has gone out: the stream then waits for a late refund
  // until this wall time (Unix ms) and ends.
  std::optional<std::int64_t> linger_until_ms;
  bool ended = false;  // nothing can follow: the stream ends once it is written out
  // The order as read during this step, so one step reads it at most once.
  std::optional<StatusOr<storage::OrderRecord>> order_read;

  const StatusOr<storage::OrderRecord>& order_now() {
    if (!order_read) order_read.emplace(store->get_order(order_id));
    return *order_read;
  }

  // After the final status `e`: whether a money event can still follow, and until when.
  void on_final(const storage::OrderEvent& e) {
    if (e.body.value("status", "") == "refunded") {
      ended = true;
      return;
    }
    const StatusOr<storage::OrderRecord>& order = order_now();
    // An order never paid cannot be refunded; one that cannot be read is not waited on.
    if (!order.ok() || !order->paid) {
      ended = true;
      return;
    }
    linger_until_ms = e.at_ms + options.late_events_window.count();
  }

  // Whether the order still belongs to the customer watching it. After the order ended
  // the customer may delete their account (DELETE /api/me needs every order final), which
  // moves the order to a tombstone id: a late refund must then not reach the stream the
  // old token opened. Read only for events after the final status, so it costs nothing
  // while the order is live.
  bool still_theirs() {
    if (customer_id.empty()) return true;
    const StatusOr<storage::OrderRecord>& order = order_now();
    return order.ok() && order->order.customer_id == customer_id;
  }

  bool step(http::StreamWriter& w) {
    if (!server->running()) return false;
    order_read.reset();
    StatusOr<std::vector<storage::OrderEvent>> events = std::vector<storage::OrderEvent>{};
    if (!handed.empty()) {
      events = std::move(handed);  // the hub read them once for every stream of the order
      handed.clear();
    } else {
      events = store->order_events(order_id, cursor, kEventPage);
    }
    if (!events.ok()) return false;
    std::string chunk;
    for (const storage::OrderEvent& e : *events) {
      cursor = e.seq;
      chunk += "id: " + std::to_string(e.seq) + "\nevent: " + e.kind + "\ndata: " + e.body.dump() +
               "\n\n";
      if (e.kind == "status" && is_final(e.body)) on_final(e);
    }
    const MonoTime now = clock->mono_now();
    if (!chunk.empty() && linger_until_ms && !still_theirs()) return false;
    if (!chunk.empty()) {
      hinted = false;
      last_write = now;
      // The final events are written before the stream ends.
      if (!w.write(chunk)) return false;
      if (ended && static_cast<int>(events->size()) < kEventPage) return false;
      return true;
    }
    if (ended) return false;
    if (linger_until_ms && to_unix_ms(clock->wall_now()) >= *linger_until_ms) {
      return false;  // the window for late events has passed
    }
    if (now - last_write >= options.keepalive) {
      last_write = now;
      return w.write(": keepalive\n\n");
    }
    if (hub == nullptr || hub->stopped() || hinted) {
      // No hub, or it woke this stream and the read found nothing new (an event the
      // read cannot see yet): the old pace, so the stream never spins.
      hinted = false;
      std::this_thread::sleep_for(options.poll_interval);
      return true;
    }
    // Until the hub knows of a new event, the next keepalive is due, or the fallback
    // read (for events the hub cannot see) is.
    const auto keepalive_due =
        std::chrono::duration_cast<std::chrono::milliseconds>(last_write + options.keepalive - now);
    const auto timeout =
        std::max(std::chrono::milliseconds(1), std::min(options.fallback_interval, keepalive_due));
    OrderEventHub::Wake wake = hub->wait(order_id, cursor, timeout);
    hinted = wake.kind == OrderEventHub::Wake::Kind::kLook;
    if (wake.kind == OrderEventHub::Wake::Kind::kEvents) handed = std::move(wake.events);
    return true;
  }
};

}  // namespace

void register_order_routes(http::HttpServer& server, orders::OrderService& service,
                           storage::CloudStore& store, OrderRouteOptions options,
                           OrderEventHub* hub, const Clock& clock) {
  server.route("POST", "/api/orders", Access::roles_of({"customer"}), [&service](const Request& r) {
    if (!r.is_json()) {
      return Response::error(
          Status(StatusCode::kUnsupportedMediaType, "Content-Type must be application/json"));
    }
    orders::Reply reply = service.place(r.principal.subject, r.header("Idempotency-Key"), r.body);
    return Response::json(reply.status, reply.body);
  });
  server.route("GET", kOrderPath, Access::roles_of({"customer", "admin"}),
               [&service](const Request& r) {
                 auto order = service.get(r.params[0], r.principal.subject, is_admin(r));
                 if (!order.ok()) return Response::error(order.status());
                 return Response::json(200, orders::OrderService::order_json(*order));
               });
  server.route("POST", std::string(kOrderPath) + "/cancel", Access::roles_of({"customer", "admin"}),
               [&service](const Request& r) {
                 auto order = service.cancel(r.params[0], r.principal.subject, is_admin(r));
                 if (!order.ok()) return Response::error(order.status());
                 return Response::json(200, orders::OrderService::order_json(*order));
               });
  server.route("GET", std::string(kOrderPath) + "/events", Access::roles_of({"customer", "admin"}),
               [&service, &store, &server, options, hub, &clock](const Request& r) {
                 auto order = service.get(r.params[0], r.principal.subject, is_admin(r));
                 if (!order.ok()) return Response::error(order.status());
                 auto state = std::make_shared<EventStream>();
                 state->store = &store;
                 state->server = &server;
                 state->hub = hub;
                 state->clock = &clock;
                 state->last_write = clock.mono_now();
                 state->order_id = r.params[0];
                 if (!is_admin(r)) state->customer_id = r.principal.subject;
                 state->cursor = std::max<std::int64_t>(last_event_id(r), 0);
                 state->options = options;
                 Response resp;
                 resp.content_type = "text/event-stream";
                 resp.stream = [state](http::StreamWriter& w) { return state->step(w); };
                 return resp;
               });
}

}  // namespace shopeasy::cloud::api
