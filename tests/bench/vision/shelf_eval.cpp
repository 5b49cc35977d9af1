#include "tests/bench/vision/shelf_eval.hpp"

#include <array>
#include <mutex>

#include <opencv2/core.hpp>

#include "edge/vision/shelf_scanner.hpp"
#include "tests/bench/vision/eval_common.hpp"
#include "tools/vision-gen/shelf.hpp"

namespace shopeasy::bench::vision {
namespace {

namespace ev = edge::vision;

struct Counts {
  int slots = 0;
  int empty_tp = 0, empty_fp = 0, empty_fn = 0;
  int low_tp = 0, low_fp = 0, low_fn = 0;
  int wrong_tp = 0, wrong_fp = 0, wrong_fn = 0;
  int unknown = 0;
  int unregistered = 0;
  std::vector<double> ms;
  void add(const Counts& o) {
    slots += o.slots;
    empty_tp += o.empty_tp;
    empty_fp += o.empty_fp;
    empty_fn += o.empty_fn;
    low_tp += o.low_tp;
    low_fp += o.low_fp;
    low_fn += o.low_fn;
    wrong_tp += o.wrong_tp;
    wrong_fp += o.wrong_fp;
    wrong_fn += o.wrong_fn;
    unknown += o.unknown;
    unregistered += o.unregistered;
    ms.insert(ms.end(), o.ms.begin(), o.ms.end());
  }
};

void score(const vision_gen::ShelfLayout& layout, const vision_gen::ShelfState& state,
           const ev::ShelfScan& scan, Counts* c) {
  if (!scan.registered) ++c->unregistered;
  for (std::size_t s = 0; s < layout.slots.size(); ++s) {
    const double fill = vision_gen::fill_of(state, s);
    const ev::SlotState got = scan.slots[s].state;
    ++c->slots;
    if (got == ev::SlotState::kUnknown) ++c->unknown;
    const bool truth_empty = fill == 0;
    const bool said_empty = got == ev::SlotState::kEmpty;
    c->empty_tp += truth_empty && said_empty;
    c->empty_fp += !truth_empty && said_empty;
    c->empty_fn += truth_empty && !said_empty;
    // The generated planograms call a slot low below 45% of its facings.
    const bool truth_low = fill > 0 && fill < 0.45;
    const bool said_low = got == ev::SlotState::kLow;
    c->low_tp += truth_low && said_low;
    c->low_fp += !truth_low && said_low;
    c->low_fn += truth_low && !said_low;
    const bool truth_wrong = fill > 0 && state.intruder[s].has_value();
    const bool said_wrong = got == ev::SlotState::kWrongProduct;
    c->wrong_tp += truth_wrong && said_wrong;
    c->wrong_fp += !truth_wrong && said_wrong;
    c->wrong_fn += truth_wrong && !said_wrong;
  }
}

std::string ratio(int num, int den) {
  return den == 0 ? "n/a" : fmt(static_cast<double>(num) / den, 3);
}

}  // namespace

nlohmann::json run_shelf_eval(const ShelfEvalOptions& o, std::ostream& out) {
  std::vector<Counts> per_worker(static_cast<std::size_t>(o.jobs));
  std::vector<Counts> per_worker_full_only(static_cast<std::size_t>(o.jobs));
  const double wall0 = wall_ms();
  parallel_for(static_cast<std::size_t>(o.shelves), o.jobs, [&](std::size_t i, int w) {
    const std::uint32_t seed = o.seed + static_cast<std::uint32_t>(i);
    std::mt19937 rng(seed);
    cv::theRNG().state = seed;   // RANSAC and ORB draw from it
    vision_gen::ShelfSpec spec;  // 1920x1080, 4 rows of 6 slots
    const vision_gen::ShelfLayout layout = vision_gen::make_shelf_layout(spec, rng);
    const vision_gen::CameraView identity;
    const cv::Mat full =
        vision_gen::render_shelf(layout, vision_gen::full_state(layout), identity, rng);
    const cv::Mat empty =
        vision_gen::render_shelf(layout, vision_gen::empty_state(layout), identity, rng);
    auto plan = ev::parse_planogram(vision_gen::shelf_planogram(layout, "eval", "full", "empty"));
    if (!plan.ok()) return;
    const vision_gen::ShelfState state = vision_gen::random_state(layout, rng, 0.25, 0.3, 0.05);
    const cv::Mat frame =
        vision_gen::render_shelf(layout, state, vision_gen::random_view(rng, 30, 1.0), rng);
    auto scanner = ev::ShelfScanner::create_from_images(*plan, full, empty);
    if (!scanner.ok()) return;
    const double t0 = thread_cpu_ms();
    auto scan = (*scanner)->scan(frame, 0,
                                 [](const std::string&) { return std::optional<std::int64_t>(3); });
    const double ms = thread_cpu_ms() - t0;
    if (!scan.ok()) return;
    Counts& c = per_worker[static_cast<std::size_t>(w)];
    c.ms.push_back(ms);
    score(layout, state, *scan, &c);
    if (static_cast<int>(i) < o.without_empty_reference) {
      auto full_only = ev::ShelfScanner::create_from_images(*plan, full, std::nullopt);
      if (!full_only.ok()) return;
      auto s2 = (*full_only)->scan(frame, 0);
      if (s2.ok()) score(layout, state, *s2, &per_worker_full_only[static_cast<std::size_t>(w)]);
    }
  });
  Counts c;
  Counts f;
  for (const Counts& w : per_worker) c.add(w);
  for (const Counts& w : per_worker_full_only) f.add(w);
  const Summary t = summarize(c.ms);
  out << "\n## Shelf scans (" << o.shelves << " generated 1920x1080 shelves, " << c.slots
      << " slots; camera moved up to 30 px, +-1.5 degrees, +-3% scale; light changed)\n\n"
      << "| measure | value |\n| --- | --- |\n"
      << "| empty-slot recall | " << ratio(c.empty_tp, c.empty_tp + c.empty_fn) << " ("
      << c.empty_tp << " of " << c.empty_tp + c.empty_fn << ") |\n"
      << "| empty-slot precision | " << ratio(c.empty_tp, c.empty_tp + c.empty_fp) << " ("
      << c.empty_fp << " false) |\n"
      << "| low-slot recall / precision | " << ratio(c.low_tp, c.low_tp + c.low_fn) << " / "
      << ratio(c.low_tp, c.low_tp + c.low_fp) << " |\n"
      << "| wrong product recall / false alarms | " << ratio(c.wrong_tp, c.wrong_tp + c.wrong_fn)
      << " / " << c.wrong_fp << " |\n"
      << "| frames not registered / slots unknown | " << c.unregistered << " / " << c.unknown
      << " |\n"
      << "| CPU ms per frame, median / p95 / max (incl. product codes) | " << fmt(t.median) << " / "
      << fmt(t.p95) << " / " << fmt(t.max) << " |\n";
  if (f.slots > 0) {
    out << "| without the empty reference (" << f.slots / 24
        << " shelves): empty recall / precision | " << ratio(f.empty_tp, f.empty_tp + f.empty_fn)
        << " / " << ratio(f.empty_tp, f.empty_tp + f.empty_fp) << " |\n";
  }
  out << "\nTargets: recall >= 0.98, precision >= 0.95, < 200 ms per frame. Took "
      << fmt((wall_ms() - wall0) / 1000, 0) << " s wall on " << o.jobs << " threads.\n";
  auto r = [](int a, int b) { return b == 0 ? 0.0 : static_cast<double>(a) / b; };
  return {{"shelves", o.shelves},
          {"slots", c.slots},
          {"empty_recall", r(c.empty_tp, c.empty_tp + c.empty_fn)},
          {"empty_precision", r(c.empty_tp, c.empty_tp + c.empty_fp)},
          {"low_recall", r(c.low_tp, c.low_tp + c.low_fn)},
          {"low_precision", r(c.low_tp, c.low_tp + c.low_fp)},
          {"wrong_recall", r(c.wrong_tp, c.wrong_tp + c.wrong_fn)},
          {"wrong_false_alarms", c.wrong_fp},
          {"unregistered", c.unregistered},
          {"ms_median", t.median},
          {"ms_p95", t.p95},
          {"ms_max", t.max},
          {"full_only_empty_recall", r(f.empty_tp, f.empty_tp + f.empty_fn)},
          {"full_only_empty_precision", r(f.empty_tp, f.empty_tp + f.empty_fp)}};
}

}  // namespace shopeasy::bench::vision
