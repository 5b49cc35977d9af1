#include "cloud/routing/store_index.hpp"

#include <algorithm>
#include <cstdio>

namespace shopeasy::cloud::routing {

namespace {
constexpr double kMaxIndexedRadiusM = 50000;

// "HH:MM" -> minutes after midnight, or -1.
int minutes_of(const nlohmann::json& v) {
  if (!v.is_string()) return -1;
  const std::string s = v.get<std::string>();
  int h = 0;
  int m = 0;
  if (s.size() != 5 || std::sscanf(s.c_str(), "%2d:%2d", &h, &m) != 2 || h < 0 || h > 24 || m < 0 ||
      m > 59) {
    return -1;
  }
  return h * 60 + m;
}
}  // namespace

bool is_open(const nlohmann::json& hours, std::int64_t now_ms) {
  if (!hours.is_object() || !hours.contains("open") || !hours.contains("close")) return true;
  const int open = minutes_of(hours["open"]);
  const int close = minutes_of(hours["close"]);
  if (open < 0 || close < 0) return true;  // unreadable hours never close a store
  std::int64_t offset = 0;
  if (hours.contains("tz_offset_min") && hours["tz_offset_min"].is_number_integer()) {
    offset = hours["tz_offset_min"].get<std::int64_t>();
  }
  const std::int64_t local_min = ((now_ms / 60000 + offset) % 1440 + 1440) % 1440;
  if (open == close) return true;
  if (open < close) return local_min >= open && local_min < close;
  return local_min >= open || local_min < close;  // spans midnight
}

bool same_placement(const IndexedStore& a, const IndexedStore& b) {
  return a.id == b.id && a.name == b.name && a.location.lat == b.location.lat &&
         a.location.lon == b.location.lon && a.service_radius_m == b.service_radius_m &&
         a.active == b.active && a.opening_hours == b.opening_hours;
}

StatusOr<StoreIndex::Placement> StoreIndex::place(const IndexedStore& s) {
  Placement out;
  if (!s.active) return out;  // kept for lookups by id, never served
  if (s.service_radius_m > kMaxIndexedRadiusM || s.service_radius_m <= 0) {
    return invalid_argument("store " + s.id + " has a service radius outside (0, 50 km]",
                            "service_radius_m");
  }
  // A bad centre is reported as such rather than as a radius problem below.
  if (auto centre = geohash::encode(s.location, kCellPrecision); !centre.ok()) {
    return Status(centre.status().code(), "store " + s.id + ": " + centre.status().message(),
                  centre.status().field());
  }
  // The finest precision whose cells cover the circle in a bounded number of cells;
  // precision 1 (32 cells in all) always does.
  for (int precision = kCellPrecision; precision >= geohash::kMinPrecision; --precision) {
    auto covering = geohash::cells_covering_circle(s.location, s.service_radius_m, precision,
                                                   kMaxCellsPerStore);
    if (covering.ok()) {
      out.precision = precision;
      out.cells = std::move(*covering);
      return out;
    }
  }
  return internal_error("store " + s.id + ": no geohash precision covers its circle");
}

void StoreIndex::erase_locked(const std::string& store_id) {
  const auto it = by_id_.find(store_id);
  if (it == by_id_.end()) return;
  const std::uint32_t slot_no = it->second;
  Slot& slot = slots_[slot_no];
  for (const std::string& cell : slot.cells) {
    const auto c = cells_.find(cell);
    if (c == cells_.end()) continue;
    std::erase(c->second, slot_no);
    if (c->second.empty()) cells_.erase(c);
  }
  if (slot.precision > 0) --stores_at_precision_[slot.precision];
  slot = Slot{};
  free_slots_.push_back(slot_no);
  by_id_.erase(it);
}

void StoreIndex::insert_locked(std::shared_ptr<const IndexedStore> store, Placement placement) {
  std::uint32_t slot_no = 0;
  if (!free_slots_.empty()) {
    slot_no = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot_no = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  for (const std::string& cell : placement.cells) cells_[cell].push_back(slot_no);
  if (placement.precision > 0) ++stores_at_precision_[placement.precision];
  by_id_[store->id] = slot_no;
  slots_[slot_no] = Slot{std::move(store), placement.precision, std::move(placement.cells)};
}

Status StoreIndex::upsert(IndexedStore store) {
  StatusOr<Placement> placement = place(store);
  const std::string id = store.id;
  const std::int64_t seen = store.last_seen_ms;
  {
    sync::MutexLock lock(mutex_);
    erase_locked(id);
    // A store that cannot be placed is kept unplaced, so the next reconcile sees it
    // unchanged instead of refusing (and reporting) it again every time.
    insert_locked(std::make_shared<const IndexedStore>(std::move(store)),
                  placement.ok() ? std::move(*placement) : Placement{});
  }
  if (seen > 0) touch(id, seen);
  return placement.ok() ? Status::ok() : placement.status();
}

bool StoreIndex::remove(const std::string& store_id) {
  sync::MutexLock lock(mutex_);
  const bool found = by_id_.count(store_id) > 0;
  erase_locked(store_id);
  return found;
}

StoreIndex::ReconcileResult StoreIndex::reconcile(std::vector<IndexedStore> stores) {
  ReconcileResult result;
  // Decide what differs under the shared lock, so queries go on meanwhile.
  std::vector<std::size_t> changed;
  std::vector<std::string> gone;
  std::vector<std::pair<std::string, std::int64_t>> seen;
  {
    sync::ReaderLock lock(mutex_);
    std::unordered_map<std::string, bool> listed;
    listed.reserve(stores.size());
    for (std::size_t i = 0; i < stores.size(); ++i) {
      const IndexedStore& s = stores[i];
      listed.emplace(s.id, true);
      const auto it = by_id_.find(s.id);
      if (it == by_id_.end() || !same_placement(*slots_[it->second].store, s)) {
        changed.push_back(i);
        if (it == by_id_.end()) {
          ++result.added;
        } else {
          ++result.updated;
        }
      } else if (s.last_seen_ms > 0) {
        seen.emplace_back(s.id, s.last_seen_ms);
      }
    }
    for (const auto& [id, slot_no] : by_id_) {
      if (!listed.count(id)) gone.push_back(id);
    }
  }
  for (std::size_t i : changed) {
    Status st = upsert(std::move(stores[i]));
    if (!st.is_ok()) result.refused.push_back(std::move(st));
  }
  if (!gone.empty()) {
    sync::MutexLock lock(mutex_);
    for (const std::string& id : gone) erase_locked(id);
    result.removed = gone.size();
  }
  if (!seen.empty()) {
    sync::MutexLock lock(seen_mutex_);
    for (const auto& [id, ms] : seen) {
      auto& known = seen_[id];
      known = std::max(known, ms);
    }
  }
  return result;
}

Status StoreIndex::rebuild(std::vector<IndexedStore> stores) {
  {
    sync::MutexLock lock(mutex_);
    slots_.clear();
    free_slots_.clear();
    by_id_.clear();
    cells_.clear();
    std::fill(std::begin(stores_at_precision_), std::end(stores_at_precision_), 0U);
  }
  ReconcileResult result = reconcile(std::move(stores));
  return result.refused.empty() ? Status::ok() : result.refused.front();
}

Serving StoreIndex::serving(geohash::LatLon point, std::int64_t now_ms,
                            std::int64_t online_window_ms) const {
  Serving result;
  auto cell = geohash::encode(point, kCellPrecision);
  if (!cell.ok()) return result;
  auto& out = result.candidates;
  // Keeps the entries the candidates point into alive after the lock is released,
  // whatever changes the index meanwhile.
  std::vector<std::shared_ptr<const IndexedStore>> held;
  {
    sync::ReaderLock lock(mutex_);
    // The point's cell at a coarser precision is a prefix of its precision-6 hash. Each
    // store is in the cells of one precision only, so no store is seen twice.
    for (int precision = kCellPrecision; precision >= geohash::kMinPrecision; --precision) {
      if (stores_at_precision_[precision] == 0) continue;
      const auto it = cells_.find(precision == kCellPrecision
                                      ? *cell
                                      : cell->substr(0, static_cast<std::size_t>(precision)));
      if (it == cells_.end()) continue;
      for (std::uint32_t slot_no : it->second) {
        const auto& s = slots_[slot_no].store;
        const double d = geohash::haversine_m(point, s->location);
        if (d > s->service_radius_m) continue;
        out.push_back(Candidate{s.get(), d, false, is_open(s->opening_hours, now_ms)});
        held.push_back(s);
      }
    }
  }
  if (out.empty()) return result;
  result.snapshot =
      std::make_shared<const std::vector<std::shared_ptr<const IndexedStore>>>(std::move(held));
  {
    // One lock per query, taken after the distance work so queries hardly contend.
    sync::MutexLock lock(seen_mutex_);
    for (Candidate& c : out) {
      std::int64_t seen = c.store->last_seen_ms;
      if (!seen_.empty()) {
        if (auto t = seen_.find(c.store->id); t != seen_.end()) seen = std::max(seen, t->second);
      }
      c.online = seen > 0 && now_ms - seen <= online_window_ms;
    }
  }
  std::sort(out.begin(), out.end(), [](const Candidate& a, const Candidate& b) {
    if (a.distance_m != b.distance_m) return a.distance_m < b.distance_m;
    return a.store->id < b.store->id;
  });
  return result;
}

void StoreIndex::touch(const std::string& store_id, std::int64_t now_ms) {
  sync::MutexLock lock(seen_mutex_);
  auto& seen = seen_[store_id];
  seen = std::max(seen, now_ms);
}

std::size_t StoreIndex::size() const {
  sync::ReaderLock lock(mutex_);
  return by_id_.size();
}

}  // namespace shopeasy::cloud::routing
