#include "edge/vision/vision_service.hpp"

#include <deque>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "common/http/auth.hpp"
#include "edge/vision/test_support.hpp"
#include "tests/harness/http_probe.hpp"
#include "tests/harness/temp_dir.hpp"

namespace shopeasy::edge::vision {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Hands out scripted results; after the script, repeats the last one.
class FakeSource final : public FrameSource {
 public:
  explicit FakeSource(std::deque<StatusOr<std::optional<Frame>>>* script, int* grabs, int* closes)
      : script_(script), grabs_(grabs), closes_(closes) {}
  StatusOr<std::optional<Frame>> grab() override {
    ++*grabs_;
    if (script_->size() > 1) {
      auto r = script_->front();
      script_->pop_front();
      return r;
    }
    return script_->front();
  }
  void close() override { ++*closes_; }

 private:
  std::deque<StatusOr<std::optional<Frame>>>* script_;
  int* grabs_;
  int* closes_;
};

StatusOr<std::optional<Frame>> frame_of(const cv::Mat& m) {
  return std::optional<Frame>(Frame{m, "fake"});
}

class VisionServiceTest : public ::testing::Test {
 protected:
  void open_service(VisionOptions o) {
    o.source_factory = [this](const CameraConfig&) -> StatusOr<std::unique_ptr<FrameSource>> {
      return std::unique_ptr<FrameSource>(
          std::make_unique<FakeSource>(&script_, &grabs_, &closes_));
    };
    auto s = VisionService::open(
        std::move(o), clock_, bus_, [this](const std::string& g) { return catalog_.count(g) > 0; },
        nullptr, [this](const CameraCode& c) { reported_.push_back(c); },
        log::Logger(sink_, log::Level::kDebug, "vision"), metrics_);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    service_ = std::move(*s);
  }
  VisionOptions one_camera() {
    VisionOptions o;
    o.cameras = json::parse(R"([{"id": "c1", "source": "0", "every_s": 1}])");
    return o;
  }
  std::vector<events::Event> events() {
    auto r = bus_.read(0, 1000, 0ms);
    return r.events;
  }
  std::vector<std::string> event_types() {
    std::vector<std::string> out;
    for (const auto& e : events()) out.push_back(e.type);
    return out;
  }
  int count(const std::string& type) {
    const auto t = event_types();
    return static_cast<int>(std::count(t.begin(), t.end(), type));
  }

