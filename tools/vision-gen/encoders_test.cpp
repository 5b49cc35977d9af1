#include "tools/vision-gen/encoders.hpp"

#include <set>

#include <gtest/gtest.h>

#include "tools/vision-gen/render.hpp"

namespace shopeasy::vision_gen {
namespace {

int dark_modules(const Symbol& s) { return cv::countNonZero(s.modules); }

TEST(Encoders, ComputeGs1CheckDigits) {
  EXPECT_EQ(gs1_check_digit("400638133393"), 1);
  EXPECT_EQ(gs1_check_digit("0950600013435"), 2);
  EXPECT_EQ(gs1_check_digit("9638507"), 4);
}

TEST(Encoders, EanAndUpcHaveTheirModuleCounts) {
  auto ean13 = encode(CodeKind::kEan13, "400638133393");
  ASSERT_TRUE(ean13.ok());
  EXPECT_EQ(ean13->modules.cols, 95);
  EXPECT_EQ(ean13->content, "4006381333931");
  auto ean8 = encode(CodeKind::kEan8, "96385074");
  ASSERT_TRUE(ean8.ok());
  EXPECT_EQ(ean8->modules.cols, 67);
  auto upca = encode(CodeKind::kUpcA, "03600029145");
  ASSERT_TRUE(upca.ok());
  EXPECT_EQ(upca->modules.cols, 95);
  EXPECT_EQ(upca->content, "036000291452");
  auto upce = encode(CodeKind::kUpcE, "0425261");
  ASSERT_TRUE(upce.ok());
  EXPECT_EQ(upce->modules.cols, 51);
  EXPECT_EQ(upce->content, "04252614");  // check digit of the expanded 04210000526
  // Start guard 101, and every EAN-13 digit has two bars: 30 bars in all.
  EXPECT_EQ(ean13->modules.at<std::uint8_t>(0, 0), 1);
  EXPECT_EQ(ean13->modules.at<std::uint8_t>(0, 1), 0);
  EXPECT_EQ(ean13->modules.at<std::uint8_t>(0, 2), 1);
  int bars = 0;
  for (int x = 0; x < 95; ++x) {
    if (ean13->modules.at<std::uint8_t>(0, x) &&
        (x == 0 || !ean13->modules.at<std::uint8_t>(0, x - 1)))
      ++bars;
  }
  EXPECT_EQ(bars, 30);
}

TEST(Encoders, Code128SymbolsAreElevenModulesAndEndWithTheStop) {
  auto one = encode(CodeKind::kCode128, "A");
  ASSERT_TRUE(one.ok());
  // Start, one character, checksum: 3 x 11 modules, then the 13-module stop.
  EXPECT_EQ(one->modules.cols, 3 * 11 + 13);
  auto digits = encode(CodeKind::kCode128, "12345678");
  ASSERT_TRUE(digits.ok());
  EXPECT_EQ(digits->modules.cols, (1 + 4 + 1) * 11 + 13) << "set C packs digit pairs";
  auto gs1 = encode(CodeKind::kGs1_128, "(01)09506000134352(10)AB1(17)270101");
  ASSERT_TRUE(gs1.ok());
  EXPECT_EQ(gs1->content, std::string("0109506000134352") + "10AB1\x1d" + "17270101");
  EXPECT_GT(dark_modules(*gs1), 0);
}

TEST(Encoders, RefuseWhatTheSymbologyCannotHold) {
  EXPECT_FALSE(encode(CodeKind::kEan13, "4006381333932").ok()) << "wrong check digit";
  EXPECT_FALSE(encode(CodeKind::kEan13, "40063813339").ok());
  EXPECT_FALSE(encode(CodeKind::kUpcE, "2425261").ok()) << "number system 2";
  EXPECT_FALSE(encode(CodeKind::kCode128, "").ok());
  EXPECT_FALSE(encode(CodeKind::kCode128, "tab\there").ok());
  EXPECT_FALSE(encode(CodeKind::kGs1_128, "0109506000134352").ok());
  EXPECT_EQ(encode(CodeKind::kQr, std::string(601, 'x')).status().field(), "content");
}

TEST(Encoders, RandomContentIsAlwaysEncodable) {
  std::mt19937 rng(5);
  for (CodeKind k : all_code_kinds()) {
    for (int i = 0; i < 50; ++i) {
      const std::string c = random_content(k, rng);
      EXPECT_TRUE(encode(k, c).ok()) << code_kind_name(k) << " " << c;
    }
  }
}

TEST(Render, DrawsQuietZonesAndScales) {
  auto sym = encode(CodeKind::kEan8, "96385074");
  ASSERT_TRUE(sym.ok());
  RenderOptions o;
  o.px_per_module = 2;
  const cv::Mat img = render_symbol(*sym, o);
  EXPECT_EQ(img.cols, (67 + 14) * 2);
  // The quiet zone is light, the first bar dark.
  EXPECT_GT(img.at<std::uint8_t>(img.rows / 2, 3), 200);
  EXPECT_LT(img.at<std::uint8_t>(img.rows / 2, 7 * 2 + 1), 60);
}

}  // namespace
}  // namespace shopeasy::vision_gen
