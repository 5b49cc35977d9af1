// shelf-sim: a second shelf renderer, written apart from tools/vision-gen so the shelf
// scanner can be measured on scenes it was not shaped around. Different in every
// respect the scanner looks at: back panels (slatwall grooves, wire mesh, painted
// plaster, fabric weave) in muted or dark colours; slots of uneven widths on 3-5
// shelves with wood or metal boards and price rails; products as bottles, cans,
// pouches and striped cartons with shading, highlights and drop shadows; light from
// spots above (falloff down each bay, the board's shadow at the top of each slot),
// colour temperature, vignetting; no fiducial markers (registration by features).
// Deterministic for a seed and thread-safe.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

namespace shopeasy::shelf_sim {

enum class Panel { kSlatwall, kMesh, kPlaster, kFabric };
enum class Shape { kBottle, kCan, kPouch, kCarton };

struct Product {
  Shape shape = Shape::kCarton;
  cv::Vec3b body, second;  // main colour and pattern colour
  int width = 0, height = 0;
  int pattern = 0;  // stripes, band, dots
};

struct Slot {
  std::string id, sku;
  cv::Rect rect;
  int facings = 2;
  Product product;
};

struct Shelf {
  cv::Size image{1920, 1080};
  std::uint32_t seed = 0;
  Panel panel = Panel::kPlaster;
  cv::Vec3b panel_colour;
  cv::Vec3b board_colour;
  bool wood = false;
  std::vector<cv::Rect> boards;
  std::vector<Slot> slots;
};

Shelf make_shelf(std::uint32_t seed, cv::Size image = {1920, 1080});

// present[slot][facing]
std::vector<std::vector<bool>> all(const Shelf& shelf, bool present);
std::vector<int> facings(const Shelf& shelf);

struct Camera {
  double dx = 0, dy = 0, angle_deg = 0, zoom = 1, keystone = 0;
  double exposure = 1;       // overall brightness
  cv::Vec3d white{1, 1, 1};  // B, G, R gains (colour temperature)
  double spot = 0.25;        // strength of the fall-off from the spots above
  double vignette = 0.15;
  double noise = 2;  // sensor noise, grey levels
  double blur = 0.4;
  int jpeg = 90;
};

// The camera as installed (a little off where the references were taken) and one
// frame of it (a pixel or two of shake, the light of the moment: `frame` drifts it
// slowly, as daylight through a door would).
Camera installed_camera(std::mt19937& rng);
Camera frame_camera(const Camera& installed, int frame, std::mt19937& rng);

cv::Mat render(const Shelf& shelf, const std::vector<std::vector<bool>>& present,
               const Camera& camera, std::mt19937& rng);

// The planogram (registration by features, no markers) naming the references as given.
nlohmann::json planogram(const Shelf& shelf, const std::string& camera, const std::string& full,
                         const std::string& empty);

}  // namespace shopeasy::shelf_sim
