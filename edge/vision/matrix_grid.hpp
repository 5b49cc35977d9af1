// DataMatrix symbols too small or too blurred for zxing-cpp's own detector: the
// symbol's outline is found from its dark modules, refined against the finder and
// timing pattern, its module grid sampled and re-drawn clean, and the clean symbol
// read by zxing-cpp (whose Reed-Solomon decoding rejects every wrong guess). Pure and
// thread-safe.
#pragma once

#include <array>
#include <optional>
#include <vector>

#include <opencv2/core.hpp>

#include "edge/vision/zxing_reader.hpp"

namespace shopeasy::edge::vision {

// Four corners, clockwise on screen (y down) from the one nearest the top-left.
using Quad = std::array<cv::Point2f, 4>;

// Orders four corners clockwise from the one nearest the top-left; any rotation.
Quad clockwise_from_top_left(std::vector<cv::Point2f> corners);

// Outlines a matrix symbol around the centre of `crop` (8-bit grey) may have.
std::vector<Quad> matrix_outlines(const cv::Mat& crop);

struct GridReadStats {
  int reads = 0;           // clean symbols given to zxing-cpp
  int library_errors = 0;  // reads the library failed on
};

// Reads a square DataMatrix (10x10 to 26x26 modules) whose outline in `crop` is
// roughly `outline`: the grid size and orientation come from the finder and timing
// pattern, the outline is refined to fit them, and the modules are decided against
// the light and dark levels those patterns show, with blur between neighbouring
// modules taken back out. nullopt when nothing decodes.
std::optional<RawCode> read_datamatrix_grid(const cv::Mat& crop, const Quad& outline,
                                            GridReadStats* stats = nullptr);

}  // namespace shopeasy::edge::vision
