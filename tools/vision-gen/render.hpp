// Draws a Symbol as a grey image: dark modules on a light label with the quiet zones
// the symbology asks for, at any (also fractional) pixels per module. Fractional
// sizes are drawn at a whole multiple and area-averaged down, so edges are
// anti-aliased like a camera's. Pure and thread-safe.
#pragma once

#include <opencv2/core.hpp>

#include "tools/vision-gen/encoders.hpp"

namespace shopeasy::vision_gen {

struct RenderOptions {
  double px_per_module = 3.0;  // > 0
  // Linear codes: bar height in modules; 0 picks the symbology's usual proportion.
  double bar_height_modules = 0;
  std::uint8_t dark = 0;     // grey level of dark modules
  std::uint8_t light = 255;  // grey level of the label
};

// CV_8UC1 image of the symbol including quiet zones.
cv::Mat render_symbol(const Symbol& symbol, const RenderOptions& options);

}  // namespace shopeasy::vision_gen
