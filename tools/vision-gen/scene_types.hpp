// Scene types beyond one whole code in view, for the evaluation's scene part: two codes
// in one frame, a code cut by the frame's edge, larger QR and DataMatrix symbols, and
// EAN-13s from a catalog whose items share a GS1 company prefix. Each type draws its
// codes and scene from the caller's std::mt19937 (a seed reproduces an image) on the
// ranges of a difficulty level (scene.hpp). Pure and thread-safe.
#pragma once

#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

#include "common/status/status.hpp"
#include "tools/vision-gen/encoders.hpp"
#include "tools/vision-gen/scene.hpp"

namespace shopeasy::vision_gen {

enum class SceneType { kTwoCodes, kCut, kLargeMatrix, kSharedPrefix };

// Every type, in the order above.
const std::vector<SceneType>& all_scene_types();
// "two-codes", "cut", "large-matrix", "shared-prefix".
std::string_view scene_type_name(SceneType type);
std::optional<SceneType> parse_scene_type(std::string_view name);
// The symbologies a type is made with: every kind for two-codes and cut, QR and
// DataMatrix for large-matrix, EAN-13 for shared-prefix.
std::vector<CodeKind> scene_type_kinds(SceneType type);

struct TypedScene {
  cv::Mat image;  // BGR
  // Every code in the frame (two for two-codes, else one), whole or cut.
  std::vector<Symbol> symbols;
  std::vector<SceneTruth> truths;
  // shared-prefix: the catalog's EAN-13s, the code in view one of them; two-codes with
  // EAN-13: both codes are from one such catalog. Else empty.
  std::vector<std::string> catalog;
  double cut_fraction = 0;  // cut: how much of the symbol lies beyond the frame
};

// kInvalidArgument (field "symbology") when `kind` is not among scene_type_kinds().
// `content_rng` draws the codes (so consecutive frames can show the same ones) and
// `scene_rng` everything else.
StatusOr<TypedScene> make_typed_scene(SceneType type, CodeKind kind, Difficulty level,
                                      std::mt19937& content_rng, std::mt19937& scene_rng);

}  // namespace shopeasy::vision_gen
