// BarcodeDecoder: every code in a camera frame, validated. The chain was chosen by
// measurement on generated images (see tests/bench/vision):
// 1. zxing-cpp on the whole frame for linear codes (fast; handles perspective and
//    motion blur);
// 2. region proposals (structure tensor), strongest first. Linear candidates are cut
//    out turned so their bars stand upright and read by zxing-cpp; the strongest few
//    unread ones also with perspective removed, by OpenCV's barcode module (EAN/UPC)
//    and after sharpening. Matrix candidates are cut out and read by zxing-cpp (the
//    only working QR/DataMatrix reader in this OpenCV build, whose DataMatrix detector
//    only finds symbols near the image centre); the strongest few unread ones also
//    enlarged and sharpened, with their module grid sampled by hand and re-drawn clean
//    (blurred DataMatrix), with their outline straightened and enlarged (small, turned
//    or keystoned symbols), and with perspective removed. Long linear codes keep their
//    resolution across the bars (crops up to 1600 px wide, squeezed along the bars);
// 3. OpenCV's barcode module on the whole frame when nothing else was read;
// 4. zxing-cpp's QR and DataMatrix detectors on the whole frame (with a light margin;
//    small frames at full resolution with rotations, also for linear codes, and
//    enlarged; camera frames on a reduced copy) when still nothing was read: symbols
//    filling the frame, large modules on plain labels, phone photos.
// Every decoded code is validated with edge/barcode: a GTIN or GS1 string failing a
// check digit is dropped and counted, never corrected. Short reads (EAN-8, UPC-E) with
// bars in their quiet zones, and OpenCV reads from areas holding more bars than the
// symbol has, are dropped as parts of longer symbols, and so are short reads whose
// quiet zone lies beyond the frame at one end (a symbol cut by the frame), UPC-Es that
// are the left half of an EAN-13 read beside them, and OpenCV reads at the place of a
// different zxing-cpp read. Several codes in a frame are each reported once: region
// candidates joining codes turned differently are also split by bar direction, and a
// candidate's crop is read again with the code read from it painted over. Library failures
// (exceptions, zxing-cpp assertions, OpenCV's division by zero on small images) are contained.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

#include "common/status/status.hpp"
#include "edge/barcode/barcode.hpp"
#include "edge/vision/image_io.hpp"

namespace shopeasy::edge::vision {

// The edge's one symbology enum (edge/barcode). A frame yields kEan13, kEan8, kUpcA,
// kUpcE, kCode128, kGs1_128, kQr or kDataMatrix; symbology_name gives their wire names
// ("ean-13", "ean-8", "upc-a", "upc-e", "code-128", "gs1-128", "qr", "datamatrix").
using barcode::Symbology;
using barcode::symbology_name;

struct Detection {
  Symbology symbology = Symbology::kEan13;
  // The decoded text with control characters other than GS, RS and EOT (the GS1 and
  // ISO 15434 separators, kept as bytes 0x1D, 0x1E, 0x04), line breaks and tabs
  // replaced by '?' and invalid UTF-8 by U+FFFD. JSON output escapes the kept ones.
  std::string text;
  // The product's GTIN-14 when the code carries one with a valid check digit
  // (EAN/UPC, GS1 AI 01, a GS1 Digital Link URL in a QR code, or 8/12/13/14 digits
  // in a plain DataMatrix); empty for other codes.
  std::string gtin14;
  // The code in the form a handheld scanner would send it, which
  // edge::barcode::parse_scan reads without a hint to the same product: GTIN digits,
  // or the AIM identifier + element string for GS1 codes. Empty for non-product
  // codes.
  std::string scan_code;
  // Corners in the input image (top-left, top-right, bottom-right, bottom-left as the
  // reader saw the symbol).
  std::array<cv::Point2f, 4> corners{};
  // Which read found it: "zxing", "zxing-region", "zxing-rectified", "zxing-sharpened",
  // "zxing-resampled", "zxing-outline", "zxing-frame", "opencv", "opencv-region".
  std::string engine;
};

struct DecoderOptions {
  bool use_zxing = true;
  bool use_opencv = true;
  bool use_regions = true;       // region proposals (step 2)
  int max_codes = 32;            // stop after this many
  int max_region_attempts = 48;  // bounds the time one frame can take
  bool crop_try_harder = true;   // zxing's exhaustive scan on candidate crops
  // zxing-cpp's exhaustive scan and its downscaled pyramid on the whole frame (step 1);
  // the region pass covers what the cheaper scan misses.
  bool whole_frame_try_harder = true;
  bool whole_frame_downscale = false;
  // zxing-cpp's QR and DataMatrix detectors on the whole frame when nothing else was
  // read (a symbol filling the frame, large modules, a phone photo): frames up to
  // whole_frame_full_side at full resolution, larger ones on a copy whose longer side
  // is whole_frame_matrix_side (see decoder.cpp).
  bool whole_frame_matrix = true;
  int whole_frame_full_side = 1200;
  int whole_frame_matrix_side = 480;
  // OpenCV's own whole-frame search for EAN/UPC when nothing else was read.
  bool whole_frame_opencv = true;
  // Candidates of each kind (linear, matrix) that get the slower second-tier reads.
  int max_tier1_candidates = 3;
  // CPU time (this thread's) after which a frame gets no more second-tier reads and no
  // whole-frame OpenCV search: bounds the slow tail on cluttered frames. 0: no limit.
  double frame_budget_ms = 28;
  ImageLimits limits{};
};

// Counters of one decode() call, for metrics and the evaluation.
struct DecodeStats {
  int regions = 0;              // candidates proposed
  int attempts = 0;             // reads tried on candidate crops
  int reads = 0;                // raw symbols any engine returned
  int dropped_check_digit = 0;  // failed validation (check digit, GS1 syntax)
  int implausible = 0;          // a short or OpenCV read with bars where none may be
  int library_errors = 0;       // an engine threw or asserted; that attempt was given up
  bool over_budget = false;     // frame_budget_ms ran out before every read was tried
};

class BarcodeDecoder {
 public:
  explicit BarcodeDecoder(DecoderOptions options = {});
  ~BarcodeDecoder();
  BarcodeDecoder(BarcodeDecoder&&) noexcept;
  BarcodeDecoder& operator=(BarcodeDecoder&&) noexcept;

  // Every code found, each symbol once. kInvalidArgument / kPayloadTooLarge (field
  // "image") for an empty, too small, too large or non-8-bit frame, refused before any
  // decoder sees it. Never throws. Not thread-safe: one decoder per thread.
  [[nodiscard]] StatusOr<std::vector<Detection>> decode(const cv::Mat& image,
                                                        DecodeStats* stats = nullptr);

  const DecoderOptions& options() const { return options_; }

 private:
  struct Impl;
  DecoderOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shopeasy::edge::vision
