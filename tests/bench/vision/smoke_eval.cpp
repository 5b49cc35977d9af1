#include "tests/bench/vision/smoke_eval.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "tests/bench/vision/decode_eval.hpp"
#include "tests/bench/vision/eval_common.hpp"
#include "tests/bench/vision/outside_eval.hpp"
#include "tests/bench/vision/scene_eval.hpp"
#include "tests/bench/vision/shelf_learn_eval.hpp"
#include "tools/vision-gen/scene.hpp"

namespace shopeasy::bench::vision {

using nlohmann::json;

json run_smoke_eval(const SmokeEvalOptions& o, std::ostream& out) {
  const double wall0 = wall_ms();
  json floors = json::object();
  if (!o.floors_path.empty()) {
    std::ifstream f(o.floors_path);
    if (!f) {
      out << "smoke: cannot open floors file " << o.floors_path << "\n";
      return {{"passed", false}, {"error", "no floors file"}};
    }
    try {
      f >> floors;
    } catch (const std::exception& e) {
      out << "smoke: bad floors file " << o.floors_path << ": " << e.what() << "\n";
      return {{"passed", false}, {"error", "bad floors file"}};
    }
  }

  OutsideEvalOptions oo;
  oo.samples_dir = o.samples_dir;
  oo.references = false;
  oo.jobs = o.jobs;
  oo.work_dir = o.work_dir;
  oo.verbose = o.verbose;
  json counts = run_outside_eval(oo, out);

  DecodeEvalOptions d;
  d.per_set = o.per_kind;
  d.blank = o.per_kind;
  d.zbar_every = 0;
  d.jobs = o.jobs;
  d.seed = o.seed;
  d.work_dir = o.work_dir;
  d.verbose = o.verbose;
  for (vision_gen::CodeKind k : vision_gen::all_code_kinds()) {
    d.only.push_back(std::string(vision_gen::code_kind_name(k)) + ":medium");
    d.only.push_back(std::string(vision_gen::code_kind_name(k)) + ":hard");
  }
  out << "\n(generated scenes below: medium and hard levels, held-out seed " << o.seed << ")\n";
  const json gen = run_decode_eval(d, out);
  for (const json& s : gen["sets"]) {
    const int n = s["n"].get<int>();
    counts["generated-" + s["level"].get<std::string>()][s["symbology"].get<std::string>()] = {
        {"n", n}, {"chain", static_cast<int>(std::lround(s["chain"].get<double>() * n))}};
  }
  counts["generated-medium"]["none"] = {{"n", gen["blank"]["n"]},
                                        {"chain_wrong", gen["blank"]["chain_reads"]}};

  SceneEvalOptions so;
  so.per_set = o.two_codes;
  so.per_type = {{"two-codes", o.two_codes},
                 {"cut", o.cut},
                 {"large-matrix", o.large_matrix},
                 {"shared-prefix", o.shared_prefix}};
  so.zbar_every = 0;
  so.references = false;
  so.jobs = o.jobs;
  so.seed = o.seed;
  so.work_dir = o.work_dir;
  so.verbose = o.verbose;
  out << "\n(scene types below: medium and hard levels, held-out seed " << o.seed << ")\n";
  const json scenes = run_scene_eval(so, out);
  std::vector<std::string> scene_sets;
  for (const json& s : scenes["sets"]) {
    const std::string set =
        "scenes-" + s["type"].get<std::string>() + "-" + s["level"].get<std::string>();
    if (std::find(scene_sets.begin(), scene_sets.end(), set) == scene_sets.end()) {
      scene_sets.push_back(set);
    }
    const json& c = s["chain"];
    counts[set][s["symbology"].get<std::string>()] = {
        {"n", c.value("n", 0)},
        {"chain", c.value("all", 0)},
        {"chain_wrong", c.value("wrong", 0)},
        {"chain_catalog_wrong", c.value("catalog_wrong", 0)}};
  }

  bool passed = true;
  json checks = json::array();
  out << "\n## Smoke floors\n\n| set | symbology | read | floor | |\n| --- | --- | --- | --- | --- "
         "|\n";
  const int max_false = floors.value("max_false_reads", 0);
  std::vector<std::string> all_sets = {"photos", "zint", "generated-medium", "generated-hard"};
  all_sets.insert(all_sets.end(), scene_sets.begin(), scene_sets.end());
  const int max_scene_wrong = floors.value("max_scene_wrong_reads", 0);
  for (const std::string& set : all_sets) {
    if (!counts.contains(set)) {
      out << "| " << set << " | all | skipped | - | - |\n";
      checks.push_back({{"set", set}, {"skipped", true}});
      continue;
    }
    for (const auto& [sym, c] : counts[set].items()) {
      std::string value;
      std::string floor_cell = "-";
      bool ok = true;
      if (sym == "none") {
        const int wrong = c.value("chain_wrong", 0);
        value = std::to_string(wrong) + " false reads of " + std::to_string(c.value("n", 0));
        floor_cell = "<= " + std::to_string(max_false);
        ok = wrong <= max_false;
      } else {
        const int read = c.value("chain", 0);
        value = std::to_string(read) + " of " + std::to_string(c.value("n", 0));
        if (floors.contains(set) && floors[set].contains(sym)) {
          const int floor = floors[set][sym].get<int>();
          floor_cell = ">= " + std::to_string(floor);
          ok = read >= floor;
        } else {
          floor_cell = "none set";
        }
        if (set.rfind("scenes-", 0) == 0) {
          // Scene sets: a wrong read (a code not in view, a mixed or cut code read as
          // another) is the failure that counts, with or without a read floor.
          int ceiling = max_scene_wrong;
          if (floors.contains("scene_wrong_reads") && floors["scene_wrong_reads"].contains(set) &&
              floors["scene_wrong_reads"][set].contains(sym)) {
            ceiling = floors["scene_wrong_reads"][set][sym].get<int>();
          }
          const int wrong = c.value("chain_wrong", 0);
          value += ", " + std::to_string(wrong) + " with a wrong read";
          if (c.value("chain_catalog_wrong", 0) > 0) {
            value +=
                " (" + std::to_string(c.value("chain_catalog_wrong", 0)) + " another catalog item)";
          }
          floor_cell += ", wrong <= " + std::to_string(ceiling);
          ok = ok && wrong <= ceiling;
        }
      }
      passed = passed && ok;
      out << "| " << set << " | " << sym << " | " << value << " | " << floor_cell << " | "
          << (ok ? "ok" : "**BELOW**") << " |\n";
      checks.push_back({{"set", set}, {"symbology", sym}, {"value", value}, {"ok", ok}});
    }
  }
  // Shelf scans without an empty reference: a short trading sequence per source, its
  // recall on the first frame and after 10 frames and its precision against floors.
  {
    ShelfLearnEvalOptions lo;
    lo.jobs = o.jobs;
    lo.sequences = o.shelf_sequences;
    lo.frames = 11;
    const json learn = run_shelf_learn_eval(lo, out);
    counts["shelf_no_reference"] = learn;
    const json f = floors.value("shelf-no-reference", json::object());
    out << "\n| shelf, no empty reference | measure | value | floor | |\n| --- | --- | --- | --- | "
           "--- "
           "|\n";
    for (const char* source : {"gen", "sim"}) {
      if (!learn.contains(source)) continue;
      const json& r = learn[source];
      const std::pair<const char*, double> measures[] = {
          {"frame0_recall", r["frame_0"].value("recall", 0.0)},
          {"frame10_recall", r["frame_10"].value("recall", 0.0)},
          {"precision",
           std::min(r["frame_0"].value("precision", 0.0), r["frame_10"].value("precision", 0.0))},
          {"phantom_precision", r.value("phantom_precision", 0.0)}};
      for (const auto& [name, value] : measures) {
        const bool checked = f.contains(source) && f[source].contains(name);
        const double floor = checked ? f[source][name].get<double>() : 0.0;
        const bool ok = !checked || value >= floor;
        passed = passed && ok;
        out << "| " << source << " | " << name << " | " << fmt(value, 3) << " | "
            << (checked ? fmt(floor, 2) : std::string("not checked")) << " | "
            << (ok ? "ok" : "**BELOW**") << " |\n";
        checks.push_back({{"set", std::string("shelf-no-reference-") + source},
                          {"measure", name},
                          {"value", value},
                          {"ok", ok}});
      }
    }
  }
  out << "\nSmoke check " << (passed ? "passed" : "FAILED") << " in "
      << fmt((wall_ms() - wall0) / 1000, 0) << " s.\n";
  return {{"passed", passed}, {"counts", counts}, {"checks", checks}};
}

}  // namespace shopeasy::bench::vision
