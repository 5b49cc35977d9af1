#include "edge/vision/image_io.hpp"

#include <algorithm>
#include <cctype>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <system_error>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace shopeasy::edge::vision {
namespace {

constexpr const char* kField = "image";

Status bad_image(std::string message) { return invalid_argument(std::move(message), kField); }

std::uint32_t be32(std::string_view b, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) << 24) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 2])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 3]));
}
std::uint32_t be16(std::string_view b, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1]));
}
std::int32_t le32(std::string_view b, std::size_t at) {
  const std::uint32_t u =
      static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) |
      (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1])) << 8) |
      (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 2])) << 16) |
      (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 3])) << 24);
  return static_cast<std::int32_t>(u);
}

StatusOr<ImageInfo> sized(ImageFormat f, std::int64_t w, std::int64_t h) {
  if (w <= 0 || h <= 0 || w > (1 << 30) || h > (1 << 30)) {
    return bad_image(std::string(image_format_name(f)) + " header names an impossible size");
  }
  return ImageInfo{f, static_cast<int>(w), static_cast<int>(h)};
}

StatusOr<ImageInfo> sniff_png(std::string_view b) {
  // Signature, then the IHDR chunk must come first: length, "IHDR", width, height.
  if (b.size() < 24 || b.substr(12, 4) != "IHDR") return bad_image("truncated png header");
  return sized(ImageFormat::kPng, be32(b, 16), be32(b, 20));
}

StatusOr<ImageInfo> sniff_jpeg(std::string_view b) {
  std::size_t i = 2;
  while (i + 4 <= b.size()) {
    if (static_cast<unsigned char>(b[i]) != 0xff) return bad_image("corrupt jpeg header");
    const auto marker = static_cast<unsigned char>(b[i + 1]);
    if (marker == 0xff) {  // fill byte
      ++i;
      continue;
    }
    if (marker == 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker == 0x01) {
      i += 2;
      continue;
    }
    if (marker == 0xd9 || marker == 0xda) break;  // end or scan before any frame header
    const std::size_t len = be16(b, i + 2);
    if (len < 2) return bad_image("corrupt jpeg header");
    const bool sof =
        (marker >= 0xc0 && marker <= 0xcf) && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
    if (sof) {
      if (i + 9 > b.size()) break;
      return sized(ImageFormat::kJpeg, be16(b, i + 7), be16(b, i + 5));
    }
    i += 2 + len;
  }
  return bad_image("truncated jpeg header");
}

StatusOr<ImageInfo> sniff_bmp(std::string_view b) {
  if (b.size() < 26) return bad_image("truncated bmp header");
  const std::int64_t w = le32(b, 18);
  std::int64_t h = le32(b, 22);
  if (h < 0) h = -h;  // top-down bitmap
  return sized(ImageFormat::kBmp, w, h);
}

StatusOr<ImageInfo> sniff_pnm(std::string_view b) {
  // Width and height read exactly as OpenCV's PxM reader reads them, so the size checked
  // here is the size it will allocate: before each number it skips white space (any
  // isspace character) and comments, which run from '#' to the next CR or LF; any other
  // character is an error; a number is every digit that follows, at most INT_MAX. A
  // parser that ended comments at LF only would let "#\r99999 99999\n10 10" pass as
  // 10 x 10 while OpenCV allocates gigabytes.
  std::size_t i = 2;
  std::int64_t values[2] = {0, 0};
  for (std::int64_t& v : values) {
    while (i < b.size() && !(b[i] >= '0' && b[i] <= '9')) {
      const unsigned char c = static_cast<unsigned char>(b[i]);
      if (c == '#') {
        while (i < b.size() && b[i] != '\n' && b[i] != '\r') ++i;
        ++i;  // the line end
      } else if (std::isspace(c) != 0) {
        ++i;
      } else {
        return bad_image("malformed pnm header");
      }
    }
    if (i >= b.size()) return bad_image("truncated pnm header");
    while (i < b.size() && b[i] >= '0' && b[i] <= '9') {
      v = v * 10 + (b[i] - '0');
      if (v > std::numeric_limits<int>::max()) return bad_image("pnm size out of range");
      ++i;
    }
  }
  return sized(ImageFormat::kPnm, values[0], values[1]);
}

}  // namespace

std::string_view image_format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::kPng:
      return "png";
    case ImageFormat::kJpeg:
      return "jpeg";
    case ImageFormat::kBmp:
      return "bmp";
    case ImageFormat::kPnm:
      return "pnm";
  }
  return "unknown";
}

