#include "edge/vision/shelf_scanner.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <map>
#include <set>

#include <opencv2/aruco.hpp>
#include <opencv2/calib3d.hpp>
#include <opencv2/features2d.hpp>
#include <opencv2/imgproc.hpp>

namespace shopeasy::edge::vision {
namespace {

// A column matches a reference (is empty, against the empty one) when a logistic
// model of four measures says so with probability above kMatchProbability:
// - the texture correlation, variance-regularised so two flat patches agree. Texture
//   is compared after removing light that varies slowly across the shelf (gradients,
//   glare), which the gain field cannot follow;
// - the largest difference of chromaticity (each channel's share of the sum), which
//   the brightness of the light does not change;
// - the log ratio of brightness;
// - the log ratio of texture strength.
// The weights were fitted on generated shelves (dark and light panels, pegboard and
// wood, camera moves, light changes, glare) separate from those the evaluation uses.
constexpr double kWeightBias = 1.254;
constexpr double kWeightStructure = 2.875;
constexpr double kWeightChroma = -3.078 * 20;
constexpr double kWeightBrightness = -0.987;
constexpr double kWeightTexture = -2.711;
constexpr double kMatchProbability = 0.6;
// Regulariser of the correlation, in squared grey levels: texture weaker than about
// 5 grey levels of deviation counts as flat.
constexpr double kFlatVariance = 25.0;
// The high-pass: texture finer than this (work pixels) is kept.
constexpr double kTextureSigma = 6.0;
// Columns seen over less than this share (the camera moved the shelf edge out of
// view) are not judged; a slot with fewer than half its columns judged is unknown.
constexpr double kMinValid = 0.8;
constexpr int kColumnsPerFacing = 4;
// The gain field's resolution, in cells across and down the shelf.
constexpr int kGainCellsX = 24;
constexpr int kGainCellsY = 14;

struct SlotGeometry {
  cv::Rect bounds;                // work coordinates, inside the image
  cv::Mat mask;                   // bounds-sized, 255 inside the polygon
  std::vector<cv::Rect> columns;  // relative to bounds
};

struct ColumnStats {
  double mean_w = 0, mean_r = 0, var_w = 0, var_r = 0, cov = 0;
  cv::Scalar colour_w, colour_r;
};

ColumnStats column_stats(const cv::Mat& w_gray, const cv::Mat& r_gray, const cv::Mat& w_bgr,
                         const cv::Mat& r_bgr, const cv::Mat& mask) {
  ColumnStats s;
  cv::Mat wr;
  cv::multiply(w_gray, r_gray, wr);
  cv::Mat ww;
  cv::multiply(w_gray, w_gray, ww);
  cv::Mat rr;
  cv::multiply(r_gray, r_gray, rr);
  s.mean_w = cv::mean(w_gray, mask)[0];
  s.mean_r = cv::mean(r_gray, mask)[0];
  s.var_w = std::max(0.0, cv::mean(ww, mask)[0] - s.mean_w * s.mean_w);
  s.var_r = std::max(0.0, cv::mean(rr, mask)[0] - s.mean_r * s.mean_r);
  s.cov = cv::mean(wr, mask)[0] - s.mean_w * s.mean_r;
  s.colour_w = cv::mean(w_bgr, mask);
  s.colour_r = cv::mean(r_bgr, mask);
  return s;
}

double structure(const ColumnStats& s) {
  return (s.cov + kFlatVariance) / std::sqrt((s.var_w + kFlatVariance) * (s.var_r + kFlatVariance));
}

// Largest difference of the chromaticity coordinates (each channel's share of the
// sum): unaffected by the brightness of the light.
double chroma_distance(const ColumnStats& s) {
  const double sw = s.colour_w[0] + s.colour_w[1] + s.colour_w[2] + 24;
  const double sr = s.colour_r[0] + s.colour_r[1] + s.colour_r[2] + 24;
  double d = 0;
  for (int c = 0; c < 3; ++c) {
    d = std::max(d, std::abs((s.colour_w[c] + 8) / sw - (s.colour_r[c] + 8) / sr));
  }
  return d;
}

double brightness_distance(const ColumnStats& s) {
  const double w = s.colour_w[0] + s.colour_w[1] + s.colour_w[2] + 24;
  const double r = s.colour_r[0] + s.colour_r[1] + s.colour_r[2] + 24;
  return std::abs(std::log(w / r));
}

bool matches(const ColumnStats& s) {
  const double z = kWeightBias + kWeightStructure * structure(s) +
                   kWeightChroma * chroma_distance(s) + kWeightBrightness * brightness_distance(s) +
                   kWeightTexture * std::log((s.var_w + kFlatVariance) / (s.var_r + kFlatVariance));
  return 1.0 / (1.0 + std::exp(-z)) > kMatchProbability;
}

// Fills cells without an estimate (value < 0) from their neighbours.
void fill_holes(cv::Mat& gain) {
  for (int round = 0; round < 64; ++round) {
    bool missing = false;
    cv::Mat next = gain.clone();
    for (int y = 0; y < gain.rows; ++y) {
      for (int x = 0; x < gain.cols; ++x) {
        if (gain.at<float>(y, x) >= 0) continue;
        double sum = 0;
        int n = 0;
        for (int dy = -1; dy <= 1; ++dy) {
          for (int dx = -1; dx <= 1; ++dx) {
            const int yy = y + dy;
            const int xx = x + dx;
            if (yy < 0 || xx < 0 || yy >= gain.rows || xx >= gain.cols) continue;
            const float v = gain.at<float>(yy, xx);
            if (v >= 0) {
              sum += v;
              ++n;
            }
          }
        }
        if (n > 0) {
          next.at<float>(y, x) = static_cast<float>(sum / n);
        } else {
          missing = true;
        }
      }
    }
    gain = next;
    if (!missing) return;
  }
  cv::Mat unknown = gain < 0;
  gain.setTo(1.0f, unknown);
}

cv::Scalar state_colour(SlotState s) {
  switch (s) {
    case SlotState::kOk:
      return cv::Scalar(60, 200, 60);
    case SlotState::kLow:
      return cv::Scalar(0, 170, 255);
    case SlotState::kEmpty:
      return cv::Scalar(40, 40, 230);
    case SlotState::kWrongProduct:
      return cv::Scalar(220, 60, 220);
    case SlotState::kUnknown:
      return cv::Scalar(150, 150, 150);
  }
  return cv::Scalar(150, 150, 150);
}

std::vector<cv::Point2f> transform(const std::vector<cv::Point2f>& pts, const cv::Matx33d& h) {
  std::vector<cv::Point2f> out;
  cv::perspectiveTransform(pts, out, cv::Mat(h));
  return out;
}

}  // namespace

std::string_view slot_state_name(SlotState s) {
  switch (s) {
    case SlotState::kOk:
      return "ok";
    case SlotState::kLow:
      return "low";
    case SlotState::kEmpty:
      return "empty";
    case SlotState::kWrongProduct:
      return "wrong_product";
    case SlotState::kUnknown:
      return "unknown";
  }
  return "unknown";
}

int ShelfScan::count(SlotState s) const {
  return static_cast<int>(
      std::count_if(slots.begin(), slots.end(), [s](const SlotResult& r) { return r.state == s; }));
}

nlohmann::json to_json(const ShelfScan& scan) {
  nlohmann::json slots = nlohmann::json::array();
  int phantom = 0;
  for (const SlotResult& s : scan.slots) {
    nlohmann::json j = {{"id", s.id},
                        {"sku", s.sku},
                        {"state", slot_state_name(s.state)},
                        {"fill", std::round(s.fill * 100) / 100},
                        {"facings", {{"expected", s.facings_expected}, {"seen", s.facings_seen}}},
                        {"codes", s.codes},
                        {"phantom_stock", s.phantom_stock}};
    if (s.on_hand) j["on_hand"] = *s.on_hand;
    if (s.phantom_stock) ++phantom;
    slots.push_back(std::move(j));
  }
  return {{"camera", scan.camera},
          {"ts_ms", scan.ts_ms},
          {"registered", scan.registered},
          {"registration", scan.registration},
          {"inliers", scan.inliers},
          {"shift_px", std::round(scan.shift_px * 10) / 10},
          {"summary",
           {{"ok", scan.count(SlotState::kOk)},
            {"low", scan.count(SlotState::kLow)},
            {"empty", scan.count(SlotState::kEmpty)},
            {"wrong_product", scan.count(SlotState::kWrongProduct)},
            {"unknown", scan.count(SlotState::kUnknown)},
            {"phantom_stock", phantom}}},
          {"slots", std::move(slots)}};
}

struct ShelfScanner::Impl {
  Planogram plan;
  ShelfScannerOptions opt;
  double scale = 1;  // work / full
  cv::Size work;
  cv::Mat full_bgr;   // work scale, CV_32FC3
  cv::Mat empty_bgr;  // work scale, CV_32FC3, empty when there is no empty reference
  cv::Mat full_gray;  // work scale, CV_32F, lightly blurred
  cv::Mat empty_gray;
  cv::Mat static_mask;                                  // work scale, 255 where no slot is
  std::map<int, std::vector<cv::Point2f>> ref_markers;  // full-resolution corners
  std::vector<cv::KeyPoint> ref_keypoints;
  cv::Mat ref_descriptors;
  cv::Ptr<cv::ORB> orb;
  cv::Ptr<cv::aruco::Dictionary> dictionary;
  cv::Ptr<cv::aruco::DetectorParameters> aruco_params;
  std::vector<SlotGeometry> geometry;
  // Product codes on box fronts: one pass over the frame with a lean chain (no
  // whole-frame OpenCV search, few second-tier reads) keeps a shelf of slots within the
  // frame budget.
  BarcodeDecoder decoder{product_decoder_options()};

