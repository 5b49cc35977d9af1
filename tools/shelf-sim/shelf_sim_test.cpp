#include "tools/shelf-sim/shelf_sim.hpp"

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace shopeasy::shelf_sim {
namespace {

TEST(ShelfSimTest, SameSeedSameShelfAndFrames) {
  const Shelf a = make_shelf(11);
  const Shelf b = make_shelf(11);
  ASSERT_EQ(a.slots.size(), b.slots.size());
  ASSERT_FALSE(a.slots.empty());
  cv::theRNG().state = 5;
  std::mt19937 ga(3);
  const cv::Mat fa = render(a, all(a, true), Camera{}, ga);
  cv::theRNG().state = 5;
  std::mt19937 gb(3);
  const cv::Mat fb = render(b, all(b, true), Camera{}, gb);
  ASSERT_EQ(fa.size(), cv::Size(1920, 1080));
  EXPECT_EQ(cv::norm(fa, fb, cv::NORM_INF), 0);
}

TEST(ShelfSimTest, SlotsAreInsideTheImageAndDoNotOverlap) {
  for (std::uint32_t seed = 1; seed < 20; ++seed) {
    const Shelf s = make_shelf(seed);
    const cv::Rect frame(0, 0, s.image.width, s.image.height);
    for (std::size_t i = 0; i < s.slots.size(); ++i) {
      EXPECT_EQ(s.slots[i].rect & frame, s.slots[i].rect);
      EXPECT_GE(s.slots[i].facings, 1);
      for (std::size_t j = i + 1; j < s.slots.size(); ++j) {
        EXPECT_TRUE((s.slots[i].rect & s.slots[j].rect).empty());
      }
    }
  }
}

TEST(ShelfSimTest, AnEmptiedSlotChangesOnlyNearItself) {
  const Shelf s = make_shelf(4);
  auto full = all(s, true);
  auto one_empty = full;
  std::fill(one_empty[0].begin(), one_empty[0].end(), false);
  cv::theRNG().state = 9;
  std::mt19937 g1(1);
  const cv::Mat a = render(s, full, Camera{}, g1);
  cv::theRNG().state = 9;
  std::mt19937 g2(1);
  const cv::Mat b = render(s, one_empty, Camera{}, g2);
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  cv::cvtColor(diff, diff, cv::COLOR_BGR2GRAY);
  cv::Rect near = s.slots[0].rect;
  near.x -= 12;
  near.y -= 12;
  near.width += 24;
  near.height += 24;
  const double inside = cv::mean(diff(near & cv::Rect(0, 0, a.cols, a.rows)))[0];
  cv::Mat outside = diff.clone();
  outside(near & cv::Rect(0, 0, a.cols, a.rows)).setTo(0);
  EXPECT_GT(inside, 10.0);
  EXPECT_LT(cv::mean(outside)[0], 1.0);
}

TEST(ShelfSimTest, PlanogramNamesEverySlot) {
  const Shelf s = make_shelf(2);
  const nlohmann::json p = planogram(s, "cam", "f.jpg", "");
  EXPECT_EQ(p["slots"].size(), s.slots.size());
  EXPECT_EQ(p["registration"], "features");
  EXPECT_FALSE(p["reference"].contains("empty"));
}

}  // namespace
}  // namespace shopeasy::shelf_sim
