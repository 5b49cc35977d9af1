// Matrix symbols (DataMatrix, QR) too small or too blurred for zxing-cpp's own
// detector: the symbol's outline is found from its dark modules, refined against the
// modules the standard fixes (finders, timing), its module grid sampled and re-drawn
// clean, and the clean symbol read by zxing-cpp (whose Reed-Solomon decoding rejects
// every wrong guess). Pure and thread-safe.
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

enum class MatrixKind { kDataMatrix, kQr };

// A grid as sampled: its symbology and size, the outline refined to fit the modules
// the standard fixes (finders, timing), how well they fit, and each module's grey
// value (row-major, n x n), turned upright.
struct SampledGrid {
  MatrixKind kind = MatrixKind::kDataMatrix;
  int n = 0;
  Quad outline{};
  int turns = 0;  // quarter turns clockwise that make the outline's grid upright
  double fit = 0;
  std::vector<float> values;
};

// The most plausible grids (best fit first) for a symbol roughly outlined by `outline`.
std::vector<SampledGrid> sample_matrix_grids(const cv::Mat& crop, const Quad& outline,
                                             MatrixKind kind, std::size_t max_grids);

// Dark/light decisions (row-major, true = dark) for a sampled grid, the likeliest
// first: a threshold between the fixed modules' levels, a blur model, then thresholds
// after sharpening between modules, then the blur model from those.
std::vector<std::vector<bool>> matrix_decisions(const SampledGrid& grid);

struct GridReadStats {
  int reads = 0;           // clean symbols given to zxing-cpp
  int library_errors = 0;  // reads the library failed on
};

// Reads a square DataMatrix (10x10 to 26x26 modules) or a QR Code (versions 1 to 6)
// whose outline in `crop` is roughly `outline`: the size and orientation come from the
// modules the standard fixes, the outline is refined to fit them, and the data
// modules are decided against the light and dark levels those show, with blur between
// neighbouring modules taken back out. nullopt when nothing decodes.
std::optional<RawCode> read_matrix_grid(const cv::Mat& crop, const Quad& outline, MatrixKind kind,
                                        GridReadStats* stats = nullptr);

}  // namespace shopeasy::edge::vision
