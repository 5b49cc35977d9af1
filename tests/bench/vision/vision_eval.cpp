// vision_eval: the vision quality and speed figures (run by scripts/eval-vision.sh).
// Parts: decode (generated scenes: rates, no-code frames, wrong product codes, zbarimg
// reference), scenes (two codes in a frame, codes cut by the frame's edge, larger QR
// and DataMatrix symbols, catalogs sharing company prefixes), outside (real photos and zint renders
// beside zxing-cpp alone, OpenCV alone and zbarimg), speed (1080p decoder chain), shelf (empty-slot
// recall/precision, time per frame), fuzz (degenerate input; run it in a sanitizer build) and smoke
// (the CI-sized check: real photos, zint renders and held-out generated scenes read by the chain
// against the floors of --floors FILE; exit status 1 below a floor).
//
// Usage: vision_eval [--quick] [--jobs N] [--work-dir DIR] [--json FILE] [--per-set N]
//                    [--shelves N] [--fuzz-inputs N] [--verbose] [--seed N]
//                    [--only KIND[:LEVEL]]... (e.g. --only datamatrix:medium)
//                    [--scene-only TYPE[:KIND[:LEVEL]]]... (e.g. --scene-only cut:ean-13)
//                    [--dump-misses DIR] (images the chain missed, as PNG)
//                    [--samples DIR] (real photos, see outside_eval.hpp)
//                    [--floors FILE] (smoke floors, JSON)
//                    [--no-frame-matrix] (the chain without its whole-frame matrix pass)
//                    [--budget-ms MS] (the chain's frame budget; 0: none)
//                    [--sequences N] [--frames N] [--shelf-sources gen|sim|both] [--no-ledger]
//                    [decode] [scenes] [outside] [speed] [shelf] [shelf-learn] [fuzz] [smoke]
//                    (default: decode scenes outside speed shelf)
// Seeds: the generated sets use seed 1 unless --seed is given; the smoke part's
// generated scenes use kHeldOutSeed, a seed never used while tuning the decoder.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>
#include <string>

#include <opencv2/core/utility.hpp>

#include "tests/bench/vision/decode_eval.hpp"
#include "tests/bench/vision/eval_common.hpp"
#include "tests/bench/vision/fuzz_eval.hpp"
#include "tests/bench/vision/outside_eval.hpp"
#include "tests/bench/vision/scene_eval.hpp"
#include "tests/bench/vision/shelf_eval.hpp"
#include "tests/bench/vision/shelf_learn_eval.hpp"
#include "tests/bench/vision/smoke_eval.hpp"
#include "tests/bench/vision/speed_eval.hpp"

