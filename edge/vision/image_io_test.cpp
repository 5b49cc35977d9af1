#include "edge/vision/image_io.hpp"

#include <random>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

namespace shopeasy::edge::vision {
namespace {

std::string encoded(const cv::Mat& m, const char* ext) {
  std::vector<std::uint8_t> buf;
  EXPECT_TRUE(cv::imencode(ext, m, buf));
  return std::string(buf.begin(), buf.end());
}

cv::Mat gradient(int w, int h) {
  cv::Mat m(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      m.at<cv::Vec3b>(y, x) =
          cv::Vec3b(static_cast<std::uint8_t>(x), static_cast<std::uint8_t>(y), 90);
    }
  }
  return m;
}

TEST(ImageIo, SniffsFormatsAndSizesFromHeaders) {
  const cv::Mat img = gradient(40, 30);
  for (const char* ext : {".png", ".jpg", ".bmp", ".ppm"}) {
    auto info = sniff_image(encoded(img, ext));
    ASSERT_TRUE(info.ok()) << ext << ": " << info.status().to_string();
    EXPECT_EQ(info->width, 40) << ext;
    EXPECT_EQ(info->height, 30) << ext;
  }
}

TEST(ImageIo, DecodesValidImagesToBgr) {
  auto img = decode_image(encoded(gradient(64, 48), ".png"), ImageLimits{});
  ASSERT_TRUE(img.ok()) << img.status().to_string();
  EXPECT_EQ(img->type(), CV_8UC3);
  EXPECT_EQ(img->size(), cv::Size(64, 48));
}

TEST(ImageIo, RefusesWrongFormatsWithAClearError) {
  auto gif = decode_image("GIF89a\x01\x00\x01\x00", ImageLimits{});
  EXPECT_EQ(gif.status().code(), StatusCode::kUnsupportedMediaType);
  EXPECT_NE(gif.status().message().find("png, jpeg"), std::string::npos);
  EXPECT_EQ(decode_image("", ImageLimits{}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(decode_image("hello world", ImageLimits{}).status().code(),
            StatusCode::kUnsupportedMediaType);
}

TEST(ImageIo, RefusesTruncatedFiles) {
  const std::string png = encoded(gradient(64, 48), ".png");
  const std::string jpg = encoded(gradient(64, 48), ".jpg");
  for (std::size_t cut : {8u, 20u, 40u, 100u}) {
    EXPECT_FALSE(decode_image(png.substr(0, cut), ImageLimits{}).ok()) << "png cut at " << cut;
  }
  auto half = decode_image(jpg.substr(0, jpg.size() / 2), ImageLimits{});
  EXPECT_FALSE(half.ok());
  EXPECT_NE(half.status().message().find("truncated"), std::string::npos);
  EXPECT_FALSE(decode_image(png.substr(0, png.size() - 12), ImageLimits{}).ok());
}

TEST(ImageIo, RefusesHugeAndTinyImagesBeforeDecoding) {
  // A PNG header claiming 100000 x 100000 pixels, with no data behind it.
  std::string png = encoded(gradient(20, 20), ".png");
  png[16] = 0;
  png[17] = 1;
  png[18] = static_cast<char>(0x86);
  png[19] = static_cast<char>(0xa0);
  png[20] = 0;
  png[21] = 1;
  png[22] = static_cast<char>(0x86);
  png[23] = static_cast<char>(0xa0);
  auto huge = decode_image(png, ImageLimits{});
  EXPECT_EQ(huge.status().code(), StatusCode::kPayloadTooLarge);
  auto tiny = decode_image(encoded(gradient(4, 4), ".png"), ImageLimits{});
  EXPECT_EQ(tiny.status().code(), StatusCode::kInvalidArgument);
  ImageLimits small_files;
  small_files.max_bytes = 100;
  EXPECT_EQ(decode_image(encoded(gradient(64, 64), ".bmp"), small_files).status().code(),
            StatusCode::kPayloadTooLarge);
}

TEST(ImageIo, PnmSizesAreReadAsOpenCvReadsThem) {
  // A comment ended by CR: OpenCV reads 99999 x 99999 here, so must the size check.
  const std::string crafted =
      std::string("P5 #\r99999 99999\n10 10\n255\n") + std::string(100, 'x');
  auto info = sniff_image(crafted);
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(info->width, 99999);
  EXPECT_EQ(decode_image(crafted, ImageLimits{}).status().code(), StatusCode::kPayloadTooLarge);
  // Form feed and vertical tab are white space to OpenCV too.
  auto spaced = sniff_image(std::string("P5\f40\v30\n255\n") + std::string(1200, 'x'));
  ASSERT_TRUE(spaced.ok()) << spaced.status().to_string();
  EXPECT_EQ(spaced->width, 40);
  EXPECT_EQ(spaced->height, 30);
  // Past INT_MAX, and stray characters, are errors rather than a guess.
  EXPECT_FALSE(sniff_image("P5 99999999999 10\n255\n").ok());
  EXPECT_FALSE(sniff_image("P5 x10 10\n255\n").ok());
}

TEST(ImageIo, ChecksFrames) {
  EXPECT_FALSE(check_frame(cv::Mat(), ImageLimits{}).is_ok());
  EXPECT_FALSE(check_frame(cv::Mat(1, 1, CV_8UC3), ImageLimits{}).is_ok());
  EXPECT_FALSE(check_frame(cv::Mat(100, 100, CV_32FC1), ImageLimits{}).is_ok());
  EXPECT_TRUE(check_frame(cv::Mat(100, 100, CV_8UC1, cv::Scalar(0)), ImageLimits{}).is_ok());
}

TEST(ImageIo, CorruptBytesNeverCrash) {
  std::mt19937 rng(7);
  const std::string png = encoded(gradient(64, 48), ".png");
  const std::string jpg = encoded(gradient(64, 48), ".jpg");
  int refused = 0;
  for (int i = 0; i < 300; ++i) {
    std::string b = i % 2 ? png : jpg;
    const int flips = 1 + static_cast<int>(rng() % 20);
    for (int k = 0; k < flips; ++k) b[rng() % b.size()] = static_cast<char>(rng());
    if (i % 3 == 0) b.resize(rng() % b.size());
    auto img = decode_image(b, ImageLimits{});
    if (!img.ok()) ++refused;
    if (img.ok()) {
      EXPECT_EQ(img->type(), CV_8UC3);
    }
  }
  EXPECT_GT(refused, 0);
}

TEST(ImageIo, ReadsFilesAndReportsMissingOnes) {
  EXPECT_EQ(read_image_file("/nonexistent/x.png", ImageLimits{}).status().code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace shopeasy::edge::vision
