// The decoder chain's time on 1920x1080 frames, one thread, CPU time of that thread.
#pragma once

#include <cstdint>
#include <ostream>

#include <nlohmann/json.hpp>

#include "edge/vision/decoder.hpp"

namespace shopeasy::bench::vision {

struct SpeedEvalOptions {
  int frames = 300;  // with one code each (medium level, every symbology in turn)
  int blank = 100;   // without a code
  std::uint32_t seed = 3;
  edge::vision::DecoderOptions decoder;
};

nlohmann::json run_speed_eval(const SpeedEvalOptions& options, std::ostream& out);

}  // namespace shopeasy::bench::vision