int main(int argc, char** argv) {
  using namespace shopeasy::bench::vision;
  bool quick = false;
  bool verbose = false;
  int jobs = 2;
  std::string work_dir = (std::filesystem::temp_directory_path() / "shopeasy-vision-eval").string();
  std::string json_path;
  std::set<std::string> parts;
  int per_set = 0;
  int shelves = 0;
  int sequences = 0;
  int frames = 0;
  std::string shelf_sources = "both";
  bool no_ledger = false;
  int fuzz_inputs = 0;
  std::vector<std::string> only;
  std::vector<std::string> scene_only;
  std::string misses_dir;
  std::string samples_dir;
  std::string floors_path;
  std::optional<std::uint32_t> seed;
  // The decoder as it was before the whole-frame matrix pass, for comparisons.
  shopeasy::edge::vision::DecoderOptions decoder;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      quick = true;
    } else if (a == "--verbose") {
      verbose = true;
    } else if (a == "--jobs" && i + 1 < argc) {
      jobs = std::max(1, std::stoi(argv[++i]));
    } else if (a == "--work-dir" && i + 1 < argc) {
      work_dir = argv[++i];
    } else if (a == "--per-set" && i + 1 < argc) {
      per_set = std::stoi(argv[++i]);
    } else if (a == "--shelves" && i + 1 < argc) {
      shelves = std::stoi(argv[++i]);
    } else if (a == "--sequences" && i + 1 < argc) {
      sequences = std::stoi(argv[++i]);
    } else if (a == "--frames" && i + 1 < argc) {
      frames = std::stoi(argv[++i]);
    } else if (a == "--shelf-sources" && i + 1 < argc) {
      shelf_sources = argv[++i];
    } else if (a == "--no-ledger") {
      no_ledger = true;
    } else if (a == "--fuzz-inputs" && i + 1 < argc) {
      fuzz_inputs = std::stoi(argv[++i]);
    } else if (a == "--only" && i + 1 < argc) {
      only.push_back(argv[++i]);
    } else if (a == "--scene-only" && i + 1 < argc) {
      scene_only.push_back(argv[++i]);
    } else if (a == "--dump-misses" && i + 1 < argc) {
      misses_dir = argv[++i];
    } else if (a == "--samples" && i + 1 < argc) {
      samples_dir = argv[++i];
    } else if (a == "--floors" && i + 1 < argc) {
      floors_path = argv[++i];
    } else if (a == "--budget-ms" && i + 1 < argc) {
      decoder.frame_budget_ms = std::stod(argv[++i]);
    } else if (a == "--no-frame-matrix") {
      decoder.whole_frame_matrix = false;
    } else if (a == "--seed" && i + 1 < argc) {
      seed = static_cast<std::uint32_t>(std::stoul(argv[++i]));
    } else if (a == "--json" && i + 1 < argc) {
      json_path = argv[++i];
    } else if (a == "decode" || a == "scenes" || a == "outside" || a == "speed" || a == "shelf" ||
               a == "shelf-learn" || a == "fuzz" || a == "smoke") {
      parts.insert(a);
    } else {
      std::cerr
          << "usage: vision_eval [--quick] [--jobs N] [--work-dir DIR] [--json FILE] "
             "[--per-set N] [--shelves N] [--sequences N] [--frames N] [--shelf-sources "
             "gen|sim|both] [--no-ledger] [--fuzz-inputs N] [--only KIND[:LEVEL]]... "
             "[--scene-only TYPE[:KIND[:LEVEL]]]... "
             "[--dump-misses DIR] [--samples DIR] [--floors FILE] [--seed N] [--no-frame-matrix] "
             "[--budget-ms MS] [--verbose] "
             "[decode] [scenes] [outside] [speed] [shelf] [shelf-learn] [fuzz] [smoke]\n";
      return 2;
    }
  }
  if (parts.empty()) parts = {"decode", "scenes", "outside", "speed", "shelf"};
  // One core per worker: OpenCV must not fan out on its own.
  cv::setNumThreads(1);
  std::filesystem::remove_all(work_dir);
  std::filesystem::create_directories(work_dir);
  nlohmann::json all;
  std::cout << "# Vision evaluation" << (quick ? " (quick)" : "") << "\n";
  if (parts.count("decode")) {
    DecodeEvalOptions o;
    o.jobs = jobs;
    o.work_dir = work_dir;
    if (quick) {
      o.per_set = 100;
      o.blank = 100;
      o.zbar_every = 10;
    }
    if (per_set > 0) o.per_set = o.blank = per_set;
    o.verbose = verbose;
    if (seed) o.seed = *seed;
    o.decoder = decoder;
    o.only = only;
    o.misses_dir = misses_dir;
    all["decode"] = run_decode_eval(o, std::cout);
  }
  if (parts.count("scenes")) {
    SceneEvalOptions o;
    o.jobs = jobs;
    o.work_dir = work_dir;
    if (quick) o.per_set = 40;
    if (per_set > 0) o.per_set = per_set;
    o.verbose = verbose;
    if (seed) o.seed = *seed;
    o.decoder = decoder;
    o.only = scene_only;
    o.misses_dir = misses_dir;
    all["scenes"] = run_scene_eval(o, std::cout);
  }
  if (parts.count("outside")) {
    OutsideEvalOptions o;
    o.samples_dir = samples_dir;
    o.jobs = jobs;
    o.work_dir = work_dir;
    o.verbose = verbose;
    o.decoder = decoder;
    all["outside"] = run_outside_eval(o, std::cout);
  }
  int status = 0;
  if (parts.count("smoke")) {
    SmokeEvalOptions o;
    o.samples_dir = samples_dir;
    o.floors_path = floors_path;
    o.jobs = jobs;
    o.work_dir = work_dir;
    o.verbose = verbose;
    if (seed) o.seed = *seed;
    auto r = run_smoke_eval(o, std::cout);
    status = r.value("passed", false) ? 0 : 1;
    all["smoke"] = std::move(r);
  }
  if (parts.count("speed")) {
    SpeedEvalOptions o;
    o.decoder = decoder;
    if (quick) {
      o.frames = 64;
      o.blank = 24;
    }
    all["speed"] = run_speed_eval(o, std::cout);
  }
  if (parts.count("shelf")) {
    ShelfEvalOptions o;
    o.jobs = jobs;
    if (quick) {
      o.shelves = 40;
      o.without_empty_reference = 10;
    }
    if (shelves > 0) o.shelves = shelves;
    all["shelf"] = run_shelf_eval(o, std::cout);
  }
  if (parts.count("shelf-learn")) {
    ShelfLearnEvalOptions o;
    o.jobs = jobs;
    if (quick) o.sequences = 6;
    if (sequences > 0) o.sequences = sequences;
    if (frames > 0) o.frames = frames;
    if (seed) o.seed = *seed;
    o.sources = shelf_sources;
    o.ledger = !no_ledger;
    o.verbose = verbose;
    o.dump_dir = misses_dir;
    all["shelf_learn"] = run_shelf_learn_eval(o, std::cout);
  }
  if (parts.count("fuzz")) {
    FuzzEvalOptions o;
    if (quick) o.inputs = 1000;
    if (fuzz_inputs > 0) o.inputs = fuzz_inputs;
    all["fuzz"] = run_fuzz_eval(o, std::cout);
  }
  std::cout.flush();
  if (!json_path.empty()) {
    std::ofstream f(json_path);
    f << all.dump(2) << "\n";
  }
  return status;
}
