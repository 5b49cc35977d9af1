#include "edge/api/scan_frame_routes.hpp"

#include <cctype>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/sync/mutex.hpp"
#include "edge/vision/decoder.hpp"
#include "edge/vision/image_io.hpp"

namespace shopeasy::edge::api {

namespace {

const std::vector<std::string> kScanners = {"picker", "manager", "admin"};

// The decoder and the lock that serialises its use.
class SharedDecoder {
 public:
  explicit SharedDecoder(vision::DecoderOptions o) : decoder_(std::move(o)) {}
  StatusOr<std::vector<vision::Detection>> decode(const cv::Mat& image) {
    shopeasy::sync::MutexLock lock(mutex_);
    return decoder_.decode(image);
  }

 private:
  // Guards decoder_: BarcodeDecoder is not thread-safe, and one frame at a time keeps
  // camera frames from taking both of a store box's cores.
  shopeasy::sync::Mutex mutex_;
  vision::BarcodeDecoder decoder_ GUARDED_BY(mutex_);
};

std::string content_type_of(const http::Request& req) {
  std::string type = req.header("Content-Type");
  if (auto semi = type.find(';'); semi != std::string::npos) type.resize(semi);
  while (!type.empty() && type.back() == ' ') type.pop_back();
  for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return type;
}

}  // namespace

void register_scan_frame_routes(http::HttpServer& server, const ScanFrameOptions& options,
                                log::Logger logger, metrics::Registry& metrics,
                                const Clock& clock) {
  vision::DecoderOptions decoder_options;
  decoder_options.limits.max_bytes = options.max_bytes;
  decoder_options.limits.max_side = options.max_side;
  decoder_options.limits.max_pixels = options.max_pixels;
  auto shared = std::make_shared<SharedDecoder>(decoder_options);
  auto& frames = metrics.counter_family("edge_scan_frames_total",
                                        "Camera frames sent by handhelds, by result", {"result"});
  auto& codes_read =
      metrics.counter("edge_scan_frame_codes_total", "Codes read from handheld camera frames");

  server.route(
      "POST", "/api/scan-frames", http::Access::roles_of(kScanners),
      [shared, options, logger, &frames, &codes_read, &clock](const http::Request& req) {
        auto refuse = [&](const Status& st, const char* result) {
          frames.with({result}).inc();
          logger.warn("scan_frame_refused", {{"by", req.principal.subject},
                                             {"result", result},
                                             {"bytes", req.body.size()},
                                             {"error", st.message()}});
          return http::Response::error(st);
        };
        const std::string type = content_type_of(req);
        if (type != "image/jpeg" && type != "image/png") {
          return refuse(
              Status(StatusCode::kUnsupportedMediaType,
                     "a frame is sent as image/jpeg or image/png, not '" + type.substr(0, 64) + "'",
                     "Content-Type"),
              "bad_type");
        }
        if (req.body.empty()) {
          return refuse(Status(StatusCode::kInvalidArgument, "the frame is empty", "image"),
                        "bad_image");
        }
        if (req.body.size() > options.max_bytes) {
          return refuse(Status(StatusCode::kPayloadTooLarge,
                               "a frame may be at most " + std::to_string(options.max_bytes) +
                                   " bytes, this one is " + std::to_string(req.body.size()),
                               "image"),
                        "too_large");
        }
        vision::ImageLimits limits;
        limits.max_bytes = options.max_bytes;
        limits.max_side = options.max_side;
        limits.max_pixels = options.max_pixels;
        auto image = vision::decode_image(req.body, limits);
        if (!image.ok()) {
          const bool too_large = image.status().code() == StatusCode::kPayloadTooLarge;
          // Whatever the sniffer called it, a body that is no JPEG or PNG is a bad image.
          Status st = image.status().code() == StatusCode::kUnsupportedMediaType
                          ? Status(StatusCode::kInvalidArgument,
                                   "the frame is not a JPEG or PNG image", "image")
                          : image.status();
          return refuse(st, too_large ? "too_large" : "bad_image");
        }
        const MonoTime started = clock.mono_now();
        auto found = shared->decode(*image);
        const double ms =
            std::chrono::duration<double, std::milli>(clock.mono_now() - started).count();
        if (!found.ok()) {
          return refuse(found.status(), found.status().code() == StatusCode::kPayloadTooLarge
                                            ? "too_large"
                                            : "bad_image");
        }
        nlohmann::json codes = nlohmann::json::array();
        for (const auto& d : *found) {
          nlohmann::json c = {{"text", d.text},
                              {"symbology", std::string(vision::symbology_name(d.symbology))}};
          if (!d.gtin14.empty()) c["gtin14"] = d.gtin14;
          if (!d.scan_code.empty()) c["scan_code"] = d.scan_code;
          codes.push_back(std::move(c));
        }
        frames.with({codes.empty() ? "no_code" : "read"}).inc();
        codes_read.inc(codes.size());
        return http::Response::json(200, {{"codes", std::move(codes)},
                                          {"width", image->cols},
                                          {"height", image->rows},
                                          {"decode_ms", static_cast<int>(ms + 0.5)}});
      });
}

}  // namespace shopeasy::edge::api