  static DecoderOptions product_decoder_options() {
    DecoderOptions o;
    o.use_opencv = false;
    o.max_tier1_candidates = 2;
    o.max_region_attempts = 200;
    o.max_codes = 200;
    // A shelf holds many codes; the scan's own frame budget bounds it, not the
    // single-code one.
    o.frame_budget_ms = 0;
    return o;
  }

  cv::Mat to_work(const cv::Mat& bgr) const {
    cv::Mat out;
    cv::resize(bgr, out, work, 0, 0, cv::INTER_AREA);
    return out;
  }

  static cv::Mat gray_of(const cv::Mat& bgr8) {
    cv::Mat g;
    cv::cvtColor(bgr8, g, cv::COLOR_BGR2GRAY);
    return g;
  }

  // Grey texture: lightly smoothed (residual misregistration of a pixel or two must
  // not decide a column) minus the slowly varying light.
  static cv::Mat texture(const cv::Mat& bgr) {
    cv::Mat g;
    cv::cvtColor(bgr, g, cv::COLOR_BGR2GRAY);
    if (g.type() != CV_32F) g.convertTo(g, CV_32F);
    cv::Mat fine;
    cv::Mat coarse;
    cv::GaussianBlur(g, fine, cv::Size(0, 0), 1.5);
    cv::GaussianBlur(g, coarse, cv::Size(0, 0), kTextureSigma);
    return fine - coarse;
  }

