// The CI-sized vision check: the chain alone on the real photos (when the sample
// directory is there), on the zint renders (when zint is installed) and on generated
// medium and hard scenes of every symbology drawn from a held-out seed, each count
// held against a floor. A change that loses reads on any of them fails.
//
// Floors file (JSON): {"photos": {"qr": 58, ...}, "zint": {...},
// "generated-medium": {...}, "generated-hard": {...}, "max_false_reads": 0}; counts of
// images read per symbology. A set that is absent
// from the file is reported and not checked; a set that could not be run (no samples,
// no zint) is reported as skipped.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

namespace shopeasy::bench::vision {

// Never used while tuning the decoder: the generated scenes it draws judge it.
constexpr std::uint32_t kHeldOutSeed = 7100913;

struct SmokeEvalOptions {
  std::string samples_dir;
  std::string floors_path;
  std::string work_dir;
  int jobs = 2;
  int per_kind = 24;  // generated scenes per symbology and level
  std::uint32_t seed = kHeldOutSeed;
  bool verbose = false;
};

// The counts, each check with its floor, and "passed".
nlohmann::json run_smoke_eval(const SmokeEvalOptions& options, std::ostream& out);

}  // namespace shopeasy::bench::vision
