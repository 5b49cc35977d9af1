// The one door to zxing-cpp. Debian's zxing-cpp 1.4 is built with assertions on and
// some of them fire on unusual images (and ReadBarcodes() with default options aborts
// on plain EAN-13s), so every call here reads at most one symbol, restricts the
// formats, catches exceptions, and turns a failed library assertion on the calling
// thread into an error instead of an abort (see zxing_reader.cpp). Thread-safe.
#pragma once

#include <array>
#include <functional>
#include <optional>
#include <string>

#include <opencv2/core.hpp>

#include "common/status/status.hpp"

namespace shopeasy::edge::vision {

// Format groups a read may look for (bit set).
enum ZxingFormat : unsigned {
  kZxLinear = 1u << 0,  // EAN-13, EAN-8, UPC-A, UPC-E, Code 128
  kZxQr = 1u << 1,
  kZxDataMatrix = 1u << 2,
};

// One symbol as zxing reports it, before validation.
struct RawCode {
  std::string format;  // "EAN-13", "EAN-8", "UPC-A", "UPC-E", "Code128", "QRCode", "DataMatrix"
  std::string symbology_id;              // AIM identifier, e.g. "]E0", "]C1", "]Q1", "]d2"
  std::string text;                      // decoded text, GS1 separators as ASCII GS
  std::array<cv::Point2f, 4> corners{};  // in the image given to the reader
};

struct ZxingReadOptions {
  unsigned formats = kZxLinear | kZxQr | kZxDataMatrix;
  bool try_harder = true;
  bool try_rotate = true;  // also 90/180/270 degrees
  bool try_downscale = true;
  bool pure = false;  // the image is nothing but one upright, unblurred symbol
};

// Runs `body` so that a failed C assertion inside it (on this thread) or an exception
// comes back as kInternal instead of ending the process. Meant for library calls:
// destructors of the frames an assertion jumps over do not run. Thread-safe.
[[nodiscard]] Status run_contained(const std::function<void()>& body);

// Reads at most one symbol from an 8-bit grey image. nullopt when none is found.
// kInternal when the library threw or asserted (the image is given up; nothing is
// leaked except what the library held at that moment). kInvalidArgument for a
// non-grey or empty image.
[[nodiscard]] StatusOr<std::optional<RawCode>> zxing_read_one(const cv::Mat& gray,
                                                              const ZxingReadOptions& options);

}  // namespace shopeasy::edge::vision
