#include "edge/vision/vision_service.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <opencv2/core.hpp>

#include "edge/vision/confirmer.hpp"
#include "edge/vision/planogram.hpp"

namespace shopeasy::edge::vision {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

enum class CameraState { kStarting, kOnline, kOffline };

std::string_view state_name(CameraState s) {
  switch (s) {
    case CameraState::kStarting:
      return "starting";
    case CameraState::kOnline:
      return "online";
    case CameraState::kOffline:
      return "offline";
  }
  return "starting";
}

// A 64-bit FNV-1a over the pixels: identical frames (a frozen camera) hash alike.
std::uint64_t frame_hash(const cv::Mat& m) {
  std::uint64_t h = 1469598103934665603ull;
  const std::size_t row_bytes = static_cast<std::size_t>(m.cols) * m.elemSize();
  for (int y = 0; y < m.rows; ++y) {
    const auto* p = m.ptr<unsigned char>(y);
    for (std::size_t i = 0; i < row_bytes; ++i) {
      h ^= p[i];
      h *= 1099511628211ull;
    }
  }
  h ^= static_cast<std::uint64_t>(m.cols) << 32 | static_cast<std::uint64_t>(m.rows);
  return h;
}

bool write_atomically(const fs::path& path, const std::string& bytes) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return false;
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) return false;
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  return !ec;
}

std::optional<std::string> read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string event_for(SlotState s) {
  switch (s) {
    case SlotState::kEmpty:
      return "vision.slot_empty";
    case SlotState::kLow:
      return "vision.slot_low";
    case SlotState::kWrongProduct:
      return "vision.wrong_product";
    case SlotState::kOk:
      return "vision.slot_ok";
    case SlotState::kUnknown:
      return "";
  }
  return "";
}

}  // namespace

wire::Scan to_wire_scan(const CameraCode& code) {
  wire::Scan s;
  s.scan_id = code.scan_id;
  s.scanner_id = code.source;
  s.code = code.code;
  s.action = wire::ScanAction::kLookup;
  s.qty = 1;
  if (code.ts_ms > 0) s.ts_ms = code.ts_ms;
  return s;
}

struct VisionService::Camera {
  CameraConfig config;
  std::unique_ptr<FrameSource> source;
  std::unique_ptr<ShelfScanner> scanner;
  std::string planogram_error;
  CameraState state = CameraState::kStarting;
  int failures = 0;
  std::string last_error;
  MonoTime next_due{};
  MonoTime offline_since{};
  std::optional<MonoTime> last_frame_at;
  std::int64_t last_frame_ms = 0;
  bool has_hash = false;
  std::uint64_t last_hash = 0;
  int repeats = 0;
  CodeConfirmer confirmer;
  std::uint64_t confirmations = 0;
  std::map<std::string, SlotState> slot_states;
  std::map<std::string, bool> phantom;
  bool was_registered = true;
  std::uint64_t learning_resets = 0;  // of the scanner's learned state, last seen
  std::optional<json> latest_summary;
  metrics::Gauge* online = nullptr;
};

VisionService::VisionService(VisionOptions options, const Clock& clock, events::EventBus& bus,
                             CatalogLookup catalog, OnHandLookup on_hand, CodeSink sink,
                             log::Logger logger, metrics::Registry& metrics)
    : options_(std::move(options)),
      clock_(clock),
      bus_(bus),
      catalog_(std::move(catalog)),
      on_hand_(std::move(on_hand)),
      sink_(std::move(sink)),
      logger_(std::move(logger)),
      metrics_(metrics),
      frames_(metrics.counter_family("shopeasy_vision_frames_total",
                                     "Camera frame attempts by camera and result",
                                     {"camera", "result"})),
      offline_total_(metrics.counter_family("shopeasy_vision_camera_offline_total",
                                            "Times a camera was declared offline", {"camera"})),
      online_(metrics.gauge_family("shopeasy_vision_camera_online",
                                   "1 while the camera delivers good frames", {"camera"})),
      codes_(metrics.counter_family("shopeasy_vision_codes_total",
                                    "Codes read by cameras, by what became of them", {"outcome"})),
      bad_input_(metrics.counter_family("shopeasy_vision_bad_input_total",
                                        "Unusable images, frames and planograms", {"kind"})),
      slot_events_(metrics.counter_family("shopeasy_vision_slot_events_total",
                                          "Shelf slot changes reported", {"event"})),
      decoder_errors_(metrics.counter("shopeasy_vision_decoder_errors_total",
                                      "Decoder library failures caught on an image")),
      decode_over_budget_(
          metrics.counter("shopeasy_vision_decode_over_budget_total",
                          "Frames whose CPU budget ran out before every slower read was tried")),
      seconds_(metrics.histogram_family("shopeasy_vision_seconds",
                                        "Time spent on a frame, by stage",
                                        metrics::default_latency_buckets(), {"stage"})) {}

