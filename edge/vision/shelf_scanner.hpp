// ShelfScanner: one camera's shelf against its planogram. Per frame it
// 1. registers the frame to the reference image (ArUco markers found in the reference,
//    else ORB features + RANSAC homography), so small camera moves do not matter;
// 2. evens out the light: a smooth per-channel gain field estimated from the parts of
//    the shelf that never hold product (boards, labels, frame);
// 3. judges each slot in narrow columns: a column is empty when it matches the empty
//    reference in structure (a variance-regularised correlation, robust to gain) and in
//    colour; without an empty reference, a column is full when it matches the full
//    reference. The slot's fill is its share of non-empty columns;
// 4. reads product codes inside non-empty slots (wrong product when a code of another
//    product is read there) and asks the ledger about empty ones (phantom stock).
// Without an empty reference a column is empty when it is unlike the full reference
// and like the shelf's back panel, sampled in the same frame above the products (the
// panel band each column shows in the full reference); and the scanner learns each
// column's empty look in service (SlotMemory): columns confidently empty (that, or
// unlike the full reference while the ledger has none of the SKU) are recorded, and
// from then on judged against their learned empty look as against an empty reference.
// Not thread-safe (one scanner per camera, used by one thread at a time).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "common/status/status.hpp"
#include "edge/vision/decoder.hpp"
#include "edge/vision/image_io.hpp"
#include "edge/vision/planogram.hpp"
#include "edge/vision/slot_memory.hpp"

namespace shopeasy::edge::vision {

// On-hand quantity of a SKU in the ledger; nullopt when unknown. Must be thread-safe.
using OnHandLookup = std::function<std::optional<std::int64_t>(const std::string& sku)>;

enum class SlotState { kOk, kLow, kEmpty, kWrongProduct, kUnknown };
// "ok", "low", "empty", "wrong_product", "unknown".
std::string_view slot_state_name(SlotState s);

struct SlotResult {
  std::string id;
  std::string sku;
  SlotState state = SlotState::kUnknown;
  double fill = 0;  // 0..1: share of the slot's width holding product
  int facings_expected = 0;
  int facings_seen = 0;                 // fill * facings, rounded
  std::vector<std::string> codes;       // GTIN-14s read inside the slot
  std::optional<std::int64_t> on_hand;  // asked for empty slots only
  bool phantom_stock = false;           // empty on camera, on hand in the ledger
  std::vector<cv::Point2f> polygon;     // in frame coordinates
};

struct ShelfScan {
  std::string camera;
  std::int64_t ts_ms = 0;
  bool registered = false;
  std::string registration;  // "aruco", "features", "identity" or "failed"
  int inliers = 0;           // points agreeing with the homography
  double shift_px = 0;       // mean move of the frame corners against the reference
  std::vector<SlotResult> slots;
  // Without an empty reference: the learned state after this frame.
  bool learning = false;
  int learned_empty_slots = 0;  // slots with a learned empty look
  std::uint64_t learning_resets = 0;
  std::string learning_reset;  // why it was last cleared (empty: never)
  int count(SlotState s) const;
};

// {"camera", "ts_ms", "registered", "registration", "inliers", "shift_px",
//  "summary": {"ok", "low", "empty", "wrong_product", "unknown", "phantom_stock"},
//  "slots": [{"id", "sku", "state", "fill", "facings": {"expected", "seen"}, "codes",
//             "on_hand"?, "phantom_stock"}],
//  "learning"?: {"slots_with_empty_look", "slots", "resets", "last_reset"?}}
nlohmann::json to_json(const ShelfScan& scan);

struct ShelfScannerOptions {
  int work_width = 960;  // analysis width; frames are scaled to it
  int orb_features = 1000;
  int min_inliers = 20;     // feature registration
  double max_shift = 0.15;  // registrations moving corners further (share of the
                            // diagonal) are refused as wrong
  bool read_codes = true;   // product codes inside non-empty slots (wrong product)
  // Without an empty reference: learn each slot's empty look in service.
  bool learn = true;
  // Where the learned state is kept ("<dir>/<camera>.shelf"; files <prefix>.json and
  // PNGs beside it); empty: in memory only. Loaded at create, saved after frames that
  // learned something (at most every save_every_ms, and whenever a slot's look is first
  // learned or the state is cleared).
  std::string state_prefix;
  std::int64_t save_every_ms = 60000;
  SlotMemoryOptions memory{};
  ImageLimits limits{};
};

class ShelfScanner {
 public:
  // Loads the planogram's reference images (their size must equal the planogram's)
  // and prepares markers and features. Errors: kNotFound / kInvalidArgument from
  // reading the images (field "reference.full"/"reference.empty").
  [[nodiscard]] static StatusOr<std::unique_ptr<ShelfScanner>> create(
      Planogram planogram, ShelfScannerOptions options = {});
  // As create() with the reference images given (BGR, planogram size).
  [[nodiscard]] static StatusOr<std::unique_ptr<ShelfScanner>> create_from_images(
      Planogram planogram, const cv::Mat& full, const std::optional<cv::Mat>& empty,
      ShelfScannerOptions options = {});
  ~ShelfScanner();

  // Scans one frame. kInvalidArgument (field "image") when the frame is not a valid
  // 8-bit image or its size is not the planogram's. `on_hand` may be empty. A frame
  // that cannot be registered gives a scan with registered = false and every slot
  // "unknown" (no false alarms from a moved camera); so does a slot mostly out of view.
  [[nodiscard]] StatusOr<ShelfScan> scan(const cv::Mat& frame, std::int64_t ts_ms,
                                         const OnHandLookup& on_hand = {});

  // The frame with each slot outlined in its state's colour (ok green, low amber,
  // empty red, wrong product magenta, unknown grey; phantom stock doubly outlined) and
  // labelled with its id and fill.
  cv::Mat annotate(const cv::Mat& frame, const ShelfScan& scan) const;

  const Planogram& planogram() const;

  // The learned state (nullptr with an empty reference or learning off).
  const SlotMemory* memory() const;
  // Saves the learned state now (no-op without state_prefix or memory).
  [[nodiscard]] Status save_memory();
  // Why the learned state could not be loaded at create or saved last (empty: fine,
  // or nothing saved yet). A state of another planogram or reference is not loaded.
  const std::string& memory_note() const;

 private:
  struct Impl;
  explicit ShelfScanner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shopeasy::edge::vision
