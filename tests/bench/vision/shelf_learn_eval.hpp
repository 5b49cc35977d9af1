// Shelf scans without an empty reference, over time: sequences of frames of a store
// trading normally (facings sell, slots run empty and are restocked; the camera shakes
// a little and the light changes from frame to frame), from two independent renderers:
// the project's generator (tools/vision-gen) and tools/shelf-sim. Reports empty-slot
// recall and precision on the first frame and after 10 and 50 frames of learning,
// beside the same frames scanned with an empty reference; phantom-stock alert
// precision (the ledger: most empty slots at 0, some with stock it only believes in,
// some stocked slots at 0 by a drifted count); CPU time per 1080p frame.
// Seeds: kLearnTuningSeed.. +5 and +10.. +15 were used while tuning the scanner; the
// report uses kLearnHeldOutSeed.. (never used while tuning) unless told otherwise.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

namespace shopeasy::bench::vision {

inline constexpr std::uint32_t kLearnTuningSeed = 500000;
inline constexpr std::uint32_t kLearnHeldOutSeed = 9300017;

struct ShelfLearnEvalOptions {
  int sequences = 12;  // per source
  int frames = 51;     // frame 0 .. frames-1
  int jobs = 2;
  std::uint32_t seed = kLearnHeldOutSeed;
  bool ledger = true;            // the scanner may ask the ledger
  std::string sources = "both";  // "gen", "sim" or "both"
  bool verbose = false;
  std::string dump_dir;  // annotated frames of the first sequence at the checkpoints
};

nlohmann::json run_shelf_learn_eval(const ShelfLearnEvalOptions& options, std::ostream& out);

}  // namespace shopeasy::bench::vision
