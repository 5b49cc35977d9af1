#include "tests/bench/vision/decode_eval.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include <opencv2/barcode.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "edge/barcode/barcode.hpp"
#include "edge/vision/confirmer.hpp"
#include "edge/vision/decoder.hpp"
#include "edge/vision/zxing_reader.hpp"
#include "tests/bench/vision/eval_common.hpp"
#include "tools/vision-gen/scene.hpp"

namespace shopeasy::bench::vision {
namespace {

namespace fs = std::filesystem;
namespace ev = edge::vision;
using nlohmann::json;
using vision_gen::CodeKind;
using vision_gen::Difficulty;

constexpr int kEngines = 3;
constexpr std::array<const char*, kEngines> kEngineNames = {"chain", "zxing-cpp", "opencv"};

// The GTIN-14 a code of this kind and content carries, or empty.
std::string truth_gtin(CodeKind kind, const std::string& content) {
  if (is_retail(kind)) return expected_key(kind, content);
  if (kind == CodeKind::kGs1_128 && content.rfind("01", 0) == 0 && content.size() >= 16) {
    return content.substr(2, 14);
  }
  if (kind == CodeKind::kQr) {
    const auto at = content.find("/01/");
    if (at != std::string::npos) return content.substr(at + 4, 14);
  }
  if (kind == CodeKind::kDataMatrix) {
    auto g = edge::barcode::to_gtin14(content);
    if (g.ok()) return *g;
  }
  return {};
}

struct ImageResult {
  std::array<bool, kEngines> hit{};
  std::array<int, kEngines> wrong{};          // reads that are not the truth
  std::array<int, kEngines> wrong_product{};  // ... carrying a valid GTIN
  std::array<double, kEngines> ms{};
  double render_ms = 0;
  std::vector<std::string> chain_gtins;  // product codes the chain read
  std::string truth_gtin;
};

struct Worker {
  ev::BarcodeDecoder chain;
  cv::barcode::BarcodeDetector opencv;
  bool verbose = false;
  std::mutex& log_mutex;
};

ImageResult evaluate(Worker& w, const cv::Mat& bgr, std::optional<CodeKind> kind,
                     const std::string& content) {
  ImageResult r;
  const std::string want = kind ? expected_key(*kind, content) : std::string();
  r.truth_gtin = kind ? truth_gtin(*kind, content) : std::string();
  cv::Mat gray;
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  auto judge = [&](int e, const std::string& key, bool product) {
    if (kind && (key == want || same_text(key, want))) {
      r.hit[static_cast<std::size_t>(e)] = true;
    } else {
      ++r.wrong[static_cast<std::size_t>(e)];
      if (product) ++r.wrong_product[static_cast<std::size_t>(e)];
    }
  };
  // The chain.
  double t0 = thread_cpu_ms();
  auto found = w.chain.decode(bgr);
  r.ms[0] = thread_cpu_ms() - t0;
  if (found.ok()) {
    for (const ev::Detection& d : *found) {
      const std::string key = kind && is_retail(*kind) && !d.gtin14.empty() ? d.gtin14 : d.text;
      const bool good = kind && (key == want || same_text(key, want));
      if (!good && w.verbose) {
        std::lock_guard<std::mutex> lock(w.log_mutex);
        std::cerr << "wrong read: " << (kind ? vision_gen::code_kind_name(*kind) : "none")
                  << " want " << want << " got " << ev::symbology_name(d.symbology) << " " << d.text
                  << " via " << d.engine << "\n";
      }
      judge(0, key, !d.gtin14.empty() && d.gtin14 != r.truth_gtin);
      if (!d.gtin14.empty()) r.chain_gtins.push_back(d.gtin14);
    }
  }
  // zxing-cpp alone: one whole-frame read with every format (the safe single-symbol
  // call; ReadBarcodes() can abort this library version).
  t0 = thread_cpu_ms();
  ev::ZxingReadOptions zo;
  auto z = ev::zxing_read_one(gray, zo);
  r.ms[1] = thread_cpu_ms() - t0;
  if (z.ok() && z->has_value()) {
    const std::string key = raw_key((*z)->format, (*z)->text);
    const bool product =
        key.size() == 14 && key.find_first_not_of("0123456789") == std::string::npos;
    judge(1, key, product && key != r.truth_gtin);
  }
  // OpenCV alone: its whole-frame detector (EAN/UPC only in this build).
  if (!kind || is_retail(*kind)) {
    t0 = thread_cpu_ms();
    const auto reads = opencv_read_all(w.opencv, gray);
    r.ms[2] = thread_cpu_ms() - t0;
    for (const auto& [format, text] : reads) {
      const std::string key = raw_key(format, text);
      judge(2, key, key != r.truth_gtin && key.rfind("bad:", 0) != 0);
    }
  }
  return r;
}

struct ZbarItem {
  std::string file;
  std::optional<CodeKind> kind;
  std::string content;
};

// Whether a set is selected by --only ("kind" or "kind:level" entries).
bool selected(const std::vector<std::string>& only, CodeKind kind, Difficulty level) {
  if (only.empty()) return true;
  const std::string k(vision_gen::code_kind_name(kind));
  const std::string l(vision_gen::difficulty_name(level));
  return std::any_of(only.begin(), only.end(),
                     [&](const std::string& o) { return o == k || o == k + ":" + l; });
}

}  // namespace

json run_decode_eval(const DecodeEvalOptions& o, std::ostream& out) {
  const std::vector<Difficulty> levels = {Difficulty::kClean, Difficulty::kMedium,
                                          Difficulty::kHard, Difficulty::kExtreme};
  if (!o.misses_dir.empty()) fs::create_directories(o.misses_dir);
  const bool zbar = o.zbar_every > 0 && !o.work_dir.empty() && zbar_available();
  std::mutex log_mutex;
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < o.jobs; ++i) {
    workers.push_back(std::unique_ptr<Worker>(
        new Worker{ev::BarcodeDecoder(o.decoder), {}, o.verbose, log_mutex}));
  }

