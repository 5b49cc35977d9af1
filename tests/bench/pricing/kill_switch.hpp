// The kill switch at the stores: real shopeasy-edge daemons follow the real cloud's
// pricing view; the time from the admin's PUT /v1/pricing/enabled until each edge's
// GET /api/pricing shows it.
#pragma once

#include "tests/harness/harness.hpp"

namespace shopeasy::bench {

// Starts `edges` edges (stores k1..kN, registered here) against the cloud at
// `cloud_port`, waits until each holds a view, then flips dynamic pricing off and on
// again and times both at every edge. Prints its rows; returns 0 when every edge saw
// each flip within 1 s, 1 when one did not, 2 when the phase could not run.
int measure_kill_switch(int cloud_port, int edges, testing::TempDir& dir);

}  // namespace shopeasy::bench
