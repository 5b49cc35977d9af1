#include "edge/vision/slot_memory.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

namespace shopeasy::edge::vision {
namespace {

namespace fs = std::filesystem;

constexpr double kTexScale = 100.0;
constexpr double kTexOffset = 32768.0;

bool write_file_atomically(const fs::path& path, const std::vector<unsigned char>& bytes) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
    if (!f) return false;
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  return !ec;
}

// Blends `sample` into `look` inside `mask` with weight `rate`.
void blend(cv::Mat& look, const cv::Rect& area, const cv::Mat& mask, const cv::Mat& sample,
           double rate) {
  cv::Mat dst = look(area);
  cv::Mat mixed;
  cv::addWeighted(dst, 1.0 - rate, sample(area), rate, 0, mixed);
  mixed.copyTo(dst, mask);
}

}  // namespace

SlotMemory::SlotMemory(cv::Size work, std::vector<int> columns, std::string fingerprint,
                       cv::Mat full, cv::Mat full_tex, SlotMemoryOptions options)
    : work_(work),
      columns_(std::move(columns)),
      fingerprint_(std::move(fingerprint)),
      reference_full_(std::move(full)),
      reference_full_tex_(std::move(full_tex)),
      opt_(options) {
  reset("new");
  resets_ = 0;
  last_reset_reason_.clear();
}

void SlotMemory::reset(const std::string& reason) {
  empty_ = cv::Mat(work_, CV_32FC3, cv::Scalar(0, 0, 0));
  empty_tex_ = cv::Mat(work_, CV_32F, cv::Scalar(0));
  full_ = reference_full_.clone();
  full_tex_ = reference_full_tex_.clone();
  empty_n_.assign(columns_.size(), {});
  full_n_.assign(columns_.size(), {});
  for (std::size_t s = 0; s < columns_.size(); ++s) {
    empty_n_[s].assign(static_cast<std::size_t>(columns_[s]), 0);
    full_n_[s].assign(static_cast<std::size_t>(columns_[s]), 0);
  }
  baseline_.clear();
  off_baseline_ = 0;
  ++resets_;
  ++version_;
  last_reset_reason_ = reason;
}

int SlotMemory::empty_samples(std::size_t slot, std::size_t column) const {
  if (slot >= empty_n_.size() || column >= empty_n_[slot].size()) return 0;
  return empty_n_[slot][column];
}

int SlotMemory::full_samples(std::size_t slot, std::size_t column) const {
  if (slot >= full_n_.size() || column >= full_n_[slot].size()) return 0;
  return full_n_[slot][column];
}

bool SlotMemory::column_has_empty_look(std::size_t slot, std::size_t column) const {
  return empty_samples(slot, column) >= opt_.learned_min_samples;
}

int SlotMemory::slots_with_empty_look() const {
  int n = 0;
  for (std::size_t s = 0; s < empty_n_.size(); ++s) {
    const auto learned = std::count_if(empty_n_[s].begin(), empty_n_[s].end(),
                                       [&](int k) { return k >= opt_.learned_min_samples; });
    if (!empty_n_[s].empty() && learned * 2 >= static_cast<long>(empty_n_[s].size())) ++n;
  }
  return n;
}

void SlotMemory::learn_empty(std::size_t slot, std::size_t column, const cv::Rect& area,
                             const cv::Mat& mask, const cv::Mat& bgr, const cv::Mat& tex) {
  if (slot >= empty_n_.size() || column >= empty_n_[slot].size()) return;
  int& n = empty_n_[slot][column];
  // The first sample replaces the blank; later ones are averaged in (the running mean
  // for the first few, then a fixed rate that follows slow changes).
  const double rate = n == 0 ? 1.0 : std::max(opt_.empty_rate, 1.0 / (n + 1));
  blend(empty_, area, mask, bgr, rate);
  blend(empty_tex_, area, mask, tex, rate);
  n = std::min(n + 1, 1000000);
  ++version_;
}

void SlotMemory::learn_full(std::size_t slot, std::size_t column, const cv::Rect& area,
                            const cv::Mat& mask, const cv::Mat& bgr, const cv::Mat& tex) {
  if (slot >= full_n_.size() || column >= full_n_[slot].size()) return;
  blend(full_, area, mask, bgr, opt_.full_rate);
  blend(full_tex_, area, mask, tex, opt_.full_rate);
  full_n_[slot][column] = std::min(full_n_[slot][column] + 1, 1000000);
  ++version_;
}

bool SlotMemory::note_registration(const std::vector<cv::Point2f>& corners, double diagonal) {
  if (baseline_.size() != corners.size()) {
    baseline_ = corners;
    off_baseline_ = 0;
    return false;
  }
  double moved = 0;
  for (std::size_t i = 0; i < corners.size(); ++i) moved += cv::norm(corners[i] - baseline_[i]);
  moved /= std::max<std::size_t>(1, corners.size());
  if (moved <= opt_.reaim_share * diagonal) {
    off_baseline_ = 0;
    return false;
  }
  if (++off_baseline_ < opt_.reaim_frames) return false;
  reset("camera re-aimed");
  baseline_ = corners;
  return true;
}

