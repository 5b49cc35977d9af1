// Shelf scans without an empty reference: the panel cue, the learned empty looks
// (SlotMemory), and their keeping across restarts, re-aimed cameras and planogram
// changes.
#include <filesystem>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "edge/vision/shelf_scanner.hpp"
#include "edge/vision/slot_memory.hpp"
#include "edge/vision/test_support.hpp"
#include "tests/harness/temp_dir.hpp"

namespace shopeasy::edge::vision {
namespace {

using vision_gen::CameraView;

SlotMemory small_memory(const std::string& fingerprint = "fp-1") {
  cv::Mat full(20, 40, CV_32FC3, cv::Scalar(100, 120, 140));
  cv::Mat tex(20, 40, CV_32F, cv::Scalar(0));
  SlotMemoryOptions o;
  o.reaim_frames = 3;
  o.reaim_share = 0.02;
  return SlotMemory(cv::Size(40, 20), {2, 2}, fingerprint, full, tex, o);
}

// Teaches column c of slot s from a uniform patch of `grey`.
void teach(SlotMemory& m, std::size_t s, std::size_t c, double grey) {
  const cv::Mat bgr(20, 40, CV_32FC3, cv::Scalar(grey, grey, grey));
  const cv::Mat tex(20, 40, CV_32F, cv::Scalar(0));
  const cv::Rect area(static_cast<int>(s * 20 + c * 10), 0, 10, 20);
  m.learn_empty(s, c, area, cv::Mat(area.size(), CV_8UC1, cv::Scalar(255)), bgr, tex);
}

class SlotMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = shopeasy::testing::TempDir::create("slot-memory");
    ASSERT_TRUE(d.ok());
    dir_.emplace(std::move(*d));
  }
  std::string prefix() const { return dir_->file("cam1.shelf").string(); }
  std::optional<shopeasy::testing::TempDir> dir_;
};

TEST_F(SlotMemoryTest, ASlotHasAnEmptyLookWhenHalfItsColumnsDo) {
  SlotMemory m = small_memory();
  EXPECT_EQ(m.slots_with_empty_look(), 0);
  teach(m, 1, 0, 50);
  EXPECT_TRUE(m.column_has_empty_look(1, 0));
  EXPECT_FALSE(m.column_has_empty_look(1, 1));
  EXPECT_EQ(m.slots_with_empty_look(), 1);
  EXPECT_FLOAT_EQ(m.empty_look().at<cv::Vec3f>(5, 25)[0], 50.0f);
  // Later samples are averaged in.
  teach(m, 1, 0, 70);
  EXPECT_EQ(m.empty_samples(1, 0), 2);
  EXPECT_NEAR(m.empty_look().at<cv::Vec3f>(5, 25)[0], 60.0f, 0.01);
  // Out-of-range slots and columns are ignored, not a crash.
  teach(m, 7, 0, 1);
  EXPECT_EQ(m.empty_samples(7, 0), 0);
}

TEST_F(SlotMemoryTest, SavesAndLoadsWhatItLearned) {
  SlotMemory m = small_memory();
  teach(m, 0, 1, 42);
  ASSERT_FALSE(m.note_registration({{0, 0}, {10, 0}, {10, 10}, {0, 10}}, 100));
  ASSERT_TRUE(m.save(prefix()).is_ok());
  SlotMemory again = small_memory();
  ASSERT_TRUE(again.load(prefix()).is_ok());
  EXPECT_EQ(again.empty_samples(0, 1), 1);
  EXPECT_NEAR(again.empty_look().at<cv::Vec3f>(3, 12)[1], 42.0f, 0.5);
  EXPECT_EQ(again.slots_with_empty_look(), 1);
}

