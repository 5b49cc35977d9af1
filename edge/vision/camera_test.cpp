#include "edge/vision/camera.hpp"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "tests/harness/temp_dir.hpp"

namespace shopeasy::edge::vision {
namespace {

using nlohmann::json;

TEST(CameraConfig, ParsesEachSourceKind) {
  auto cams = parse_cameras(json::parse(R"([
    {"id": "dev", "source": "/dev/video0", "every_s": 30},
    {"id": "idx", "source": "2"},
    {"id": "rtsp", "source": "rtsp://10.0.0.5/stream1"},
    {"id": "snap", "source": "http://10.0.0.6/snapshot.jpg", "trigger": "manual"},
    {"id": "dir", "source": "folder:/srv/uploads", "trigger": "new_file", "planogram": "a.json",
     "stale_after_s": 600}])"));
  ASSERT_TRUE(cams.ok()) << cams.status().to_string();
  ASSERT_EQ(cams->size(), 5u);
  EXPECT_EQ((*cams)[0].kind, SourceKind::kDevice);
  EXPECT_EQ((*cams)[0].every_s, 30);
  EXPECT_EQ((*cams)[1].kind, SourceKind::kDevice);
  EXPECT_EQ((*cams)[2].kind, SourceKind::kStream);
  EXPECT_EQ((*cams)[3].kind, SourceKind::kSnapshot);
  EXPECT_EQ((*cams)[3].trigger, Trigger::kManual);
  EXPECT_EQ((*cams)[4].kind, SourceKind::kFolder);
  EXPECT_EQ((*cams)[4].source, "/srv/uploads");
  EXPECT_EQ((*cams)[4].planogram, "a.json");
}

TEST(CameraConfig, NamesTheBadField) {
  auto field_of = [](const char* text) {
    auto c = parse_cameras(json::parse(text));
    return c.ok() ? std::string("ok") : c.status().field();
  };
  EXPECT_EQ(field_of(R"([{"id": "a", "source": "ftp://x"}])"), "vision.cameras[0].source");
  EXPECT_EQ(field_of(R"([{"id": "a b", "source": "0"}])"), "vision.cameras[0].id");
  EXPECT_EQ(field_of(R"([{"id": "a", "source": "0"}, {"id": "a", "source": "1"}])"),
            "vision.cameras[1].id");
  EXPECT_EQ(field_of(R"([{"id": "a", "source": "0", "every_s": 0}])"), "vision.cameras[0].every_s");
  EXPECT_EQ(field_of(R"([{"id": "a", "source": "0", "trigger": "new_file"}])"),
            "vision.cameras[0].trigger");
  EXPECT_EQ(field_of(R"([{"id": "a", "source": "0", "colour": true}])"),
            "vision.cameras[0].colour");
  EXPECT_EQ(field_of(R"({"id": "a"})"), "vision.cameras");
}

class FolderSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = shopeasy::testing::TempDir::create("vision-folder");
    ASSERT_TRUE(d.ok());
    dir_.emplace(std::move(*d));
  }
  void write_png(const std::string& name, int shade) {
    cv::Mat m(48, 64, CV_8UC3, cv::Scalar(shade, shade, shade));
    ASSERT_TRUE(cv::imwrite(dir_->file(name).string(), m));
  }
  std::optional<shopeasy::testing::TempDir> dir_;
};

TEST_F(FolderSourceTest, PicksUpEachNewFileOnce) {
  FolderSource src(dir_->path().string(), ImageLimits{}, 0);
  auto none = src.grab();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  write_png("a.png", 10);
  auto first = src.grab();
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->origin, "a.png");
  EXPECT_EQ((*first)->image.size(), cv::Size(64, 48));
  auto again = src.grab();
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value()) << "a file is read once";
  write_png("b.png", 20);
  ASSERT_TRUE(dir_->write_file(".hidden.png", "x").is_ok());
  ASSERT_TRUE(dir_->write_file("c.png.part", "x").is_ok());
  auto second = src.grab();
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(second->has_value());
  EXPECT_EQ((*second)->origin, "b.png");
  EXPECT_FALSE(src.grab()->has_value());
}

TEST_F(FolderSourceTest, WaitsForAFileToSettle) {
  FolderSource src(dir_->path().string(), ImageLimits{}, 1);
  write_png("a.png", 10);
  EXPECT_FALSE(src.grab()->has_value()) << "first sighting: maybe still being written";
  auto r = src.grab();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->has_value());
}

TEST_F(FolderSourceTest, ReportsAnUnreadableFileOnceThenGoesOn) {
  FolderSource src(dir_->path().string(), ImageLimits{}, 0);
  ASSERT_TRUE(dir_->write_file("broken.jpg", std::string("\xff\xd8\xff\xe0 garbage")).is_ok());
  auto bad = src.grab();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().field(), "image");
  EXPECT_NE(bad.status().message().find("broken.jpg"), std::string::npos);
  auto next = src.grab();
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->has_value());
}

TEST(FolderSource, AMissingFolderIsUnavailable) {
  FolderSource src("/nonexistent/uploads", ImageLimits{}, 0);
  EXPECT_EQ(src.grab().status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace shopeasy::edge::vision
