// Store cameras on the real shopeasy-edge binary: fixed cameras that upload stills to a
// watched folder. What a store operator would see: shelf scans and their annotated
// image on the API, slot and phantom-stock alerts (with a cycle-count proposal) on the
// event stream, product codes read by a camera going through the scan pipeline, a
// camera that disappears reported offline, and bad uploads and bad camera
// configuration handled without losing the store's daemon.
#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "common/http/auth.hpp"
#include "tests/integration/daemon_fixture.hpp"
#include "tools/vision-gen/encoders.hpp"
#include "tools/vision-gen/scene.hpp"
#include "tools/vision-gen/shelf.hpp"

namespace shopeasy::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kViewerToken = "viewer-token";
constexpr const char* kCodeEan = "4006381333931";
// Generous: a sanitizer build scans a shelf frame in seconds rather than milliseconds.
constexpr auto kSeen = 60s;
// API polls are spaced out: the daemon rate-limits each client.
constexpr auto kPoll = 100ms;

std::string tokens() { return tokens_json({{"viewer-1", "viewer", kViewerToken}}); }

class VisionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("vision-e2e");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    for (const char* d : {"planograms", "shelf", "codes", "spare"}) {
      fs::create_directories(dir_->file(d));
    }
    // A small shelf (2 rows of 4 slots) seen by camera "shelf-1", with its references.
    std::mt19937 rng(7);
    vision_gen::ShelfSpec spec;
    spec.image = cv::Size(960, 540);
    spec.rows = 2;
    spec.slots_per_row = 4;
    layout_ = vision_gen::make_shelf_layout(spec, rng);
    const vision_gen::CameraView identity;
    ASSERT_TRUE(cv::imwrite(
        dir_->file("planograms/full.png").string(),
        vision_gen::render_shelf(layout_, vision_gen::full_state(layout_), identity, rng)));
    ASSERT_TRUE(cv::imwrite(
        dir_->file("planograms/empty.png").string(),
        vision_gen::render_shelf(layout_, vision_gen::empty_state(layout_), identity, rng)));
    ASSERT_TRUE(
        dir_->write_file(
                "planograms/shelf-1.json",
                vision_gen::shelf_planogram(layout_, "shelf-1", "full.png", "empty.png").dump())
            .is_ok());
  }

  json cameras() const {
    return json::array({{{"id", "shelf-1"},
                         {"source", "folder:" + dir_->file("shelf").string()},
                         {"trigger", "new_file"},
                         {"every_s", 0.2},
                         {"planogram", "shelf-1.json"},
                         {"decode", false}},
                        {{"id", "codes"},
                         {"source", "folder:" + dir_->file("codes").string()},
                         {"trigger", "new_file"},
                         {"every_s", 0.2}},
                        {{"id", "spare"},
                         {"source", "folder:" + dir_->file("spare").string()},
                         {"trigger", "new_file"},
                         {"every_s", 0.2},
                         {"decode", true}}});
  }

  void start_edge(const json& cams) {
    auto edge = start_daemon(
        "shopeasy-edge",
        {"--http.port=0", "--state_dir=" + dir_->file("edge").string(), "--mqtt.enabled=false",
         "--auth.tokens=" + tokens(), "--store.id=vision-store", "--store.durable=false",
         "--vision.cameras=" + cams.dump(),
         "--vision.planogram_dir=" + dir_->file("planograms").string(),
         "--vision.offline_after_failures=1", "--vision.backoff_max_s=1"});
    ASSERT_TRUE(edge.ok()) << edge.status().to_string();
    edge_.emplace(std::move(*edge));
  }

  HttpReply call(const std::string& method, const std::string& path, const std::string& body = "",
                 const std::string& token = kAdminToken, const std::string& type = "") {
    std::map<std::string, std::string> headers;
    if (!token.empty()) headers = bearer(token);
    if (!type.empty()) headers["Content-Type"] = type;
    auto r = http_request("127.0.0.1", edge_->http_port, method, path, body, headers);
    EXPECT_TRUE(r.has_value()) << method << " " << path;
    return r.value_or(HttpReply{});
  }

  // The catalog: every product on the shelf, plus one more whose code a camera reads.
  void load_catalog() {
    ASSERT_EQ(call("POST", "/api/bins", R"({"bins":[{"code":"S-01","walk_order":1}]})", kAdminToken,
                   "application/json")
                  .status,
              200);
    std::string csv = "sku,name,category,price_cents,barcodes,home_bin,reorder_point\n";
    for (const auto& s : layout_.slots) {
      csv += s.sku + ",Product " + s.sku + ",grocery,1000," + s.gtin + ",S-01,0\n";
    }
    csv += std::string("MILK-1L,Milk 1 L,dairy,6500,") + kCodeEan + ",S-01,0\n";
    auto imported = call("POST", "/api/catalog", csv, kAdminToken, "text/csv");
    ASSERT_EQ(imported.status, 200) << imported.body;
  }

  void receive(const std::string& code, int qty) {
    auto r = call("POST", "/api/scans",
                  json{{"scan_id", "recv-" + code},
                       {"scanner_id", "h1"},
                       {"code", code},
                       {"action", "receive"},
                       {"qty", qty}}
                      .dump(),
                  kAdminToken, "application/json");
    ASSERT_EQ(r.status, 200) << r.body;
  }

  // Written under a hidden name and renamed, as an uploading camera would, so the
  // folder watcher never sees half a file.
  void upload(const std::string& folder, const std::string& name, const cv::Mat& image) {
    const fs::path tmp = dir_->file(folder + "/." + name);
    ASSERT_TRUE(cv::imwrite(tmp.string() + ".png", image));
    fs::rename(tmp.string() + ".png", dir_->file(folder + "/" + name));
  }
  void upload_bytes(const std::string& folder, const std::string& name, const std::string& bytes) {
    ASSERT_TRUE(dir_->write_file(folder + "/." + name, bytes).is_ok());
    fs::rename(dir_->file(folder + "/." + name), dir_->file(folder + "/" + name));
  }

  cv::Mat shelf_with_first_slot_empty(std::uint32_t seed) {
    vision_gen::ShelfState st = vision_gen::full_state(layout_);
    std::fill(st.present[0].begin(), st.present[0].end(), false);
    std::mt19937 rng(seed);
    return vision_gen::render_shelf(layout_, st, vision_gen::random_view(rng, 8, 0.5), rng);
  }

  cv::Mat code_frame(std::uint32_t seed) {
    std::mt19937 rng(seed);
    auto sym = vision_gen::encode(vision_gen::CodeKind::kEan13, kCodeEan);
    EXPECT_TRUE(sym.ok());
    vision_gen::SceneParams p;
    p.scene = cv::Size(640, 480);
    p.px_per_module = 3.0;
    p.noise_sigma = 1.5;
    return vision_gen::render_scene(*sym, p, rng, nullptr);
  }

  // The live event stream of vision events, open before anything is uploaded.
  ChildProcess open_stream() {
    auto s = ChildProcess::spawn({.argv = {"curl", "-sN", "--max-time", "120", "-H",
                                           std::string("Authorization: Bearer ") + kViewerToken,
                                           "http://127.0.0.1:" + std::to_string(edge_->http_port) +
                                               "/api/events?types=vision"}});
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    EXPECT_TRUE(s->wait_for_output("shopeasy edge events", 10s)) << s->describe();
    return std::move(*s);
  }

  json shelf_scans(const std::string& query = "") {
    auto r = call("GET", "/api/shelf-scans" + query, "", kViewerToken);
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body, nullptr, false);
  }
  json camera_status(const std::string& id) {
    const json all = shelf_scans();
    for (const json& c : all["cameras"]) {
      if (c.value("id", "") == id) return c;
    }
    return json();
  }

  std::optional<TempDir> dir_;
  vision_gen::ShelfLayout layout_;
  std::optional<RunningDaemon> edge_;
};

