#include "tests/contract/sse.hpp"

namespace shopeasy::contract {

std::vector<SseEvent> parse_sse(std::string_view body) {
  std::vector<SseEvent> out;
  SseEvent pending;
  bool has_data = false;
  std::size_t i = 0;
  while (i < body.size()) {
    // One line, ended by CRLF, CR or LF; a line with no end is the cut tail: dropped.
    const std::size_t end = body.find_first_of("\r\n", i);
    if (end == std::string_view::npos) break;
    const std::string_view line = body.substr(i, end - i);
    i = end + 1;
    if (body[end] == '\r' && i < body.size() && body[i] == '\n') ++i;
    if (line.empty()) {
      if (has_data) out.push_back(std::move(pending));
      pending = SseEvent{};
      has_data = false;
      continue;
    }
    if (line.front() == ':') continue;
    const std::size_t colon = line.find(':');
    const std::string_view field = line.substr(0, colon);
    std::string_view value;
    if (colon != std::string_view::npos) {
      value = line.substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    }
    if (field == "event") {
      pending.type = std::string(value);
    } else if (field == "id") {
      pending.id = std::string(value);
    } else if (field == "data") {
      if (has_data) pending.data += '\n';
      pending.data += value;
      has_data = true;
    }
  }
  return out;
}

}  // namespace shopeasy::contract