  std::map<int, std::vector<cv::Point2f>> detect_markers(const cv::Mat& gray_work) const {
    std::map<int, std::vector<cv::Point2f>> out;
    std::vector<std::vector<cv::Point2f>> corners;
    std::vector<int> ids;
    cv::aruco::detectMarkers(gray_work, dictionary, corners, ids, aruco_params);
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (out.count(ids[i])) {
        out.erase(ids[i]);  // the same id twice: trust neither
        continue;
      }
      std::vector<cv::Point2f> full;
      for (const cv::Point2f& p : corners[i]) full.push_back(p * static_cast<float>(1.0 / scale));
      out[ids[i]] = full;
    }
    return out;
  }

  struct Registered {
    bool ok = false;
    std::string method;
    int inliers = 0;
    cv::Matx33d frame_to_ref = cv::Matx33d::eye();
  };

  // Checks a homography is a plausible small camera move; fills shift.
  bool plausible(const cv::Matx33d& h, double* shift) const {
    const std::vector<cv::Point2f> corners = {
        {0, 0},
        {static_cast<float>(plan.image.width), 0},
        {static_cast<float>(plan.image.width), static_cast<float>(plan.image.height)},
        {0, static_cast<float>(plan.image.height)}};
    const std::vector<cv::Point2f> moved = transform(corners, h);
    double sum = 0;
    for (std::size_t i = 0; i < 4; ++i) sum += cv::norm(moved[i] - corners[i]);
    *shift = sum / 4;
    const double diag = std::hypot(plan.image.width, plan.image.height);
    const double det = h(0, 0) * h(1, 1) - h(0, 1) * h(1, 0);
    return std::isfinite(*shift) && *shift <= opt.max_shift * diag && det > 0.6 && det < 1.6;
  }