VisionService::~VisionService() { stop(); }

StatusOr<std::unique_ptr<VisionService>> VisionService::open(
    VisionOptions options, const Clock& clock, events::EventBus& bus, CatalogLookup catalog,
    OnHandLookup on_hand, CodeSink sink, log::Logger logger, metrics::Registry& metrics) {
  if (options.backoff_initial_s <= 0 || !std::isfinite(options.backoff_initial_s)) {
    return invalid_argument("must be positive", "vision.backoff_initial_s");
  }
  if (options.backoff_max_s < options.backoff_initial_s || !std::isfinite(options.backoff_max_s)) {
    return invalid_argument("must be at least backoff_initial_s", "vision.backoff_max_s");
  }
  if (options.offline_after_failures < 1) {
    return invalid_argument("must be at least 1", "vision.offline_after_failures");
  }
  if (options.frozen_after_repeats < 1) {
    return invalid_argument("must be at least 1", "vision.frozen_after_repeats");
  }
  if (options.scan_history < 1)
    return invalid_argument("must be at least 1", "vision.scan_history");
  std::unique_ptr<VisionService> s(new VisionService(std::move(options), clock, bus,
                                                     std::move(catalog), std::move(on_hand),
                                                     std::move(sink), std::move(logger), metrics));
  SHOPEASY_RETURN_IF_ERROR(s->init());
  if (s->options_.tick_interval_ms > 0) {
    s->thread_ = std::thread([raw = s.get()] { raw->run_ticker(); });
  }
  return s;
}

void VisionService::run_ticker() {
  shopeasy::sync::MutexLock lock(thread_mutex_);
  while (!stopping_) {
    lock.unlock();
    tick();
    lock.lock();
    // The pause between ticks is real time, so steady_clock rather than clock_ (a
    // FakeClock never moves on its own).
    const auto deadline =
        std::chrono::steady_clock::now() + milliseconds(options_.tick_interval_ms);
    while (!stopping_) {
      if (wake_.wait_until(thread_mutex_, deadline) == std::cv_status::timeout) break;
    }
  }
}

