#include "tools/shelf-sim/shelf_sim.hpp"

#include <algorithm>
#include <cmath>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace shopeasy::shelf_sim {
namespace {

double rnd(std::mt19937& g, double lo, double hi) {
  return std::uniform_real_distribution<double>(lo, hi)(g);
}
int rndi(std::mt19937& g, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(g); }

cv::Vec3b hsv(double h, double s, double v) {
  cv::Mat m(1, 1, CV_8UC3, cv::Scalar(h, s, v));
  cv::cvtColor(m, m, cv::COLOR_HSV2BGR);
  return m.at<cv::Vec3b>(0, 0);
}

cv::Scalar sc(cv::Vec3b c, double k = 1) { return cv::Scalar(c[0] * k, c[1] * k, c[2] * k); }

// Smooth noise in [-1, 1]: random values on a coarse grid, enlarged with cubic
// interpolation.
cv::Mat smooth_noise(cv::Size size, int cell, std::mt19937& g) {
  cv::Mat small(std::max(2, size.height / cell), std::max(2, size.width / cell), CV_32F);
  for (int y = 0; y < small.rows; ++y)
    for (int x = 0; x < small.cols; ++x) small.at<float>(y, x) = static_cast<float>(rnd(g, -1, 1));
  cv::Mat big;
  cv::resize(small, big, size, 0, 0, cv::INTER_CUBIC);
  return big;
}

void draw_panel(cv::Mat& img, const Shelf& s) {
  std::mt19937 g(s.seed * 31u + 7u);
  img.setTo(sc(s.panel_colour));
  const cv::Scalar shade = sc(s.panel_colour, 0.7);
  const cv::Scalar light = sc(s.panel_colour, 1.12);
  switch (s.panel) {
    case Panel::kSlatwall:
      for (int y = 0; y < img.rows; y += 38) {
        cv::rectangle(img, cv::Rect(0, y, img.cols, 6), shade, cv::FILLED);
        cv::line(img, cv::Point(0, y + 7), cv::Point(img.cols, y + 7), light, 1);
      }
      break;
    case Panel::kMesh:
      for (int x = 0; x < img.cols; x += 30) cv::line(img, {x, 0}, {x, img.rows}, shade, 2);
      for (int y = 0; y < img.rows; y += 30) cv::line(img, {0, y}, {img.cols, y}, shade, 2);
      break;
    case Panel::kPlaster:
    case Panel::kFabric: {
      cv::Mat n = smooth_noise(img.size(), s.panel == Panel::kPlaster ? 9 : 3, g);
      cv::Mat f;
      img.convertTo(f, CV_32FC3);
      std::vector<cv::Mat> ch;
      cv::split(f, ch);
      const float amp = s.panel == Panel::kPlaster ? 0.10f : 0.07f;
      for (auto& c : ch) c = c.mul(1.0f + amp * n);
      cv::merge(ch, f);
      f.convertTo(img, CV_8UC3);
      if (s.panel == Panel::kFabric) {
        for (int y = 0; y < img.rows; y += 4) cv::line(img, {0, y}, {img.cols, y}, shade, 1);
      }
      break;
    }
  }
}

void draw_product(cv::Mat& img, const Product& p, cv::Point base, int index) {
  // base: bottom centre of the product.
  const int w = p.width;
  const int h = p.height;
  const int x0 = base.x - w / 2;
  const int y0 = base.y - h;
  // Drop shadow on the panel behind, down and to the right.
  cv::Mat overlay = img.clone();
  cv::rectangle(overlay, cv::Rect(x0 + 7, y0 + 6, w, h), cv::Scalar(0, 0, 0), cv::FILLED);
  cv::addWeighted(overlay, 0.35, img, 0.65, 0, img);
  switch (p.shape) {
    case Shape::kBottle: {
      const int neck_w = std::max(4, w / 3);
      const int shoulder = h * 2 / 5;
      cv::rectangle(img, cv::Rect(x0, y0 + shoulder, w, h - shoulder), sc(p.body), cv::FILLED);
      cv::ellipse(img, cv::Point(base.x, y0 + shoulder), cv::Size(w / 2, std::max(2, h / 8)), 0,
                  180, 360, sc(p.body), cv::FILLED, cv::LINE_AA);
      cv::rectangle(img, cv::Rect(base.x - neck_w / 2, y0 + h / 12, neck_w, shoulder), sc(p.body),
                    cv::FILLED);
      cv::rectangle(img, cv::Rect(base.x - neck_w / 2 - 1, y0, neck_w + 2, h / 12 + 1),
                    sc(p.second), cv::FILLED);
      cv::rectangle(img, cv::Rect(x0, y0 + h * 3 / 5, w, h / 5), sc(p.second), cv::FILLED);
      break;
    }
    case Shape::kCan: {
      cv::rectangle(img, cv::Rect(x0, y0 + 4, w, h - 8), sc(p.body), cv::FILLED);
      cv::ellipse(img, cv::Point(base.x, y0 + 4), cv::Size(w / 2, 5), 0, 0, 360, sc(p.body, 1.25),
                  cv::FILLED, cv::LINE_AA);
      cv::ellipse(img, cv::Point(base.x, base.y - 4), cv::Size(w / 2, 5), 0, 0, 180, sc(p.body),
                  cv::FILLED, cv::LINE_AA);
      cv::circle(img, cv::Point(base.x, y0 + h / 2), std::max(3, w / 3), sc(p.second), cv::FILLED,
                 cv::LINE_AA);
      break;
    }
    case Shape::kPouch: {
      std::vector<cv::Point> poly = {
          {x0 + w / 8, y0}, {x0 + w - w / 8, y0}, {x0 + w, base.y}, {x0, base.y}};
      cv::fillConvexPoly(img, poly, sc(p.body), cv::LINE_AA);
      for (int k = 0; k < 5; ++k) {
        cv::line(img, {x0 + w / 8 + k * w / 6, y0}, {x0 + w / 8 + k * w / 6 + 3, y0 + 8},
                 sc(p.body, 0.6), 2);
      }
      cv::ellipse(img, cv::Point(base.x, y0 + h / 2), cv::Size(w / 3, h / 6), 0, 0, 360,
                  sc(p.second), cv::FILLED, cv::LINE_AA);
      break;
    }
    case Shape::kCarton: {
      cv::rectangle(img, cv::Rect(x0, y0, w, h), sc(p.body), cv::FILLED);
      for (int k = 0; k < 4; ++k) {
        if (p.pattern == 0) {
          cv::rectangle(img, cv::Rect(x0 + k * w / 4, y0, std::max(2, w / 10), h), sc(p.second),
                        cv::FILLED);
        } else {
          cv::rectangle(img, cv::Rect(x0, y0 + k * h / 4, w, std::max(2, h / 14)), sc(p.second),
                        cv::FILLED);
        }
      }
      break;
    }
  }
  // A cylinder-like shade across the product and a specular stripe.
  const cv::Rect r = cv::Rect(x0, y0, w, h) & cv::Rect(0, 0, img.cols, img.rows);
  if (r.width > 2 && r.height > 2 && p.shape != Shape::kCarton) {
    cv::Mat roi = img(r);
    cv::Mat f;
    roi.convertTo(f, CV_32FC3);
    for (int x = 0; x < f.cols; ++x) {
      const double t = (x + 0.5) / f.cols * 2 - 1;
      const float k = static_cast<float>(0.75 + 0.35 * std::sqrt(std::max(0.0, 1 - t * t)));
      f.col(x) *= k;
    }
    f.convertTo(roi, CV_8UC3);
    cv::Mat mask;
    cv::inRange(roi, cv::Scalar(1, 1, 1), cv::Scalar(255, 255, 255), mask);
    (void)mask;
  }
  cv::putText(img, std::string(1, static_cast<char>('A' + index % 26)),
              cv::Point(x0 + w / 4, y0 + h / 3 + 10), cv::FONT_HERSHEY_COMPLEX_SMALL,
              std::clamp(w / 60.0, 0.6, 1.6), sc(p.second, 0.5), 1, cv::LINE_AA);
}

cv::Mat draw_plane(const Shelf& s, const std::vector<std::vector<bool>>& present) {
  cv::Mat img(s.image, CV_8UC3);
  draw_panel(img, s);
  // Side uprights in light grey, a hanging price banner.
  cv::rectangle(img, cv::Rect(0, 0, 60, img.rows), cv::Scalar(200, 205, 210), cv::FILLED);
  cv::rectangle(img, cv::Rect(img.cols - 60, 0, 60, img.rows), cv::Scalar(200, 205, 210),
                cv::FILLED);
  cv::rectangle(img, cv::Rect(img.cols / 3, 8, img.cols / 3, 44), cv::Scalar(30, 160, 240),
                cv::FILLED);
  cv::putText(img, "FRESH DEALS", cv::Point(img.cols / 3 + 40, 42), cv::FONT_HERSHEY_TRIPLEX, 1.1,
              cv::Scalar(20, 20, 20), 2, cv::LINE_AA);
  for (std::size_t i = 0; i < s.slots.size(); ++i) {
    const Slot& sl = s.slots[i];
    const int pitch = sl.rect.width / sl.facings;
    for (int f = 0; f < sl.facings; ++f) {
      if (!present[i][static_cast<std::size_t>(f)]) continue;
      draw_product(img, sl.product,
                   cv::Point(sl.rect.x + f * pitch + pitch / 2, sl.rect.y + sl.rect.height),
                   static_cast<int>(i));
    }
  }
  for (const cv::Rect& b : s.boards) {
    if (s.wood) {
      cv::rectangle(img, b, sc(s.board_colour), cv::FILLED);
      for (int k = 0; k < 3; ++k) {
        cv::line(img, {b.x, b.y + (k + 1) * b.height / 4},
                 {b.x + b.width, b.y + (k + 1) * b.height / 4 + 2}, sc(s.board_colour, 0.8), 1);
      }
    } else {
      cv::rectangle(img, b, sc(s.board_colour), cv::FILLED);
      cv::rectangle(img, cv::Rect(b.x, b.y + b.height / 3, b.width, b.height / 2),
                    cv::Scalar(235, 235, 235), cv::FILLED);
    }
  }
  // Price tags on the rails.
  for (std::size_t i = 0; i < s.slots.size(); ++i) {
    const Slot& sl = s.slots[i];
    const cv::Rect tag(sl.rect.x + sl.rect.width / 2 - 40, sl.rect.y + sl.rect.height + 4, 80, 16);
    cv::rectangle(img, tag, cv::Scalar(60, 220, 250), cv::FILLED);
    cv::putText(img, std::to_string(19 + static_cast<int>(i) * 13 % 300), {tag.x + 20, tag.y + 13},
                cv::FONT_HERSHEY_PLAIN, 1.0, cv::Scalar(0, 0, 0), 1);
  }
  return img;
}

}  // namespace

