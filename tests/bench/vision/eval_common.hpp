// Shared pieces of the vision evaluation: per-thread CPU time, summaries of timing
// samples, expected results of generated codes, and a parallel loop.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tools/vision-gen/encoders.hpp"

namespace cv {
class Mat;
namespace barcode {
class BarcodeDetector;
}
}  // namespace cv

namespace shopeasy::bench::vision {

// CPU time of the calling thread, in milliseconds: what "one core" costs even when
// other work shares the machine.
double thread_cpu_ms();
// Wall-clock milliseconds (monotonic).
double wall_ms();

struct Summary {
  std::size_t n = 0;
  double mean = 0, median = 0, p95 = 0, max = 0;
};
Summary summarize(std::vector<double> samples);
std::string fmt(double v, int decimals = 1);
std::string pct(double num, double den);

// The key a correct read of `content` (a Symbol's content) must produce: the GTIN-14 for
// EAN/UPC, else the text itself.
std::string expected_key(vision_gen::CodeKind kind, const std::string& content);
bool is_retail(vision_gen::CodeKind kind);  // EAN-13/8, UPC-A/E

// The key of a raw read (zxing-cpp / OpenCV / zbar format names), comparable with
// expected_key(): the GTIN-14 for EAN/UPC ("bad:" when invalid), else the text.
std::string raw_key(const std::string& format, const std::string& text);
// OpenCV alone on a grey frame, as the evaluations run it: its whole-frame EAN/UPC
// detector, nothing on frames under 64 px a side, an exception read as nothing.
// Returns (format, text) per decoded code.
std::vector<std::pair<std::string, std::string>> opencv_read_all(
    cv::barcode::BarcodeDetector& detector, const cv::Mat& gray);
// Compares readers' text loosely for GS1: separators may or may not be reported.
bool same_text(const std::string& a, const std::string& b);

// zbarimg over the PNG files of a directory: file name -> (type, data) pairs.
std::map<std::string, std::vector<std::pair<std::string, std::string>>> run_zbar(
    const std::filesystem::path& dir);
bool zbar_available();

// Calls body(i, worker) for i in [0, n) on `jobs` threads (worker in [0, jobs)).
void parallel_for(std::size_t n, int jobs, const std::function<void(std::size_t, int)>& body);

}  // namespace shopeasy::bench::vision
