// Cameras: their configuration and the sources frames come from. A source is a V4L2
// device (cv::VideoCapture), an RTSP/HTTP stream, an HTTP(S) snapshot URL fetched per
// frame, or a watched folder of image files (fixed cameras that upload stills, and
// tests). Sources only fetch; health, backoff and offline alerts are the service's.
//
// Configuration (one entry of the "vision.cameras" array):
//   {"id": "aisle-3-left",                 // 1..64 of [A-Za-z0-9._-]
//    "source": "/dev/video0" | "0" | "rtsp://..." | "http://cam/snap.jpg" |
//              "folder:/var/lib/shopeasy/uploads/aisle-3-left",
//    "every_s": 60,                        // schedule: one frame per interval (0.2..86400)
//    "trigger": "interval" | "new_file" | "manual",  // new_file: folders only, each
//                                          //   new file as soon as it is complete
//    "planogram": "aisle-3-left.json",     // optional, relative to the planogram dir
//    "decode": true,                       // report product codes it reads
//    "stale_after_s": 0,                   // folders: offline when no new file for this
//                                          //   long (0 = never)
//    "delete_after_read": false}           // folders: remove files once read
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "common/status/status.hpp"
#include "edge/vision/image_io.hpp"

namespace shopeasy::edge::vision {

enum class SourceKind { kDevice, kStream, kSnapshot, kFolder };
enum class Trigger { kInterval, kNewFile, kManual };
std::string_view source_kind_name(SourceKind k);
std::string_view trigger_name(Trigger t);

struct CameraConfig {
  std::string id;
  SourceKind kind = SourceKind::kFolder;
  std::string source;  // device path or index, URL, or folder path (without "folder:")
  double every_s = 60;
  Trigger trigger = Trigger::kInterval;
  std::string planogram;  // file name; empty for none
  bool decode = true;
  double stale_after_s = 0;
  bool delete_after_read = false;
};

// Validates the "vision.cameras" array. kInvalidArgument whose field is the path
// ("vision.cameras[1].source"); ids must be unique.
[[nodiscard]] StatusOr<std::vector<CameraConfig>> parse_cameras(const nlohmann::json& cameras);

struct Frame {
  cv::Mat image;       // BGR
  std::string origin;  // file name, URL or device
};

class FrameSource {
 public:
  virtual ~FrameSource() = default;
  // The next frame; nullopt when there is nothing new yet (a folder without a new
  // complete file). kUnavailable when the source is unreachable or disconnected;
  // kInvalidArgument / kPayloadTooLarge / kUnsupportedMediaType (field "image") when
  // what it delivered is not a usable image. Called from one thread at a time.
  [[nodiscard]] virtual StatusOr<std::optional<Frame>> grab() = 0;
  // Releases the device or connection; the next grab() reopens it.
  virtual void close() {}
};

using SourceFactory =
    std::function<StatusOr<std::unique_ptr<FrameSource>>(const CameraConfig& camera)>;

// The source for a camera. Opening is lazy: a missing device, folder or unreachable
// URL shows up as kUnavailable from grab(), so it is retried with backoff like any
// failure. `folder_settle_polls` is FolderSource's settle_polls.
[[nodiscard]] StatusOr<std::unique_ptr<FrameSource>> open_source(const CameraConfig& camera,
                                                                 const ImageLimits& limits,
                                                                 int folder_settle_polls = 1);

// A folder of stills. Each regular file with an image extension (.jpg .jpeg .png .bmp
// .pgm .ppm), not hidden and not ending in .tmp/.part, is read once, oldest first (by
// modification time, then name). A file is read once its size and time stayed the same
// over `settle_polls` listings, so half-written uploads are not read. An unreadable
// file is reported once (as an error) and skipped afterwards.
class FolderSource final : public FrameSource {
 public:
  FolderSource(std::string dir, ImageLimits limits, int settle_polls = 1,
               bool delete_after_read = false);
  StatusOr<std::optional<Frame>> grab() override;

 private:
  struct Seen {
    std::uintmax_t size = 0;
    std::int64_t mtime_ns = 0;
    int stable = 0;
  };
  std::string dir_;
  ImageLimits limits_;
  int settle_polls_;
  bool delete_after_read_;
  // Files read (or given up) that are still in the folder; names that disappear are
  // forgotten, so memory stays bounded by the folder's size.
  std::set<std::string> done_;
  std::map<std::string, Seen> pending_;
};

}  // namespace shopeasy::edge::vision
