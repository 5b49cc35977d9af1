#include "tests/bench/vision/scene_eval.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>

#include <opencv2/barcode.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "edge/vision/decoder.hpp"
#include "edge/vision/zxing_reader.hpp"
#include "tests/bench/vision/eval_common.hpp"
#include "tools/vision-gen/scene_types.hpp"

namespace shopeasy::bench::vision {
namespace {

namespace fs = std::filesystem;
namespace ev = edge::vision;
using nlohmann::json;
using vision_gen::CodeKind;
using vision_gen::Difficulty;
using vision_gen::SceneType;

enum Engine { kChain, kZxing, kOpenCv, kZbar, kEngineCount };
constexpr std::array<const char*, kEngineCount> kEngineKeys = {"chain", "zxing", "opencv", "zbar"};

// What one engine made of one frame.
struct Outcome {
  bool ran = false;
  int correct = 0;        // codes in view read right (each once)
  int wrong = 0;          // reads that are no code in view
  int catalog_wrong = 0;  // ... that are another item of the catalog in view
};

struct Frame {
  std::array<Outcome, kEngineCount> engines{};
  int codes = 0;
};

// Judges one engine's reads of a frame against the codes in view.
class Judge {
 public:
  Judge(const vision_gen::TypedScene& scene) {
    for (const vision_gen::Symbol& s : scene.symbols) {
      kinds_.push_back(s.kind);
      keys_.push_back(expected_key(s.kind, s.content));
    }
    for (const std::string& c : scene.catalog) {
      catalog_.insert(expected_key(CodeKind::kEan13, c));
    }
  }

  // `key`: the read's GTIN-14 for a product code, else its text.
  void read(Outcome& o, const std::string& key) {
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      if (key == keys_[i] || same_text(key, keys_[i])) {
        if (!seen_.count(i)) {
          seen_.insert(i);
          ++o.correct;
        }
        return;
      }
    }
    ++o.wrong;
    if (catalog_.count(key)) ++o.catalog_wrong;
  }
  void reset() { seen_.clear(); }
  bool retail() const { return is_retail(kinds_.front()); }
  std::size_t codes() const { return keys_.size(); }

 private:
  std::vector<CodeKind> kinds_;
  std::vector<std::string> keys_;
  std::set<std::string> catalog_;
  std::set<std::size_t> seen_;
};

struct Worker {
  ev::BarcodeDecoder chain;
  cv::barcode::BarcodeDetector opencv;
};

bool selected(const std::vector<std::string>& only, SceneType type, CodeKind kind,
              Difficulty level) {
  if (only.empty()) return true;
  const std::string t(vision_gen::scene_type_name(type));
  const std::string k(vision_gen::code_kind_name(kind));
  const std::string l(vision_gen::difficulty_name(level));
  return std::any_of(only.begin(), only.end(), [&](const std::string& o) {
    return o == t || o == t + ":" + k || o == t + ":" + k + ":" + l;
  });
}

std::optional<Difficulty> level_named(const std::string& name) {
  for (Difficulty d :
       {Difficulty::kClean, Difficulty::kMedium, Difficulty::kHard, Difficulty::kExtreme}) {
    if (vision_gen::difficulty_name(d) == name) return d;
  }
  return std::nullopt;
}

// Frames where every code was read / at least one / a wrong read / a catalog misread.
struct Tally {
  int n = 0;
  int all = 0;
  int any = 0;
  int wrong = 0;
  int catalog_wrong = 0;
  void add(const Outcome& o, int codes) {
    if (!o.ran) return;
    ++n;
    all += o.correct == codes;
    any += o.correct > 0;
    wrong += o.wrong > 0;
    catalog_wrong += o.catalog_wrong > 0;
  }
  json to_json() const {
    return {
        {"n", n}, {"all", all}, {"any", any}, {"wrong", wrong}, {"catalog_wrong", catalog_wrong}};
  }
};

std::string rate(int k, int n) { return n == 0 ? "-" : pct(k, n); }

}  // namespace

