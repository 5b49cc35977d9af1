#include "edge/vision/camera.hpp"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "common/http/server.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
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

// Whatever answers at a snapshot camera's address cannot make the edge buffer more
// than one allowed image file: an answer past the image size limit is refused while it
// is read, and one within it is decoded.
TEST(SnapshotSource, AnAnswerPastTheImageLimitIsRefusedNotBuffered) {
  cv::Mat gray(64, 64, CV_8UC1, cv::Scalar(200));
  std::vector<unsigned char> png;
  ASSERT_TRUE(cv::imencode(".png", gray, png));
  metrics::Registry metrics;
  http::HttpServer server(http::ServerOptions{}, nullptr, log::Logger(), metrics);
  server.route("GET", "/big.jpg", http::Access::public_route(), [](const http::Request&) {
    return http::Response::text(200, std::string(4u << 20, '\xff'), "image/jpeg");
  });
  const std::string small(png.begin(), png.end());
  server.route("GET", "/small.png", http::Access::public_route(), [small](const http::Request&) {
    return http::Response::text(200, small, "image/png");
  });
  auto port = server.start();
  ASSERT_TRUE(port.ok()) << port.status().to_string();
  ImageLimits limits;
  limits.max_bytes = 256u << 10;
  auto source_for = [&](const std::string& path) {
    CameraConfig c;
    c.id = "snap";
    c.kind = SourceKind::kSnapshot;
    c.source = "http://127.0.0.1:" + std::to_string(*port) + path;
    c.trigger = Trigger::kManual;
    return open_source(c, limits);
  };
  auto big = source_for("/big.jpg");
  ASSERT_TRUE(big.ok()) << big.status().to_string();
  auto refused = (*big)->grab();
  EXPECT_FALSE(refused.ok());
  // Refused by the HTTP client while reading (the image decoder would refuse it too,
  // but only after the whole answer was in memory).
  EXPECT_NE(refused.status().message().find("the answer is larger than 262144 bytes"),
            std::string::npos)
      << refused.status().to_string();
  auto small_source = source_for("/small.png");
  ASSERT_TRUE(small_source.ok());
  auto frame = (*small_source)->grab();
  ASSERT_TRUE(frame.ok()) << frame.status().to_string();
  ASSERT_TRUE(frame->has_value());
  EXPECT_EQ((*frame)->image.cols, 64);
  server.stop();
}

}  // namespace
}  // namespace shopeasy::edge::vision
