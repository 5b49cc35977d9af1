// Image input that no file can crash: the format and size are read from the header
// before anything is decoded, so a truncated, corrupt, disguised or enormous file is
// refused with a clear Status instead of reaching a codec. PNG, JPEG, BMP and
// PNM (PGM/PPM) are accepted; decoded images are 8-bit BGR. All functions are pure and
// thread-safe; none throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <opencv2/core.hpp>

#include "common/status/status.hpp"

namespace shopeasy::edge::vision {

struct ImageLimits {
  std::size_t max_bytes = 32u << 20;     // encoded file size
  int min_side = 16;                     // narrower images cannot hold a readable code
  int max_side = 12000;                  // either side
  std::int64_t max_pixels = 40'000'000;  // width * height
};

enum class ImageFormat { kPng, kJpeg, kBmp, kPnm };
// "png", "jpeg", "bmp", "pnm".
std::string_view image_format_name(ImageFormat f);

struct ImageInfo {
  ImageFormat format = ImageFormat::kPng;
  int width = 0;
  int height = 0;
};

// Format and size from the header alone. kUnsupportedMediaType when the bytes are no
// format above; kInvalidArgument (field "image") when the header is truncated or
// names an impossible size.
[[nodiscard]] StatusOr<ImageInfo> sniff_image(std::string_view bytes);

// kInvalidArgument (field "image") when a side is below limits.min_side;
// kPayloadTooLarge when a side or the pixel count exceeds the limits.
[[nodiscard]] Status check_image_size(int width, int height, const ImageLimits& limits);

// Checks a frame from any source before it is analysed: 8-bit with 1, 3 or 4
// channels, continuous or not, and within the limits. Errors as check_image_size, and
// kInvalidArgument for an empty matrix or another pixel type.
[[nodiscard]] Status check_frame(const cv::Mat& frame, const ImageLimits& limits);

// Sniffs, checks the limits (kPayloadTooLarge also for more than max_bytes) and
// decodes to BGR. A JPEG without its end marker is refused as truncated; a file the
// codec cannot read is kInvalidArgument "corrupt <format> image".
[[nodiscard]] StatusOr<cv::Mat> decode_image(std::string_view bytes, const ImageLimits& limits);

// Reads and decodes a file: kNotFound when it does not exist, kUnavailable when it
// cannot be read, else as decode_image.
[[nodiscard]] StatusOr<cv::Mat> read_image_file(const std::string& path, const ImageLimits& limits);

// Encodes to JPEG (quality 1..100) or PNG bytes. kInvalidArgument for an empty image;
// kInternal if the codec fails.
[[nodiscard]] StatusOr<std::string> encode_jpeg(const cv::Mat& image, int quality = 85);
[[nodiscard]] StatusOr<std::string> encode_png(const cv::Mat& image);

}  // namespace shopeasy::edge::vision
