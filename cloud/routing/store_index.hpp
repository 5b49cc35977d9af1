// StoreIndex: which stores can serve a point, answered in microseconds for thousands
// of stores. Every store is entered in each geohash cell (precision 6, about 1.2 x
// 0.6 km) that its service circle touches; a query looks up the customer's one cell
// and checks the few stores there by exact distance. This is the "cell plus
// neighbours" rule done once at indexing time, so it stays exact near cell edges, near
// the poles and across the antimeridian, where two points metres apart can have
// unrelated hashes. Where precision-6 cells are too narrow for a circle (near the
// poles, where a cell is metres wide, or for very large radii) the store is entered in
// coarser cells instead, and a query also looks up the customer's coarser cells, only
// for the precisions some store uses.
//
// A change touches only the changed store's cells: `upsert` and `remove` cost one
// circle cover (tens of cells for a 3 km circle), whatever the fleet's size, and
// `reconcile` brings the index in line with a full list from storage by applying only
// the differences, so instances that poll storage for other instances' changes do not
// rebuild 10,000 stores a second. Queries share a reader lock; a writer computes a
// store's cells before it takes the lock and holds it only to swap the entries.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/geohash/geohash.hpp"
#include "common/status/status.hpp"
#include "common/sync/mutex.hpp"

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

// Fields the index places a store by; last_seen_ms is not one of them.
bool same_placement(const IndexedStore& a, const IndexedStore& b);

struct Candidate {
  const IndexedStore* store = nullptr;  // valid while the Serving that holds it lives
  double distance_m = 0;
  bool online = false;
  bool open = false;
};

// The stores serving a point; keeps the store entries they point into alive.
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

  // What a reconcile changed.
  struct ReconcileResult {
    std::size_t added = 0;
    std::size_t updated = 0;      // placement changed (location, radius, hours, name, active)
    std::size_t removed = 0;      // gone from the list
    std::vector<Status> refused;  // stores left out, each naming the store and its problem
  };

  // Replaces the indexed stores. kInvalidArgument naming the first store with a bad
  // location or a radius too large to index (> 50 km); the others are indexed.
  Status rebuild(std::vector<IndexedStore> stores) EXCLUDES(mutex_, seen_mutex_);

  // Makes the index hold exactly `stores`, touching only what differs: new and changed
  // stores are (re)placed, missing ones removed, and a newer last_seen_ms recorded.
  // A store that cannot be placed is reported once (until it changes again) and never
  // served; its older circle is dropped, so a bad edit never leaves the store routed
  // by its previous circle.
  ReconcileResult reconcile(std::vector<IndexedStore> stores) EXCLUDES(mutex_, seen_mutex_);

  // Adds or replaces one store. kInvalidArgument as for rebuild, and the store is then
  // never served (its previous circle dropped).
  Status upsert(IndexedStore store) EXCLUDES(mutex_, seen_mutex_);
  // Removes one store; false when it was not indexed.
  bool remove(const std::string& store_id) EXCLUDES(mutex_);

  // Active stores whose service circle contains `point`, nearest first (equal distances
  // by id, so the order never depends on how the stores were loaded), with online
  // (heard from within `online_window_ms` of now) and open flags. Thread-safe.
  Serving serving(geohash::LatLon point, std::int64_t now_ms, std::int64_t online_window_ms) const
      EXCLUDES(mutex_, seen_mutex_);

  std::size_t size() const
      EXCLUDES(mutex_);  // stores known, inactive and unplaceable ones included

  // Records that a store was just heard from, so it counts as online at once rather than
  // after the next rebuild. Thread-safe.
  void touch(const std::string& store_id, std::int64_t now_ms) EXCLUDES(seen_mutex_);

 private:
  // A store's entry and where it was placed.
  struct Slot {
    std::shared_ptr<const IndexedStore> store;
    int precision = 0;               // 0: not placed (inactive)
    std::vector<std::string> cells;  // at `precision`
  };
  // The cells a store goes in, computed without any lock held.
  struct Placement {
    int precision = 0;
    std::vector<std::string> cells;
  };
  static StatusOr<Placement> place(const IndexedStore& store);
  // Both need mutex_ held exclusively.
  void erase_locked(const std::string& store_id) REQUIRES(mutex_);
  void insert_locked(std::shared_ptr<const IndexedStore> store, Placement placement)
      REQUIRES(mutex_);

  // Guards slots_, free_slots_, by_id_, cells_ and stores_at_precision_: queries read
  // under a shared lock, changes take it exclusively.
  mutable sync::SharedMutex mutex_;
  std::vector<Slot> slots_ GUARDED_BY(mutex_);
  std::vector<std::uint32_t> free_slots_ GUARDED_BY(mutex_);
  std::unordered_map<std::string, std::uint32_t> by_id_ GUARDED_BY(mutex_);
  // Keyed by geohash; a store's cells all have the precision it was indexed at.
  std::unordered_map<std::string, std::vector<std::uint32_t>> cells_ GUARDED_BY(mutex_);
  std::uint32_t stores_at_precision_[geohash::kMaxPrecision + 1] GUARDED_BY(mutex_) = {};
  mutable sync::Mutex seen_mutex_;
  std::unordered_map<std::string, std::int64_t> seen_ GUARDED_BY(seen_mutex_);
};

}  // namespace shopeasy::cloud::routing
