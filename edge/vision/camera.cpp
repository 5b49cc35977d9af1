#include "edge/vision/camera.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <filesystem>
#include <set>

#include <opencv2/videoio.hpp>

#include "common/http/client.hpp"

namespace shopeasy::edge::vision {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool valid_id(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

bool starts_with(const std::string& s, std::string_view p) { return s.rfind(p, 0) == 0; }

bool is_image_name(const std::string& name) {
  if (name.empty() || name[0] == '.') return false;
  const auto dot = name.rfind('.');
  if (dot == std::string::npos) return false;
  std::string ext = name.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == "jpg" || ext == "jpeg" || ext == "png" || ext == "bmp" || ext == "pgm" ||
         ext == "ppm";
}

// A V4L2 device or a stream, kept open between frames.
class CaptureSource final : public FrameSource {
 public:
  CaptureSource(CameraConfig camera, ImageLimits limits)
      : camera_(std::move(camera)), limits_(limits) {}

  StatusOr<std::optional<Frame>> grab() override {
    try {
      if (!capture_.isOpened() && !open()) {
        return unavailable("cannot open " + camera_.source);
      }
      cv::Mat frame;
      if (!capture_.read(frame) || frame.empty()) {
        capture_.release();
        return unavailable("no frame from " + camera_.source + " (disconnected?)");
      }
      SHOPEASY_RETURN_IF_ERROR(check_frame(frame, limits_));
      return std::optional<Frame>(Frame{std::move(frame), camera_.source});
    } catch (const std::exception& e) {
      capture_.release();
      return unavailable("capture from " + camera_.source + " failed: " + e.what());
    }
  }

  void close() override {
    try {
      capture_.release();
    } catch (const std::exception&) {
      // Nothing left to release.
    }
  }

 private:
  bool open() {
    if (camera_.kind == SourceKind::kDevice) {
      const bool index =
          !camera_.source.empty() && std::all_of(camera_.source.begin(), camera_.source.end(),
                                                 [](char c) { return c >= '0' && c <= '9'; });
      if (index) return capture_.open(std::stoi(camera_.source), cv::CAP_V4L2);
      return capture_.open(camera_.source, cv::CAP_V4L2);
    }
    // Streams: bounded waits, and the newest frame rather than a queue of old ones.
    const std::vector<int> params = {cv::CAP_PROP_OPEN_TIMEOUT_MSEC, 5000,
                                     cv::CAP_PROP_READ_TIMEOUT_MSEC, 5000};
    if (!capture_.open(camera_.source, cv::CAP_FFMPEG, params)) return false;
    capture_.set(cv::CAP_PROP_BUFFERSIZE, 1);
    return true;
  }

  CameraConfig camera_;
  ImageLimits limits_;
  cv::VideoCapture capture_;
};

// An HTTP(S) URL answering with one still image per request.
class SnapshotSource final : public FrameSource {
 public:
  SnapshotSource(std::string base, std::string path, ImageLimits limits)
      : base_(std::move(base)), path_(std::move(path)), limits_(limits) {}

  StatusOr<std::optional<Frame>> grab() override {
    if (!client_) {
      http::ClientOptions o;
      o.connect_timeout = std::chrono::milliseconds(3000);
      o.read_timeout = std::chrono::milliseconds(10000);
      // A camera (or whatever answers at its address) cannot make the edge buffer more
      // than one allowed image file.
      o.max_response_bytes = limits_.max_bytes;
      auto c = http::HttpClient::create(base_, o);
      if (!c.ok()) return c.status();
      client_ = std::move(*c);
    }
    auto r = client_->get(path_);
    if (!r.ok()) {
      client_.reset();
      return unavailable(base_ + path_ + ": " + r.status().message());
    }
    if (r->status != 200) {
      return unavailable(base_ + path_ + " answered HTTP " + std::to_string(r->status));
    }
    auto img = decode_image(r->body, limits_);
    if (!img.ok()) return img.status();
    return std::optional<Frame>(Frame{std::move(*img), base_ + path_});
  }

  void close() override { client_.reset(); }

 private:
  std::string base_;
  std::string path_;
  ImageLimits limits_;
  std::unique_ptr<http::HttpClient> client_;
};

}  // namespace

std::string_view source_kind_name(SourceKind k) {
  switch (k) {
    case SourceKind::kDevice:
      return "device";
    case SourceKind::kStream:
      return "stream";
    case SourceKind::kSnapshot:
      return "snapshot";
    case SourceKind::kFolder:
      return "folder";
  }
  return "folder";
}

std::string_view trigger_name(Trigger t) {
  switch (t) {
    case Trigger::kInterval:
      return "interval";
    case Trigger::kNewFile:
      return "new_file";
    case Trigger::kManual:
      return "manual";
  }
  return "interval";
}

StatusOr<std::vector<CameraConfig>> parse_cameras(const json& cameras) {
  std::vector<CameraConfig> out;
  if (cameras.is_null()) return out;
  if (!cameras.is_array()) return invalid_argument("must be an array", "vision.cameras");
  std::set<std::string> ids;
  static const std::set<std::string> kKeys = {
      "id",        "source", "every_s",       "trigger",
      "planogram", "decode", "stale_after_s", "delete_after_read"};
  for (std::size_t i = 0; i < cameras.size(); ++i) {
    const std::string f = "vision.cameras[" + std::to_string(i) + "]";
    const json& c = cameras[i];
    if (!c.is_object()) return invalid_argument("must be an object", f);
    for (const auto& [key, value] : c.items()) {
      if (!kKeys.count(key)) return invalid_argument("unknown key", f + "." + key);
    }
    CameraConfig cam;
    if (!c.contains("id") || !c.at("id").is_string() || !valid_id(c.at("id").get<std::string>())) {
      return invalid_argument("must be 1..64 of [A-Za-z0-9._-]", f + ".id");
    }
    cam.id = c.at("id").get<std::string>();
    if (!ids.insert(cam.id).second)
      return invalid_argument("duplicate camera id " + cam.id, f + ".id");
    if (!c.contains("source") || !c.at("source").is_string() ||
        c.at("source").get<std::string>().empty()) {
      return invalid_argument("is required", f + ".source");
    }
    const std::string src = c.at("source").get<std::string>();
    if (starts_with(src, "folder:")) {
      cam.kind = SourceKind::kFolder;
      cam.source = src.substr(7);
      if (cam.source.empty()) return invalid_argument("folder path is empty", f + ".source");
    } else if (starts_with(src, "rtsp://") || starts_with(src, "rtsps://")) {
      cam.kind = SourceKind::kStream;
      cam.source = src;
    } else if (starts_with(src, "http://") || starts_with(src, "https://")) {
      cam.kind = SourceKind::kSnapshot;
      cam.source = src;
    } else if (starts_with(src, "/dev/") || std::all_of(src.begin(), src.end(), [](char ch) {
                 return ch >= '0' && ch <= '9';
               })) {
      cam.kind = SourceKind::kDevice;
      cam.source = src;
    } else {
      return invalid_argument(
          "must be a device (/dev/videoN or an index), rtsp://, http(s):// or folder:<path>",
          f + ".source");
    }
    if (c.contains("every_s")) {
      const json& v = c.at("every_s");
      if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0.2 ||
          v.get<double>() > 86400) {
        return invalid_argument("must be a number of seconds 0.2..86400", f + ".every_s");
      }
      cam.every_s = v.get<double>();
    }
    if (c.contains("trigger")) {
      const json& v = c.at("trigger");
      const std::string t = v.is_string() ? v.get<std::string>() : "";
      if (t == "interval") {
        cam.trigger = Trigger::kInterval;
      } else if (t == "new_file") {
        cam.trigger = Trigger::kNewFile;
      } else if (t == "manual") {
        cam.trigger = Trigger::kManual;
      } else {
        return invalid_argument("must be interval, new_file or manual", f + ".trigger");
      }
      if (cam.trigger == Trigger::kNewFile && cam.kind != SourceKind::kFolder) {
        return invalid_argument("new_file needs a folder: source", f + ".trigger");
      }
    }
    if (c.contains("planogram")) {
      const json& v = c.at("planogram");
      if (!v.is_string()) return invalid_argument("must be a file name", f + ".planogram");
      cam.planogram = v.get<std::string>();
    }
    if (c.contains("decode")) {
      if (!c.at("decode").is_boolean())
        return invalid_argument("must be true or false", f + ".decode");
      cam.decode = c.at("decode").get<bool>();
    }
    if (c.contains("stale_after_s")) {
      const json& v = c.at("stale_after_s");
      if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0) {
        return invalid_argument("must be a number of seconds >= 0", f + ".stale_after_s");
      }
      cam.stale_after_s = v.get<double>();
    }
    if (c.contains("delete_after_read")) {
      if (!c.at("delete_after_read").is_boolean()) {
        return invalid_argument("must be true or false", f + ".delete_after_read");
      }
      cam.delete_after_read = c.at("delete_after_read").get<bool>();
    }
    if ((cam.stale_after_s > 0 || cam.delete_after_read) && cam.kind != SourceKind::kFolder) {
      return invalid_argument("applies to folder: sources only", f);
    }
    if (!cam.decode && cam.planogram.empty()) {
      return invalid_argument("has nothing to do (decode is false and there is no planogram)", f);
    }
    out.push_back(std::move(cam));
  }
  return out;
}

