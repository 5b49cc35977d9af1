// The store daemon's side of the cameras: the vision.* keys of the edge's option table
// and the VisionService tied to the store's catalog and ledger.
//
// A product code a camera confirms (two frames agree) is reported only when the
// catalog knows its GTIN; it then goes through the handheld scan pipeline
// (Inventory::apply_scan, action lookup, actor source "camera:<id>") and is announced on
// the event bus as vision.product_seen {camera, sku, gtin14, symbology, scan_id,
// on_hand}. Empty slots are checked against the ledger's on-hand (phantom stock).
#pragma once

#include <memory>
#include <string>

#include "common/clock/clock.hpp"
#include "common/config/config.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/status/status.hpp"
#include "edge/events/event_bus.hpp"
#include "edge/inventory/inventory.hpp"
#include "edge/vision/vision_service.hpp"

namespace shopeasy::edge::vision {

// Adds vision.cameras (validated camera by camera, so a bad entry stops start-up as a
// configuration error naming it), vision.planogram_dir, vision.backoff_max_s,
// vision.offline_after_failures and vision.scan_history.
void add_vision_options(config::Schema& schema);

// The service's options from a loaded configuration; shelf-scan results are kept under
// <state_dir>/vision. kInvalidArgument naming the key for a bad camera entry.
[[nodiscard]] StatusOr<VisionOptions> vision_options_from(const config::Config& config,
                                                          const std::string& state_dir);

// Opens the cameras with their own polling thread (none when no camera is
// configured). `inventory`, `clock`, `bus` and `metrics` must outlive the service.
[[nodiscard]] StatusOr<std::unique_ptr<VisionService>> open_store_cameras(
    const config::Config& config, const std::string& state_dir, inventory::Inventory& inventory,
    const Clock& clock, events::EventBus& bus, log::Logger logger, metrics::Registry& metrics);

}  // namespace shopeasy::edge::vision