  struct SetResult {
    CodeKind kind;
    Difficulty level;
    std::vector<ImageResult> images;
    std::vector<ZbarItem> zbar;
  };
  std::vector<SetResult> sets;
  std::set<std::string> catalog;
  const double wall0 = wall_ms();
  for (CodeKind kind : vision_gen::all_code_kinds()) {
    for (Difficulty level : levels) {
      if (!selected(o.only, kind, level)) continue;
      SetResult set{kind, level, std::vector<ImageResult>(static_cast<std::size_t>(o.per_set)), {}};
      const fs::path zdir = fs::path(o.work_dir) / "zbar" /
                            (std::string(vision_gen::code_kind_name(kind)) + "-" +
                             std::string(vision_gen::difficulty_name(level)));
      if (zbar) fs::create_directories(zdir);
      std::mutex zmutex;
      const std::uint32_t set_seed = o.seed * 7919u + static_cast<std::uint32_t>(kind) * 1000003u +
                                     static_cast<std::uint32_t>(level) * 10007u;
      parallel_for(set.images.size(), o.jobs, [&](std::size_t i, int w) {
        // Frames 2k and 2k+1 show the same code, like consecutive camera frames.
        std::mt19937 content_rng(set_seed + static_cast<std::uint32_t>(i / 2) * 2654435761u);
        std::mt19937 scene_rng(set_seed ^ (static_cast<std::uint32_t>(i) * 40503u + 17u));
        auto sym = vision_gen::encode(kind, vision_gen::random_content(kind, content_rng));
        if (!sym.ok()) return;
        const double r0 = thread_cpu_ms();
        const cv::Mat img = vision_gen::render_scene(
            *sym, vision_gen::sample_scene_params(level, scene_rng), scene_rng, nullptr);
        const double render = thread_cpu_ms() - r0;
        set.images[i] = evaluate(*workers[static_cast<std::size_t>(w)], img, kind, sym->content);
        set.images[i].render_ms = render;
        if (!o.misses_dir.empty() && !set.images[i].hit[0]) {
          char name[96];
          std::snprintf(name, sizeof(name), "%s-%s-%05zu.png",
                        vision_gen::code_kind_name(kind).data(),
                        vision_gen::difficulty_name(level).data(), i);
          cv::imwrite((fs::path(o.misses_dir) / name).string(), img);
        }
        if (zbar && i % static_cast<std::size_t>(o.zbar_every) == 0) {
          char name[32];
          std::snprintf(name, sizeof(name), "%05zu.png", i);
          cv::imwrite((zdir / name).string(), img, {cv::IMWRITE_PNG_COMPRESSION, 1});
          std::lock_guard<std::mutex> lock(zmutex);
          set.zbar.push_back({name, kind, sym->content});
        }
      });
      for (const ImageResult& r : set.images) {
        if (!r.truth_gtin.empty()) catalog.insert(r.truth_gtin);
      }
      sets.push_back(std::move(set));
    }
  }
  // Frames without any code.
  std::vector<ImageResult> blank(static_cast<std::size_t>(o.blank));
  std::vector<ZbarItem> blank_zbar;
  const fs::path bdir = fs::path(o.work_dir) / "zbar" / "none";
  if (zbar) fs::create_directories(bdir);
  std::mutex bmutex;
  parallel_for(blank.size(), o.jobs, [&](std::size_t i, int w) {
    std::mt19937 rng(o.seed * 31u + static_cast<std::uint32_t>(i) * 2246822519u);
    const cv::Mat img = vision_gen::render_blank_scene(
        vision_gen::sample_scene_params(levels[i % levels.size()], rng), rng);
    blank[i] = evaluate(*workers[static_cast<std::size_t>(w)], img, std::nullopt, "");
    if (zbar && i % static_cast<std::size_t>(o.zbar_every) == 0) {
      char name[32];
      std::snprintf(name, sizeof(name), "%05zu.png", i);
      cv::imwrite((bdir / name).string(), img, {cv::IMWRITE_PNG_COMPRESSION, 1});
      std::lock_guard<std::mutex> lock(bmutex);
      blank_zbar.push_back({name, std::nullopt, ""});
    }
  });
  const double gen_and_decode_s = (wall_ms() - wall0) / 1000;

