// POST /api/scan-frames on the real shopeasy-edge: a handheld's camera frame is read by
// the edge's decoder chain and answered with its codes; a body that is no image, a
// frame above the limits, a wrong content type, no credential and a role that does not
// scan are each refused with a code that says which, and the daemon keeps serving.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "tests/integration/daemon_fixture.hpp"
#include "tools/vision-gen/encoders.hpp"
#include "tools/vision-gen/scene.hpp"

namespace shopeasy::testing {
namespace {

using nlohmann::json;

constexpr const char* kPickerToken = "frames-picker-token";
constexpr const char* kViewerToken = "frames-viewer-token";
constexpr const char* kCodeEan = "4006381333931";

class ScanFramesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("scan-frames");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    auto edge = start_daemon(
        "shopeasy-edge", {"--http.port=0", "--state_dir=" + dir_->file("edge").string(),
                          "--mqtt.enabled=false", "--store.durable=false",
                          "--auth.tokens=" + tokens_json({{"picker-1", "picker", kPickerToken},
                                                          {"viewer-1", "viewer", kViewerToken}})});
    ASSERT_TRUE(edge.ok()) << edge.status().to_string();
    edge_.emplace(std::move(*edge));
  }

  HttpReply post(const std::string& body, const std::string& type,
                 const std::string& token = kPickerToken) {
    std::map<std::string, std::string> headers;
    if (!token.empty()) headers = bearer(token);
    if (!type.empty()) headers["Content-Type"] = type;
    return http_request("127.0.0.1", edge_->http_port, "POST", "/api/scan-frames", body, headers,
                        std::chrono::seconds(30))
        .value_or(HttpReply{});
  }

  static std::string encoded(const cv::Mat& image, const std::string& ext) {
    std::vector<unsigned char> bytes;
    EXPECT_TRUE(cv::imencode(ext, image, bytes));
    return std::string(bytes.begin(), bytes.end());
  }

  static cv::Mat code_frame() {
    std::mt19937 rng(11);
    auto sym = vision_gen::encode(vision_gen::CodeKind::kEan13, kCodeEan);
    EXPECT_TRUE(sym.ok());
    vision_gen::SceneParams p;
    p.scene = cv::Size(640, 480);
    p.px_per_module = 3.0;
    p.noise_sigma = 1.5;
    return vision_gen::render_scene(*sym, p, rng, nullptr);
  }

  static std::string error_code(const HttpReply& r) {
    auto j = json::parse(r.body, nullptr, false);
    if (!j.is_object() || !j.contains("error")) return "<no error body: " + r.body + ">";
    return j["error"].value("code", "") + "/" + j["error"].value("field", "");
  }

  std::optional<TempDir> dir_;
  std::optional<RunningDaemon> edge_;
};

TEST_F(ScanFramesTest, AJpegAndAPngFrameAreReadByTheEdgesDecoder) {
  const cv::Mat frame = code_frame();
  for (const char* ext : {".jpg", ".png"}) {
    auto r = post(encoded(frame, ext), std::string(ext) == ".jpg" ? "image/jpeg" : "image/png");
    ASSERT_EQ(r.status, 200) << ext << " " << r.body;
    const json body = json::parse(r.body);
    ASSERT_EQ(body["codes"].size(), 1u) << r.body;
    EXPECT_EQ(body["codes"][0]["gtin14"], std::string("0") + kCodeEan);
    EXPECT_EQ(body["codes"][0]["symbology"], "ean-13");
    EXPECT_FALSE(body["codes"][0].value("scan_code", "").empty());
    EXPECT_EQ(body["width"], 640);
  }
  // A frame with no code is an empty answer, not an error.
  cv::Mat blank(480, 640, CV_8UC3, cv::Scalar(200, 200, 200));
  auto r = post(encoded(blank, ".jpg"), "image/jpeg");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(json::parse(r.body)["codes"].empty());
}

TEST_F(ScanFramesTest, BadFramesAreRefusedNamingWhatIsWrong) {
  // Not an image, with an image's content type.
  auto r = post("this is not a picture at all, just text", "image/jpeg");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(error_code(r), "invalid_argument/image");
  // An empty body.
  r = post("", "image/png");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(error_code(r), "invalid_argument/image");
  // A JPEG cut in half.
  const std::string jpeg = encoded(code_frame(), ".jpg");
  r = post(jpeg.substr(0, jpeg.size() / 2), "image/jpeg");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(error_code(r), "invalid_argument/image");
  // Not an image type.
  r = post(jpeg, "application/json");
  EXPECT_EQ(r.status, 415) << r.body;
  // Too many pixels: a small PNG of a huge plain image.
  cv::Mat huge(5000, 5000, CV_8UC1, cv::Scalar(255));
  const std::string png = encoded(huge, ".png");
  ASSERT_LT(png.size(), 1u << 20);
  r = post(png, "image/png");
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_EQ(error_code(r).rfind("payload_too_large", 0), 0u) << r.body;
  // Too many bytes: refused before anything is decoded.
  r = post(std::string(2u << 20, 'x'), "image/jpeg");
  EXPECT_EQ(r.status, 413) << r.body;
  // The daemon still reads a good frame afterwards.
  r = post(jpeg, "image/jpeg");
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(ScanFramesTest, OnlySignedInStaffWhoScanMaySendFrames) {
  const std::string jpeg = encoded(code_frame(), ".jpg");
  auto r = post(jpeg, "image/jpeg", "");
  EXPECT_EQ(r.status, 401) << r.body;
  r = post(jpeg, "image/jpeg", "not-a-token");
  EXPECT_EQ(r.status, 401) << r.body;
  r = post(jpeg, "image/jpeg", kViewerToken);
  EXPECT_EQ(r.status, 403) << r.body;
  r = post(jpeg, "image/jpeg", kAdminToken);
  EXPECT_EQ(r.status, 200) << r.body;
  // Refusals are counted by result.
  auto metrics = get(*edge_, "/metrics", bearer());
  ASSERT_TRUE(metrics.has_value());
  EXPECT_NE(metrics->body.find("edge_scan_frames_total{result=\"read\"}"), std::string::npos)
      << metrics->body.substr(0, 2000);
}

}  // namespace
}  // namespace shopeasy::testing
