#include "tests/bench/inventory/bench_stats.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <numeric>
#include <sstream>

namespace shopeasy::bench {

LatencySummary summarize_latencies(std::vector<double>& micros) {
  LatencySummary s;
  if (micros.empty()) return s;
  std::sort(micros.begin(), micros.end());
  s.count = micros.size();
  s.mean_ms = std::accumulate(micros.begin(), micros.end(), 0.0) / micros.size() / 1000.0;
  // Nearest rank: the smallest value with at least q of the samples at or below it.
  auto rank = [&](double q) {
    const auto r = static_cast<std::size_t>(std::ceil(q * static_cast<double>(micros.size())));
    return micros[std::min(micros.size() - 1, r == 0 ? 0 : r - 1)] / 1000.0;
  };
  s.p50_ms = rank(0.50);
  s.p99_ms = rank(0.99);
  s.max_ms = micros.back() / 1000.0;
  return s;
}

double PromHistogram::mean() const { return count > 0 ? sum / count : 0.0; }

double PromHistogram::quantile(double q) const {
  if (count <= 0 || bounds.empty()) return 0.0;
  const double target = q * count;
  double lower_bound = 0.0;
  double lower_count = 0.0;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (cumulative[i] >= target) {
      if (std::isinf(bounds[i])) return lower_bound;
      const double in_bucket = cumulative[i] - lower_count;
      if (in_bucket <= 0) return bounds[i];
      return lower_bound + (bounds[i] - lower_bound) * (target - lower_count) / in_bucket;
    }
    lower_bound = bounds[i];
    lower_count = cumulative[i];
  }
  return lower_bound;
}

double PromHistogram::share_at_most(double bound) const {
  if (count <= 0) return 0.0;
  double at_most = 0;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (bounds[i] <= bound * (1 + 1e-9)) at_most = cumulative[i];
  }
  return at_most / count;
}

PromHistogram PromHistogram::minus(const PromHistogram& earlier) const {
  PromHistogram d = *this;
  if (earlier.bounds != bounds) return d;  // not the same histogram: nothing to subtract
  for (std::size_t i = 0; i < cumulative.size(); ++i) d.cumulative[i] -= earlier.cumulative[i];
  d.sum -= earlier.sum;
  d.count -= earlier.count;
  return d;
}

PromPage PromPage::parse(std::string_view text) {
  PromPage page;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty() || line.front() == '#') continue;
    const std::size_t space = line.rfind(' ');
    if (space == std::string_view::npos || space == 0) continue;
    const std::string value_text(line.substr(space + 1));
    char* parse_end = nullptr;
    const double value = std::strtod(value_text.c_str(), &parse_end);
    if (parse_end == value_text.c_str()) continue;
    page.samples_[std::string(line.substr(0, space))] = value;
  }
  return page;
}

std::optional<double> PromPage::value(std::string_view series) const {
  auto it = samples_.find(series);
  if (it == samples_.end()) return std::nullopt;
  return it->second;
}

double PromPage::sum_of(std::string_view name, std::vector<std::string> label_filter) const {
  double total = 0;
  for (auto it = samples_.lower_bound(name); it != samples_.end(); ++it) {
    const std::string& series = it->first;
    if (series.compare(0, name.size(), name) != 0) break;
    const std::string_view rest = std::string_view(series).substr(name.size());
    if (!rest.empty() && rest.front() != '{') continue;
    const bool matches =
        std::all_of(label_filter.begin(), label_filter.end(),
                    [&](const std::string& f) { return rest.find(f) != rest.npos; });
    if (matches) total += it->second;
  }
  return total;
}

StatusOr<PromHistogram> PromPage::histogram(std::string_view name, std::string_view labels) const {
  const std::string base(name);
  const std::string braced = labels.empty() ? "" : "{" + std::string(labels) + "}";
  auto count = value(base + "_count" + braced);
  if (!count) return not_found("no histogram " + base + braced + " on the page");
  PromHistogram h;
  h.count = *count;
  h.sum = value(base + "_sum" + braced).value_or(0.0);
  const std::string prefix =
      base + "_bucket{" + (labels.empty() ? "" : std::string(labels) + ",") + "le=\"";
  std::vector<std::pair<double, double>> buckets;
  for (auto it = samples_.lower_bound(prefix); it != samples_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    const std::string bound = it->first.substr(prefix.size(), it->first.size() - prefix.size() - 2);
    const double b = bound == "+Inf" ? std::numeric_limits<double>::infinity()
                                     : std::strtod(bound.c_str(), nullptr);
    buckets.emplace_back(b, it->second);
  }
  std::sort(buckets.begin(), buckets.end());
  for (const auto& [b, c] : buckets) {
    h.bounds.push_back(b);
    h.cumulative.push_back(c);
  }
  return h;
}

