// Reading a recorded Server-Sent Events body back into its events, so the data of each
// can be checked against the schema its API document gives for the event's type.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shopeasy::contract {

struct SseEvent {
  std::string type = "message";   // the `event:` field; "message" when there is none
  std::optional<std::string> id;  // the `id:` field, when sent
  std::string data;               // the `data:` lines joined with "\n"
};

// The complete events of `body` (each ended by a blank line), in order, parsed as the
// HTML standard's event stream format says: "field: value" or "field:value", comment
// lines (":...") ignored, CRLF, CR or LF line ends, several data lines joined with "\n".
// A block without data is dispatched by no browser and is left out, as is a last event
// the stream was cut in (no blank line after it): a recording stops mid-stream.
std::vector<SseEvent> parse_sse(std::string_view body);

}  // namespace shopeasy::contract
