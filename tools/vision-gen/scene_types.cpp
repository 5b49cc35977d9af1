#include "tools/vision-gen/scene_types.hpp"

#include <algorithm>
#include <array>

namespace shopeasy::vision_gen {
namespace {

// Items in a shared-prefix catalog: enough that a misread has neighbours to land on.
constexpr int kCatalogItems = 24;

// Two contents of `kind` that differ (a frame showing one code twice is not two codes).
std::pair<std::string, std::string> two_contents(CodeKind kind, std::mt19937& rng) {
  std::string a = random_content(kind, rng);
  std::string b = random_content(kind, rng);
  for (int i = 0; b == a && i < 16; ++i) b = random_content(kind, rng);
  return {a, b};
}

}  // namespace

const std::vector<SceneType>& all_scene_types() {
  static const std::vector<SceneType> kAll = {SceneType::kTwoCodes, SceneType::kCut,
                                              SceneType::kLargeMatrix, SceneType::kSharedPrefix};
  return kAll;
}

std::string_view scene_type_name(SceneType type) {
  switch (type) {
    case SceneType::kTwoCodes:
      return "two-codes";
    case SceneType::kCut:
      return "cut";
    case SceneType::kLargeMatrix:
      return "large-matrix";
    case SceneType::kSharedPrefix:
      return "shared-prefix";
  }
  return "unknown";
}

std::optional<SceneType> parse_scene_type(std::string_view name) {
  for (SceneType t : all_scene_types()) {
    if (scene_type_name(t) == name) return t;
  }
  return std::nullopt;
}

std::vector<CodeKind> scene_type_kinds(SceneType type) {
  switch (type) {
    case SceneType::kTwoCodes:
    case SceneType::kCut:
      return all_code_kinds();
    case SceneType::kLargeMatrix:
      return {CodeKind::kQr, CodeKind::kDataMatrix};
    case SceneType::kSharedPrefix:
      return {CodeKind::kEan13};
  }
  return {};
}

StatusOr<TypedScene> make_typed_scene(SceneType type, CodeKind kind, Difficulty level,
                                      std::mt19937& content_rng, std::mt19937& scene_rng) {
  const auto kinds = scene_type_kinds(type);
  if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) {
    return invalid_argument(std::string(code_kind_name(kind)) + " is not made for " +
                                std::string(scene_type_name(type)) + " scenes",
                            "symbology");
  }
  TypedScene out;
  auto encoded = [&](const std::string& content) -> Status {
    auto s = encode(kind, content);
    if (!s.ok()) return s.status();
    out.symbols.push_back(std::move(*s));
    return Status();
  };
  switch (type) {
    case SceneType::kTwoCodes: {
      std::pair<std::string, std::string> contents;
      if (kind == CodeKind::kEan13) {
        // Two products of one brand side by side: the likeliest pair to mix up.
        out.catalog = shared_prefix_catalog(kCatalogItems, content_rng);
        std::uniform_int_distribution<std::size_t> pick(0, out.catalog.size() - 1);
        const std::size_t a = pick(content_rng);
        std::size_t b = pick(content_rng);
        if (b == a) b = (a + 1) % out.catalog.size();
        contents = {out.catalog[a], out.catalog[b]};
      } else {
        contents = two_contents(kind, content_rng);
      }
      SHOPEASY_RETURN_IF_ERROR(encoded(contents.first));
      SHOPEASY_RETURN_IF_ERROR(encoded(contents.second));
      const SceneParams first = sample_scene_params(level, scene_rng);
      const SceneParams second = sample_scene_params(level, scene_rng);
      std::array<SceneTruth, 2> truth;
      out.image =
          render_two_code_scene(out.symbols[0], out.symbols[1], first, second, scene_rng, &truth);
      out.truths.assign(truth.begin(), truth.end());
      break;
    }
    case SceneType::kCut: {
      SHOPEASY_RETURN_IF_ERROR(encoded(random_content(kind, content_rng)));
      SceneParams p = sample_scene_params(level, scene_rng);
      p.cut_edge = std::uniform_int_distribution<int>(0, 3)(scene_rng);
      p.cut_fraction = std::uniform_real_distribution<double>(0.05, 0.6)(scene_rng);
      out.cut_fraction = p.cut_fraction;
      SceneTruth truth;
      out.image = render_scene(out.symbols[0], p, scene_rng, &truth);
      out.truths.push_back(truth);
      break;
    }
    case SceneType::kLargeMatrix: {
      SHOPEASY_RETURN_IF_ERROR(encoded(random_large_content(kind, content_rng)));
      SceneTruth truth;
      out.image =
          render_scene(out.symbols[0], sample_scene_params(level, scene_rng), scene_rng, &truth);
      out.truths.push_back(truth);
      break;
    }
    case SceneType::kSharedPrefix: {
      out.catalog = shared_prefix_catalog(kCatalogItems, content_rng);
      std::uniform_int_distribution<std::size_t> pick(0, out.catalog.size() - 1);
      SHOPEASY_RETURN_IF_ERROR(encoded(out.catalog[pick(content_rng)]));
      SceneTruth truth;
      out.image =
          render_scene(out.symbols[0], sample_scene_params(level, scene_rng), scene_rng, &truth);
      out.truths.push_back(truth);
      break;
    }
  }
  return out;
}

}  // namespace shopeasy::vision_gen