TEST_F(VisionTest, ShelfScansPhantomStockAndCameraCodesReachTheApiAndTheEventStream) {
  start_edge(cameras());
  load_catalog();
  // The ledger says the first slot's product is on hand.
  const std::string first_sku = layout_.slots[0].sku;
  receive(layout_.slots[0].gtin, 12);
  ChildProcess stream = open_stream();

  // Nothing scanned yet: the cameras are listed, no scans.
  json before = shelf_scans();
  ASSERT_EQ(before["cameras"].size(), 3u) << before.dump();
  EXPECT_TRUE(before["scans"].empty());
  EXPECT_EQ(call("GET", "/api/shelf-scans/shelf-1/image", "", kViewerToken).status, 404);

  // The shelf camera uploads a frame (moved a little, other light) with slot 1 empty.
  upload("shelf", "0001.png", shelf_with_first_slot_empty(11));
  ASSERT_TRUE(wait_for([&] { return !shelf_scans()["scans"].empty(); }, kSeen, kPoll))
      << edge_->process.describe();
  const json scans = shelf_scans("?camera=shelf-1");
  const json& scan = scans["scans"][0];
  EXPECT_EQ(scan["camera"], "shelf-1");
  EXPECT_EQ(scan["registered"], true);
  ASSERT_EQ(scan["slots"].size(), layout_.slots.size());
  const json& slot = scan["slots"][0];
  EXPECT_EQ(slot["sku"], first_sku);
  EXPECT_EQ(slot["state"], "empty");
  EXPECT_EQ(slot["phantom_stock"], true);
  EXPECT_EQ(slot["on_hand"], 12);
  EXPECT_EQ(scan["summary"]["empty"], 1) << scan.dump();
  EXPECT_EQ(scan["summary"]["phantom_stock"], 1);
  EXPECT_EQ(camera_status("shelf-1")["state"], "online");

  // Alerts on the stream: the empty slot, and phantom stock proposing a cycle count.
  EXPECT_TRUE(stream.wait_for_output("event: vision.slot_empty", 10s)) << stream.describe();
  EXPECT_TRUE(stream.wait_for_output("event: vision.phantom_stock", 10s)) << stream.describe();
  EXPECT_TRUE(stream.wait_for_output(
      R"("proposal":{"action":"cycle_count","skus":[")" + first_sku + R"("]})", 10s))
      << stream.describe();

  // The annotated image of the latest scan, for viewers and up.
  auto image = call("GET", "/api/shelf-scans/shelf-1/image", "", kViewerToken);
  EXPECT_EQ(image.status, 200);
  EXPECT_EQ(image.headers["content-type"], "image/jpeg");
  EXPECT_EQ(image.body.substr(0, 2), "\xff\xd8");
  EXPECT_FALSE(
      cv::imdecode(std::vector<uchar>(image.body.begin(), image.body.end()), cv::IMREAD_COLOR)
          .empty());
  EXPECT_EQ(call("GET", "/api/shelf-scans/shelf-1", "", "").status, 401);
  EXPECT_EQ(call("GET", "/api/shelf-scans/shelf-1", "", kViewerToken).status, 200);

  // A product code in front of the other camera: two frames agree, the catalog knows
  // it, so it goes through the scan pipeline as the camera.
  upload("codes", "a.png", code_frame(1));
  upload("codes", "b.png", code_frame(2));
  EXPECT_TRUE(stream.wait_for_output("event: vision.product_seen", kSeen)) << stream.describe();
  EXPECT_TRUE(stream.wait_for_output(R"("sku":"MILK-1L")", 10s)) << stream.describe();
  EXPECT_TRUE(stream.wait_for_output(R"("camera":"codes")", 10s));

  // A corrupt upload is counted and the camera goes on with the next file.
  upload_bytes("shelf", "0002.jpg", std::string("\xff\xd8\xff\xe0 not really a jpeg"));
  upload("shelf", "0003.png", shelf_with_first_slot_empty(12));
  ASSERT_TRUE(
      wait_for([&] { return shelf_scans("?camera=shelf-1")["scans"].size() >= 2; }, kSeen, kPoll))
      << edge_->process.describe();
  auto metrics = call("GET", "/metrics");
  EXPECT_NE(metrics.body.find("shopeasy_vision_bad_input_total{kind=\"image\"}"),
            std::string::npos);

  // A camera whose folder disappears is reported offline, and the daemon carries on.
  fs::remove_all(dir_->file("spare"));
  EXPECT_TRUE(stream.wait_for_output("event: vision.camera_offline", kSeen)) << stream.describe();
  EXPECT_TRUE(wait_for([&] { return camera_status("spare")["state"] == "offline"; }, 10s, kPoll));
  EXPECT_EQ(call("GET", "/health", "", "").status, 200);
  EXPECT_TRUE(edge_->process.is_running());
  record_stream(edge_->http_port, "/api/events?types=vision", stream.stdout_text());
}