  Registered by_markers(const cv::Mat& gray_work) const {
    Registered r;
    if (ref_markers.size() < 2) return r;
    const auto found = detect_markers(gray_work);
    std::vector<cv::Point2f> src;
    std::vector<cv::Point2f> dst;
    for (const auto& [id, corners] : found) {
      auto it = ref_markers.find(id);
      if (it == ref_markers.end()) continue;
      src.insert(src.end(), corners.begin(), corners.end());
      dst.insert(dst.end(), it->second.begin(), it->second.end());
    }
    if (src.size() < 8) return r;
    std::vector<unsigned char> inliers;
    const cv::Mat h = cv::findHomography(src, dst, cv::RANSAC, 4.0, inliers);
    if (h.empty()) return r;
    r.frame_to_ref = cv::Matx33d(h);
    r.inliers = cv::countNonZero(inliers);
    r.ok = r.inliers >= 8;
    r.method = "aruco";
    return r;
  }

  Registered by_features(const cv::Mat& gray_work) const {
    Registered r;
    if (ref_descriptors.empty()) return r;
    std::vector<cv::KeyPoint> kp;
    cv::Mat desc;
    orb->detectAndCompute(gray_work, cv::noArray(), kp, desc);
    if (desc.rows < opt.min_inliers) return r;
    cv::BFMatcher matcher(cv::NORM_HAMMING);
    std::vector<std::vector<cv::DMatch>> knn;
    matcher.knnMatch(desc, ref_descriptors, knn, 2);
    std::vector<cv::Point2f> src;
    std::vector<cv::Point2f> dst;
    for (const auto& m : knn) {
      if (m.size() < 2 || m[0].distance > 0.8f * m[1].distance) continue;
      src.push_back(kp[static_cast<std::size_t>(m[0].queryIdx)].pt);
      dst.push_back(ref_keypoints[static_cast<std::size_t>(m[0].trainIdx)].pt);
    }
    if (static_cast<int>(src.size()) < opt.min_inliers) return r;
    std::vector<unsigned char> inliers;
    const cv::Mat h = cv::findHomography(src, dst, cv::RANSAC, 3.0, inliers);
    if (h.empty()) return r;
    r.inliers = cv::countNonZero(inliers);
    if (r.inliers < opt.min_inliers) return r;
    // Work to full resolution: S^-1 H S.
    const cv::Matx33d s(scale, 0, 0, 0, scale, 0, 0, 0, 1);
    const cv::Matx33d s_inv(1 / scale, 0, 0, 0, 1 / scale, 0, 0, 0, 1);
    r.frame_to_ref = s_inv * cv::Matx33d(h) * s;
    r.ok = true;
    r.method = "features";
    return r;
  }

  // Per-channel gain field mapping the frame's light to the reference's, from the
  // shelf parts that never hold product.
  void even_light(cv::Mat& warped, const cv::Mat& valid) const {
    const cv::Size cells(kGainCellsX, kGainCellsY);
    cv::Mat mask;
    cv::bitwise_and(static_mask, valid, mask);
    cv::Mat m;
    mask.convertTo(m, CV_32F, 1.0 / 255);
    cv::Mat m3;
    cv::merge(std::vector<cv::Mat>{m, m, m}, m3);
    cv::Mat a;
    cv::Mat b;
    cv::Mat n;
    cv::resize(full_bgr.mul(m3), a, cells, 0, 0, cv::INTER_AREA);
    cv::resize(warped.mul(m3), b, cells, 0, 0, cv::INTER_AREA);
    cv::resize(m, n, cells, 0, 0, cv::INTER_AREA);
    std::vector<cv::Mat> ac;
    std::vector<cv::Mat> bc;
    cv::split(a, ac);
    cv::split(b, bc);
    std::vector<cv::Mat> gains(3);
    for (int c = 0; c < 3; ++c) {
      cv::Mat g(cells, CV_32F, cv::Scalar(-1));
      for (int y = 0; y < g.rows; ++y) {
        for (int x = 0; x < g.cols; ++x) {
          if (n.at<float>(y, x) < 0.05f) continue;
          const float ref = ac[static_cast<std::size_t>(c)].at<float>(y, x);
          const float got = bc[static_cast<std::size_t>(c)].at<float>(y, x);
          g.at<float>(y, x) = std::clamp((ref + 2.0f) / (got + 2.0f), 0.25f, 4.0f);
        }
      }
      fill_holes(g);
      cv::GaussianBlur(g, g, cv::Size(3, 3), 0);
      cv::resize(g, gains[static_cast<std::size_t>(c)], work, 0, 0, cv::INTER_LINEAR);
    }
    cv::Mat gain;
    cv::merge(gains, gain);
    warped = warped.mul(gain);
  }

