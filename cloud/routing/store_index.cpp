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

Status StoreIndex::rebuild(std::vector<IndexedStore> stores) {
  auto next = std::make_shared<Snapshot>();
  next->stores = std::move(stores);
  for (std::uint32_t i = 0; i < next->stores.size(); ++i) {
    const auto& s = next->stores[i];
    if (!s.active) continue;
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
    std::vector<std::string> cells;
    int precision = kCellPrecision;
    for (; precision >= geohash::kMinPrecision; --precision) {
      auto covering = geohash::cells_covering_circle(s.location, s.service_radius_m, precision,
                                                     kMaxCellsPerStore);
      if (covering.ok()) {
        cells = std::move(*covering);
        break;
      }
    }
    if (precision < geohash::kMinPrecision) {
      return internal_error("store " + s.id + ": no geohash precision covers its circle");
    }
    next->precisions |= 1U << precision;
    for (auto& cell : cells) next->cells[cell].push_back(i);
  }
  std::lock_guard lock(mutex_);
  snapshot_ = std::move(next);
  return Status::ok();
}

Serving StoreIndex::serving(geohash::LatLon point, std::int64_t now_ms,
                            std::int64_t online_window_ms) const {
  std::shared_ptr<const Snapshot> snap;
  {
    std::lock_guard lock(mutex_);
    snap = snapshot_;
  }
  Serving result;
  result.snapshot = snap;
  auto& out = result.candidates;
  auto cell = geohash::encode(point, kCellPrecision);
  if (!cell.ok()) return result;
  // The point's cell at a coarser precision is a prefix of its precision-6 hash. Each
  // store is in the cells of one precision only, so no store is seen twice.
  for (int precision = kCellPrecision; precision >= geohash::kMinPrecision; --precision) {
    if ((snap->precisions & (1U << precision)) == 0) continue;
    const auto it = snap->cells.find(
        precision == kCellPrecision ? *cell : cell->substr(0, static_cast<std::size_t>(precision)));
    if (it == snap->cells.end()) continue;
    for (std::uint32_t i : it->second) {
      const IndexedStore& s = snap->stores[i];
      const double d = geohash::haversine_m(point, s.location);
      if (d > s.service_radius_m) continue;
      out.push_back(Candidate{&s, d, false, is_open(s.opening_hours, now_ms)});
    }
  }
  if (out.empty()) return result;
  {
    // One lock per query, taken after the distance work so queries hardly contend.
    std::lock_guard lock(seen_mutex_);
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
  std::lock_guard lock(seen_mutex_);
  auto& seen = seen_[store_id];
  seen = std::max(seen, now_ms);
}

std::size_t StoreIndex::size() const {
  std::lock_guard lock(mutex_);
  return snapshot_->stores.size();
}

}  // namespace shopeasy::cloud::routing
