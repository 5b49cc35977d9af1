#include "tests/bench/vision/shelf_learn_eval.hpp"

#include <array>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <random>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "edge/vision/shelf_scanner.hpp"
#include "tests/bench/vision/eval_common.hpp"
#include "tools/shelf-sim/shelf_sim.hpp"
#include "tools/vision-gen/shelf.hpp"

namespace shopeasy::bench::vision {
namespace {

namespace ev = edge::vision;

using Present = std::vector<std::vector<bool>>;

// One shelf of a source: its planogram and references, and how to draw a frame.
struct Shelf {
  nlohmann::json planogram;
  cv::Mat full;
  cv::Mat empty;
  std::vector<int> facings;
  std::function<cv::Mat(const Present&, int frame, std::mt19937&)> render;
};

Shelf gen_shelf(std::uint32_t seed) {
  auto rng = std::make_shared<std::mt19937>(seed);
  auto layout = std::make_shared<vision_gen::ShelfLayout>(
      vision_gen::make_shelf_layout(vision_gen::ShelfSpec{}, *rng));
  Shelf s;
  const vision_gen::CameraView identity;
  s.full = vision_gen::render_shelf(*layout, vision_gen::full_state(*layout), identity, *rng);
  s.empty = vision_gen::render_shelf(*layout, vision_gen::empty_state(*layout), identity, *rng);
  s.planogram = vision_gen::shelf_planogram(*layout, "eval", "full", "empty");
  for (const auto& sl : layout->slots) s.facings.push_back(sl.facings);
  // The camera as installed: moved from where the references were taken, then a
  // little shake and a change of light in every frame.
  const vision_gen::CameraView base = vision_gen::random_view(*rng, 20, 0.6);
  s.render = [layout, base](const Present& p, int, std::mt19937& r) {
    vision_gen::ShelfState st = vision_gen::full_state(*layout);
    st.present = p;
    vision_gen::CameraView v = vision_gen::random_view(r, 3, 0.8);
    v.dx += base.dx;
    v.dy += base.dy;
    v.rotation_deg = base.rotation_deg + v.rotation_deg * 0.1;
    v.scale = base.scale;
    v.tilt_x = base.tilt_x;
    v.tilt_y = base.tilt_y;
    return vision_gen::render_shelf(*layout, st, v, r);
  };
  return s;
}

Shelf sim_shelf(std::uint32_t seed) {
  auto shelf = std::make_shared<shelf_sim::Shelf>(shelf_sim::make_shelf(seed));
  Shelf s;
  std::mt19937 rng(seed ^ 0x5bd1e995u);
  s.full = shelf_sim::render(*shelf, shelf_sim::all(*shelf, true), shelf_sim::Camera{}, rng);
  s.empty = shelf_sim::render(*shelf, shelf_sim::all(*shelf, false), shelf_sim::Camera{}, rng);
  s.planogram = shelf_sim::planogram(*shelf, "eval", "full", "empty");
  s.facings = shelf_sim::facings(*shelf);
  const shelf_sim::Camera base = shelf_sim::installed_camera(rng);
  s.render = [shelf, base](const Present& p, int frame, std::mt19937& r) {
    return shelf_sim::render(*shelf, p, shelf_sim::frame_camera(base, frame, r), r);
  };
  return s;
}

// Normal trading: facings sell one by one, empty slots are restocked after a while,
// low ones sometimes topped up.
struct Trading {
  Present present;
  std::vector<int> phantom;   // per slot: the ledger's belief while the slot is empty
  std::vector<bool> drifted;  // per slot: the ledger says 0 while the slot is stocked
};

Trading start_trading(const std::vector<int>& facings, std::mt19937& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  Trading t;
  for (int f : facings) {
    std::vector<bool> p(static_cast<std::size_t>(f), true);
    const double x = u(rng);
    if (x < 0.18) {
      std::fill(p.begin(), p.end(), false);
    } else if (x < 0.4) {
      for (auto&& b : p) b = u(rng) < 0.5;
      p[0] = true;
    }
    t.present.push_back(p);
    t.phantom.push_back(u(rng) < 0.3 ? 2 + static_cast<int>(u(rng) * 5) : 0);
    t.drifted.push_back(u(rng) < 0.05);
  }
  return t;
}

void trade(Trading& t, std::mt19937& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  for (auto& p : t.present) {
    const int n = static_cast<int>(std::count(p.begin(), p.end(), true));
    if (n == 0) {
      if (u(rng) < 0.08) std::fill(p.begin(), p.end(), true);
      continue;
    }
    if (n < static_cast<int>(p.size()) && u(rng) < 0.03) std::fill(p.begin(), p.end(), true);
    for (std::size_t k = 0; k < p.size(); ++k) {
      if (p[k] && u(rng) < 0.06) p[k] = false;
    }
  }
}

std::optional<std::int64_t> ledger(const Trading& t, std::size_t slot) {
  const auto& p = t.present[slot];
  const int n = static_cast<int>(std::count(p.begin(), p.end(), true));
  if (n == 0) return t.phantom[slot];
  if (t.drifted[slot]) return 0;
  return n;
}

struct Counts {
  int tp = 0, fp = 0, fn = 0;
  int phantom_true = 0, phantom_false = 0;
  int learned = 0, slots = 0;
  void add(const Counts& o) {
    tp += o.tp;
    fp += o.fp;
    fn += o.fn;
    phantom_true += o.phantom_true;
    phantom_false += o.phantom_false;
    learned += o.learned;
    slots += o.slots;
  }
};

void score(const Trading& t, const ev::ShelfScan& scan, Counts* c) {
  for (std::size_t s = 0; s < t.present.size() && s < scan.slots.size(); ++s) {
    const auto& p = t.present[s];
    const bool truth = std::find(p.begin(), p.end(), true) == p.end();
    const bool said = scan.slots[s].state == ev::SlotState::kEmpty;
    c->tp += truth && said;
    c->fp += !truth && said;
    c->fn += truth && !said;
    if (scan.slots[s].phantom_stock) (truth ? c->phantom_true : c->phantom_false) += 1;
  }
  c->learned += scan.learned_empty_slots;
  c->slots += static_cast<int>(scan.slots.size());
}

constexpr std::array<int, 3> kCheckpoints = {0, 10, 50};

struct SourceResult {
  std::map<int, Counts> learn;      // checkpoint -> counts, no empty reference
  std::map<int, Counts> reference;  // checkpoint -> counts, with the empty reference
  Counts all_frames;                // every frame, no empty reference (phantom precision)
  std::vector<double> ms;
  int failures = 0;
};

std::string ratio(int num, int den) {
  return den == 0 ? "n/a" : fmt(static_cast<double>(num) / den, 3);
}
double r(int a, int b) { return b == 0 ? 0.0 : static_cast<double>(a) / b; }

SourceResult run_source(const std::string& name, const ShelfLearnEvalOptions& o) {
  std::vector<SourceResult> per_worker(static_cast<std::size_t>(o.jobs));
  parallel_for(static_cast<std::size_t>(o.sequences), o.jobs, [&](std::size_t i, int w) {
    SourceResult& res = per_worker[static_cast<std::size_t>(w)];
    const std::uint32_t seed = o.seed + static_cast<std::uint32_t>(i);
    cv::theRNG().state = seed;
    const Shelf shelf = name == "gen" ? gen_shelf(seed) : sim_shelf(seed);
    auto plan = ev::parse_planogram(shelf.planogram);
    if (!plan.ok()) {
      ++res.failures;
      if (o.verbose) std::cerr << name << " " << seed << ": " << plan.status().to_string() << "\n";
      return;
    }
    auto learner = ev::ShelfScanner::create_from_images(*plan, shelf.full, std::nullopt);
    auto with_empty = ev::ShelfScanner::create_from_images(*plan, shelf.full, shelf.empty);
    if (!learner.ok() || !with_empty.ok()) {
      ++res.failures;
      return;
    }
    std::mt19937 rng(seed * 7u + 3u);
    Trading t = start_trading(shelf.facings, rng);
    for (int f = 0; f < o.frames; ++f) {
      if (f > 0) trade(t, rng);
      const cv::Mat frame = shelf.render(t.present, f, rng);
      const ev::OnHandLookup on_hand = [&](const std::string& sku) -> std::optional<std::int64_t> {
        for (std::size_t s = 0; s < plan->slots.size(); ++s) {
          if (plan->slots[s].sku == sku) return ledger(t, s);
        }
        return std::nullopt;
      };
      const ev::OnHandLookup no_ledger = [](const std::string&) { return std::nullopt; };
      const double t0 = thread_cpu_ms();
      auto scan = (*learner)->scan(frame, f * 60000, o.ledger ? on_hand : no_ledger);
      res.ms.push_back(thread_cpu_ms() - t0);
      if (!scan.ok()) {
        ++res.failures;
        continue;
      }
      // Phantom alerts are raised by the ledger in every case: their precision is
      // measured with it.
      Counts frame_counts;
      score(t, *scan, &frame_counts);
      if (o.ledger) res.all_frames.add(frame_counts);
      if (std::find(kCheckpoints.begin(), kCheckpoints.end(), f) != kCheckpoints.end()) {
        res.learn[f].add(frame_counts);
        auto ref = (*with_empty)->scan(frame, f * 60000, on_hand);
        if (ref.ok()) score(t, *ref, &res.reference[f]);
        if (!o.dump_dir.empty() && i == 0) {
          const std::string stem = o.dump_dir + "/" + name + "-" + std::to_string(f);
          {
            cv::Mat small;
            cv::resize((*learner)->annotate(frame, *scan), small, cv::Size(), 0.6, 0.6);
            cv::imwrite(stem + ".png", small);
            cv::resize(shelf.full, small, cv::Size(), 0.6, 0.6);
            cv::imwrite(o.dump_dir + "/" + name + "-full.png", small);
          }
        }
        if (o.verbose) {
          std::cerr << name << " seed " << seed << " frame " << f << ": tp " << frame_counts.tp
                    << " fp " << frame_counts.fp << " fn " << frame_counts.fn << " learned "
                    << scan->learned_empty_slots << "\n";
        }
      }
    }
  });
  SourceResult all;
  for (const SourceResult& w : per_worker) {
    for (const auto& [k, c] : w.learn) all.learn[k].add(c);
    for (const auto& [k, c] : w.reference) all.reference[k].add(c);
    all.all_frames.add(w.all_frames);
    all.ms.insert(all.ms.end(), w.ms.begin(), w.ms.end());
    all.failures += w.failures;
  }
  return all;
}

}  // namespace

nlohmann::json run_shelf_learn_eval(const ShelfLearnEvalOptions& o, std::ostream& out) {
  const double wall0 = wall_ms();
  nlohmann::json result = nlohmann::json::object();
  out << "\n## Shelf scans without an empty reference, learning in service (" << o.sequences
      << " sequences of " << o.frames << " 1080p frames per source, seeds " << o.seed << ".."
      << o.seed + static_cast<std::uint32_t>(o.sequences) - 1
      << (o.seed == kLearnHeldOutSeed ? ", held out" : "")
      << (o.ledger ? "" : "; the scanner does not ask the ledger") << ")\n\n"
      << "| source | frame | empty recall / precision, no empty reference | with the empty "
         "reference | slots with a learned empty look |\n| --- | --- | --- | --- | --- |\n";
  std::vector<std::string> sources;
  if (o.sources == "gen" || o.sources == "both") sources.push_back("gen");
  if (o.sources == "sim" || o.sources == "both") sources.push_back("sim");
  std::vector<double> all_ms;
  std::map<std::string, Counts> phantom;
  std::map<std::string, Counts> reference_phantom;
  for (const std::string& name : sources) {
    const SourceResult res = run_source(name, o);
    nlohmann::json js = {{"failures", res.failures}};
    for (int k : kCheckpoints) {
      if (k >= o.frames) continue;
      const Counts& l = res.learn.count(k) ? res.learn.at(k) : Counts{};
      const Counts& e = res.reference.count(k) ? res.reference.at(k) : Counts{};
      out << "| " << (name == "gen" ? "vision-gen" : "shelf-sim") << " | " << k << " | "
          << ratio(l.tp, l.tp + l.fn) << " / " << ratio(l.tp, l.tp + l.fp) << " (" << l.tp << " of "
          << l.tp + l.fn << ", " << l.fp << " false) | " << ratio(e.tp, e.tp + e.fn) << " / "
          << ratio(e.tp, e.tp + e.fp) << " | " << l.learned << " of " << l.slots << " |\n";
      js["frame_" + std::to_string(k)] = {{"recall", r(l.tp, l.tp + l.fn)},
                                          {"precision", r(l.tp, l.tp + l.fp)},
                                          {"empty", l.tp + l.fn},
                                          {"false", l.fp},
                                          {"with_empty_reference_recall", r(e.tp, e.tp + e.fn)},
                                          {"with_empty_reference_precision", r(e.tp, e.tp + e.fp)},
                                          {"learned_slots", l.learned}};
    }
    phantom[name] = res.all_frames;
    Counts ref_all;
    for (const auto& [k, c] : res.reference) ref_all.add(c);
    reference_phantom[name] = ref_all;
    js["phantom_precision_with_empty_reference"] =
        r(ref_all.phantom_true, ref_all.phantom_true + ref_all.phantom_false);
    js["phantom_precision"] =
        r(res.all_frames.phantom_true, res.all_frames.phantom_true + res.all_frames.phantom_false);
    js["phantom_alerts"] = res.all_frames.phantom_true + res.all_frames.phantom_false;
    const Summary t = summarize(res.ms);
    js["ms_median"] = t.median;
    js["ms_p95"] = t.p95;
    js["ms_max"] = t.max;
    all_ms.insert(all_ms.end(), res.ms.begin(), res.ms.end());
    result[name] = js;
  }
  out << "\n";
  for (const auto& [name, c] : phantom) {
    out << "Phantom-stock alerts (" << (name == "gen" ? "vision-gen" : "shelf-sim")
        << ", every frame, no empty reference): " << c.phantom_true + c.phantom_false
        << ", of them on slots really empty "
        << ratio(c.phantom_true, c.phantom_true + c.phantom_false)
        << "; with the empty reference (frames 0, 10, 50): "
        << ratio(reference_phantom[name].phantom_true,
                 reference_phantom[name].phantom_true + reference_phantom[name].phantom_false)
        << " of " << reference_phantom[name].phantom_true + reference_phantom[name].phantom_false
        << ".\n";
  }
  const Summary t = summarize(all_ms);
  out << "CPU ms per 1080p frame (one thread, product codes included), median / p95 / max: "
      << fmt(t.median) << " / " << fmt(t.p95) << " / " << fmt(t.max) << ". Took "
      << fmt((wall_ms() - wall0) / 1000, 0) << " s wall on " << o.jobs << " threads.\n"
      << "Targets: recall >= 0.90 and precision >= 0.95 after 50 frames, recall >= 0.75 on the "
         "first frame, < 200 ms per frame.\n";
  result["ms_median"] = t.median;
  result["ms_p95"] = t.p95;
  result["ms_max"] = t.max;
  return result;
}

}  // namespace shopeasy::bench::vision
