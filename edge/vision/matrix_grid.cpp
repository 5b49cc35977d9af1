#include "edge/vision/matrix_grid.hpp"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

namespace shopeasy::edge::vision {

// Four corners in clockwise order on screen (y down), starting with the one nearest
// the top-left. Ordering by angle around the centre stays correct at any rotation.
Quad clockwise_from_top_left(std::vector<cv::Point2f> p) {
  const cv::Point2f c = (p[0] + p[1] + p[2] + p[3]) * 0.25f;
  std::sort(p.begin(), p.end(), [&](cv::Point2f a, cv::Point2f b) {
    return std::atan2(a.y - c.y, a.x - c.x) < std::atan2(b.y - c.y, b.x - c.x);
  });
  std::size_t first = 0;
  for (std::size_t i = 1; i < 4; ++i) {
    if (p[i].x + p[i].y < p[first].x + p[first].y) first = i;
  }
  Quad q;
  for (std::size_t i = 0; i < 4; ++i) q[i] = p[(first + i) % 4];
  return q;
}

namespace {

// Outlines of a matrix symbol in a crop, from the pixels darker than `t`: the dark
// modules around the centre, joined, as convex quadrilaterals (clockwise from the
// top-left), appended to `out`. The finder's solid edges and the timing pattern make
// the hull the symbol's border.
void matrix_outline_at(const cv::Mat& crop, double t, std::vector<Quad>& out) {
  cv::Mat raw_dark;
  cv::threshold(crop, raw_dark, t, 255, cv::THRESH_BINARY_INV);
  // The component holding the centre; joined first with a small closing, then with
  // one of about a module, so the timing pattern's separate dots join the finder. When
  // the wider closing joins the symbol to something that reaches the crop's edge (a
  // line through the scene), the first component stands.
  cv::Mat component;
  int close = 3;
  for (int pass = 0; pass < 2; ++pass) {
    cv::Mat dark;
    cv::morphologyEx(raw_dark, dark, cv::MORPH_CLOSE,
                     cv::getStructuringElement(cv::MORPH_RECT, cv::Size(close, close)));
    cv::Mat labels;
    cv::Mat stats;
    cv::Mat centroids;
    const int n = cv::connectedComponentsWithStats(dark, labels, stats, centroids, 8, CV_32S);
    const cv::Point centre(crop.cols / 2, crop.rows / 2);
    int best = -1;
    int best_area = 0;
    cv::Rect best_box;
    for (int i = 1; i < n; ++i) {
      const int area = stats.at<int>(i, cv::CC_STAT_AREA);
      const cv::Rect r(stats.at<int>(i, cv::CC_STAT_LEFT), stats.at<int>(i, cv::CC_STAT_TOP),
                       stats.at<int>(i, cv::CC_STAT_WIDTH), stats.at<int>(i, cv::CC_STAT_HEIGHT));
      const bool touches_edge =
          r.x == 0 || r.y == 0 || r.x + r.width == crop.cols || r.y + r.height == crop.rows;
      if (area < 40 || touches_edge || !r.contains(centre)) continue;
      if (area > best_area) {
        best_area = area;
        best = i;
        best_box = r;
      }
    }
    if (best < 0) break;
    component = labels == best;
    close = std::max(3, std::max(best_box.width, best_box.height) / 10) | 1;
  }
  if (component.empty()) return;
  std::vector<cv::Point> pts;
  cv::findNonZero(component, pts);
  std::vector<cv::Point> hull;
  cv::convexHull(pts, hull);
  // The sides are the four longest edges of the simplified hull, extended to meet:
  // a DataMatrix's top-right module is light, so its hull has that corner cut off.
  // How much to simplify depends on blur and size, so a few degrees are returned.
  for (double eps : {0.01, 0.02, 0.035}) {
    std::vector<cv::Point> poly;
    cv::approxPolyDP(hull, poly, eps * cv::arcLength(hull, true), true);
    if (poly.size() < 4) continue;
    std::vector<std::pair<double, std::size_t>> edges;
    for (std::size_t i = 0; i < poly.size(); ++i) {
      edges.emplace_back(cv::norm(poly[(i + 1) % poly.size()] - poly[i]), i);
    }
    std::sort(edges.rbegin(), edges.rend());
    std::vector<std::size_t> sides;
    for (std::size_t k = 0; k < 4; ++k) sides.push_back(edges[k].second);
    std::sort(sides.begin(), sides.end());
    std::vector<cv::Point2f> corners;
    for (std::size_t k = 0; k < 4; ++k) {
      const std::size_t e1 = sides[k];
      const std::size_t e2 = sides[(k + 1) % 4];
      const cv::Point2f a1(poly[e1]);
      const cv::Point2f d1 = cv::Point2f(poly[(e1 + 1) % poly.size()]) - a1;
      const cv::Point2f a2(poly[e2]);
      const cv::Point2f d2 = cv::Point2f(poly[(e2 + 1) % poly.size()]) - a2;
      const float det = d1.x * d2.y - d1.y * d2.x;
      // Neighbouring sides must meet at a fair angle (not two pieces of one side).
      if (std::abs(det) < 0.3f * static_cast<float>(cv::norm(d1) * cv::norm(d2))) break;
      const float along = ((a2.x - a1.x) * d2.y - (a2.y - a1.y) * d2.x) / det;
      corners.push_back(a1 + d1 * along);
    }
    if (corners.size() != 4) continue;
    const Quad q = clockwise_from_top_left(corners);
    const double side = std::min(cv::norm(q[1] - q[0]), cv::norm(q[3] - q[0]));
    const double far = std::max(cv::norm(q[1] - q[0]), cv::norm(q[3] - q[0]));
    if (side < 12 || far > 2 * crop.cols) continue;
    const bool seen = std::any_of(out.begin(), out.end(), [&](const auto& o) {
      return cv::norm(o[0] - q[0]) + cv::norm(o[1] - q[1]) + cv::norm(o[2] - q[2]) +
                 cv::norm(o[3] - q[3]) <
             2.0;
    });
    if (!seen) out.push_back(q);
  }
}

constexpr int kCleanModule = 6;  // pixels per module of a re-drawn symbol
// Fits below this are noise (see pattern_fit).
constexpr double kMinFit = 1.0;

// A grid of module values, row-major, n x n, light high.
struct Grid {
  int n = 0;
  std::vector<float> v;
  float at(int y, int x) const { return v[static_cast<std::size_t>(y * n + x)]; }
  float& at(int y, int x) { return v[static_cast<std::size_t>(y * n + x)]; }
};

// The grid turned a quarter turn clockwise `turns` times.
Grid turned(const Grid& g, int turns) {
  Grid out = g;
  for (int t = 0; t < turns; ++t) {
    Grid next = out;
    for (int y = 0; y < g.n; ++y) {
      for (int x = 0; x < g.n; ++x) next.at(x, g.n - 1 - y) = out.at(y, x);
    }
    out = std::move(next);
  }
  return out;
}

// The modules a symbol's standard fixes, upright: -1 data (unknown), 0 light, 1 dark.
struct Pattern {
  MatrixKind kind = MatrixKind::kDataMatrix;
  int n = 0;
  std::vector<signed char> known;
  signed char at(int y, int x) const { return known[static_cast<std::size_t>(y * n + x)]; }
  bool fixed(int y, int x) const { return at(y, x) >= 0; }
};

// DataMatrix: the finder (solid left column and bottom row) and the timing pattern
// (alternating top row and right column).
Pattern datamatrix_pattern(int n) {
  Pattern p{MatrixKind::kDataMatrix, n,
            std::vector<signed char>(static_cast<std::size_t>(n * n), -1)};
  for (int i = 0; i < n; ++i) {
    p.known[static_cast<std::size_t>(i * n)] = 1;               // left column
    p.known[static_cast<std::size_t>((n - 1) * n + i)] = 1;     // bottom row
    p.known[static_cast<std::size_t>(i)] = i % 2 == 0 ? 1 : 0;  // top row
    if (i < n - 1) {
      p.known[static_cast<std::size_t>(i * n + n - 1)] = (n - 1 - i) % 2 == 0 ? 1 : 0;
    }
  }
  return p;
}

// QR Code (versions 1 to 6): three finders with their light separators, the timing
// row and column, the dark module, and from version 2 the one alignment pattern.
Pattern qr_pattern(int n) {
  Pattern p{MatrixKind::kQr, n, std::vector<signed char>(static_cast<std::size_t>(n * n), -1)};
  auto set = [&](int y, int x, signed char v) {
    if (y >= 0 && x >= 0 && y < n && x < n) p.known[static_cast<std::size_t>(y * n + x)] = v;
  };
  const int corners[3][2] = {{0, 0}, {0, n - 7}, {n - 7, 0}};
  for (const auto& c : corners) {
    for (int dy = -1; dy <= 7; ++dy) {
      for (int dx = -1; dx <= 7; ++dx) {
        const int ring = std::max(std::max(-dy, dy - 6), std::max(-dx, dx - 6));
        const int inner = std::max(std::abs(dy - 3), std::abs(dx - 3));
        // Ring 1 outside the finder is the separator; inside, rings 3, 1 dark-light.
        const bool dark = ring <= 0 && (inner == 3 || inner <= 1);
        set(c[0] + dy, c[1] + dx, dark ? 1 : 0);
      }
    }
  }
  for (int i = 8; i < n - 8; ++i) {
    set(6, i, i % 2 == 0 ? 1 : 0);
    set(i, 6, i % 2 == 0 ? 1 : 0);
  }
  set(n - 8, 8, 1);
  if (n >= 25) {
    const int c = n - 7;
    for (int dy = -2; dy <= 2; ++dy) {
      for (int dx = -2; dx <= 2; ++dx) {
        const int r = std::max(std::abs(dy), std::abs(dx));
        set(c + dy, c + dx, r == 1 ? 0 : 1);
      }
    }
  }
  return p;
}

Pattern make_pattern(MatrixKind kind, int n) {
  return kind == MatrixKind::kQr ? qr_pattern(n) : datamatrix_pattern(n);
}

// Symbol sizes tried: square DataMatrix up to 26 x 26 (any GTIN with lot and expiry),
// QR versions 1 to 6 (URLs such as GS1 Digital Links).
std::vector<int> sizes_of(MatrixKind kind) {
  if (kind == MatrixKind::kQr) return {21, 25, 29, 33, 37, 41};
  return {10, 12, 14, 16, 18, 20, 22, 24, 26};
}

float bilinear(const cv::Mat& img, cv::Point2f p) {
  // A degenerate outline maps modules to infinity or NaN; std::clamp passes NaN through
  // and casting it to int is undefined (in practice INT_MIN, a read far outside).
  if (!std::isfinite(p.x) || !std::isfinite(p.y)) return 0.0f;
  const float fx = std::clamp(p.x, 0.0f, static_cast<float>(img.cols) - 1.001f);
  const float fy = std::clamp(p.y, 0.0f, static_cast<float>(img.rows) - 1.001f);
  const int x = static_cast<int>(fx);
  const int y = static_cast<int>(fy);
  const float ax = fx - static_cast<float>(x);
  const float ay = fy - static_cast<float>(y);
  const float* r0 = img.ptr<float>(y);
  const float* r1 = img.ptr<float>(y + 1);
  return (r0[x] * (1 - ax) + r0[x + 1] * ax) * (1 - ay) + (r1[x] * (1 - ax) + r1[x + 1] * ax) * ay;
}

// Module centre (x + 0.5, y + 0.5) of an n-grid mapped into the crop by `outline`.
struct GridMap {
  cv::Matx33d h;
  cv::Point2f operator()(double gx, double gy) const {
    const double w = h(2, 0) * gx + h(2, 1) * gy + h(2, 2);
    return {static_cast<float>((h(0, 0) * gx + h(0, 1) * gy + h(0, 2)) / w),
            static_cast<float>((h(1, 0) * gx + h(1, 1) * gy + h(1, 2)) / w)};
  }
};

GridMap grid_map(const Quad& q, int n) {
  const float fn = static_cast<float>(n);
  const cv::Point2f src[4] = {{0, 0}, {fn, 0}, {fn, fn}, {0, fn}};
  const cv::Point2f dst[4] = {q[0], q[1], q[2], q[3]};
  return GridMap{cv::Matx33d(cv::getPerspectiveTransform(src, dst))};
}

// Each module's value (or, with `only`, those it marks): the mean of its centre and
// four points a fifth of a module around it (averages noise without reaching into
// neighbours).
Grid sample(const cv::Mat& img, const Quad& q, int n, const std::vector<bool>* only = nullptr) {
  const GridMap m = grid_map(q, n);
  Grid g{n, std::vector<float>(static_cast<std::size_t>(n * n))};
  for (int y = 0; y < n; ++y) {
    for (int x = 0; x < n; ++x) {
      if (only && !(*only)[static_cast<std::size_t>(y * n + x)]) continue;
      const double cx = x + 0.5;
      const double cy = y + 0.5;
      float sum = bilinear(img, m(cx, cy));
      sum += bilinear(img, m(cx - 0.2, cy)) + bilinear(img, m(cx + 0.2, cy));
      sum += bilinear(img, m(cx, cy - 0.2)) + bilinear(img, m(cx, cy + 0.2));
      g.at(y, x) = sum / 5;
    }
  }
  return g;
}

// Where the fixed modules of `p` are in a grid that `turns` quarter turns make upright.
std::vector<bool> fixed_before_turn(const Pattern& p, int turns) {
  Grid mask{p.n, std::vector<float>(p.known.size())};
  for (std::size_t i = 0; i < p.known.size(); ++i) mask.v[i] = p.known[i] >= 0 ? 1.0f : 0.0f;
  mask = turned(mask, (4 - turns) % 4);
  std::vector<bool> out(mask.v.size());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = mask.v[i] > 0.5f;
  return out;
}

// How well an upright grid shows the fixed modules of its symbology (finder, timing):
// the separation of the modules that must be dark from those that must be light,
// against their spread. Higher is better; below about 1 it is noise.
double pattern_fit(const Grid& g, const Pattern& p) {
  double sd = 0, sd2 = 0, sl = 0, sl2 = 0;
  int nd = 0, nl = 0;
  for (int y = 0; y < g.n; ++y) {
    for (int x = 0; x < g.n; ++x) {
      if (!p.fixed(y, x)) continue;
      const double v = g.at(y, x);
      if (p.at(y, x) == 1) {
        sd += v;
        sd2 += v * v;
        ++nd;
      } else {
        sl += v;
        sl2 += v * v;
        ++nl;
      }
    }
  }
  if (nd < 2 || nl < 2) return 0;
  const double md = sd / nd;
  const double ml = sl / nl;
  const double var = (sd2 - nd * md * md + sl2 - nl * ml * ml) / (nd + nl - 2);
  return (ml - md) / std::sqrt(std::max(var, 1.0));
}

// The best orientation of a sampled grid: turns that make it upright, and its fit.
std::pair<int, double> best_turn(const Grid& g, const Pattern& p) {
  int best = 0;
  double fit = -1e9;
  for (int t = 0; t < 4; ++t) {
    const double f = pattern_fit(turned(g, t), p);
    if (f > fit) {
      fit = f;
      best = t;
    }
  }
  return {best, fit};
}

// The outline moved corner by corner (down to a sixth of a module at a time) while the
// fit of the fixed modules improves: blur and the threshold that found the outline
// shift its sides.
Quad refine(const cv::Mat& img, Quad q, const Pattern& p, int turn, double* fit) {
  const int n = p.n;
  const std::vector<bool> only = fixed_before_turn(p, turn);
  double best = pattern_fit(turned(sample(img, q, n, &only), turn), p);
  const double module = (cv::norm(q[1] - q[0]) + cv::norm(q[2] - q[1]) + cv::norm(q[3] - q[2]) +
                         cv::norm(q[0] - q[3])) /
                        (4.0 * n);
  for (double step : {0.6 * module, 0.3 * module, 0.15 * module}) {
    const float s = static_cast<float>(step);
    const cv::Point2f moves[4] = {{s, 0}, {-s, 0}, {0, s}, {0, -s}};
    bool improved = true;
    for (int round = 0; round < 4 && improved; ++round) {
      improved = false;
      for (std::size_t c = 0; c < 4; ++c) {
        for (const cv::Point2f& d : moves) {
          Quad trial = q;
          trial[c] += d;
          const double f = pattern_fit(turned(sample(img, trial, n, &only), turn), p);
          if (f > best + 1e-3) {
            best = f;
            q = trial;
            improved = true;
          }
        }
      }
    }
  }
  *fit = best;
  return q;
}

// A plane a + b x + c y through values at module positions (least squares); with too
// few points, the mean.
cv::Vec3d fit_plane(const std::vector<cv::Vec3d>& pts) {
  double mean = 0;
  for (const auto& p : pts) mean += p[2];
  mean /= std::max<std::size_t>(1, pts.size());
  if (pts.size() < 6) return {mean, 0, 0};
  cv::Matx33d a = cv::Matx33d::zeros();
  cv::Vec3d b(0, 0, 0);
  for (const auto& p : pts) {
    const cv::Vec3d r(1, p[0], p[1]);
    a += r * r.t();
    b += r * p[2];
  }
  cv::Vec3d out;
  if (!cv::solve(a, b, out, cv::DECOMP_CHOLESKY)) return {mean, 0, 0};
  return out;
}

// Decides each module of an upright grid: the fixed ones as the standard says, the
// others against a threshold halfway between planes fitted to the fixed dark and light
// modules (uneven light), after taking `deblur` times the pull of the eight
// neighbours out of each value.
std::vector<bool> decide(const Grid& g, const Pattern& p, double deblur, double bias) {
  const int n = g.n;
  std::vector<cv::Vec3d> dark_pts;
  std::vector<cv::Vec3d> light_pts;
  for (int y = 0; y < n; ++y) {
    for (int x = 0; x < n; ++x) {
      if (!p.fixed(y, x)) continue;
      (p.at(y, x) == 1 ? dark_pts : light_pts).emplace_back(x, y, g.at(y, x));
    }
  }
  const cv::Vec3d dp = fit_plane(dark_pts);
  const cv::Vec3d lp = fit_plane(light_pts);
  Grid work = g;
  if (deblur > 0) {
    // Outside the symbol is the light quiet zone.
    auto value = [&](int y, int x) -> double {
      if (y < 0 || x < 0 || y >= n || x >= n) {
        return lp[0] + lp[1] * std::clamp(x, 0, n - 1) + lp[2] * std::clamp(y, 0, n - 1);
      }
      return g.at(y, x);
    };
    for (int y = 0; y < n; ++y) {
      for (int x = 0; x < n; ++x) {
        if (p.fixed(y, x)) continue;
        double nb = 0;
        for (int dy = -1; dy <= 1; ++dy) {
          for (int dx = -1; dx <= 1; ++dx) {
            if (dx != 0 || dy != 0) nb += value(y + dy, x + dx);
          }
        }
        work.at(y, x) = static_cast<float>(g.at(y, x) + deblur * (g.at(y, x) - nb / 8));
      }
    }
  }
  std::vector<bool> out(static_cast<std::size_t>(n * n));
  for (int y = 0; y < n; ++y) {
    for (int x = 0; x < n; ++x) {
      bool dark = p.at(y, x) == 1;
      if (!p.fixed(y, x)) {
        const double d = dp[0] + dp[1] * x + dp[2] * y;
        const double l = lp[0] + lp[1] * x + lp[2] * y;
        const double t = (d + l) / 2 + bias * (l - d);
        dark = work.at(y, x) < t;
      }
      out[static_cast<std::size_t>(y * n + x)] = dark;
    }
  }
  return out;
}

// Module decisions (true = dark) of an upright grid by a model of the blur: each value
// is taken as a light level (a plane, for uneven light) plus weights on the module
// itself, its four edge neighbours and its four corner neighbours (dark = 1, the quiet
// zone outside light). Starting from `init`, the weights are fitted to the current
// decisions, then each data module takes the state that explains its own value and
// its neighbours' best, and the two steps alternate. Strong blur that no threshold
// separates is mostly undone this way.
std::vector<bool> decide_by_blur_model(const Grid& g, const Pattern& p, std::vector<bool> dark) {
  const int n = g.n;
  // Neighbours up to two modules away, in rings by distance: (0,0), (0,1), (1,1),
  // (0,2), (1,2), (2,2). Strong blur reaches past the next module.
  constexpr int kReach = 2;
  constexpr int kRings = 6;
  constexpr int kParams = 3 + kRings;
  auto ring = [](int dy, int dx) {
    const int a = std::min(std::abs(dy), std::abs(dx));
    const int b = std::max(std::abs(dy), std::abs(dx));
    return b == 0 ? 0 : b == 1 ? 1 + a : 3 + a;
  };
  auto at = [n](int y, int x) { return static_cast<std::size_t>(y * n + x); };
  auto inside = [n](int y, int x) { return y >= 0 && x >= 0 && y < n && x < n; };
  using Vec = cv::Vec<double, kParams>;
  auto features = [&](int y, int x) {
    Vec f;
    f[0] = 1;
    f[1] = (x - n / 2.0) / n;
    f[2] = (y - n / 2.0) / n;
    for (int dy = -kReach; dy <= kReach; ++dy) {
      for (int dx = -kReach; dx <= kReach; ++dx) {
        if (inside(y + dy, x + dx) && dark[at(y + dy, x + dx)]) f[3 + ring(dy, dx)] += 1;
      }
    }
    return f;
  };
  std::vector<double> residual(static_cast<std::size_t>(n * n));
  for (int round = 0; round < 10; ++round) {
    // Fit the model to the current decisions.
    cv::Matx<double, kParams, kParams> a = cv::Matx<double, kParams, kParams>::zeros();
    Vec b;
    for (int y = 0; y < n; ++y) {
      for (int x = 0; x < n; ++x) {
        const Vec f = features(y, x);
        a += f * f.t();
        b += f * static_cast<double>(g.at(y, x));
      }
    }
    Vec w;
    if (!cv::solve(a, b, w, cv::DECOMP_SVD) || w[3] >= 0) break;  // dark must lower values
    for (int y = 0; y < n; ++y) {
      for (int x = 0; x < n; ++x) residual[at(y, x)] = g.at(y, x) - features(y, x).dot(w);
    }
    // Then flip each inner module whose flip lowers the squared residual of the values
    // it reaches, keeping the residuals current as modules flip.
    bool changed = false;
    for (int y = 0; y < n; ++y) {
      for (int x = 0; x < n; ++x) {
        if (p.fixed(y, x)) continue;
        const double sign = dark[at(y, x)] ? -1.0 : 1.0;  // the change in "dark"
        double delta = 0;
        for (int dy = -kReach; dy <= kReach; ++dy) {
          for (int dx = -kReach; dx <= kReach; ++dx) {
            if (!inside(y + dy, x + dx)) continue;
            const double r = residual[at(y + dy, x + dx)];
            const double r2 = r - sign * w[3 + ring(dy, dx)];
            delta += r2 * r2 - r * r;
          }
        }
        if (delta >= 0) continue;
        dark[at(y, x)] = !dark[at(y, x)];
        changed = true;
        for (int dy = -kReach; dy <= kReach; ++dy) {
          for (int dx = -kReach; dx <= kReach; ++dx) {
            if (inside(y + dy, x + dx)) residual[at(y + dy, x + dx)] -= sign * w[3 + ring(dy, dx)];
          }
        }
      }
    }
    if (!changed) break;
  }
  return dark;
}

// An upright grid of decisions drawn as a clean symbol with a quiet zone.
cv::Mat draw_clean(int n, const std::vector<bool>& dark, int quiet) {
  cv::Mat clean(n + 2 * quiet, n + 2 * quiet, CV_8UC1, cv::Scalar(255));
  for (int y = 0; y < n; ++y) {
    for (int x = 0; x < n; ++x) {
      if (dark[static_cast<std::size_t>(y * n + x)]) {
        clean.at<std::uint8_t>(y + quiet, x + quiet) = 0;
      }
    }
  }
  cv::Mat big;
  cv::resize(clean, big, cv::Size(), kCleanModule, kCleanModule, cv::INTER_NEAREST);
  return big;
}

}  // namespace

// The threshold comes from the middle of the crop, where the symbol and its label are;
// when the scene around is darker than the label it may still fall between scene and
// label, joining the symbol to the scene, so the threshold between ink and that scene
// is tried as well.
std::vector<Quad> matrix_outlines(const cv::Mat& crop) {
  const cv::Rect mid(crop.cols / 4, crop.rows / 4, std::max(1, crop.cols / 2),
                     std::max(1, crop.rows / 2));
  cv::Mat unused;
  const double t = cv::threshold(crop(mid), unused, 0, 255, cv::THRESH_BINARY | cv::THRESH_OTSU);
  std::vector<Quad> out;
  matrix_outline_at(crop, t, out);
  if (!out.empty()) return out;
  std::vector<std::uint8_t> below;
  for (int y = mid.y; y < mid.y + mid.height; ++y) {
    const auto* p = crop.ptr<std::uint8_t>(y);
    for (int x = mid.x; x < mid.x + mid.width; ++x) {
      if (p[x] <= t) below.push_back(p[x]);
    }
  }
  if (below.size() < 16) return out;
  const double t2 = cv::threshold(cv::Mat(below).reshape(1, 1), unused, 0, 255,
                                  cv::THRESH_BINARY | cv::THRESH_OTSU);
  if (t2 < t - 4) matrix_outline_at(crop, t2, out);
  return out;
}

std::vector<SampledGrid> sample_matrix_grids(const cv::Mat& crop, const Quad& outline,
                                             MatrixKind kind, std::size_t max_grids) {
  std::vector<SampledGrid> out;
  if (crop.empty() || crop.type() != CV_8UC1) return out;
  cv::Mat img;
  crop.convertTo(img, CV_32F);
  const double side =
      std::min(cv::norm(outline[1] - outline[0]), cv::norm(outline[3] - outline[0]));
  struct Hypothesis {
    Pattern pattern;
    int turn;
    double fit;
    Quad outline;
  };
  // The outline as found, and with each corner in turn put where the other three say
  // it is: a symbol's corner module may be light (DataMatrix top-right, QR bottom-right),
  // so its outline often has that corner cut off, and refinement only moves a corner
  // by a few modules.
  std::vector<Quad> variants = {outline};
  for (std::size_t k = 0; k < 4; ++k) {
    Quad v = outline;
    v[k] = outline[(k + 1) % 4] + outline[(k + 3) % 4] - outline[(k + 2) % 4];
    variants.push_back(v);
  }
  std::vector<Hypothesis> hyps;
  for (int n : sizes_of(kind)) {
    // Below about 1.5 pixels a module cannot be sampled.
    if (side < 1.5 * n) break;
    Hypothesis best{make_pattern(kind, n), 0, -1e9, outline};
    for (const Quad& v : variants) {
      const auto [turn, fit] = best_turn(sample(img, v, n), best.pattern);
      if (fit > best.fit) {
        best.turn = turn;
        best.fit = fit;
        best.outline = v;
      }
    }
    hyps.push_back(std::move(best));
  }
  // Every size is refined before they are ranked: an outline off by a module or two
  // fits the true size worse than some wrong one until it is refined.
  for (Hypothesis& h : hyps) {
    if (h.fit < kMinFit) continue;
    h.outline = refine(img, h.outline, h.pattern, h.turn, &h.fit);
  }
  std::sort(hyps.begin(), hyps.end(),
            [](const Hypothesis& a, const Hypothesis& b) { return a.fit > b.fit; });
  for (std::size_t k = 0; k < hyps.size() && out.size() < max_grids; ++k) {
    const Hypothesis& h = hyps[k];
    if (h.fit < kMinFit) break;
    SampledGrid g;
    g.kind = kind;
    g.n = h.pattern.n;
    g.fit = h.fit;
    g.outline = h.outline;
    g.turns = h.turn;
    g.values = turned(sample(img, g.outline, g.n), h.turn).v;
    out.push_back(std::move(g));
  }
  return out;
}

std::vector<std::vector<bool>> matrix_decisions(const SampledGrid& grid) {
  const Grid upright{grid.n, grid.values};
  const Pattern p = make_pattern(grid.kind, grid.n);
  std::vector<std::vector<bool>> out;
  out.push_back(decide(upright, p, 0.0, 0.0));
  out.push_back(decide_by_blur_model(upright, p, out.front()));
  for (double deblur : {0.5, 1.2}) {
    for (double bias : {0.0, -0.1, 0.1}) out.push_back(decide(upright, p, deblur, bias));
  }
  out.push_back(decide_by_blur_model(upright, p, out[5]));
  out.push_back(decide_by_blur_model(upright, p, decide(upright, p, 2.5, 0.0)));
  return out;
}

// A grid sampled again after its outline is refined against every module, with the
// decisions taken as the pattern: the fixed modules alone pin the outline less well
// across the symbol than all of them do.
SampledGrid resampled_by_decisions(const cv::Mat& img, const SampledGrid& g,
                                   const std::vector<bool>& dark) {
  Pattern p{g.kind, g.n, std::vector<signed char>(dark.size())};
  for (std::size_t i = 0; i < dark.size(); ++i) p.known[i] = dark[i] ? 1 : 0;
  SampledGrid out = g;
  out.outline = refine(img, g.outline, p, g.turns, &out.fit);
  out.values = turned(sample(img, out.outline, g.n), g.turns).v;
  return out;
}

std::optional<RawCode> read_matrix_grid(const cv::Mat& crop, const Quad& outline, MatrixKind kind,
                                        GridReadStats* stats) {
  GridReadStats local;
  GridReadStats& st = stats ? *stats : local;
  ZxingReadOptions o;
  o.formats = kind == MatrixKind::kQr ? kZxQr : kZxDataMatrix;
  o.try_rotate = false;
  o.try_downscale = false;
  o.try_harder = false;
  o.pure = true;
  const char* format = kind == MatrixKind::kQr ? "QRCode" : "DataMatrix";
  const int quiet = kind == MatrixKind::kQr ? 4 : 2;
  auto read = [&](const SampledGrid& g) -> std::optional<RawCode> {
    for (const std::vector<bool>& dark : matrix_decisions(g)) {
      ++st.reads;
      auto r = zxing_read_one(draw_clean(g.n, dark, quiet), o);
      if (!r.ok()) {
        ++st.library_errors;
        continue;
      }
      if (r->has_value() && (*r)->format == format) return **r;
    }
    return std::nullopt;
  };
  // Sizes ranked by how well the fixed modules fit; only the best few are read.
  constexpr std::size_t kGridsRead = 3;
  // Below this fit the decisions are too poor to steer the outline.
  constexpr double kMinFitToResample = 2.0;
  const auto grids = sample_matrix_grids(crop, outline, kind, kGridsRead);
  for (const SampledGrid& g : grids) {
    if (auto r = read(g)) return r;
  }
  if (grids.empty() || grids.front().fit < kMinFitToResample) return std::nullopt;
  cv::Mat img;
  crop.convertTo(img, CV_32F);
  const SampledGrid& g = grids.front();
  const auto decisions = matrix_decisions(g);
  if (auto r = read(resampled_by_decisions(img, g, decisions.back()))) return r;
  return std::nullopt;
}

}  // namespace shopeasy::edge::vision
