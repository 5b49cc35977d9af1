// OrderSource: what dispatch needs from the store's order book, and nothing more. The
// order book implements it (through a small adapter in the daemon); tests give a fake.
// Dispatch never reads or writes orders any other way, so the order book stays the one
// place that decides which status changes are legal and what goes up to the cloud.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status/status.hpp"
#include "common/wire/runner.hpp"

namespace shopeasy::edge::dispatch {

// A packed order waiting for a runner.
struct PackedOrder {
  std::string order_id;
  double lat = 0;  // drop location
  double lon = 0;
  std::int64_t promised_at_ms = 0;  // Unix ms promised to the customer
  std::int64_t packed_at_ms = 0;
  int units = 1;
};

// Calls come from the dispatcher's thread, one at a time.
class OrderSource {
 public:
  virtual ~OrderSource() = default;
  // Packed orders that have no runner yet.
  virtual StatusOr<std::vector<PackedOrder>> packed_awaiting_dispatch() = 0;
  // The order now rides with `runner_id` on `assignment_id`, expected at `eta_ms`. An
  // error (e.g. the order was cancelled meanwhile) keeps the order off the assignment.
  virtual Status mark_assigned(const std::string& order_id, const std::string& runner_id,
                               const std::string& assignment_id, std::int64_t eta_ms) = 0;
  // A runner's milestone for one order (picked_up, arrived_customer, delivered, failed).
  virtual Status on_runner_event(const std::string& runner_id, wire::RunnerEventType type,
                                 const std::string& order_id, std::int64_t at_ms,
                                 const std::string& reason) = 0;
  // Live position of the runner carrying the order, with a fresh ETA.
  virtual Status on_position(const std::string& order_id, const std::string& runner_id, double lat,
                             double lon, std::int64_t eta_ms, std::int64_t at_ms) = 0;
  // The runner will not collect the order after all (it went offline before picking it
  // up); the order waits for dispatch again.
  virtual void unassign(const std::string& order_id) = 0;
};

}  // namespace shopeasy::edge::dispatch
