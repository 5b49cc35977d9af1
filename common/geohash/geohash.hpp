// Geohash: names cells of a latitude/longitude grid with short base32 strings
// ("u4pruydqqvj"). Each character adds 5 bits, alternately halving longitude and
// latitude (longitude first), so a hash of length p is the cell containing every longer
// hash it prefixes, and sorting hashes groups nearby places. Used to key stores and
// delivery addresses and to find the cells within a delivery radius.
//
// Conventions shared by the whole module:
// - Degrees in, degrees out; latitude in [-90, 90], longitude in [-180, 180].
// - Cells are half-open [min, max) in both axes, except that lat 90 belongs to the top
//   row and lon 180 to the last column (so every valid point has exactly one cell).
// - Geohashes are lower-case only. Upper-case input is rejected rather than folded, so a
//   hash used as a database key has exactly one spelling.
// - Precision (the string length) is 1..12; 12 characters is a cell of ~3.7 cm x 1.9 cm.
// All functions are pure and thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/status/status.hpp"

namespace shopeasy::geohash {

inline constexpr int kMinPrecision = 1;
inline constexpr int kMaxPrecision = 12;

// Mean Earth radius R1 = (2a + b) / 3 of the WGS 84 / GRS 80 ellipsoid, as recommended
// by the IUGG (H. Moritz, "Geodetic Reference System 1980", Journal of Geodesy 74 (2000)
// 128-133, which gives 6 371 008.7714 m). Spherical distances err by up to ~0.5%.
inline constexpr double kEarthMeanRadiusM = 6'371'008.8;

// Default bound on the number of cells cells_covering_circle() will return.
inline constexpr std::size_t kDefaultMaxCoveringCells = 100'000;

struct LatLon {
  double lat = 0.0;  // Degrees north, [-90, 90].
  double lon = 0.0;  // Degrees east, [-180, 180].
};

// A cell's extent in degrees. Geohash cells never cross the antimeridian, so
// min_lon <= max_lon always holds for boxes produced by this module.
struct BoundingBox {
  double min_lat = 0.0;
  double max_lat = 0.0;
  double min_lon = 0.0;
  double max_lon = 0.0;

  // The midpoint of the box in degrees (what decode() returns).
  LatLon center() const { return {(min_lat + max_lat) / 2, (min_lon + max_lon) / 2}; }
};

// The geohash of length `precision` of the cell containing `p`. Sub-microsecond; the
// result fits the small-string buffer, so nothing is allocated.
// Errors: kInvalidArgument with field "lat" or "lon" for NaN, infinite or out-of-range
// coordinates, field "precision" outside 1..12.
[[nodiscard]] StatusOr<std::string> encode(LatLon p, int precision);

// The extent of the cell named by `hash`.
// Errors: kInvalidArgument, field "geohash", if the hash is empty, longer than 12
// characters, or has a character outside the lower-case alphabet 0-9 b-h j k m n p-z.
[[nodiscard]] StatusOr<BoundingBox> decode_bbox(std::string_view hash);

// The centre of the cell named by `hash`. Errors as decode_bbox().
[[nodiscard]] StatusOr<LatLon> decode(std::string_view hash);

// True when decode_bbox(hash) would succeed.
bool is_valid(std::string_view hash);

enum class Direction {
  kNorth,
  kNorthEast,
  kEast,
  kSouthEast,
  kSouth,
  kSouthWest,
  kWest,
  kNorthWest
};

// All eight directions in the order neighbours() uses.
inline constexpr std::array<Direction, 8> kAllDirections = {
    Direction::kNorth, Direction::kNorthEast, Direction::kEast, Direction::kSouthEast,
    Direction::kSouth, Direction::kSouthWest, Direction::kWest, Direction::kNorthWest};

// The same-precision cell next to `hash` in direction `d`. Longitude wraps, so east of
// the last column (lon 180) is the first (lon -180). Latitude does not wrap: the top row
// has no cell to its north, north-east or north-west (likewise the bottom row to the
// south), and asking for one returns kOutOfRange.
// Errors: kInvalidArgument as decode_bbox(); kOutOfRange as above.
[[nodiscard]] StatusOr<std::string> neighbour(std::string_view hash, Direction d);

// The neighbours of `hash` indexed by static_cast<int>(Direction), i.e. in the order of
// kAllDirections. Directions that leave the grid over a pole hold an empty string.
// Errors: kInvalidArgument as decode_bbox().
[[nodiscard]] StatusOr<std::array<std::string, 8>> neighbours(std::string_view hash);

// The distinct same-precision cells sharing an edge or corner with `hash`, excluding
// `hash` itself, in kAllDirections order: 8 cells, or 5 in the top or bottom row. The
// grid is treated as flat at the poles: top-row cells do not count as touching each
// other through the pole point; use cells_covering_circle() to search around a pole.
// Errors: kInvalidArgument as decode_bbox().
[[nodiscard]] StatusOr<std::vector<std::string>> adjacent_cells(std::string_view hash);

// Great-circle distance in metres on a sphere of radius kEarthMeanRadiusM (haversine
// formula, in a form that stays accurate for antipodal points). Inputs are not checked:
// NaN in gives NaN out; longitudes outside [-180, 180] are taken modulo 360.
double haversine_m(LatLon a, LatLon b);

// Great-circle distance in metres from `p` to the nearest point of `box` (0 when `p` is
// inside or on its edge). The box is the spherical region between two parallels and two
// meridians, with min_lat <= max_lat and min_lon <= max_lon (no antimeridian crossing);
// `p` may be on either side of the antimeridian. Inputs are not checked.
double distance_to_bbox_m(LatLon p, const BoundingBox& box);

// Every cell of `precision` that intersects the closed circle (spherical cap) of
// `radius_m` metres around `centre`: a cell is returned exactly when its nearest point is
// within radius_m (to a micrometre of rounding), so the result holds the cell of every
// point within the circle and nothing else. Handles the antimeridian and circles that
// contain a pole. The result is sorted (hence grouped by shared prefix) and has no
// duplicates; a radius of 0 gives the cell(s) the centre lies in or on the edge of.
// A circle holding a pole includes the whole polar row (every polar cell touches the
// pole). Cost: the cells returned plus ~2 log2(columns) distance evaluations per row
// spanned (a 3 km circle at precision 7 is ~1300 cells and ~1 ms).
// Errors: kInvalidArgument with field "lat"/"lon" (centre as encode()), "radius_m" (NaN,
// infinite or negative) or "precision"; kInvalidArgument with field "radius_m" if more
// than `max_cells` cells would be returned (use a lower precision or a smaller circle).
[[nodiscard]] StatusOr<std::vector<std::string>> cells_covering_circle(
    LatLon centre, double radius_m, int precision,
    std::size_t max_cells = kDefaultMaxCoveringCells);

}  // namespace shopeasy::geohash