Status VisionService::init() {
  auto configs = parse_cameras(options_.cameras);
  if (!configs.ok()) return configs.status();
  if (!options_.state_dir.empty()) {
    std::error_code ec;
    fs::create_directories(fs::path(options_.state_dir) / "vision", ec);
    if (ec) return unavailable("cannot create " + options_.state_dir + "/vision: " + ec.message());
  }
  decoder_ = std::make_unique<BarcodeDecoder>(options_.decoder);
  const MonoTime now = clock_.mono_now();
  for (CameraConfig& cfg : *configs) {
    auto c = std::make_unique<Camera>();
    c->config = cfg;
    c->confirmer = CodeConfirmer(options_.rearm_frames);
    c->online = &online_.with({cfg.id});
    c->online->set(0);
    auto source = options_.source_factory
                      ? options_.source_factory(cfg)
                      : open_source(cfg, options_.limits, options_.folder_settle_polls);
    if (!source.ok()) return source.status().with_field_prefix("vision.cameras." + cfg.id);
    c->source = std::move(*source);
    if (!cfg.planogram.empty()) {
      const std::string path = options_.planogram_dir.empty()
                                   ? cfg.planogram
                                   : (fs::path(options_.planogram_dir) / cfg.planogram).string();
      auto plan = load_planogram(path);
      ShelfScannerOptions shelf_options = options_.shelf;
      // What the scanner learns without an empty reference survives restarts.
      if (!options_.state_dir.empty()) {
        shelf_options.state_prefix =
            (fs::path(options_.state_dir) / "vision" / (cfg.id + ".shelf")).string();
      }
      StatusOr<std::unique_ptr<ShelfScanner>> scanner =
          plan.ok()
              ? (plan->camera == cfg.id ? ShelfScanner::create(*plan, shelf_options)
                                        : StatusOr<std::unique_ptr<ShelfScanner>>(invalid_argument(
                                              "planogram is for camera " + plan->camera, "camera")))
              : StatusOr<std::unique_ptr<ShelfScanner>>(plan.status());
      if (scanner.ok()) {
        c->scanner = std::move(*scanner);
        if (!plan->reference_empty) {
          logger_.info("planogram_without_empty_reference",
                       {{"camera", cfg.id},
                        {"path", path},
                        {"effect", "empty looks are learned in service"}});
        }
        if (c->scanner->memory()) c->learning_resets = c->scanner->memory()->resets();
        if (!c->scanner->memory_note().empty()) {
          // A saved state of another planogram or reference, or a damaged one: the
          // camera learns afresh.
          logger_.warn("shelf_learning_reset",
                       {{"camera", cfg.id}, {"reason", c->scanner->memory_note()}});
        }
      } else {
        c->planogram_error = scanner.status().to_string();
        bad_input_.with({"planogram"}).inc();
        logger_.error("planogram_rejected",
                      {{"camera", cfg.id}, {"path", path}, {"error", c->planogram_error}});
      }
    }
    c->next_due = now;
    if (cfg.trigger == Trigger::kManual) c->next_due = MonoTime::max();
    c->last_frame_at = now;  // "stale" counts from start-up until the first frame
    load_persisted(*c);
    refresh_status(*c);
    cameras_.push_back(std::move(c));
  }
  logger_.info("vision_started", {{"cameras", cameras_.size()}});
  return Status::ok();
}

