#include "tools/vision-gen/scene.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "tools/vision-gen/render.hpp"

namespace shopeasy::vision_gen {
namespace {

double uniform(std::mt19937& rng, double lo, double hi) {
  return std::uniform_real_distribution<double>(lo, hi)(rng);
}
int uniform_int(std::mt19937& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}
bool chance(std::mt19937& rng, double p) { return uniform(rng, 0, 1) < p; }

// Smallest singular value of the Jacobian of homography `h` at `p`: how much a unit
// step in the source shrinks at worst there.
double min_local_scale(const cv::Matx33d& h, cv::Point2d p) {
  const double w = h(2, 0) * p.x + h(2, 1) * p.y + h(2, 2);
  const double u = h(0, 0) * p.x + h(0, 1) * p.y + h(0, 2);
  const double v = h(1, 0) * p.x + h(1, 1) * p.y + h(1, 2);
  const double a = (h(0, 0) * w - u * h(2, 0)) / (w * w);
  const double b = (h(0, 1) * w - u * h(2, 1)) / (w * w);
  const double c = (h(1, 0) * w - v * h(2, 0)) / (w * w);
  const double d = (h(1, 1) * w - v * h(2, 1)) / (w * w);
  const double s1 = a * a + b * b + c * c + d * d;
  const double det = a * d - b * c;
  const double disc = std::sqrt(std::max(0.0, s1 * s1 - 4 * det * det));
  return std::sqrt(std::max(0.0, (s1 - disc) / 2));
}

// Scale across the bars only (the x direction of the label) for linear codes.
double local_x_scale(const cv::Matx33d& h, cv::Point2d p) {
  const double w = h(2, 0) * p.x + h(2, 1) * p.y + h(2, 2);
  const double u = h(0, 0) * p.x + h(0, 1) * p.y + h(0, 2);
  const double v = h(1, 0) * p.x + h(1, 1) * p.y + h(1, 2);
  const double a = (h(0, 0) * w - u * h(2, 0)) / (w * w);
  const double c = (h(1, 0) * w - v * h(2, 0)) / (w * w);
  const double b = (h(0, 1) * w - u * h(2, 1)) / (w * w);
  const double d = (h(1, 1) * w - v * h(2, 1)) / (w * w);
  // The bars run along y; the module width is the x step projected onto the normal
  // of the imaged bar direction.
  const double bar_len = std::hypot(b, d);
  if (bar_len <= 0) return 0;
  return std::abs(a * d - b * c) / bar_len;
}

cv::Vec3b background_colour(std::mt19937& rng) {
  return cv::Vec3b(static_cast<std::uint8_t>(uniform_int(rng, 120, 230)),
                   static_cast<std::uint8_t>(uniform_int(rng, 120, 230)),
                   static_cast<std::uint8_t>(uniform_int(rng, 120, 230)));
}

cv::Mat make_background(cv::Size size, std::mt19937& rng) {
  cv::Mat bg(size, CV_8UC3, cv::Scalar(background_colour(rng)));
  draw_clutter(bg, uniform_int(rng, 6, 16), rng);
  return bg;
}

// The ranges of a level that has every degradation at once.
struct MixedRanges {
  std::pair<double, double> px_per_module;
  double keystone_max;
  std::pair<double, double> blur;  // optical blur, when that is the blur drawn
  double motion_max_px;            // else motion blur up to this ...
  double motion_extra_blur_max;    // ... with this much optical blur on top
  std::pair<double, double> noise;
  std::pair<double, double> uneven_light;
  double glare_chance;
  std::pair<double, double> glare;
  std::pair<int, int> jpeg_quality;
  std::pair<int, int> dark;
  std::pair<int, int> light;
};

// Draws in a fixed order, so a seed gives the same scene for every level's ranges.
void draw_mixed(SceneParams& p, const MixedRanges& r, std::mt19937& rng) {
  p.px_per_module = uniform(rng, r.px_per_module.first, r.px_per_module.second);
  p.rotation_deg = uniform(rng, 0, 360);
  p.keystone = uniform(rng, 0, r.keystone_max);
  p.keystone_edge = uniform_int(rng, 0, 3);
  if (chance(rng, 0.5)) {
    p.blur_sigma = uniform(rng, r.blur.first, r.blur.second);
  } else {
    p.motion_px = uniform(rng, 1, r.motion_max_px);
    p.motion_angle_deg = uniform(rng, 0, 180);
    p.blur_sigma = uniform(rng, 0, r.motion_extra_blur_max);
  }
  p.noise_sigma = uniform(rng, r.noise.first, r.noise.second);
  p.uneven_light = uniform(rng, r.uneven_light.first, r.uneven_light.second);
  p.glare = chance(rng, r.glare_chance) ? uniform(rng, r.glare.first, r.glare.second) : 0;
  p.jpeg_quality = uniform_int(rng, r.jpeg_quality.first, r.jpeg_quality.second);
  p.dark = static_cast<std::uint8_t>(uniform_int(rng, r.dark.first, r.dark.second));
  p.light = static_cast<std::uint8_t>(uniform_int(rng, r.light.first, r.light.second));
}

}  // namespace

std::string_view difficulty_name(Difficulty d) {
  switch (d) {
    case Difficulty::kClean:
      return "clean";
    case Difficulty::kMedium:
      return "medium";
    case Difficulty::kHard:
      return "hard";
    case Difficulty::kExtreme:
      return "extreme";
  }
  return "unknown";
}

SceneParams sample_scene_params(Difficulty d, std::mt19937& rng) {
  SceneParams p;
  p.offset_x = uniform(rng, 0.1, 0.9);
  p.offset_y = uniform(rng, 0.1, 0.9);
  switch (d) {
    case Difficulty::kClean:
      p.px_per_module = uniform(rng, 2.5, 4.0);
      p.rotation_deg = uniform(rng, -3, 3);
      p.noise_sigma = uniform(rng, 0, 2);
      break;
    case Difficulty::kMedium:
      p.px_per_module = uniform(rng, 2.0, 4.0);
      p.rotation_deg = uniform(rng, 0, 360);
      p.keystone = uniform(rng, 0, 0.4);
      p.keystone_edge = uniform_int(rng, 0, 3);
      p.blur_sigma = uniform(rng, 0, 1.5);
      p.noise_sigma = uniform(rng, 0, 6);
      p.uneven_light = uniform(rng, 0, 0.5);
      break;
    case Difficulty::kHard:
      // Every degradation at once, at the strength where each library alone reads
      // about 70-76% of EAN-13s, as on the mixed set the vision notes measured.
      draw_mixed(p,
                 {{1.8, 3.5},
                  0.4,
                  {0.5, 1.7},
                  5,
                  0.7,
                  {3, 9},
                  {0.1, 0.6},
                  0.4,
                  {0.1, 0.6},
                  {50, 90},
                  {10, 60},
                  {180, 245}},
                 rng);
      break;
    case Difficulty::kExtreme:
      draw_mixed(p,
                 {{1.6, 3.5},
                  0.5,
                  {0.5, 2.0},
                  6,
                  0.8,
                  {3, 10},
                  {0.2, 0.7},
                  0.5,
                  {0.2, 0.8},
                  {40, 90},
                  {10, 80},
                  {170, 245}},
                 rng);
      break;
  }
  return p;
}

void draw_clutter(cv::Mat& bgr, int shapes, std::mt19937& rng) {
  const int w = bgr.cols;
  const int h = bgr.rows;
  static constexpr const char* kWords[] = {"FRESH",       "Organic", "500 g", "MILK",     "Rs 49",
                                           "best before", "NEW",     "Tea",   "Rice 1kg", "x2"};
  for (int i = 0; i < shapes; ++i) {
    const cv::Scalar colour(uniform_int(rng, 40, 250), uniform_int(rng, 40, 250),
                            uniform_int(rng, 40, 250));
    const cv::Point p(uniform_int(rng, 0, w), uniform_int(rng, 0, h));
    switch (uniform_int(rng, 0, 4)) {
      case 0:
        cv::rectangle(bgr,
                      cv::Rect(p.x, p.y, uniform_int(rng, 20, w / 3), uniform_int(rng, 10, h / 4)),
                      colour, chance(rng, 0.5) ? cv::FILLED : uniform_int(rng, 1, 4));
        break;
      case 1:
        cv::circle(bgr, p, uniform_int(rng, 5, 60), colour, chance(rng, 0.5) ? cv::FILLED : 2,
                   cv::LINE_AA);
        break;
      case 2:
        cv::line(bgr, p, cv::Point(uniform_int(rng, 0, w), uniform_int(rng, 0, h)), colour,
                 uniform_int(rng, 1, 5), cv::LINE_AA);
        break;
      case 3:
        cv::putText(bgr, kWords[uniform_int(rng, 0, 9)], p, cv::FONT_HERSHEY_SIMPLEX,
                    uniform(rng, 0.5, 1.6), colour, uniform_int(rng, 1, 3), cv::LINE_AA);
        break;
      default: {
        // A patch of random stripes: looks like bars to a detector, encodes nothing.
        const int sw = uniform_int(rng, 30, 120);
        const int sh = uniform_int(rng, 20, 80);
        int x = p.x;
        while (x < p.x + sw) {
          const int bar = uniform_int(rng, 1, 6);
          if (chance(rng, 0.5)) cv::rectangle(bgr, cv::Rect(x, p.y, bar, sh), colour, cv::FILLED);
          x += bar;
        }
        break;
      }
    }
  }
}

void apply_lighting(cv::Mat& bgr, double uneven, double glare, std::mt19937& rng) {
  if (uneven <= 0 && glare <= 0) return;
  // The gain is a plane across the frame: computed on a coarse grid, stretched, and
  // applied in 8-bit arithmetic (gain 255 = 1.0), which is fast and close enough.
  const double angle = uniform(rng, 0, 2 * CV_PI);
  const double dx = std::cos(angle);
  const double dy = std::sin(angle);
  const cv::Size coarse(std::max(2, bgr.cols / 16), std::max(2, bgr.rows / 16));
  cv::Mat gain(coarse, CV_8UC1);
  const double span = std::abs(dx) * bgr.cols + std::abs(dy) * bgr.rows;
  const double x0 = dx < 0 ? bgr.cols : 0;
  const double y0 = dy < 0 ? bgr.rows : 0;
  for (int y = 0; y < coarse.height; ++y) {
    for (int x = 0; x < coarse.width; ++x) {
      const double px = (x + 0.5) * bgr.cols / coarse.width;
      const double py = (y + 0.5) * bgr.rows / coarse.height;
      const double t = ((px - x0) * dx + (py - y0) * dy) / span;
      gain.at<std::uint8_t>(y, x) = cv::saturate_cast<std::uint8_t>(255.0 * (1.0 - uneven * t));
    }
  }
  cv::resize(gain, gain, bgr.size(), 0, 0, cv::INTER_LINEAR);
  cv::Mat gain3;
  cv::merge(std::vector<cv::Mat>{gain, gain, gain}, gain3);
  cv::multiply(bgr, gain3, bgr, 1.0 / 255);
  if (glare > 0) {
    // A specular spot: a Gaussian bump, computed on a coarse grid and stretched.
    const double cx = uniform_int(rng, 0, bgr.cols - 1);
    const double cy = uniform_int(rng, 0, bgr.rows - 1);
    const double r = uniform_int(rng, 30, std::max(31, std::min(bgr.cols, bgr.rows) / 4));
    cv::Mat spot(coarse, CV_8UC1);
    for (int y = 0; y < coarse.height; ++y) {
      for (int x = 0; x < coarse.width; ++x) {
        const double px = (x + 0.5) * bgr.cols / coarse.width - cx;
        const double py = (y + 0.5) * bgr.rows / coarse.height - cy;
        spot.at<std::uint8_t>(y, x) = cv::saturate_cast<std::uint8_t>(
            255.0 * glare * std::exp(-(px * px + py * py) / (2 * r * r)));
      }
    }
    cv::resize(spot, spot, bgr.size(), 0, 0, cv::INTER_LINEAR);
    cv::Mat spot3;
    cv::merge(std::vector<cv::Mat>{spot, spot, spot}, spot3);
    cv::add(bgr, spot3, bgr);
  }
}

void apply_blur(cv::Mat& bgr, double sigma, double motion_px, double motion_angle_deg) {
  if (sigma > 0.05) cv::GaussianBlur(bgr, bgr, cv::Size(0, 0), sigma);
  if (motion_px >= 1.0) {
    const int n = static_cast<int>(std::ceil(motion_px)) | 1;
    cv::Mat k(n, n, CV_32FC1, cv::Scalar(0));
    const double a = motion_angle_deg * CV_PI / 180;
    const cv::Point2d c(n / 2.0, n / 2.0);
    const cv::Point2d d(std::cos(a) * motion_px / 2, std::sin(a) * motion_px / 2);
    cv::line(k, c - d, c + d, cv::Scalar(1.0), 1, cv::LINE_AA);
    const double s = cv::sum(k)[0];
    if (s > 0) {
      k /= s;
      cv::filter2D(bgr, bgr, -1, k);
    }
  }
}

void add_noise(cv::Mat& bgr, double sigma, std::mt19937& rng) {
  if (sigma <= 0) return;
  // A local cv::RNG seeded from the caller's generator: fast, and no shared state.
  cv::RNG cvrng(static_cast<std::uint64_t>(rng()) << 32 | rng());
  cv::Mat noise(bgr.size(), CV_16SC3);
  cvrng.fill(noise, cv::RNG::NORMAL, cv::Scalar::all(0), cv::Scalar::all(sigma));
  cv::Mat tmp;
  bgr.convertTo(tmp, CV_16SC3);
  tmp += noise;
  tmp.convertTo(bgr, CV_8UC3);
}

void jpeg_roundtrip(cv::Mat& bgr, int quality) {
  if (quality <= 0) return;
  std::vector<std::uint8_t> buf;
  cv::imencode(".jpg", bgr, buf, {cv::IMWRITE_JPEG_QUALITY, std::clamp(quality, 1, 100)});
  bgr = cv::imdecode(buf, cv::IMREAD_COLOR);
}

namespace {

// A label drawn and posed (rotation, keystone, scale) but not yet placed: `m` maps
// label pixels to the scene up to a translation; `box` bounds the whole label and
// `symbol_box` the symbol without its quiet zones, both before that translation.
struct PosedLabel {
  cv::Mat label;
  cv::Matx33d m;
  cv::Rect2f box;
  cv::Rect2f symbol_box;
  std::vector<cv::Point2f> symbol_corners;  // label pixels: the symbol's outline
};

PosedLabel pose_label(const Symbol& symbol, const SceneParams& params) {
  RenderOptions ro;
  ro.px_per_module = params.px_per_module;
  ro.dark = params.dark;
  ro.light = params.light;
  PosedLabel out;
  out.label = render_symbol(symbol, ro);
  const double w = out.label.cols;
  const double h = out.label.rows;

  // Keystone: the chosen edge shrinks by `keystone` about its middle.
  std::array<cv::Point2f, 4> src = {cv::Point2f(0, 0), cv::Point2f(static_cast<float>(w), 0),
                                    cv::Point2f(static_cast<float>(w), static_cast<float>(h)),
                                    cv::Point2f(0, static_cast<float>(h))};
  std::array<cv::Point2f, 4> dst = src;
  const float kx = static_cast<float>(params.keystone * h / 2);
  const float ky = static_cast<float>(params.keystone * w / 2);
  switch (params.keystone_edge & 3) {
    case 0:  // left edge shorter
      dst[0].y += kx;
      dst[3].y -= kx;
      break;
    case 1:  // top
      dst[0].x += ky;
      dst[1].x -= ky;
      break;
    case 2:  // right
      dst[1].y += kx;
      dst[2].y -= kx;
      break;
    default:  // bottom
      dst[3].x += ky;
      dst[2].x -= ky;
      break;
  }
  cv::Matx33d k = cv::getPerspectiveTransform(src.data(), dst.data());
  // Normalise so the narrowest part keeps px_per_module.
  const bool linear = is_linear(symbol.kind);
  double min_scale = 1e9;
  for (double fx : {0.0, 0.5, 1.0}) {
    for (double fy : {0.0, 0.5, 1.0}) {
      const cv::Point2d p(fx * w, fy * h);
      min_scale = std::min(min_scale, linear ? local_x_scale(k, p) : min_local_scale(k, p));
    }
  }
  const double grow = min_scale > 0 ? 1.0 / min_scale : 1.0;
  const double a = params.rotation_deg * CV_PI / 180;
  const cv::Matx33d rot(std::cos(a) * grow, -std::sin(a) * grow, 0, std::sin(a) * grow,
                        std::cos(a) * grow, 0, 0, 0, 1);
  out.m = rot * k;
  std::vector<cv::Point2f> placed;
  cv::perspectiveTransform(std::vector<cv::Point2f>(src.begin(), src.end()), placed,
                           cv::Mat(out.m));
  out.box = cv::boundingRect(placed);

  const double qz = params.px_per_module;
  const double ql = symbol.quiet_left * qz;
  const double qr = symbol.quiet_right * qz;
  const double qv = (linear ? 4 : symbol.quiet_left) * qz;
  out.symbol_corners = {cv::Point2f(static_cast<float>(ql), static_cast<float>(qv)),
                        cv::Point2f(static_cast<float>(w - qr), static_cast<float>(qv)),
                        cv::Point2f(static_cast<float>(w - qr), static_cast<float>(h - qv)),
                        cv::Point2f(static_cast<float>(ql), static_cast<float>(h - qv))};
  std::vector<cv::Point2f> symbol_placed;
  cv::perspectiveTransform(out.symbol_corners, symbol_placed, cv::Mat(out.m));
  out.symbol_box = cv::boundingRect(symbol_placed);
  return out;
}

// Blends the posed label into the scene, shifted by (tx, ty). Only the label's
// bounding box (plus a pixel for the anti-aliased edge) within the scene is touched:
// a label reaching past the frame is cut there. `truth` gets the symbol's corners.
void blend_label(cv::Mat& scene_img, const PosedLabel& posed, double tx, double ty,
                 SceneTruth* truth) {
  const cv::Matx33d t(1, 0, tx, 0, 1, ty, 0, 0, 1);
  const cv::Matx33d m = t * posed.m;
  const cv::Rect2f& box = posed.box;
  const cv::Rect area =
      cv::Rect(cv::Point(static_cast<int>(std::floor(box.x + tx)) - 2,
                         static_cast<int>(std::floor(box.y + ty)) - 2),
               cv::Size(static_cast<int>(box.width) + 5, static_cast<int>(box.height) + 5)) &
      cv::Rect(0, 0, scene_img.cols, scene_img.rows);
  if (area.width > 0 && area.height > 0) {
    const cv::Matx33d shift(1, 0, -area.x, 0, 1, -area.y, 0, 0, 1);
    cv::Mat warped;
    cv::Mat mask;
    cv::warpPerspective(posed.label, warped, cv::Mat(shift * m), area.size(), cv::INTER_LINEAR,
                        cv::BORDER_CONSTANT);
    cv::warpPerspective(cv::Mat(posed.label.size(), CV_8UC1, cv::Scalar(255)), mask,
                        cv::Mat(shift * m), area.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT);
    cv::Mat roi = scene_img(area);
    for (int y = 0; y < area.height; ++y) {
      const std::uint8_t* ink = warped.ptr<std::uint8_t>(y);
      const std::uint8_t* alpha = mask.ptr<std::uint8_t>(y);
      cv::Vec3b* out = roi.ptr<cv::Vec3b>(y);
      for (int x = 0; x < area.width; ++x) {
        if (alpha[x] == 0) continue;
        for (int c = 0; c < 3; ++c) {
          out[x][c] = static_cast<std::uint8_t>(
              (ink[x] * alpha[x] + out[x][c] * (255 - alpha[x]) + 127) / 255);
        }
      }
    }
  }
  if (truth) {
    std::vector<cv::Point2f> out;
    cv::perspectiveTransform(posed.symbol_corners, out, cv::Mat(m));
    for (std::size_t i = 0; i < 4; ++i) truth->corners[i] = out[i];
  }
}

void degrade(cv::Mat& scene_img, const SceneParams& params, std::mt19937& rng) {
  apply_lighting(scene_img, params.uneven_light, params.glare, rng);
  apply_blur(scene_img, params.blur_sigma, params.motion_px, params.motion_angle_deg);
  add_noise(scene_img, params.noise_sigma, rng);
  jpeg_roundtrip(scene_img, params.jpeg_quality);
}

}  // namespace

cv::Mat render_scene(const Symbol& symbol, const SceneParams& params, std::mt19937& rng,
                     SceneTruth* truth) {
  const PosedLabel posed = pose_label(symbol, params);
  const cv::Rect2f& box = posed.box;
  cv::Size scene = params.scene;
  scene.width = std::max(scene.width, static_cast<int>(box.width) + 40);
  scene.height = std::max(scene.height, static_cast<int>(box.height) + 40);
  double tx = -box.x + 20 + params.offset_x * (scene.width - 40 - box.width);
  double ty = -box.y + 20 + params.offset_y * (scene.height - 40 - box.height);
  if (params.cut_edge >= 0 && params.cut_fraction > 0) {
    // The symbol reaches past the chosen edge of the frame by cut_fraction of its
    // extent across that edge; the other axis keeps its offset.
    const cv::Rect2f& sb = posed.symbol_box;
    const double f = std::clamp(params.cut_fraction, 0.0, 0.95);
    switch (params.cut_edge & 3) {
      case 0:
        tx = -sb.x - f * sb.width;
        break;
      case 1:
        ty = -sb.y - f * sb.height;
        break;
      case 2:
        tx = scene.width + f * sb.width - sb.x - sb.width;
        break;
      default:
        ty = scene.height + f * sb.height - sb.y - sb.height;
        break;
    }
  }
  cv::Mat scene_img = make_background(scene, rng);
  blend_label(scene_img, posed, tx, ty, truth);
  degrade(scene_img, params, rng);
  return scene_img;
}

cv::Mat render_two_code_scene(const Symbol& first, const Symbol& second,
                              const SceneParams& first_params, const SceneParams& second_params,
                              std::mt19937& rng, std::array<SceneTruth, 2>* truth) {
  const std::array<PosedLabel, 2> posed = {pose_label(first, first_params),
                                           pose_label(second, second_params)};
  // Side by side or one above the other, a few to a few tens of pixels apart, like
  // two products on a shelf or a belt.
  const bool across = chance(rng, 0.5);
  const double gap = uniform(rng, 4, 60);
  auto along = [&](const cv::Rect2f& b) { return across ? b.width : b.height; };
  auto side = [&](const cv::Rect2f& b) { return across ? b.height : b.width; };
  const double total = along(posed[0].box) + along(posed[1].box) + gap;
  const double thick = std::max(side(posed[0].box), side(posed[1].box));
  cv::Size scene = first_params.scene;
  if (across) {
    scene.width = std::max(scene.width, static_cast<int>(std::ceil(total)) + 40);
    scene.height = std::max(scene.height, static_cast<int>(std::ceil(thick)) + 40);
  } else {
    scene.width = std::max(scene.width, static_cast<int>(std::ceil(thick)) + 40);
    scene.height = std::max(scene.height, static_cast<int>(std::ceil(total)) + 40);
  }
  const double length = across ? scene.width : scene.height;
  const double breadth = across ? scene.height : scene.width;
  const double free = std::max(0.0, length - 40 - total);
  const double before = free * uniform(rng, 0, 1);
  const double between = (free - before) * uniform(rng, 0, 1);
  cv::Mat scene_img = make_background(scene, rng);
  double pos = 20 + before;
  for (std::size_t i = 0; i < 2; ++i) {
    const cv::Rect2f& b = posed[i].box;
    const double offset = (i == 0 ? first_params : second_params).offset_y;
    const double cross = 20 + offset * std::max(0.0, breadth - 40 - side(b));
    const double tx = across ? pos - b.x : cross - b.x;
    const double ty = across ? cross - b.y : pos - b.y;
    blend_label(scene_img, posed[i], tx, ty, truth ? &(*truth)[i] : nullptr);
    pos += along(b) + gap + (i == 0 ? between : 0);
  }
  degrade(scene_img, first_params, rng);
  return scene_img;
}

cv::Mat render_blank_scene(const SceneParams& params, std::mt19937& rng) {
  cv::Mat scene_img = make_background(params.scene, rng);
  degrade(scene_img, params, rng);
  return scene_img;
}

}  // namespace shopeasy::vision_gen
