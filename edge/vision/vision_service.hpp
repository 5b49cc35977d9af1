// VisionService: the edge's cameras. The facade the daemon wires in; everything else
// in edge/vision is its machinery.
//
// Each camera (see camera.hpp for its configuration) is polled on its schedule by
// tick(). A frame is
// - decoded for product codes (decoder.hpp): a code is reported to the CodeSink only
//   when two consecutive frames agree on it and the CatalogLookup knows it, once per
//   appearance on camera;
// - scanned against the camera's planogram when it has one (shelf_scanner.hpp): the
//   result is kept (latest per camera, with an annotated JPEG, and a ring of recent
//   scans), served over HTTP and turned into events when a slot changes state.
// A camera that fails (unreachable, disconnected, unreadable images, or the same frame
// again and again: frozen) is retried with exponential backoff; after
// offline_after_failures failures in a row it is declared offline (event and metric)
// until a good frame arrives. Bad input never stops the service: unreadable images,
// frames of the wrong size for the planogram and bad planogram files are logged,
// counted in shopeasy_vision_bad_input_total{kind} and shown in the camera's status.
//
// Events (live-only, seq 0), body always with "camera":
//   vision.camera_offline {reason, failures, retry_in_ms}
//   vision.camera_online  {offline_for_ms}
//   vision.shelf_scan     {scan summary: registered, summary counts, ts_ms}
//   vision.slot_empty / vision.slot_low / vision.wrong_product / vision.slot_ok
//                         {slot, sku, fill, previous, codes}  on a change of state
//   vision.phantom_stock  {slot, sku, on_hand, proposal: {"action": "cycle_count",
//                          "skus": [sku]}}  when an empty slot's SKU is on hand
//   vision.registration_failed {}  when the shelf can no longer be matched
//
// HTTP (register_routes; reads need viewer, picker, manager or admin; the trigger
// manager or admin):
//   GET  /api/shelf-scans[?camera=<id>][&limit=<n>]  cameras with status and latest
//        scan summary, and recent scans newest first (limit 1..200, default 20)
//   GET  /api/shelf-scans/{camera}        the camera's latest scan (404 if none)
//   GET  /api/shelf-scans/{camera}/image  its annotated image, image/jpeg (404 if none)
//   POST /api/shelf-scans/{camera}/trigger  take a frame at the next tick (202)
//
// Threading: tick() runs the cameras one after another on the calling thread; call
// it from one thread at a time (the daemon's worker, every ~200 ms), or set
// tick_interval_ms for an internal thread. Frame work (decode ~10 ms, shelf scan
// ~100-200 ms at 1080p) happens inside tick(). The HTTP handlers, status() and
// trigger() are thread-safe. Callbacks run on the ticking thread and must be
// thread-safe with respect to the rest of the daemon; exceptions from them are caught.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock/clock.hpp"
#include "common/http/server.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/status/status.hpp"
#include "common/sync/mutex.hpp"
#include "common/wire/scan.hpp"
#include "edge/events/event_bus.hpp"
#include "edge/vision/camera.hpp"
#include "edge/vision/image_io.hpp"
#include "edge/vision/shelf_scanner.hpp"

namespace shopeasy::edge::vision {

// Whether a GTIN-14 is in the store's catalog. Called on the ticking thread.
using CatalogLookup = std::function<bool(const std::string& gtin14)>;

// A product code a camera read and confirmed.
struct CameraCode {
  std::string camera;  // camera id
  std::string source;  // "camera:<id>", for Actor::source
  std::string gtin14;
  std::string code;       // what edge::barcode::parse_scan reads to the same product
  std::string symbology;  // "ean-13", "gs1-128", "datamatrix", ...
  std::string scan_id;    // unique per confirmation: the idempotency key
  std::int64_t ts_ms = 0;
};
using CodeSink = std::function<void(const CameraCode& code)>;

// The handheld-scan form of a camera code (action lookup, qty 1, scanner_id the
// camera's source), for Inventory::apply_scan with Actor{camera, "camera:<id>"}.
wire::Scan to_wire_scan(const CameraCode& code);

struct VisionOptions {
  // vision.cameras: the camera array (camera.hpp). Empty: the service idles.
  nlohmann::json cameras = nlohmann::json::array();
  // vision.planogram_dir: where camera "planogram" names are looked up.
  std::string planogram_dir;
  // Set from the daemon's state_dir: the latest scan and image per camera are kept
  // under <state_dir>/vision and shown again after a restart. Empty: memory only.
  std::string state_dir;
  double backoff_initial_s = 1;    // first retry delay after a failure
  double backoff_max_s = 60;       // retry delays double up to this
  int offline_after_failures = 3;  // failures in a row before "offline"
  int frozen_after_repeats = 2;    // identical frames in a row (after the first) = frozen
  int rearm_frames = 3;            // CodeConfirmer
  int folder_settle_polls = 1;     // FolderSource
  std::size_t scan_history = 200;  // recent scans kept across cameras
  int jpeg_quality = 80;           // annotated images
  int tick_interval_ms = 0;        // > 0: an internal thread calls tick()
  ImageLimits limits{};
  ShelfScannerOptions shelf{};
  DecoderOptions decoder{};
  // Builds each camera's source; default open_source(). Tests substitute fakes.
  SourceFactory source_factory;
};

class VisionService {
 public:
  // Validates the options and cameras (kInvalidArgument naming the config key, e.g.
  // "vision.cameras[1].source"), creates the state directory, loads each camera's
  // planogram and reference images (a bad one is logged, counted and shown in the
  // camera's status; the camera then only decodes) and builds the sources. `clock`,
  // `bus` and `metrics` must outlive the service. Any callback may be empty: without a
  // catalog no code is reported; without on_hand no phantom-stock check.
  [[nodiscard]] static StatusOr<std::unique_ptr<VisionService>> open(
      VisionOptions options, const Clock& clock, events::EventBus& bus, CatalogLookup catalog,
      OnHandLookup on_hand, CodeSink sink, log::Logger logger, metrics::Registry& metrics);
  ~VisionService();
  VisionService(const VisionService&) = delete;
  VisionService& operator=(const VisionService&) = delete;

