#include "tools/vision-gen/shelf.hpp"

#include <algorithm>
#include <cmath>

#include <opencv2/aruco.hpp>
#include <opencv2/imgproc.hpp>

#include "tools/vision-gen/encoders.hpp"
#include "tools/vision-gen/render.hpp"
#include "tools/vision-gen/scene.hpp"

namespace shopeasy::vision_gen {
namespace {

double uniform(std::mt19937& rng, double lo, double hi) {
  return std::uniform_real_distribution<double>(lo, hi)(rng);
}
int uniform_int(std::mt19937& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}

cv::Vec3b random_colour(std::mt19937& rng) {
  // Mostly saturated packaging colours, some dark ones (the hard case on a dark panel).
  if (uniform(rng, 0, 1) < 0.2) {
    return cv::Vec3b(static_cast<std::uint8_t>(uniform_int(rng, 15, 70)),
                     static_cast<std::uint8_t>(uniform_int(rng, 15, 70)),
                     static_cast<std::uint8_t>(uniform_int(rng, 15, 70)));
  }
  cv::Mat hsv(
      1, 1, CV_8UC3,
      cv::Scalar(uniform_int(rng, 0, 179), uniform_int(rng, 120, 255), uniform_int(rng, 110, 250)));
  cv::Mat bgr;
  cv::cvtColor(hsv, bgr, cv::COLOR_HSV2BGR);
  return bgr.at<cv::Vec3b>(0, 0);
}

cv::Scalar contrast_to(cv::Vec3b c) {
  const int lum = (c[0] + 2 * c[1] + c[2]) / 4;
  return lum > 120 ? cv::Scalar(25, 25, 25) : cv::Scalar(240, 240, 240);
}

std::string gtin_for(std::size_t index, std::uint32_t family) {
  std::string body = "0" + std::to_string(890000000 + family % 99999);
  body += std::to_string(100 + index % 900);
  body = body.substr(0, 13);
  while (body.size() < 13) body += '0';
  return body + static_cast<char>('0' + gs1_check_digit(body));
}

void draw_panel(cv::Mat& img, const ShelfLayout& l) {
  img.setTo(cv::Scalar(l.panel));
  std::mt19937 rng(l.texture_seed);
  const cv::Scalar dark(l.panel[0] * 0.55, l.panel[1] * 0.55, l.panel[2] * 0.55);
  if (l.pegboard) {
    for (int y = 12; y < img.rows; y += 24) {
      for (int x = 12; x < img.cols; x += 24)
        cv::circle(img, cv::Point(x, y), 3, dark, cv::FILLED, cv::LINE_AA);
    }
  } else {
    for (int i = 0; i < img.rows / 3; ++i) {
      const int y = uniform_int(rng, 0, img.rows);
      const double k = uniform(rng, 0.75, 0.95);
      cv::line(img, cv::Point(0, y), cv::Point(img.cols, y + uniform_int(rng, -6, 6)),
               cv::Scalar(l.panel[0] * k, l.panel[1] * k, l.panel[2] * k), uniform_int(rng, 1, 3),
               cv::LINE_AA);
    }
  }
}

void draw_box(cv::Mat& img, const ShelfSlot& product, cv::Rect box, bool codes) {
  box &= cv::Rect(0, 0, img.cols, img.rows);
  if (box.width < 4 || box.height < 4) return;
  cv::rectangle(img, box, cv::Scalar(product.colour), cv::FILLED);
  const int band = std::max(3, box.height / 5);
  cv::rectangle(img, cv::Rect(box.x, box.y, box.width, band), cv::Scalar(product.accent),
                cv::FILLED);
  cv::rectangle(
      img, box,
      cv::Scalar(product.colour[0] * 0.6, product.colour[1] * 0.6, product.colour[2] * 0.6), 2);
  const cv::Scalar ink = contrast_to(product.colour);
  const double font = std::clamp(box.width / 140.0, 0.35, 1.2);
  cv::putText(img, product.name,
              cv::Point(box.x + 5, box.y + band + static_cast<int>(22 * font) + 4),
              cv::FONT_HERSHEY_DUPLEX, font, ink, 1, cv::LINE_AA);
  cv::circle(img, cv::Point(box.x + box.width / 2, box.y + box.height * 11 / 20),
             std::max(3, box.width / 7), cv::Scalar(product.accent), cv::FILLED, cv::LINE_AA);
  if (codes) {
    auto sym = encode(CodeKind::kDataMatrix, product.gtin);
    if (sym.ok()) {
      RenderOptions ro;
      const int modules = sym->modules.cols + 2 * sym->quiet_left;
      ro.px_per_module = std::clamp(std::floor(box.width * 0.45 / modules), 2.0, 4.0);
      const cv::Mat code = render_symbol(*sym, ro);
      const cv::Rect at(box.x + box.width - code.cols - 4, box.y + box.height - code.rows - 4,
                        code.cols, code.rows);
      if (at.x > box.x && at.y > box.y + band && (at & cv::Rect(0, 0, img.cols, img.rows)) == at) {
        cv::Mat bgr;
        cv::cvtColor(code, bgr, cv::COLOR_GRAY2BGR);
        bgr.copyTo(img(at));
      }
    }
  }
}

cv::Mat render_plane(const ShelfLayout& l, const ShelfState& state) {
  cv::Mat img(l.spec.image, CV_8UC3);
  draw_panel(img, l);
  // The unit: posts left and right, a header.
  const cv::Scalar metal(70, 72, 75);
  cv::rectangle(img, cv::Rect(0, 0, 40, img.rows), metal, cv::FILLED);
  cv::rectangle(img, cv::Rect(img.cols - 40, 0, 40, img.rows), metal, cv::FILLED);
  cv::rectangle(img, cv::Rect(40, 0, img.cols - 80, 60), cv::Scalar(60, 40, 150), cv::FILLED);
  cv::putText(img, "DAILY ESSENTIALS", cv::Point(img.cols / 2 - 180, 44), cv::FONT_HERSHEY_DUPLEX,
              1.2, cv::Scalar(240, 240, 240), 2, cv::LINE_AA);
  for (const cv::Rect& b : l.boards) {
    cv::rectangle(img, b, cv::Scalar(185, 188, 190), cv::FILLED);
    cv::line(img, b.tl(), cv::Point(b.x + b.width, b.y), cv::Scalar(120, 120, 120), 2);
  }
  for (std::size_t i = 0; i < l.slots.size(); ++i) {
    const ShelfSlot& s = l.slots[i];
    // Shelf-edge label on the board under the slot.
    const cv::Rect label(s.rect.x + 6, s.rect.y + s.rect.height + 6,
                         std::min(110, s.rect.width - 12), 22);
    cv::rectangle(img, label, cv::Scalar(250, 250, 250), cv::FILLED);
    cv::putText(img, s.sku + " " + std::to_string(49 + static_cast<int>(i) * 7 % 200),
                cv::Point(label.x + 3, label.y + 16), cv::FONT_HERSHEY_SIMPLEX, 0.42,
                cv::Scalar(30, 30, 30), 1, cv::LINE_AA);
    const ShelfSlot& product = state.intruder[i] ? l.slots[*state.intruder[i]] : s;
    const int pitch = s.rect.width / s.facings;
    for (int f = 0; f < s.facings; ++f) {
      if (!state.present[i][static_cast<std::size_t>(f)]) continue;
      const int bw = std::min(product.box_w, pitch - 4);
      const int bh = std::min(product.box_h, s.rect.height - 2);
      // A fixed per-position jitter, so the same box sits in the same place in every
      // image of this layout.
      const int jitter = static_cast<int>((i * 7 + static_cast<std::size_t>(f) * 13) % 7) - 3;
      const cv::Rect box(s.rect.x + f * pitch + (pitch - bw) / 2 + jitter,
                         s.rect.y + s.rect.height - bh, bw, bh);
      draw_box(img, product, box, l.spec.product_codes);
    }
  }
  if (l.spec.markers) {
    const auto dict = cv::aruco::getPredefinedDictionary(cv::aruco::DICT_4X4_50);
    for (std::size_t i = 0; i < l.markers.size(); ++i) {
      const cv::Rect m = l.markers[i];
      cv::rectangle(img, m, cv::Scalar(255, 255, 255), cv::FILLED);
      cv::Mat marker;
      const int inner = m.width - 16;
      cv::aruco::drawMarker(dict, static_cast<int>(i), inner, marker, 1);
      cv::Mat bgr;
      cv::cvtColor(marker, bgr, cv::COLOR_GRAY2BGR);
      bgr.copyTo(img(cv::Rect(m.x + 8, m.y + 8, inner, inner)));
    }
  }
  return img;
}

}  // namespace

ShelfLayout make_shelf_layout(const ShelfSpec& spec, std::mt19937& rng) {
  ShelfLayout l;
  l.spec = spec;
  const bool dark = uniform(rng, 0, 1) < 0.3;
  const int base = dark ? uniform_int(rng, 35, 70) : uniform_int(rng, 150, 225);
  l.panel =
      cv::Vec3b(static_cast<std::uint8_t>(std::clamp(base + uniform_int(rng, -15, 15), 0, 255)),
                static_cast<std::uint8_t>(std::clamp(base + uniform_int(rng, -15, 15), 0, 255)),
                static_cast<std::uint8_t>(std::clamp(base + uniform_int(rng, -15, 15), 0, 255)));
  l.pegboard = uniform(rng, 0, 1) < 0.6;
  l.texture_seed = static_cast<std::uint32_t>(rng());
  const int w = spec.image.width;
  const int h = spec.image.height;
  const int left = 110;
  const int right = w - 110;
  const int top = 70;
  const int bottom = h - 20;
  const int row_h = (bottom - top) / spec.rows;
  const int board_h = std::max(18, row_h / 7);
  const int slot_w = (right - left) / spec.slots_per_row;
  const std::uint32_t family = static_cast<std::uint32_t>(rng());
  static constexpr const char* kNames[] = {"Milk", "Atta", "Dal",  "Tea", "Soap",  "Rice",
                                           "Salt", "Oats", "Ghee", "Jam", "Chips", "Juice"};
  for (int r = 0; r < spec.rows; ++r) {
    const int y0 = top + r * row_h;
    l.boards.emplace_back(left - 60, y0 + row_h - board_h, right - left + 120, board_h);
    for (int c = 0; c < spec.slots_per_row; ++c) {
      ShelfSlot s;
      const std::size_t index = l.slots.size();
      s.id = "R" + std::to_string(r + 1) + "S" + std::to_string(c + 1);
      s.sku = "SKU-" + std::to_string(1000 + (family % 97) * 10 + index);
      s.gtin = gtin_for(index, family);
      s.facings = uniform_int(rng, spec.min_facings, spec.max_facings);
      s.rect = cv::Rect(left + c * slot_w + 4, y0 + 8, slot_w - 8, row_h - board_h - 10);
      s.colour = random_colour(rng);
      s.accent = random_colour(rng);
      s.name = kNames[uniform_int(rng, 0, 11)];
      const int pitch = s.rect.width / s.facings;
      s.box_w = static_cast<int>(pitch * uniform(rng, 0.8, 0.92));
      s.box_h = static_cast<int>(s.rect.height * uniform(rng, 0.6, 0.92));
      l.slots.push_back(std::move(s));
    }
  }
  const int m = std::clamp(h / 14, 48, 120);
  l.markers = {cv::Rect(45, 4, m, m), cv::Rect(w - 45 - m, 4, m, m), cv::Rect(45, h - m - 4, m, m),
               cv::Rect(w - 45 - m, h - m - 4, m, m)};
  return l;
}

ShelfState full_state(const ShelfLayout& layout) {
  ShelfState s;
  for (const ShelfSlot& slot : layout.slots) {
    s.present.emplace_back(static_cast<std::size_t>(slot.facings), true);
    s.intruder.emplace_back();
  }
  return s;
}

ShelfState empty_state(const ShelfLayout& layout) {
  ShelfState s = full_state(layout);
  for (auto& p : s.present) std::fill(p.begin(), p.end(), false);
  return s;
}

ShelfState random_state(const ShelfLayout& layout, std::mt19937& rng, double p_empty, double p_low,
                        double p_wrong) {
  ShelfState s = full_state(layout);
  for (std::size_t i = 0; i < layout.slots.size(); ++i) {
    auto& p = s.present[i];
    const double u = uniform(rng, 0, 1);
    if (u < p_empty) {
      std::fill(p.begin(), p.end(), false);
    } else if (u < p_empty + p_low) {
      const int keep = uniform_int(rng, 1, static_cast<int>(p.size()) - 1);
      std::vector<std::size_t> order(p.size());
      for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
      std::shuffle(order.begin(), order.end(), rng);
      std::fill(p.begin(), p.end(), false);
      for (int k = 0; k < keep; ++k) p[order[static_cast<std::size_t>(k)]] = true;
    }
    const bool any = std::find(p.begin(), p.end(), true) != p.end();
    if (any && uniform(rng, 0, 1) < p_wrong) {
      std::size_t other =
          static_cast<std::size_t>(uniform_int(rng, 0, static_cast<int>(layout.slots.size()) - 1));
      if (other == i) other = (i + 1) % layout.slots.size();
      s.intruder[i] = other;
    }
  }
  return s;
}

double fill_of(const ShelfState& state, std::size_t slot) {
  const auto& p = state.present[slot];
  if (p.empty()) return 0;
  return static_cast<double>(std::count(p.begin(), p.end(), true)) / static_cast<double>(p.size());
}

CameraView random_view(std::mt19937& rng, double max_shift_px, double light) {
  CameraView v;
  v.dx = uniform(rng, -max_shift_px, max_shift_px);
  v.dy = uniform(rng, -max_shift_px, max_shift_px);
  v.rotation_deg = uniform(rng, -1.5, 1.5);
  v.scale = uniform(rng, 0.97, 1.03);
  v.tilt_x = uniform(rng, -1.5e-5, 1.5e-5);
  v.tilt_y = uniform(rng, -1.5e-5, 1.5e-5);
  v.gain = 1 + light * uniform(rng, -0.35, 0.25);
  for (int c = 0; c < 3; ++c) v.colour[c] = 1 + light * uniform(rng, -0.12, 0.12);
  v.gradient = light * uniform(rng, 0, 0.45);
  v.glare = uniform(rng, 0, 1) < 0.3 * light ? uniform(rng, 0.2, 0.6) : 0;
  v.blur = uniform(rng, 0, 1.0);
  v.noise = uniform(rng, 1, 5);
  v.jpeg = uniform_int(rng, 70, 95);
  return v;
}

cv::Matx33d view_homography(const CameraView& v, cv::Size image) {
  const double cx = image.width / 2.0;
  const double cy = image.height / 2.0;
  const double a = v.rotation_deg * CV_PI / 180;
  const cv::Matx33d to_centre(1, 0, -cx, 0, 1, -cy, 0, 0, 1);
  const cv::Matx33d rs(v.scale * std::cos(a), -v.scale * std::sin(a), 0, v.scale * std::sin(a),
                       v.scale * std::cos(a), 0, v.tilt_x, v.tilt_y, 1);
  const cv::Matx33d back(1, 0, cx + v.dx, 0, 1, cy + v.dy, 0, 0, 1);
  return back * rs * to_centre;
}

cv::Mat render_shelf(const ShelfLayout& layout, const ShelfState& state, const CameraView& view,
                     std::mt19937& rng) {
  const cv::Mat plane = render_plane(layout, state);
  cv::Mat frame;
  cv::warpPerspective(plane, frame, cv::Mat(view_homography(view, plane.size())), plane.size(),
                      cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(40, 40, 40));
  if (view.gain != 1 || view.colour != cv::Vec3d(1, 1, 1)) {
    frame.convertTo(frame, CV_32FC3);
    cv::multiply(frame,
                 cv::Scalar(view.gain * view.colour[0], view.gain * view.colour[1],
                            view.gain * view.colour[2]),
                 frame);
    frame.convertTo(frame, CV_8UC3);
  }
  apply_lighting(frame, view.gradient, view.glare, rng);
  apply_blur(frame, view.blur, 0, 0);
  add_noise(frame, view.noise, rng);
  jpeg_roundtrip(frame, view.jpeg);
  return frame;
}

nlohmann::json shelf_planogram(const ShelfLayout& layout, const std::string& camera,
                               const std::string& full_ref, const std::string& empty_ref) {
  nlohmann::json slots = nlohmann::json::array();
  for (const ShelfSlot& s : layout.slots) {
    const cv::Rect r = s.rect;
    slots.push_back({{"id", s.id},
                     {"sku", s.sku},
                     {"gtins", {s.gtin}},
                     {"facings", s.facings},
                     {"polygon",
                      {{r.x, r.y},
                       {r.x + r.width, r.y},
                       {r.x + r.width, r.y + r.height},
                       {r.x, r.y + r.height}}}});
  }
  nlohmann::json reference = {{"full", full_ref}};
  if (!empty_ref.empty()) reference["empty"] = empty_ref;
  return {{"camera", camera},
          {"image", {{"width", layout.spec.image.width}, {"height", layout.spec.image.height}}},
          {"reference", reference},
          {"registration", layout.spec.markers ? "auto" : "features"},
          {"thresholds", {{"empty_below", 0.2}, {"low_below", 0.45}}},
          {"slots", slots}};
}

}  // namespace shopeasy::vision_gen
