#include "tests/bench/sync/bench_report.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <thread>

#include <sys/resource.h>

#include "tests/bench/bench_common.hpp"

namespace shopeasy::syncbench {

std::string format(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  va_list again;
  va_copy(again, args);
  const int n = std::vsnprintf(nullptr, 0, fmt, args);
  va_end(args);
  std::string out;
  if (n > 0) {
    out.resize(static_cast<std::size_t>(n) + 1);
    std::vsnprintf(out.data(), out.size(), fmt, again);
    out.resize(static_cast<std::size_t>(n));
  }
  va_end(again);
  return out;
}

Percentiles percentiles(std::vector<double>& samples) {
  Percentiles p;
  if (samples.empty()) return p;
  std::sort(samples.begin(), samples.end());
  auto rank = [&](double q) {
    const auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(samples.size())));
    return samples[std::min(samples.size() - 1, i == 0 ? 0 : i - 1)];
  };
  p.count = samples.size();
  p.p50 = rank(0.50);
  p.p90 = rank(0.90);
  p.p99 = rank(0.99);
  p.max = samples.back();
  p.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(p.count);
  return p;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

PromPage PromPage::parse(std::string_view text) {
  PromPage page;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty() || line.front() == '#') continue;
    // The value follows the last space (label values may contain spaces).
    const std::size_t space = line.rfind(' ');
    if (space == std::string_view::npos || space == 0) continue;
    const std::string value(line.substr(space + 1));
    char* parsed_end = nullptr;
    const double v = std::strtod(value.c_str(), &parsed_end);
    if (parsed_end == value.c_str()) continue;
    page.samples_[std::string(line.substr(0, space))] = v;
  }
  return page;
}

double PromPage::value(std::string_view series) const {
  auto it = samples_.find(series);
  return it == samples_.end() ? 0.0 : it->second;
}

double PromPage::sum_of(std::string_view name) const {
  double total = 0;
  for (auto it = samples_.lower_bound(name); it != samples_.end(); ++it) {
    const std::string& key = it->first;
    if (key.compare(0, name.size(), name) != 0) break;
    if (key.size() == name.size() || key[name.size()] == '{') total += it->second;
  }
  return total;
}

namespace {

// The fields of /proc/<pid>/stat after the command name (which may contain spaces):
// index 0 is field 3 (state).
std::vector<std::string> stat_fields(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!in || !std::getline(in, text)) return {};
  const std::size_t close = text.rfind(')');
  if (close == std::string::npos || close + 2 > text.size()) return {};
  std::istringstream fields(text.substr(close + 2));
  std::vector<std::string> out;
  for (std::string f; fields >> f;) out.push_back(f);
  return out;
}

double cpu_of(const std::vector<std::string>& f) {
  if (f.size() < 13) return 0;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  // utime and stime are fields 14 and 15.
  return (std::strtod(f[11].c_str(), nullptr) + std::strtod(f[12].c_str(), nullptr)) / ticks;
}

}  // namespace

double group_cpu_seconds(pid_t pgid) {
  double total = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto f = stat_fields(static_cast<pid_t>(std::stol(name)));
    // pgrp is field 5.
    if (f.size() < 13 || std::strtol(f[2].c_str(), nullptr, 10) != pgid) continue;
    total += cpu_of(f);
  }
  return total;
}

double tree_cpu_seconds(pid_t pid) {
  double total = 0;
  const auto own = stat_fields(pid);
  if (own.size() >= 15) {
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    // cutime and cstime (fields 16, 17): children already reaped.
    total +=
        cpu_of(own) +
        (std::strtod(own[13].c_str(), nullptr) + std::strtod(own[14].c_str(), nullptr)) / ticks;
  }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto f = stat_fields(static_cast<pid_t>(std::stol(name)));
    // ppid is field 4.
    if (f.size() < 13 || std::strtol(f[1].c_str(), nullptr, 10) != pid) continue;
    total += cpu_of(f);
  }
  return total;
}

Percentiles sleep_overshoot(int samples) {
  std::vector<double> late;
  for (int i = 0; i < samples; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    late.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() -
        1.0);
  }
  return percentiles(late);
}

StatusOr<double> process_cpu_seconds(pid_t pid) {
  if (pid == 0) {
    rusage usage{};
    if (getrusage(RUSAGE_SELF, &usage) != 0) return internal_error("getrusage failed");
    auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    return secs(usage.ru_utime) + secs(usage.ru_stime);
  }
  const auto f = stat_fields(pid);
  if (f.size() < 13) return not_found("no process " + std::to_string(pid));
  return cpu_of(f);
}

StatusOr<Percentiles> fdatasync_latency(const std::filesystem::path& dir, int samples) {
  const std::string path = (dir / "fsync-probe.dat").string();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return unavailable("cannot create " + path);
  const std::string block(4096, 'x');
  std::vector<double> ms;
  Status failed;
  for (int i = 0; i < samples; ++i) {
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) {
      failed = unavailable("write failed on " + path);
      break;
    }
    const auto t0 = std::chrono::steady_clock::now();
    if (::fdatasync(fd) != 0) {
      failed = unavailable("fdatasync failed on " + path);
      break;
    }
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  ::close(fd);
  ::unlink(path.c_str());
  if (!failed.is_ok()) return failed;
  return percentiles(ms);
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  if (!(in >> a >> b >> c)) return "?";
  return a + " " + b + " " + c;
}

void Report::phase(const std::string& title, const std::string& command) {
  current_phase_ = title;
  std::printf("\n== %s\n   command: %s\n   load average: %s\n", title.c_str(), command.c_str(),
              load_average().c_str());
  std::fflush(stdout);
}

void Report::note(const std::string& text) {
  std::printf("   %s\n", text.c_str());
  std::fflush(stdout);
}

void Report::figure(const std::string& name, const std::string& value, const std::string& target,
                    std::optional<bool> met) {
  std::string verdict;
  if (met) verdict = *met ? "  [met]" : "  [MISSED]";
  std::printf("   %-56s %s%s%s\n", name.c_str(), value.c_str(),
              target.empty() ? "" : ("  (target " + target + ")").c_str(), verdict.c_str());
  std::fflush(stdout);
  rows_.push_back(Row{current_phase_, name, value, target, met, !target.empty()});
}

void Report::key(const std::string& name, const std::string& value) {
  std::printf("   %-56s %s\n", name.c_str(), value.c_str());
  std::fflush(stdout);
  rows_.push_back(Row{current_phase_, name, value, "", std::nullopt, true});
}

void Report::summary() const {
  std::printf("\n== Summary (load average %s)\n", load_average().c_str());
  std::printf("%-58s %-12s %-7s %s\n", "figure", "target", "verdict", "measured");
  std::string phase;
  for (const Row& r : rows_) {
    if (!r.in_summary) continue;
    if (r.phase != phase) {
      phase = r.phase;
      std::printf("-- %s\n", phase.c_str());
    }
    const char* verdict = !r.met ? "" : *r.met ? "met" : "MISSED";
    std::printf("%-58s %-12s %-7s %s\n", r.name.c_str(), r.target.c_str(), verdict,
                r.value.c_str());
    bench::record_result("sync", r.phase.substr(0, r.phase.find(' ') + 1) + r.name, r.value, "", "",
                         r.target, verdict);
  }
  std::fflush(stdout);
}

bool Report::all_met() const {
  return std::all_of(rows_.begin(), rows_.end(),
                     [](const Row& r) { return !r.met.has_value() || *r.met; });
}

}  // namespace shopeasy::syncbench
