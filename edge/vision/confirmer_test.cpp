#include "edge/vision/confirmer.hpp"

#include <gtest/gtest.h>

namespace shopeasy::edge::vision {
namespace {

using V = std::vector<std::string>;

TEST(CodeConfirmer, NeedsTwoConsecutiveFrames) {
  CodeConfirmer c(3);
  EXPECT_EQ(c.observe({"A"}), V{});
  EXPECT_EQ(c.observe({"A"}), V{"A"});
  EXPECT_EQ(c.observe({"A"}), V{}) << "reported once per appearance";
}

TEST(CodeConfirmer, AFrameBetweenBreaksAgreement) {
  CodeConfirmer c(3);
  EXPECT_EQ(c.observe({"A"}), V{});
  EXPECT_EQ(c.observe({"B"}), V{});
  EXPECT_EQ(c.observe({"A"}), V{});
  EXPECT_EQ(c.observe({"A"}), V{"A"});
}

TEST(CodeConfirmer, ReportsAgainAfterTheCodeWasGone) {
  CodeConfirmer c(2);
  c.observe({"A"});
  EXPECT_EQ(c.observe({"A"}), V{"A"});
  EXPECT_EQ(c.observe({}), V{});
  EXPECT_EQ(c.observe({"A"}), V{}) << "one frame absent is a flicker, not a new appearance";
  c.observe({});
  c.observe({});
  c.observe({"A"});
  EXPECT_EQ(c.observe({"A"}), V{"A"});
}

TEST(CodeConfirmer, DuplicatesInAFrameCountOnceAndResetForgets) {
  CodeConfirmer c(3);
  EXPECT_EQ(c.observe({"A", "A"}), V{});
  c.reset();
  EXPECT_EQ(c.observe({"A"}), V{});
  EXPECT_EQ(c.observe({"A", "B"}), V{"A"});
}

}  // namespace
}  // namespace shopeasy::edge::vision
