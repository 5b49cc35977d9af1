#include "edge/daemon/dispatch_source.hpp"

namespace shopeasy::edge {

StatusOr<std::vector<dispatch::PackedOrder>> OrderBookDispatchSource::packed_awaiting_dispatch() {
  auto packed = book_.packed_awaiting_dispatch();
  if (!packed.ok()) return packed.status();
  std::vector<dispatch::PackedOrder> out;
  out.reserve(packed->size());
  for (const auto& p : *packed) {
    out.push_back({p.order_id, p.lat, p.lon, p.promised_at_ms, p.packed_at_ms, p.units});
  }
  return out;
}

}  // namespace shopeasy::edge