StatusOr<ImageInfo> sniff_image(std::string_view b) {
  if (b.size() >= 8 && b.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8)) {
    return sniff_png(b);
  }
  if (b.size() >= 3 && static_cast<unsigned char>(b[0]) == 0xff &&
      static_cast<unsigned char>(b[1]) == 0xd8 && static_cast<unsigned char>(b[2]) == 0xff) {
    return sniff_jpeg(b);
  }
  if (b.size() >= 2 && b[0] == 'B' && b[1] == 'M') return sniff_bmp(b);
  if (b.size() >= 2 && b[0] == 'P' && (b[1] == '2' || b[1] == '3' || b[1] == '5' || b[1] == '6')) {
    return sniff_pnm(b);
  }
  if (b.empty()) return bad_image("empty image");
  return Status(StatusCode::kUnsupportedMediaType,
                "not a supported image format (png, jpeg, bmp, pgm/ppm)", kField);
}

Status check_image_size(int width, int height, const ImageLimits& limits) {
  if (width < limits.min_side || height < limits.min_side) {
    return bad_image("image is " + std::to_string(width) + "x" + std::to_string(height) +
                     ", smaller than " + std::to_string(limits.min_side) + " pixels a side");
  }
  if (width > limits.max_side || height > limits.max_side ||
      static_cast<std::int64_t>(width) * height > limits.max_pixels) {
    return Status(StatusCode::kPayloadTooLarge,
                  "image is " + std::to_string(width) + "x" + std::to_string(height) +
                      ", larger than allowed (" + std::to_string(limits.max_side) + " a side, " +
                      std::to_string(limits.max_pixels) + " pixels)",
                  kField);
  }
  return Status::ok();
}

Status check_frame(const cv::Mat& frame, const ImageLimits& limits) {
  if (frame.empty() || frame.dims != 2) return bad_image("empty frame");
  if (frame.depth() != CV_8U ||
      (frame.channels() != 1 && frame.channels() != 3 && frame.channels() != 4)) {
    return bad_image("frame must be 8-bit grey, BGR or BGRA");
  }
  return check_image_size(frame.cols, frame.rows, limits);
}

StatusOr<cv::Mat> decode_image(std::string_view bytes, const ImageLimits& limits) {
  if (bytes.size() > limits.max_bytes) {
    return Status(StatusCode::kPayloadTooLarge,
                  "image file is " + std::to_string(bytes.size()) + " bytes, more than " +
                      std::to_string(limits.max_bytes),
                  kField);
  }
  auto info = sniff_image(bytes);
  if (!info.ok()) return info.status();
  SHOPEASY_RETURN_IF_ERROR(check_image_size(info->width, info->height, limits));
  const std::string name(image_format_name(info->format));
  if (info->format == ImageFormat::kJpeg) {
    // libjpeg fills a cut-off file with grey and calls it a success; insist on the
    // end-of-image marker (allowing trailing padding some cameras add).
    const std::size_t tail = bytes.size() > 64 ? bytes.size() - 64 : 0;
    if (bytes.substr(tail).find("\xff\xd9") == std::string_view::npos) {
      return bad_image("truncated jpeg image (no end marker)");
    }
  }
  cv::Mat out;
  try {
    const cv::Mat raw(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
    out = cv::imdecode(raw, cv::IMREAD_COLOR);
  } catch (const std::exception& e) {
    return bad_image("corrupt " + name + " image: " + e.what());
  }
  if (out.empty()) return bad_image("corrupt " + name + " image");
  if (out.cols != info->width || out.rows != info->height) {
    return bad_image("corrupt " + name + " image (size differs from its header)");
  }
  return out;
}

StatusOr<cv::Mat> read_image_file(const std::string& path, const ImageLimits& limits) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return not_found("no such image file: " + path);
    return unavailable("cannot read " + path + ": " + ec.message());
  }
  if (size > limits.max_bytes) {
    return Status(StatusCode::kPayloadTooLarge,
                  path + " is " + std::to_string(size) + " bytes, more than " +
                      std::to_string(limits.max_bytes),
                  kField);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return unavailable("cannot open " + path);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return unavailable("cannot read " + path);
  auto img = decode_image(bytes, limits);
  if (!img.ok()) {
    const Status& s = img.status();
    return Status(s.code(), path + ": " + s.message(), s.field());
  }
  return img;
}

namespace {
StatusOr<std::string> encode_as(const cv::Mat& image, const char* ext, std::vector<int> params) {
  if (image.empty()) return invalid_argument("empty image", kField);
  try {
    std::vector<std::uint8_t> buf;
    if (!cv::imencode(ext, image, buf, params)) return internal_error("image encoder failed");
    return std::string(buf.begin(), buf.end());
  } catch (const std::exception& e) {
    return internal_error(std::string("image encoder failed: ") + e.what());
  }
}
}  // namespace

StatusOr<std::string> encode_jpeg(const cv::Mat& image, int quality) {
  return encode_as(image, ".jpg", {cv::IMWRITE_JPEG_QUALITY, std::clamp(quality, 1, 100)});
}

StatusOr<std::string> encode_png(const cv::Mat& image) {
  return encode_as(image, ".png", {cv::IMWRITE_PNG_COMPRESSION, 3});
}

}  // namespace shopeasy::edge::vision
