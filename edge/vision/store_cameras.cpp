#include "edge/vision/store_cameras.hpp"

#include <algorithm>
#include <exception>
#include <filesystem>
#include <string_view>

#include "edge/vision/camera.hpp"

namespace shopeasy::edge::vision {
namespace {

using nlohmann::json;

constexpr std::string_view kCamerasKey = "vision.cameras";
// How often the cameras' thread looks for due work: a folder camera sees a new upload
// within this, and a stop() waits at most this long for the thread.
constexpr int kTickIntervalMs = 200;

// The config loader prefixes the key; the camera's own part of the field follows it.
std::string check_cameras(const config::Value& v) {
  auto parsed = parse_cameras(std::get<json>(v));
  if (parsed.ok()) return {};
  std::string field = parsed.status().field();
  if (field.rfind(kCamerasKey, 0) == 0) field.erase(0, kCamerasKey.size());
  return field.empty() ? parsed.status().message() : field + ": " + parsed.status().message();
}

// Whether the catalog lists this GTIN-14 as one of a product's barcodes. The stock
// search also matches SKU prefixes and names, so the product's own barcode list decides.
bool in_catalog(inventory::Inventory& inventory, const std::string& gtin14) {
  inventory::StockQuery q;
  q.text = gtin14;
  q.limit = 5;
  auto page = inventory.list_stock(q);
  if (!page.ok()) return false;
  for (const json& item : (*page)["items"]) {
    auto product = inventory.get_sku(item.value("sku", ""), 1);
    if (!product.ok()) continue;
    const json& codes = (*product)["barcodes"];
    if (std::find(codes.begin(), codes.end(), gtin14) != codes.end()) return true;
  }
  return false;
}

}  // namespace

void add_vision_options(config::Schema& schema) {
  config::Option cameras = config::json_option(
      std::string(kCamerasKey), json::array(),
      "Shelf and product cameras: [{\"id\", \"source\" (/dev/videoN, index, rtsp://, "
      "http(s):// snapshot URL or folder:<path>), \"every_s\", \"trigger\" (interval, "
      "new_file, manual), \"planogram\", \"decode\", \"stale_after_s\", "
      "\"delete_after_read\"}]");
  cameras.validator = check_cameras;
  schema.add(cameras);
  schema.add(config::string_option("vision.planogram_dir", "/etc/shopeasy/planograms",
                                   "Where camera planogram files (and their reference images) "
                                   "are looked up"));
  schema.add(config::double_option("vision.backoff_max_s", 60, 1, 3600,
                                   "A failing camera is retried after 1 s, doubling up to this"));
  schema.add(config::int_option("vision.offline_after_failures", 3, 1, 1000,
                                "Failures in a row before a camera is reported offline"));
  schema.add(config::int_option("vision.scan_history", 200, 1, 10000,
                                "Recent shelf scans kept in memory for the API"));
}

StatusOr<VisionOptions> vision_options_from(const config::Config& config,
                                            const std::string& state_dir) {
  VisionOptions o;
  o.cameras = config.get_json(kCamerasKey);
  if (auto parsed = parse_cameras(o.cameras); !parsed.ok()) return parsed.status();
  o.planogram_dir = config.get_string("vision.planogram_dir");
  o.state_dir = state_dir;
  o.backoff_max_s = std::max(o.backoff_initial_s, config.get_double("vision.backoff_max_s"));
  o.offline_after_failures = static_cast<int>(config.get_int("vision.offline_after_failures"));
  o.scan_history = static_cast<std::size_t>(config.get_int("vision.scan_history"));
  o.tick_interval_ms = o.cameras.empty() ? 0 : kTickIntervalMs;
  return o;
}

StatusOr<std::unique_ptr<VisionService>> open_store_cameras(
    const config::Config& config, const std::string& state_dir, inventory::Inventory& inventory,
    const Clock& clock, events::EventBus& bus, log::Logger logger, metrics::Registry& metrics) {
  auto options = vision_options_from(config, state_dir);
  if (!options.ok()) return options.status();
  CatalogLookup catalog = [&inventory](const std::string& gtin14) {
    return in_catalog(inventory, gtin14);
  };
  OnHandLookup on_hand = [&inventory](const std::string& sku) -> std::optional<std::int64_t> {
    auto product = inventory.get_sku(sku, 1);
    if (!product.ok()) return std::nullopt;
    return (*product).value("on_hand", std::int64_t{0});
  };
  CodeSink sink = [&inventory, &clock, &bus, logger](const CameraCode& code) {
    auto seen =
        inventory.apply_scan(to_wire_scan(code), inventory::Actor{code.camera, code.source});
    if (!seen.ok()) {
      logger.warn(
          "camera_scan_refused",
          {{"camera", code.camera}, {"code", code.code}, {"error", seen.status().to_string()}});
      return;
    }
    events::Event e;
    e.type = "vision.product_seen";
    e.ts_ms = to_unix_ms(clock.wall_now());
    e.body = {{"camera", code.camera},   {"sku", seen->value("sku", "")},
              {"gtin14", code.gtin14},   {"symbology", code.symbology},
              {"scan_id", code.scan_id}, {"on_hand", seen->value("on_hand", std::int64_t{0})}};
    bus.publish(std::move(e));
  };
  return VisionService::open(std::move(*options), clock, bus, std::move(catalog),
                             std::move(on_hand), std::move(sink), std::move(logger), metrics);
}

}  // namespace shopeasy::edge::vision