TEST_F(SlotMemoryTest, RefusesStateOfAnotherPlanogramOrDamagedFiles) {
  SlotMemory none = small_memory();
  EXPECT_EQ(none.load(prefix()).code(), StatusCode::kNotFound);
  SlotMemory m = small_memory("fp-1");
  teach(m, 0, 0, 42);
  ASSERT_TRUE(m.save(prefix()).is_ok());
  SlotMemory other = small_memory("fp-2");
  const Status st = other.load(prefix());
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.field(), "fingerprint");
  EXPECT_EQ(other.slots_with_empty_look(), 0);
  ASSERT_TRUE(dir_->write_file("cam1.shelf.json", "{not json").is_ok());
  EXPECT_EQ(small_memory().load(prefix()).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(m.save(prefix()).is_ok());
  std::filesystem::remove(prefix() + ".empty.png");
  SlotMemory missing_image = small_memory();
  EXPECT_EQ(missing_image.load(prefix()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(missing_image.slots_with_empty_look(), 0);
}

TEST_F(SlotMemoryTest, AReAimedCameraClearsItAfterSeveralFrames) {
  SlotMemory m = small_memory();
  teach(m, 0, 0, 42);
  const std::vector<cv::Point2f> here = {{0, 0}, {100, 0}, {100, 100}, {0, 100}};
  std::vector<cv::Point2f> moved = here;
  for (auto& p : moved) p.x += 20;  // 20 px of a 141 px diagonal: far past 2%
  std::vector<cv::Point2f> nudged = here;
  for (auto& p : nudged) p.x += 2;  // within 2%
  EXPECT_FALSE(m.note_registration(here, 141));
  EXPECT_FALSE(m.note_registration(nudged, 141));
  EXPECT_FALSE(m.note_registration(moved, 141));
  EXPECT_FALSE(m.note_registration(moved, 141));
  EXPECT_FALSE(m.note_registration(here, 141));  // one good frame starts the count again
  EXPECT_FALSE(m.note_registration(moved, 141));
  EXPECT_FALSE(m.note_registration(moved, 141));
  EXPECT_EQ(m.slots_with_empty_look(), 1);
  EXPECT_TRUE(m.note_registration(moved, 141));
  EXPECT_EQ(m.slots_with_empty_look(), 0);
  EXPECT_EQ(m.resets(), 1u);
  EXPECT_EQ(m.last_reset_reason(), "camera re-aimed");
  // The new aim is the baseline now.
  EXPECT_FALSE(m.note_registration(moved, 141));
}

class ShelfLearningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    shelf_ = testing::small_shelf(42);
    auto plan = parse_planogram(shelf_.planogram);
    ASSERT_TRUE(plan.ok()) << plan.status().to_string();
    plan_ = *plan;
    auto d = shopeasy::testing::TempDir::create("shelf-learning");
    ASSERT_TRUE(d.ok());
    dir_.emplace(std::move(*d));
  }
  std::unique_ptr<ShelfScanner> scanner(const std::string& prefix = {},
                                        std::optional<Planogram> plan = std::nullopt) {
    ShelfScannerOptions o;
    o.state_prefix = prefix;
    o.save_every_ms = 0;
    auto s = ShelfScanner::create_from_images(plan.value_or(plan_), shelf_.full, std::nullopt, o);
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    return s.ok() ? std::move(*s) : nullptr;
  }
  // Slots 0 and 5 empty, the rest full.
  vision_gen::ShelfState state() const {
    vision_gen::ShelfState st = vision_gen::full_state(shelf_.layout);
    std::fill(st.present[0].begin(), st.present[0].end(), false);
    std::fill(st.present[5].begin(), st.present[5].end(), false);
    return st;
  }
  cv::Mat frame(std::uint32_t seed, CameraView view = {}) const {
    std::mt19937 rng(seed);
    view.noise = 2;
    view.gain = 0.85 + 0.03 * (seed % 5);
    return vision_gen::render_shelf(shelf_.layout, state(), view, rng);
  }
  std::string prefix() const { return dir_->file("cam1.shelf").string(); }

  testing::SmallShelf shelf_;
  Planogram plan_;
  std::optional<shopeasy::testing::TempDir> dir_;
};

TEST_F(ShelfLearningTest, FindsEmptySlotsOnTheFirstFrameWithoutAnEmptyReference) {
  auto s = scanner();
  ASSERT_NE(s, nullptr);
  auto scan = s->scan(frame(1), 0);
  ASSERT_TRUE(scan.ok());
  ASSERT_TRUE(scan->registered);
  for (std::size_t i = 0; i < scan->slots.size(); ++i) {
    const bool empty = i == 0 || i == 5;
    EXPECT_EQ(scan->slots[i].state == SlotState::kEmpty, empty)
        << "slot " << i << " " << slot_state_name(scan->slots[i].state) << " fill "
        << scan->slots[i].fill;
  }
  EXPECT_TRUE(scan->learning);
  const nlohmann::json j = to_json(*scan);
  ASSERT_TRUE(j.contains("learning"));
  EXPECT_EQ(j["learning"]["slots"], 8);
}

