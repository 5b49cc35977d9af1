#include "edge/vision/regions.hpp"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

namespace shopeasy::edge::vision {
namespace {

constexpr int kCell = 4;
// Below this mean squared Sobel response a cell is background whatever the noise.
constexpr float kMinEnergy = 1500.0f;
// Coherence above which gradients count as parallel (bars), below which as mixed.
constexpr float kLinearCoherence = 0.7f;
constexpr float kMatrixCoherence = 0.55f;
// A linear area whose gradients are less parallel than this joins codes turned
// differently; it is also proposed split by bar direction.
constexpr double kSplitCoherence = 0.8;
// Bar directions are split into bins this wide, each taking in cells this far from
// its centre (the bins overlap, so a code's bars do not straddle two of them).
constexpr double kDirectionBin = CV_PI / 6;
constexpr double kDirectionReach = CV_PI / 9;
// Windows cut from one elongated matrix area, at most.
constexpr int kMaxWindows = 12;
// Share of a candidate's bounding rectangle its cells must cover.
constexpr double kMinFill = 0.3;

struct Blob {
  std::vector<cv::Point> points;
  double jxx = 0;
  double jyy = 0;
  double jxy = 0;
  double energy = 0;
};

void collect(const cv::Mat& mask, const cv::Mat& jxx, const cv::Mat& jyy, const cv::Mat& jxy,
             const cv::Mat& energy, bool linear, double scale, const RegionOptions& options,
             std::vector<CodeRegion>* out) {
  cv::Mat labels;
  cv::Mat stats;
  cv::Mat centroids;
  const int n = cv::connectedComponentsWithStats(mask, labels, stats, centroids, 8, CV_32S);
  if (n <= 1) return;
  std::vector<Blob> blobs(static_cast<std::size_t>(n));
  for (int y = 0; y < labels.rows; ++y) {
    const int* l = labels.ptr<int>(y);
    const float* a = jxx.ptr<float>(y);
    const float* b = jyy.ptr<float>(y);
    const float* c = jxy.ptr<float>(y);
    const float* e = energy.ptr<float>(y);
    for (int x = 0; x < labels.cols; ++x) {
      if (l[x] == 0) continue;
      if (stats.at<int>(l[x], cv::CC_STAT_AREA) <
          (linear ? options.min_area_cells : options.min_matrix_area_cells)) {
        continue;
      }
      Blob& blob = blobs[static_cast<std::size_t>(l[x])];
      blob.points.emplace_back(x, y);
      blob.jxx += a[x];
      blob.jyy += b[x];
      blob.jxy += c[x];
      blob.energy += e[x];
    }
  }
  for (const Blob& blob : blobs) {
    if (blob.points.size() < 3) continue;
    cv::RotatedRect r = cv::minAreaRect(blob.points);
    const double long_side = std::max(r.size.width, r.size.height);
    const double short_side = std::min(r.size.width, r.size.height);
    if (short_side < 1.5) continue;

    // Matrix codes fill their outline; the corner of a shape or a line drawing does
    // not. (Linear blobs often take in the label's edge, so they are not held to it.)
    const double fill = static_cast<double>(blob.points.size()) /
                        ((r.size.width + 1) * static_cast<double>(r.size.height + 1));
    if (!linear && fill < kMinFill) continue;
    CodeRegion region;
    region.linear = linear;
    region.across_angle = 0.5 * std::atan2(2 * blob.jxy, blob.jxx - blob.jyy);
    region.coherence =
        std::hypot(blob.jxx - blob.jyy, 2 * blob.jxy) / std::max(1e-3, blob.jxx + blob.jyy);
    if (region.across_angle < 0) region.across_angle += CV_PI;
    // Cell (x, y) covers pixels [x, x + 1) * scale; a blob of n cells spans n cells.
    const float s = static_cast<float>(scale);
    region.box =
        cv::RotatedRect((r.center + cv::Point2f(0.5f, 0.5f)) * s,
                        cv::Size2f((r.size.width + 1) * s, (r.size.height + 1) * s), r.angle);
    region.score = blob.energy / static_cast<double>(blob.points.size()) *
                   std::sqrt(static_cast<double>(blob.points.size()));
    if (linear || long_side <= 2.0 * short_side) {
      out->push_back(region);
      continue;
    }
    // An elongated matrix area is a code beside text or another code: square windows
    // along it, so each possible symbol gets a crop centred on it.
    const float a = r.angle * static_cast<float>(CV_PI / 180);
    cv::Point2f axis(std::cos(a), std::sin(a));
    if (r.size.height > r.size.width) axis = cv::Point2f(-axis.y, axis.x);
    const float side = static_cast<float>(short_side + 1) * static_cast<float>(scale);
    const float half = static_cast<float>((long_side + 1) * scale) / 2;
    const int steps = std::min(kMaxWindows, static_cast<int>(2 * half / (side / 2)));
    for (int k = 0; k <= steps; ++k) {
      const float t = -half + side / 2 + (2 * half - side) * k / std::max(1, steps);
      CodeRegion w = region;
      w.box = cv::RotatedRect(region.box.center + axis * t, cv::Size2f(side * 1.2f, side * 1.2f),
                              r.angle);
      out->push_back(w);
    }
  }
}

}  // namespace

std::vector<CodeRegion> propose_regions(const cv::Mat& gray, const RegionOptions& options,
                                        cv::Mat* reduced) {
  std::vector<CodeRegion> out;
  if (gray.empty() || gray.type() != CV_8UC1) return out;
  cv::Mat work = gray;
  double scale = 1.0;
  const int side = std::max(gray.cols, gray.rows);
  if (side > options.work_max_side) {
    scale = static_cast<double>(side) / options.work_max_side;
    cv::resize(gray, work, cv::Size(), 1.0 / scale, 1.0 / scale, cv::INTER_AREA);
    if (reduced) *reduced = work;
  }
  cv::Mat gx;
  cv::Mat gy;
  cv::Sobel(work, gx, CV_32F, 1, 0, 3);
  cv::Sobel(work, gy, CV_32F, 0, 1, 3);
  // The tensor is averaged over cells of kCell x kCell pixels: the area averaging is
  // the first half of the smoothing window and makes everything after it cheap.
  const cv::Size cells(std::max(1, work.cols / kCell), std::max(1, work.rows / kCell));
  cv::Mat jxx;
  cv::Mat jyy;
  cv::Mat jxy;
  cv::resize(gx.mul(gx), jxx, cells, 0, 0, cv::INTER_AREA);
  cv::resize(gy.mul(gy), jyy, cells, 0, 0, cv::INTER_AREA);
  cv::resize(gx.mul(gy), jxy, cells, 0, 0, cv::INTER_AREA);
  const cv::Size win(3, 3);
  cv::boxFilter(jxx, jxx, -1, win);
  cv::boxFilter(jyy, jyy, -1, win);
  cv::boxFilter(jxy, jxy, -1, win);
  cv::Mat energy = jxx + jyy;
  // Noise sets the floor: the median energy of a frame is mostly background.
  std::vector<float> v(energy.begin<float>(), energy.end<float>());
  std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
  const float threshold = std::max(kMinEnergy, 4.0f * v[v.size() / 2]);

  cv::Mat coherence;
  cv::magnitude(jxx - jyy, 2 * jxy, coherence);
  coherence /= energy + 1e-3f;
  const cv::Mat strong = energy > threshold;
  cv::Mat linear_mask = strong & (coherence > kLinearCoherence);
  cv::Mat matrix_mask = strong & (coherence < kMatrixCoherence);
  const cv::Mat k3 = cv::getStructuringElement(cv::MORPH_RECT, cv::Size(3, 3));
  cv::morphologyEx(linear_mask, linear_mask, cv::MORPH_CLOSE, k3);
  cv::morphologyEx(matrix_mask, matrix_mask, cv::MORPH_CLOSE, k3);
  const double to_image = scale * kCell;
  collect(linear_mask, jxx, jyy, jxy, energy, true, to_image, options, &out);
  // Codes side by side join into one area when labels, lines or the codes themselves
  // touch; the crop of that area reads one of them. Where such an area holds bars of
  // more than one direction, its cells are also grouped by direction, and each group's
  // parts inside it proposed on their own.
  std::vector<CodeRegion> mixed;
  for (const CodeRegion& r : out) {
    if (r.linear && r.coherence < kSplitCoherence) mixed.push_back(r);
  }
  if (!mixed.empty()) {
    cv::Mat angle(jxx.size(), CV_32F);
    for (int y = 0; y < angle.rows; ++y) {
      for (int x = 0; x < angle.cols; ++x) {
        float a =
            0.5f * std::atan2(2 * jxy.at<float>(y, x), jxx.at<float>(y, x) - jyy.at<float>(y, x));
        if (a < 0) a += static_cast<float>(CV_PI);
        angle.at<float>(y, x) = a;
      }
    }
    const std::size_t whole = out.size();
    for (double centre = 0; centre < CV_PI - 1e-6; centre += kDirectionBin) {
      cv::Mat bin(angle.size(), CV_8U);
      for (int y = 0; y < angle.rows; ++y) {
        for (int x = 0; x < angle.cols; ++x) {
          double d = std::abs(angle.at<float>(y, x) - centre);
          d = std::min(d, CV_PI - d);
          bin.at<std::uint8_t>(y, x) = d <= kDirectionReach ? 255 : 0;
        }
      }
      bin &= linear_mask;
      cv::morphologyEx(bin, bin, cv::MORPH_CLOSE, k3);
      std::vector<CodeRegion> parts;
      collect(bin, jxx, jyy, jxy, energy, true, to_image, options, &parts);
      for (CodeRegion& part : parts) {
        const bool inside_mixed = std::any_of(mixed.begin(), mixed.end(), [&](const CodeRegion& m) {
          std::vector<cv::Point2f> poly(4);
          m.box.points(poly.data());
          return cv::pointPolygonTest(poly, part.box.center, false) >= 0 &&
                 part.box.size.area() < 0.8 * m.box.size.area();
        });
        const bool seen = std::any_of(
            out.begin(), out.begin() + static_cast<long>(whole), [&](const CodeRegion& o) {
              return o.linear && cv::norm(o.box.center - part.box.center) < 2 * to_image &&
                     std::abs(o.box.size.area() - part.box.size.area()) <
                         0.3 * part.box.size.area();
            });
        if (inside_mixed && !seen) out.push_back(part);
      }
    }
  }
  collect(matrix_mask, jxx, jyy, jxy, energy, false, to_image, options, &out);
  // A matrix code beside other busy areas joins them through thin bridges, and the
  // joined blob fails the fill test or is cut into windows: opened, the code's solid
  // block stands alone. Areas found both ways are kept once.
  const std::size_t before = out.size();
  cv::Mat opened;
  cv::morphologyEx(matrix_mask, opened, cv::MORPH_OPEN, k3);
  std::vector<CodeRegion> split;
  collect(opened, jxx, jyy, jxy, energy, false, to_image, options, &split);
  for (const CodeRegion& r : split) {
    const bool seen =
        std::any_of(out.begin(), out.begin() + static_cast<long>(before), [&](const CodeRegion& o) {
          return !o.linear && cv::norm(o.box.center - r.box.center) < 2 * to_image &&
                 std::abs(o.box.size.area() - r.box.size.area()) < 0.3 * r.box.size.area();
        });
    if (!seen) out.push_back(r);
  }
  std::sort(out.begin(), out.end(),
            [](const CodeRegion& a, const CodeRegion& b) { return a.score > b.score; });
  if (out.size() > static_cast<std::size_t>(options.max_regions)) {
    out.resize(static_cast<std::size_t>(options.max_regions));
  }
  return out;
}

}  // namespace shopeasy::edge::vision