  // Share of the slot's judged columns holding product; nullopt when too little of
  // the slot is in view.
  std::optional<double> column_fill(const cv::Mat& w_gray, const cv::Mat& w_bgr,
                                    const cv::Mat& valid, const SlotGeometry& g) const {
    int occupied = 0;
    int judged = 0;
    int columns = 0;
    for (const cv::Rect& col : g.columns) {
      const cv::Rect at(g.bounds.x + col.x, g.bounds.y + col.y, col.width, col.height);
      const cv::Mat mask = g.mask(col);
      const int inside = cv::countNonZero(mask);
      if (inside < 8) continue;
      ++columns;
      cv::Mat seen;
      cv::bitwise_and(mask, valid(at), seen);
      if (cv::countNonZero(seen) < kMinValid * inside) continue;
      ++judged;
      bool empty;
      if (!empty_gray.empty()) {
        empty = matches(column_stats(w_gray(at), empty_gray(at), w_bgr(at), empty_bgr(at), seen));
      } else {
        empty = !matches(column_stats(w_gray(at), full_gray(at), w_bgr(at), full_bgr(at), seen));
      }
      if (!empty) ++occupied;
    }
    if (columns == 0 || judged * 2 < columns) return std::nullopt;
    return static_cast<double>(occupied) / judged;
  }

  // Product codes in the whole frame, read once (one proposal pass for every slot).
  std::vector<Detection> read_codes(const cv::Mat& frame) {
    auto found = decoder.decode(frame);
    if (!found.ok()) return {};
    std::vector<Detection> out;
    for (Detection& d : *found) {
      if (!d.gtin14.empty()) out.push_back(std::move(d));
    }
    return out;
  }

  static void assign_codes(const std::vector<Detection>& codes, SlotResult* slot) {
    std::set<std::string> inside;
    for (const Detection& d : codes) {
      const cv::Point2f mid = (d.corners[0] + d.corners[1] + d.corners[2] + d.corners[3]) * 0.25f;
      if (cv::pointPolygonTest(slot->polygon, mid, false) >= 0) inside.insert(d.gtin14);
    }
    slot->codes.assign(inside.begin(), inside.end());
  }
};

ShelfScanner::ShelfScanner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ShelfScanner::~ShelfScanner() = default;

const Planogram& ShelfScanner::planogram() const { return impl_->plan; }

StatusOr<std::unique_ptr<ShelfScanner>> ShelfScanner::create(Planogram planogram,
                                                             ShelfScannerOptions options) {
  auto full = read_image_file(planogram.reference_full, options.limits);
  if (!full.ok()) return full.status().with_field_prefix("reference.full");
  std::optional<cv::Mat> empty;
  if (planogram.reference_empty) {
    auto e = read_image_file(*planogram.reference_empty, options.limits);
    if (!e.ok()) return e.status().with_field_prefix("reference.empty");
    empty = std::move(*e);
  }
  return create_from_images(std::move(planogram), *full, empty, options);
}

