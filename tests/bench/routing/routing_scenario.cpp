#include "tests/bench/routing/routing_scenario.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>

namespace shopeasy::bench::routing {

namespace {
constexpr double kDegToRad = std::numbers::pi / 180.0;
constexpr double kMetresPerDegLat = geohash::kEarthMeanRadiusM * kDegToRad;

double wrap_lon(double lon) {
  if (lon > 180.0) lon -= 360.0;
  if (lon < -180.0) lon += 360.0;
  return std::clamp(lon, -180.0, 180.0);
}

IndexedStore make_store(std::string id, double lat, double lon, double radius_m) {
  IndexedStore s;
  s.id = std::move(id);
  s.name = s.id;
  s.location = {std::clamp(lat, -90.0, 90.0), wrap_lon(lon)};
  s.service_radius_m = radius_m;
  s.opening_hours = nlohmann::json::object();
  s.last_seen_ms = kScenarioNowMs - 1000;
  s.active = true;
  return s;
}

struct City {
  const char* name;
  double lat;
  double lon;
};

// Real places; Taveuni sits on the antimeridian, London on the prime meridian and
// Quito next to the equator.
constexpr City kCities[] = {
    {"blr", 12.9716, 77.5946},  {"bom", 19.0760, 72.8777},   {"del", 28.6139, 77.2090},
    {"lon", 51.5072, -0.1276},  {"ber", 52.5200, 13.4050},   {"sao", -23.5505, -46.6333},
    {"uio", -0.1807, -78.4678}, {"tav", -16.8300, 180.0000}, {"tos", 69.6496, 18.9560},
    {"sin", 1.3521, 103.8198},
};
}  // namespace

const char* kind_name(PointKind kind) {
  switch (kind) {
    case PointKind::kNearStore:
      return "near-store";
    case PointKind::kCircleEdge:
      return "circle-edge";
    case PointKind::kCellEdge6:
      return "cell-edge-p6";
    case PointKind::kCellEdge7:
      return "cell-edge-p7";
    case PointKind::kPolar:
      return "polar";
    case PointKind::kAntimeridian:
      return "antimeridian";
    case PointKind::kUniform:
      return "uniform";
  }
  return "?";
}

geohash::LatLon destination(geohash::LatLon from, double bearing_deg, double distance_m) {
  const double d = distance_m / geohash::kEarthMeanRadiusM;
  const double lat1 = from.lat * kDegToRad;
  const double lon1 = from.lon * kDegToRad;
  const double theta = bearing_deg * kDegToRad;
  const double sin_lat2 =
      std::sin(lat1) * std::cos(d) + std::cos(lat1) * std::sin(d) * std::cos(theta);
  const double lat2 = std::asin(std::clamp(sin_lat2, -1.0, 1.0));
  const double lon2 = lon1 + std::atan2(std::sin(theta) * std::sin(d) * std::cos(lat1),
                                        std::cos(d) - std::sin(lat1) * sin_lat2);
  double lon = std::fmod(lon2 / kDegToRad + 540.0, 360.0) - 180.0;
  return {std::clamp(lat2 / kDegToRad, -90.0, 90.0), wrap_lon(lon)};
}

std::vector<IndexedStore> city_stores(std::size_t count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  // Dense centre, thinner suburbs: about 2 stores per km2 in the middle of a city of
  // 1,000 stores, falling off over ~10 km.
  std::normal_distribution<double> spread_m(0.0, 7000.0);
  std::uniform_real_distribution<double> radius_m(1000.0, 5000.0);
  std::vector<IndexedStore> out;
  out.reserve(count);
  constexpr std::size_t kCityCount = std::size(kCities);
  for (std::size_t i = 0; i < count; ++i) {
    const City& city = kCities[i % kCityCount];
    const double north = spread_m(rng);
    const double east = spread_m(rng);
    const double lat = city.lat + north / kMetresPerDegLat;
    const double lon = city.lon + east / (kMetresPerDegLat * std::cos(lat * kDegToRad));
    char id[48];
    std::snprintf(id, sizeof id, "%s-%05zu", city.name, i / kCityCount);
    out.push_back(make_store(id, lat, lon, radius_m(rng)));
  }
  return out;
}

std::vector<IndexedStore> edge_case_stores(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> radius_m(1000.0, 5000.0);
  std::uniform_real_distribution<double> any_lon(-180.0, 180.0);
  std::vector<IndexedStore> out;
  int n = 0;
  auto add = [&](double lat, double lon, double r) -> IndexedStore& {
    out.push_back(make_store("edge-" + std::to_string(n++), lat, lon, r));
    return out.back();
  };
  // On and around the poles, including circles that hold the pole and ones that stop
  // just short of it.
  for (double lat : {90.0, 89.999, 89.99, 89.97, 89.95, 89.9, 89.5}) {
    for (int k = 0; k < 3; ++k) {
      add(lat, any_lon(rng), radius_m(rng));
      add(-lat, any_lon(rng), radius_m(rng));
    }
  }
  add(90.0, 0.0, 1000.0);
  add(-90.0, 180.0, 5000.0);
  // Both sides of and on the antimeridian, at several latitudes.
  for (double lat : {-16.83, 0.0, 52.0, 65.5, 80.0}) {
    for (double lon : {179.99, -179.99, 180.0, -180.0, 179.95, -179.95, 179.999}) {
      add(lat + (radius_m(rng) - 3000.0) / 1e6, lon, radius_m(rng));
    }
  }
  // The equator and the prime meridian, where geohash prefixes differ most.
  for (double lat : {0.0, 0.0001, -0.0001, 0.01}) {
    for (double lon : {0.0, 0.0001, -0.0001, 0.01, -0.01}) add(lat, lon, radius_m(rng));
  }
  // Exactly on precision-6 and -7 cell corners near Bangalore.
  for (int p : {6, 7}) {
    auto cell = geohash::encode({12.9716, 77.5946}, p);
    auto box = geohash::decode_bbox(*cell);
    add(box->min_lat, box->min_lon, radius_m(rng));
    add(box->max_lat, box->max_lon, radius_m(rng));
  }
  // Stores that must not be offered: inactive (even with an unindexable radius),
  // closed now, or silent for longer than the online window.
  add(12.97, 77.59, 3000.0).active = false;
  add(12.98, 77.60, 0.0).active = false;
  add(12.96, 77.58, 4000.0).opening_hours = {{"open", "13:00"}, {"close", "23:00"}};
  add(12.975, 77.595, 2500.0).opening_hours = {{"open", "22:00"}, {"close", "06:00"}};
  add(12.965, 77.585, 3500.0).last_seen_ms = kScenarioNowMs - 10 * kOnlineWindowMs;
  add(12.955, 77.575, 3500.0).last_seen_ms = 0;
  add(-16.83, 179.99, 3000.0).last_seen_ms = 0;
  add(89.99, 10.0, 3000.0).opening_hours = {{"open", "13:00"}, {"close", "14:00"}};
  return out;
}

PointSampler::PointSampler(const std::vector<IndexedStore>& stores, std::uint64_t seed)
    : stores_(stores), rng_(seed) {
  for (std::size_t i = 0; i < stores_.size(); ++i) {
    if (180.0 - std::fabs(stores_[i].location.lon) < 0.1) antimeridian_.push_back(i);
  }
}

const IndexedStore& PointSampler::any_store() {
  return stores_[std::uniform_int_distribution<std::size_t>(0, stores_.size() - 1)(rng_)];
}

geohash::LatLon PointSampler::near_cell_edge(int precision) {
  const IndexedStore& s = any_store();
  const double reach = std::max(s.service_radius_m, 1000.0) * 1.2;
  geohash::LatLon p = destination(s.location, unit() * 360.0, unit() * reach);
  auto box = geohash::decode_bbox(*geohash::encode(p, precision));
  // Exactly on the edge a tenth of the time, otherwise up to 5 m either side.
  auto offset_m = [&] { return unit() < 0.1 ? 0.0 : (unit() * 10.0 - 5.0); };
  const double cos_lat = std::max(std::cos(p.lat * kDegToRad), 1e-9);
  auto lat_edge = [&] {
    return std::clamp((unit() < 0.5 ? box->min_lat : box->max_lat) + offset_m() / kMetresPerDegLat,
                      -90.0, 90.0);
  };
  auto lon_edge = [&] {
    return wrap_lon((unit() < 0.5 ? box->min_lon : box->max_lon) +
                    offset_m() / (kMetresPerDegLat * cos_lat));
  };
  const double which = unit();
  if (which < 0.4) {
    p.lat = lat_edge();
  } else if (which < 0.8) {
    p.lon = lon_edge();
  } else {
    p.lat = lat_edge();
    p.lon = lon_edge();
  }
  return p;
}

geohash::LatLon PointSampler::of_kind(PointKind kind) {
  switch (kind) {
    case PointKind::kNearStore: {
      const IndexedStore& s = any_store();
      return destination(s.location, unit() * 360.0,
                         unit() * std::max(s.service_radius_m, 1000.0) * 1.3);
    }
    case PointKind::kCircleEdge: {
      const IndexedStore& s = any_store();
      // Within a millimetre of the boundary, either side.
      return destination(s.location, unit() * 360.0, s.service_radius_m + unit() * 2e-3 - 1e-3);
    }
    case PointKind::kCellEdge6:
      return near_cell_edge(6);
    case PointKind::kCellEdge7:
      return near_cell_edge(7);
    case PointKind::kPolar: {
      const double r = unit();
      const double lat = r < 0.02 ? 90.0 : 90.0 - unit() * 0.1;
      return {unit() < 0.5 ? lat : -lat, unit() < 0.02 ? 180.0 : unit() * 360.0 - 180.0};
    }
    case PointKind::kAntimeridian: {
      geohash::LatLon base = antimeridian_.empty()
                                 ? geohash::LatLon{unit() * 160.0 - 80.0, 180.0}
                                 : stores_[antimeridian_[std::uniform_int_distribution<std::size_t>(
                                               0, antimeridian_.size() - 1)(rng_)]]
                                       .location;
      geohash::LatLon p = destination(base, unit() * 360.0, unit() * 6000.0);
      // Push it onto the antimeridian now and then, with either sign.
      const double r = unit();
      if (r < 0.05) p.lon = 180.0;
      if (r > 0.95) p.lon = -180.0;
      return p;
    }
    case PointKind::kUniform:
      return {std::asin(unit() * 2.0 - 1.0) / kDegToRad, unit() * 360.0 - 180.0};
  }
  return {};
}

geohash::LatLon PointSampler::next(PointKind* kind) {
  // Weights: mostly near stores and their cell edges, where mistakes would matter.
  const double r = unit();
  PointKind k = PointKind::kUniform;
  if (r < 0.25) {
    k = PointKind::kNearStore;
  } else if (r < 0.35) {
    k = PointKind::kCircleEdge;
  } else if (r < 0.55) {
    k = PointKind::kCellEdge6;
  } else if (r < 0.75) {
    k = PointKind::kCellEdge7;
  } else if (r < 0.83) {
    k = PointKind::kPolar;
  } else if (r < 0.93) {
    k = PointKind::kAntimeridian;
  }
  if (kind != nullptr) *kind = k;
  return of_kind(k);
}

BruteForce::BruteForce(const std::vector<IndexedStore>& stores) : stores_(stores) {
  lat_.reserve(stores.size());
  reach_deg_.reserve(stores.size());
  for (const auto& s : stores) {
    lat_.push_back(s.location.lat);
    // NaN radii (never indexable) compare false below and fall through to the check.
    reach_deg_.push_back((s.service_radius_m + 1.0) / kMetresPerDegLat);
  }
}

std::vector<BruteCandidate> BruteForce::serving(geohash::LatLon point, std::int64_t now_ms,
                                                std::int64_t online_window_ms) const {
  std::vector<BruteCandidate> out;
  for (std::size_t i = 0; i < stores_.size(); ++i) {
    // A great-circle distance is never shorter than its latitude difference; the metre
    // of slack dwarfs any rounding, so this only skips stores that are surely too far.
    if (std::fabs(lat_[i] - point.lat) > reach_deg_[i]) continue;
    const IndexedStore& s = stores_[i];
    if (!s.active) continue;
    const double d = geohash::haversine_m(point, s.location);
    if (!(d <= s.service_radius_m)) continue;
    out.push_back(BruteCandidate{s.id, d,
                                 s.last_seen_ms > 0 && now_ms - s.last_seen_ms <= online_window_ms,
                                 cloud::routing::is_open(s.opening_hours, now_ms)});
  }
  std::sort(out.begin(), out.end(), [](const BruteCandidate& a, const BruteCandidate& b) {
    return a.distance_m != b.distance_m ? a.distance_m < b.distance_m : a.id < b.id;
  });
  return out;
}

std::vector<cloud::routing::RankedStore> BruteForce::rank(
    const std::vector<BruteCandidate>& serving, std::int64_t units,
    const cloud::routing::RouteOptions& options) {
  std::vector<cloud::routing::RankedStore> out;
  for (const auto& c : serving) {
    if (!c.open || !c.online) continue;
    out.push_back(
        {c.id, c.distance_m, cloud::routing::estimate_eta_s(c.distance_m, 0, units, options)});
  }
  std::sort(out.begin(), out.end(), cloud::routing::ranks_before);
  return out;
}

std::vector<cloud::routing::RankedStore> scan_rank(const std::vector<IndexedStore>& stores,
                                                   geohash::LatLon point, std::int64_t now_ms,
                                                   std::int64_t units,
                                                   const cloud::routing::RouteOptions& options) {
  std::vector<cloud::routing::RankedStore> out;
  for (const IndexedStore& s : stores) {
    if (!s.active) continue;
    const double d = geohash::haversine_m(point, s.location);
    if (!(d <= s.service_radius_m)) continue;
    if (!(s.last_seen_ms > 0 && now_ms - s.last_seen_ms <= options.online_window_ms)) continue;
    if (!cloud::routing::is_open(s.opening_hours, now_ms)) continue;
    out.push_back({s.id, d, cloud::routing::estimate_eta_s(d, 0, units, options)});
  }
  std::sort(out.begin(), out.end(), cloud::routing::ranks_before);
  return out;
}

namespace {
std::string describe(geohash::LatLon p, PointKind kind, const std::vector<BruteCandidate>& want,
                     const cloud::routing::Serving& got) {
  char head[160];
  std::snprintf(head, sizeof head, "%s point (%.12f, %.12f): brute force", kind_name(kind), p.lat,
                p.lon);
  std::string out = head;
  for (const auto& c : want) out += " " + c.id + "@" + std::to_string(c.distance_m);
  out += "; index";
  for (const auto& c : got.candidates) {
    out += " " + c.store->id + "@" + std::to_string(c.distance_m);
  }
  return out;
}
}  // namespace

Agreement check_agreement(const cloud::routing::StoreIndex& index,
                          const std::vector<IndexedStore>& stores, std::size_t points,
                          std::uint64_t seed) {
  Agreement result;
  PointSampler sampler(stores, seed);
  BruteForce brute(stores);
  cloud::routing::RouteOptions options;
  options.online_window_ms = kOnlineWindowMs;
  for (std::size_t i = 0; i < points; ++i) {
    PointKind kind{};
    const geohash::LatLon p = sampler.next(&kind);
    ++result.points;
    ++result.points_by_kind[static_cast<std::size_t>(kind)];
    const auto want = brute.serving(p, kScenarioNowMs, kOnlineWindowMs);
    const auto got = index.serving(p, kScenarioNowMs, kOnlineWindowMs);
    if (!want.empty()) ++result.points_served;
    bool same = want.size() == got.candidates.size();
    for (std::size_t k = 0; same && k < want.size(); ++k) {
      const auto& c = got.candidates[k];
      same = want[k] == BruteCandidate{c.store->id, c.distance_m, c.online, c.open};
    }
    if (!same) {
      ++result.serving_disagreements;
      if (result.examples.size() < 5) result.examples.push_back(describe(p, kind, want, got));
    }
    const auto ranked =
        cloud::routing::rank(index, p, kScenarioNowMs, 3, nullptr, nullptr, options);
    const auto ranked_brute = BruteForce::rank(want, 3, options);
    bool same_rank = ranked.size() == ranked_brute.size();
    for (std::size_t k = 0; same_rank && k < ranked.size(); ++k) {
      same_rank = ranked[k].store_id == ranked_brute[k].store_id &&
                  ranked[k].distance_m == ranked_brute[k].distance_m &&
                  ranked[k].eta_s == ranked_brute[k].eta_s;
    }
    if (!same_rank) ++result.rank_disagreements;
  }
  return result;
}

}  // namespace shopeasy::bench::routing
