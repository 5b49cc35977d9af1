#include "common/geohash/geohash.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <optional>

namespace shopeasy::geohash {
namespace {

constexpr std::string_view kAlphabet = "0123456789bcdefghjkmnpqrstuvwxyz";
constexpr std::uint8_t kNotInAlphabet = 0xFF;

constexpr std::array<std::uint8_t, 256> kCharValue = [] {
  std::array<std::uint8_t, 256> table{};
  table.fill(kNotInAlphabet);
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::uint8_t>(i);
  }
  return table;
}();

constexpr double kPi = std::numbers::pi;
constexpr double kDegToRad = kPi / 180.0;

// Slack when deciding whether a cell is within a radius: covers rounding in the
// trigonometry (~1e-8 m) so a point exactly on the circle still gets its cell.
constexpr double kCoverSlackM = 1e-6;

// Longitude gets the odd bit when 5 * precision is odd, because encoding starts with it.
constexpr int lon_bits(int precision) { return (5 * precision + 1) / 2; }
constexpr int lat_bits(int precision) { return 5 * precision / 2; }

// Per-precision grid geometry. Cell sizes are 180 or 360 degrees divided by a power of
// two, hence exact in binary, and so are the cell edges -90 + i * height (i < 2^30): the
// grid arithmetic has no rounding. Tabulated because encode() is on hot paths.
struct Grid {
  std::uint32_t rows = 0;
  std::uint32_t cols = 0;
  double height = 0;        // Degrees of latitude per row.
  double width = 0;         // Degrees of longitude per column.
  double rows_per_deg = 0;  // Reciprocals: multiplying is cheaper than dividing.
  double cols_per_deg = 0;
};

constexpr std::array<Grid, kMaxPrecision + 1> kGrids = [] {
  std::array<Grid, kMaxPrecision + 1> grids{};
  for (int p = kMinPrecision; p <= kMaxPrecision; ++p) {
    Grid& g = grids[static_cast<std::size_t>(p)];
    g.rows = 1U << lat_bits(p);
    g.cols = 1U << lon_bits(p);
    g.height = 180.0 / g.rows;
    g.width = 360.0 / g.cols;
    g.rows_per_deg = g.rows / 180.0;
    g.cols_per_deg = g.cols / 360.0;
  }
  return grids;
}();

const Grid& grid(int precision) { return kGrids[static_cast<std::size_t>(precision)]; }

// A cell as row and column indices into the 2^lat_bits x 2^lon_bits grid of `precision`.
struct Cell {
  std::uint32_t row = 0;  // Counted from the south pole.
  std::uint32_t col = 0;  // Counted eastwards from lon -180.
  int precision = 0;
};

// The slice of [lo, lo + count * size) holding v, with exactly the semantics of the
// classic halving encoder: a value on an edge belongs to the upper slice, and the top of
// the range to the last slice. The scaled estimate can be off by one next to an edge;
// comparing with the exact edge repairs that without looping over bits.
std::uint32_t slice_of(double v, double lo, double size, double per_unit, std::uint32_t count) {
  const double approx = std::floor((v - lo) * per_unit);
  std::uint32_t i = 0;
  if (approx >= static_cast<double>(count - 1)) {
    i = count - 1;
  } else if (approx > 0) {
    i = static_cast<std::uint32_t>(approx);
  }
  const double edge = lo + static_cast<double>(i) * size;
  if (v < edge && i > 0) {
    --i;
  } else if (i + 1 < count && v >= edge + size) {
    ++i;
  }
  return i;
}

// Moves the low 32 bits of x to the even bit positions of the result.
std::uint64_t spread_bits(std::uint64_t x) {
  x &= 0xFFFFFFFFULL;
  x = (x | (x << 16)) & 0x0000FFFF0000FFFFULL;
  x = (x | (x << 8)) & 0x00FF00FF00FF00FFULL;
  x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0FULL;
  x = (x | (x << 2)) & 0x3333333333333333ULL;
  x = (x | (x << 1)) & 0x5555555555555555ULL;
  return x;
}

// Inverse of spread_bits: gathers the even bit positions of x.
std::uint32_t gather_bits(std::uint64_t x) {
  x &= 0x5555555555555555ULL;
  x = (x | (x >> 1)) & 0x3333333333333333ULL;
  x = (x | (x >> 2)) & 0x0F0F0F0F0F0F0F0FULL;
  x = (x | (x >> 4)) & 0x00FF00FF00FF00FFULL;
  x = (x | (x >> 8)) & 0x0000FFFF0000FFFFULL;
  x = (x | (x >> 16)) & 0x00000000FFFFFFFFULL;
  return static_cast<std::uint32_t>(x);
}

std::string hash_of(const Cell& cell) {
  const int total_bits = 5 * cell.precision;
  // The most significant bit is always a longitude bit; which of the two sits in the
  // least significant position depends on the parity of the bit count.
  const std::uint64_t bits = (total_bits % 2 == 1)
                                 ? spread_bits(cell.col) | (spread_bits(cell.row) << 1)
                                 : (spread_bits(cell.col) << 1) | spread_bits(cell.row);
  std::array<char, kMaxPrecision> chars{};
  for (int i = 0; i < cell.precision; ++i) {
    const int shift = 5 * (cell.precision - 1 - i);
    chars[static_cast<std::size_t>(i)] = kAlphabet[(bits >> shift) & 0x1F];
  }
  return std::string(chars.data(), static_cast<std::size_t>(cell.precision));
}

std::optional<Cell> parse_cell(std::string_view hash) {
  if (hash.empty() || hash.size() > static_cast<std::size_t>(kMaxPrecision)) {
    return std::nullopt;
  }
  std::uint64_t bits = 0;
  for (char c : hash) {
    const std::uint8_t v = kCharValue[static_cast<unsigned char>(c)];
    if (v == kNotInAlphabet) return std::nullopt;
    bits = (bits << 5) | v;
  }
  Cell cell;
  cell.precision = static_cast<int>(hash.size());
  if ((5 * cell.precision) % 2 == 1) {
    cell.col = gather_bits(bits);
    cell.row = gather_bits(bits >> 1);
  } else {
    cell.col = gather_bits(bits >> 1);
    cell.row = gather_bits(bits);
  }
  return cell;
}

// Control and non-ASCII bytes are shown escaped so the message is safe to log.
std::string describe_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7F) return std::string("'") + c + "'";
  constexpr std::string_view kHex = "0123456789abcdef";
  return std::string("byte 0x") + kHex[u >> 4] + kHex[u & 0xF];
}