  // zbarimg on the sample.
  const double z0 = wall_ms();
  std::map<std::string, std::pair<int, int>> zbar_score;  // set -> (hits, n)
  std::map<std::string, int> zbar_wrong;
  if (zbar) {
    for (const SetResult& set : sets) {
      const std::string name = std::string(vision_gen::code_kind_name(set.kind)) + "-" +
                               std::string(vision_gen::difficulty_name(set.level));
      const auto results = run_zbar(fs::path(o.work_dir) / "zbar" / name);
      for (const ZbarItem& item : set.zbar) {
        const std::string want = expected_key(*item.kind, item.content);
        bool hit = false;
        auto it = results.find(item.file);
        if (it != results.end()) {
          for (const auto& [type, data] : it->second) {
            const std::string key = raw_key(type, data);
            if (key == want || same_text(key, want)) {
              hit = true;
            } else {
              ++zbar_wrong[name];
            }
          }
        }
        zbar_score[name].first += hit;
        zbar_score[name].second += 1;
      }
    }
    const auto results = run_zbar(bdir);
    for (const auto& [file, symbols] : results)
      zbar_wrong["none"] += static_cast<int>(symbols.size());
    zbar_score["none"].second = static_cast<int>(blank_zbar.size());
  }
  const double zbar_s = (wall_ms() - z0) / 1000;

