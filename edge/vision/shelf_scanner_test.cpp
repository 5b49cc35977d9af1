#include "edge/vision/shelf_scanner.hpp"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "edge/vision/test_support.hpp"

namespace shopeasy::edge::vision {
namespace {

using vision_gen::CameraView;

class ShelfScannerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    shelf_ = testing::small_shelf(42);
    auto plan = parse_planogram(shelf_.planogram);
    ASSERT_TRUE(plan.ok()) << plan.status().to_string();
    auto s = ShelfScanner::create_from_images(*plan, shelf_.full, shelf_.empty);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    scanner_ = std::move(*s);
    SetUpLow();
    ASSERT_GT(low_, 0u) << "the layout has no slot with 3 facings";
  }

  void SetUpLow() {
    for (std::size_t i = 1; i < shelf_.layout.slots.size(); ++i) {
      if (shelf_.layout.slots[i].facings >= 3) {
        low_ = i;
        return;
      }
    }
  }
  // Slot 0 empty, slot low_ (3+ facings) with one box, the rest full.
  vision_gen::ShelfState mixed_state() const {
    vision_gen::ShelfState st = vision_gen::full_state(shelf_.layout);
    std::fill(st.present[0].begin(), st.present[0].end(), false);
    std::fill(st.present[low_].begin(), st.present[low_].end(), false);
    st.present[low_][1] = true;
    return st;
  }
  void expect_states(const ShelfScan& scan) const {
    ASSERT_EQ(scan.slots.size(), 8u);
    EXPECT_EQ(scan.slots[0].state, SlotState::kEmpty) << scan.slots[0].fill;
    EXPECT_LT(scan.slots[0].fill, 0.1);
    EXPECT_EQ(scan.slots[low_].state, SlotState::kLow) << scan.slots[low_].fill;
    EXPECT_EQ(scan.slots[low_].facings_seen, 1);
    for (std::size_t i = 1; i < 8; ++i) {
      if (i == low_) continue;
      EXPECT_EQ(scan.slots[i].state, SlotState::kOk)
          << "slot " << i << " fill " << scan.slots[i].fill;
    }
  }

  testing::SmallShelf shelf_;
  std::unique_ptr<ShelfScanner> scanner_;
  std::size_t low_ = 0;
};

TEST_F(ShelfScannerTest, SeesEmptyLowAndFullSlots) {
  std::mt19937 rng(1);
  const cv::Mat frame = vision_gen::render_shelf(shelf_.layout, mixed_state(), CameraView{}, rng);
  auto scan = scanner_->scan(frame, 1000);
  ASSERT_TRUE(scan.ok()) << scan.status().to_string();
  ASSERT_TRUE(scan->registered);
  expect_states(*scan);
}

TEST_F(ShelfScannerTest, FollowsAShiftedCameraAndChangedLight) {
  std::mt19937 rng(2);
  CameraView view;
  view.dx = 14;
  view.dy = -9;
  view.rotation_deg = 0.8;
  view.gain = 0.7;
  view.gradient = 0.3;
  view.noise = 3;
  view.jpeg = 85;
  const cv::Mat frame = vision_gen::render_shelf(shelf_.layout, mixed_state(), view, rng);
  auto scan = scanner_->scan(frame, 2000);
  ASSERT_TRUE(scan.ok());
  ASSERT_TRUE(scan->registered) << scan->registration;
  EXPECT_GT(scan->shift_px, 5);
  expect_states(*scan);
  // The slot outline follows the camera move.
  EXPECT_NEAR(scan->slots[0].polygon[0].x, shelf_.layout.slots[0].rect.x + 14, 6);
}

TEST_F(ShelfScannerTest, AsksTheLedgerAboutEmptySlots) {
  std::mt19937 rng(3);
  const cv::Mat frame = vision_gen::render_shelf(shelf_.layout, mixed_state(), CameraView{}, rng);
  std::vector<std::string> asked;
  auto scan = scanner_->scan(frame, 0, [&](const std::string& sku) -> std::optional<std::int64_t> {
    asked.push_back(sku);
    return 12;
  });
  ASSERT_TRUE(scan.ok());
  EXPECT_EQ(asked, std::vector<std::string>{shelf_.layout.slots[0].sku});
  EXPECT_TRUE(scan->slots[0].phantom_stock);
  EXPECT_EQ(scan->slots[0].on_hand, 12);
  EXPECT_FALSE(scan->slots[low_].phantom_stock);
  const nlohmann::json j = to_json(*scan);
  EXPECT_EQ(j["summary"]["empty"], 1);
  EXPECT_EQ(j["summary"]["phantom_stock"], 1);
}

TEST_F(ShelfScannerTest, ReportsAWrongProductWhenItsCodeIsRead) {
  vision_gen::ShelfState st = vision_gen::full_state(shelf_.layout);
  st.intruder[2] = 5;  // slot 2 shows slot 5's product
  std::mt19937 rng(4);
  const cv::Mat frame = vision_gen::render_shelf(shelf_.layout, st, CameraView{}, rng);
  auto scan = scanner_->scan(frame, 0);
  ASSERT_TRUE(scan.ok());
  EXPECT_EQ(scan->slots[2].state, SlotState::kWrongProduct);
  ASSERT_FALSE(scan->slots[2].codes.empty());
  EXPECT_EQ(scan->slots[2].codes[0], shelf_.layout.slots[5].gtin);
}

TEST_F(ShelfScannerTest, AnUnrelatedImageIsNotRegisteredAndRaisesNoAlarm) {
  cv::Mat frame(540, 960, CV_8UC3);
  cv::randu(frame, cv::Scalar::all(0), cv::Scalar::all(255));
  auto scan = scanner_->scan(frame, 0);
  ASSERT_TRUE(scan.ok());
  EXPECT_FALSE(scan->registered);
  for (const SlotResult& s : scan->slots) EXPECT_EQ(s.state, SlotState::kUnknown);
}

TEST_F(ShelfScannerTest, RefusesFramesOfTheWrongSize) {
  auto scan = scanner_->scan(cv::Mat(720, 1280, CV_8UC3, cv::Scalar(0)), 0);
  EXPECT_EQ(scan.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(scan.status().field(), "image");
}

TEST_F(ShelfScannerTest, AnnotatesTheFrame) {
  std::mt19937 rng(5);
  const cv::Mat frame = vision_gen::render_shelf(shelf_.layout, mixed_state(), CameraView{}, rng);
  auto scan = scanner_->scan(frame, 0);
  ASSERT_TRUE(scan.ok());
  const cv::Mat out = scanner_->annotate(frame, *scan);
  ASSERT_EQ(out.size(), frame.size());
  // The empty slot's outline is drawn in red at its top-left corner.
  const cv::Rect r = shelf_.layout.slots[0].rect;
  const cv::Vec3b px = out.at<cv::Vec3b>(r.y + r.height / 2, r.x);
  EXPECT_GT(px[2], 180);
  EXPECT_LT(px[1], 100);
}

TEST(ShelfScanner, RefusesReferencesOfTheWrongSize) {
  testing::SmallShelf shelf = testing::small_shelf(1);
  auto plan = parse_planogram(shelf.planogram);
  ASSERT_TRUE(plan.ok());
  cv::Mat small;
  cv::resize(shelf.full, small, cv::Size(480, 270));
  auto s = ShelfScanner::create_from_images(*plan, small, std::nullopt);
  EXPECT_EQ(s.status().field(), "reference.full");
}

}  // namespace
}  // namespace shopeasy::edge::vision
