// The catalog-read phase of fleet_bench: customers reading the nearest store's catalog
// (GET /api/inventory?geo_hash=) on one cloud instance, beside a hello-world cpp-httplib
// server (its keep-alive and backlog limits lifted) driven by the same clients in the
// same run.
#pragma once

#include <string>

namespace shopeasy::bench::fleet {

struct CatalogReadArgs {
  int skus = 1000;       // in the store's catalog
  int clients = 8;       // keep-alive connections sending back to back
  double seconds = 5;    // measured, per server
  std::string self_exe;  // this program, run with --hello-server for the baseline
};

// Prints and records reads/s and p50/p99 for both servers and their ratio (targets:
// >= 20,000 reads/s, p99 < 5 ms). False when a target was missed; `measured` false when
// it could not measure.
bool run_catalog_reads(const CatalogReadArgs& args, bool* measured);

}  // namespace shopeasy::bench::fleet
