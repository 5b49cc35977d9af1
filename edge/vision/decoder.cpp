#include "edge/vision/decoder.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <exception>
#include <functional>

#include <opencv2/barcode.hpp>
#include <opencv2/imgproc.hpp>

#include "edge/barcode/barcode.hpp"
#include "edge/vision/matrix_grid.hpp"
#include "edge/vision/regions.hpp"
#include "edge/vision/zxing_reader.hpp"

namespace shopeasy::edge::vision {
namespace {

// Control characters a code's data may carry on purpose: GS (GS1 and ISO 15434 field
// separator), RS (ISO 15434 format separator), EOT (ISO 15434 trailer), and the line
// breaks and tabs of texts such as vCards.
bool kept_control(unsigned char c) {
  return c == 0x1d || c == 0x1e || c == 0x04 || c == '\n' || c == '\r' || c == '\t';
}

// Replaces other control characters with '?' and invalid UTF-8 with U+FFFD, so decoded
// text is always safe to log and to put in JSON (which escapes the kept ones).
std::string sanitize(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  std::size_t i = 0;
  while (i < in.size()) {
    const auto c = static_cast<unsigned char>(in[i]);
    if (c < 0x80) {
      out += (c < 0x20 && !kept_control(c)) || c == 0x7f ? '?' : static_cast<char>(c);
      ++i;
      continue;
    }
    std::size_t n = 0;
    if ((c & 0xe0) == 0xc0 && c >= 0xc2) {
      n = 2;
    } else if ((c & 0xf0) == 0xe0) {
      n = 3;
    } else if ((c & 0xf8) == 0xf0 && c <= 0xf4) {
      n = 4;
    }
    bool ok = n > 0 && i + n <= in.size();
    for (std::size_t k = 1; ok && k < n; ++k) {
      ok = (static_cast<unsigned char>(in[i + k]) & 0xc0) == 0x80;
    }
    if (ok) {
      out.append(in.substr(i, n));
      i += n;
    } else {
      out += "\xef\xbf\xbd";
      ++i;
    }
  }
  return out;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The GTIN in a GS1 Digital Link URI ("https://id.gs1.org/01/09506000134352/..."):
// nullopt when there is none, an error when it fails its check digit.
std::optional<StatusOr<std::string>> digital_link_gtin(std::string_view text) {
  if (text.substr(0, 7) != "http://" && text.substr(0, 8) != "https://") return std::nullopt;
  const std::size_t at = text.find("/01/");
  if (at == std::string_view::npos) return std::nullopt;
  std::size_t end = at + 4;
  while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
  const std::string_view digits = text.substr(at + 4, end - at - 4);
  if (end < text.size() && text[end] != '/' && text[end] != '?') return std::nullopt;
  if (digits.size() != 8 && digits.size() != 12 && digits.size() != 13 && digits.size() != 14) {
    return std::nullopt;
  }
  return barcode::to_gtin14(digits);
}

struct Candidate {
  Symbology symbology;
  std::string text;
  std::string symbology_id;
};

// Validates one raw read. nullopt when it must be dropped (check digit, GS1 syntax).
std::optional<Detection> validate(const Candidate& c) {
  Detection d;
  d.symbology = c.symbology;
  d.text = sanitize(c.text);
  auto product = [&](StatusOr<barcode::ParsedCode> parsed, std::string scan_code) -> bool {
    if (!parsed.ok()) return false;
    d.gtin14 = parsed->gtin14;
    d.scan_code = parsed->gtin14.empty() ? std::string() : std::move(scan_code);
    return true;
  };
  switch (c.symbology) {
    case Symbology::kEan13:
      if (!product(barcode::parse_scan(c.text, "ean-13"), c.text)) return std::nullopt;
      break;
    case Symbology::kEan8:
      if (!product(barcode::parse_scan(c.text, "ean-8"), c.text)) return std::nullopt;
      break;
    case Symbology::kUpcA:
      if (!product(barcode::parse_scan(c.text, "upc-a"), c.text)) return std::nullopt;
      break;
    case Symbology::kUpcE: {
      // parse_scan reads 8 bare digits as EAN-8, so hand on the GTIN instead.
      auto parsed = barcode::parse_scan(c.text, "upc-e");
      if (!parsed.ok()) return std::nullopt;
      d.gtin14 = parsed->gtin14;
      d.scan_code = parsed->gtin14;
      break;
    }
    case Symbology::kCode128:
    case Symbology::kGs1_128:
      if (c.symbology_id == "]C1") {
        d.symbology = Symbology::kGs1_128;
        if (!product(barcode::parse_scan("]C1" + c.text), "]C1" + c.text)) return std::nullopt;
      } else {
        d.symbology = Symbology::kCode128;
        if (c.text.empty()) return std::nullopt;
      }
      break;
    case Symbology::kQr:
    case Symbology::kDataMatrix: {
      const bool gs1 = c.symbology_id == "]Q3" || c.symbology_id == "]d2";
      if (gs1) {
        if (!product(barcode::parse_scan(c.symbology_id + c.text), c.symbology_id + c.text)) {
          return std::nullopt;
        }
      } else if (auto link = digital_link_gtin(c.text)) {
        if (!link->ok()) return std::nullopt;
        d.gtin14 = **link;
        d.scan_code = **link;
      } else if (c.symbology == Symbology::kDataMatrix && all_digits(c.text) &&
                 (c.text.size() == 8 || c.text.size() == 12 || c.text.size() == 13 ||
                  c.text.size() == 14)) {
        auto g = barcode::to_gtin14(c.text);
        if (!g.ok()) return std::nullopt;
        d.gtin14 = *g;
        d.scan_code = *g;
      } else if (c.text.empty()) {
        return std::nullopt;
      }
      break;
    }
    case Symbology::kGtin14:
    case Symbology::kGs1:
    case Symbology::kUnknown:
      return std::nullopt;  // parse_scan's kinds; no reader in this file produces them
  }
  return d;
}

std::optional<Symbology> from_zxing_format(const std::string& f) {
  if (f == "EAN-13") return Symbology::kEan13;
  if (f == "EAN-8") return Symbology::kEan8;
  if (f == "UPC-A") return Symbology::kUpcA;
  if (f == "UPC-E") return Symbology::kUpcE;
  if (f == "Code128") return Symbology::kCode128;
  if (f == "QRCode") return Symbology::kQr;
  if (f == "DataMatrix") return Symbology::kDataMatrix;
  return std::nullopt;
}

cv::Point2f centre(const std::array<cv::Point2f, 4>& q) {
  return (q[0] + q[1] + q[2] + q[3]) * 0.25f;
}

double extent(const std::array<cv::Point2f, 4>& q) {
  return std::max(cv::norm(q[0] - q[2]), cv::norm(q[1] - q[3]));
}

// Two reads of one symbol: centres closer than the symbol is large. Linear reads from
// one scan line have flat quadrilaterals, so size is taken from the diagonals.
bool same_place(const std::array<cv::Point2f, 4>& a, const std::array<cv::Point2f, 4>& b) {
  return cv::norm(centre(a) - centre(b)) < 0.6 * std::max(extent(a), extent(b)) + 30;
}

bool inside(const std::array<cv::Point2f, 4>& quad, cv::Point2f p, float margin) {
  std::vector<cv::Point2f> poly(quad.begin(), quad.end());
  return cv::pointPolygonTest(poly, p, true) >= -margin;
}

// See opencv_read(): the smallest image OpenCV's barcode module is trusted with.
constexpr int kMinOpenCvSide = 64;

// Bars in an area worth giving to OpenCV (UPC-E has 17, EAN-13 30; blur merges some).
constexpr int kMinRetailBars = 10;
constexpr int kMaxRetailBars = 40;
// With a code already read, second-tier reads go only to candidates at least this
// strong relative to the strongest.
constexpr double kTier1ScoreShare = 0.3;
// A linear candidate's crop is read again with the code read painted over (see
// read_rest()) at most this often, and only when that code fills less than this
// share of the crop's width or height.
constexpr int kMaxRereads = 2;
constexpr double kRestShare = 0.5;

// Crops are never larger than this a side: it bounds the cost of one read. Linear
// crops may be wider (across the bars), as long codes need it and a row costs little.
constexpr double kMaxCropSide = 720;
constexpr double kMaxLinearCropWidth = 1600;
// Frames up to half this side are also read enlarged by the whole-frame matrix pass.
constexpr int kMaxEnlargedSide = 1400;
constexpr std::size_t kSmallFramePixels = 640 * 480;

// An upright crop of a region: the affine map from crop to image and the crop.
struct Crop {
  cv::Mat image;
  cv::Matx23d to_image;
  // For a rectified crop: the code's outline in the parent crop, reported as the
  // code's corners (the reader's own corners are in rectified coordinates).
  std::optional<std::array<cv::Point2f, 4>> quad;
  // Crop pixel -> frame pixel, perspective included (rectified crops): tells whether a
  // point of the crop shows the frame or lies beyond its edge.
  cv::Matx33d to_frame = cv::Matx33d::eye();
};

cv::Matx33d affine3(const cv::Matx23d& m) {
  return cv::Matx33d(m(0, 0), m(0, 1), m(0, 2), m(1, 0), m(1, 1), m(1, 2), 0, 0, 1);
}

Crop linear_crop(const cv::Mat& gray, const CodeRegion& r) {
  const double a = r.across_angle;
  const cv::Point2d u(std::cos(a), std::sin(a));  // across the bars
  const cv::Point2d v(-u.y, u.x);                 // along the bars
  cv::Point2f pts[4];
  r.box.points(pts);
  double umin = 1e18, umax = -1e18, vmin = 1e18, vmax = -1e18;
  for (const cv::Point2f& p : pts) {
    const cv::Point2d q(p.x - r.box.center.x, p.y - r.box.center.y);
    umin = std::min(umin, q.dot(u));
    umax = std::max(umax, q.dot(u));
    vmin = std::min(vmin, q.dot(v));
    vmax = std::max(vmax, q.dot(v));
  }
  const double len = umax - umin;
  const double height = vmax - vmin;
  // Quiet zones lie outside the gradient area.
  // Small codes are enlarged so a module spans a few pixels after resampling; huge
  // areas (clutter merged with a code) are shrunk to bound the cost of a read.
  const double base_w = len * 1.35 + 24;
  const double base_h = std::max(height, 12.0) * 1.1 + 8;
  // Along the bars nothing changes, so that direction is shrunk on its own: a long
  // code close to the camera keeps its modules, and the crop stays cheap to read.
  double scale = std::clamp(360.0 / std::max(len, 1.0), 1.0, 2.5);
  scale = std::min(scale, kMaxLinearCropWidth / base_w);
  const double out_w = base_w * scale;
  const double scale_v =
      std::min({scale, kMaxCropSide / base_h, kMaxCropSide * kMaxCropSide / out_w / base_h});
  const double out_h = base_h * scale_v;
  const cv::Point2d c(r.box.center.x, r.box.center.y);
  // crop (x, y) -> image: c + u * (x - w/2) / s + v * (y - h/2) / s_v
  cv::Matx23d m(u.x / scale, v.x / scale_v, 0, u.y / scale, v.y / scale_v, 0);
  m(0, 2) = c.x - u.x * out_w / 2 / scale - v.x * out_h / 2 / scale_v;
  m(1, 2) = c.y - u.y * out_w / 2 / scale - v.y * out_h / 2 / scale_v;
  Crop crop;
  crop.to_image = m;
  crop.to_frame = affine3(m);
  cv::warpAffine(gray, crop.image, cv::Mat(m),
                 cv::Size(static_cast<int>(out_w), static_cast<int>(out_h)),
                 cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_REPLICATE);
  return crop;
}

Crop matrix_crop(const cv::Mat& gray, const CodeRegion& r) {
  const cv::Rect2f b = r.box.boundingRect2f();
  const float side = std::max(b.width, b.height) * 1.5f + 16;
  const cv::Point2f c = r.box.center;
  const double scale = std::min(std::clamp(160.0 / side, 1.0, 3.0), kMaxCropSide / side);
  const double out = side * scale;
  cv::Matx23d m(1 / scale, 0, c.x - side / 2, 0, 1 / scale, c.y - side / 2);
  Crop crop;
  crop.to_image = m;
  crop.to_frame = affine3(m);
  cv::warpAffine(gray, crop.image, cv::Mat(m),
                 cv::Size(static_cast<int>(out), static_cast<int>(out)),
                 cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_REPLICATE);
  return crop;
}

std::array<cv::Point2f, 4> map_quad(const std::array<cv::Point2f, 4>& q, const cv::Matx23d& m) {
  std::array<cv::Point2f, 4> out;
  for (std::size_t i = 0; i < 4; ++i) {
    out[i] = cv::Point2f(static_cast<float>(m(0, 0) * q[i].x + m(0, 1) * q[i].y + m(0, 2)),
                         static_cast<float>(m(1, 0) * q[i].x + m(1, 1) * q[i].y + m(1, 2)));
  }
  return out;
}

// The shortest symbol read here (a one-character Code 128) has 13 bars, 26 edges;
// clutter rarely has as many.
constexpr int kMinLinearEdges = 20;

// Edges in a 1D profile, counted against its moving average.
int count_profile_edges(const cv::Mat& profile) {
  cv::Mat local;
  cv::blur(profile, local, cv::Size(15, 1), cv::Point(-1, -1), cv::BORDER_REPLICATE);
  const float* p = profile.ptr<float>(0);
  const float* m = local.ptr<float>(0);
  int edges = 0;
  int state = 0;
  for (int x = 0; x < profile.cols; ++x) {
    const float d = p[x] - m[x];
    const int now = d > 3.0f ? 1 : (d < -3.0f ? -1 : 0);
    if (now != 0 && now != state) {
      if (state != 0) ++edges;
      state = now;
    }
  }
  return edges;
}

// Bar edges across a linear region, sampled on three lines through its middle
// straight from the frame: cheap enough to reject clutter before cutting a crop.
int region_edges(const cv::Mat& gray, const CodeRegion& r) {
  const double a = r.across_angle;
  const cv::Point2d u(std::cos(a), std::sin(a));
  const cv::Point2d v(-u.y, u.x);
  const double len = std::max(r.box.size.width, r.box.size.height) * 1.2 + 16;
  const double across = std::min(r.box.size.width, r.box.size.height) / 4;
  const int n = std::clamp(static_cast<int>(len), 16, 4096);
  cv::Mat profile(1, n, CV_32F, cv::Scalar(0));
  float* out = profile.ptr<float>(0);
  for (double off : {-across, 0.0, across}) {
    const cv::Point2d start = cv::Point2d(r.box.center) - u * (len / 2) + v * off;
    for (int i = 0; i < n; ++i) {
      const cv::Point2d p = start + u * static_cast<double>(i);
      const int x = std::clamp(static_cast<int>(p.x), 0, gray.cols - 2);
      const int y = std::clamp(static_cast<int>(p.y), 0, gray.rows - 2);
      const double fx = std::clamp(p.x - x, 0.0, 1.0);
      const double fy = std::clamp(p.y - y, 0.0, 1.0);
      const std::uint8_t* r0 = gray.ptr<std::uint8_t>(y);
      const std::uint8_t* r1 = gray.ptr<std::uint8_t>(y + 1);
      const double top = r0[x] * (1 - fx) + r0[x + 1] * fx;
      const double bottom = r1[x] * (1 - fx) + r1[x + 1] * fx;
      out[i] += static_cast<float>((top * (1 - fy) + bottom * fy) / 3);
    }
  }
  return count_profile_edges(profile);
}

// Unsharp masking: restores some of the contrast blur took from narrow modules.
cv::Mat sharpened_by(const cv::Mat& gray, double sigma, double amount) {
  cv::Mat blurred;
  cv::GaussianBlur(gray, blurred, cv::Size(0, 0), sigma);
  cv::Mat out;
  cv::addWeighted(gray, 1 + amount, blurred, -amount, 0, out);
  return out;
}

cv::Mat sharpened(const cv::Mat& gray) { return sharpened_by(gray, 2.0, 1.2); }

// Edge energy, as a share of the crop's strongest, that still counts as code when the
// first outline (at 0.3) is read in vain.
constexpr double kWeakEdgeShare = 0.12;

// The outline of the code inside a crop: the largest area of edges at least `share` of
// the strongest, around the crop centre, as a quadrilateral (top-left, top-right, bottom-right,
// bottom-left). For linear crops (bars upright) only horizontal gradients count. nullopt when no
// plausible outline is found.
std::optional<std::array<cv::Point2f, 4>> find_code_quad(const cv::Mat& crop, bool linear,
                                                         double share) {
  cv::Mat gx;
  cv::Mat gy;
  cv::Sobel(crop, gx, CV_32F, 1, 0, 3);
  cv::Mat energy = cv::abs(gx);
  if (!linear) {
    cv::Sobel(crop, gy, CV_32F, 0, 1, 3);
    energy += cv::abs(gy);
  }
  const int win = std::max(3, std::min(crop.cols, crop.rows) / 16) | 1;
  cv::blur(energy, energy, cv::Size(linear ? win : win, linear ? std::max(3, win / 2) : win));
  double max_e = 0;
  cv::minMaxLoc(energy, nullptr, &max_e);
  if (max_e <= 1) return std::nullopt;
  cv::Mat mask = energy > share * max_e;
  cv::Mat labels;
  cv::Mat stats;
  cv::Mat centroids;
  const int n = cv::connectedComponentsWithStats(mask, labels, stats, centroids, 8, CV_32S);
  int best = -1;
  for (int i = 1; i < n; ++i) {
    if (best < 0 || stats.at<int>(i, cv::CC_STAT_AREA) > stats.at<int>(best, cv::CC_STAT_AREA))
      best = i;
  }
  if (best < 0 || stats.at<int>(best, cv::CC_STAT_AREA) < 64) return std::nullopt;
  const cv::Mat blob = labels == best;
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(blob, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
  if (contours.empty()) return std::nullopt;
  std::vector<cv::Point> hull;
  cv::convexHull(contours.front(), hull);
  std::vector<cv::Point> poly;
  const double perimeter = cv::arcLength(hull, true);
  for (double eps = 0.02; eps < 0.2; eps += 0.02) {
    cv::approxPolyDP(hull, poly, eps * perimeter, true);
    if (poly.size() <= 4) break;
  }
  std::array<cv::Point2f, 4> q;
  if (poly.size() == 4) {
    q = clockwise_from_top_left(std::vector<cv::Point2f>(poly.begin(), poly.end()));
  } else {
    cv::Point2f pts[4];
    cv::minAreaRect(hull).points(pts);
    std::vector<cv::Point2f> p(pts, pts + 4);
    std::sort(p.begin(), p.end(), [](cv::Point2f a, cv::Point2f b) { return a.y < b.y; });
    if (p[0].x > p[1].x) std::swap(p[0], p[1]);
    if (p[2].x < p[3].x) std::swap(p[2], p[3]);
    q = {p[0], p[1], p[2], p[3]};
  }
  const double w = std::max(cv::norm(q[1] - q[0]), cv::norm(q[2] - q[3]));
  const double h = std::max(cv::norm(q[3] - q[0]), cv::norm(q[2] - q[1]));
  if (w < 12 || h < 8) return std::nullopt;
  return q;
}

// The crop with its code's outline mapped to an upright rectangle plus a margin, which
// removes perspective (module widths that change across the symbol).
std::optional<Crop> rectified(const Crop& crop, bool linear, double share = 0.3) {
  const auto quad = find_code_quad(crop.image, linear, share);
  if (!quad) return std::nullopt;
  const auto& q = *quad;
  double w = std::max(cv::norm(q[1] - q[0]), cv::norm(q[2] - q[3]));
  double h = std::max(cv::norm(q[3] - q[0]), cv::norm(q[2] - q[1]));
  if (!linear) w = h = std::max(w, h);
  const double margin = linear ? 0.15 * w + 8 : 0.2 * w + 8;
  const std::vector<cv::Point2f> dst = {
      {static_cast<float>(margin), static_cast<float>(margin)},
      {static_cast<float>(margin + w), static_cast<float>(margin)},
      {static_cast<float>(margin + w), static_cast<float>(margin + h)},
      {static_cast<float>(margin), static_cast<float>(margin + h)}};
  const cv::Mat to_crop =
      cv::getPerspectiveTransform(dst, std::vector<cv::Point2f>(q.begin(), q.end()));
  Crop out;
  cv::warpPerspective(crop.image, out.image, to_crop,
                      cv::Size(static_cast<int>(w + 2 * margin), static_cast<int>(h + 2 * margin)),
                      cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_REPLICATE);
  // Corners are reported through the crop's affine map; the perspective part only
  // moves them within the crop, so map the outline's own corners instead.
  out.to_image = crop.to_image;
  out.to_frame = crop.to_frame * cv::Matx33d(to_crop);
  out.quad = q;
  return out;
}

// Bars (dark runs) across the middle third of an upright image between x0 and x1.
int count_bars(const cv::Mat& upright, int x0, int x1) {
  x0 = std::clamp(x0, 0, upright.cols - 1);
  x1 = std::clamp(x1, x0 + 1, upright.cols);
  const int top = upright.rows / 3;
  const int rows = std::max(1, upright.rows / 3);
  cv::Mat profile;
  cv::reduce(upright(cv::Rect(x0, top, x1 - x0, std::min(rows, upright.rows - top))), profile, 0,
             cv::REDUCE_AVG, CV_32F);
  return (count_profile_edges(profile) + 1) / 2;
}

// Bars a symbol has: guard bars plus two per digit.
std::optional<int> expected_bars(Symbology s) {
  switch (s) {
    case Symbology::kEan13:
    case Symbology::kUpcA:
      return 30;
    case Symbology::kEan8:
      return 22;
    case Symbology::kUpcE:
      return 17;
    default:
      return std::nullopt;
  }
}

// A read that found fewer bars than the area holds is a part of a longer symbol
// (OpenCV reading a Code 128 or an EAN-13 as an EAN-8): refused. Blur only merges
// bars, so too many is the telling direction.
bool plausible_bar_count(Symbology s, int bars) {
  const auto want = expected_bars(s);
  return !want || bars <= *want + std::max(4, *want / 5);
}

// The modules a symbol spans between its outer guard bars.
int symbol_modules(Symbology s) {
  switch (s) {
    case Symbology::kEan8:
      return 67;
    case Symbology::kUpcE:
      return 51;
    default:
      return 95;
  }
}

// The direction across the bars near a scan line from `a` to `b` (unit length, pointing
// from a towards b): the dominant gradient orientation along the line. A scan line
// may cross the bars at a slant, so this is not the line's own direction.
cv::Point2f across_bars(const cv::Mat& gray, cv::Point2f a, cv::Point2f b) {
  const double len = cv::norm(b - a);
  const cv::Point2f u = (b - a) * static_cast<float>(1.0 / len);
  double sxx = 0, sxy = 0, syy = 0;
  for (double t = 0; t <= len; t += 0.5) {
    const cv::Point2f p = a + u * static_cast<float>(t);
    const int x = cvRound(p.x);
    const int y = cvRound(p.y);
    if (x < 1 || y < 1 || x + 1 >= gray.cols || y + 1 >= gray.rows) continue;
    const double gx = gray.at<std::uint8_t>(y, x + 1) - gray.at<std::uint8_t>(y, x - 1);
    const double gy = gray.at<std::uint8_t>(y + 1, x) - gray.at<std::uint8_t>(y - 1, x);
    sxx += gx * gx;
    sxy += gx * gy;
    syy += gy * gy;
  }
  if (sxx + syy <= 0) return u;
  const double theta = 0.5 * std::atan2(2 * sxy, sxx - syy);
  cv::Point2f n(static_cast<float>(std::cos(theta)), static_cast<float>(std::sin(theta)));
  if (n.dot(u) < 0) n = -n;
  // A line nearly along the bars reads nothing; keep its own direction then.
  return n.dot(u) < 0.25f ? u : n;
}

// A scan line crossing the bars at more than about 12 degrees is slanted.
constexpr float kSlantCos = 0.978f;

// Whether the quiet zones beside a linear read (its scan line from q[0] to q[1]) are
// free of bars. A short symbol (EAN-8, UPC-E) read from a scan line across part of a
// longer one has bars there. A zone that lies outside the frame (`in_frame` false for
// a sample, looked for across the bars: a slanted scan line may leave through the
// ends of the bars) at one end only, as for a symbol cut by the frame's edge, cannot be seen
// to be clear and counts as not clear (the left half of an EAN-13 whose first digit
// is not 0, cut just after its centre guard, is a valid UPC-E); at both ends the
// symbol fills the frame (a label photographed alone).
bool quiet_zones_clear(const cv::Mat& gray, const std::array<cv::Point2f, 4>& q, Symbology s,
                       const std::function<bool(cv::Point2f)>& in_frame) {
  const cv::Point2f a = (q[0] + q[3]) * 0.5f;
  const cv::Point2f b = (q[1] + q[2]) * 0.5f;
  const double len = cv::norm(b - a);
  if (len < 8) return true;
  const cv::Point2f u = (b - a) * static_cast<float>(1.0 / len);
  const double module = len / symbol_modules(s);
  bool outside = false;
  auto sample = [&](cv::Point2f p) -> std::optional<float> {
    if (in_frame && !in_frame(p)) {
      outside = true;
      return std::nullopt;
    }
    const int x = cvRound(p.x);
    const int y = cvRound(p.y);
    if (x < 0 || y < 0 || x >= gray.cols || y >= gray.rows) return std::nullopt;
    return static_cast<float>(gray.at<std::uint8_t>(y, x));
  };
  float lo = 255;
  float hi = 0;
  for (double t = 0; t <= len; t += std::max(0.5, module / 2)) {
    if (auto v = sample(a + u * static_cast<float>(t))) {
      lo = std::min(lo, *v);
      hi = std::max(hi, *v);
    }
  }
  const float contrast = hi - lo;
  if (contrast < 10) return true;
  const cv::Point2f n = across_bars(gray, a, b);
  const double across_module = module * std::abs(n.dot(u));
  int sides_outside = 0;
  for (int side = 0; side < 2; ++side) {
    const cv::Point2f from = side == 0 ? a : b;
    const cv::Point2f dir = side == 0 ? -u : u;
    float zlo = 255;
    float zhi = 0;
    for (double t = 1.5 * module; t <= 6.5 * module; t += std::max(0.5, module / 2)) {
      if (auto v = sample(from + dir * static_cast<float>(t))) {
        zlo = std::min(zlo, *v);
        zhi = std::max(zhi, *v);
      }
    }
    if (zhi > zlo && zhi - zlo > 0.5f * contrast) return false;
    const cv::Point2f zone = side == 0 ? -n : n;
    for (double t = 1.5 * across_module; t <= 6.5 * across_module; t += 0.5) {
      if (in_frame && !in_frame(from + zone * static_cast<float>(t))) {
        ++sides_outside;
        break;
      }
    }
    // A slanted line may leave through the ends of the bars, where the line itself
    // shows no bars beyond: the zone is also looked at across the bars, on lines
    // shifted along them into the symbol.
    if (n.dot(u) > kSlantCos) continue;
    const cv::Point2f along(-n.y, n.x);
    for (float shift : {-3.0f, 0.0f, 3.0f}) {
      const cv::Point2f start = from + along * static_cast<float>(shift * across_module);
      float slo = 255;
      float shi = 0;
      for (double t = 1.5 * across_module; t <= 6.5 * across_module;
           t += std::max(0.5, across_module / 2)) {
        const cv::Point2f p = start + zone * static_cast<float>(t);
        if (in_frame && !in_frame(p)) continue;
        if (auto v = sample(p)) {
          slo = std::min(slo, *v);
          shi = std::max(shi, *v);
        }
      }
      if (shi > slo && shi - slo > 0.5f * contrast) return false;
    }
  }
  return sides_outside != 1;
}

// Whether a UPC-E read is the left half of an EAN-13 read beside it: its six digits
// are the EAN-13's second to seventh (the EAN-13's parity pattern, set by its first
// digit, is a valid UPC-E one), and the two lie at one place. A row crossing a turned
// EAN-13 that leaves through the ends of the bars just after the centre guard reads so.
bool upce_is_half_of(const Detection& upce, const std::array<cv::Point2f, 4>& upce_corners,
                     const Detection& ean13, const std::array<cv::Point2f, 4>& ean13_corners) {
  if (upce.symbology != Symbology::kUpcE || ean13.symbology != Symbology::kEan13) return false;
  if (upce.text.size() != 8 || ean13.text.size() != 13) return false;
  if (upce.text.compare(1, 6, ean13.text, 1, 6) != 0) return false;
  return same_place(upce_corners, ean13_corners);
}

}  // namespace

namespace {

// This thread's CPU time: a frame's budget is not spent while the thread waits.
double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

}  // namespace

struct BarcodeDecoder::Impl {
  std::unique_ptr<cv::barcode::BarcodeDetector> opencv;
  std::vector<Detection> found;
  DecodeStats stats;
  // A candidate with enough bar edges to be a linear code was cut out and read.
  bool unread_bars = false;
  double started_ms = 0;  // thread CPU time when the frame's decode began
  // The reduced copy of the frame the proposals worked on (empty: none made).
  cv::Mat work;
  cv::Size frame_size;  // of the frame being decoded

  bool over_budget() {
    if (options->frame_budget_ms <= 0) return false;
    if (!stats.over_budget && thread_cpu_ms() - started_ms > options->frame_budget_ms) {
      stats.over_budget = true;
    }
    return stats.over_budget;
  }
  const DecoderOptions* options = nullptr;

  bool full() const { return static_cast<int>(found.size()) >= options->max_codes; }

  // Validates and records a read unless the same symbol is already known.
  bool add(const Candidate& c, const std::array<cv::Point2f, 4>& corners, const char* engine) {
    ++stats.reads;
    std::optional<Detection> d = validate(c);
    if (!d) {
      ++stats.dropped_check_digit;
      return false;
    }
    for (Detection& other : found) {
      if (other.text != d->text || other.symbology != d->symbology) continue;
      if (same_place(other.corners, corners)) return true;
    }
    // Two different codes at one place: one of them is wrong (part of one symbol read
    // with bars from beside it). OpenCV decodes the area it is given with fewer checks
    // than zxing-cpp (no quiet zones), so its read gives way to zxing-cpp's.
    const bool from_opencv = std::string_view(engine).rfind("opencv", 0) == 0;
    for (auto it = found.begin(); it != found.end(); ++it) {
      const bool other_opencv = it->engine.rfind("opencv", 0) == 0;
      if (it->text == d->text || from_opencv == other_opencv) continue;
      if (!inside(corners, centre(it->corners), 4) && !inside(it->corners, centre(corners), 4)) {
        continue;
      }
      ++stats.implausible;
      if (from_opencv) return false;
      found.erase(it);
      break;
    }
    // The left half of an EAN-13 read as a UPC-E, before or after the EAN-13.
    for (auto it = found.begin(); it != found.end(); ++it) {
      if (upce_is_half_of(*d, corners, *it, it->corners)) {
        ++stats.implausible;
        return false;
      }
      if (upce_is_half_of(*it, it->corners, *d, corners)) {
        ++stats.implausible;
        found.erase(it);
        break;
      }
    }
    // A short code read by a scan line across part of a longer symbol (EAN-8 inside
    // an EAN-13) is replaced when the upright read of that area gives another code.
    for (auto it = found.begin(); it != found.end(); ++it) {
      const bool short_code =
          it->symbology == Symbology::kEan8 || it->symbology == Symbology::kUpcE;
      if (short_code && it->engine == std::string("zxing") && it->text != d->text &&
          inside(corners, centre(it->corners), 10)) {
        found.erase(it);
        break;
      }
    }
    d->corners = corners;
    d->engine = engine;
    found.push_back(std::move(*d));
    return true;
  }

  // Whether a point of an image mapped to the frame by `to_frame` shows the frame.
  std::function<bool(cv::Point2f)> in_frame(const cv::Matx33d& to_frame) const {
    const cv::Rect shown(cv::Point(0, 0), frame_size);
    return [shown, to_frame](cv::Point2f p) {
      const cv::Vec3d h = to_frame * cv::Vec3d(p.x, p.y, 1);
      if (std::abs(h[2]) < 1e-9) return false;
      const double x = h[0] / h[2];
      const double y = h[1] / h[2];
      return x >= shown.x && y >= shown.y && x <= shown.x + shown.width - 1 &&
             y <= shown.y + shown.height - 1;
    };
  }

  bool covered(cv::Point2f p) const {
    for (const Detection& d : found) {
      if (d.symbology == Symbology::kEan8 || d.symbology == Symbology::kUpcE) continue;
      if (inside(d.corners, p, 4)) return true;
    }
    return false;
  }

  bool zxing(const cv::Mat& gray, const ZxingReadOptions& o, const Crop* crop, const char* engine,
             RawCode* read = nullptr) {
    auto r = zxing_read_one(gray, o);
    if (!r.ok()) {
      ++stats.library_errors;
      return false;
    }
    if (!r->has_value()) return false;
    const RawCode& raw = **r;
    const auto sym = from_zxing_format(raw.format);
    if (!sym) return false;
    if ((*sym == Symbology::kEan8 || *sym == Symbology::kUpcE) &&
        !quiet_zones_clear(gray, raw.corners, *sym,
                           in_frame(crop ? crop->to_frame : cv::Matx33d::eye()))) {
      ++stats.implausible;
      return false;
    }
    std::array<cv::Point2f, 4> corners = raw.corners;
    if (crop) corners = map_quad(crop->quad ? *crop->quad : raw.corners, crop->to_image);
    if (read) *read = raw;
    return add(Candidate{*sym, raw.text, raw.symbology_id}, corners, engine);
  }

  // A candidate holding more than the code read from it: products side by side, turned
  // alike, join into one candidate, and its crop reads one of them. The code read (its
  // columns in the upright crop, and the rows its bars fill) is painted over with the
  // label's light level and the crop read again, up to kMaxRereads times.
  void read_rest(Crop crop, RawCode raw, const ZxingReadOptions& o, int* attempts) {
    for (int k = 0; k < kMaxRereads && !full() && !over_budget(); ++k) {
      const cv::Rect code = upright_code_extent(crop.image, raw);
      if (code.empty() || (code.width >= kRestShare * crop.image.cols &&
                           code.height >= kRestShare * crop.image.rows)) {
        return;  // nothing else fits beside it
      }
      crop.image = crop.image.clone();
      crop.image(code).setTo(cv::Scalar(light_level(crop.image)));
      if (!has_bars_left(crop.image)) return;  // the label's edges and print, no code
      ++*attempts;
      RawCode next;
      if (!zxing(crop.image, o, &crop, "zxing-region", &next)) return;
      raw = next;
    }
  }

  // The area a linear code read from an upright image covers: the scan line's span
  // plus a tenth each side (quiet zones), and the rows around it whose contrast across
  // that span stays at least half the scan row's (the bars). Empty when the read is
  // not a horizontal scan line.
  static cv::Rect upright_code_extent(const cv::Mat& img, const RawCode& raw) {
    float x0 = 1e9f, x1 = -1e9f, ys = 0;
    for (const cv::Point2f& p : raw.corners) {
      x0 = std::min(x0, p.x);
      x1 = std::max(x1, p.x);
      ys += p.y / 4;
    }
    const cv::Rect all(0, 0, img.cols, img.rows);
    const int y = cvRound(ys);
    if (x1 - x0 < 8 || y < 0 || y >= img.rows) return {};
    for (const cv::Point2f& p : raw.corners) {
      if (std::abs(p.y - ys) > 0.1f * (x1 - x0) + 3) return {};  // not a row scan
    }
    const int c0 = std::max(0, cvFloor(x0));
    const int c1 = std::min(img.cols, cvCeil(x1) + 1);
    if (c1 - c0 < 8) return {};
    auto contrast = [&](int row) {
      cv::Scalar mean, dev;
      cv::meanStdDev(img(cv::Rect(c0, row, c1 - c0, 1)), mean, dev);
      return dev[0];
    };
    const double want = 0.5 * contrast(y);
    int top = y;
    int bottom = y;
    for (int miss = 0; top > 0 && miss < 3;) miss = contrast(--top) >= want ? 0 : miss + 1;
    for (int miss = 0; bottom + 1 < img.rows && miss < 3;) {
      miss = contrast(++bottom) >= want ? 0 : miss + 1;
    }
    const int margin = static_cast<int>(0.1f * (x1 - x0)) + 4;
    return cv::Rect(cv::Point(c0 - margin, top - 2), cv::Point(c1 + margin, bottom + 3)) & all;
  }

  // Whether some row of an upright crop still crosses as many bar edges as the
  // shortest code has (a dozen rows sampled): cheaper than a read that finds nothing.
  static bool has_bars_left(const cv::Mat& img) {
    const int step = std::max(1, img.rows / 12);
    cv::Mat profile;
    for (int y = step / 2; y < img.rows; y += step) {
      img.row(y).convertTo(profile, CV_32F);
      if (count_profile_edges(profile) >= kMinLinearEdges) return true;
    }
    return false;
  }

  // The light level of a crop: its 90th percentile grey value.
  static std::uint8_t light_level(const cv::Mat& img) {
    int hist[256] = {};
    for (int y = 0; y < img.rows; ++y) {
      const std::uint8_t* row = img.ptr<std::uint8_t>(y);
      for (int x = 0; x < img.cols; ++x) ++hist[row[x]];
    }
    const std::size_t target = img.total() * 9 / 10;
    std::size_t seen = 0;
    for (int v = 0; v < 256; ++v) {
      seen += static_cast<std::size_t>(hist[v]);
      if (seen >= target) return static_cast<std::uint8_t>(v);
    }
    return 255;
  }

  // Matrix codes the proposals did not outline or the crops did not read: a symbol
  // filling the frame, large modules on a plain label, a phone photo. zxing-cpp's own
  // detectors on the frame. Frames up to whole_frame_full_side at full resolution
  // with rotations and zxing-cpp's pyramid (and its linear readers), small ones also
  // enlarged (2 px modules of large versions). Larger frames (cameras) on a copy reduced to
  // whole_frame_matrix_side, made from the proposals' copy: it costs about half a
  // millisecond at 1080p and holds every symbol large enough for the proposals to
  // miss; above twice the proposals' working size (phone photos, 4K) also on that
  // copy while the budget lasts. Each image gets a light margin: zxing-cpp's detectors
  // need light around a symbol, and a symbol filling the frame has none.
  void whole_frame_matrix(const cv::Mat& gray) {
    ZxingReadOptions o;
    o.formats = kZxQr | kZxDataMatrix;
    o.try_harder = true;
    o.try_rotate = false;
    o.try_downscale = false;
    const int side = std::max(gray.cols, gray.rows);
    if (side > options->whole_frame_full_side) {
      const int reduced = std::max(64, options->whole_frame_matrix_side);
      const cv::Mat& from = work.empty() ? gray : work;
      const double f = static_cast<double>(reduced) / std::max(from.cols, from.rows);
      cv::Mat small;
      cv::resize(from, small, cv::Size(), f, f, cv::INTER_AREA);
      if (framed_read(small, static_cast<double>(small.cols) / gray.cols, o)) return;
      if (work.empty() || side <= 2 * std::max(work.cols, work.rows) || over_budget()) return;
      framed_read(work, static_cast<double>(work.cols) / gray.cols, o);
      return;
    }
    // Linear codes too: the first whole-frame read had no margin, and a code cut off
    // close to its bars (a photo of the label alone) needs one.
    o.formats |= kZxLinear;
    o.try_rotate = true;
    o.try_downscale = true;
    if (framed_read(gray, 1.0, o)) return;
    // Light modules on a dark ground (screens, laser-etched parts): zxing-cpp 1.4 reads
    // only dark-on-light, so the matrix formats get the inverted frame too. Like the
    // enlarged read below, it is made for small frames even when the budget is spent.
    if (!over_budget() || gray.total() <= kSmallFramePixels) {
      cv::Mat inverted;
      cv::bitwise_not(gray, inverted);
      ZxingReadOptions inv = o;
      inv.formats = kZxQr | kZxDataMatrix;
      inv.try_downscale = false;
      if (framed_read(inverted, 1.0, inv)) return;
    }
    // Up to VGA size the enlarged read costs what a read of a 1280x960 frame does; it
    // is made even when the budget is spent (the budget is sized for camera frames).
    if (side * 2 > kMaxEnlargedSide) return;
    if (gray.total() > kSmallFramePixels && over_budget()) return;
    cv::Mat big;
    cv::resize(gray, big, cv::Size(), 2, 2, cv::INTER_CUBIC);
    o.try_downscale = false;
    framed_read(big, 2.0, o);
  }

  // Reads `image` (the frame scaled by `scale`) with a light margin around it.
  bool framed_read(const cv::Mat& image, double scale, const ZxingReadOptions& o) {
    const int pad = std::max(8, std::max(image.cols, image.rows) / 20);
    Crop c;
    cv::copyMakeBorder(image, c.image, pad, pad, pad, pad, cv::BORDER_CONSTANT, cv::Scalar(255));
    // padded (x, y) -> frame ((x - pad) / scale, (y - pad) / scale)
    c.to_image = cv::Matx23d(1 / scale, 0, -pad / scale, 0, 1 / scale, -pad / scale);
    c.to_frame = affine3(c.to_image);
    return zxing(c.image, o, &c, "zxing-frame");
  }

  // Bars in the area a read came from: a rectified crop's code outline, a whole
  // upright crop, or OpenCV's own box straightened out.
  static int bars_in_quad(const cv::Mat& gray, const std::array<cv::Point2f, 4>& q,
                          const Crop* crop) {
    if (crop) {
      if (crop->quad) {
        // The rectified image holds the outline between its margins.
        const double w = std::max(cv::norm((*crop->quad)[1] - (*crop->quad)[0]),
                                  cv::norm((*crop->quad)[2] - (*crop->quad)[3]));
        const int margin = static_cast<int>(0.15 * w + 8);
        return count_bars(gray, margin, margin + static_cast<int>(w));
      }
      return count_bars(gray, 0, gray.cols);
    }
    const double w = cv::norm(q[1] - q[0]);
    const double h = cv::norm(q[3] - q[0]);
    if (w < 8 || h < 4) return 0;
    const std::vector<cv::Point2f> src(q.begin(), q.end());
    const std::vector<cv::Point2f> dst = {{0, 0},
                                          {static_cast<float>(w), 0},
                                          {static_cast<float>(w), static_cast<float>(h)},
                                          {0, static_cast<float>(h)}};
    cv::Mat upright;
    cv::warpPerspective(gray, upright, cv::getPerspectiveTransform(src, dst),
                        cv::Size(static_cast<int>(w), static_cast<int>(h)), cv::INTER_LINEAR,
                        cv::BORDER_REPLICATE);
    return count_bars(upright, 0, upright.cols);
  }

  // Whether the code area of a linear crop (a rectified crop's outline, else the
  // middle of the crop, outside the margin linear_crop() adds) reaches past the frame.
  bool reaches_past_frame(const Crop& c) const {
    const double cw = c.image.cols;
    const double ch = c.image.rows;
    double x0 = 0.13 * cw, x1 = 0.87 * cw, y0 = 0.25 * ch, y1 = 0.75 * ch;
    if (c.quad) {
      // rectified(): a margin of 0.15 w + 8 around the outline of width w.
      const double w = (cw - 16) / 1.3;
      const double margin = 0.15 * w + 8;
      x0 = margin;
      x1 = margin + w;
      y0 = margin;
      y1 = std::max(margin, ch - margin);
    }
    const auto shows = in_frame(c.to_frame);
    for (const cv::Point2f p : {cv::Point2f(static_cast<float>(x0), static_cast<float>(y0)),
                                cv::Point2f(static_cast<float>(x1), static_cast<float>(y0)),
                                cv::Point2f(static_cast<float>(x1), static_cast<float>(y1)),
                                cv::Point2f(static_cast<float>(x0), static_cast<float>(y1))}) {
      if (!shows(p)) return true;
    }
    return false;
  }

  // OpenCV on a grey image; `points` are the corners to decode at (empty: detect).
  bool opencv_read(const cv::Mat& gray, const std::vector<cv::Point2f>* points, const Crop* crop,
                   const char* engine) {
    if (!opencv) return false;
    // OpenCV decodes the area it is given without looking for quiet zones, so part of a
    // symbol cut by the frame's edge can read as a whole (shorter) one: an area that
    // reaches past the frame is not given to it.
    if (crop && reaches_past_frame(*crop)) {
      ++stats.implausible;
      return false;
    }
    // OpenCV 4.6's barcode detector divides by zero (SIGFPE) on images whose shorter
    // side is 41..50 pixels; small images are not given to it at all.
    if (std::min(gray.cols, gray.rows) < kMinOpenCvSide) return false;
    std::vector<std::string> infos;
    std::vector<cv::barcode::BarcodeType> types;
    std::vector<cv::Point2f> corners;
    try {
      if (points) {
        opencv->decode(gray, *points, infos, types);
        corners = *points;
      } else {
        opencv->detectAndDecode(gray, infos, types, corners);
      }
    } catch (const std::exception&) {
      ++stats.library_errors;
      return false;
    }
    bool any = false;
    for (std::size_t i = 0; i < infos.size() && i < types.size(); ++i) {
      if (infos[i].empty()) continue;
      Symbology s;
      switch (types[i]) {
        case cv::barcode::EAN_8:
          s = Symbology::kEan8;
          break;
        case cv::barcode::EAN_13:
          s = infos[i].size() == 12 ? Symbology::kUpcA : Symbology::kEan13;
          break;
        case cv::barcode::UPC_A:
          s = Symbology::kUpcA;
          break;
        case cv::barcode::UPC_E:
          s = Symbology::kUpcE;
          break;
        default:
          continue;
      }
      std::array<cv::Point2f, 4> q{};
      if (corners.size() >= 4 * (i + 1)) {
        // OpenCV lists bottom-left, top-left, top-right, bottom-right.
        q = {corners[4 * i + 1], corners[4 * i + 2], corners[4 * i + 3], corners[4 * i]};
      }
      if (!plausible_bar_count(s, bars_in_quad(gray, q, crop))) {
        ++stats.implausible;
        continue;
      }
      if (crop) q = map_quad(crop->quad ? *crop->quad : q, crop->to_image);
      any = add(Candidate{s, infos[i], ""}, q, engine) || any;
    }
    return any;
  }

  // Two tiers over the candidates, best first: one cheap read of each, then the
  // slower variants for those still unread, until the attempt budget is spent.
  void region_pass(const cv::Mat& gray) {
    const std::vector<CodeRegion> regions = propose_regions(gray, RegionOptions{}, &work);
    stats.regions = static_cast<int>(regions.size());
    int attempts = 0;
    std::vector<std::size_t> unread;
    for (std::size_t i = 0; i < regions.size(); ++i) {
      if (full() || attempts >= options->max_region_attempts) break;
      const CodeRegion& r = regions[i];
      if (covered(r.box.center)) continue;
      const bool read = r.linear ? linear_region(gray, r, 0, &attempts)
                                 : (options->use_zxing && matrix_region(gray, r, 0, &attempts));
      if (!read) unread.push_back(i);
    }
    // The slow variants only for the strongest few of each kind: a code's edges are
    // usually the strongest in the frame, and this bounds the time clutter costs.
    // Once the frame has given a code, weak candidates (clutter, mostly) are left.
    int linear_left = options->max_tier1_candidates;
    int matrix_left = options->max_tier1_candidates;
    const double floor =
        found.empty() || regions.empty() ? 0.0 : kTier1ScoreShare * regions[0].score;
    for (std::size_t i : unread) {
      if (full() || attempts >= options->max_region_attempts || over_budget()) break;
      const CodeRegion& r = regions[i];
      if (covered(r.box.center) || r.score < floor) continue;
      int& left = r.linear ? linear_left : matrix_left;
      if (left <= 0) continue;
      --left;
      if (r.linear) {
        linear_region(gray, r, 1, &attempts);
      } else if (options->use_zxing) {
        matrix_region(gray, r, 1, &attempts);
      }
    }
    stats.attempts = attempts;
  }

  // Tier 0: the upright crop. Tier 1: the perspective-corrected crop, OpenCV on it,
  // then sharpened. True when a code was read.
  bool linear_region(const cv::Mat& gray, const CodeRegion& r, int tier, int* attempts) {
    if (region_edges(gray, r) < kMinLinearEdges) return true;  // not a code: no tier 1
    unread_bars = true;
    const Crop crop = linear_crop(gray, r);
    if (crop.image.cols < 8 || crop.image.rows < 8) return true;
    ZxingReadOptions o;
    o.formats = kZxLinear;
    o.try_rotate = false;
    o.try_downscale = false;
    o.try_harder = options->crop_try_harder;
    if (tier == 0) {
      if (!options->use_zxing) return false;
      ++*attempts;
      RawCode raw;
      if (!zxing(crop.image, o, &crop, "zxing-region", &raw)) return false;
      read_rest(crop, raw, o, attempts);
      return true;
    }
    const std::optional<Crop> rect = rectified(crop, true);
    if (options->use_zxing && rect) {
      ++*attempts;
      if (zxing(rect->image, o, &*rect, "zxing-rectified")) return true;
      // Under strong keystone the wide bars at the near end have far less edge energy
      // than the narrow ones at the far end, and the outline stops short of them.
      const std::optional<Crop> wide = rectified(crop, true, kWeakEdgeShare);
      if (wide && wide->image.cols > rect->image.cols * 1.15) {
        ++*attempts;
        if (zxing(wide->image, o, &*wide, "zxing-rectified")) return true;
      }
    }
    const Crop& c = rect ? *rect : crop;
    // OpenCV reads only EAN/UPC: an area with far more or fewer bars is not worth it.
    const int bars = bars_in_quad(c.image, {}, &c);
    if (options->use_opencv && bars >= kMinRetailBars && bars <= kMaxRetailBars) {
      const float w = static_cast<float>(c.image.cols);
      const float h = static_cast<float>(c.image.rows);
      const std::vector<cv::Point2f> pts = {{2, h - 2}, {2, 2}, {w - 2, 2}, {w - 2, h - 2}};
      ++*attempts;
      if (opencv_read(c.image, &pts, &c, "opencv-region")) return true;
    }
    if (!options->use_zxing) return false;
    ++*attempts;
    return zxing(sharpened(c.image), o, &c, "zxing-sharpened");
  }

  // Tier 0: the crop. Tier 1: enlarged and sharpened (blurred QR codes), the module
  // grid re-drawn (blurred DataMatrix), the symbol's outline straightened and enlarged
  // (small, turned or keystoned symbols), then perspective-corrected by edge density.
  bool matrix_region(const cv::Mat& gray, const CodeRegion& r, int tier, int* attempts) {
    const Crop crop = matrix_crop(gray, r);
    if (crop.image.cols < 8 || crop.image.rows < 8) return true;
    ZxingReadOptions o;
    o.formats = kZxQr | kZxDataMatrix;
    o.try_rotate = false;
    o.try_downscale = false;
    o.try_harder = options->crop_try_harder;
    if (tier == 0) {
      ++*attempts;
      return zxing(crop.image, o, &crop, "zxing-region");
    }
    if (crop.image.cols <= kMaxCropSide / 2) {
      Crop big;
      cv::resize(crop.image, big.image, cv::Size(), 2, 2, cv::INTER_CUBIC);
      big.image = sharpened_by(big.image, 3.0, 1.5);
      big.to_image = crop.to_image * cv::Matx33d(0.5, 0, 0, 0, 0.5, 0, 0, 0, 1);
      big.to_frame = crop.to_frame * cv::Matx33d(0.5, 0, 0, 0, 0.5, 0, 0, 0, 1);
      ++*attempts;
      if (zxing(big.image, o, &big, "zxing-sharpened")) return true;
    }
    const auto outlines = matrix_outlines(crop.image);
    if (resampled(crop, outlines, attempts)) return true;
    if (outline_rectified(crop, outlines, attempts)) return true;
    const std::optional<Crop> rect = rectified(crop, false);
    if (!rect) return false;
    ++*attempts;
    return zxing(rect->image, o, &*rect, "zxing-rectified");
  }

  // A small, turned or keystoned matrix symbol: each outline found straightened out
  // and enlarged to several pixels per module, then read by zxing-cpp's own detector,
  // plain and sharpened (it tolerates what is left of the outline's error).
  bool outline_rectified(const Crop& crop, const std::vector<Quad>& outlines, int* attempts) {
    ZxingReadOptions o;
    o.formats = kZxQr | kZxDataMatrix;
    o.try_rotate = false;
    o.try_downscale = false;
    o.try_harder = true;
    for (const auto& q : outlines) {
      const double w = std::max(cv::norm(q[1] - q[0]), cv::norm(q[2] - q[3]));
      const double h = std::max(cv::norm(q[3] - q[0]), cv::norm(q[2] - q[1]));
      if (w > 1.4 * h || h > 1.4 * w) continue;
      const float side = static_cast<float>(std::clamp(std::max(w, h) * 3.0, 120.0, 240.0));
      const float margin = 0.25f * side;
      const std::vector<cv::Point2f> dst = {{margin, margin},
                                            {margin + side, margin},
                                            {margin + side, margin + side},
                                            {margin, margin + side}};
      Crop out;
      cv::warpPerspective(
          crop.image, out.image,
          cv::getPerspectiveTransform(dst, std::vector<cv::Point2f>(q.begin(), q.end())),
          cv::Size(static_cast<int>(side + 2 * margin), static_cast<int>(side + 2 * margin)),
          cv::INTER_CUBIC | cv::WARP_INVERSE_MAP, cv::BORDER_REPLICATE);
      out.to_image = crop.to_image;
      out.to_frame = crop.to_frame * cv::Matx33d(cv::getPerspectiveTransform(
                                         dst, std::vector<cv::Point2f>(q.begin(), q.end())));
      out.quad = q;
      // A symbol is about half dark modules; a filled shape or a frame is not.
      const cv::Mat inner = out.image(cv::Rect(static_cast<int>(margin), static_cast<int>(margin),
                                               static_cast<int>(side), static_cast<int>(side)));
      cv::Mat bits;
      cv::threshold(inner, bits, 0, 255, cv::THRESH_BINARY_INV | cv::THRESH_OTSU);
      const double dark = cv::countNonZero(bits) / static_cast<double>(bits.total());
      if (dark < 0.25 || dark > 0.75) continue;
      ++*attempts;
      if (zxing(out.image, o, &out, "zxing-outline")) return true;
      ++*attempts;
      if (zxing(sharpened_by(out.image, 3.0, 1.5), o, &out, "zxing-outline")) return true;
    }
    return false;
  }

  // A blurred or distorted matrix symbol: its module grid sampled and re-drawn clean
  // for zxing-cpp (see matrix_grid.hpp), as DataMatrix and then as QR.
  bool resampled(const Crop& crop, const std::vector<Quad>& outlines, int* attempts) {
    for (MatrixKind kind : {MatrixKind::kDataMatrix, MatrixKind::kQr}) {
      for (const Quad& q : outlines) {
        const double w = std::max(cv::norm(q[1] - q[0]), cv::norm(q[2] - q[3]));
        const double h = std::max(cv::norm(q[3] - q[0]), cv::norm(q[2] - q[1]));
        if (w > 1.4 * h || h > 1.4 * w) continue;
        ++*attempts;
        GridReadStats gs;
        auto r = read_matrix_grid(crop.image, q, kind, &gs);
        stats.library_errors += gs.library_errors;
        if (!r) continue;
        const Symbology s = kind == MatrixKind::kQr ? Symbology::kQr : Symbology::kDataMatrix;
        return add(Candidate{s, r->text, r->symbology_id}, map_quad(q, crop.to_image),
                   "zxing-resampled");
      }
    }
    return false;
  }
};

BarcodeDecoder::BarcodeDecoder(DecoderOptions options)
    : options_(options), impl_(std::make_unique<Impl>()) {
  if (options_.use_opencv) {
    try {
      impl_->opencv = std::make_unique<cv::barcode::BarcodeDetector>();
    } catch (const std::exception&) {
      impl_->opencv.reset();  // decoding goes on with zxing-cpp alone
    }
  }
}

BarcodeDecoder::~BarcodeDecoder() = default;
BarcodeDecoder::BarcodeDecoder(BarcodeDecoder&&) noexcept = default;
BarcodeDecoder& BarcodeDecoder::operator=(BarcodeDecoder&&) noexcept = default;

StatusOr<std::vector<Detection>> BarcodeDecoder::decode(const cv::Mat& image, DecodeStats* stats) {
  SHOPEASY_RETURN_IF_ERROR(check_frame(image, options_.limits));
  Impl& s = *impl_;
  s.found.clear();
  s.stats = DecodeStats{};
  s.unread_bars = false;
  s.work.release();
  s.frame_size = image.size();
  s.started_ms = thread_cpu_ms();
  s.options = &options_;
  try {
    cv::Mat gray;
    if (image.channels() == 1) {
      gray = image.isContinuous() ? image : image.clone();
    } else {
      cv::cvtColor(image, gray, image.channels() == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
    }
    if (options_.use_zxing) {
      // Matrix codes are left to the region pass: a whole-frame QR search costs more
      // than reading the few matrix candidates, and DataMatrix needs the crops anyway.
      ZxingReadOptions o;
      o.formats = kZxLinear;
      o.try_harder = options_.whole_frame_try_harder;
      o.try_downscale = options_.whole_frame_downscale;
      s.zxing(gray, o, nullptr, "zxing");
    }
    if (options_.use_regions && !s.full()) s.region_pass(gray);
    // OpenCV's own localisation finds some EAN/UPC codes the proposals outline badly,
    // at the price of a whole-frame search: only when nothing was read although some
    // candidate had the bars of a code (or there was no region pass). Before the
    // whole-frame matrix pass, whose time would otherwise take its budget.
    if (options_.use_opencv && options_.whole_frame_opencv && s.found.empty() &&
        (s.unread_bars || !options_.use_regions) && !s.over_budget()) {
      s.opencv_read(gray, nullptr, nullptr, "opencv");
    }
    if (options_.use_zxing && options_.whole_frame_matrix && s.found.empty()) {
      s.whole_frame_matrix(gray);
    }
  } catch (const std::exception&) {
    ++s.stats.library_errors;
  }
  if (stats) *stats = s.stats;
  return std::move(s.found);
}

}  // namespace shopeasy::edge::vision
