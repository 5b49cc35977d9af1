// The CI-sized vision check: the chain alone on the real photos (when the sample
// directory is there), on the zint renders (when zint is installed) and on generated
// medium and hard scenes of every symbology drawn from a held-out seed, each count
// held against a floor. A change that loses reads on any of them fails.
//
// Then the scene types of scene_eval.hpp (two codes in a frame, codes cut by the
// frame's edge, larger QR and DataMatrix, shared company prefixes) at the medium and
// hard levels from the same seed: frames with every code read against a floor, and
// frames with a wrong read against a ceiling.
//
// Floors file (JSON): {"photos": {"qr": 58, ...}, "zint": {...},
// "generated-medium": {...}, "generated-hard": {...}, "max_false_reads": 0,
// "scenes-two-codes-medium": {...}, ... (frames with every code read),
// "max_scene_wrong_reads": 0, "scene_wrong_reads": {"scenes-cut-hard": {"qr": 1}}
// (per-set exceptions to that ceiling)}; counts of images read per symbology. A set
// that is absent from the file is reported and not checked (its wrong reads still
// are); a set that could not be run (no samples, no zint) is reported as skipped.
//
// Then shelf scans without an empty reference (shelf_learn_eval.hpp, held-out seeds):
// "shelf-no-reference": {"gen": {"frame0_recall", "frame10_recall", "precision",
// "phantom_precision"}, "sim": {...}}, each a floor for its measure.
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
  // Scene-type frames per symbology and level (see scene_eval.hpp).
  int two_codes = 8;
  int cut = 10;
  int large_matrix = 16;
  // Trading sequences per shelf source for the no-empty-reference check (11 frames).
  int shelf_sequences = 2;
  int shared_prefix = 24;
  std::uint32_t seed = kHeldOutSeed;
  bool verbose = false;
};

// The counts, each check with its floor, and "passed".
nlohmann::json run_smoke_eval(const SmokeEvalOptions& options, std::ostream& out);

}  // namespace shopeasy::bench::vision