  // Tables.
  json result = {{"per_set", o.per_set}, {"blank", o.blank}, {"sets", json::array()}};
  out << "\n## Decode rate (" << o.per_set
      << " images per symbology and level, 800x600 scenes)\n\n";
  out << "| symbology | level | chain | zxing-cpp alone | OpenCV alone | zbarimg (sample) | chain "
         "CPU ms mean / median |\n";
  out << "| --- | --- | --- | --- | --- | --- | --- |\n";
  std::map<Difficulty, std::array<int, kEngines>> level_hits;
  std::map<Difficulty, int> level_n;
  std::array<int, kEngines> wrong_total{};
  std::array<int, kEngines> wrong_product_total{};
  for (const SetResult& set : sets) {
    std::array<int, kEngines> hits{};
    std::vector<double> ms;
    for (const ImageResult& r : set.images) {
      for (int e = 0; e < kEngines; ++e) {
        hits[static_cast<std::size_t>(e)] += r.hit[static_cast<std::size_t>(e)];
        wrong_total[static_cast<std::size_t>(e)] += r.wrong[static_cast<std::size_t>(e)];
        wrong_product_total[static_cast<std::size_t>(e)] +=
            r.wrong_product[static_cast<std::size_t>(e)];
      }
      ms.push_back(r.ms[0]);
    }
    for (int e = 0; e < kEngines; ++e)
      level_hits[set.level][static_cast<std::size_t>(e)] += hits[static_cast<std::size_t>(e)];
    level_n[set.level] += static_cast<int>(set.images.size());
    const Summary t = summarize(ms);
    const double n = static_cast<double>(set.images.size());
    const std::string name = std::string(vision_gen::code_kind_name(set.kind)) + "-" +
                             std::string(vision_gen::difficulty_name(set.level));
    const auto zs = zbar_score.find(name);
    const std::string zcell =
        zs == zbar_score.end()
            ? "n/a"
            : pct(zs->second.first, zs->second.second) + " of " + std::to_string(zs->second.second);
    const bool opencv_applies = is_retail(set.kind);
    out << "| " << vision_gen::code_kind_name(set.kind) << " | "
        << vision_gen::difficulty_name(set.level) << " | " << pct(hits[0], n) << " | "
        << pct(hits[1], n) << " | " << (opencv_applies ? pct(hits[2], n) : std::string("n/a"))
        << " | " << zcell << " | " << fmt(t.mean) << " / " << fmt(t.median) << " |\n";
    result["sets"].push_back({{"symbology", vision_gen::code_kind_name(set.kind)},
                              {"level", vision_gen::difficulty_name(set.level)},
                              {"n", set.images.size()},
                              {"chain", hits[0] / n},
                              {"zxing", hits[1] / n},
                              {"opencv", opencv_applies ? json(hits[2] / n) : json(nullptr)},
                              {"zbar", zs == zbar_score.end() ? json(nullptr)
                                                              : json({{"hits", zs->second.first},
                                                                      {"n", zs->second.second}})},
                              {"chain_ms_mean", t.mean},
                              {"chain_ms_median", t.median}});
  }
  out << "\n| level | chain | zxing-cpp alone | OpenCV alone (all symbologies) |\n| --- | --- | "
         "--- | --- |\n";
  for (Difficulty level : levels) {
    const double n = level_n[level];
    if (n == 0) continue;  // no set of this level was selected
    out << "| " << vision_gen::difficulty_name(level) << " (all symbologies, n=" << n << ") | "
        << pct(level_hits[level][0], n) << " | " << pct(level_hits[level][1], n) << " | "
        << pct(level_hits[level][2], n) << " |\n";
    result["levels"][std::string(vision_gen::difficulty_name(level))] = {
        {"chain", level_hits[level][0] / n},
        {"zxing", level_hits[level][1] / n},
        {"opencv", level_hits[level][2] / n},
        {"n", n}};
  }

  // No-code frames.
  std::array<int, kEngines> blank_reads{};
  std::array<int, kEngines> blank_products{};
  for (const ImageResult& r : blank) {
    for (int e = 0; e < kEngines; ++e) {
      blank_reads[static_cast<std::size_t>(e)] += r.wrong[static_cast<std::size_t>(e)];
      blank_products[static_cast<std::size_t>(e)] += r.wrong_product[static_cast<std::size_t>(e)];
    }
  }
  out << "\n## Frames without a code (" << o.blank
      << ")\n\n| engine | codes read | product codes read |\n| --- | --- | --- |\n";
  for (int e = 0; e < kEngines; ++e) {
    out << "| " << kEngineNames[static_cast<std::size_t>(e)] << " | "
        << blank_reads[static_cast<std::size_t>(e)] << " | "
        << blank_products[static_cast<std::size_t>(e)] << " |\n";
  }
  if (zbar)
    out << "| zbarimg (" << blank_zbar.size() << " of them) | " << zbar_wrong["none"] << " | - |\n";
  result["blank"] = {{"n", o.blank},
                     {"chain_reads", blank_reads[0]},
                     {"zxing_reads", blank_reads[1]},
                     {"opencv_reads", blank_reads[2]},
                     {"chain_products", blank_products[0]}};

