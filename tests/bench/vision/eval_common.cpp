#include "tests/bench/vision/eval_common.hpp"

#include <opencv2/barcode.hpp>
#include <opencv2/core.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
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

std::string raw_key(const std::string& format, const std::string& text) {
  auto gtin = [](StatusOr<std::string> g) { return g.ok() ? *g : std::string("bad:"); };
  if (format == "EAN-13" || format == "EAN_13" || format == "UPC-A" || format == "UPC_A" ||
      format == "EAN-8" || format == "EAN_8") {
    return gtin(edge::barcode::to_gtin14(text));
  }
  if (format == "UPC-E" || format == "UPC_E") {
    auto upca = edge::barcode::expand_upce(text);
    return upca.ok() ? gtin(edge::barcode::to_gtin14(*upca)) : std::string("bad:");
  }
  std::string t = text;
  if (t.rfind("]C1", 0) == 0) t = t.substr(3);
  return t;
}

bool same_text(const std::string& a, const std::string& b) {
  auto strip = [](const std::string& s) {
    std::string o;
    for (char c : s) {
      if (c != '\x1d') o += c;
    }
    return o;
  };
  return strip(a) == strip(b);
}

std::map<std::string, std::vector<std::pair<std::string, std::string>>> run_zbar(
    const std::filesystem::path& dir) {
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> out;
  const std::string cmd = "zbarimg -q --xml '" + dir.string() + "'/*.png 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  std::string xml;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) xml.append(buf, n);
  pclose(p);
  std::size_t at = 0;
  std::string current;
  while (true) {
    const std::size_t src = xml.find("<source href='", at);
    const std::size_t sym = xml.find("<symbol type='", at);
    if (src == std::string::npos && sym == std::string::npos) break;
    if (src != std::string::npos && (sym == std::string::npos || src < sym)) {
      const std::size_t end = xml.find('\'', src + 14);
      current = std::filesystem::path(xml.substr(src + 14, end - src - 14)).filename().string();
      out[current];
      at = end;
      continue;
    }
    const std::size_t tend = xml.find('\'', sym + 14);
    const std::string type = xml.substr(sym + 14, tend - sym - 14);
    const std::size_t d0 = xml.find("<![CDATA[", tend);
    const std::size_t d1 = xml.find("]]>", d0);
    if (d0 == std::string::npos || d1 == std::string::npos) break;
    out[current].emplace_back(type, xml.substr(d0 + 9, d1 - d0 - 9));
    at = d1;
  }
  return out;
}

bool zbar_available() { return std::system("command -v zbarimg >/dev/null 2>&1") == 0; }

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

std::vector<std::pair<std::string, std::string>> opencv_read_all(
    cv::barcode::BarcodeDetector& detector, const cv::Mat& gray) {
  std::vector<std::string> infos;
  std::vector<cv::barcode::BarcodeType> types;
  try {
    if (std::min(gray.cols, gray.rows) >= 64) detector.detectAndDecode(gray, infos, types);
  } catch (const std::exception&) {
    infos.clear();
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = 0; i < infos.size() && i < types.size(); ++i) {
    if (infos[i].empty()) continue;
    out.emplace_back(types[i] == cv::barcode::EAN_8   ? "EAN-8"
                     : types[i] == cv::barcode::UPC_E ? "UPC-E"
                                                      : "EAN-13",
                     infos[i]);
  }
  return out;
}

}  // namespace shopeasy::bench::vision