  FakeClock clock_;
  events::EventBus bus_;
  metrics::Registry metrics_;
  std::shared_ptr<log::MemorySink> sink_ = std::make_shared<log::MemorySink>();
  std::deque<StatusOr<std::optional<Frame>>> script_;
  int grabs_ = 0;
  int closes_ = 0;
  std::set<std::string> catalog_;
  std::vector<CameraCode> reported_;
  std::unique_ptr<VisionService> service_;
};

TEST_F(VisionServiceTest, AFrozenCameraGoesOfflineAndComesBack) {
  const cv::Mat still(120, 160, CV_8UC3, cv::Scalar(90, 90, 90));
  script_.push_back(frame_of(still));
  open_service(one_camera());
  service_->tick();  // first frame: online
  EXPECT_EQ(service_->status()["cameras"][0]["state"], "online");
  for (int i = 0; i < 6; ++i) {
    clock_.advance(10s);  // beyond any backoff so every tick polls
    service_->tick();
  }
  EXPECT_EQ(service_->status()["cameras"][0]["state"], "offline");
  EXPECT_EQ(count("vision.camera_offline"), 1) << "raised once, not per failure";
  EXPECT_NE(service_->status()["cameras"][0]["last_error"].get<std::string>().find("frozen"),
            std::string::npos);
  EXPECT_NE(metrics_.render().find("shopeasy_vision_camera_offline_total{camera=\"c1\"} 1"),
            std::string::npos);
  EXPECT_GT(closes_, 0) << "a failing source is reopened";
  // A moving picture again.
  script_.clear();
  script_.push_back(frame_of(cv::Mat(120, 160, CV_8UC3, cv::Scalar(10, 200, 30))));
  clock_.advance(120s);
  service_->tick();
  EXPECT_EQ(service_->status()["cameras"][0]["state"], "online");
  EXPECT_EQ(count("vision.camera_online"), 1);
}

TEST_F(VisionServiceTest, AnUnreachableCameraIsRetriedWithBackoff) {
  script_.push_back(unavailable("no such device"));
  VisionOptions o = one_camera();
  o.backoff_initial_s = 1;
  o.backoff_max_s = 4;
  open_service(o);
  std::vector<int> grabs_at;
  for (int ms = 0; ms <= 12000; ms += 250) {
    const int before = grabs_;
    service_->tick();
    if (grabs_ > before) grabs_at.push_back(ms);
    clock_.advance(250ms);
  }
  // Retries after 1, 2, 4, 4 s (capped).
  EXPECT_EQ(grabs_at, (std::vector<int>{0, 1000, 3000, 7000, 11000}));
  EXPECT_EQ(count("vision.camera_offline"), 1);
  const auto ev = events();
  const auto off = std::find_if(ev.begin(), ev.end(), [](const events::Event& e) {
    return e.type == "vision.camera_offline";
  });
  ASSERT_NE(off, ev.end());
  EXPECT_EQ(off->seq, 0);
  EXPECT_EQ(off->body["camera"], "c1");
  EXPECT_EQ(off->body["reason"], "no such device");
  EXPECT_EQ(off->body["failures"], 3);
}

TEST_F(VisionServiceTest, UnreadableImagesAreCountedAndTheServiceGoesOn) {
  script_.push_back(invalid_argument("corrupt jpeg image", "image"));
  open_service(one_camera());
  for (int i = 0; i < 4; ++i) {
    service_->tick();
    clock_.advance(10s);
  }
  EXPECT_NE(metrics_.render().find("shopeasy_vision_bad_input_total{kind=\"image\"} 4"),
            std::string::npos);
  EXPECT_EQ(service_->status()["cameras"][0]["state"], "offline");
}

TEST_F(VisionServiceTest, ReportsAProductCodeWhenTwoFramesAgreeAndTheCatalogKnowsIt) {
  catalog_.insert("04006381333931");
  for (std::uint32_t seed = 1; seed <= 4; ++seed) {
    script_.push_back(
        frame_of(testing::code_scene(vision_gen::CodeKind::kEan13, "4006381333931", seed)));
  }
  open_service(one_camera());
  service_->tick();
  EXPECT_TRUE(reported_.empty()) << "one frame is not enough";
  for (int i = 0; i < 3; ++i) {
    clock_.advance(1s);
    service_->tick();
  }
  ASSERT_EQ(reported_.size(), 1u) << "reported once while it stays in view";
  const CameraCode& c = reported_.front();
  EXPECT_EQ(c.camera, "c1");
  EXPECT_EQ(c.source, "camera:c1");
  EXPECT_EQ(c.gtin14, "04006381333931");
  EXPECT_EQ(c.symbology, "ean-13");
  const wire::Scan scan = to_wire_scan(c);
  EXPECT_EQ(scan.code, "4006381333931");
  EXPECT_EQ(scan.scanner_id, "camera:c1");
  EXPECT_FALSE(scan.scan_id.empty());
  EXPECT_LE(scan.scan_id.size(), 64u);
}

TEST_F(VisionServiceTest, CodesOutsideTheCatalogAreNotReported) {
  for (std::uint32_t seed = 1; seed <= 3; ++seed) {
    script_.push_back(
        frame_of(testing::code_scene(vision_gen::CodeKind::kEan13, "4006381333931", seed)));
  }
  open_service(one_camera());
  for (int i = 0; i < 3; ++i) {
    service_->tick();
    clock_.advance(1s);
  }
  EXPECT_TRUE(reported_.empty());
  EXPECT_NE(metrics_.render().find("shopeasy_vision_codes_total{outcome=\"not_in_catalog\"} 1"),
            std::string::npos);
}

TEST_F(VisionServiceTest, RefusesBadCameraConfiguration) {
  VisionOptions o;
  o.cameras = json::parse(R"([{"id": "c1", "source": "smoke-signals"}])");
  auto s = VisionService::open(o, clock_, bus_, nullptr, nullptr, nullptr,
                               log::Logger(sink_, log::Level::kInfo, "v"), metrics_);
  EXPECT_EQ(s.status().field(), "vision.cameras[0].source");
}

// A real folder camera with a planogram, served over HTTP.
class ShelfServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = shopeasy::testing::TempDir::create("vision-service");
    ASSERT_TRUE(d.ok());
    dir_.emplace(std::move(*d));
    shelf_ = testing::small_shelf(42);
    std::filesystem::create_directories(dir_->file("planograms"));
    std::filesystem::create_directories(dir_->file("uploads"));
    ASSERT_TRUE(cv::imwrite(dir_->file("planograms/full.png").string(), shelf_.full));
    ASSERT_TRUE(cv::imwrite(dir_->file("planograms/empty.png").string(), shelf_.empty));
  }
  void write_planogram(const json& j) {
    ASSERT_TRUE(dir_->write_file("planograms/cam1.json", j.dump()).is_ok());
  }
  void open_service() {
    VisionOptions o;
    o.cameras = json::array({{{"id", "cam1"},
                              {"source", "folder:" + dir_->file("uploads").string()},
                              {"trigger", "new_file"},
                              {"planogram", "cam1.json"}}});
    o.planogram_dir = dir_->file("planograms").string();
    o.state_dir = dir_->file("state").string();
    o.folder_settle_polls = 0;
    auto s = VisionService::open(
        o, clock_, bus_, nullptr,
        [](const std::string&) -> std::optional<std::int64_t> { return 7; }, nullptr,
        log::Logger(sink_, log::Level::kInfo, "v"), metrics_);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    service_ = std::move(*s);
  }
  void upload(const std::string& name, const cv::Mat& frame) {
    ASSERT_TRUE(cv::imwrite(dir_->file("uploads/" + name).string(), frame));
  }
  cv::Mat frame_with_first_slot_empty() {
    vision_gen::ShelfState st = vision_gen::full_state(shelf_.layout);
    std::fill(st.present[0].begin(), st.present[0].end(), false);
    std::mt19937 rng(9);
    return vision_gen::render_shelf(shelf_.layout, st, vision_gen::CameraView{}, rng);
  }
  std::vector<std::string> event_types() {
    std::vector<std::string> out;
    for (const auto& e : bus_.read(0, 1000, 0ms).events) out.push_back(e.type);
    return out;
  }

  std::optional<shopeasy::testing::TempDir> dir_;
  testing::SmallShelf shelf_;
  FakeClock clock_;
  events::EventBus bus_;
  metrics::Registry metrics_;
  std::shared_ptr<log::MemorySink> sink_ = std::make_shared<log::MemorySink>();
  std::unique_ptr<VisionService> service_;
};

