#include "edge/vision/planogram.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include <opencv2/imgproc.hpp>

#include "edge/barcode/barcode.hpp"

namespace shopeasy::edge::vision {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxSlots = 500;
constexpr double kMaxOverlap = 0.02;

bool valid_code(const std::string& s, std::size_t max_len) {
  if (s.empty() || s.size() > max_len) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

Status bad(std::string message, std::string field) {
  return invalid_argument(std::move(message), std::move(field));
}

StatusOr<double> number(const json& j, const char* key, const std::string& field) {
  if (!j.contains(key)) return bad("is required", field);
  const json& v = j.at(key);
  if (!v.is_number()) return bad("must be a number", field);
  const double d = v.get<double>();
  if (!std::isfinite(d)) return bad("must be finite", field);
  return d;
}

StatusOr<std::string> string_field(const json& j, const char* key, const std::string& field) {
  if (!j.contains(key)) return bad("is required", field);
  if (!j.at(key).is_string()) return bad("must be a string", field);
  return j.at(key).get<std::string>();
}

std::string resolve(const std::string& path, const std::string& base_dir) {
  if (base_dir.empty() || path.empty() || path.front() == '/') return path;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

Status parse_polygon(const json& j, const std::string& field, cv::Size image,
                     std::vector<cv::Point2f>* out) {
  if (!j.is_array()) return bad("must be an array of [x, y] points", field);
  if (j.size() < 3 || j.size() > 16) return bad("must have 3 to 16 points", field);
  for (std::size_t i = 0; i < j.size(); ++i) {
    const std::string pf = field + "[" + std::to_string(i) + "]";
    const json& p = j[i];
    if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_number()) {
      return bad("must be [x, y]", pf);
    }
    const double x = p[0].get<double>();
    const double y = p[1].get<double>();
    if (!std::isfinite(x) || !std::isfinite(y) || x < 0 || y < 0 || x > image.width ||
        y > image.height) {
      return bad("lies outside the " + std::to_string(image.width) + "x" +
                     std::to_string(image.height) + " image",
                 pf);
    }
    out->emplace_back(static_cast<float>(x), static_cast<float>(y));
  }
  if (std::abs(cv::contourArea(*out)) < 64) return bad("is degenerate (area below 64 px)", field);
  if (!cv::isContourConvex(*out)) return bad("must be convex", field);
  return Status::ok();
}

}  // namespace

std::string_view registration_name(Registration r) {
  switch (r) {
    case Registration::kAuto:
      return "auto";
    case Registration::kAruco:
      return "aruco";
    case Registration::kFeatures:
      return "features";
    case Registration::kNone:
      return "none";
  }
  return "auto";
}

StatusOr<Planogram> parse_planogram(const json& j, const std::string& base_dir) {
  if (!j.is_object()) return bad("must be a JSON object", "planogram");
  Planogram p;
  auto camera = string_field(j, "camera", "camera");
  if (!camera.ok()) return camera.status();
  if (!valid_code(*camera, 64)) return bad("must be 1..64 of [A-Za-z0-9._-]", "camera");
  p.camera = *camera;

  if (!j.contains("image") || !j.at("image").is_object()) return bad("is required", "image");
  auto w = number(j.at("image"), "width", "image.width");
  if (!w.ok()) return w.status();
  auto h = number(j.at("image"), "height", "image.height");
  if (!h.ok()) return h.status();
  if (*w < 16 || *w > 12000 || *w != std::floor(*w)) {
    return bad("must be a whole number 16..12000", "image.width");
  }
  if (*h < 16 || *h > 12000 || *h != std::floor(*h)) {
    return bad("must be a whole number 16..12000", "image.height");
  }
  p.image = cv::Size(static_cast<int>(*w), static_cast<int>(*h));

  if (!j.contains("reference") || !j.at("reference").is_object()) {
    return bad("is required (an object with \"full\")", "reference");
  }
  const json& ref = j.at("reference");
  auto full = string_field(ref, "full", "reference.full");
  if (!full.ok()) return full.status();
  if (full->empty()) return bad("must not be empty", "reference.full");
  p.reference_full = resolve(*full, base_dir);
  if (ref.contains("empty") && !ref.at("empty").is_null()) {
    auto empty = string_field(ref, "empty", "reference.empty");
    if (!empty.ok()) return empty.status();
    if (empty->empty()) return bad("must not be empty", "reference.empty");
    p.reference_empty = resolve(*empty, base_dir);
  }

  if (j.contains("registration")) {
    const json& r = j.at("registration");
    const std::string name = r.is_string() ? r.get<std::string>() : std::string();
    if (name == "auto") {
      p.registration = Registration::kAuto;
    } else if (name == "aruco") {
      p.registration = Registration::kAruco;
    } else if (name == "features") {
      p.registration = Registration::kFeatures;
    } else if (name == "none") {
      p.registration = Registration::kNone;
    } else {
      return bad("must be one of auto, aruco, features, none", "registration");
    }
  }

  if (j.contains("thresholds")) {
    const json& t = j.at("thresholds");
    if (!t.is_object()) return bad("must be an object", "thresholds");
    if (t.contains("empty_below")) {
      auto v = number(t, "empty_below", "thresholds.empty_below");
      if (!v.ok()) return v.status();
      p.empty_below = *v;
    }
    if (t.contains("low_below")) {
      auto v = number(t, "low_below", "thresholds.low_below");
      if (!v.ok()) return v.status();
      p.low_below = *v;
    }
  }
  if (!(p.empty_below > 0 && p.empty_below < p.low_below && p.low_below < 1)) {
    return bad("need 0 < empty_below < low_below < 1", "thresholds");
  }

  if (!j.contains("slots") || !j.at("slots").is_array()) {
    return bad("is required (an array)", "slots");
  }
  const json& slots = j.at("slots");
  if (slots.empty()) return bad("must have at least one slot", "slots");
  if (slots.size() > kMaxSlots) return bad("more than 500 slots", "slots");
  std::set<std::string> ids;
  for (std::size_t i = 0; i < slots.size(); ++i) {
    const std::string f = "slots[" + std::to_string(i) + "]";
    const json& s = slots[i];
    if (!s.is_object()) return bad("must be an object", f);
    PlanogramSlot slot;
    auto id = string_field(s, "id", f + ".id");
    if (!id.ok()) return id.status();
    if (!valid_code(*id, 32)) return bad("must be 1..32 of [A-Za-z0-9._-]", f + ".id");
    if (!ids.insert(*id).second) return bad("duplicate slot id " + *id, f + ".id");
    slot.id = *id;
    auto sku = string_field(s, "sku", f + ".sku");
    if (!sku.ok()) return sku.status();
    if (!valid_code(*sku, 64)) return bad("must be 1..64 of [A-Za-z0-9._-]", f + ".sku");
    slot.sku = *sku;
    if (s.contains("gtins")) {
      const json& g = s.at("gtins");
      if (!g.is_array()) return bad("must be an array of GTINs", f + ".gtins");
      for (std::size_t k = 0; k < g.size(); ++k) {
        const std::string gf = f + ".gtins[" + std::to_string(k) + "]";
        if (!g[k].is_string()) return bad("must be a string", gf);
        auto gtin = barcode::to_gtin14(g[k].get<std::string>());
        if (!gtin.ok()) return bad(gtin.status().message(), gf);
        slot.gtins.push_back(*gtin);
      }
    }
    if (s.contains("facings")) {
      const json& fj = s.at("facings");
      if (!fj.is_number_integer() || fj.get<long long>() < 1 || fj.get<long long>() > 50) {
        return bad("must be a whole number 1..50", f + ".facings");
      }
      slot.facings = fj.get<int>();
    }
    if (s.contains("low_below")) {
      auto v = number(s, "low_below", f + ".low_below");
      if (!v.ok()) return v.status();
      if (!(*v > p.empty_below && *v < 1)) {
        return bad("must be between the empty threshold and 1", f + ".low_below");
      }
      slot.low_below = *v;
    }
    if (!s.contains("polygon")) return bad("is required", f + ".polygon");
    SHOPEASY_RETURN_IF_ERROR(
        parse_polygon(s.at("polygon"), f + ".polygon", p.image, &slot.polygon));
    p.slots.push_back(std::move(slot));
  }

  // Overlap: the intersection of two convex polygons, against the smaller one.
  for (std::size_t a = 0; a < p.slots.size(); ++a) {
    const cv::Rect2f ra = cv::boundingRect(p.slots[a].polygon);
    for (std::size_t b = a + 1; b < p.slots.size(); ++b) {
      const cv::Rect2f rb = cv::boundingRect(p.slots[b].polygon);
      if ((ra & rb).area() <= 0) continue;
      std::vector<cv::Point2f> inter;
      const float area = cv::intersectConvexConvex(p.slots[a].polygon, p.slots[b].polygon, inter);
      const double smaller = std::min(std::abs(cv::contourArea(p.slots[a].polygon)),
                                      std::abs(cv::contourArea(p.slots[b].polygon)));
      if (area > kMaxOverlap * smaller) {
        return bad("slot " + p.slots[a].id + " overlaps slot " + p.slots[b].id,
                   "slots[" + std::to_string(b) + "].polygon");
      }
    }
  }
  return p;
}

StatusOr<Planogram> load_planogram(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(path)) return not_found("no planogram file " + path);
    return unavailable("cannot read planogram " + path);
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > (4u << 20)) return bad(path + " is larger than 4 MiB", "planogram");
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return bad(path + " is not valid JSON", "planogram");
  auto p = parse_planogram(j, std::filesystem::path(path).parent_path().string());
  if (!p.ok()) {
    const Status& s = p.status();
    return Status(s.code(), path + ": " + s.message(), s.field());
  }
  return p;
}

Status check_frame_size(const Planogram& p, cv::Size frame) {
  if (frame != p.image) {
    return invalid_argument("frame is " + std::to_string(frame.width) + "x" +
                                std::to_string(frame.height) + " but planogram " + p.camera +
                                " is for " + std::to_string(p.image.width) + "x" +
                                std::to_string(p.image.height),
                            "image");
  }
  return Status::ok();
}

}  // namespace shopeasy::edge::vision