  // Wrong product codes: single frames, and after the camera path's filters.
  int confirmed = 0;
  int confirmed_wrong = 0;
  int reported = 0;
  int reported_wrong = 0;
  auto camera_path = [&](const std::vector<ImageResult>& frames) {
    for (std::size_t i = 0; i + 1 < frames.size(); i += 2) {
      ev::CodeConfirmer c(3);
      (void)c.observe(frames[i].chain_gtins);
      for (const std::string& g : c.observe(frames[i + 1].chain_gtins)) {
        ++confirmed;
        const bool wrong = g != frames[i].truth_gtin;
        confirmed_wrong += wrong;
        if (catalog.count(g)) {
          ++reported;
          reported_wrong += wrong;
        }
      }
    }
  };
  for (const SetResult& set : sets) camera_path(set.images);
  camera_path(blank);
  out << "\n## Wrong product codes (all "
      << (sets.size() * static_cast<std::size_t>(o.per_set) + blank.size())
      << " images)\n\n| | chain | zxing-cpp alone | OpenCV alone |\n| --- | --- | --- | --- |\n";
  out << "| wrong reads, single frame (any code) | " << wrong_total[0] << " | " << wrong_total[1]
      << " | " << wrong_total[2] << " |\n";
  out << "| wrong product codes (valid check digit), single frame | " << wrong_product_total[0]
      << " | " << wrong_product_total[1] << " | " << wrong_product_total[2] << " |\n";
  out << "\nCamera path (frame pairs of the same code; catalog = the " << catalog.size()
      << " GTINs of the generated set): " << confirmed << " codes confirmed by two frames, "
      << confirmed_wrong << " of them wrong; " << reported << " reported (in the catalog), "
      << reported_wrong << " of them wrong.\n";
  if (zbar) {
    int zw = 0;
    for (const auto& [k, v] : zbar_wrong) zw += v;
    out << "zbarimg wrong reads on its sample: " << zw << ".\n";
  }
  std::array<double, kEngines> engine_ms{};
  double render_ms = 0;
  double images = 0;
  for (const SetResult& set : sets) {
    for (const ImageResult& r : set.images) {
      for (int e = 0; e < kEngines; ++e)
        engine_ms[static_cast<std::size_t>(e)] += r.ms[static_cast<std::size_t>(e)];
      render_ms += r.render_ms;
      ++images;
    }
  }
  out << "\nMean CPU ms per 800x600 image: chain " << fmt(engine_ms[0] / images)
      << ", zxing-cpp alone " << fmt(engine_ms[1] / images) << ", OpenCV alone "
      << fmt(engine_ms[2] / images) << " (EAN/UPC sets only count), generating the image "
      << fmt(render_ms / images) << ".\n";
  out << "Generation + decoding took " << fmt(gen_and_decode_s, 0) << " s wall on " << o.jobs
      << " threads; zbarimg " << fmt(zbar_s, 0) << " s.\n";
  result["wrong"] = {
      {"single_frame",
       {{"chain", wrong_total[0]}, {"zxing", wrong_total[1]}, {"opencv", wrong_total[2]}}},
      {"single_frame_products",
       {{"chain", wrong_product_total[0]},
        {"zxing", wrong_product_total[1]},
        {"opencv", wrong_product_total[2]}}},
      {"confirmed", confirmed},
      {"confirmed_wrong", confirmed_wrong},
      {"reported", reported},
      {"reported_wrong", reported_wrong}};
  return result;
}

}  // namespace shopeasy::bench::vision
