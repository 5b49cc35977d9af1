#include "edge/vision/matrix_grid.hpp"

#include <random>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "tools/vision-gen/scene.hpp"

namespace shopeasy::edge::vision {
namespace {

using vision_gen::CodeKind;

// A matrix symbol at 2.2 pixels per module, turned and blurred beyond what zxing-cpp's
// own detector reads, with its true outline.
struct BlurredSymbol {
  cv::Mat gray;
  Quad outline;
};

BlurredSymbol blurred(CodeKind kind, const std::string& content, double blur) {
  auto sym = vision_gen::encode(kind, content);
  EXPECT_TRUE(sym.ok());
  vision_gen::SceneParams p;
  p.scene = cv::Size(240, 240);
  p.px_per_module = 2.2;
  p.rotation_deg = 33;
  p.blur_sigma = blur;
  p.noise_sigma = 2;
  std::mt19937 rng(7);
  vision_gen::SceneTruth truth;
  const cv::Mat bgr = vision_gen::render_scene(*sym, p, rng, &truth);
  BlurredSymbol out;
  cv::cvtColor(bgr, out.gray, cv::COLOR_BGR2GRAY);
  out.outline = clockwise_from_top_left({truth.corners.begin(), truth.corners.end()});
  return out;
}

TEST(MatrixGridTest, ReadsABlurredDataMatrixThatZxingAloneCannot) {
  const BlurredSymbol s = blurred(CodeKind::kDataMatrix, "09506000134352", 1.2);
  ZxingReadOptions o;
  o.formats = kZxDataMatrix;
  auto alone = zxing_read_one(s.gray, o);
  ASSERT_TRUE(alone.ok());
  EXPECT_FALSE(alone->has_value());

  GridReadStats stats;
  auto r = read_matrix_grid(s.gray, s.outline, MatrixKind::kDataMatrix, &stats);
  ASSERT_TRUE(r.has_value()) << "reads tried: " << stats.reads;
  EXPECT_EQ(r->format, "DataMatrix");
  EXPECT_EQ(r->text, "09506000134352");
  EXPECT_EQ(stats.library_errors, 0);
}

TEST(MatrixGridTest, ReadsABlurredQrCodeFromAnOutlineOffByAModule) {
  const std::string url = "https://id.gs1.org/01/09506000134352";
  BlurredSymbol s = blurred(CodeKind::kQr, url, 1.0);
  // The outline as a threshold would find it: a corner pulled in by two pixels.
  s.outline[2] += (s.outline[0] - s.outline[2]) *
                  (2.0f / static_cast<float>(cv::norm(s.outline[0] - s.outline[2])));
  auto r = read_matrix_grid(s.gray, s.outline, MatrixKind::kQr);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->format, "QRCode");
  EXPECT_EQ(r->text, url);
}

TEST(MatrixGridTest, FindsTheSizeAndOutlineOfAClearSymbol) {
  const BlurredSymbol s = blurred(CodeKind::kDataMatrix, "BIN-07-112", 0.0);
  const auto outlines = matrix_outlines(s.gray);
  ASSERT_FALSE(outlines.empty());
  const auto grids = sample_matrix_grids(s.gray, outlines.front(), MatrixKind::kDataMatrix, 1);
  ASSERT_EQ(grids.size(), 1u);
  auto sym = vision_gen::encode(CodeKind::kDataMatrix, "BIN-07-112");
  EXPECT_EQ(grids.front().n, sym->modules.rows);
  for (std::size_t k = 0; k < 4; ++k) {
    EXPECT_LT(cv::norm(grids.front().outline[k] - s.outline[k]), 2.5) << "corner " << k;
  }
  // On a clear symbol the first decision is already every module right.
  const auto decisions = matrix_decisions(grids.front());
  int wrong = 0;
  for (int y = 0; y < sym->modules.rows; ++y) {
    for (int x = 0; x < sym->modules.cols; ++x) {
      wrong += decisions.front()[static_cast<std::size_t>(y * sym->modules.cols + x)] !=
               (sym->modules.at<std::uint8_t>(y, x) == 1);
    }
  }
  EXPECT_EQ(wrong, 0);
}

TEST(MatrixGridTest, NoiseAndFlatPatchesDecodeToNothing) {
  cv::Mat noise(120, 120, CV_8UC1);
  cv::RNG rng(3);
  rng.fill(noise, cv::RNG::UNIFORM, 0, 256);
  const Quad q = {cv::Point2f(20, 20), cv::Point2f(100, 20), cv::Point2f(100, 100),
                  cv::Point2f(20, 100)};
  for (MatrixKind kind : {MatrixKind::kDataMatrix, MatrixKind::kQr}) {
    EXPECT_FALSE(read_matrix_grid(noise, q, kind).has_value());
    EXPECT_FALSE(read_matrix_grid(cv::Mat(120, 120, CV_8UC1, cv::Scalar(128)), q, kind));
  }
  // Wrong image types and degenerate outlines are refused, not read.
  EXPECT_FALSE(read_matrix_grid(cv::Mat(), q, MatrixKind::kQr));
  EXPECT_FALSE(read_matrix_grid(cv::Mat(120, 120, CV_8UC3), q, MatrixKind::kQr));
  const Quad point = {cv::Point2f(5, 5), cv::Point2f(5, 5), cv::Point2f(5, 5), cv::Point2f(5, 5)};
  EXPECT_FALSE(read_matrix_grid(noise, point, MatrixKind::kDataMatrix));
}

}  // namespace
}  // namespace shopeasy::edge::vision
