// Demand series: what a SKU sold per step (an hour or a day) in store-local time, and
// which steps are censored. A censored step is one in which the SKU had nothing
// sellable for some of the time (it sold out, or the data does not cover it): its
// sales are a lower bound of demand, not demand, so forecasting must not read them as
// low demand. Times are store-local civil time counted in seconds as if it were UTC
// ("local seconds"), so weeks and hours of the day are plain arithmetic.
#pragma once

#include <climits>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include "common/status/status.hpp"

namespace shopeasy::forecast {

enum class Granularity { kHour, kDay };
std::string_view granularity_name(Granularity g);

// The step and its seasonal period: an hour with the hour of the week (168), or a day
// with the day of the week (7).
struct Calendar {
  std::int64_t step_seconds = 3600;
  int period = 168;  // steps per week
  int steps_per_day = 24;
};
Calendar calendar_for(Granularity g);

// Days since 1970-01-01 of a civil date (proleptic Gregorian).
std::int64_t days_from_civil(int year, int month, int day);
// Local seconds of the Monday 00:00 that starts the week holding `local_seconds`.
std::int64_t week_start(std::int64_t local_seconds);
// "2017-04-09T13:00:00" and "2017-04-09".
std::string format_local_time(std::int64_t local_seconds);
std::string format_date(std::int64_t local_seconds);
// Times outside 2000-01-01..2099-12-31 are refused (a typo'd year would otherwise span
// centuries of hours). ISO 8601 local time ("2017-04-09T13:05:00", a space for the T, seconds
// optional, a trailing Z or +hh:mm offset accepted and the written time kept as the local time), a
// date alone, or Unix seconds (all digits, read as UTC).
StatusOr<std::int64_t> parse_timestamp(std::string_view text);

struct Series {
  std::string sku;
  std::string group;                   // pooling group (category); empty: the store-wide pool
  std::int64_t start = 0;              // local seconds of step 0, always a Monday 00:00
  std::vector<float> qty;              // units sold in each step
  std::vector<std::uint8_t> censored;  // 1: nothing sellable for part of the step
  std::size_t size() const { return qty.size(); }
};

// One till row (or one stock-out mark: qty 0 and stockout true).
struct Sale {
  std::string sku;
  std::string group;
  std::int64_t ts = 0;  // local seconds
  double qty = 0;
  bool stockout = false;
  std::string order;  // the order (receipt) the row belongs to, when the file says
};

// Builds one series per SKU (sorted by SKU) over a common span: from the Monday before
// the earliest row at or after `from` to `end` (local seconds, exclusive; rows outside
// [from, end) are left out). Steps before the day of the earliest row are censored (no
// data), as are steps a row marks as a stock-out. `from` bounds the memory a stray
// early date could otherwise claim.
std::vector<Series> build_series(const std::vector<Sale>& sales, Granularity g, std::int64_t end,
                                 std::int64_t from = INT64_MIN);

// A history window that keeps a series of every SKU small: 2 years of hours, 10 of days.
std::int64_t default_history_seconds(Granularity g);

struct BadRow {
  std::size_t line = 0;  // 1-based line number in the file
  std::string reason;
};

struct History {
  Granularity granularity = Granularity::kHour;  // kDay when the file has `date`, not `ts`
  std::vector<Sale> sales;
  std::size_t rows = 0;           // data rows read, good and bad
  std::size_t bad_row_count = 0;  // rows left out
  std::vector<BadRow> bad_rows;   // the first kMaxBadRowsKept of them
  std::int64_t last_ts = 0;       // latest row's local seconds
  bool has_orders = false;        // the file has an order (receipt) column
  static constexpr std::size_t kMaxBadRowsKept = 50;
};

// A CSV with a header naming `sku`, `qty` and `ts` (or `date`), in any order; optional
// `category` (pooling group), `stockout` (1: the SKU had nothing sellable in that
// step) and `order` (or `receipt`: the order a row belongs to) columns; other columns are ignored.
// Rows may come in any order. A row that cannot be read is counted and kept in bad_rows with its
// line number and reason. invalid_argument: no header, or a required column is missing.
StatusOr<History> parse_history_csv(std::istream& in);
// not_found / unavailable when the file cannot be opened or read.
StatusOr<History> load_history_csv(const std::string& path);

}  // namespace shopeasy::forecast
