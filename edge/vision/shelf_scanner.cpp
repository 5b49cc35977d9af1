#include "edge/vision/shelf_scanner.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
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
// Without an empty reference (see the header):
// - the back panel: a row of a column in the full reference is panel when its colour is
//   within these of the panel colour (the median over the slots' top rows);
constexpr double kBandChroma = 0.04;
constexpr double kBandBrightness = 0.35;
// - a column's body (below its panel band) looks like the panel sampled in the same
//   frame when within these;
constexpr double kPanelChroma = 0.035;
constexpr double kPanelBrightness = 0.45;
constexpr double kPanelTexture = 1.0;
// - a column shows the panel in the full reference when its body is within these of
//   its slot's band there (same image, same light: tight);
constexpr double kGapChroma = 0.015;
constexpr double kGapBrightness = 0.12;
constexpr double kGapTexture = 0.4;
// - and is unlike its full look (match probability below this; below kLikeFull when
//   it is within a third of those of the panel, half in brightness);
constexpr double kUnlikeFull = 0.6;
// - a column is recorded as an empty sample when unlike its full look below this and
//   like the panel (or the ledger has none), as a full sample above kLikeFull.
constexpr double kLearnEmpty = 0.3;
constexpr double kLikeFull = 0.9;
// - with a learned empty look a column is empty when it matches that look above this
//   and better than its full look.
constexpr double kLearnedEmptyMatch = 0.6;
// The gain field's resolution, in cells across and down the shelf.
constexpr int kGainCellsX = 24;
constexpr int kGainCellsY = 14;

struct SlotGeometry {
  cv::Rect bounds;                // work coordinates, inside the image
  cv::Mat mask;                   // bounds-sized, 255 inside the polygon
  std::vector<cv::Rect> columns;  // relative to bounds
  // Without an empty reference: rows at the top of each column that show the back
  // panel in the full reference, the union of those (bounds-sized mask) and each
  // column's body below its band (column-sized masks).
  std::vector<int> band;
  cv::Mat band_mask;
  std::vector<cv::Mat> body;
  // Columns whose body shows the panel in the full reference too (the gaps between
  // facings): seen as panel they say nothing about product, so count as empty.
  std::vector<bool> panel_in_full;
};

