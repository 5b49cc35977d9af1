// Planogram: what a fixed shelf camera should see. A JSON file per camera names the
// image size, reference images of the shelf (full, and optionally empty, taken from
// the camera's own position), and the slots as convex polygons in image coordinates,
// each with its SKU, the product codes that may be in it and the expected facings:
//
//   {"camera": "aisle-3-left", "image": {"width": 1920, "height": 1080},
//    "reference": {"full": "aisle-3-left.full.jpg", "empty": "aisle-3-left.empty.jpg"},
//    "registration": "auto",            // auto | aruco | features | none
//    "thresholds": {"empty_below": 0.2, "low_below": 0.5},
//    "slots": [{"id": "A1", "sku": "MILK-1L", "gtins": ["08901234567893"],
//               "facings": 3, "polygon": [[100, 80], [400, 80], [400, 300], [100, 300]],
//               "low_below": 0.34}]}
//
// Reference paths are relative to the planogram file. Parsing is strict: every problem
// is kInvalidArgument naming its field ("slots[3].polygon"). Pure and thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "common/status/status.hpp"

namespace shopeasy::edge::vision {

enum class Registration { kAuto, kAruco, kFeatures, kNone };

struct PlanogramSlot {
  std::string id;                    // unique in the planogram, 1..32 of [A-Za-z0-9._-]
  std::string sku;                   // 1..64 of [A-Za-z0-9._-]
  std::vector<std::string> gtins;    // GTIN-14 each (normalised on parse); may be empty
  int facings = 1;                   // 1..50
  std::vector<cv::Point2f> polygon;  // 3..16 points, convex, inside the image
  std::optional<double> low_below;   // overrides the planogram's threshold
};

struct Planogram {
  std::string camera;          // as in the camera configuration
  cv::Size image;              // the camera's resolution
  std::string reference_full;  // absolute path after load_planogram
  std::optional<std::string> reference_empty;
  Registration registration = Registration::kAuto;
  double empty_below = 0.2;  // fill below this is "empty"
  double low_below = 0.5;    // fill below this is "low"
  std::vector<PlanogramSlot> slots;
};

// Parses and validates a planogram. `base_dir` resolves relative reference paths
// (empty: left as written). Checks: image size 16..12000 a side; reference.full
// present; 1..500 slots; unique slot ids; valid SKUs and GTINs (check digits); each
// polygon 3..16 points, convex, non-degenerate (area >= 64 px) and inside the image;
// no two slots overlapping by more than 2% of the smaller one; 0 < empty_below <
// low_below < 1.
[[nodiscard]] StatusOr<Planogram> parse_planogram(const nlohmann::json& j,
                                                  const std::string& base_dir = {});

// Reads, parses and validates a planogram file. kNotFound when missing, kInvalidArgument
// for bad JSON (field "planogram") or content.
[[nodiscard]] StatusOr<Planogram> load_planogram(const std::string& path);

// kInvalidArgument (field "image") when a frame's size differs from the planogram's.
[[nodiscard]] Status check_frame_size(const Planogram& p, cv::Size frame);

std::string_view registration_name(Registration r);

}  // namespace shopeasy::edge::vision
