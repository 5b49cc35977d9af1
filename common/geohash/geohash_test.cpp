#include "common/geohash/geohash.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <numbers>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace shopeasy::geohash {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kPi = std::numbers::pi;
constexpr double kDeg = kPi / 180.0;
// The rounding allowance cells_covering_circle documents ("to a micrometre").
constexpr double kSlackM = 1e-6;

std::string must_encode(LatLon p, int precision) {
  StatusOr<std::string> h = encode(p, precision);
  EXPECT_TRUE(h.ok()) << h.status().to_string() << " for " << p.lat << "," << p.lon;
  return h.ok() ? *h : std::string();
}

BoundingBox must_bbox(const std::string& hash) {
  StatusOr<BoundingBox> box = decode_bbox(hash);
  EXPECT_TRUE(box.ok()) << box.status().to_string() << " for " << hash;
  return box.ok() ? *box : BoundingBox{};
}

bool contains(const BoundingBox& box, LatLon p) {
  return p.lat >= box.min_lat && p.lat <= box.max_lat && p.lon >= box.min_lon &&
         p.lon <= box.max_lon;
}

double lat_height(int precision) { return std::ldexp(180.0, -(5 * precision / 2)); }
double lon_width(int precision) { return std::ldexp(360.0, -((5 * precision + 1) / 2)); }

// Longitude folded into [-180, 180).
double wrap_lon(double lon) {
  double w = std::fmod(lon + 180.0, 360.0);
  if (w < 0) w += 360.0;
  return w - 180.0;
}

// The point `dist_m` from `start` along the great circle leaving at `bearing` (radians
// clockwise from north). Worked in 3-D unit vectors, which stay accurate at the poles.
LatLon destination(LatLon start, double bearing, double dist_m) {
  const double d = dist_m / kEarthMeanRadiusM;
  const double lat = start.lat * kDeg;
  const double lon = start.lon * kDeg;
  const double here[3] = {std::cos(lat) * std::cos(lon), std::cos(lat) * std::sin(lon),
                          std::sin(lat)};
  const double north[3] = {-std::sin(lat) * std::cos(lon), -std::sin(lat) * std::sin(lon),
                           std::cos(lat)};
  const double east[3] = {-std::sin(lon), std::cos(lon), 0.0};
  double v[3];
  for (int k = 0; k < 3; ++k) {
    const double heading = std::cos(bearing) * north[k] + std::sin(bearing) * east[k];
    v[k] = std::cos(d) * here[k] + std::sin(d) * heading;
  }
  return {std::atan2(v[2], std::hypot(v[0], v[1])) / kDeg, wrap_lon(std::atan2(v[1], v[0]) / kDeg)};
}

void expect_invalid(const Status& s, const std::string& field) {
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.to_string();
  EXPECT_EQ(s.field(), field) << s.to_string();
  EXPECT_FALSE(s.message().empty());
}

// ---------------------------------------------------------------------------------------
// Published vectors.

TEST(GeohashEncodeTest, MatchesPublishedVectors) {
  struct Vector {
    LatLon p;
    int precision;
    const char* hash;
  };
  const Vector vectors[] = {
      {{57.64911, 10.40744}, 11, "u4pruydqqvj"},         // Wikipedia, "Geohash".
      {{37.8324, 112.5584}, 9, "ww8p1r4t8"},             // ngeohash README.
      {{57.648, 10.410}, 6, "u4pruy"},                   // latlon-geohash tests.
      {{-25.38262, -49.26561}, 8, "6gkzwgjz"},           // latlon-geohash tests.
      {{45.37, -121.7}, 6, "c216ne"},                    // Couchbase Lite tests.
      {{47.6062095, -122.3320708}, 12, "c23nb62w20st"},  // Couchbase (13 chars, cut).
      {{35.6894875, 139.6917064}, 12, "xn774c06kdtv"},   // Couchbase (13 chars, cut).
      {{31.16373922, 121.62585927}, 7, "wtw3r9j"},       // geohashrust docs.
      {{39.90882, 116.39750}, 11, "wx4g09njdr6"},        // geohash.js README.
  };
  for (const Vector& v : vectors) {
    EXPECT_EQ(must_encode(v.p, v.precision), v.hash) << v.p.lat << "," << v.p.lon;
  }
}

