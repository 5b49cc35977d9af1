#include "tests/bench/vision/eval_common.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <iomanip>
#include <sstream>
#include <thread>

#include "edge/barcode/barcode.hpp"

namespace shopeasy::bench::vision {

double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double wall_ms() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Summary summarize(std::vector<double> s) {
  Summary out;
  out.n = s.size();
  if (s.empty()) return out;
  std::sort(s.begin(), s.end());
  double sum = 0;
  for (double v : s) sum += v;
  out.mean = sum / static_cast<double>(s.size());
  out.median = s[s.size() / 2];
  out.p95 = s[std::min(
      s.size() - 1, static_cast<std::size_t>(std::ceil(0.95 * static_cast<double>(s.size()))) - 1)];
  out.max = s.back();
  return out;
}

std::string fmt(double v, int decimals) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(decimals) << v;
  return o.str();
}

std::string pct(double num, double den) {
  if (den <= 0) return "n/a";
  return fmt(100.0 * num / den, 1) + "%";
}

bool is_retail(vision_gen::CodeKind k) {
  using vision_gen::CodeKind;
  return k == CodeKind::kEan13 || k == CodeKind::kEan8 || k == CodeKind::kUpcA ||
         k == CodeKind::kUpcE;
}

std::string expected_key(vision_gen::CodeKind kind, const std::string& content) {
  using vision_gen::CodeKind;
  if (kind == CodeKind::kUpcE) {
    auto upca = edge::barcode::expand_upce(content);
    if (!upca.ok()) return "?";
    auto g = edge::barcode::to_gtin14(*upca);
    return g.ok() ? *g : "?";
  }
  if (is_retail(kind)) {
    auto g = edge::barcode::to_gtin14(content);
    return g.ok() ? *g : "?";
  }
  return content;
}

void parallel_for(std::size_t n, int jobs, const std::function<void(std::size_t, int)>& body) {
  jobs = std::max(1, jobs);
  std::vector<std::thread> threads;
  for (int w = 0; w < jobs; ++w) {
    threads.emplace_back([&, w] {
      for (std::size_t i = static_cast<std::size_t>(w); i < n; i += static_cast<std::size_t>(jobs))
        body(i, w);
    });
  }
  for (auto& t : threads) t.join();
}

}  // namespace shopeasy::bench::vision