TEST_F(ShelfLearningTest, LearnsEmptyLooksAndKeepsThemAcrossRestarts) {
  {
    auto s = scanner(prefix());
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->memory()->slots_with_empty_look(), 0);
    for (std::uint32_t f = 0; f < 3; ++f) {
      auto scan = s->scan(frame(10 + f), f * 1000);
      ASSERT_TRUE(scan.ok());
    }
    ASSERT_NE(s->memory(), nullptr);
    EXPECT_GE(s->memory()->slots_with_empty_look(), 2);
    EXPECT_GT(s->memory()->empty_samples(0, 0), 0);
    // A full slot has no empty look.
    EXPECT_EQ(s->memory()->empty_samples(1, 0), 0);
  }
  EXPECT_TRUE(std::filesystem::exists(prefix() + ".json"));
  auto restarted = scanner(prefix());
  ASSERT_NE(restarted, nullptr);
  EXPECT_TRUE(restarted->memory_note().empty()) << restarted->memory_note();
  EXPECT_GE(restarted->memory()->slots_with_empty_look(), 2);
  // Judged against the learned look, the empty slots stay empty.
  auto scan = restarted->scan(frame(20), 5000);
  ASSERT_TRUE(scan.ok());
  EXPECT_EQ(scan->slots[0].state, SlotState::kEmpty);
  EXPECT_EQ(scan->slots[5].state, SlotState::kEmpty);
  EXPECT_EQ(scan->slots[1].state, SlotState::kOk);
  EXPECT_GE(scan->learned_empty_slots, 2);
}

TEST_F(ShelfLearningTest, AChangedPlanogramStartsAfresh) {
  {
    auto s = scanner(prefix());
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(s->scan(frame(30), 0).ok());
    ASSERT_GE(s->memory()->slots_with_empty_look(), 1);
  }
  Planogram changed = plan_;
  changed.slots[3].sku = "SKU-OTHER";
  auto s = scanner(prefix(), changed);
  ASSERT_NE(s, nullptr);
  EXPECT_NE(s->memory_note().find("fingerprint"), std::string::npos) << s->memory_note();
  EXPECT_EQ(s->memory()->slots_with_empty_look(), 0);
  EXPECT_EQ(s->memory()->last_reset_reason(), "planogram changed");
}

TEST_F(ShelfLearningTest, AReAimedCameraClearsTheLearnedLooks) {
  auto s = scanner();
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->scan(frame(40), 0).ok());
  ASSERT_GE(s->memory()->slots_with_empty_look(), 1);
  CameraView aimed;
  aimed.dx = 40;  // 2% of this 1101 px diagonal is 22 px
  aimed.dy = 10;
  std::optional<ShelfScan> last;
  for (std::uint32_t f = 0; f < 3; ++f) {
    auto scan = s->scan(frame(41 + f, aimed), (f + 1) * 1000);
    ASSERT_TRUE(scan.ok());
    ASSERT_TRUE(scan->registered);
    last = *scan;
  }
  EXPECT_EQ(last->learning_resets, 1u);
  EXPECT_EQ(last->learning_reset, "camera re-aimed");
}

TEST_F(ShelfLearningTest, AsksTheLedgerAboutSlotsUnlikeTheirFullLook) {
  auto s = scanner();
  ASSERT_NE(s, nullptr);
  std::vector<std::string> asked;
  auto scan = s->scan(frame(50), 0, [&](const std::string& sku) -> std::optional<std::int64_t> {
    asked.push_back(sku);
    return 0;
  });
  ASSERT_TRUE(scan.ok());
  EXPECT_NE(std::find(asked.begin(), asked.end(), shelf_.layout.slots[0].sku), asked.end());
  EXPECT_EQ(std::find(asked.begin(), asked.end(), shelf_.layout.slots[1].sku), asked.end());
  // At 0 on hand an empty slot is no phantom stock; only empty slots carry on_hand.
  EXPECT_FALSE(scan->slots[0].phantom_stock);
  EXPECT_EQ(scan->slots[0].on_hand, 0);
  EXPECT_FALSE(scan->slots[1].on_hand.has_value());
}

}  // namespace
}  // namespace shopeasy::edge::vision