// Builds the error for a hash parse_cell() rejected, naming the first problem.
Status invalid_hash(std::string_view hash) {
  if (hash.empty()) return invalid_argument("geohash is empty", "geohash");
  if (hash.size() > static_cast<std::size_t>(kMaxPrecision)) {
    return invalid_argument("geohash has " + std::to_string(hash.size()) + " characters; at most " +
                                std::to_string(kMaxPrecision) + " are supported",
                            "geohash");
  }
  for (std::size_t i = 0; i < hash.size(); ++i) {
    const char c = hash[i];
    if (kCharValue[static_cast<unsigned char>(c)] != kNotInAlphabet) continue;
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (lower != c && kCharValue[static_cast<unsigned char>(lower)] != kNotInAlphabet) {
      return invalid_argument("geohash must be lower case; found " + describe_char(c) +
                                  " at position " + std::to_string(i),
                              "geohash");
    }
    return invalid_argument("geohash has " + describe_char(c) + " at position " +
                                std::to_string(i) +
                                ", which is not in the geohash alphabet "
                                "0-9 b-h j k m n p-z",
                            "geohash");
  }
  return internal_error("geohash rejected for no reason found");
}

StatusOr<Cell> cell_of_hash(std::string_view hash) {
  std::optional<Cell> cell = parse_cell(hash);
  if (!cell) return invalid_hash(hash);
  return *cell;
}