Status SlotMemory::save(const std::string& prefix) const {
  nlohmann::json j = {{"version", 1},
                      {"fingerprint", fingerprint_},
                      {"work", {work_.width, work_.height}},
                      {"empty_samples", empty_n_},
                      {"full_samples", full_n_},
                      {"resets", resets_},
                      {"last_reset_reason", last_reset_reason_}};
  nlohmann::json base = nlohmann::json::array();
  for (const cv::Point2f& p : baseline_) base.push_back({p.x, p.y});
  j["baseline"] = base;
  std::vector<unsigned char> png_empty;
  std::vector<unsigned char> png_full;
  cv::Mat e8;
  cv::Mat f8;
  empty_.convertTo(e8, CV_8UC3);
  full_.convertTo(f8, CV_8UC3);
  // Texture is signed and fine: 16 bits, a hundredth of a grey level, offset to mid-range.
  cv::Mat et16;
  cv::Mat ft16;
  empty_tex_.convertTo(et16, CV_16U, kTexScale, kTexOffset);
  full_tex_.convertTo(ft16, CV_16U, kTexScale, kTexOffset);
  std::vector<unsigned char> png_empty_tex;
  std::vector<unsigned char> png_full_tex;
  const std::vector<int> params = {cv::IMWRITE_PNG_COMPRESSION, 1};
  if (!cv::imencode(".png", e8, png_empty, params) || !cv::imencode(".png", f8, png_full, params) ||
      !cv::imencode(".png", et16, png_empty_tex, params) ||
      !cv::imencode(".png", ft16, png_full_tex, params)) {
    return internal_error("cannot encode the learned shelf looks");
  }
  const std::string text = j.dump();
  if (!write_file_atomically(prefix + ".empty.png", png_empty) ||
      !write_file_atomically(prefix + ".full.png", png_full) ||
      !write_file_atomically(prefix + ".empty-tex.png", png_empty_tex) ||
      !write_file_atomically(prefix + ".full-tex.png", png_full_tex) ||
      !write_file_atomically(prefix + ".json",
                             std::vector<unsigned char>(text.begin(), text.end()))) {
    return unavailable("cannot write the learned shelf state " + prefix + ".*");
  }
  return Status();
}

Status SlotMemory::load(const std::string& prefix) {
  std::ifstream f(prefix + ".json", std::ios::binary);
  if (!f) return not_found("no learned shelf state at " + prefix + ".json");
  std::stringstream ss;
  ss << f.rdbuf();
  const nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return invalid_argument("learned shelf state is not JSON", "shelf_state");
  }
  if (j.value("fingerprint", "") != fingerprint_) {
    return Status(StatusCode::kFailedPrecondition,
                  "learned shelf state belongs to another planogram or reference", "fingerprint");
  }
  try {
    const auto w = j.at("work");
    if (w.at(0).get<int>() != work_.width || w.at(1).get<int>() != work_.height) {
      return invalid_argument("learned shelf state has another size", "shelf_state.work");
    }
    auto en = j.at("empty_samples").get<std::vector<std::vector<int>>>();
    auto fn = j.at("full_samples").get<std::vector<std::vector<int>>>();
    if (en.size() != columns_.size() || fn.size() != columns_.size()) {
      return invalid_argument("learned shelf state has other slots", "shelf_state.empty_samples");
    }
    for (std::size_t s = 0; s < columns_.size(); ++s) {
      if (en[s].size() != static_cast<std::size_t>(columns_[s]) ||
          fn[s].size() != static_cast<std::size_t>(columns_[s])) {
        return invalid_argument("learned shelf state has other columns",
                                "shelf_state.empty_samples");
      }
    }
    std::vector<cv::Point2f> base;
    for (const auto& p : j.at("baseline"))
      base.emplace_back(p.at(0).get<float>(), p.at(1).get<float>());
    const cv::Mat e8 = cv::imread(prefix + ".empty.png", cv::IMREAD_COLOR);
    const cv::Mat f8 = cv::imread(prefix + ".full.png", cv::IMREAD_COLOR);
    const cv::Mat et16 = cv::imread(prefix + ".empty-tex.png", cv::IMREAD_UNCHANGED);
    const cv::Mat ft16 = cv::imread(prefix + ".full-tex.png", cv::IMREAD_UNCHANGED);
    if (e8.size() != work_ || f8.size() != work_ || et16.size() != work_ || ft16.size() != work_ ||
        et16.type() != CV_16U || ft16.type() != CV_16U) {
      return invalid_argument("learned shelf images are missing or of another size",
                              "shelf_state.images");
    }
    e8.convertTo(empty_, CV_32FC3);
    f8.convertTo(full_, CV_32FC3);
    et16.convertTo(empty_tex_, CV_32F, 1.0 / kTexScale, -kTexOffset / kTexScale);
    ft16.convertTo(full_tex_, CV_32F, 1.0 / kTexScale, -kTexOffset / kTexScale);
    empty_n_ = std::move(en);
    full_n_ = std::move(fn);
    baseline_ = std::move(base);
    off_baseline_ = 0;
    resets_ = j.value("resets", std::uint64_t{0});
    last_reset_reason_ = j.value("last_reset_reason", "");
    ++version_;
  } catch (const nlohmann::json::exception& e) {
    return invalid_argument(std::string("learned shelf state is damaged: ") + e.what(),
                            "shelf_state");
  }
  return Status();
}

}  // namespace shopeasy::edge::vision
