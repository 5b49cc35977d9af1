#include "tools/vision-gen/render.hpp"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

namespace shopeasy::vision_gen {
namespace {

constexpr int kSupersample = 8;

double default_bar_height(const Symbol& s) {
  const int width = s.modules.cols + s.quiet_left + s.quiet_right;
  switch (s.kind) {
    case CodeKind::kEan8:
      return 55;
    case CodeKind::kEan13:
    case CodeKind::kUpcA:
    case CodeKind::kUpcE:
      return 69;
    default:
      return std::max(40.0, 0.3 * width);
  }
}

}  // namespace

cv::Mat render_symbol(const Symbol& symbol, const RenderOptions& options) {
  const bool linear = is_linear(symbol.kind);
  const int cols = symbol.modules.cols + symbol.quiet_left + symbol.quiet_right;
  const double bar_modules =
      options.bar_height_modules > 0 ? options.bar_height_modules : default_bar_height(symbol);
  // Guard bars of EAN/UPC hang below the others by five modules.
  const bool has_guards =
      linear && !symbol.guard.empty() &&
      std::find(symbol.guard.begin(), symbol.guard.end(), true) != symbol.guard.end() &&
      (symbol.kind != CodeKind::kCode128 && symbol.kind != CodeKind::kGs1_128);
  const int quiet_v = linear ? 4 : symbol.quiet_left;
  const int k = kSupersample;
  const int bar_px = static_cast<int>(std::lround(bar_modules * k));
  const int rows_px = linear ? (quiet_v * 2 * k + bar_px + (has_guards ? 5 * k : 0))
                             : (symbol.modules.rows + 2 * quiet_v) * k;
  cv::Mat big(rows_px, cols * k, CV_8UC1, cv::Scalar(options.light));
  if (linear) {
    for (int x = 0; x < symbol.modules.cols; ++x) {
      if (!symbol.modules.at<std::uint8_t>(0, x)) continue;
      const bool guard = has_guards && symbol.guard[static_cast<std::size_t>(x)];
      const int top = quiet_v * k;
      const int bottom = top + bar_px + (guard ? 5 * k : 0);
      const int left = (x + symbol.quiet_left) * k;
      cv::rectangle(big, cv::Rect(left, top, k, bottom - top), cv::Scalar(options.dark),
                    cv::FILLED);
    }
  } else {
    for (int y = 0; y < symbol.modules.rows; ++y) {
      for (int x = 0; x < symbol.modules.cols; ++x) {
        if (!symbol.modules.at<std::uint8_t>(y, x)) continue;
        cv::rectangle(big, cv::Rect((x + quiet_v) * k, (y + quiet_v) * k, k, k),
                      cv::Scalar(options.dark), cv::FILLED);
      }
    }
  }
  const double scale = options.px_per_module / k;
  const int out_w = std::max(1, static_cast<int>(std::lround(big.cols * scale)));
  const int out_h = std::max(1, static_cast<int>(std::lround(big.rows * scale)));
  cv::Mat out;
  cv::resize(big, out, cv::Size(out_w, out_h), 0, 0, cv::INTER_AREA);
  return out;
}

}  // namespace shopeasy::vision_gen
