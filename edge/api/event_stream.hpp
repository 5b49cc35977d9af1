// GET /api/events: the edge's events as Server-Sent Events. Durable events carry
// their sequence number as the SSE id, so a client that reconnects with
// Last-Event-ID (or ?last_event_id=) gets everything it missed replayed from the
// events table, then the live stream; live-only events (runner positions) have no id
// and are not replayed. ?types=stock,runner limits the stream to type prefixes.
#pragma once

#include <functional>
#include <vector>

#include "common/http/server.hpp"
#include "edge/events/event_bus.hpp"

namespace shopeasy::edge::api {

// Reads durable events with seq > after, oldest first, at most `limit`.
using ReplayFn = std::function<StatusOr<std::vector<events::Event>>(std::int64_t after, int limit)>;

// One SSE frame: "id: 7\nevent: stock.changed\ndata: {...}\n\n" (no id when seq is 0).
std::string format_sse(const events::Event& event);

void register_event_stream(http::HttpServer& server, events::EventBus& bus, ReplayFn replay,
                           std::vector<std::string> roles);

}  // namespace shopeasy::edge::api
