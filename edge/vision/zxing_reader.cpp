// This file deliberately defines glibc's assertion handler, __assert_fail. The
// executable's definition takes precedence over libc's for every shared library, so
// when zxing-cpp's built-in assertions fail while this thread is inside
// zxing_read_one(), control jumps back to the read (which reports kInternal) instead of
// aborting the daemon. Outside a read it prints the usual message and aborts, exactly
// as glibc would. The jump skips destructors of the library's frames: a bounded leak
// on a rare image, accepted over losing the process.
//
// The definition matches glibc's declaration (noexcept, noreturn), so headers that
// declare it too do not clash.
#include "edge/vision/zxing_reader.hpp"

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>

#define ZX_USE_UTF8 1
#include <ZXing/BarcodeFormat.h>
#include <ZXing/DecodeHints.h>
#include <ZXing/ReadBarcode.h>
#include <ZXing/Result.h>

namespace shopeasy::edge::vision {
namespace {

// Where a failed assertion on this thread jumps to; null outside a guarded read.
// Per thread by necessity: the assertion handler has no other way to find its read.
thread_local sigjmp_buf* t_assert_jump = nullptr;

}  // namespace
}  // namespace shopeasy::edge::vision

extern "C" [[noreturn]] void __assert_fail(const char* assertion, const char* file,
                                           unsigned int line, const char* function) noexcept {
  if (sigjmp_buf* jump = shopeasy::edge::vision::t_assert_jump) {
    shopeasy::edge::vision::t_assert_jump = nullptr;
    siglongjmp(*jump, 1);
  }
  std::fprintf(stderr, "%s:%u: %s: Assertion `%s' failed.\n", file ? file : "?", line,
               function ? function : "?", assertion ? assertion : "?");
  std::fflush(stderr);
  std::abort();
}

namespace shopeasy::edge::vision {
namespace {

ZXing::BarcodeFormats to_formats(unsigned mask) {
  ZXing::BarcodeFormats f;
  if (mask & kZxLinear) {
    f |= ZXing::BarcodeFormat::EAN13;
    f |= ZXing::BarcodeFormat::EAN8;
    f |= ZXing::BarcodeFormat::UPCA;
    f |= ZXing::BarcodeFormat::UPCE;
    f |= ZXing::BarcodeFormat::Code128;
  }
  if (mask & kZxQr) f |= ZXing::BarcodeFormat::QRCode;
  if (mask & kZxDataMatrix) f |= ZXing::BarcodeFormat::DataMatrix;
  return f;
}

// Kept free of objects with destructors between sigsetjmp and the call, so a jump
// back leaves this frame consistent.
bool call_guarded(const std::function<void()>& body, bool* asserted) {
  sigjmp_buf env;
  sigjmp_buf* const previous = t_assert_jump;
  if (sigsetjmp(env, 0) != 0) {
    t_assert_jump = previous;
    *asserted = true;
    return false;
  }
  t_assert_jump = &env;
  try {
    body();
  } catch (...) {
    t_assert_jump = previous;
    return false;
  }
  t_assert_jump = previous;
  return true;
}

}  // namespace

Status run_contained(const std::function<void()>& body) {
  bool asserted = false;
  if (call_guarded(body, &asserted)) return Status::ok();
  return internal_error(asserted ? "a library assertion failed" : "a library call threw");
}

StatusOr<std::optional<RawCode>> zxing_read_one(const cv::Mat& gray,
                                                const ZxingReadOptions& options) {
  if (gray.empty() || gray.type() != CV_8UC1) {
    return invalid_argument("zxing needs an 8-bit grey image", "image");
  }
  const ZXing::ImageView view(gray.data, gray.cols, gray.rows, ZXing::ImageFormat::Lum,
                              static_cast<int>(gray.step));
  ZXing::DecodeHints hints;
  hints.setFormats(to_formats(options.formats));
  hints.setTryHarder(options.try_harder);
  hints.setTryRotate(options.try_rotate);
  hints.setTryDownscale(options.try_downscale);
  hints.setIsPure(options.pure);
  // One symbol per read: ReadBarcodes' de-duplication of several results is what
  // asserts in this library version.
  hints.setMaxNumberOfSymbols(1);
  hints.setEanAddOnSymbol(ZXing::EanAddOnSymbol::Ignore);
  ZXing::Result result;
  const Status run = run_contained([&] { result = ZXing::ReadBarcode(view, hints); });
  if (!run.is_ok()) {
    return internal_error("zxing-cpp failed on this image: " + run.message());
  }
  if (!result.isValid()) return std::optional<RawCode>();
  try {
    RawCode code;
    code.format = ZXing::ToString(result.format());
    code.symbology_id = result.symbologyIdentifier();
    code.text = result.text();
    const auto& p = result.position();
    for (std::size_t i = 0; i < 4; ++i) {
      code.corners[i] = cv::Point2f(static_cast<float>(p[i].x), static_cast<float>(p[i].y));
    }
    return std::optional<RawCode>(std::move(code));
  } catch (const std::exception& e) {
    return internal_error(std::string("zxing-cpp result unreadable: ") + e.what());
  }
}

}  // namespace shopeasy::edge::vision
