#include "edge/vision/zxing_reader.hpp"

#include <stdexcept>

#include <gtest/gtest.h>

extern "C" [[noreturn]] void __assert_fail(const char* assertion, const char* file,
                                           unsigned int line, const char* function) noexcept;

namespace shopeasy::edge::vision {
namespace {

TEST(RunContained, AFailedLibraryAssertionDoesNotEndTheProcess) {
  int after = 0;
  const Status s = run_contained([&] {
    __assert_fail("lineCount() == 1", "Result.cpp", 140, "operator==");
    after = 1;  // never reached
  });
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_NE(s.message().find("assertion"), std::string::npos);
  EXPECT_EQ(after, 0);
  // The guard is gone again: a second contained call still works, and nested ones.
  EXPECT_TRUE(run_contained([] {}).is_ok());
  const Status nested = run_contained([] {
    const Status inner = run_contained([] { __assert_fail("x", "f", 1, "g"); });
    if (inner.code() != StatusCode::kInternal) throw std::runtime_error("inner not contained");
  });
  EXPECT_TRUE(nested.is_ok()) << nested.to_string();
}

TEST(RunContained, ExceptionsAreContained) {
  const Status s = run_contained([] { throw std::runtime_error("boom"); });
  EXPECT_EQ(s.code(), StatusCode::kInternal);
}

TEST(ZxingReadOne, RefusesNonGreyImages) {
  EXPECT_FALSE(zxing_read_one(cv::Mat(), ZxingReadOptions{}).ok());
  EXPECT_FALSE(zxing_read_one(cv::Mat(20, 20, CV_8UC3), ZxingReadOptions{}).ok());
  auto none = zxing_read_one(cv::Mat(40, 40, CV_8UC1, cv::Scalar(255)), ZxingReadOptions{});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

}  // namespace
}  // namespace shopeasy::edge::vision
