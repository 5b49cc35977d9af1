// StoreIndex: which stores can serve a point, answered in microseconds for thousands
// of stores. Every store is entered in each geohash cell (precision 6, about 1.2 x
// 0.6 km) that its service circle touches; a query looks up the customer's one cell
// and checks the few stores there by exact distance. This is the "cell plus
// neighbours" rule done once at indexing time, so it stays exact near cell edges, near
// the poles and across the antimeridian, where two points metres apart can have
// unrelated hashes. Where precision-6 cells are too narrow for a circle (near the
// poles, where a cell is metres wide, or for very large radii) the store is entered in
// coarser cells instead, and a query also looks up the customer's coarser cells, only
// for the precisions some store uses. Rebuilt from storage when stores change; queries
// take a shared snapshot and never block a rebuild.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/geohash/geohash.hpp"
#include "common/status/status.hpp"

namespace shopeasy::cloud::routing {

struct IndexedStore {
  std::string id;
  std::string name;
  geohash::LatLon location;
  double service_radius_m = 0;
  nlohmann::json opening_hours;  // {"open":"HH:MM","close":"HH:MM","tz_offset_min":n}
  std::int64_t last_seen_ms = 0;
  bool active = true;
};

struct Candidate {
  const IndexedStore* store = nullptr;  // valid while the Serving that holds it lives
  double distance_m = 0;
  bool online = false;
  bool open = false;
};

// The stores serving a point; keeps the index snapshot they point into alive.
struct Serving {
  std::shared_ptr<const void> snapshot;
  std::vector<Candidate> candidates;  // nearest first
};

// Whether `hours` says the store is open at `now_ms`. An empty object means always.
// A close time before the open time spans midnight.
bool is_open(const nlohmann::json& hours, std::int64_t now_ms);

class StoreIndex {
 public:
  static constexpr int kCellPrecision = 6;
  // A store whose circle would need more cells than this is indexed at the finest
  // coarser precision that needs fewer (a 5 km circle at the pole: 262,144 cells at
  // precision 6, 1,024 at precision 4).
  static constexpr std::size_t kMaxCellsPerStore = 4096;

  // Replaces the indexed stores. kInvalidArgument naming a store with a bad location
  // or a radius too large to index (> 50 km).
  Status rebuild(std::vector<IndexedStore> stores);

  // Active stores whose service circle contains `point`, nearest first (equal distances
  // by id, so the order never depends on how the stores were loaded), with online
  // (heard from within `online_window_ms` of now) and open flags. Thread-safe.
  Serving serving(geohash::LatLon point, std::int64_t now_ms, std::int64_t online_window_ms) const;

  std::size_t size() const;

  // Records that a store was just heard from, so it counts as online at once rather than
  // after the next rebuild. Thread-safe.
  void touch(const std::string& store_id, std::int64_t now_ms);

 private:
  struct Snapshot {
    std::vector<IndexedStore> stores;
    // Keyed by geohash; a store's cells all have the precision it was indexed at.
    std::unordered_map<std::string, std::vector<std::uint32_t>> cells;
    std::uint32_t precisions = 0;  // bit p set when some store is indexed at precision p
  };
  mutable std::mutex mutex_;
  std::shared_ptr<const Snapshot> snapshot_ = std::make_shared<Snapshot>();
  mutable std::mutex seen_mutex_;
  std::unordered_map<std::string, std::int64_t> seen_;  // newer than the snapshot's
};

}  // namespace shopeasy::cloud::routing