json run_scene_eval(const SceneEvalOptions& o, std::ostream& out) {
  std::vector<Difficulty> levels;
  for (const std::string& name : o.levels) {
    if (auto d = level_named(name)) levels.push_back(*d);
  }
  if (levels.empty()) levels = {Difficulty::kMedium, Difficulty::kHard};
  if (!o.misses_dir.empty()) fs::create_directories(o.misses_dir);
  const bool zbar = o.zbar_every > 0 && !o.work_dir.empty() && zbar_available();
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < o.jobs; ++i) {
    workers.push_back(std::unique_ptr<Worker>(new Worker{ev::BarcodeDecoder(o.decoder), {}}));
  }
  std::mutex log_mutex;

  struct SetResult {
    SceneType type;
    CodeKind kind;
    Difficulty level;
    std::vector<Frame> frames;
  };
  std::vector<SetResult> sets;
  const double wall0 = wall_ms();
  for (SceneType type : vision_gen::all_scene_types()) {
    int n = o.per_set;
    for (const auto& [name, count] : o.per_type) {
      if (name == vision_gen::scene_type_name(type) && count > 0) n = count;
    }
    for (CodeKind kind : vision_gen::scene_type_kinds(type)) {
      for (Difficulty level : levels) {
        if (!selected(o.only, type, kind, level)) continue;
        SetResult set{type, kind, level, std::vector<Frame>(static_cast<std::size_t>(n))};
        const std::string name = std::string(vision_gen::scene_type_name(type)) + "-" +
                                 std::string(vision_gen::code_kind_name(kind)) + "-" +
                                 std::string(vision_gen::difficulty_name(level));
        const fs::path zdir = fs::path(o.work_dir) / "zbar-scenes" / name;
        if (zbar) fs::create_directories(zdir);
        // Kept apart from the seeds of the one-code sets (decode_eval.cpp).
        const std::uint32_t set_seed = o.seed * 104729u +
                                       (static_cast<std::uint32_t>(type) + 1) * 15485863u +
                                       static_cast<std::uint32_t>(kind) * 1000003u +
                                       static_cast<std::uint32_t>(level) * 10007u;
        std::vector<std::optional<vision_gen::TypedScene>> zbar_scenes(set.frames.size());
        parallel_for(set.frames.size(), o.jobs, [&](std::size_t i, int w) {
          std::mt19937 content_rng(set_seed + static_cast<std::uint32_t>(i) * 2654435761u);
          std::mt19937 scene_rng(set_seed ^ (static_cast<std::uint32_t>(i) * 40503u + 17u));
          auto scene = vision_gen::make_typed_scene(type, kind, level, content_rng, scene_rng);
          if (!scene.ok()) {
            std::lock_guard<std::mutex> lock(log_mutex);
            std::cerr << "scene " << name << " " << i << ": " << scene.status().to_string() << "\n";
            return;
          }
          Worker& wk = *workers[static_cast<std::size_t>(w)];
          Frame& f = set.frames[i];
          Judge judge(*scene);
          f.codes = static_cast<int>(judge.codes());
          cv::Mat gray;
          cv::cvtColor(scene->image, gray, cv::COLOR_BGR2GRAY);
          // The chain.
          Outcome& chain = f.engines[kChain];
          chain.ran = true;
          auto found = wk.chain.decode(scene->image);
          if (found.ok()) {
            for (const ev::Detection& d : *found) {
              const std::string key = judge.retail() && !d.gtin14.empty() ? d.gtin14 : d.text;
              const int before = chain.wrong;
              judge.read(chain, key);
              if (chain.wrong > before && o.verbose) {
                std::lock_guard<std::mutex> lock(log_mutex);
                std::cerr << "wrong read: " << name << " #" << i << " got "
                          << ev::symbology_name(d.symbology) << " " << d.text << " via " << d.engine
                          << "\n";
              }
            }
          }
          judge.reset();
          // zxing-cpp alone: one whole-frame read (the library's multi-symbol call can
          // abort in this version).
          Outcome& zx = f.engines[kZxing];
          zx.ran = o.references;
          if (o.references) {
            auto z = ev::zxing_read_one(gray, ev::ZxingReadOptions{});
            if (z.ok() && z->has_value()) judge.read(zx, raw_key((*z)->format, (*z)->text));
            judge.reset();
          }
          if (o.references && judge.retail()) {
            Outcome& ocv = f.engines[kOpenCv];
            ocv.ran = true;
            for (const auto& [format, text] : opencv_read_all(wk.opencv, gray)) {
              judge.read(ocv, raw_key(format, text));
            }
            judge.reset();
          }
          if (!o.misses_dir.empty() && (chain.wrong > 0 || chain.correct < f.codes)) {
            char file[160];
            std::snprintf(file, sizeof(file), "%s%s-%04zu.png", chain.wrong > 0 ? "wrong-" : "",
                          name.c_str(), i);
            cv::imwrite((fs::path(o.misses_dir) / file).string(), scene->image);
          }
          if (zbar && i % static_cast<std::size_t>(o.zbar_every) == 0) {
            char file[32];
            std::snprintf(file, sizeof(file), "%05zu.png", i);
            cv::imwrite((zdir / file).string(), scene->image, {cv::IMWRITE_PNG_COMPRESSION, 1});
            zbar_scenes[i] = std::move(*scene);
          }
        });
        if (zbar) {
          const auto results = run_zbar(zdir);
          for (std::size_t i = 0; i < zbar_scenes.size(); ++i) {
            if (!zbar_scenes[i]) continue;
            char file[32];
            std::snprintf(file, sizeof(file), "%05zu.png", i);
            Judge judge(*zbar_scenes[i]);
            Outcome& zb = set.frames[i].engines[kZbar];
            zb.ran = true;
            auto it = results.find(file);
            if (it == results.end()) continue;
            for (const auto& [type_name, data] : it->second)
              judge.read(zb, raw_key(type_name, data));
          }
        }
        sets.push_back(std::move(set));
      }
    }
  }
  const double seconds = (wall_ms() - wall0) / 1000;

  json result = {{"sets", json::array()}};
  out << "\n## Scene types (seed " << o.seed
      << "): frames with every code read / a wrong read\n\n"
         "Two-codes: both codes read (at least one). Cut: the cut code read anyway (a "
         "no-read is right). Shared-prefix: a catalog misread is another item of the "
         "catalog in view. zxing-cpp alone reads one symbol per frame.\n\n"
         "| type | symbology | level | n | chain read | chain wrong | chain catalog misread | "
         "zxing-cpp alone read / wrong | OpenCV alone read / wrong | zbarimg (sample) read / "
         "wrong |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  std::map<std::string, std::array<Tally, kEngineCount>> totals;
  for (const SetResult& set : sets) {
    std::array<Tally, kEngineCount> t{};
    for (const Frame& f : set.frames) {
      if (f.codes == 0) continue;
      for (int e = 0; e < kEngineCount; ++e) t[e].add(f.engines[e], f.codes);
    }
    const std::string type(vision_gen::scene_type_name(set.type));
    for (int e = 0; e < kEngineCount; ++e) {
      Tally& tt = totals[type][e];
      tt.n += t[e].n;
      tt.all += t[e].all;
      tt.any += t[e].any;
      tt.wrong += t[e].wrong;
      tt.catalog_wrong += t[e].catalog_wrong;
    }
    const bool two = set.type == SceneType::kTwoCodes;
    auto read_cell = [&](const Tally& x) {
      if (x.n == 0) return std::string("n/a");
      std::string s = rate(x.all, x.n);
      if (two) s += " (" + rate(x.any, x.n) + ")";
      return s;
    };
    auto pair_cell = [&](const Tally& x) {
      if (x.n == 0) return std::string("n/a");
      return read_cell(x) + " / " + std::to_string(x.wrong) +
             (x.n != t[kChain].n ? " of " + std::to_string(x.n) : std::string());
    };
    out << "| " << type << " | " << vision_gen::code_kind_name(set.kind) << " | "
        << vision_gen::difficulty_name(set.level) << " | " << t[kChain].n << " | "
        << read_cell(t[kChain]) << " | " << t[kChain].wrong << " | "
        << (set.type == SceneType::kSharedPrefix || (two && set.kind == CodeKind::kEan13)
                ? std::to_string(t[kChain].catalog_wrong)
                : std::string("-"))
        << " | " << pair_cell(t[kZxing]) << " | " << pair_cell(t[kOpenCv]) << " | "
        << pair_cell(t[kZbar]) << " |\n";
    json js = {{"type", type},
               {"symbology", vision_gen::code_kind_name(set.kind)},
               {"level", vision_gen::difficulty_name(set.level)},
               {"n", t[kChain].n},
               {"codes", set.frames.empty() ? 0 : set.frames.front().codes}};
    for (int e = 0; e < kEngineCount; ++e) {
      js[kEngineKeys[static_cast<std::size_t>(e)]] = t[e].n ? t[e].to_json() : json(nullptr);
    }
    result["sets"].push_back(std::move(js));
  }
  out << "\n| type (all symbologies and levels) | n | chain read | chain wrong | zxing-cpp alone "
         "read / wrong | zbarimg (sample) read / wrong |\n| --- | --- | --- | --- | --- | --- |\n";
  for (const auto& [type, t] : totals) {
    out << "| " << type << " | " << t[kChain].n << " | " << rate(t[kChain].all, t[kChain].n)
        << " | " << t[kChain].wrong << " | " << rate(t[kZxing].all, t[kZxing].n) << " / "
        << t[kZxing].wrong << " | "
        << (t[kZbar].n ? rate(t[kZbar].all, t[kZbar].n) + " / " + std::to_string(t[kZbar].wrong) +
                             " of " + std::to_string(t[kZbar].n)
                       : std::string("n/a"))
        << " |\n";
    for (int e = 0; e < kEngineCount; ++e) {
      result["totals"][type][kEngineKeys[static_cast<std::size_t>(e)]] = t[e].to_json();
    }
  }
  out << "\nScene generation and decoding took " << fmt(seconds, 0) << " s wall on " << o.jobs
      << " threads.\n";
  return result;
}

}  // namespace shopeasy::bench::vision