BoundingBox bbox_of(const Cell& cell) {
  const Grid& g = grid(cell.precision);
  BoundingBox box;
  box.min_lat = -90.0 + static_cast<double>(cell.row) * g.height;
  box.max_lat = box.min_lat + g.height;
  box.min_lon = -180.0 + static_cast<double>(cell.col) * g.width;
  box.max_lon = box.min_lon + g.width;
  return box;
}

Status check_point(LatLon p) {
  // The negated comparisons also reject NaN.
  if (!(p.lat >= -90.0 && p.lat <= 90.0)) {
    return invalid_argument("latitude must be a number in [-90, 90]", "lat");
  }
  if (!(p.lon >= -180.0 && p.lon <= 180.0)) {
    return invalid_argument("longitude must be a number in [-180, 180]", "lon");
  }
  return Status::ok();
}

Status check_precision(int precision) {
  if (precision < kMinPrecision || precision > kMaxPrecision) {
    return invalid_argument("precision must be in [1, 12], got " + std::to_string(precision),
                            "precision");
  }
  return Status::ok();
}

Cell cell_of_point(LatLon p, int precision) {
  Cell cell;
  cell.precision = precision;
  const Grid& g = grid(precision);
  cell.row = slice_of(p.lat, -90.0, g.height, g.rows_per_deg, g.rows);
  cell.col = slice_of(p.lon, -180.0, g.width, g.cols_per_deg, g.cols);
  return cell;
}

// Offsets (rows north, columns east) in Direction order.
constexpr std::array<std::array<int, 2>, 8> kOffsets = {
    {{1, 0}, {1, 1}, {0, 1}, {-1, 1}, {-1, 0}, {-1, -1}, {0, -1}, {1, -1}}};

std::optional<Cell> step(const Cell& cell, Direction d) {
  const auto& off = kOffsets[static_cast<std::size_t>(d)];
  const std::int64_t rows = grid(cell.precision).rows;
  const std::int64_t cols = grid(cell.precision).cols;
  const std::int64_t row = static_cast<std::int64_t>(cell.row) + off[0];
  if (row < 0 || row >= rows) return std::nullopt;
  Cell out = cell;
  out.row = static_cast<std::uint32_t>(row);
  out.col =
      static_cast<std::uint32_t>((static_cast<std::int64_t>(cell.col) + off[1] + cols) % cols);
  return out;
}

double hav(double angle) {
  const double s = std::sin(angle / 2);
  return s * s;
}

// Central angle between two points given in radians. hav(d) alone loses precision near
// d = pi (1 - h cancels), so it is paired with hav(pi - d), the haversine to the
// antipode of b, which is accurate exactly there.
double central_angle(double lat1, double lon1, double lat2, double lon2) {
  const double dlon = lon2 - lon1;
  const double cos_product = std::cos(lat1) * std::cos(lat2);
  const double c = std::cos(dlon / 2);
  const double h = hav(lat2 - lat1) + cos_product * hav(dlon);
  const double s = std::sin((lat1 + lat2) / 2);
  const double h_antipode = s * s + cos_product * c * c;
  return 2 * std::atan2(std::sqrt(std::max(h, 0.0)), std::sqrt(std::max(h_antipode, 0.0)));
}

// Shortest decimal form of a double, for messages.
std::string format_number(double v) {
  std::array<char, 32> buf{};
  const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  return ec == std::errc() ? std::string(buf.data(), end) : std::string("?");
}

// Angle in degrees from a to b going the short way round, in [0, 180].
double lon_gap_deg(double a, double b) {
  double gap = std::fmod(std::fabs(b - a), 360.0);
  return gap > 180.0 ? 360.0 - gap : gap;
}

}  // namespace

StatusOr<std::string> encode(LatLon p, int precision) {
  SHOPEASY_RETURN_IF_ERROR(check_point(p));
  SHOPEASY_RETURN_IF_ERROR(check_precision(precision));
  return hash_of(cell_of_point(p, precision));
}

StatusOr<BoundingBox> decode_bbox(std::string_view hash) {
  std::optional<Cell> cell = parse_cell(hash);
  if (!cell) return invalid_hash(hash);
  return bbox_of(*cell);
}

