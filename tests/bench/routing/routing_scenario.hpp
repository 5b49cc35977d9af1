// Routing scenarios for the agreement test and the routing benchmark: store sets
// (cities with realistic dark-store density, and the awkward places: poles,
// antimeridian, equator and prime meridian, closed, offline and inactive stores),
// delivery points aimed at the places where a geohash index goes wrong (near cell
// edges of precision 6 and 7, on service-circle boundaries, near the poles, across the
// antimeridian), and a brute-force search over every store to check the index against.
// Everything is deterministic for a given seed.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "cloud/routing/router.hpp"
#include "cloud/routing/store_index.hpp"
#include "common/geohash/geohash.hpp"

namespace shopeasy::bench::routing {

using cloud::routing::IndexedStore;

// The "now" every scenario uses; stores are online relative to it.
inline constexpr std::int64_t kScenarioNowMs = 1767268800000;  // 2026-01-01T12:00Z
inline constexpr std::int64_t kOnlineWindowMs = 30000;

// `count` stores spread over ten cities (one straddling the antimeridian, one the prime
// meridian, one at the equator), denser towards each centre, radii 1-5 km, all open
// and online.
std::vector<IndexedStore> city_stores(std::size_t count, std::uint64_t seed);

// About 150 stores in awkward places: within metres of the poles and on them, on both
// sides of and on the antimeridian, at the equator and prime meridian; some closed,
// offline or inactive.
std::vector<IndexedStore> edge_case_stores(std::uint64_t seed);

// A point on the sphere `distance_m` from `from` along `bearing_deg`, longitude
// normalised to [-180, 180].
geohash::LatLon destination(geohash::LatLon from, double bearing_deg, double distance_m);

enum class PointKind {
  kNearStore,     // anywhere in or just outside a store's circle
  kCircleEdge,    // within a millimetre of a service-circle boundary
  kCellEdge6,     // within 5 m of a precision-6 cell edge or corner near a store
  kCellEdge7,     // the same for precision 7
  kPolar,         // within ~11 km of a pole, the poles themselves included
  kAntimeridian,  // within ~1 km of lon 180, both signs, near stores there
  kUniform,       // uniform over the sphere
};
const char* kind_name(PointKind kind);

// Draws delivery points of every kind from the stores' surroundings.
class PointSampler {
 public:
  PointSampler(const std::vector<IndexedStore>& stores, std::uint64_t seed);
  geohash::LatLon next(PointKind* kind = nullptr);
  geohash::LatLon of_kind(PointKind kind);

 private:
  const IndexedStore& any_store();
  geohash::LatLon near_cell_edge(int precision);
  double unit() { return std::uniform_real_distribution<double>(0, 1)(rng_); }

  const std::vector<IndexedStore>& stores_;
  std::vector<std::size_t> antimeridian_;  // indices of stores within 0.1 deg of lon 180
  std::mt19937_64 rng_;
};

// Every active store whose circle holds `point`, by checking each one: sorted by
// distance then id, with online/open as StoreIndex reports them.
struct BruteCandidate {
  std::string id;
  double distance_m = 0;
  bool online = false;
  bool open = false;
  friend bool operator==(const BruteCandidate&, const BruteCandidate&) = default;
};

class BruteForce {
 public:
  explicit BruteForce(const std::vector<IndexedStore>& stores);
  std::vector<BruteCandidate> serving(geohash::LatLon point, std::int64_t now_ms,
                                      std::int64_t online_window_ms) const;
  // rank() with every store in stock and no queues, from serving()'s answer.
  static std::vector<cloud::routing::RankedStore> rank(const std::vector<BruteCandidate>& serving,
                                                       std::int64_t units,
                                                       const cloud::routing::RouteOptions& options);

 private:
  const std::vector<IndexedStore>& stores_;
  // Contiguous copies for the latitude pre-check, so a scan reads 16 bytes per store.
  std::vector<double> lat_;
  std::vector<double> reach_deg_;  // service radius plus a metre, in degrees of latitude
};

// The plain baseline: haversine to every store, no pre-check; same result as
// BruteForce::rank.
std::vector<cloud::routing::RankedStore> scan_rank(const std::vector<IndexedStore>& stores,
                                                   geohash::LatLon point, std::int64_t now_ms,
                                                   std::int64_t units,
                                                   const cloud::routing::RouteOptions& options);

struct Agreement {
  std::size_t points = 0;
  std::size_t serving_disagreements = 0;
  std::size_t rank_disagreements = 0;
  std::size_t points_served = 0;  // points with at least one candidate
  std::vector<std::size_t> points_by_kind = std::vector<std::size_t>(7, 0);
  std::vector<std::string> examples;  // the first few disagreements, described
};

// Compares index.serving() and rank() with the brute force on `points` sampled points.
Agreement check_agreement(const cloud::routing::StoreIndex& index,
                          const std::vector<IndexedStore>& stores, std::size_t points,
                          std::uint64_t seed);

}  // namespace shopeasy::bench::routing