  // Polls every camera that is due (by its schedule, a trigger or its retry time).
  // Never throws; a failing camera only affects itself.
  void tick() EXCLUDES(tick_mutex_, mutex_);
  // Asks for a frame from `camera` at the next tick (manual cameras, or now instead of
  // at the next interval). False for an unknown camera. Thread-safe.
  bool trigger(const std::string& camera) EXCLUDES(mutex_);
  // Registers the routes above; the service must outlive the server's use of them.
  void register_routes(http::HttpServer& server);
  // Stops the internal thread (if any) and releases devices. Idempotent.
  void stop() EXCLUDES(thread_mutex_, tick_mutex_);

  // {"cameras": [{"id", "kind", "trigger", "state": "starting|online|offline",
  //   "failures", "last_error"?, "last_frame_ms"?, "planogram": {"ok", "error"?},
  //   "latest"?: scan summary}]}. Thread-safe.
  nlohmann::json status() const EXCLUDES(mutex_);
  // The latest scan of a camera as JSON (to_json(ShelfScan)), or nullopt.
  std::optional<nlohmann::json> latest_scan(const std::string& camera) const EXCLUDES(mutex_);
  // The latest annotated image (JPEG bytes), or nullopt.
  std::optional<std::string> latest_image(const std::string& camera) const EXCLUDES(mutex_);
  // Recent scans newest first, optionally of one camera.
  nlohmann::json recent_scans(const std::optional<std::string>& camera, std::size_t limit) const
      EXCLUDES(mutex_);

 private:
  struct Camera;
  VisionService(VisionOptions options, const Clock& clock, events::EventBus& bus,
                CatalogLookup catalog, OnHandLookup on_hand, CodeSink sink, log::Logger logger,
                metrics::Registry& metrics);
  Status init();
  // The internal thread: tick(), then wait tick_interval_ms or until stop().
  void run_ticker() EXCLUDES(thread_mutex_);
  void process(Camera& c, MonoTime now);
  void on_failure(Camera& c, MonoTime now, const std::string& reason);
  void on_frame_ok(Camera& c, MonoTime now);
  void schedule_next(Camera& c, MonoTime now);
  void decode_frame(Camera& c, const cv::Mat& frame, std::int64_t ts_ms);
  void scan_shelf(Camera& c, const cv::Mat& frame, std::int64_t ts_ms);
  void publish(const std::string& type, nlohmann::json body);
  void bad_input(Camera& c, const std::string& kind, const std::string& message);
  void refresh_status(const Camera& c);
  void persist(const Camera& c, const nlohmann::json& scan, const std::string& jpeg);
  void load_persisted(Camera& c);

  VisionOptions options_;
  const Clock& clock_;
  events::EventBus& bus_;
  CatalogLookup catalog_;
  OnHandLookup on_hand_;
  CodeSink sink_;
  log::Logger logger_;
  metrics::Registry& metrics_;
  std::unique_ptr<BarcodeDecoder> decoder_;
  // Filled by init() and fixed afterwards; each Camera's state is touched only by tick()
  // and stop(), under tick_mutex_.
  std::vector<std::unique_ptr<Camera>> cameras_;

  // Shared with HTTP handlers.
  struct Published {
    nlohmann::json status;
    std::optional<nlohmann::json> latest;
    std::string latest_jpeg;
    bool triggered = false;
  };
  // Guards what the HTTP handlers read: each camera's published state and the history.
  mutable shopeasy::sync::Mutex mutex_;
  std::map<std::string, Published> published_ GUARDED_BY(mutex_);
  std::deque<nlohmann::json> history_ GUARDED_BY(mutex_);  // newest at the front

  shopeasy::sync::Mutex tick_mutex_;  // one tick() at a time; stop() closes the sources under it
  // Guards stopping_, the internal thread's signal to end.
  shopeasy::sync::Mutex thread_mutex_;
  shopeasy::sync::CondVar wake_;  // stopping_ set
  bool stopping_ GUARDED_BY(thread_mutex_) = false;
  std::thread thread_;

  metrics::CounterFamily& frames_;
  metrics::CounterFamily& offline_total_;
  metrics::GaugeFamily& online_;
  metrics::CounterFamily& codes_;
  metrics::CounterFamily& bad_input_;
  metrics::CounterFamily& slot_events_;
  metrics::Counter& decoder_errors_;
  metrics::Counter& decode_over_budget_;
  metrics::HistogramFamily& seconds_;
};

}  // namespace shopeasy::edge::vision
