// The order-tracking phase of fleet_bench: many customers' event streams open on one
// cloud instance while nothing changes, then one order event fanned out to all of them.
#pragma once

#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::bench::fleet {

struct TrackingArgs {
  int streams = 10000;
  double idle_s = 10;
};

// Starts its own cloud (SQLite, sandbox payments, stream limits raised to `streams`),
// places and pays one order, opens the streams on it and prints and records: the idle
// instance's CPU and RSS with every stream open (targets < 10% of a core, < 500 MB) and
// the time from the store's status change to its arrival on each stream (p50/p99,
// target p99 < 250 ms). False when a target was missed; `measured` false when it could
// not measure.
bool run_tracking(const TrackingArgs& args, bool* measured);

}  // namespace shopeasy::bench::fleet