TEST(GeohashDecodeTest, MatchesPublishedVectors) {
  // Wikipedia: "ezs42" is the cell around 42.6, -5.6.
  StatusOr<LatLon> centre = decode("ezs42");
  ASSERT_TRUE(centre.ok());
  EXPECT_NEAR(centre->lat, 42.605, 0.0005);
  EXPECT_NEAR(centre->lon, -5.603, 0.0005);

  // ngeohash: decode_bbox("ww8p1r4t8").
  const BoundingBox box = must_bbox("ww8p1r4t8");
  EXPECT_NEAR(box.min_lat, 37.83236503601074, 1e-12);
  EXPECT_NEAR(box.min_lon, 112.55836486816406, 1e-12);
  EXPECT_NEAR(box.max_lat, 37.83240795135498, 1e-12);
  EXPECT_NEAR(box.max_lon, 112.5584077835083, 1e-12);
  StatusOr<LatLon> c = decode("ww8p1r4t8");
  ASSERT_TRUE(c.ok());
  EXPECT_NEAR(c->lat, 37.8324, 3e-5);
  EXPECT_NEAR(c->lon, 112.5584, 3e-5);
}

TEST(GeohashNeighbourTest, MatchesPublishedVectors) {
  // latlon-geohash tests: the corner cell "ezzz" has neighbours in four top-level cells.
  StatusOr<std::array<std::string, 8>> around = neighbours("ezzz");
  ASSERT_TRUE(around.ok());
  const std::array<std::string, 8> expected = {"gbpb", "u000", "spbp", "spbn",
                                               "ezzy", "ezzw", "ezzx", "gbp8"};
  EXPECT_EQ(*around, expected);
  // ngeohash tests.
  EXPECT_EQ(neighbour("dqcjq", Direction::kNorth).value_or(""), "dqcjw");
  EXPECT_EQ(neighbour("dqcjq", Direction::kSouthWest).value_or(""), "dqcjj");
}

// ---------------------------------------------------------------------------------------
// Encoding and decoding.

TEST(GeohashEncodeTest, GridEdgesAndPoles) {
  EXPECT_EQ(must_encode({90, 180}, 12), "zzzzzzzzzzzz");
  EXPECT_EQ(must_encode({-90, -180}, 12), "000000000000");
  EXPECT_EQ(must_encode({90, -180}, 1), "b");
  EXPECT_EQ(must_encode({-90, 180}, 1), "p");
  // A point on an edge belongs to the cell to its north and east...
  EXPECT_EQ(must_encode({0, 0}, 1), "s");
  EXPECT_EQ(must_encode({-0.0, -0.0}, 1), "s");
  // ...and anything the least bit south-west of it to the other cell.
  EXPECT_EQ(must_encode({-1e-300, -1e-300}, 1), "7");
  EXPECT_EQ(must_encode({-1e-300, 0}, 1), "k");
  EXPECT_EQ(must_encode({0, -1e-300}, 1), "e");
}

TEST(GeohashEncodeTest, ShorterHashesArePrefixes) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> lat(-90, 90), lon(-180, 180);
  for (int i = 0; i < 500; ++i) {
    const LatLon p{lat(rng), lon(rng)};
    const std::string full = must_encode(p, kMaxPrecision);
    ASSERT_EQ(full.size(), 12U);
    for (int precision = kMinPrecision; precision < kMaxPrecision; ++precision) {
      EXPECT_EQ(must_encode(p, precision), full.substr(0, static_cast<std::size_t>(precision)));
    }
  }
}

TEST(GeohashDecodeTest, RoundTripsRandomPointsAtEveryPrecision) {
  std::mt19937_64 rng(20260101);
  std::uniform_real_distribution<double> lat(-90, 90), lon(-180, 180);
  for (int i = 0; i < 2000; ++i) {
    const LatLon p{lat(rng), lon(rng)};
    for (int precision = kMinPrecision; precision <= kMaxPrecision; ++precision) {
      const std::string h = must_encode(p, precision);
      ASSERT_EQ(h.size(), static_cast<std::size_t>(precision));
      EXPECT_TRUE(is_valid(h));
      const BoundingBox box = must_bbox(h);
      ASSERT_TRUE(contains(box, p)) << h << " does not contain " << p.lat << "," << p.lon;
      EXPECT_DOUBLE_EQ(box.max_lat - box.min_lat, lat_height(precision));
      EXPECT_DOUBLE_EQ(box.max_lon - box.min_lon, lon_width(precision));
      StatusOr<LatLon> centre = decode(h);
      ASSERT_TRUE(centre.ok());
      EXPECT_LE(std::fabs(centre->lat - p.lat), lat_height(precision) / 2);
      EXPECT_LE(std::fabs(centre->lon - p.lon), lon_width(precision) / 2);
      EXPECT_EQ(must_encode(*centre, precision), h);
    }
  }
}

