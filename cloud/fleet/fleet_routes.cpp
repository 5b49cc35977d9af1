#include "cloud/fleet/fleet_routes.hpp"

#include <chrono>
#include <memory>
#include <thread>

#include "common/http/request_helpers.hpp"

namespace shopeasy::cloud::fleet {

using http::Access;
using http::Request;
using http::Response;

namespace {

StatusOr<std::int64_t> window_of(const Request& r) {
  auto w = http::int_param(r, "window_s", FleetService::kMinWindowS, FleetService::kMaxWindowS);
  if (!w.ok()) return w.status();
  return w->value_or(FleetService::kDefaultWindowS);
}

// Figures change every second: never cached.
Response fresh(Response r) {
  r.with_header("Cache-Control", "no-store");
  return r;
}

// One operator's live dashboard: the summary, read every kPushInterval (the service
// shares one read between callers for 2 s, so streams cost one read per interval
// between them) and sent when it changed. Steps are short so a stopping server is not
// held up by a stream.
constexpr std::chrono::seconds kPushInterval{2};
constexpr std::chrono::seconds kKeepalive{15};
constexpr std::chrono::milliseconds kStep{250};

struct SummaryStream {
  FleetService* service = nullptr;
  std::int64_t window_s = 0;
  std::string last_sent;  // the last summary sent, without its generation time
  std::chrono::steady_clock::time_point next_read{};
  std::chrono::steady_clock::time_point last_write = std::chrono::steady_clock::now();

  bool step(http::StreamWriter& w) {
    const auto now = std::chrono::steady_clock::now();
    if (now < next_read) {
      std::this_thread::sleep_for(
          std::min<std::chrono::steady_clock::duration>(kStep, next_read - now));
      return true;
    }
    next_read = now + kPushInterval;
    StatusOr<nlohmann::json> s = service->summary(window_s);
    if (!s.ok()) {
      // Said on the stream, which stays open: the next read may work.
      last_write = now;
      return w.write("event: unavailable\ndata: " + http::error_body(s.status()) + "\n\n");
    }
    nlohmann::json compared = *s;
    compared.erase("generated_at_ms");
    std::string text = compared.dump();
    if (text != last_sent) {
      last_sent = std::move(text);
      last_write = now;
      return w.write("event: summary\ndata: " + s->dump() + "\n\n");
    }
    if (now - last_write >= kKeepalive) {
      last_write = now;
      return w.write(": keepalive\n\n");
    }
    return true;
  }
};

}  // namespace

void register_fleet_routes(http::HttpServer& server, FleetService& service) {
  server.route("GET", "/v1/fleet/summary", Access::roles_of({"admin"}),
               [&service](const Request& r) {
                 auto window = window_of(r);
                 if (!window.ok()) return Response::error(window.status());
                 return fresh(http::reply(service.summary(*window)));
               });
  server.route("GET", "/v1/fleet/events", Access::roles_of({"admin"}),
               [&service](const Request& r) {
                 auto window = window_of(r);
                 if (!window.ok()) return Response::error(window.status());
                 auto state = std::make_shared<SummaryStream>();
                 state->service = &service;
                 state->window_s = *window;
                 Response resp;
                 resp.content_type = "text/event-stream";
                 resp.stream = [state](http::StreamWriter& w) { return state->step(w); };
                 return fresh(std::move(resp));
               });
  server.route("GET", R"(/v1/fleet/stores/([A-Za-z0-9_-]{1,64}))", Access::roles_of({"admin"}),
               [&service](const Request& r) {
                 auto window = window_of(r);
                 if (!window.ok()) return Response::error(window.status());
                 return fresh(http::reply(service.store(r.params[0], *window)));
               });
  server.route(
      "GET", R"(/v1/orders/([A-Za-z0-9_-]{1,64}))", Access::roles_of({"admin"}),
      [&service](const Request& r) { return fresh(http::reply(service.order(r.params[0]))); });
}

}  // namespace shopeasy::cloud::fleet
