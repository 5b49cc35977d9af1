// Shelf scans on generated 1080p shelves with 24 slots each, random fill, a moved camera
// and changed light: empty-slot recall and precision, low and wrong-product detection,
// and the time per frame on one thread.
#pragma once

#include <cstdint>
#include <ostream>

#include <nlohmann/json.hpp>

namespace shopeasy::bench::vision {

struct ShelfEvalOptions {
  int shelves = 200;
  int without_empty_reference = 40;  // also scanned with the full reference only
  int jobs = 2;
  // Distinct from the seeds the scanner's column model was fitted on.
  std::uint32_t seed = 100000;
};

nlohmann::json run_shelf_eval(const ShelfEvalOptions& options, std::ostream& out);

}  // namespace shopeasy::bench::vision
