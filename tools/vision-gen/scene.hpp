// Camera-like scenes around one barcode: a cluttered background, the code on a label
// placed with rotation and keystone (perspective), then uneven light, glare, optical
// and motion blur, sensor noise and JPEG compression. Everything random comes from the
// caller's std::mt19937, so a seed reproduces an image exactly. Thread-safe (no
// shared state; cv::RNG is not used).
#pragma once

#include <array>
#include <random>
#include <string_view>

#include <opencv2/core.hpp>

#include "tools/vision-gen/encoders.hpp"

namespace shopeasy::vision_gen {

struct SceneParams {
  cv::Size scene{800, 600};  // grows when the placed code would not fit
  // Pixels per module at the narrowest part of the placed code (keystone enlarges the
  // rest), measured across the bars for linear codes.
  double px_per_module = 3.0;
  double rotation_deg = 0;  // any angle
  double keystone = 0;      // 0..0.6: one edge is this much shorter than its opposite
  int keystone_edge = 0;    // 0..3: which edge (left, top, right, bottom) is shorter
  double blur_sigma = 0;    // Gaussian optical blur, pixels
  double motion_px = 0;     // motion blur length, pixels
  double motion_angle_deg = 0;
  double noise_sigma = 0;    // additive Gaussian sensor noise, grey levels
  double uneven_light = 0;   // 0..0.9: depth of a light gradient across the scene
  double glare = 0;          // 0..1: strength of a specular spot (0 = none)
  int jpeg_quality = 0;      // 1..100, 0 = not compressed
  std::uint8_t dark = 20;    // ink grey level
  std::uint8_t light = 240;  // label grey level
  double offset_x = 0.5;     // placement of the code centre, fraction of the free room
  double offset_y = 0.5;
  // A code cut by the frame: with cut_edge 0..3 (left, top, right, bottom) the symbol
  // reaches past that edge by cut_fraction (0..0.95) of its extent across it, and
  // offset_x or offset_y along that axis is not used. -1: the code is whole.
  int cut_edge = -1;
  double cut_fraction = 0;
};

enum class Difficulty { kClean, kMedium, kHard, kExtreme };
std::string_view difficulty_name(Difficulty d);

// Random parameters for a difficulty level:
// - clean: 2.5..4 px/module, upright within +-3 degrees, light noise, no blur.
// - medium: 2..4 px/module, any rotation, keystone up to 0.4, blur sigma up to 1.5,
//   noise sigma up to 6, uneven light up to 0.5.
// - hard: every degradation at once, calibrated so that each library alone reads about
//   70% (zxing-cpp) to 76% (OpenCV) of EAN-13s, like the mixed set of the vision notes:
//   1.8..3.5 px/module, any rotation, keystone up to 0.4, blur 0.5..1.7 or motion blur
//   up to 5 px, noise 3..9, uneven light 0.1..0.6, glare, JPEG 50..90, reduced print
//   contrast.
// - extreme: beyond hard: 1.6..3.5 px/module, keystone up to 0.5, blur up to 2.0 or
//   motion blur up to 6 px, noise 3..10, uneven light 0.2..0.7, glare, JPEG 40..90.
SceneParams sample_scene_params(Difficulty d, std::mt19937& rng);

struct SceneTruth {
  std::array<cv::Point2f, 4> corners{};  // symbol (without quiet zone) in the scene
};

// Renders `symbol` into a BGR scene. `truth` may be null.
cv::Mat render_scene(const Symbol& symbol, const SceneParams& params, std::mt19937& rng,
                     SceneTruth* truth);

// Two codes in one frame, each on its own label with its own pose (px_per_module,
// rotation, keystone, print levels, offset_y across the layout) from its params, side
// by side or one above the other with a gap of 4..60 pixels. The scene size and its
// light, blur, noise and compression come from `first_params`. `truth` may be null.
cv::Mat render_two_code_scene(const Symbol& first, const Symbol& second,
                              const SceneParams& first_params, const SceneParams& second_params,
                              std::mt19937& rng, std::array<SceneTruth, 2>* truth);

// A scene with clutter but no code, degraded as `params` says.
cv::Mat render_blank_scene(const SceneParams& params, std::mt19937& rng);

// The degradations, exposed for the shelf generator. Each works on CV_8UC3 in place.
void apply_lighting(cv::Mat& bgr, double uneven, double glare, std::mt19937& rng);
void apply_blur(cv::Mat& bgr, double sigma, double motion_px, double motion_angle_deg);
void add_noise(cv::Mat& bgr, double sigma, std::mt19937& rng);
void jpeg_roundtrip(cv::Mat& bgr, int quality);
// Random low-contrast shapes and text: the clutter a real scene has around a code.
void draw_clutter(cv::Mat& bgr, int shapes, std::mt19937& rng);

}  // namespace shopeasy::vision_gen