// One column's judgement.
struct Column {
  bool judged = false;
  bool empty = false;
  double p_full = 1;
  double p_empty = -1;  // against the learned empty look; -1: none
  bool panel_like = false;
  bool panel_close = false;  // like the panel by a wide margin
  cv::Rect at;               // work coordinates
  cv::Mat seen;
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

double texture_ratio(const ColumnStats& s) {
  return std::log((s.var_w + kFlatVariance) / (s.var_r + kFlatVariance));
}

// The fitted model compares a frame with the empty reference, where a frame more
// textured than the reference is the sign of product (signed texture term). Against a
// full reference or a learned look either direction is a difference: `symmetric` uses
// the texture ratio's size.
double match_probability(const ColumnStats& s, bool symmetric = false) {
  const double t = symmetric ? std::abs(texture_ratio(s)) : texture_ratio(s);
  const double z = kWeightBias + kWeightStructure * structure(s) +
                   kWeightChroma * chroma_distance(s) + kWeightBrightness * brightness_distance(s) +
                   kWeightTexture * t;
  return 1.0 / (1.0 + std::exp(-z));
}

bool matches(const ColumnStats& s) { return match_probability(s) > kMatchProbability; }

// Mean colour and texture variance of an area.
struct AreaStats {
  cv::Scalar colour;
  double var = 0;
  int pixels = 0;
};

AreaStats area_stats(const cv::Mat& bgr, const cv::Mat& tex, const cv::Mat& mask) {
  AreaStats a;
  a.pixels = cv::countNonZero(mask);
  if (a.pixels == 0) return a;
  a.colour = cv::mean(bgr, mask);
  cv::Scalar m;
  cv::Scalar sd;
  cv::meanStdDev(tex, m, sd, mask);
  a.var = sd[0] * sd[0];
  return a;
}

double chroma_gap(const cv::Scalar& a, const cv::Scalar& b) {
  const double sa = a[0] + a[1] + a[2] + 24;
  const double sb = b[0] + b[1] + b[2] + 24;
  double d = 0;
  for (int c = 0; c < 3; ++c) d = std::max(d, std::abs((a[c] + 8) / sa - (b[c] + 8) / sb));
  return d;
}

double brightness_gap(const cv::Scalar& a, const cv::Scalar& b) {
  return std::abs(std::log((a[0] + a[1] + a[2] + 24) / (b[0] + b[1] + b[2] + 24)));
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
  nlohmann::json j = {{"camera", scan.camera},
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
  if (scan.learning) {
    j["learning"] = {{"slots_with_empty_look", scan.learned_empty_slots},
                     {"slots", scan.slots.size()},
                     {"resets", scan.learning_resets}};
    if (!scan.learning_reset.empty()) j["learning"]["last_reset"] = scan.learning_reset;
  }
  return j;
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
  cv::Mat static_mask;  // work scale, 255 where no slot is
  cv::Mat panel_mask;   // work scale, 255 on the slots' panel bands (no empty reference)
  std::map<int, std::vector<cv::Point2f>> ref_markers;  // full-resolution corners
  std::vector<cv::KeyPoint> ref_keypoints;
  cv::Mat ref_descriptors;
  cv::Ptr<cv::ORB> orb;
  cv::Ptr<cv::aruco::Dictionary> dictionary;
  cv::Ptr<cv::aruco::DetectorParameters> aruco_params;
  std::vector<SlotGeometry> geometry;
  // Without an empty reference and with learning on: the learned looks.
  std::optional<SlotMemory> memory;
  std::string memory_note;
  std::int64_t last_save_ms = 0;
  int saved_slots = -1;
  std::uint64_t saved_version = 0;
  std::uint64_t saved_resets = 0;
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

  // Judges each column of a slot; fills `cols`. The slot's fill is the share of its
  // judged columns holding product; nullopt when too little of the slot is in view.
  std::optional<double> judge_slot(std::size_t slot, const cv::Mat& w_gray, const cv::Mat& w_bgr,
                                   const cv::Mat& valid, const AreaStats& global_panel,
                                   std::vector<Column>* cols) const {
    const SlotGeometry& g = geometry[slot];
    cols->assign(g.columns.size(), Column{});
    int occupied = 0;
    int judged = 0;
    int columns = 0;
    const bool learned_mode = empty_gray.empty();
    AreaStats panel = global_panel;
    if (learned_mode && !g.band_mask.empty()) {
      cv::Mat band_seen;
      cv::bitwise_and(g.band_mask, valid(g.bounds), band_seen);
      const AreaStats local = area_stats(w_bgr(g.bounds), w_gray(g.bounds), band_seen);
      if (local.pixels >= 24) {
        panel = local;
      } else {
        // Products as tall as the slot: the panel beside it, on the same shelf.
        const cv::Rect near =
            cv::Rect(g.bounds.x - g.bounds.width, g.bounds.y, g.bounds.width * 3, g.bounds.height) &
            cv::Rect(0, 0, work.width, work.height);
        cv::Mat near_seen;
        cv::bitwise_and(panel_mask(near), valid(near), near_seen);
        const AreaStats beside = area_stats(w_bgr(near), w_gray(near), near_seen);
        if (beside.pixels >= 24) panel = beside;
      }
    }
    for (std::size_t k = 0; k < g.columns.size(); ++k) {
      const cv::Rect& col = g.columns[k];
      Column& c = (*cols)[k];
      const cv::Rect at(g.bounds.x + col.x, g.bounds.y + col.y, col.width, col.height);
      c.at = at;
      const cv::Mat mask = g.mask(col);
      const int inside = cv::countNonZero(mask);
      if (inside < 8) continue;
      ++columns;
      cv::Mat seen;
      cv::bitwise_and(mask, valid(at), seen);
      if (cv::countNonZero(seen) < kMinValid * inside) continue;
      ++judged;
      c.judged = true;
      c.seen = seen;
      if (!learned_mode) {
        c.empty = matches(column_stats(w_gray(at), empty_gray(at), w_bgr(at), empty_bgr(at), seen));
      } else {
        const cv::Mat& f_bgr = memory ? memory->full_look() : full_bgr;
        const cv::Mat& f_tex = memory ? memory->full_texture() : full_gray;
        c.p_full = match_probability(
            column_stats(w_gray(at), f_tex(at), w_bgr(at), f_bgr(at), seen), true);
        if (panel.pixels > 0 && k < g.body.size()) {
          cv::Mat body;
          cv::bitwise_and(g.body[k], seen, body);
          if (cv::countNonZero(body) >= 8) {
            const AreaStats b = area_stats(w_bgr(at), w_gray(at), body);
            // More texture than the panel is the sign of product; less is not (the
            // band may hold the shadow edge of the board above).
            const double tex = std::log((b.var + kFlatVariance) / (panel.var + kFlatVariance));
            c.panel_like = chroma_gap(b.colour, panel.colour) < kPanelChroma &&
                           brightness_gap(b.colour, panel.colour) < kPanelBrightness &&
                           tex < kPanelTexture && tex > -2 * kPanelTexture;
            c.panel_close = c.panel_like && chroma_gap(b.colour, panel.colour) < kPanelChroma / 3 &&
                            brightness_gap(b.colour, panel.colour) < kPanelBrightness / 2 &&
                            std::abs(tex) < kPanelTexture / 3;
          }
        }
        if (memory && memory->column_has_empty_look(slot, k)) {
          c.p_empty = match_probability(column_stats(w_gray(at), memory->empty_texture()(at),
                                                     w_bgr(at), memory->empty_look()(at), seen),
                                        true);
        }
        const bool by_panel =
            c.panel_like && (c.p_full < kUnlikeFull || (c.panel_close && c.p_full < kLikeFull) ||
                             (k < g.panel_in_full.size() && g.panel_in_full[k]));
        const bool by_look = c.p_empty > kLearnedEmptyMatch && c.p_empty > c.p_full;
        c.empty = by_panel || by_look;
      }
      if (!c.empty) ++occupied;
    }
    if (columns == 0 || judged * 2 < columns) return std::nullopt;
    return static_cast<double>(occupied) / judged;
  }

  // Records the slot's confidently empty and full columns in the memory.
  void learn(std::size_t slot, const std::vector<Column>& cols, bool ledger_empty,
             const cv::Mat& w_gray, const cv::Mat& w_bgr) {
    if (!memory) return;
    const SlotGeometry& g = geometry[slot];
    for (std::size_t k = 0; k < cols.size(); ++k) {
      const Column& c = cols[k];
      if (!c.judged) continue;
      if (c.p_empty >= 0) {
        if (c.empty && c.p_empty > kLikeFull) {
          memory->learn_empty(slot, k, c.at, c.seen, w_bgr, w_gray);
        } else if (!c.empty && c.p_full > kLikeFull && c.p_empty < 1 - kLikeFull) {
          memory->learn_full(slot, k, c.at, c.seen, w_bgr, w_gray);
        }
      } else if (c.p_full < kLearnEmpty && (c.panel_like || ledger_empty)) {
        memory->learn_empty(slot, k, c.at, c.seen, w_bgr, w_gray);
      } else if (c.p_full > kLikeFull) {
        memory->learn_full(slot, k, c.at, c.seen, w_bgr, w_gray);
      }
    }
    (void)g;
  }

  // The back panel in the full reference: the median colour of the slots' top rows,
  // then per column the rows from the top that keep to it.
  void find_panel_bands() {
    std::vector<double> ch[3];
    for (const SlotGeometry& g : geometry) {
      if (g.bounds.height < 6 || g.bounds.width < 2) continue;
      const cv::Rect top(g.bounds.x, g.bounds.y, g.bounds.width, 2);
      const cv::Scalar c = cv::mean(full_bgr(top), g.mask(cv::Rect(0, 0, g.bounds.width, 2)));
      for (int k = 0; k < 3; ++k) ch[k].push_back(c[k]);
    }
    if (ch[0].empty()) return;
    cv::Scalar panel;
    for (int k = 0; k < 3; ++k) {
      std::nth_element(ch[k].begin(), ch[k].begin() + static_cast<long>(ch[k].size() / 2),
                       ch[k].end());
      panel[k] = ch[k][ch[k].size() / 2];
    }
    cv::Mat smooth;
    cv::blur(full_bgr, smooth, cv::Size(1, 3));
    for (SlotGeometry& g : geometry) {
      g.band.assign(g.columns.size(), 0);
      g.band_mask = cv::Mat(g.bounds.size(), CV_8UC1, cv::Scalar(0));
      g.body.clear();
      for (std::size_t k = 0; k < g.columns.size(); ++k) {
        const cv::Rect& col = g.columns[k];
        int h = 0;
        int misses = 0;
        for (int y = 0; y < col.height; ++y) {
          const cv::Rect row(g.bounds.x + col.x, g.bounds.y + y, col.width, 1);
          const cv::Mat row_mask = g.mask(cv::Rect(col.x, y, col.width, 1));
          if (cv::countNonZero(row_mask) == 0) continue;
          const cv::Scalar c = cv::mean(smooth(row), row_mask);
          if (chroma_gap(c, panel) < kBandChroma && brightness_gap(c, panel) < kBandBrightness) {
            h = y + 1;
            misses = 0;
          } else if (++misses > 1) {
            break;
          }
        }
        // A band reaching (nearly) the bottom is a column without product in the
        // reference: it has no body to judge apart from the panel.
        if (h > col.height * 9 / 10) h = 0;
        g.band[k] = h;
        cv::Mat body = g.mask(col).clone();
        // Off the slot's bottom edge: a pixel or two of registration error there shows
        // the shelf board, whose edge would pass for texture.
        const int trim = std::min(col.height / 2, std::max(3, col.height / 16));
        body(cv::Rect(0, col.height - trim, col.width, trim)).setTo(0);
        if (h > 0) {
          const cv::Rect top(col.x, 0, col.width, h);
          g.band_mask(top).setTo(255, g.mask(top));
          body(cv::Rect(0, 0, col.width, h)).setTo(0);
        }
        g.body.push_back(body);
      }
      if (!g.bounds.empty()) panel_mask(g.bounds).setTo(255, g.band_mask);
      g.panel_in_full.assign(g.columns.size(), false);
      if (g.bounds.empty() || cv::countNonZero(g.band_mask) < 24) continue;
      const AreaStats band = area_stats(full_bgr(g.bounds), full_gray(g.bounds), g.band_mask);
      for (std::size_t k = 0; k < g.columns.size(); ++k) {
        const cv::Rect at(g.bounds.x + g.columns[k].x, g.bounds.y, g.columns[k].width,
                          g.columns[k].height);
        if (cv::countNonZero(g.body[k]) < 8) continue;
        const AreaStats b = area_stats(full_bgr(at), full_gray(at), g.body[k]);
        g.panel_in_full[k] =
            chroma_gap(b.colour, band.colour) < kGapChroma &&
            brightness_gap(b.colour, band.colour) < kGapBrightness &&
            std::abs(std::log((b.var + kFlatVariance) / (band.var + kFlatVariance))) < kGapTexture;
      }
    }
  }

  // Identifies the planogram and full reference the learned state belongs to.
  std::string fingerprint() const {
    std::uint64_t h = 1469598103934665603ull;
    auto mix = [&h](const void* data, std::size_t n) {
      const auto* b = static_cast<const unsigned char*>(data);
      for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
    };
    mix(&plan.image.width, sizeof(int));
    mix(&plan.image.height, sizeof(int));
    for (const PlanogramSlot& sl : plan.slots) {
      mix(sl.id.data(), sl.id.size());
      mix(sl.sku.data(), sl.sku.size());
      mix(&sl.facings, sizeof(int));
      for (const cv::Point2f& p : sl.polygon) {
        const int xy[2] = {static_cast<int>(std::lround(p.x)), static_cast<int>(std::lround(p.y))};
        mix(xy, sizeof(xy));
      }
    }
    // The reference image, coarsely (a re-encoded copy of the same photo still matches).
    cv::Mat small;
    cv::resize(full_bgr, small, cv::Size(16, 9), 0, 0, cv::INTER_AREA);
    small.convertTo(small, CV_8UC3, 1.0 / 16);
    if (small.isContinuous()) mix(small.data, small.total() * small.elemSize());
    char buf[17];
    std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
    return buf;
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

const SlotMemory* ShelfScanner::memory() const { return impl_->memory ? &*impl_->memory : nullptr; }

const std::string& ShelfScanner::memory_note() const { return impl_->memory_note; }

Status ShelfScanner::save_memory() {
  Impl& m = *impl_;
  if (!m.memory || m.opt.state_prefix.empty()) return Status();
  SHOPEASY_RETURN_IF_ERROR(m.memory->save(m.opt.state_prefix));
  m.saved_slots = m.memory->slots_with_empty_look();
  m.saved_version = m.memory->version();
  m.saved_resets = m.memory->resets();
  return Status();
}

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
    if (!empty && options.learn) {
      impl->panel_mask = cv::Mat(impl->work, CV_8UC1, cv::Scalar(0));
      impl->find_panel_bands();
      std::vector<int> columns;
      for (const SlotGeometry& g : impl->geometry)
        columns.push_back(static_cast<int>(g.columns.size()));
      impl->memory.emplace(impl->work, columns, impl->fingerprint(), impl->full_bgr,
                           impl->full_gray, options.memory);
      if (!options.state_prefix.empty()) {
        const Status st = impl->memory->load(options.state_prefix);
        // Nothing saved is the normal first start; anything else starts afresh and says why.
        if (!st.is_ok() && st.code() != StatusCode::kNotFound) {
          impl->memory_note = st.to_string();
          impl->memory->reset(st.code() == StatusCode::kFailedPrecondition
                                  ? "planogram changed"
                                  : "saved state unreadable");
        }
      }
    } else if (!empty) {
      impl->panel_mask = cv::Mat(impl->work, CV_8UC1, cv::Scalar(0));
      impl->find_panel_bands();
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
    if (reg.ok && m.memory) {
      const std::vector<cv::Point2f> corners = {
          {0, 0},
          {static_cast<float>(m.plan.image.width), 0},
          {static_cast<float>(m.plan.image.width), static_cast<float>(m.plan.image.height)},
          {0, static_cast<float>(m.plan.image.height)}};
      m.memory->note_registration(transform(corners, reg.frame_to_ref),
                                  std::hypot(m.plan.image.width, m.plan.image.height));
    }

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
    AreaStats global_panel;
    if (reg.ok && !m.panel_mask.empty()) {
      cv::Mat seen;
      cv::bitwise_and(m.panel_mask, valid, seen);
      global_panel = area_stats(w_bgr, w_gray, seen);
    }
    std::vector<Column> cols;
    for (std::size_t i = 0; i < m.plan.slots.size(); ++i) {
      const PlanogramSlot& p = m.plan.slots[i];
      SlotResult r;
      r.id = p.id;
      r.sku = p.sku;
      r.facings_expected = p.facings;
      r.polygon = transform(p.polygon, ref_to_frame);
      const std::optional<double> fill =
          reg.ok ? m.judge_slot(i, w_gray, w_bgr, valid, global_panel, &cols) : std::nullopt;
      bool asked = false;
      if (fill && m.memory) {
        // The ledger's word helps learn a slot's empty look: asked when some column is
        // unlike the full look and has no learned empty look yet.
        bool ask = false;
        for (std::size_t k = 0; k < cols.size(); ++k) {
          ask |= cols[k].judged && cols[k].p_full < kLearnEmpty && cols[k].p_empty < 0;
        }
        if (ask && on_hand) {
          r.on_hand = on_hand(p.sku);
          asked = true;
        }
        m.learn(i, cols, asked && r.on_hand && *r.on_hand == 0, w_gray, w_bgr);
      }
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
          if (!asked) r.on_hand = on_hand(p.sku);
          r.phantom_stock = r.on_hand && *r.on_hand > 0;
        } else if (r.state != SlotState::kEmpty) {
          r.on_hand.reset();  // reported for empty slots only
        }
      }
      out.slots.push_back(std::move(r));
    }
    if (m.memory) {
      out.learning = true;
      out.learned_empty_slots = m.memory->slots_with_empty_look();
      out.learning_resets = m.memory->resets();
      out.learning_reset = m.memory->last_reset_reason();
      const bool changed = m.memory->version() != m.saved_version;
      const bool milestone =
          out.learned_empty_slots != m.saved_slots || m.memory->resets() != m.saved_resets;
      if (!m.opt.state_prefix.empty() && changed &&
          (milestone || ts_ms - m.last_save_ms >= m.opt.save_every_ms)) {
        m.last_save_ms = ts_ms;
        const Status st = save_memory();
        m.memory_note = st.is_ok() ? "" : st.to_string();
      }
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