namespace {
std::string proc_file(pid_t pid, const char* name) {
  return pid == 0 ? std::string("/proc/self/") + name : "/proc/" + std::to_string(pid) + "/" + name;
}
}  // namespace

StatusOr<double> process_cpu_seconds(pid_t pid) {
  std::ifstream in(proc_file(pid, "stat"));
  if (!in) return not_found("no process " + std::to_string(pid));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name in parentheses may contain spaces; fields are counted after it.
  const std::size_t close = text.rfind(')');
  if (close == std::string::npos || close + 2 > text.size()) {
    return internal_error("unreadable /proc stat of " + std::to_string(pid));
  }
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  double utime = 0;
  double stime = 0;
  // After the name: state is field 3; utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::strtod(field.c_str(), nullptr);
    if (i == 15) stime = std::strtod(field.c_str(), nullptr);
  }
  const long ticks = ::sysconf(_SC_CLK_TCK);
  return (utime + stime) / static_cast<double>(ticks > 0 ? ticks : 100);
}

StatusOr<ProcessMemory> process_memory(pid_t pid) {
  std::ifstream in(proc_file(pid, "status"));
  if (!in) return not_found("no process " + std::to_string(pid));
  ProcessMemory m;
  bool found = false;
  std::string line;
  while (std::getline(in, line)) {
    auto read = [&](std::string_view key, std::int64_t* out) {
      if (line.compare(0, key.size(), key) == 0) {
        *out = std::strtoll(line.c_str() + key.size(), nullptr, 10);
        return true;
      }
      return false;
    };
    found |= read("VmRSS:", &m.vm_rss_kib);
    read("RssAnon:", &m.rss_anon_kib);
    read("RssFile:", &m.rss_file_kib);
    read("VmHWM:", &m.vm_hwm_kib);
  }
  if (!found) return internal_error("no VmRSS in /proc status of " + std::to_string(pid));
  return m;
}

StatusOr<LatencySummary> probe_fdatasync(const std::string& dir, int rounds, bool overwrite) {
  const std::string path = dir + "/fsync-probe";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return unavailable("cannot create " + path);
  constexpr std::size_t kBlock = 4096;
  constexpr std::size_t kSpan = 256;  // blocks cycled through when overwriting
  const std::string block(kBlock, 'x');
  Status failure;
  if (overwrite) {
    for (std::size_t i = 0; i < kSpan && failure.is_ok(); ++i) {
      if (::write(fd, block.data(), kBlock) != static_cast<ssize_t>(kBlock)) {
        failure = unavailable("write failed on " + path);
      }
    }
    if (failure.is_ok() && ::fsync(fd) != 0) failure = unavailable("fsync failed on " + path);
  }
  std::vector<double> micros;
  for (int i = 0; i < rounds && failure.is_ok(); ++i) {
    const off_t at = overwrite ? static_cast<off_t>((static_cast<std::size_t>(i) % kSpan) * kBlock)
                               : static_cast<off_t>(static_cast<std::size_t>(i) * kBlock);
    if (::pwrite(fd, block.data(), kBlock, at) != static_cast<ssize_t>(kBlock)) {
      failure = unavailable("write failed on " + path);
      break;
    }
    const auto t0 = std::chrono::steady_clock::now();
    if (::fdatasync(fd) != 0) {
      failure = unavailable("fdatasync failed on " + path);
      break;
    }
    micros.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  ::close(fd);
  ::unlink(path.c_str());
  if (!failure.is_ok()) return failure;
  return summarize_latencies(micros);
}

std::string load_averages() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  if (!(in >> one >> five >> fifteen)) return "unknown";
  return one + " " + five + " " + fifteen;
}

std::string Table::render() const {
  std::vector<std::size_t> widths(header_.size(), 0);
  auto widen = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i >= widths.size()) widths.push_back(0);
      widths[i] = std::max(widths[i], row[i].size());
    }
  };
  widen(header_);
  for (const auto& r : rows_) widen(r);
  std::string out;
  auto line = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      out += cell;
      if (i + 1 < widths.size()) out += std::string(widths[i] - cell.size() + 2, ' ');
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += '\n';
  };
  line(header_);
  std::size_t total = 0;
  for (std::size_t w : widths) total += w + 2;
  out += std::string(total > 2 ? total - 2 : 0, '-') + '\n';
  for (const auto& r : rows_) line(r);
  return out;
}

std::string fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

}  // namespace shopeasy::bench