Shelf make_shelf(std::uint32_t seed, cv::Size image) {
  std::mt19937 g(seed);
  Shelf s;
  s.image = image;
  s.seed = seed;
  s.panel = static_cast<Panel>(rndi(g, 0, 3));
  if (rnd(g, 0, 1) < 0.35) {
    s.panel_colour = hsv(rnd(g, 0, 179), rnd(g, 0, 60), rnd(g, 30, 75));  // dark
  } else {
    s.panel_colour = hsv(rnd(g, 0, 179), rnd(g, 20, 90), rnd(g, 150, 235));  // muted pastel
  }
  s.wood = rnd(g, 0, 1) < 0.5;
  s.board_colour =
      s.wood ? hsv(rnd(g, 8, 20), rnd(g, 110, 180), rnd(g, 120, 190)) : hsv(0, 0, rnd(g, 90, 140));
  const int rows = rndi(g, 3, 5);
  const int top = 64;
  const int bottom = image.height - 16;
  const int row_h = (bottom - top) / rows;
  const int board_h = rndi(g, 22, 34);
  const int left = 80;
  const int right = image.width - 80;
  int index = 0;
  for (int r = 0; r < rows; ++r) {
    const int y0 = top + r * row_h;
    s.boards.emplace_back(left - 20, y0 + row_h - board_h, right - left + 40, board_h);
    // Uneven widths: random weights.
    const int n = rndi(g, 4, 7);
    std::vector<double> wts;
    double sum = 0;
    for (int k = 0; k < n; ++k) {
      wts.push_back(rnd(g, 0.7, 1.4));
      sum += wts.back();
    }
    double x = left;
    for (int k = 0; k < n; ++k) {
      const int w = static_cast<int>((right - left) * wts[static_cast<std::size_t>(k)] / sum);
      Slot sl;
      sl.id = "B" + std::to_string(r + 1) + "-" + std::to_string(k + 1);
      sl.sku = "P" + std::to_string(seed % 1000) + "-" + std::to_string(index++);
      sl.rect = cv::Rect(static_cast<int>(x) + 6, y0 + 10, w - 12, row_h - board_h - 12);
      sl.product.shape = static_cast<Shape>(rndi(g, 0, 3));
      sl.product.pattern = rndi(g, 0, 1);
      const double hue = rnd(g, 0, 179);
      sl.product.body = rnd(g, 0, 1) < 0.15 ? hsv(hue, rnd(g, 0, 40), rnd(g, 200, 250))
                                            : hsv(hue, rnd(g, 60, 200), rnd(g, 60, 230));
      sl.product.second =
          hsv(std::fmod(hue + rnd(g, 40, 140), 180.0), rnd(g, 80, 255), rnd(g, 40, 250));
      const int min_pitch = 90;
      sl.facings = std::clamp(sl.rect.width / min_pitch, 1, rndi(g, 2, 5));
      const int pitch = sl.rect.width / sl.facings;
      sl.product.width = static_cast<int>(pitch * rnd(g, 0.7, 0.9));
      sl.product.height = static_cast<int>(sl.rect.height * rnd(g, 0.55, 0.95));
      s.slots.push_back(sl);
      x += w;
    }
  }
  return s;
}

