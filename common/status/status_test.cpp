#include "common/status/status.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

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

StatusOr<int> number_or(bool fail, int value, int* calls) {
  ++*calls;
  if (fail) return not_found("no number");
  return value;
}

// Declares one variable and assigns an existing one, twice in one function.
StatusOr<int> sum_of_two(bool fail_first, bool fail_second, int* calls, int* reached) {
  SHOPEASY_ASSIGN_OR_RETURN(int a, number_or(fail_first, 2, calls));
  *reached = 1;
  int b = 0;
  SHOPEASY_ASSIGN_OR_RETURN(b, number_or(fail_second, 5, calls));
  *reached = 2;
  return a + b;
}

TEST(StatusOrTest, AssignOrReturnAssignsOrPropagates) {
  int calls = 0;
  int reached = 0;
  StatusOr<int> sum = sum_of_two(false, false, &calls, &reached);
  ASSERT_TRUE(sum.ok()) << sum.status().to_string();
  EXPECT_EQ(*sum, 7);
  EXPECT_EQ(calls, 2);  // each expression evaluated once
  EXPECT_EQ(reached, 2);

  calls = reached = 0;
  StatusOr<int> first = sum_of_two(true, false, &calls, &reached);
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status(), not_found("no number"));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(reached, 0);

  calls = reached = 0;
  StatusOr<int> second = sum_of_two(false, true, &calls, &reached);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(reached, 1);
}

StatusOr<std::unique_ptr<std::string>> owned(bool fail) {
  if (fail) return unavailable("down");
  return std::make_unique<std::string>("milk");
}

// A move-only value, in a function returning a plain Status.
Status take_owned(bool fail, std::string* out) {
  SHOPEASY_ASSIGN_OR_RETURN(auto p, owned(fail));
  *out = *p;
  return Status::ok();
}

TEST(StatusOrTest, AssignOrReturnMovesValuesOut) {
  std::string out;
  EXPECT_TRUE(take_owned(false, &out).is_ok());
  EXPECT_EQ(out, "milk");
  out.clear();
  EXPECT_EQ(take_owned(true, &out).code(), StatusCode::kUnavailable);
  EXPECT_TRUE(out.empty());
}

template <typename A, typename B>
StatusOr<std::size_t> total_size(const A& a, const B& b) {
  if (a.empty() || b.empty()) return invalid_argument("empty part");
  return a.size() + b.size();
}

// The expression may hold top-level commas (template arguments).
StatusOr<std::size_t> sizes(const std::string& a, const std::string& b) {
  SHOPEASY_ASSIGN_OR_RETURN(std::size_t n, total_size<std::string, std::string>(a, b));
  return n * 2;
}

TEST(StatusOrTest, AssignOrReturnTakesExpressionsWithCommas) {
  ASSERT_TRUE(sizes("ab", "c").ok());
  EXPECT_EQ(*sizes("ab", "c"), 6u);
  EXPECT_EQ(sizes("", "c").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shopeasy