FolderSource::FolderSource(std::string dir, ImageLimits limits, int settle_polls,
                           bool delete_after_read)
    : dir_(std::move(dir)),
      limits_(limits),
      settle_polls_(std::max(0, settle_polls)),
      delete_after_read_(delete_after_read) {}

StatusOr<std::optional<Frame>> FolderSource::grab() {
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) return unavailable("folder " + dir_ + " is not available");
  std::map<std::string, Seen> now;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!is_image_name(name) || !it->is_regular_file(ec)) continue;
    Seen s;
    s.size = it->file_size(ec);
    if (ec) continue;
    const auto t = it->last_write_time(ec);
    if (ec) continue;
    s.mtime_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    now[name] = s;
  }
  if (ec) return unavailable("cannot list " + dir_ + ": " + ec.message());
  // Forget what is gone; count how long each file has stayed the same.
  for (auto it = done_.begin(); it != done_.end();) {
    it = now.count(*it) ? std::next(it) : done_.erase(it);
  }
  std::optional<std::string> next;
  std::int64_t next_time = 0;
  for (auto& [name, s] : now) {
    if (done_.count(name)) continue;
    auto prev = pending_.find(name);
    if (prev != pending_.end() && prev->second.size == s.size &&
        prev->second.mtime_ns == s.mtime_ns) {
      s.stable = prev->second.stable + 1;
    }
    if (s.stable >= settle_polls_ &&
        (!next || s.mtime_ns < next_time || (s.mtime_ns == next_time && name < *next))) {
      next = name;
      next_time = s.mtime_ns;
    }
  }
  pending_.clear();
  for (const auto& [name, s] : now) {
    if (!done_.count(name)) pending_[name] = s;
  }
  if (!next) return std::optional<Frame>();
  done_.insert(*next);
  pending_.erase(*next);
  const std::string path = (fs::path(dir_) / *next).string();
  auto img = read_image_file(path, limits_);
  if (delete_after_read_) fs::remove(path, ec);
  if (!img.ok()) return img.status();
  return std::optional<Frame>(Frame{std::move(*img), *next});
}

StatusOr<std::unique_ptr<FrameSource>> open_source(const CameraConfig& camera,
                                                   const ImageLimits& limits,
                                                   int folder_settle_polls) {
  switch (camera.kind) {
    case SourceKind::kFolder:
      return std::unique_ptr<FrameSource>(std::make_unique<FolderSource>(
          camera.source, limits, folder_settle_polls, camera.delete_after_read));
    case SourceKind::kSnapshot: {
      const std::string& url = camera.source;
      const std::size_t scheme = url.find("://");
      const std::size_t slash = url.find('/', scheme + 3);
      const std::string base = slash == std::string::npos ? url : url.substr(0, slash);
      const std::string path = slash == std::string::npos ? "/" : url.substr(slash);
      return std::unique_ptr<FrameSource>(std::make_unique<SnapshotSource>(base, path, limits));
    }
    case SourceKind::kDevice:
    case SourceKind::kStream:
      return std::unique_ptr<FrameSource>(std::make_unique<CaptureSource>(camera, limits));
  }
  return invalid_argument("unknown source kind", "vision.cameras.source");
}

}  // namespace shopeasy::edge::vision