std::vector<std::vector<bool>> all(const Shelf& shelf, bool present) {
  std::vector<std::vector<bool>> out;
  for (const Slot& s : shelf.slots) out.emplace_back(static_cast<std::size_t>(s.facings), present);
  return out;
}

std::vector<int> facings(const Shelf& shelf) {
  std::vector<int> out;
  for (const Slot& s : shelf.slots) out.push_back(s.facings);
  return out;
}

Camera installed_camera(std::mt19937& g) {
  Camera c;
  c.dx = rnd(g, -15, 15);
  c.dy = rnd(g, -12, 12);
  c.angle_deg = rnd(g, -1, 1);
  c.zoom = rnd(g, 0.98, 1.02);
  c.keystone = rnd(g, -1e-5, 1e-5);
  c.exposure = rnd(g, 0.8, 1.1);
  c.white = cv::Vec3d(rnd(g, 0.88, 1.12), 1, rnd(g, 0.88, 1.12));
  c.spot = rnd(g, 0.1, 0.4);
  c.vignette = rnd(g, 0.05, 0.3);
  c.noise = rnd(g, 1.5, 4);
  c.blur = rnd(g, 0.2, 0.9);
  c.jpeg = rndi(g, 75, 92);
  return c;
}

Camera frame_camera(const Camera& installed, int frame, std::mt19937& g) {
  Camera c = installed;
  c.dx += rnd(g, -2, 2);
  c.dy += rnd(g, -2, 2);
  c.angle_deg += rnd(g, -0.1, 0.1);
  // Daylight drifting over the day, and a flicker of the tubes.
  c.exposure *= 1 + 0.15 * std::sin(frame * 0.21) + rnd(g, -0.05, 0.05);
  c.white[0] *= 1 + 0.05 * std::sin(frame * 0.13);
  c.white[2] *= 1 - 0.05 * std::sin(frame * 0.13);
  c.spot = std::clamp(c.spot + rnd(g, -0.05, 0.05), 0.0, 0.6);
  c.noise = installed.noise * rnd(g, 0.8, 1.3);
  return c;
}

