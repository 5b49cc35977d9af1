#include "tests/bench/inventory/phases.hpp"

namespace shopeasy::bench {

Table make_results_table() {
  return Table({"measure", "result", "baseline (same run)", "ratio", "target", "verdict"});
}

std::string verdict(bool met) { return met ? "met" : "MISSED"; }

}  // namespace shopeasy::bench