TEST(GeohashDecodeTest, CellsAreClosedBelowAndOpenAbove) {
  // Every cell owns its south-west corner; the points just south or west of that corner
  // belong to the neighbouring cells.
  std::mt19937_64 rng(99);
  std::uniform_real_distribution<double> lat(-89, 89), lon(-179, 179);
  for (int i = 0; i < 300; ++i) {
    for (int precision = kMinPrecision; precision <= kMaxPrecision; ++precision) {
      const std::string h = must_encode({lat(rng), lon(rng)}, precision);
      const BoundingBox box = must_bbox(h);
      EXPECT_EQ(must_encode({box.min_lat, box.min_lon}, precision), h);
      if (box.min_lat > -90) {
        const double below = std::nextafter(box.min_lat, -kInf);
        EXPECT_EQ(must_encode({below, box.min_lon}, precision),
                  neighbour(h, Direction::kSouth).value_or("?"));
      }
      if (box.min_lon > -180) {
        const double left = std::nextafter(box.min_lon, -kInf);
        EXPECT_EQ(must_encode({box.min_lat, left}, precision),
                  neighbour(h, Direction::kWest).value_or("?"));
      }
      const double top = std::nextafter(box.max_lat, -kInf);
      const double right = std::nextafter(box.max_lon, -kInf);
      EXPECT_EQ(must_encode({top, right}, precision), h);
    }
  }
}

TEST(GeohashEncodeTest, RejectsBadInput) {
  expect_invalid(encode({kNaN, 0}, 5).status(), "lat");
  expect_invalid(encode({0, kNaN}, 5).status(), "lon");
  expect_invalid(encode({kInf, 0}, 5).status(), "lat");
  expect_invalid(encode({0, -kInf}, 5).status(), "lon");
  expect_invalid(encode({90.0000001, 0}, 5).status(), "lat");
  expect_invalid(encode({-90.0000001, 0}, 5).status(), "lat");
  expect_invalid(encode({0, 180.0000001}, 5).status(), "lon");
  expect_invalid(encode({0, -180.1}, 5).status(), "lon");
  expect_invalid(encode({0, 0}, 0).status(), "precision");
  expect_invalid(encode({0, 0}, 13).status(), "precision");
  expect_invalid(encode({0, 0}, -1).status(), "precision");
}

TEST(GeohashDecodeTest, RejectsBadInput) {
  const std::string bad[] = {"",
                             "u4pruydqqvjx0",  // 13 characters.
                             "a",
                             "u4pi",
                             "u4pl",
                             "u4po",
                             "U4PR",
                             "u4pR",
                             "u4 r",
                             "u4-r",
                             std::string("u4\0r", 4),
                             "u4\xc3\xa9"};
  for (const std::string& h : bad) {
    EXPECT_FALSE(is_valid(h)) << h;
    expect_invalid(decode(h).status(), "geohash");
    expect_invalid(decode_bbox(h).status(), "geohash");
    expect_invalid(neighbour(h, Direction::kNorth).status(), "geohash");
    expect_invalid(neighbours(h).status(), "geohash");
    expect_invalid(adjacent_cells(h).status(), "geohash");
  }
  // The messages say what is wrong, so a person can fix the input.
  EXPECT_NE(decode("").status().message().find("empty"), std::string::npos);
  EXPECT_NE(decode("u4pruydqqvjx0").status().message().find("13"), std::string::npos);
  EXPECT_NE(decode("U4PR").status().message().find("lower case"), std::string::npos);
  const std::string bad_char = decode("u4pa").status().message();
  EXPECT_NE(bad_char.find("'a'"), std::string::npos) << bad_char;
  EXPECT_NE(bad_char.find("position 3"), std::string::npos) << bad_char;
  const std::string nul = decode(std::string("u\0", 2)).status().message();
  EXPECT_NE(nul.find("0x00"), std::string::npos) << nul;
  EXPECT_FALSE(is_valid("0123456789bcdefghjkmnpqrstuvwxyz"));  // Too long.
  for (char c : std::string("0123456789bcdefghjkmnpqrstuvwxyz")) {
    EXPECT_TRUE(is_valid(std::string(1, c))) << c;
  }
}

// ---------------------------------------------------------------------------------------
// Neighbours.

// The neighbour in direction `d` of the cell `box` of `precision`, found by encoding a
// point one cell-size away from its centre; empty if that point is beyond a pole.
std::string brute_neighbour(const BoundingBox& box, int precision, int dlat, int dlon) {
  const LatLon c = box.center();
  const double lat = c.lat + dlat * lat_height(precision);
  if (lat > 90 || lat < -90) return "";
  return must_encode({lat, wrap_lon(c.lon + dlon * lon_width(precision))}, precision);
}

constexpr int kDirLat[8] = {1, 1, 0, -1, -1, -1, 0, 1};
constexpr int kDirLon[8] = {0, 1, 1, 1, 0, -1, -1, -1};

