#include "tools/vision-gen/scene_types.hpp"

#include <set>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

namespace shopeasy::vision_gen {
namespace {

cv::Rect2f bounds(const SceneTruth& t) {
  return cv::boundingRect(std::vector<cv::Point2f>(t.corners.begin(), t.corners.end()));
}

TEST(SceneTypes, NamesRoundTripAndKindsAreChecked) {
  for (SceneType t : all_scene_types()) {
    EXPECT_EQ(parse_scene_type(scene_type_name(t)), t);
    EXPECT_FALSE(scene_type_kinds(t).empty());
  }
  EXPECT_FALSE(parse_scene_type("three-codes").has_value());
  std::mt19937 a(1), b(2);
  auto bad = make_typed_scene(SceneType::kLargeMatrix, CodeKind::kEan13, Difficulty::kMedium, a, b);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().field(), "symbology");
}

TEST(SceneTypes, TwoCodesAreBothInViewAndApart) {
  for (CodeKind kind : all_code_kinds()) {
    for (std::uint32_t seed = 1; seed <= 6; ++seed) {
      std::mt19937 content(seed), scene(seed * 7);
      auto s = make_typed_scene(SceneType::kTwoCodes, kind, Difficulty::kHard, content, scene);
      ASSERT_TRUE(s.ok()) << s.status().to_string();
      ASSERT_EQ(s->symbols.size(), 2u);
      ASSERT_EQ(s->truths.size(), 2u);
      EXPECT_NE(s->symbols[0].content, s->symbols[1].content);
      const cv::Rect2f frame(0, 0, static_cast<float>(s->image.cols),
                             static_cast<float>(s->image.rows));
      const cv::Rect2f a = bounds(s->truths[0]);
      const cv::Rect2f b = bounds(s->truths[1]);
      EXPECT_EQ((a & frame).area(), a.area()) << code_kind_name(kind) << " " << seed;
      EXPECT_EQ((b & frame).area(), b.area()) << code_kind_name(kind) << " " << seed;
      EXPECT_EQ((a & b).area(), 0.0f) << code_kind_name(kind) << " " << seed;
    }
  }
}

TEST(SceneTypes, CutCodesReachPastTheFrame) {
  for (CodeKind kind : all_code_kinds()) {
    for (std::uint32_t seed = 1; seed <= 6; ++seed) {
      std::mt19937 content(seed), scene(seed * 11);
      auto s = make_typed_scene(SceneType::kCut, kind, Difficulty::kMedium, content, scene);
      ASSERT_TRUE(s.ok()) << s.status().to_string();
      ASSERT_GE(s->cut_fraction, 0.05);
      const cv::Rect2f r = bounds(s->truths[0]);
      const cv::Rect2f frame(0, 0, static_cast<float>(s->image.cols),
                             static_cast<float>(s->image.rows));
      const float visible = (r & frame).area() / r.area();
      EXPECT_LT(visible, 0.97f) << code_kind_name(kind) << " " << seed;
      EXPECT_GT(visible, 0.2f) << code_kind_name(kind) << " " << seed;
    }
  }
}

TEST(SceneTypes, LargeMatrixSymbolsHaveMoreModules) {
  std::mt19937 rng(5);
  int qr_min = 1000, dm_min = 1000, dm_max = 0;
  for (int i = 0; i < 20; ++i) {
    auto qr = encode(CodeKind::kQr, random_large_content(CodeKind::kQr, rng));
    auto dm = encode(CodeKind::kDataMatrix, random_large_content(CodeKind::kDataMatrix, rng));
    ASSERT_TRUE(qr.ok()) << qr.status().to_string();
    ASSERT_TRUE(dm.ok()) << dm.status().to_string();
    qr_min = std::min(qr_min, qr->modules.cols);
    dm_min = std::min(dm_min, dm->modules.cols);
    dm_max = std::max(dm_max, dm->modules.cols);
  }
  // The one-code sets use QR versions 3-4 (29-33 modules) and DataMatrix up to 16x16.
  EXPECT_GE(qr_min, 45);  // version 7 and up
  EXPECT_GE(dm_min, 32);
  EXPECT_GE(dm_max, 52);
  std::mt19937 again(5);
  auto qr = encode(CodeKind::kQr, random_content(CodeKind::kQr, again));
  ASSERT_TRUE(qr.ok());
  EXPECT_LE(qr->modules.cols, 33);
  EXPECT_FALSE(encode(CodeKind::kQr, std::string(601, 'a')).ok());
}

TEST(SceneTypes, SharedPrefixCatalogsDifferInAFewItemDigits) {
  for (std::uint32_t seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng(seed);
    const auto catalog = shared_prefix_catalog(24, rng);
    ASSERT_EQ(catalog.size(), 24u);
    EXPECT_EQ(std::set<std::string>(catalog.begin(), catalog.end()).size(), catalog.size());
    for (const std::string& c : catalog) {
      ASSERT_EQ(c.size(), 13u);
      EXPECT_EQ(c.substr(0, 7), catalog[0].substr(0, 7));  // the company prefix
      EXPECT_EQ(c.back() - '0', gs1_check_digit(c.substr(0, 12)));
      int differ = 0;
      for (std::size_t i = 0; i < 12; ++i) differ += c[i] != catalog[0][i];
      EXPECT_LE(differ, 3);
      EXPECT_TRUE(encode(CodeKind::kEan13, c).ok());
    }
  }
}

TEST(SceneTypes, ASeedReproducesTheScene) {
  for (SceneType t : all_scene_types()) {
    const CodeKind kind = scene_type_kinds(t).back();
    std::mt19937 c1(3), s1(4), c2(3), s2(4);
    auto a = make_typed_scene(t, kind, Difficulty::kHard, c1, s1);
    auto b = make_typed_scene(t, kind, Difficulty::kHard, c2, s2);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(cv::norm(a->image, b->image, cv::NORM_INF), 0.0) << scene_type_name(t);
  }
}

}  // namespace
}  // namespace shopeasy::vision_gen
