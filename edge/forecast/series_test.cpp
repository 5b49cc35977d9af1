#include "edge/forecast/series.hpp"

#include <sstream>

#include <gtest/gtest.h>

namespace shopeasy::forecast {
namespace {

TEST(Timestamp, ReadsIsoLocalDatesAndUnixSeconds) {
  const std::int64_t day = days_from_civil(2017, 4, 9) * 86400;
  EXPECT_EQ(*parse_timestamp("2017-04-09T13:05:07"), day + 13 * 3600 + 5 * 60 + 7);
  EXPECT_EQ(*parse_timestamp("2017-04-09 13:05"), day + 13 * 3600 + 5 * 60);
  EXPECT_EQ(*parse_timestamp("2017-04-09T13:05:07.250+01:00"), day + 13 * 3600 + 5 * 60 + 7);
  EXPECT_EQ(*parse_timestamp("2017-04-09"), day);
  EXPECT_EQ(*parse_timestamp("1491743107"), 1491743107);
  EXPECT_EQ(format_local_time(day + 13 * 3600), "2017-04-09T13:00:00");
  EXPECT_EQ(format_date(day + 13 * 3600), "2017-04-09");
}

TEST(Timestamp, RefusesWhatIsNotATime) {
  for (const char* bad :
       {"", "yesterday", "2017-13-01", "2017-02-29", "2017-04-09T25:00", "2017-04-09T13:05:07 PST",
        "2017/04/09", "9999-12-31T00:00:00", "1999-12-31", "99999999999"}) {
    const auto t = parse_timestamp(bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(Timestamp, WeeksStartOnMonday) {
  const std::int64_t sunday = days_from_civil(2017, 4, 9) * 86400 + 5 * 3600;
  EXPECT_EQ(week_start(sunday), days_from_civil(2017, 4, 3) * 86400);
  EXPECT_EQ(week_start(days_from_civil(2017, 4, 3) * 86400), days_from_civil(2017, 4, 3) * 86400);
}

TEST(BuildSeries, AddsUpHoursAndMarksCensoredSteps) {
  const std::int64_t wed = days_from_civil(2026, 1, 7) * 86400;  // a Wednesday
  std::vector<Sale> sales = {
      {"b", "", wed + 10 * 3600 + 5, 2, false, ""}, {"a", "", wed + 9 * 3600 + 59, 1, false, ""},
      {"a", "", wed + 9 * 3600 + 1, 1, false, ""},  {"a", "", wed + 11 * 3600, 0, true, ""},
      {"a", "", wed + 3 * 86400, 5, false, ""},  // at the end: left out
  };
  const auto series = build_series(sales, Granularity::kHour, wed + 3 * 86400);
  ASSERT_EQ(series.size(), 2u);
  const Series& a = series[0];
  EXPECT_EQ(a.sku, "a");
  EXPECT_EQ(a.start, days_from_civil(2026, 1, 5) * 86400);
  EXPECT_EQ(a.size(), 5u * 24);
  const std::size_t wed9 = 2 * 24 + 9;
  EXPECT_EQ(a.qty[wed9], 2.0f);
  EXPECT_EQ(a.censored[wed9], 0);
  EXPECT_EQ(a.censored[wed9 + 2], 1);  // stock-out mark
  EXPECT_EQ(a.censored[0], 1);         // before the data begins
  EXPECT_EQ(a.censored[2 * 24 - 1], 1);
  EXPECT_EQ(a.censored[2 * 24], 0);
  EXPECT_EQ(series[1].qty[wed9 + 1], 2.0f);

  // Rows before `from` are left out; the steps before it are censored (no data).
  const auto recent = build_series(sales, Granularity::kHour, wed + 3 * 86400, wed + 10 * 3600);
  ASSERT_EQ(recent.size(), 2u);
  EXPECT_EQ(recent[0].qty[wed9], 0.0f);
  EXPECT_EQ(recent[0].censored[wed9], 1);
  EXPECT_EQ(recent[1].qty[wed9 + 1], 2.0f);

  const auto daily = build_series(sales, Granularity::kDay, wed + 3 * 86400);
  ASSERT_EQ(daily[0].size(), 5u);
  EXPECT_EQ(daily[0].qty[2], 2.0f);
  EXPECT_EQ(daily[0].censored[2], 1);  // the stock-out covers its day
}

TEST(HistoryCsv, CountsBadRowsWithTheirLinesAndKeepsTheRest) {
  std::istringstream in(
      "receipt,qty,ts,sku\n"
      "1,1,2017-04-09T10:00:00,Bread\n"
      "2,x,2017-04-09T10:00:00,Bread\n"
      "3,1,not a time,Bread\n"
      "\n"
      "4,-2,2017-04-09T10:00:00,Bread\n"
      "5,1,2017-04-09T11:00:00\n"
      "6,2,1491732000,\"Coffee, large\"\n");
  const auto h = parse_history_csv(in);
  ASSERT_TRUE(h.ok()) << h.status().to_string();
  EXPECT_EQ(h->granularity, Granularity::kHour);
  EXPECT_EQ(h->rows, 6u);
  ASSERT_EQ(h->sales.size(), 2u);
  EXPECT_EQ(h->sales[1].sku, "Coffee, large");
  EXPECT_EQ(h->bad_row_count, 4u);
  ASSERT_EQ(h->bad_rows.size(), 4u);
  EXPECT_EQ(h->bad_rows[0].line, 3u);
  EXPECT_NE(h->bad_rows[0].reason.find("qty"), std::string::npos);
  EXPECT_EQ(h->bad_rows[1].line, 4u);
  EXPECT_EQ(h->bad_rows[2].line, 6u);
  EXPECT_EQ(h->bad_rows[3].line, 7u);
}

TEST(HistoryCsv, DateColumnMeansDailyData) {
  std::istringstream in("sku,date,qty,member\nmilk,2015-01-02,1,7\nmilk,2015-01-01,2,8\n");
  const auto h = parse_history_csv(in);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->granularity, Granularity::kDay);
  EXPECT_EQ(h->sales.size(), 2u);
}

TEST(HistoryCsv, MissingColumnOrEmptyFileIsAnError) {
  std::istringstream no_qty("sku,ts\nBread,2017-04-09T10:00:00\n");
  const auto a = parse_history_csv(no_qty);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(a.status().message().find("qty"), std::string::npos);
  std::istringstream empty("");
  const auto b = parse_history_csv(empty);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
  const auto c = load_history_csv("/nonexistent/history.csv");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace shopeasy::forecast
