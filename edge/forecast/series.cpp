#include "edge/forecast/series.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>

namespace shopeasy::forecast {

std::string_view granularity_name(Granularity g) {
  return g == Granularity::kHour ? "hour" : "day";
}

Calendar calendar_for(Granularity g) {
  if (g == Granularity::kDay) return Calendar{86400, 7, 1};
  return Calendar{3600, 168, 24};
}

std::int64_t days_from_civil(int year, int month, int day) {
  // Howard Hinnant's days_from_civil algorithm.
  const std::int64_t y = static_cast<std::int64_t>(year) - (month <= 2 ? 1 : 0);
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;
  const std::int64_t mp = (month + 9) % 12;
  const std::int64_t doy = (153 * mp + 2) / 5 + day - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

namespace {

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

struct Civil {
  int year, month, day, hour, minute, second;
};

Civil civil_from_local(std::int64_t local_seconds) {
  const std::int64_t days = floor_div(local_seconds, 86400);
  const std::int64_t secs = local_seconds - days * 86400;
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  const int y = static_cast<int>(yoe + era * 400 + (m <= 2 ? 1 : 0));
  return Civil{y,
               m,
               d,
               static_cast<int>(secs / 3600),
               static_cast<int>(secs % 3600 / 60),
               static_cast<int>(secs % 60)};
}

bool read_int(std::string_view text, std::size_t pos, std::size_t len, int* out) {
  if (pos + len > text.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + len; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    v = v * 10 + (text[i] - '0');
  }
  *out = v;
  return true;
}

int days_in_month(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

std::int64_t week_start(std::int64_t local_seconds) {
  const std::int64_t days = floor_div(local_seconds, 86400);
  // 1970-01-01 was a Thursday: Monday-based weekday = (days + 3) mod 7.
  const std::int64_t weekday = ((days + 3) % 7 + 7) % 7;
  return (days - weekday) * 86400;
}

std::string format_local_time(std::int64_t local_seconds) {
  const Civil c = civil_from_local(local_seconds);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", c.year, c.month, c.day, c.hour,
                c.minute, c.second);
  return buf;
}

std::string format_date(std::int64_t local_seconds) {
  const Civil c = civil_from_local(local_seconds);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", c.year, c.month, c.day);
  return buf;
}

StatusOr<std::int64_t> parse_timestamp(std::string_view raw) {
  const std::string_view text = trim(raw);
  if (text.empty()) return invalid_argument("empty timestamp");
  if (std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    // 2000-01-01 .. 2099-12-31 as Unix seconds.
    if (ec != std::errc() || end != text.data() + text.size() || v < 946684800 || v >= 4102444800) {
      return invalid_argument("Unix time '" + std::string(text) + "' is outside 2000..2099");
    }
    return v;
  }
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  const std::string bad = "timestamp '" + std::string(text) +
                          "' is not ISO 8601 (YYYY-MM-DD[THH:MM[:SS]]) or Unix seconds";
  if (!read_int(text, 0, 4, &year) || text.size() < 10 || text[4] != '-' ||
      !read_int(text, 5, 2, &month) || text[7] != '-' || !read_int(text, 8, 2, &day)) {
    return invalid_argument(bad);
  }
  std::size_t pos = 10;
  if (pos < text.size()) {
    if (text[pos] != 'T' && text[pos] != ' ') return invalid_argument(bad);
    if (!read_int(text, pos + 1, 2, &hour) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !read_int(text, pos + 4, 2, &minute)) {
      return invalid_argument(bad);
    }
    pos += 6;
    if (pos < text.size() && text[pos] == ':') {
      if (!read_int(text, pos + 1, 2, &second)) return invalid_argument(bad);
      pos += 3;
      if (pos < text.size() && text[pos] == '.') {
        ++pos;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
      }
    }
    // An offset or Z names the zone the local time was written in; the written time is
    // the store's local time, which is what the series count in.
    if (pos < text.size()) {
      const std::string_view zone = text.substr(pos);
      int zh = 0, zm = 0;
      const bool offset = zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') &&
                          read_int(zone, 1, 2, &zh) && zone[3] == ':' && read_int(zone, 4, 2, &zm);
      if (zone != "Z" && !offset) return invalid_argument(bad);
    }
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 60) {
    return invalid_argument("timestamp '" + std::string(text) + "' is not a real date/time");
  }
  if (year < 2000 || year > 2099) {
    return invalid_argument("timestamp '" + std::string(text) + "' is outside 2000..2099");
  }
  return days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
}

std::int64_t default_history_seconds(Granularity g) {
  return (g == Granularity::kHour ? 2 * 366 : 10 * 366) * std::int64_t{86400};
}

std::vector<Series> build_series(const std::vector<Sale>& sales, Granularity g, std::int64_t end,
                                 std::int64_t from) {
  const Calendar cal = calendar_for(g);
  std::int64_t first = end;
  for (const Sale& s : sales) {
    if (s.ts < end && s.ts >= from) first = std::min(first, s.ts);
  }
  if (first >= end) return {};
  const std::int64_t start = week_start(first);
  const std::int64_t steps = floor_div(end - start + cal.step_seconds - 1, cal.step_seconds);
  // Data covers the steps from the day of the first row, or from `from` when rows
  // before it were left out.
  const std::int64_t covered_from = std::max(floor_div(first, 86400) * 86400, from);
  const std::int64_t data_from =
      floor_div(covered_from - start + cal.step_seconds - 1, cal.step_seconds);

  std::map<std::string, Series> by_sku;
  for (const Sale& s : sales) {
    if (s.ts >= end || s.ts < first) continue;
    auto [it, inserted] = by_sku.try_emplace(s.sku);
    Series& series = it->second;
    if (inserted) {
      series.sku = s.sku;
      series.start = start;
      series.qty.assign(static_cast<std::size_t>(steps), 0.0f);
      series.censored.assign(static_cast<std::size_t>(steps), 0);
      for (std::int64_t i = 0; i < data_from && i < steps; ++i) series.censored[i] = 1;
    }
    if (series.group.empty()) series.group = s.group;
    const auto step = static_cast<std::size_t>((s.ts - start) / cal.step_seconds);
    series.qty[step] += static_cast<float>(s.qty);
    if (s.stockout) series.censored[step] = 1;
  }
  std::vector<Series> out;
  out.reserve(by_sku.size());
  for (auto& [sku, series] : by_sku) out.push_back(std::move(series));
  return out;
}

namespace {

// Splits one CSV line; fields may be double-quoted with "" for a quote.
bool split_csv(std::string_view line, std::vector<std::string>* fields) {
  fields->clear();
  std::string field;
  bool quoted = false, was_quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        field += c;
      }
    } else if (c == '"' && field.empty() && !was_quoted) {
      quoted = was_quoted = true;
    } else if (c == ',') {
      fields->push_back(std::move(field));
      field.clear();
      was_quoted = false;
    } else if (c != '\r' || i + 1 != line.size()) {
      field += c;
    }
  }
  if (quoted) return false;
  fields->push_back(std::move(field));
  return true;
}

std::optional<double> parse_number(std::string_view text) {
  text = trim(text);
  if (text.empty()) return std::nullopt;
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

}  // namespace

StatusOr<History> parse_history_csv(std::istream& in) {
  std::string line;
  std::size_t line_no = 0;
  std::vector<std::string> fields;
  // The header is the first line that is not blank.
  while (std::getline(in, line)) {
    ++line_no;
    if (!trim(line).empty()) break;
  }
  if (trim(line).empty()) {
    return invalid_argument(
        "the file is empty: expected a header with sku,ts,qty (or sku,date,qty)");
  }
  if (line.size() >= 3 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);
  if (!split_csv(line, &fields)) return invalid_argument("the header has an unclosed quote");
  int sku_col = -1, ts_col = -1, date_col = -1, qty_col = -1, group_col = -1, stockout_col = -1,
      order_col = -1;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    std::string name(trim(fields[i]));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const int col = static_cast<int>(i);
    if (name == "sku" && sku_col < 0) sku_col = col;
    if (name == "ts" && ts_col < 0) ts_col = col;
    if (name == "date" && date_col < 0) date_col = col;
    if (name == "qty" && qty_col < 0) qty_col = col;
    if (name == "category" && group_col < 0) group_col = col;
    if (name == "stockout" && stockout_col < 0) stockout_col = col;
    if ((name == "order" || name == "receipt") && order_col < 0) order_col = col;
  }
  std::string missing;
  if (sku_col < 0) missing += " sku";
  if (qty_col < 0) missing += " qty";
  if (ts_col < 0 && date_col < 0) missing += " ts (or date)";
  if (!missing.empty()) {
    return invalid_argument("the header lacks the column(s):" + missing, "header");
  }
  History history;
  history.granularity = ts_col >= 0 ? Granularity::kHour : Granularity::kDay;
  const int time_col = ts_col >= 0 ? ts_col : date_col;
  const int needed = std::max({sku_col, time_col, qty_col, group_col, stockout_col, order_col}) + 1;
  history.has_orders = order_col >= 0;
  history.last_ts = INT64_MIN;
  auto bad = [&](std::string reason) {
    ++history.bad_row_count;
    if (history.bad_rows.size() < History::kMaxBadRowsKept) {
      history.bad_rows.push_back(BadRow{line_no, std::move(reason)});
    }
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (trim(line).empty()) continue;
    ++history.rows;
    if (!split_csv(line, &fields)) {
      bad("unclosed quote");
      continue;
    }
    if (static_cast<int>(fields.size()) < needed) {
      bad("has " + std::to_string(fields.size()) + " fields, the header needs " +
          std::to_string(needed));
      continue;
    }
    Sale sale;
    sale.sku = std::string(trim(fields[sku_col]));
    if (sale.sku.empty()) {
      bad("sku is empty");
      continue;
    }
    auto ts = parse_timestamp(fields[time_col]);
    if (!ts.ok()) {
      bad(ts.status().message());
      continue;
    }
    sale.ts = *ts;
    const auto qty = parse_number(fields[qty_col]);
    if (!qty) {
      bad("qty '" + std::string(trim(fields[qty_col])) + "' is not a number");
      continue;
    }
    if (*qty < 0 || *qty > 1e6) {
      bad("qty " + std::string(trim(fields[qty_col])) + " is outside 0..1000000");
      continue;
    }
    sale.qty = *qty;
    if (group_col >= 0) sale.group = std::string(trim(fields[group_col]));
    if (order_col >= 0) sale.order = std::string(trim(fields[order_col]));
    if (stockout_col >= 0) {
      const std::string_view s = trim(fields[stockout_col]);
      if (s == "1" || s == "true") {
        sale.stockout = true;
      } else if (!(s.empty() || s == "0" || s == "false")) {
        bad("stockout '" + std::string(s) + "' is not 0/1");
        continue;
      }
    }
    history.last_ts = std::max(history.last_ts, sale.ts);
    history.sales.push_back(std::move(sale));
  }
  if (in.bad()) return unavailable("reading the history failed");
  if (history.sales.empty()) history.last_ts = 0;
  return history;
}

StatusOr<History> load_history_csv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    const std::string why = "cannot open history file " + path + ": " + std::strerror(err);
    return err == ENOENT ? not_found(why) : unavailable(why);
  }
  return parse_history_csv(in);
}

}  // namespace shopeasy::forecast