StatusOr<std::unique_ptr<ShelfScanner>> ShelfScanner::create_from_images(
    Planogram planogram, const cv::Mat& full, const std::optional<cv::Mat>& empty,
    ShelfScannerOptions options) {
  SHOPEASY_RETURN_IF_ERROR(check_frame(full, options.limits).with_field_prefix("reference.full"));
  if (full.size() != planogram.image) {
    return invalid_argument("full reference image is " + std::to_string(full.cols) + "x" +
                                std::to_string(full.rows) + ", not the planogram's " +
                                std::to_string(planogram.image.width) + "x" +
                                std::to_string(planogram.image.height),
                            "reference.full");
  }
  if (empty) {
    SHOPEASY_RETURN_IF_ERROR(
        check_frame(*empty, options.limits).with_field_prefix("reference.empty"));
    if (empty->size() != planogram.image) {
      return invalid_argument("empty reference image is not the planogram's size",
                              "reference.empty");
    }
  }
  if (options.work_width < 64) return invalid_argument("must be at least 64", "work_width");
  auto impl = std::make_unique<Impl>();
  try {
    impl->plan = std::move(planogram);
    impl->opt = options;
    impl->scale = std::min(1.0, static_cast<double>(options.work_width) / impl->plan.image.width);
    impl->work =
        cv::Size(std::max(1, static_cast<int>(std::lround(impl->plan.image.width * impl->scale))),
                 std::max(1, static_cast<int>(std::lround(impl->plan.image.height * impl->scale))));
    auto as_bgr = [](const cv::Mat& m) {
      cv::Mat out;
      if (m.channels() == 1) {
        cv::cvtColor(m, out, cv::COLOR_GRAY2BGR);
      } else if (m.channels() == 4) {
        cv::cvtColor(m, out, cv::COLOR_BGRA2BGR);
      } else {
        out = m;
      }
      return out;
    };
    const cv::Mat full_work = impl->to_work(as_bgr(full));
    full_work.convertTo(impl->full_bgr, CV_32FC3);
    impl->full_gray = Impl::texture(full_work);
    cv::Mat empty_work;
    if (empty) {
      empty_work = impl->to_work(as_bgr(*empty));
      empty_work.convertTo(impl->empty_bgr, CV_32FC3);
      impl->empty_gray = Impl::texture(empty_work);
    }
    impl->static_mask = cv::Mat(impl->work, CV_8UC1, cv::Scalar(255));
    const cv::Rect work_rect(0, 0, impl->work.width, impl->work.height);
    for (const PlanogramSlot& slot : impl->plan.slots) {
      std::vector<cv::Point> poly;
      for (const cv::Point2f& p : slot.polygon) {
        poly.emplace_back(static_cast<int>(std::lround(p.x * impl->scale)),
                          static_cast<int>(std::lround(p.y * impl->scale)));
      }
      cv::fillConvexPoly(impl->static_mask, poly, cv::Scalar(0));
      SlotGeometry g;
      g.bounds = cv::boundingRect(poly) & work_rect;
      g.mask = cv::Mat(g.bounds.size(), CV_8UC1, cv::Scalar(0));
      std::vector<cv::Point> local;
      for (const cv::Point& p : poly) local.emplace_back(p.x - g.bounds.x, p.y - g.bounds.y);
      if (!g.mask.empty()) cv::fillConvexPoly(g.mask, local, cv::Scalar(255));
      const int n = std::clamp(slot.facings * kColumnsPerFacing, 4, 48);
      for (int c = 0; c < n && g.bounds.width > 0; ++c) {
        const int x0 = g.bounds.width * c / n;
        const int x1 = g.bounds.width * (c + 1) / n;
        if (x1 > x0) g.columns.emplace_back(x0, 0, x1 - x0, g.bounds.height);
      }
      impl->geometry.push_back(std::move(g));
    }
    // Keep a margin of the static area away from slot edges (boxes overhang a little).
    cv::erode(impl->static_mask, impl->static_mask,
              cv::getStructuringElement(cv::MORPH_RECT, cv::Size(5, 5)));
    impl->dictionary = cv::aruco::getPredefinedDictionary(cv::aruco::DICT_4X4_50);
    impl->aruco_params = cv::aruco::DetectorParameters::create();
    impl->aruco_params->cornerRefinementMethod = cv::aruco::CORNER_REFINE_SUBPIX;
    const Registration reg = impl->plan.registration;
    if (reg == Registration::kAuto || reg == Registration::kAruco) {
      impl->ref_markers = impl->detect_markers(Impl::gray_of(full_work));
      if (reg == Registration::kAruco && impl->ref_markers.size() < 2) {
        return invalid_argument(
            "registration is aruco but the full reference shows fewer than 2 "
            "markers",
            "registration");
      }
    }
    if (reg == Registration::kAuto || reg == Registration::kFeatures) {
      impl->orb = cv::ORB::create(options.orb_features);
      std::vector<cv::KeyPoint> kp;
      cv::Mat desc;
      impl->orb->detectAndCompute(Impl::gray_of(full_work), cv::noArray(), kp, desc);
      impl->ref_keypoints = kp;
      impl->ref_descriptors = desc;
      if (empty) {
        // The empty shelf shows structure the products hide in the full one.
        std::vector<cv::KeyPoint> kp2;
        cv::Mat desc2;
        impl->orb->detectAndCompute(Impl::gray_of(empty_work), cv::noArray(), kp2, desc2);
        if (!desc2.empty()) {
          impl->ref_keypoints.insert(impl->ref_keypoints.end(), kp2.begin(), kp2.end());
          if (impl->ref_descriptors.empty()) {
            impl->ref_descriptors = desc2;
          } else {
            cv::vconcat(impl->ref_descriptors, desc2, impl->ref_descriptors);
          }
        }
      }
    }
  } catch (const std::exception& e) {
    return internal_error(std::string("cannot prepare the shelf references: ") + e.what());
  }
  return std::unique_ptr<ShelfScanner>(new ShelfScanner(std::move(impl)));
}