TEST_F(ShelfServiceTest, ScansUploadedFramesAndRaisesSlotEvents) {
  write_planogram(shelf_.planogram);
  open_service();
  service_->tick();
  EXPECT_FALSE(service_->latest_scan("cam1"));
  upload("f1.png", frame_with_first_slot_empty());
  clock_.advance(1s);
  service_->tick();
  auto scan = service_->latest_scan("cam1");
  ASSERT_TRUE(scan);
  EXPECT_EQ((*scan)["slots"][0]["state"], "empty");
  EXPECT_EQ((*scan)["slots"][0]["phantom_stock"], true);
  const auto types = event_types();
  EXPECT_NE(std::find(types.begin(), types.end(), "vision.shelf_scan"), types.end());
  EXPECT_NE(std::find(types.begin(), types.end(), "vision.slot_empty"), types.end());
  EXPECT_NE(std::find(types.begin(), types.end(), "vision.phantom_stock"), types.end());
  auto jpeg = service_->latest_image("cam1");
  ASSERT_TRUE(jpeg);
  EXPECT_EQ(jpeg->substr(0, 2), "\xff\xd8");
  // Kept across a restart.
  service_->stop();
  service_.reset();
  open_service();
  EXPECT_TRUE(service_->latest_scan("cam1"));
  EXPECT_TRUE(service_->latest_image("cam1"));
}

TEST_F(ShelfServiceTest, WithoutAnEmptyReferenceShowsAndKeepsTheLearnedLooks) {
  json plan = shelf_.planogram;
  plan["reference"].erase("empty");
  write_planogram(plan);
  open_service();
  json st = service_->status()["cameras"][0];
  ASSERT_TRUE(st["planogram"].contains("learning")) << st.dump();
  EXPECT_EQ(st["planogram"]["learning"]["slots_with_empty_look"], 0);
  upload("f1.png", frame_with_first_slot_empty());
  clock_.advance(1s);
  service_->tick();
  auto scan = service_->latest_scan("cam1");
  ASSERT_TRUE(scan);
  EXPECT_EQ((*scan)["slots"][0]["state"], "empty");
  EXPECT_EQ((*scan)["learning"]["slots_with_empty_look"], 1);
  st = service_->status()["cameras"][0];
  EXPECT_EQ(st["planogram"]["learning"]["slots_with_empty_look"], 1);
  EXPECT_EQ(st["planogram"]["learning"]["slots"], 8);
  EXPECT_TRUE(std::filesystem::exists(dir_->file("state/vision/cam1.shelf.json")));
  // Kept across a restart.
  service_->stop();
  service_.reset();
  open_service();
  st = service_->status()["cameras"][0];
  EXPECT_EQ(st["planogram"]["learning"]["slots_with_empty_look"], 1);
  // A changed planogram starts afresh and says so.
  service_->stop();
  service_.reset();
  plan["slots"][2]["sku"] = "SKU-MOVED";
  write_planogram(plan);
  open_service();
  st = service_->status()["cameras"][0];
  EXPECT_EQ(st["planogram"]["learning"]["slots_with_empty_look"], 0);
  EXPECT_EQ(st["planogram"]["learning"]["last_reset"], "planogram changed");
  EXPECT_TRUE(sink_->contains({"shelf_learning_reset", "fingerprint"}));
}

