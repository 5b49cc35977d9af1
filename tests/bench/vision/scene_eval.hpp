// Scene types beyond one whole code in view (tools/vision-gen/scene_types.hpp): two
// codes in one frame, a code cut by the frame's edge, larger QR and DataMatrix symbols,
// and EAN-13s from catalogs whose items share a GS1 company prefix. For each type,
// symbology and level: how often the chain read every code in the frame (and at least
// one), and how many frames gave a wrong read (any text that is not a code in view) or
// a catalog misread (another item of the catalog in view); beside it zxing-cpp alone
// (one whole-frame read), OpenCV alone (EAN/UPC) and zbarimg on a sample of the same
// images.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "edge/vision/decoder.hpp"

namespace shopeasy::bench::vision {

struct SceneEvalOptions {
  int per_set = 200;    // images per scene type, symbology and level
  int zbar_every = 10;  // every n-th image is also given to zbarimg (0: never)
  int jobs = 2;
  std::uint32_t seed = 1;
  std::string work_dir;  // where zbarimg's sample is written
  bool verbose = false;  // each wrong read of the chain on stderr
  // Only these sets: "cut", "cut:qr" or "cut:qr:hard"; empty: all of them.
  std::vector<std::string> only;
  // Levels to run (names as in scene.hpp); empty: medium and hard.
  std::vector<std::string> levels;
  // Per type, how many images per set (0: per_set), e.g. fewer two-code scenes in CI.
  std::vector<std::pair<std::string, int>> per_type;
  // zxing-cpp alone and OpenCV alone beside the chain (the CI check runs the chain alone).
  bool references = true;
  std::string misses_dir;  // when set, frames with a chain miss or wrong read go there
  edge::vision::DecoderOptions decoder;
};

// {"sets": [{"type", "symbology", "level", "n", "codes", "chain": {"all", "any",
// "wrong", "catalog_wrong"}, "zxing": {...}, "opencv": {...} | null, "zbar": {"n", ...}
// | null}], "totals": {...}}; counts are frames.
nlohmann::json run_scene_eval(const SceneEvalOptions& options, std::ostream& out);

}  // namespace shopeasy::bench::vision