StatusOr<ShelfScan> ShelfScanner::scan(const cv::Mat& frame_in, std::int64_t ts_ms,
                                       const OnHandLookup& on_hand) {
  Impl& m = *impl_;
  SHOPEASY_RETURN_IF_ERROR(check_frame(frame_in, m.opt.limits));
  SHOPEASY_RETURN_IF_ERROR(check_frame_size(m.plan, frame_in.size()));
  ShelfScan out;
  out.camera = m.plan.camera;
  out.ts_ms = ts_ms;
  try {
    cv::Mat frame = frame_in;
    if (frame.channels() == 1) {
      cv::cvtColor(frame_in, frame, cv::COLOR_GRAY2BGR);
    } else if (frame.channels() == 4) {
      cv::cvtColor(frame_in, frame, cv::COLOR_BGRA2BGR);
    }
    const cv::Mat frame_work = m.to_work(frame);
    const cv::Mat gray_work = Impl::gray_of(frame_work);
    Impl::Registered reg;
    double shift = 0;
    const Registration mode = m.plan.registration;
    if (mode == Registration::kNone) {
      reg.ok = true;
      reg.method = "identity";
    } else {
      // Features first: hundreds of matches spread over the shelf register to a
      // fraction of a pixel, while the markers a small camera move leaves in view (often
      // two) pin the homography only near the corners.
      if (mode == Registration::kAuto || mode == Registration::kFeatures) {
        reg = m.by_features(gray_work);
        if (reg.ok && !m.plausible(reg.frame_to_ref, &shift)) reg.ok = false;
      }
      if (!reg.ok && (mode == Registration::kAuto || mode == Registration::kAruco)) {
        reg = m.by_markers(gray_work);
      }
    }
    if (reg.ok && !m.plausible(reg.frame_to_ref, &shift)) reg.ok = false;
    out.registered = reg.ok;
    out.registration = reg.ok ? reg.method : "failed";
    out.inliers = reg.inliers;
    out.shift_px = reg.ok ? shift : 0;
    const cv::Matx33d ref_to_frame = reg.ok ? reg.frame_to_ref.inv() : cv::Matx33d::eye();

    cv::Mat w_bgr;
    cv::Mat w_gray;
    cv::Mat valid;
    if (reg.ok) {
      const cv::Matx33d s(m.scale, 0, 0, 0, m.scale, 0, 0, 0, 1);
      const cv::Matx33d s_inv(1 / m.scale, 0, 0, 0, 1 / m.scale, 0, 0, 0, 1);
      const cv::Matx33d h_work = s * reg.frame_to_ref * s_inv;
      cv::Mat warped;
      cv::warpPerspective(frame_work, warped, cv::Mat(h_work), m.work, cv::INTER_LINEAR,
                          cv::BORDER_REPLICATE);
      cv::warpPerspective(cv::Mat(frame_work.size(), CV_8UC1, cv::Scalar(255)), valid,
                          cv::Mat(h_work), m.work, cv::INTER_NEAREST, cv::BORDER_CONSTANT);
      warped.convertTo(w_bgr, CV_32FC3);
      m.even_light(w_bgr, valid);
      w_gray = Impl::texture(w_bgr);
    }
    std::vector<Detection> codes;
    if (reg.ok && m.opt.read_codes) codes = m.read_codes(frame);
    for (std::size_t i = 0; i < m.plan.slots.size(); ++i) {
      const PlanogramSlot& p = m.plan.slots[i];
      SlotResult r;
      r.id = p.id;
      r.sku = p.sku;
      r.facings_expected = p.facings;
      r.polygon = transform(p.polygon, ref_to_frame);
      const std::optional<double> fill =
          reg.ok ? m.column_fill(w_gray, w_bgr, valid, m.geometry[i]) : std::nullopt;
      if (fill) {
        r.fill = *fill;
        r.facings_seen = static_cast<int>(std::lround(r.fill * p.facings));
        const double low = p.low_below.value_or(m.plan.low_below);
        r.state = r.fill < m.plan.empty_below ? SlotState::kEmpty
                  : r.fill < low              ? SlotState::kLow
                                              : SlotState::kOk;
        if (r.state != SlotState::kEmpty && m.opt.read_codes) {
          Impl::assign_codes(codes, &r);
          if (!p.gtins.empty()) {
            for (const std::string& c : r.codes) {
              if (std::find(p.gtins.begin(), p.gtins.end(), c) == p.gtins.end()) {
                r.state = SlotState::kWrongProduct;
              }
            }
          }
        }
        if (r.state == SlotState::kEmpty && on_hand) {
          r.on_hand = on_hand(p.sku);
          r.phantom_stock = r.on_hand && *r.on_hand > 0;
        }
      }
      out.slots.push_back(std::move(r));
    }
  } catch (const std::exception& e) {
    return internal_error(std::string("shelf scan failed: ") + e.what());
  }
  return out;
}