StatusOr<LatLon> decode(std::string_view hash) {
  std::optional<Cell> cell = parse_cell(hash);
  if (!cell) return invalid_hash(hash);
  return bbox_of(*cell).center();
}

bool is_valid(std::string_view hash) { return parse_cell(hash).has_value(); }

StatusOr<std::string> neighbour(std::string_view hash, Direction d) {
  StatusOr<Cell> cell = cell_of_hash(hash);
  if (!cell.ok()) return cell.status();
  std::optional<Cell> next = step(*cell, d);
  if (!next) {
    return Status(StatusCode::kOutOfRange,
                  "geohash " + std::string(hash) + " is in the polar row; there is no cell " +
                      "beyond the pole",
                  "geohash");
  }
  return hash_of(*next);
}

StatusOr<std::array<std::string, 8>> neighbours(std::string_view hash) {
  StatusOr<Cell> cell = cell_of_hash(hash);
  if (!cell.ok()) return cell.status();
  std::array<std::string, 8> out;
  for (std::size_t i = 0; i < kAllDirections.size(); ++i) {
    if (std::optional<Cell> next = step(*cell, kAllDirections[i])) out[i] = hash_of(*next);
  }
  return out;
}

StatusOr<std::vector<std::string>> adjacent_cells(std::string_view hash) {
  StatusOr<std::array<std::string, 8>> around = neighbours(hash);
  if (!around.ok()) return around.status();
  std::vector<std::string> out;
  out.reserve(8);
  // Every grid has at least 8 columns, so today no two directions reach the same cell;
  // the check keeps the "distinct" promise independent of that.
  for (std::string& h : *around) {
    if (h.empty() || h == hash || std::find(out.begin(), out.end(), h) != out.end()) continue;
    out.push_back(std::move(h));
  }
  return out;
}

double haversine_m(LatLon a, LatLon b) {
  return kEarthMeanRadiusM *
         central_angle(a.lat * kDegToRad, a.lon * kDegToRad, b.lat * kDegToRad, b.lon * kDegToRad);
}

double distance_to_bbox_m(LatLon p, const BoundingBox& box) {
  const double width = box.max_lon - box.min_lon;
  double east_of_min = std::fmod(p.lon - box.min_lon, 360.0);
  if (east_of_min < 0) east_of_min += 360.0;
  const bool lon_inside = east_of_min <= width;
  if (lon_inside && p.lat >= box.min_lat && p.lat <= box.max_lat) return 0.0;

  const double lat = p.lat * kDegToRad;
  const double lon = p.lon * kDegToRad;
  // Outside the box the nearest point lies on one of its four edges.
  double best = kPi;
  auto consider = [&](double edge_lat, double edge_lon) {
    best = std::min(best, central_angle(lat, lon, edge_lat, edge_lon));
  };

  // Along a parallel, distance grows with the longitude gap, so the nearest point of a
  // lat edge is at the nearest longitude of the box.
  double nearest_lon = p.lon;
  if (!lon_inside) {
    nearest_lon = lon_gap_deg(p.lon, box.min_lon) <= lon_gap_deg(p.lon, box.max_lon) ? box.min_lon
                                                                                     : box.max_lon;
  }
  consider(box.min_lat * kDegToRad, nearest_lon * kDegToRad);
  consider(box.max_lat * kDegToRad, nearest_lon * kDegToRad);

  // Along a meridian, cos(distance) = A sin(phi) + B cos(phi), which peaks at
  // phi = atan2(A, B); when B <= 0 that peak is beyond a pole and the nearest point of
  // the edge is one of its ends.
  const double lo = box.min_lat * kDegToRad;
  const double hi = box.max_lat * kDegToRad;
  for (double edge_lon_deg : {box.min_lon, box.max_lon}) {
    const double edge_lon = edge_lon_deg * kDegToRad;
    consider(lo, edge_lon);
    consider(hi, edge_lon);
    const double b = std::cos(lat) * std::cos(edge_lon - lon);
    if (b > 0) consider(std::clamp(std::atan2(std::sin(lat), b), lo, hi), edge_lon);
  }
  return kEarthMeanRadiusM * best;
}