void VisionService::stop() {
  {
    shopeasy::sync::MutexLock lock(thread_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  shopeasy::sync::MutexLock lock(tick_mutex_);
  for (auto& c : cameras_) {
    if (c->source) c->source->close();
  }
}

bool VisionService::trigger(const std::string& camera) {
  shopeasy::sync::MutexLock lock(mutex_);
  auto it = published_.find(camera);
  if (it == published_.end()) return false;
  it->second.triggered = true;
  return true;
}

void VisionService::tick() {
  shopeasy::sync::MutexLock tick_lock(tick_mutex_);
  for (auto& cp : cameras_) {
    Camera& c = *cp;
    const MonoTime now = clock_.mono_now();
    bool triggered = false;
    {
      shopeasy::sync::MutexLock lock(mutex_);
      auto& pub = published_[c.config.id];
      triggered = pub.triggered;
      pub.triggered = false;
    }
    // A trigger does not skip a retry delay: a failing camera keeps its backoff.
    const bool due = now >= c.next_due || (triggered && c.failures == 0);
    if (!due) continue;
    try {
      process(c, now);
    } catch (const std::exception& e) {
      on_failure(c, now, std::string("internal error: ") + e.what());
    } catch (...) {
      on_failure(c, now, "internal error");
    }
    refresh_status(c);
  }
}

void VisionService::process(Camera& c, MonoTime now) {
  auto grabbed = c.source->grab();
  if (!grabbed.ok()) {
    const Status& st = grabbed.status();
    if (st.code() != StatusCode::kUnavailable) {
      frames_.with({c.config.id, "bad_image"}).inc();
      bad_input(c, "image", st.message());
    } else {
      frames_.with({c.config.id, "error"}).inc();
    }
    on_failure(c, now, st.message());
    return;
  }
  if (!grabbed->has_value()) {
    frames_.with({c.config.id, "none"}).inc();
    const MonoTime since = c.last_frame_at.value_or(now);
    if (c.config.stale_after_s > 0 &&
        now - since > std::chrono::duration<double>(c.config.stale_after_s)) {
      on_failure(
          c, now,
          "no new image for " + std::to_string(static_cast<long>(c.config.stale_after_s)) + " s");
      return;
    }
    schedule_next(c, now);
    return;
  }
  Frame& frame = **grabbed;
  if (Status st = check_frame(frame.image, options_.limits); !st.is_ok()) {
    frames_.with({c.config.id, "bad_image"}).inc();
    bad_input(c, "image", st.message());
    on_failure(c, now, st.message());
    return;
  }
  const std::uint64_t h = frame_hash(frame.image);
  if (c.has_hash && h == c.last_hash) {
    ++c.repeats;
    if (c.repeats >= options_.frozen_after_repeats) {
      frames_.with({c.config.id, "frozen"}).inc();
      on_failure(c, now, "frozen: the same frame " + std::to_string(c.repeats + 1) + " times");
      return;
    }
    // One repeat is not yet a fault, but there is nothing new to look at either.
    frames_.with({c.config.id, "repeat"}).inc();
    schedule_next(c, now);
    return;
  }
  c.has_hash = true;
  c.last_hash = h;
  c.repeats = 0;
  frames_.with({c.config.id, "ok"}).inc();
  on_frame_ok(c, now);
  const std::int64_t ts_ms = to_unix_ms(clock_.wall_now());
  c.last_frame_at = now;
  c.last_frame_ms = ts_ms;
  if (c.config.decode) decode_frame(c, frame.image, ts_ms);
  if (c.scanner) scan_shelf(c, frame.image, ts_ms);
  schedule_next(c, now);
}

void VisionService::schedule_next(Camera& c, MonoTime now) {
  using Seconds = std::chrono::duration<double>;
  switch (c.config.trigger) {
    case Trigger::kInterval:
      c.next_due = now + duration_cast<std::chrono::nanoseconds>(Seconds(c.config.every_s));
      break;
    case Trigger::kNewFile:
      // Listing a folder is cheap: look again soon.
      c.next_due =
          now + duration_cast<std::chrono::nanoseconds>(Seconds(std::min(c.config.every_s, 1.0)));
      break;
    case Trigger::kManual:
      c.next_due = MonoTime::max();
      break;
  }
}

void VisionService::on_failure(Camera& c, MonoTime now, const std::string& reason) {
  ++c.failures;
  c.last_error = reason;
  // The frame hash survives: a frozen camera stays frozen until a different frame.
  c.confirmer.reset();
  if (c.source) c.source->close();
  const double delay_s =
      std::min(options_.backoff_max_s,
               options_.backoff_initial_s * std::pow(2.0, std::min(c.failures - 1, 30)));
  const auto delay =
      duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(delay_s));
  c.next_due = now + delay;
  logger_.warn("camera_failed", {{"camera", c.config.id},
                                 {"reason", reason},
                                 {"failures", c.failures},
                                 {"retry_in_ms", static_cast<std::int64_t>(delay_s * 1000)}});
  if (c.failures >= options_.offline_after_failures && c.state != CameraState::kOffline) {
    c.state = CameraState::kOffline;
    c.offline_since = now;
    c.online->set(0);
    offline_total_.with({c.config.id}).inc();
    logger_.error("camera_offline", {{"camera", c.config.id}, {"reason", reason}});
    publish("vision.camera_offline", {{"camera", c.config.id},
                                      {"reason", reason},
                                      {"failures", c.failures},
                                      {"retry_in_ms", static_cast<std::int64_t>(delay_s * 1000)}});
  }
}

void VisionService::on_frame_ok(Camera& c, MonoTime now) {
  if (c.state == CameraState::kOffline) {
    const auto offline_for = duration_cast<milliseconds>(now - c.offline_since).count();
    logger_.info("camera_online", {{"camera", c.config.id}, {"offline_for_ms", offline_for}});
    publish("vision.camera_online", {{"camera", c.config.id}, {"offline_for_ms", offline_for}});
  }
  c.state = CameraState::kOnline;
  c.online->set(1);
  c.failures = 0;
  c.last_error.clear();
}

void VisionService::decode_frame(Camera& c, const cv::Mat& frame, std::int64_t ts_ms) {
  const MonoTime t0 = clock_.mono_now();
  DecodeStats stats;
  auto found = decoder_->decode(frame, &stats);
  seconds_.with({"decode"}).observe(std::chrono::duration<double>(clock_.mono_now() - t0).count());
  if (stats.library_errors > 0)
    decoder_errors_.inc(static_cast<std::uint64_t>(stats.library_errors));
  if (stats.over_budget) decode_over_budget_.inc();
  if (stats.dropped_check_digit > 0) {
    codes_.with({"dropped_check_digit"}).inc(static_cast<std::uint64_t>(stats.dropped_check_digit));
  }
  if (!found.ok()) {
    bad_input(c, "image", found.status().message());
    return;
  }
  std::vector<std::string> gtins;
  std::map<std::string, const Detection*> by_gtin;
  for (const Detection& d : *found) {
    if (d.gtin14.empty()) {
      codes_.with({"non_product"}).inc();
      continue;
    }
    codes_.with({"read"}).inc();
    gtins.push_back(d.gtin14);
    by_gtin.emplace(d.gtin14, &d);
  }
  for (const std::string& gtin : c.confirmer.observe(gtins)) {
    bool known = false;
    try {
      known = catalog_ && catalog_(gtin);
    } catch (const std::exception& e) {
      logger_.error("catalog_lookup_failed", {{"camera", c.config.id}, {"error", e.what()}});
    }
    if (!known) {
      codes_.with({"not_in_catalog"}).inc();
      logger_.debug("code_not_in_catalog", {{"camera", c.config.id}, {"gtin", gtin}});
      continue;
    }
    const Detection& d = *by_gtin.at(gtin);
    CameraCode code;
    code.camera = c.config.id;
    code.source = "camera:" + c.config.id;
    code.gtin14 = gtin;
    code.code = d.scan_code.empty() ? gtin : d.scan_code;
    code.symbology = std::string(symbology_name(d.symbology));
    code.scan_id = "camera:" + c.config.id.substr(0, 24) + ":" + std::to_string(ts_ms) + ":" +
                   std::to_string(++c.confirmations % 1000);
    code.ts_ms = ts_ms;
    codes_.with({"reported"}).inc();
    try {
      if (sink_) sink_(code);
    } catch (const std::exception& e) {
      logger_.error("code_sink_failed", {{"camera", c.config.id}, {"error", e.what()}});
    }
  }
}

void VisionService::scan_shelf(Camera& c, const cv::Mat& frame, std::int64_t ts_ms) {
  if (Status st = check_frame_size(c.scanner->planogram(), frame.size()); !st.is_ok()) {
    bad_input_.with({"frame_size"}).inc();
    c.planogram_error = st.message();
    logger_.warn("frame_size_mismatch", {{"camera", c.config.id}, {"error", st.message()}});
    return;
  }
  const MonoTime t0 = clock_.mono_now();
  OnHandLookup safe_on_hand;
  if (on_hand_) {
    safe_on_hand = [this, &c](const std::string& sku) -> std::optional<std::int64_t> {
      try {
        return on_hand_(sku);
      } catch (const std::exception& e) {
        logger_.error("on_hand_lookup_failed", {{"camera", c.config.id}, {"error", e.what()}});
        return std::nullopt;
      }
    };
  }
  auto scan = c.scanner->scan(frame, ts_ms, safe_on_hand);
  if (!scan.ok()) {
    bad_input(c, "image", scan.status().message());
    return;
  }
  seconds_.with({"shelf"}).observe(std::chrono::duration<double>(clock_.mono_now() - t0).count());
  c.planogram_error.clear();
  json scan_json = to_json(*scan);
  std::string jpeg;
  if (auto bytes = encode_jpeg(c.scanner->annotate(frame, *scan), options_.jpeg_quality);
      bytes.ok()) {
    jpeg = std::move(*bytes);
  }
  // Events: the scan itself, then every slot whose state changed.
  publish("vision.shelf_scan", {{"camera", c.config.id},
                                {"ts_ms", ts_ms},
                                {"registered", scan->registered},
                                {"summary", scan_json["summary"]}});
  if (!scan->registered && c.was_registered) {
    publish("vision.registration_failed", {{"camera", c.config.id}});
    logger_.warn("shelf_registration_failed", {{"camera", c.config.id}});
  }
  c.was_registered = scan->registered;
  if (scan->learning && scan->learning_resets > c.learning_resets) {
    logger_.warn("shelf_learning_reset",
                 {{"camera", c.config.id}, {"reason", scan->learning_reset}});
    publish("vision.learning_reset", {{"camera", c.config.id}, {"reason", scan->learning_reset}});
  }
  c.learning_resets = scan->learning_resets;
  for (const SlotResult& s : scan->slots) {
    if (s.state == SlotState::kUnknown) continue;
    auto prev = c.slot_states.find(s.id);
    const SlotState before = prev == c.slot_states.end() ? SlotState::kOk : prev->second;
    c.slot_states[s.id] = s.state;
    if (s.state != before) {
      const std::string type = event_for(s.state);
      slot_events_.with({type}).inc();
      publish(type, {{"camera", c.config.id},
                     {"slot", s.id},
                     {"sku", s.sku},
                     {"fill", std::round(s.fill * 100) / 100},
                     {"previous", slot_state_name(before)},
                     {"codes", s.codes}});
    }
    const bool was_phantom = c.phantom[s.id];
    c.phantom[s.id] = s.phantom_stock;
    if (s.phantom_stock && !was_phantom) {
      slot_events_.with({"vision.phantom_stock"}).inc();
      publish("vision.phantom_stock",
              {{"camera", c.config.id},
               {"slot", s.id},
               {"sku", s.sku},
               {"on_hand", s.on_hand.value_or(0)},
               {"proposal", {{"action", "cycle_count"}, {"skus", json::array({s.sku})}}}});
    }
  }
  c.latest_summary =
      json{{"ts_ms", ts_ms}, {"registered", scan->registered}, {"summary", scan_json["summary"]}};
  // The camera's status (online, this summary) is published before the scan itself, so
  // a reader who sees the scan never sees the camera still "starting".
  refresh_status(c);
  {
    shopeasy::sync::MutexLock lock(mutex_);
    Published& pub = published_[c.config.id];
    pub.latest = scan_json;
    pub.latest_jpeg = jpeg;
    history_.push_front(scan_json);
    while (history_.size() > options_.scan_history) history_.pop_back();
  }
  persist(c, scan_json, jpeg);
}

void VisionService::publish(const std::string& type, json body) {
  events::Event e;
  e.seq = 0;
  e.type = type;
  e.body = std::move(body);
  e.ts_ms = to_unix_ms(clock_.wall_now());
  bus_.publish(std::move(e));
}

void VisionService::bad_input(Camera& c, const std::string& kind, const std::string& message) {
  bad_input_.with({kind}).inc();
  logger_.warn("bad_input", {{"camera", c.config.id}, {"kind", kind}, {"error", message}});
}

void VisionService::refresh_status(const Camera& c) {
  json s = {{"id", c.config.id},
            {"kind", source_kind_name(c.config.kind)},
            {"trigger", trigger_name(c.config.trigger)},
            {"state", state_name(c.state)},
            {"failures", c.failures}};
  if (!c.last_error.empty()) s["last_error"] = c.last_error;
  if (c.last_frame_ms > 0) s["last_frame_ms"] = c.last_frame_ms;
  if (!c.config.planogram.empty()) {
    json p = {{"file", c.config.planogram},
              {"ok", c.scanner != nullptr && c.planogram_error.empty()}};
    if (!c.planogram_error.empty()) p["error"] = c.planogram_error;
    if (c.scanner && c.scanner->memory()) {
      const SlotMemory& m = *c.scanner->memory();
      json l = {{"slots_with_empty_look", m.slots_with_empty_look()},
                {"slots", c.scanner->planogram().slots.size()},
                {"resets", m.resets()}};
      if (!m.last_reset_reason().empty()) l["last_reset"] = m.last_reset_reason();
      if (!c.scanner->memory_note().empty()) l["note"] = c.scanner->memory_note();
      p["learning"] = l;
    }
    s["planogram"] = p;
  }
  if (c.latest_summary) s["latest"] = *c.latest_summary;
  shopeasy::sync::MutexLock lock(mutex_);
  published_[c.config.id].status = std::move(s);
}

void VisionService::persist(const Camera& c, const json& scan, const std::string& jpeg) {
  if (options_.state_dir.empty()) return;
  const fs::path dir = fs::path(options_.state_dir) / "vision";
  const bool ok = write_atomically(dir / (c.config.id + ".json"), scan.dump()) &&
                  (jpeg.empty() || write_atomically(dir / (c.config.id + ".jpg"), jpeg));
  if (!ok) logger_.warn("persist_failed", {{"camera", c.config.id}, {"dir", dir.string()}});
}

void VisionService::load_persisted(Camera& c) {
  if (options_.state_dir.empty()) return;
  const fs::path dir = fs::path(options_.state_dir) / "vision";
  const auto text = read_all(dir / (c.config.id + ".json"));
  if (!text) return;
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return;
  const auto jpeg = read_all(dir / (c.config.id + ".jpg"));
  c.latest_summary = json{{"ts_ms", j.value("ts_ms", 0)},
                          {"registered", j.value("registered", false)},
                          {"summary", j.value("summary", json::object())}};
  shopeasy::sync::MutexLock lock(mutex_);
  Published& pub = published_[c.config.id];
  pub.latest = j;
  pub.latest_jpeg = jpeg.value_or("");
}

json VisionService::status() const {
  json cams = json::array();
  shopeasy::sync::MutexLock lock(mutex_);
  for (const auto& c : cameras_) {
    auto it = published_.find(c->config.id);
    if (it != published_.end()) cams.push_back(it->second.status);
  }
  return {{"cameras", cams}};
}

std::optional<json> VisionService::latest_scan(const std::string& camera) const {
  shopeasy::sync::MutexLock lock(mutex_);
  auto it = published_.find(camera);
  if (it == published_.end()) return std::nullopt;
  return it->second.latest;
}

std::optional<std::string> VisionService::latest_image(const std::string& camera) const {
  shopeasy::sync::MutexLock lock(mutex_);
  auto it = published_.find(camera);
  if (it == published_.end() || it->second.latest_jpeg.empty()) return std::nullopt;
  return it->second.latest_jpeg;
}

json VisionService::recent_scans(const std::optional<std::string>& camera,
                                 std::size_t limit) const {
  json out = json::array();
  shopeasy::sync::MutexLock lock(mutex_);
  for (const json& s : history_) {
    if (out.size() >= limit) break;
    if (camera && s.value("camera", "") != *camera) continue;
    out.push_back(s);
  }
  return out;
}

void VisionService::register_routes(http::HttpServer& server) {
  const http::Access readers = http::Access::roles_of({"viewer", "picker", "manager", "admin"});
  const http::Access managers = http::Access::roles_of({"manager", "admin"});
  server.route("GET", "/api/shelf-scans", readers, [this](const http::Request& r) {
    std::size_t limit = 20;
    if (auto l = r.query_param("limit")) {
      int v = 0;
      const auto [p, ec] = std::from_chars(l->data(), l->data() + l->size(), v);
      if (l->empty() || ec != std::errc() || p != l->data() + l->size() || v < 1 || v > 200) {
        return http::Response::error(invalid_argument("must be an integer 1..200", "limit"));
      }
      limit = static_cast<std::size_t>(v);
    }
    const std::optional<std::string> camera = r.query_param("camera");
    json st = status();
    if (camera) {
      json only = json::array();
      for (const json& c : st["cameras"]) {
        if (c.value("id", "") == *camera) only.push_back(c);
      }
      if (only.empty()) return http::Response::error(not_found("no camera " + *camera));
      st["cameras"] = only;
    }
    st["scans"] = recent_scans(camera, limit);
    return http::Response::json(200, st);
  });
  server.route("GET", "/api/shelf-scans/([A-Za-z0-9._-]{1,64})", readers,
               [this](const http::Request& r) {
                 const std::string& id = r.params.at(0);
                 auto scan = latest_scan(id);
                 if (!scan) return http::Response::error(not_found("no scan from camera " + id));
                 return http::Response::json(200, *scan);
               });
  server.route("GET", "/api/shelf-scans/([A-Za-z0-9._-]{1,64})/image", readers,
               [this](const http::Request& r) {
                 const std::string& id = r.params.at(0);
                 auto jpeg = latest_image(id);
                 if (!jpeg) return http::Response::error(not_found("no image from camera " + id));
                 return http::Response::text(200, std::move(*jpeg), "image/jpeg")
                     .with_header("Cache-Control", "no-store");
               });
  server.route("POST", "/api/shelf-scans/([A-Za-z0-9._-]{1,64})/trigger", managers,
               [this](const http::Request& r) {
                 const std::string& id = r.params.at(0);
                 if (!trigger(id)) return http::Response::error(not_found("no camera " + id));
                 return http::Response::json(202, {{"camera", id}, {"triggered", true}});
               });
}

}  // namespace shopeasy::edge::vision
