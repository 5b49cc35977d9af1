#include "common/status/status.hpp"

#include <gtest/gtest.h>

namespace shopeasy {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.is_ok());
  EXPECT_EQ(s.to_string(), "ok");
}

TEST(StatusTest, FieldPrefixBuildsPaths) {
  Status s = invalid_argument("must be positive", "qty");
  EXPECT_EQ(s.with_field_prefix("lines[2]").field(), "lines[2].qty");
  Status indexed = invalid_argument("bad", "[0]");
  EXPECT_EQ(indexed.with_field_prefix("lines").field(), "lines[0]");
  EXPECT_EQ(invalid_argument("x").with_field_prefix("order").field(), "order");
  EXPECT_EQ(s.to_string(), "invalid_argument: must be positive (field qty)");
}

TEST(StatusOrTest, HoldsValueOrError) {
  StatusOr<int> good = 7;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  EXPECT_TRUE(good.status().is_ok());
  StatusOr<int> bad = not_found("no such sku");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(bad.value_or(3), 3);
}

Status fails_then_stops(bool fail, int* reached) {
  SHOPEASY_RETURN_IF_ERROR(fail ? unavailable("down") : Status::ok());
  *reached = 1;
  return Status::ok();
}

TEST(StatusTest, ReturnIfErrorPropagates) {
  int reached = 0;
  EXPECT_EQ(fails_then_stops(true, &reached).code(), StatusCode::kUnavailable);
  EXPECT_EQ(reached, 0);
  EXPECT_TRUE(fails_then_stops(false, &reached).is_ok());
  EXPECT_EQ(reached, 1);
}

}  // namespace
}  // namespace shopeasy