StatusOr<std::vector<std::string>> cells_covering_circle(LatLon centre, double radius_m,
                                                         int precision, std::size_t max_cells) {
  SHOPEASY_RETURN_IF_ERROR(check_point(centre));
  if (!(radius_m >= 0.0) || std::isinf(radius_m)) {
    return invalid_argument("radius must be a finite number of metres >= 0", "radius_m");
  }
  SHOPEASY_RETURN_IF_ERROR(check_precision(precision));

  const double height_deg = grid(precision).height;
  const std::int64_t rows = grid(precision).rows;
  const std::int64_t cols = grid(precision).cols;
  const auto too_many = [&] {
    return invalid_argument("a circle of " + format_number(radius_m) + " m covers more than " +
                                std::to_string(max_cells) + " geohash cells of precision " +
                                std::to_string(precision) +
                                "; use a lower precision or a smaller radius",
                            "radius_m");
  };

  // Rows: those meeting the circle's latitude span, padded by a hair against rounding.
  const double delta_deg = std::min(radius_m / kEarthMeanRadiusM, kPi) / kDegToRad;
  const double pad_deg = 1e-9;
  const auto row_of = [&](double lat_deg) {
    const double r = std::floor((lat_deg + 90.0) / height_deg);
    return static_cast<std::int64_t>(std::clamp(r, 0.0, static_cast<double>(rows - 1)));
  };
  const std::int64_t row_first = row_of(centre.lat - delta_deg - pad_deg);
  const std::int64_t row_last = row_of(centre.lat + delta_deg + pad_deg);
  // Every row strictly between the first and last meets the circle and adds a cell.
  if (row_last - row_first - 1 > static_cast<std::int64_t>(max_cells)) return too_many();

  // Within a row, the circle's slice projects onto one run of longitudes centred on the
  // centre's meridian. So the touching cells are one run of columns containing the
  // centre's column, and the others one run containing the column of the opposite
  // meridian. Walking a full turn that starts at the opposite column, "touches" is
  // false, then true through the centre's column, then false: both ends of the true run
  // can be found by bisection, in O(log columns) distance evaluations per row.
  const std::int64_t centre_col = cell_of_point(centre, precision).col;
  const std::int64_t start = centre_col + cols / 2;  // Opposite column, unwrapped.
  std::vector<std::string> out;
  for (std::int64_t row = row_first; row <= row_last; ++row) {
    const auto touches = [&](std::int64_t step_from_start) {
      const Cell cell{static_cast<std::uint32_t>(row),
                      static_cast<std::uint32_t>((start + step_from_start) % cols), precision};
      return distance_to_bbox_m(centre, bbox_of(cell)) <= radius_m + kCoverSlackM;
    };
    const std::int64_t mid = cols / 2;  // The centre's column.
    if (!touches(mid)) continue;        // The row misses the circle (a padded end row).
    std::int64_t lo = 0;  // Invariant: touches(hi); the first touching step is in [lo, hi].
    std::int64_t hi = mid;
    while (lo < hi) {
      const std::int64_t m = lo + (hi - lo) / 2;
      if (touches(m)) {
        hi = m;
      } else {
        lo = m + 1;
      }
    }
    const std::int64_t first = lo;
    lo = mid;  // Invariant: touches(lo); the last touching step is in [lo, hi].
    hi = cols - 1;
    while (lo < hi) {
      const std::int64_t m = hi - (hi - lo) / 2;
      if (touches(m)) {
        lo = m;
      } else {
        hi = m - 1;
      }
    }
    const std::int64_t last = lo;
    if (out.size() + static_cast<std::size_t>(last - first + 1) > max_cells) return too_many();
    for (std::int64_t step = first; step <= last; ++step) {
      out.push_back(hash_of(Cell{static_cast<std::uint32_t>(row),
                                 static_cast<std::uint32_t>((start + step) % cols), precision}));
    }
  }

  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace shopeasy::geohash
