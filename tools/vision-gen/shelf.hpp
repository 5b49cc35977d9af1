// Generated shelves: a shelf unit with rows of slots, products as printed boxes (each
// with a DataMatrix carrying its GTIN), shelf-edge labels, ArUco markers at the corners
// of the unit, and the planogram that describes it. A ShelfState says which boxes are
// on the shelf; a CameraView moves the camera a little and changes the light. The
// reference images for the planogram are the full and the empty state seen through the
// identity view. Deterministic for a seed; thread-safe (no shared state).
#pragma once

#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

namespace shopeasy::vision_gen {

struct ShelfSpec {
  cv::Size image{1920, 1080};
  int rows = 4;
  int slots_per_row = 6;
  int min_facings = 2;
  int max_facings = 4;
  bool markers = true;        // ArUco 4x4 markers 0..3 at the unit's corners
  bool product_codes = true;  // a DataMatrix with the GTIN on each box front
};

struct ShelfSlot {
  std::string id;    // "R1S3"
  std::string sku;   // "SKU-0103"
  std::string gtin;  // 14 digits
  int facings = 3;
  cv::Rect rect;     // in the reference image
  cv::Vec3b colour;  // box body
  cv::Vec3b accent;  // top band and logo
  std::string name;
  int box_w = 0;
  int box_h = 0;
};

struct ShelfLayout {
  ShelfSpec spec;
  cv::Vec3b panel;       // back panel colour
  bool pegboard = true;  // holes, else wood grain
  std::uint32_t texture_seed = 0;
  std::vector<ShelfSlot> slots;
  std::vector<cv::Rect> boards;
  std::vector<cv::Rect> markers;  // marker i at markers[i]
};

ShelfLayout make_shelf_layout(const ShelfSpec& spec, std::mt19937& rng);

struct ShelfState {
  // present[slot][facing]: a box stands at that facing position.
  std::vector<std::vector<bool>> present;
  // For a slot holding another slot's product instead of its own: that slot's index.
  std::vector<std::optional<std::size_t>> intruder;
};

ShelfState full_state(const ShelfLayout& layout);
ShelfState empty_state(const ShelfLayout& layout);
// Each slot empty with p_empty, partly filled (at least one gap) with p_low, else full;
// a non-empty slot shows another slot's product with p_wrong.
ShelfState random_state(const ShelfLayout& layout, std::mt19937& rng, double p_empty = 0.25,
                        double p_low = 0.3, double p_wrong = 0.0);
// Boxes standing in a slot, over its facings (0..1).
double fill_of(const ShelfState& state, std::size_t slot);

struct CameraView {
  double dx = 0, dy = 0;  // shift, pixels
  double rotation_deg = 0;
  double scale = 1;
  double tilt_x = 0, tilt_y = 0;  // perspective terms (1e-5 per pixel is a lot)
  double gain = 1;                // overall brightness
  cv::Vec3d colour{1, 1, 1};      // per-channel (B, G, R) gain: colour temperature
  double gradient = 0;            // 0..0.8 uneven light across the frame
  double glare = 0;               // 0..1
  double blur = 0;
  double noise = 0;
  int jpeg = 0;
};

// A small random camera move (up to `max_shift_px`, +-1.5 degrees, +-3% scale, slight
// perspective) and a random light change of strength `light` (0..1).
CameraView random_view(std::mt19937& rng, double max_shift_px = 30, double light = 1.0);

// The shelf in `state` seen through `view`, BGR.
cv::Mat render_shelf(const ShelfLayout& layout, const ShelfState& state, const CameraView& view,
                     std::mt19937& rng);

// The homography from reference to frame coordinates of a view.
cv::Matx33d view_homography(const CameraView& view, cv::Size image);

// The planogram for the layout, naming the reference images as given.
nlohmann::json shelf_planogram(const ShelfLayout& layout, const std::string& camera,
                               const std::string& full_ref, const std::string& empty_ref);

}  // namespace shopeasy::vision_gen