TEST_F(VisionTest, ABadCameraConfigurationStopsStartUpNamingTheKey) {
  json bad = cameras();
  bad[1]["source"] = "smoke-signals";
  auto edge =
      ChildProcess::spawn({.argv = {binary_path("shopeasy-edge"), "--http.port=0",
                                    "--state_dir=" + dir_->file("edge").string(),
                                    "--mqtt.enabled=false", "--vision.cameras=" + bad.dump()}});
  ASSERT_TRUE(edge.ok());
  const auto code = edge->wait_exit(20s);
  ASSERT_TRUE(code.has_value()) << edge->describe();
  EXPECT_EQ(*code, 2);
  EXPECT_NE(edge->stderr_text().find("vision.cameras"), std::string::npos) << edge->describe();
  EXPECT_NE(edge->stderr_text().find("[1].source"), std::string::npos) << edge->describe();

  bad = cameras();
  bad[0]["every_s"] = -1;
  auto check = ChildProcess::spawn(
      {.argv = {binary_path("shopeasy-edge"), "--check-config", "--vision.cameras=" + bad.dump()}});
  ASSERT_TRUE(check.ok());
  EXPECT_EQ(check->wait_exit(20s), std::optional<int>(2)) << check->describe();
  EXPECT_NE(check->stderr_text().find("[0].every_s"), std::string::npos) << check->describe();
}

TEST_F(VisionTest, AMissingPlanogramOrCameraFolderNeverStopsTheDaemon) {
  json cams = cameras();
  cams[0]["planogram"] = "no-such-planogram.json";
  cams[1]["source"] = "folder:" + dir_->file("never-created").string();
  start_edge(cams);
  ASSERT_TRUE(wait_for([&] { return camera_status("codes")["state"] == "offline"; }, kSeen, kPoll))
      << edge_->process.describe();
  const json shelf = camera_status("shelf-1");
  EXPECT_EQ(shelf["planogram"]["ok"], false) << shelf.dump();
  EXPECT_NE(shelf["planogram"].value("error", "").find("no-such-planogram.json"), std::string::npos)
      << shelf.dump();
  EXPECT_EQ(call("GET", "/health", "", "").status, 200);
  EXPECT_TRUE(edge_->process.is_running());
}

}  // namespace
}  // namespace shopeasy::testing