cv::Mat render(const Shelf& shelf, const std::vector<std::vector<bool>>& present, const Camera& cam,
               std::mt19937& rng) {
  const cv::Mat plane = draw_plane(shelf, present);
  cv::Mat f;
  plane.convertTo(f, CV_32FC3, 1.0 / 255);
  // Light: each bay lit from above (fall-off down to the board), the board above
  // casting a soft shadow, vignetting, exposure and white balance.
  cv::Mat light(f.size(), CV_32F, cv::Scalar(1));
  for (std::size_t b = 0; b < shelf.boards.size(); ++b) {
    const int y_top = b == 0 ? 56 : shelf.boards[b - 1].y + shelf.boards[b - 1].height;
    const int y_bot = shelf.boards[b].y;
    for (int y = std::max(0, y_top); y < y_bot && y < f.rows; ++y) {
      const double t = static_cast<double>(y - y_top) / std::max(1, y_bot - y_top);
      double k = 1 - cam.spot * t;
      if (b > 0) k *= 1 - 0.35 * std::exp(-(y - y_top) / 14.0);  // the board's shadow
      light.row(y).setTo(static_cast<float>(k));
    }
  }
  const cv::Point2f centre(f.cols / 2.0f, f.rows / 2.0f);
  const float rmax = std::hypot(centre.x, centre.y);
  for (int y = 0; y < f.rows; y += 1) {
    float* row = light.ptr<float>(y);
    for (int x = 0; x < f.cols; ++x) {
      const float d = std::hypot(x - centre.x, y - centre.y) / rmax;
      row[x] *= static_cast<float>(1 - cam.vignette * d * d);
    }
  }
  cv::Mat light3;
  cv::merge(std::vector<cv::Mat>{light, light, light}, light3);
  f = f.mul(light3);
  cv::multiply(f,
               cv::Scalar(cam.exposure * cam.white[0], cam.exposure * cam.white[1],
                          cam.exposure * cam.white[2]),
               f);
  // The camera's pose.
  const double a = cam.angle_deg * CV_PI / 180;
  const double cx = f.cols / 2.0;
  const double cy = f.rows / 2.0;
  const cv::Matx33d h =
      cv::Matx33d(1, 0, cx + cam.dx, 0, 1, cy + cam.dy, 0, 0, 1) *
      cv::Matx33d(cam.zoom * std::cos(a), -cam.zoom * std::sin(a), 0, cam.zoom * std::sin(a),
                  cam.zoom * std::cos(a), 0, cam.keystone, 0, 1) *
      cv::Matx33d(1, 0, -cx, 0, 1, -cy, 0, 0, 1);
  cv::Mat warped;
  cv::warpPerspective(f, warped, cv::Mat(h), f.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT,
                      cv::Scalar(0.1, 0.1, 0.1));
  if (cam.blur > 0.05) cv::GaussianBlur(warped, warped, cv::Size(0, 0), cam.blur);
  cv::Mat noise(warped.size(), CV_32FC3);
  cv::randn(noise, 0, cam.noise / 255.0);
  // Seeded from the caller's generator so frames repeat.
  (void)rng;
  warped += noise;
  cv::Mat out;
  warped.convertTo(out, CV_8UC3, 255);
  std::vector<unsigned char> buf;
  cv::imencode(".jpg", out, buf, {cv::IMWRITE_JPEG_QUALITY, cam.jpeg});
  return cv::imdecode(buf, cv::IMREAD_COLOR);
}

nlohmann::json planogram(const Shelf& shelf, const std::string& camera, const std::string& full,
                         const std::string& empty) {
  nlohmann::json slots = nlohmann::json::array();
  for (const Slot& s : shelf.slots) {
    const cv::Rect r = s.rect;
    slots.push_back({{"id", s.id},
                     {"sku", s.sku},
                     {"facings", s.facings},
                     {"polygon",
                      {{r.x, r.y},
                       {r.x + r.width, r.y},
                       {r.x + r.width, r.y + r.height},
                       {r.x, r.y + r.height}}}});
  }
  nlohmann::json ref = {{"full", full}};
  if (!empty.empty()) ref["empty"] = empty;
  return {{"camera", camera},
          {"image", {{"width", shelf.image.width}, {"height", shelf.image.height}}},
          {"reference", ref},
          {"registration", "features"},
          {"thresholds", {{"empty_below", 0.2}, {"low_below", 0.45}}},
          {"slots", slots}};
}

}  // namespace shopeasy::shelf_sim