TEST_F(ShelfServiceTest, ABadPlanogramIsReportedAndTheCameraKeepsRunning) {
  json bad = shelf_.planogram;
  bad["slots"][1]["polygon"] = bad["slots"][0]["polygon"];
  write_planogram(bad);
  open_service();
  const json st = service_->status()["cameras"][0];
  EXPECT_EQ(st["planogram"]["ok"], false);
  EXPECT_NE(st["planogram"]["error"].get<std::string>().find("overlaps"), std::string::npos);
  EXPECT_NE(metrics_.render().find("shopeasy_vision_bad_input_total{kind=\"planogram\"} 1"),
            std::string::npos);
  upload("f1.png", frame_with_first_slot_empty());
  service_->tick();
  EXPECT_EQ(service_->status()["cameras"][0]["state"], "online");
}

TEST_F(ShelfServiceTest, AFrameOfTheWrongSizeIsCountedNotScanned) {
  write_planogram(shelf_.planogram);
  open_service();
  upload("small.png", cv::Mat(300, 400, CV_8UC3, cv::Scalar(1, 2, 3)));
  service_->tick();
  EXPECT_FALSE(service_->latest_scan("cam1"));
  EXPECT_NE(metrics_.render().find("shopeasy_vision_bad_input_total{kind=\"frame_size\"} 1"),
            std::string::npos);
}

TEST_F(ShelfServiceTest, ServesScansOverHttpByRole) {
  write_planogram(shelf_.planogram);
  open_service();
  upload("f1.png", frame_with_first_slot_empty());
  service_->tick();
  json tokens = json::array();
  for (const char* role : {"admin", "manager", "picker", "viewer", "customer"}) {
    tokens.push_back({{"name", role}, {"role", role}, {"sha256", http::sha256_hex(role)}});
  }
  auto auth = http::TokenAuthenticator::from_json(
      tokens, {"admin", "manager", "picker", "viewer", "customer"});
  ASSERT_TRUE(auth.ok());
  http::HttpServer server(http::ServerOptions{}, &*auth, log::Logger(sink_, log::Level::kInfo, "h"),
                          metrics_);
  service_->register_routes(server);
  auto port = server.start();
  ASSERT_TRUE(port.ok()) << port.status().to_string();
  auto call = [&](const std::string& method, const std::string& path, const std::string& role) {
    std::map<std::string, std::string> h;
    if (!role.empty()) h["Authorization"] = "Bearer " + role;
    auto r = shopeasy::testing::http_request_checked("127.0.0.1", *port, method, path, "", h);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : shopeasy::testing::HttpReply{};
  };
  auto list = call("GET", "/api/shelf-scans", "viewer");
  EXPECT_EQ(list.status, 200);
  const json body = json::parse(list.body);
  EXPECT_EQ(body["cameras"][0]["id"], "cam1");
  EXPECT_EQ(body["cameras"][0]["latest"]["summary"]["empty"], 1);
  EXPECT_EQ(body["scans"].size(), 1u);
  EXPECT_EQ(call("GET", "/api/shelf-scans?limit=0", "viewer").status, 400);
  EXPECT_EQ(call("GET", "/api/shelf-scans?camera=nope", "viewer").status, 404);
  auto one = call("GET", "/api/shelf-scans/cam1", "picker");
  EXPECT_EQ(one.status, 200);
  EXPECT_EQ(json::parse(one.body)["slots"][0]["state"], "empty");
  auto image = call("GET", "/api/shelf-scans/cam1/image", "manager");
  EXPECT_EQ(image.status, 200);
  EXPECT_EQ(image.headers["content-type"], "image/jpeg");
  EXPECT_EQ(image.body.substr(0, 2), "\xff\xd8");
  EXPECT_EQ(call("GET", "/api/shelf-scans/other/image", "admin").status, 404);
  EXPECT_EQ(call("GET", "/api/shelf-scans", "").status, 401);
  EXPECT_EQ(call("GET", "/api/shelf-scans", "customer").status, 403);
  EXPECT_EQ(call("POST", "/api/shelf-scans/cam1/trigger", "viewer").status, 403);
  EXPECT_EQ(call("POST", "/api/shelf-scans/cam1/trigger", "manager").status, 202);
  EXPECT_EQ(call("POST", "/api/shelf-scans/zzz/trigger", "admin").status, 404);
  server.stop();
}

}  // namespace
}  // namespace shopeasy::edge::vision