TEST(GeohashNeighbourTest, MatchesBruteForceIncludingGridEdges) {
  std::mt19937_64 rng(12345);
  std::uniform_real_distribution<double> lat(-90, 90), lon(-180, 180);
  const double edge_lats[] = {90, -90, 89.99999999, -89.99999999};
  const double edge_lons[] = {180, -180, 179.99999999, -179.99999999};
  int polar_checked = 0;
  for (int i = 0; i < 1500; ++i) {
    LatLon p{lat(rng), lon(rng)};
    if (i % 5 == 1) p.lat = edge_lats[i % 4];
    if (i % 5 == 2) p.lon = edge_lons[i % 4];
    for (int precision = kMinPrecision; precision <= kMaxPrecision; ++precision) {
      const std::string h = must_encode(p, precision);
      const BoundingBox box = must_bbox(h);
      StatusOr<std::array<std::string, 8>> all = neighbours(h);
      ASSERT_TRUE(all.ok());
      for (int d = 0; d < 8; ++d) {
        const std::string expected = brute_neighbour(box, precision, kDirLat[d], kDirLon[d]);
        const Direction dir = kAllDirections[static_cast<std::size_t>(d)];
        EXPECT_EQ((*all)[static_cast<std::size_t>(d)], expected) << h << " direction " << d;
        StatusOr<std::string> one = neighbour(h, dir);
        if (expected.empty()) {
          ++polar_checked;
          EXPECT_EQ(one.status().code(), StatusCode::kOutOfRange) << h;
          EXPECT_EQ(one.status().field(), "geohash");
        } else {
          ASSERT_TRUE(one.ok()) << one.status().to_string();
          EXPECT_EQ(*one, expected);
          // Stepping back returns to the start.
          const Direction back = kAllDirections[static_cast<std::size_t>((d + 4) % 8)];
          EXPECT_EQ(neighbour(*one, back).value_or("?"), h);
        }
      }
    }
  }
  EXPECT_GT(polar_checked, 1000);  // The pole rows really were exercised.
}

TEST(GeohashNeighbourTest, WrapsAcrossTheAntimeridian) {
  const std::string west_edge = must_encode({0, 179.99}, 5);
  StatusOr<std::string> east = neighbour(west_edge, Direction::kEast);
  ASSERT_TRUE(east.ok());
  EXPECT_EQ(*east, must_encode({0, -179.99}, 5));
  const BoundingBox box = must_bbox(*east);
  EXPECT_EQ(box.min_lon, -180.0);
  EXPECT_TRUE(contains(box, {0, -179.99}));
  EXPECT_EQ(neighbour(*east, Direction::kWest).value_or(""), west_edge);
  EXPECT_EQ(must_bbox(neighbour(*east, Direction::kNorthWest).value_or("")).max_lon, 180.0);
  // The top-level cells on either side of the antimeridian.
  EXPECT_EQ(neighbour("z", Direction::kEast).value_or(""), "b");
  EXPECT_EQ(neighbour("b", Direction::kWest).value_or(""), "z");
  EXPECT_EQ(neighbour("0", Direction::kWest).value_or(""), "p");
}

