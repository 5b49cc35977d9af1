// Finds where codes may be in a frame, so each can be cut out, turned upright and read
// on its own. Linear codes are areas of strong, parallel gradients (one dominant
// orientation); matrix codes are areas of strong gradients in every direction. Uses
// the structure tensor on a downscaled copy. Pure and thread-safe.
#pragma once

#include <vector>

#include <opencv2/core.hpp>

namespace shopeasy::edge::vision {

struct CodeRegion {
  cv::RotatedRect box;  // in the input image's pixels
  bool linear = true;   // bars (true) or a matrix code (false)
  // Direction across the bars (the gradient), radians in [0, pi); linear only.
  double across_angle = 0;
  double score = 0;  // larger first
  // How parallel the gradients of the whole area are (0..1); linear only. Low for an
  // area joining codes turned differently (two products side by side).
  double coherence = 1;
};

struct RegionOptions {
  int work_max_side = 960;  // the analysis runs at most this large
  int max_regions = 24;
  int min_area_cells = 6;         // linear; 4x4-pixel cells at the working scale
  int min_matrix_area_cells = 6;  // matrix codes (corners of shapes look like tiny ones)
};

// Candidate regions, best first. `gray` is 8-bit single channel and not empty. When
// `reduced` is given it receives the downscaled copy the analysis ran on (left empty
// when `gray` was small enough to be used as it is).
std::vector<CodeRegion> propose_regions(const cv::Mat& gray, const RegionOptions& options = {},
                                        cv::Mat* reduced = nullptr);

}  // namespace shopeasy::edge::vision