cv::Mat ShelfScanner::annotate(const cv::Mat& frame, const ShelfScan& scan) const {
  cv::Mat out;
  if (frame.channels() == 1) {
    cv::cvtColor(frame, out, cv::COLOR_GRAY2BGR);
  } else if (frame.channels() == 4) {
    cv::cvtColor(frame, out, cv::COLOR_BGRA2BGR);
  } else {
    out = frame.clone();
  }
  const int thick = std::max(2, out.cols / 640);
  const double font = std::max(0.5, out.cols / 2400.0);
  for (const SlotResult& s : scan.slots) {
    std::vector<cv::Point> poly;
    for (const cv::Point2f& p : s.polygon) poly.emplace_back(cvRound(p.x), cvRound(p.y));
    if (poly.size() < 3) continue;
    const cv::Scalar colour = state_colour(s.state);
    cv::polylines(out, poly, true, colour, thick, cv::LINE_AA);
    if (s.phantom_stock) {
      cv::polylines(out, poly, true, cv::Scalar(255, 255, 255), 1, cv::LINE_AA);
      const cv::Rect b = cv::boundingRect(poly);
      cv::line(out, b.tl(), b.br(), colour, thick, cv::LINE_AA);
    }
    const cv::Rect b = cv::boundingRect(poly);
    std::string label = s.id + " " + std::string(slot_state_name(s.state));
    if (s.state != SlotState::kUnknown) {
      label += " " + std::to_string(static_cast<int>(std::lround(s.fill * 100))) + "%";
    }
    int base = 0;
    const cv::Size ts = cv::getTextSize(label, cv::FONT_HERSHEY_SIMPLEX, font, 1, &base);
    const cv::Rect bg(b.x + thick, b.y + thick, ts.width + 6, ts.height + base + 4);
    cv::rectangle(out, bg & cv::Rect(0, 0, out.cols, out.rows), colour, cv::FILLED);
    cv::putText(out, label, cv::Point(bg.x + 3, bg.y + ts.height + 2), cv::FONT_HERSHEY_SIMPLEX,
                font, cv::Scalar(255, 255, 255), 1, cv::LINE_AA);
  }
  const std::string head = scan.camera + "  " + scan.registration;
  cv::putText(out, head, cv::Point(10, static_cast<int>(30 * font) + 6), cv::FONT_HERSHEY_SIMPLEX,
              font, cv::Scalar(255, 255, 255), 2, cv::LINE_AA);
  return out;
}

}  // namespace shopeasy::edge::vision