TEST(GeohashNeighbourTest, PoleRowsHaveNoCellsBeyondThePole) {
  const std::string north = must_encode({90, 10}, 6);
  StatusOr<std::string> up = neighbour(north, Direction::kNorth);
  EXPECT_EQ(up.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(up.status().message().find("pole"), std::string::npos);
  EXPECT_EQ(neighbour(north, Direction::kNorthEast).status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(neighbour(north, Direction::kNorthWest).status().code(), StatusCode::kOutOfRange);
  EXPECT_TRUE(neighbour(north, Direction::kSouth).ok());
  StatusOr<std::array<std::string, 8>> around = neighbours(north);
  ASSERT_TRUE(around.ok());
  EXPECT_EQ((*around)[0], "");
  EXPECT_EQ((*around)[1], "");
  EXPECT_EQ((*around)[7], "");
  for (std::size_t i = 2; i <= 6; ++i) EXPECT_FALSE((*around)[i].empty());

  const std::string south = must_encode({-90, -10}, 6);
  EXPECT_EQ(neighbour(south, Direction::kSouth).status().code(), StatusCode::kOutOfRange);
  EXPECT_TRUE(neighbour(south, Direction::kNorth).ok());
}

TEST(GeohashNeighbourTest, AdjacentCellsAreDistinctAndExcludeTheCell) {
  // All 32 top-level cells, where the grid is smallest, and polar cells at every length.
  std::vector<std::string> hashes;
  for (char c : std::string("0123456789bcdefghjkmnpqrstuvwxyz")) hashes.emplace_back(1, c);
  for (int precision = kMinPrecision; precision <= kMaxPrecision; ++precision) {
    hashes.push_back(must_encode({90, 179.9}, precision));
    hashes.push_back(must_encode({-90, -180}, precision));
    hashes.push_back(must_encode({12.97, 77.59}, precision));
  }
  for (const std::string& h : hashes) {
    StatusOr<std::vector<std::string>> cells = adjacent_cells(h);
    ASSERT_TRUE(cells.ok());
    const std::set<std::string> unique(cells->begin(), cells->end());
    EXPECT_EQ(unique.size(), cells->size()) << h;
    EXPECT_EQ(unique.count(h), 0U) << h;
    const BoundingBox box = must_bbox(h);
    const bool polar = box.max_lat == 90.0 || box.min_lat == -90.0;
    EXPECT_EQ(cells->size(), polar ? 5U : 8U) << h;
    for (const std::string& n : *cells) {
      EXPECT_EQ(n.size(), h.size());
      // The two cells share an edge or a corner, possibly across the antimeridian.
      const BoundingBox nb = must_bbox(n);
      EXPECT_LE(std::max(nb.min_lat, box.min_lat), std::min(nb.max_lat, box.max_lat)) << n;
      const bool lon_overlap =
          std::max(nb.min_lon, box.min_lon) <= std::min(nb.max_lon, box.max_lon) ||
          (nb.min_lon == -180 && box.max_lon == 180) || (nb.max_lon == 180 && box.min_lon == -180);
      EXPECT_TRUE(lon_overlap) << h << " " << n;
    }
  }
}

// ---------------------------------------------------------------------------------------
// Distances.

TEST(GeohashDistanceTest, HaversineKnownDistances) {
  const double london_paris = haversine_m({51.5074, -0.1278}, {48.8566, 2.3522});
  EXPECT_NEAR(london_paris, 343'500.0, 343'500.0 * 0.005);
  const double one_degree = kEarthMeanRadiusM * kDeg;  // 111 195.08 m.
  EXPECT_NEAR(haversine_m({0, 0}, {0, 1}), one_degree, 1e-6);
  EXPECT_NEAR(haversine_m({0, 0}, {1, 0}), one_degree, 1e-6);
  EXPECT_NEAR(haversine_m({0, 179.5}, {0, -179.5}), one_degree, 1e-6);
  EXPECT_NEAR(haversine_m({0, 0}, {90, 0}), kEarthMeanRadiusM * kPi / 2, 1e-6);
  EXPECT_NEAR(haversine_m({90, 0}, {-90, 0}), kEarthMeanRadiusM * kPi, 1e-6);
  EXPECT_NEAR(haversine_m({90, 0}, {90, 123}), 0.0, 1e-6);
  // Antipodes, and points a metre short of them, stay accurate.
  EXPECT_NEAR(haversine_m({0, 0}, {0, 180}), kEarthMeanRadiusM * kPi, 1e-6);
  EXPECT_NEAR(haversine_m({45, 10}, {-45, -170}), kEarthMeanRadiusM * kPi, 1e-6);
  const double metre_deg = 1.0 / one_degree;
  EXPECT_NEAR(haversine_m({0, 0}, {0, 180 - metre_deg}), kEarthMeanRadiusM * kPi - 1.0, 1e-6);
  EXPECT_NEAR(haversine_m({0, 0}, {metre_deg, 180}), kEarthMeanRadiusM * kPi - 1.0, 1e-6);
  // Short distances too.
  EXPECT_NEAR(haversine_m({12.97, 77.59}, {12.97 + metre_deg, 77.59}), 1.0, 1e-9);
  EXPECT_EQ(haversine_m({12.97, 77.59}, {12.97, 77.59}), 0.0);
  EXPECT_DOUBLE_EQ(haversine_m({51.5074, -0.1278}, {48.8566, 2.3522}),
                   haversine_m({48.8566, 2.3522}, {51.5074, -0.1278}));
  EXPECT_TRUE(std::isnan(haversine_m({kNaN, 0}, {0, 0})));
}

TEST(GeohashDistanceTest, DistanceToBoxMatchesDenseSampling) {
  std::mt19937_64 rng(4242);
  std::uniform_real_distribution<double> lat(-90, 90), lon(-180, 180);
  std::uniform_int_distribution<int> prec(1, 4);
  constexpr int kSamples = 400;  // Per edge.
  for (int i = 0; i < 300; ++i) {
    LatLon p{lat(rng), lon(rng)};
    const BoundingBox box = must_bbox(must_encode({lat(rng), lon(rng)}, prec(rng)));
    if (i % 3 == 0) {  // Nearby points are the interesting ones.
      p = {std::clamp(box.center().lat + (lat(rng) / 90) * 2 * (box.max_lat - box.min_lat), -90.0,
                      90.0),
           wrap_lon(box.center().lon + (lon(rng) / 180) * 2 * (box.max_lon - box.min_lon))};
    }
    double sampled = kInf;
    for (int k = 0; k <= kSamples; ++k) {
      const double t = static_cast<double>(k) / kSamples;
      const double la = box.min_lat + t * (box.max_lat - box.min_lat);
      const double lo = box.min_lon + t * (box.max_lon - box.min_lon);
      sampled =
          std::min({sampled, haversine_m(p, {la, box.min_lon}), haversine_m(p, {la, box.max_lon}),
                    haversine_m(p, {box.min_lat, lo}), haversine_m(p, {box.max_lat, lo})});
    }
    const double spacing_m = kEarthMeanRadiusM * kDeg *
                             std::max(box.max_lat - box.min_lat, box.max_lon - box.min_lon) /
                             kSamples;
    const double got = distance_to_bbox_m(p, box);
    if (contains(box, p)) {
      EXPECT_EQ(got, 0.0);
    } else {
      EXPECT_LE(got, sampled + 1e-6) << p.lat << "," << p.lon;
      EXPECT_GE(got, sampled - spacing_m) << p.lat << "," << p.lon;
    }
  }
}

TEST(GeohashDistanceTest, DistanceToBoxSpecialCases) {
  const BoundingBox box{10, 20, 30, 40};
  EXPECT_EQ(distance_to_bbox_m({15, 35}, box), 0.0);
  EXPECT_EQ(distance_to_bbox_m({10, 30}, box), 0.0);  // Corner.
  EXPECT_EQ(distance_to_bbox_m({20, 40}, box), 0.0);
  const double one_degree = kEarthMeanRadiusM * kDeg;
  EXPECT_NEAR(distance_to_bbox_m({25, 35}, box), 5 * one_degree, 1e-6);  // Due north.
  EXPECT_NEAR(distance_to_bbox_m({0, 35}, box), 10 * one_degree, 1e-6);  // Due south.
  // West of the box at its latitudes: the nearest point of the meridian edge is slightly
  // poleward of the point (great circles bulge poleward), so it is nearer than the
  // parallel through the point.
  const double west = distance_to_bbox_m({15, 20}, box);
  EXPECT_LT(west, haversine_m({15, 20}, {15, 30}));
  EXPECT_GT(west, haversine_m({15, 20}, {15, 30}) - 2000);
  // Across the antimeridian.
  const BoundingBox east_edge{0, 1, 179, 180};
  EXPECT_EQ(distance_to_bbox_m({0.5, -180}, east_edge), 0.0);
  EXPECT_NEAR(distance_to_bbox_m({0.5, -179}, east_edge), haversine_m({0.5, -179}, {0.5, 180}),
              1.0);
  // A polar cell is reached through the pole.
  const BoundingBox polar{89, 90, 0, 10};
  EXPECT_NEAR(distance_to_bbox_m({88, -170}, polar), 2 * one_degree, 1e-6);
}

// ---------------------------------------------------------------------------------------
// Covering circles.

// The cells touching the circle, found independently by flood fill from the centre's
// cell: touching cells form one connected patch of edge/corner neighbours (through the
// pole row when the circle holds a pole).
std::set<std::string> flood_fill(LatLon centre, double radius_m, int precision) {
  std::set<std::string> seen;
  std::set<std::string> touching;
  std::deque<std::string> todo;
  const std::string start = must_encode(centre, precision);
  todo.push_back(start);
  seen.insert(start);
  while (!todo.empty()) {
    const std::string h = todo.front();
    todo.pop_front();
    if (distance_to_bbox_m(centre, must_bbox(h)) > radius_m + kSlackM) continue;
    touching.insert(h);
    for (const std::string& n : adjacent_cells(h).value_or({})) {
      if (seen.insert(n).second) todo.push_back(n);
    }
  }
  return touching;
}

// Checks `cells` against the three things a caller relies on: no duplicates and sorted;
// the cell of every point in the circle is there; no cell is farther than the radius.
void check_covering(LatLon centre, double radius_m, int precision,
                    const std::vector<std::string>& cells, std::mt19937_64& rng) {
  SCOPED_TRACE(testing::Message() << "centre " << centre.lat << "," << centre.lon << " radius "
                                  << radius_m << " precision " << precision);
  ASSERT_FALSE(cells.empty());
  EXPECT_TRUE(std::is_sorted(cells.begin(), cells.end()));
  EXPECT_EQ(std::adjacent_find(cells.begin(), cells.end()), cells.end());
  const std::set<std::string> got(cells.begin(), cells.end());

  // Sampled points, including points on the circle itself, all land in returned cells.
  std::uniform_real_distribution<double> unit(0, 1);
  for (int i = 0; i < 600; ++i) {
    const double d = (i % 4 == 0) ? radius_m : radius_m * std::sqrt(unit(rng));
    const LatLon p = destination(centre, 2 * kPi * unit(rng), d);
    ASSERT_NEAR(haversine_m(centre, p), d, 1e-7 + d * 1e-12);
    const std::string h = must_encode(p, precision);
    EXPECT_EQ(got.count(h), 1U) << "missing " << h << " holding " << p.lat << "," << p.lon;
  }
  EXPECT_EQ(got.count(must_encode(centre, precision)), 1U);

  // Nothing beyond the radius: checked against sampled cell edges, independent of
  // distance_to_bbox_m.
  const std::size_t stride = cells.size() / 200 + 1;  // Bounded work for big results.
  for (std::size_t i = 0; i < cells.size(); i += stride) {
    const std::string& h = cells[i];
    const BoundingBox box = must_bbox(h);
    EXPECT_LE(distance_to_bbox_m(centre, box), radius_m + kSlackM) << h;
    if (contains(box, centre)) continue;
    double sampled = kInf;
    constexpr int kSamples = 32;
    for (int k = 0; k <= kSamples; ++k) {
      const double t = static_cast<double>(k) / kSamples;
      const double la = box.min_lat + t * (box.max_lat - box.min_lat);
      const double lo = box.min_lon + t * (box.max_lon - box.min_lon);
      sampled = std::min(
          {sampled, haversine_m(centre, {la, box.min_lon}), haversine_m(centre, {la, box.max_lon}),
           haversine_m(centre, {box.min_lat, lo}), haversine_m(centre, {box.max_lat, lo})});
    }
    const double spacing_m = kEarthMeanRadiusM * kDeg *
                             std::max(box.max_lat - box.min_lat, box.max_lon - box.min_lon) /
                             kSamples;
    EXPECT_LE(sampled, radius_m + spacing_m + 1e-6) << h;
  }

  // Exactly the cells an independent search finds.
  EXPECT_EQ(got, flood_fill(centre, radius_m, precision));
}

struct Circle {
  LatLon centre;
  double radius_m;
  int precision;
};

TEST(GeohashCoveringTest, MatchesBruteForceOnChosenCircles) {
  const Circle circles[] = {
      {{12.9716, 77.5946}, 3000, 6},  // A delivery radius.
      {{12.9716, 77.5946}, 3000, 7}, {{12.9716, 77.5946}, 3, 10},
      {{51.5074, -0.1278}, 250, 8},  {{10, 179.999}, 5000, 6},  // Across the antimeridian...
      {{-30, -179.9999}, 2000, 6},                              // ...from both sides.
      {{0, 180}, 1000, 6},           {{65, -180}, 20000, 5},
      {{89.99, 45}, 3000, 5},                             // Holds the north pole.
      {{89.9, 0}, 5000, 5},                               // Near the pole, not holding it.
      {{89.9, 0}, 11120, 4},                              // Just reaching it.
      {{-89.95, 100}, 8000, 5},      {{90, 0}, 1000, 4},  // Centred on a pole.
      {{89.999999, 77}, 0.05, 5},                         // 11 cm from the pole, not reaching it.
      {{89.999999, 77}, 0.5, 3},  // Reaching it: the whole polar row touches.
      {{45, 10}, 2'000'000, 3},   // Big circles.
      {{-20, 170}, 5'000'000, 2},    {{0, 0}, 15'000'000, 2},  // Larger than a hemisphere.
      {{60, -100}, 19'000'000, 2},
  };
  std::mt19937_64 rng(2718);
  for (const Circle& c : circles) {
    StatusOr<std::vector<std::string>> cells =
        cells_covering_circle(c.centre, c.radius_m, c.precision);
    ASSERT_TRUE(cells.ok()) << cells.status().to_string();
    check_covering(c.centre, c.radius_m, c.precision, *cells, rng);
  }
}

TEST(GeohashCoveringTest, MatchesBruteForceOnRandomCircles) {
  std::mt19937_64 rng(31337);
  std::uniform_real_distribution<double> unit(0, 1);
  for (int i = 0; i < 100; ++i) {
    // Centres everywhere, with many near the poles and the antimeridian.
    LatLon centre{-90 + 180 * unit(rng), -180 + 360 * unit(rng)};
    if (i % 4 == 1) centre.lat = (i % 8 == 1 ? 1 : -1) * (90 - std::pow(10, -6 * unit(rng)));
    if (i % 4 == 2) centre.lon = (i % 8 == 2 ? 1 : -1) * (180 - std::pow(10, -6 * unit(rng)));
    const double radius_m = std::pow(10, 7 * unit(rng));  // 1 m to 10 000 km.
    // The finest precision with a modest number of cells; the next finer one must then
    // be refused by the limit.
    int chosen = 0;
    std::vector<std::string> cells;
    for (int precision = kMinPrecision; precision <= kMaxPrecision; ++precision) {
      StatusOr<std::vector<std::string>> attempt =
          cells_covering_circle(centre, radius_m, precision, 2000);
      if (!attempt.ok()) {
        expect_invalid(attempt.status(), "radius_m");
        break;
      }
      chosen = precision;
      cells = std::move(attempt).value();
    }
    ASSERT_GT(chosen, 0) << "even precision 1 needs over 2000 cells?";
    check_covering(centre, radius_m, chosen, cells, rng);
  }
}

TEST(GeohashCoveringTest, WholeLevelOneAgainstEveryCell) {
  // At precision 2 there are only 1024 cells: compare with all of them directly.
  std::vector<std::string> all;
  const std::string alphabet = "0123456789bcdefghjkmnpqrstuvwxyz";
  for (char a : alphabet) {
    for (char b : alphabet) all.push_back(std::string{a, b});
  }
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> unit(0, 1);
  for (int i = 0; i < 40; ++i) {
    const LatLon centre{-90 + 180 * unit(rng), -180 + 360 * unit(rng)};
    const double radius_m = 2.1e7 * unit(rng);
    StatusOr<std::vector<std::string>> cells = cells_covering_circle(centre, radius_m, 2);
    ASSERT_TRUE(cells.ok());
    std::vector<std::string> expected;
    for (const std::string& h : all) {
      if (distance_to_bbox_m(centre, must_bbox(h)) <= radius_m + kSlackM) expected.push_back(h);
    }
    EXPECT_EQ(*cells, expected) << centre.lat << "," << centre.lon << " r " << radius_m;
  }
  // Half the circumference or more reaches everything.
  StatusOr<std::vector<std::string>> world =
      cells_covering_circle({12, 34}, kEarthMeanRadiusM * kPi, 2);
  ASSERT_TRUE(world.ok());
  EXPECT_EQ(*world, all);
}

TEST(GeohashCoveringTest, ZeroRadiusGivesTheCellsTouchingThePoint) {
  StatusOr<std::vector<std::string>> inside = cells_covering_circle({12.9716, 77.5946}, 0, 7);
  ASSERT_TRUE(inside.ok());
  EXPECT_EQ(*inside, std::vector<std::string>{must_encode({12.9716, 77.5946}, 7)});
  // On a corner all four cells touch.
  StatusOr<std::vector<std::string>> corner = cells_covering_circle({0, 0}, 0, 1);
  ASSERT_TRUE(corner.ok());
  EXPECT_EQ(*corner, (std::vector<std::string>{"7", "e", "k", "s"}));
  // At a pole the whole polar row touches.
  StatusOr<std::vector<std::string>> pole = cells_covering_circle({90, 0}, 0, 2);
  ASSERT_TRUE(pole.ok());
  EXPECT_EQ(pole->size(), 32U);
  for (const std::string& h : *pole) EXPECT_EQ(must_bbox(h).max_lat, 90.0);
}

TEST(GeohashCoveringTest, AntimeridianCircleHasCellsOnBothSides) {
  StatusOr<std::vector<std::string>> cells = cells_covering_circle({0, 179.999}, 1000, 6);
  ASSERT_TRUE(cells.ok());
  bool east = false;
  bool west = false;
  for (const std::string& h : *cells) {
    const BoundingBox box = must_bbox(h);
    east = east || box.max_lon == 180.0;
    west = west || box.min_lon == -180.0;
  }
  EXPECT_TRUE(east);
  EXPECT_TRUE(west);
}

TEST(GeohashCoveringTest, EnforcesTheCellLimit) {
  StatusOr<std::vector<std::string>> cells = cells_covering_circle({12.97, 77.59}, 3000, 7);
  ASSERT_TRUE(cells.ok());
  const std::size_t n = cells->size();
  ASSERT_GT(n, 100U);
  EXPECT_TRUE(cells_covering_circle({12.97, 77.59}, 3000, 7, n).ok());
  StatusOr<std::vector<std::string>> over = cells_covering_circle({12.97, 77.59}, 3000, 7, n - 1);
  expect_invalid(over.status(), "radius_m");
  EXPECT_NE(over.status().message().find("lower precision"), std::string::npos);
  // Absurd requests fail fast with the default limit instead of running away.
  expect_invalid(cells_covering_circle({0, 0}, 1e7, 12).status(), "radius_m");
  expect_invalid(cells_covering_circle({90, 0}, 0, 12).status(), "radius_m");
  expect_invalid(cells_covering_circle({0, 0}, 1e300, 12).status(), "radius_m");
}

TEST(GeohashCoveringTest, RejectsBadInput) {
  expect_invalid(cells_covering_circle({kNaN, 0}, 10, 5).status(), "lat");
  expect_invalid(cells_covering_circle({0, 181}, 10, 5).status(), "lon");
  expect_invalid(cells_covering_circle({0, 0}, -1, 5).status(), "radius_m");
  expect_invalid(cells_covering_circle({0, 0}, kNaN, 5).status(), "radius_m");
  expect_invalid(cells_covering_circle({0, 0}, kInf, 5).status(), "radius_m");
  expect_invalid(cells_covering_circle({0, 0}, 10, 0).status(), "precision");
  expect_invalid(cells_covering_circle({0, 0}, 10, 13).status(), "precision");
}

}  // namespace
}  // namespace shopeasy::geohash
