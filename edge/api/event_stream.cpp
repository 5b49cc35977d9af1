#include "edge/api/event_stream.hpp"

#include <algorithm>
#include <charconv>
#include <memory>

#include "common/wire/json_fields.hpp"

namespace shopeasy::edge::api {

std::string format_sse(const events::Event& event) {
  std::string out;
  if (event.seq > 0) out += "id: " + std::to_string(event.seq) + "\n";
  out += "event: " + event.type + "\n";
  out += "data: " + wire::dump_compact(event.body) + "\n\n";
  return out;
}

namespace {

constexpr int kReplayPage = 500;
constexpr auto kPollInterval = std::chrono::milliseconds(1000);
constexpr int kKeepaliveEvery = 15;  // polls without events before a comment line

// Per-connection state of one stream, owned by the stream function.
struct StreamState {
  events::EventBus* bus = nullptr;
  ReplayFn replay;
  const http::HttpServer* server = nullptr;
  std::vector<std::string> type_prefixes;
  std::int64_t last_seq = 0;  // newest durable event sent
  std::uint64_t bus_pos = 0;
  std::uint64_t latest_pos = 0;  // version of the coalesced events (runner.updated) read to
  bool with_latest = true;       // the client wants a kind the bus coalesces
  bool replaying = true;
  bool greeted = false;
  int idle_polls = 0;

  bool wanted(const events::Event& e) const {
    if (type_prefixes.empty()) return true;
    for (const auto& p : type_prefixes) {
      if (e.type.rfind(p, 0) == 0) return true;
    }
    return false;
  }

  bool step(http::StreamWriter& w) {
    if (!server->running()) return false;
    if (!greeted) {
      greeted = true;
      return w.write("retry: 1000\n: shopeasy edge events\n\n");
    }
    if (replaying) {
      auto page = replay(last_seq, kReplayPage);
      if (!page.ok()) {
        events::Event err{0, "stream.error", {{"message", page.status().message()}}, 0};
        w.write(format_sse(err));
        return false;
      }
      std::string chunk;
      for (const auto& e : *page) {
        last_seq = e.seq;
        if (wanted(e)) chunk += format_sse(e);
      }
      if (static_cast<int>(page->size()) < kReplayPage) replaying = false;
      return chunk.empty() ? true : w.write(chunk);
    }
    if (with_latest) bus->wait_any(bus_pos, latest_pos, kPollInterval);
    auto r = bus->read(bus_pos, 256, with_latest ? std::chrono::milliseconds(0) : kPollInterval);
    bus_pos = r.next;
    if (r.lost) {
      // Fell behind the ring: re-read durable events from the database.
      replaying = true;
      return true;
    }
    std::string chunk;
    for (const auto& e : r.events) {
      if (e.seq > 0) {
        if (e.seq <= last_seq) continue;  // already sent during replay
        last_seq = e.seq;
      }
      if (wanted(e)) chunk += format_sse(e);
    }
    if (with_latest) {
      // The newest state of each runner that changed since the last read: a client that
      // fell behind gets one event per runner, not every step it missed.
      auto latest = bus->read_latest(latest_pos, 256);
      latest_pos = latest.next;
      for (const auto& e : latest.events) {
        if (wanted(e)) chunk += format_sse(e);
      }
    }
    if (chunk.empty()) {
      if (++idle_polls >= kKeepaliveEvery) {
        idle_polls = 0;
        return w.write(": keepalive\n\n");
      }
      return true;
    }
    idle_polls = 0;
    return w.write(chunk);
  }
};

std::int64_t parse_last_event_id(const http::Request& req) {
  std::string text = req.header("Last-Event-ID");
  if (text.empty()) text = req.query_param("last_event_id").value_or("");
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || v < 0) return -1;
  return v;
}

}  // namespace

void register_event_stream(http::HttpServer& server, events::EventBus& bus, ReplayFn replay,
                           std::vector<std::string> roles) {
  server.route("GET", "/api/events", http::Access::roles_of(std::move(roles)),
               [&server, &bus, replay = std::move(replay)](const http::Request& req) {
                 auto state = std::make_shared<StreamState>();
                 state->bus = &bus;
                 state->replay = replay;
                 state->server = &server;
                 // Taken before any replay so nothing committed meanwhile can fall in between.
                 state->bus_pos = bus.head();
                 state->latest_pos = bus.latest_head();
                 const std::int64_t last = parse_last_event_id(req);
                 if (last >= 0) {
                   state->last_seq = last;
                 } else {
                   // A new client starts live: no history unless it asks with Last-Event-ID.
                   state->replaying = false;
                 }
                 if (auto types = req.query_param("types")) {
                   std::string current;
                   for (char c : *types + ",") {
                     if (c == ',') {
                       if (!current.empty()) state->type_prefixes.push_back(current);
                       current.clear();
                     } else {
                       current += c;
                     }
                   }
                 }
                 // runner.updated is the one coalesced kind; a client that filters it out
                 // never waits on it.
                 state->with_latest =
                     state->type_prefixes.empty() ||
                     std::any_of(state->type_prefixes.begin(), state->type_prefixes.end(),
                                 [](const std::string& p) {
                                   return std::string_view("runner.updated").starts_with(p);
                                 });
                 http::Response r;
                 r.content_type = "text/event-stream";
                 r.stream = [state](http::StreamWriter& w) { return state->step(w); };
                 return r;
               });
}

}  // namespace shopeasy::edge::api
