// SlotMemory: what a shelf camera has learned about its slots in service, so empty
// slots are found without a photo of the empty shelf. It holds, in the scanner's
// reference (work) coordinates:
// - a learned "empty look" image: the pixels of slot columns seen confidently empty
//   (unlike the full reference and like the back panel, or unlike the full reference
//   while the ledger has none of the SKU), averaged over the times they were seen;
// - a learned "full look" image, starting as the full reference and following the
//   product columns seen confidently full (new packaging, slow light drift);
// - per column, how many empty and full samples it has.
// Frames are registered to the reference before they reach it, so small camera moves
// do not matter; a re-aimed camera (the registration moving the frame corners further
// than a threshold from where they were while learning, several frames in a row) or a
// different planogram (its fingerprint) clears it.
// Kept on disk per camera: <prefix>.json (fingerprint, counts, baseline registration)
// and <prefix>.empty.png / <prefix>.full.png (colour, and texture as 16-bit PNGs
// <prefix>.empty-tex.png / <prefix>.full-tex.png). Not thread-safe (owned by one scanner).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "common/status/status.hpp"

namespace shopeasy::edge::vision {

struct SlotMemoryOptions {
  // Share of the frame diagonal the frame corners may move from their place while the
  // memory was learned before the camera counts as re-aimed.
  double reaim_share = 0.02;
  int reaim_frames = 3;         // consecutive frames past the threshold
  double empty_rate = 0.35;     // weight of a new empty sample (after the first)
  double full_rate = 0.08;      // weight of a new full sample
  int learned_min_samples = 1;  // a column with this many empty samples has a look
};

class SlotMemory {
 public:
  // `columns[s]` is the number of columns of slot s; `fingerprint` names the planogram
  // and references the memory belongs to; `full`/`full_tex` the full reference's colour
  // (work size, CV_32FC3) and texture (CV_32F).
  SlotMemory(cv::Size work, std::vector<int> columns, std::string fingerprint, cv::Mat full,
             cv::Mat full_tex, SlotMemoryOptions options = {});

  int empty_samples(std::size_t slot, std::size_t column) const;
  int full_samples(std::size_t slot, std::size_t column) const;
  // Slots with a learned empty look on at least half their columns.
  int slots_with_empty_look() const;
  bool column_has_empty_look(std::size_t slot, std::size_t column) const;
  std::uint64_t resets() const { return resets_; }
  const std::string& last_reset_reason() const { return last_reset_reason_; }
  // Bumped on every learned sample (the scanner recomputes texture when it changes).
  std::uint64_t version() const { return version_; }

  // Colour (CV_32FC3) and texture (CV_32F, the scanner's high-pass grey) of each look,
  // work size.
  const cv::Mat& empty_look() const { return empty_; }
  const cv::Mat& empty_texture() const { return empty_tex_; }
  const cv::Mat& full_look() const { return full_; }
  const cv::Mat& full_texture() const { return full_tex_; }

  // Adds the pixels of `area` (work coordinates; `mask` area-sized, 255 where seen) of
  // the registered, light-evened frame (`bgr`, and its texture `tex`) as a sample of
  // one column.
  void learn_empty(std::size_t slot, std::size_t column, const cv::Rect& area, const cv::Mat& mask,
                   const cv::Mat& bgr, const cv::Mat& tex);
  void learn_full(std::size_t slot, std::size_t column, const cv::Rect& area, const cv::Mat& mask,
                  const cv::Mat& bgr, const cv::Mat& tex);

  // Notes a registered frame's mean corner move against the reference, in pixels of
  // the camera image, with the homography's corner positions. Returns true when it
  // cleared the memory (the camera was re-aimed).
  bool note_registration(const std::vector<cv::Point2f>& corners, double diagonal);

  void reset(const std::string& reason);

  // Writes <prefix>.json, <prefix>.empty.png and <prefix>.full.png (each atomically).
  [[nodiscard]] Status save(const std::string& prefix) const;
  // Reads what save() wrote. kNotFound when there is nothing saved; kFailedPrecondition
  // (field "fingerprint") when it belongs to another planogram or references;
  // kInvalidArgument for damaged files. On any error the memory is left as it was.
  [[nodiscard]] Status load(const std::string& prefix);

 private:
  cv::Size work_;
  std::vector<int> columns_;
  std::string fingerprint_;
  cv::Mat reference_full_;
  cv::Mat reference_full_tex_;
  SlotMemoryOptions opt_;
  cv::Mat empty_;
  cv::Mat empty_tex_;
  cv::Mat full_;
  cv::Mat full_tex_;
  std::vector<std::vector<int>> empty_n_;
  std::vector<std::vector<int>> full_n_;
  std::vector<cv::Point2f> baseline_;  // frame corners while learning; empty: none yet
  int off_baseline_ = 0;
  std::uint64_t resets_ = 0;
  std::uint64_t version_ = 0;
  std::string last_reset_reason_;
};

}  // namespace shopeasy::edge::vision
