#include "tools/vision-gen/cli.hpp"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "tools/vision-gen/encoders.hpp"
#include "tools/vision-gen/scene.hpp"
#include "tools/vision-gen/scene_types.hpp"
#include "tools/vision-gen/shelf.hpp"

namespace shopeasy::vision_gen {
namespace {

namespace fs = std::filesystem;

int usage(std::ostream& err, const std::string& problem) {
  err << "shopeasy-vision-gen: " << problem << "\n"
      << "usage: shopeasy-vision-gen code --symbology NAME [--content TEXT] [--level LEVEL] "
         "[--seed N] --out FILE\n"
      << "       shopeasy-vision-gen scene --type two-codes|cut|large-matrix|shared-prefix "
         "--symbology NAME [--level LEVEL] [--seed N] --out FILE\n"
      << "       shopeasy-vision-gen set --symbology NAME|none --level LEVEL --count N [--seed N] "
         "--dir DIR\n"
      << "       shopeasy-vision-gen shelf [--seed N] [--rows R] [--slots S] [--no-markers] "
         "[--frames N] --dir DIR\n";
  return 2;
}

// --key value pairs and bare --flags.
struct Args {
  std::map<std::string, std::string> values;
  std::optional<std::string> error;
  std::string get(const std::string& k, const std::string& fallback = "") const {
    auto it = values.find(k);
    return it == values.end() ? fallback : it->second;
  }
  bool has(const std::string& k) const { return values.count(k) > 0; }
};

Args parse(const std::vector<std::string>& a, const std::vector<std::string>& flags) {
  Args out;
  for (std::size_t i = 1; i < a.size(); ++i) {
    if (a[i].rfind("--", 0) != 0) {
      out.error = "unexpected argument " + a[i];
      return out;
    }
    const std::string key = a[i].substr(2);
    if (std::find(flags.begin(), flags.end(), key) != flags.end()) {
      out.values[key] = "1";
    } else if (i + 1 < a.size()) {
      out.values[key] = a[++i];
    } else {
      out.error = a[i] + " needs a value";
      return out;
    }
  }
  return out;
}

std::optional<int> to_int(const std::string& s) {
  try {
    std::size_t used = 0;
    const int v = std::stoi(s, &used);
    if (used != s.size()) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<Difficulty> to_level(const std::string& s) {
  if (s == "clean") return Difficulty::kClean;
  if (s == "medium") return Difficulty::kMedium;
  if (s == "hard") return Difficulty::kHard;
  if (s == "extreme") return Difficulty::kExtreme;
  return std::nullopt;
}

bool write_image(const std::string& path, const cv::Mat& img, std::ostream& err) {
  try {
    if (cv::imwrite(path, img)) return true;
  } catch (const std::exception& e) {
    err << "shopeasy-vision-gen: cannot write " << path << ": " << e.what() << "\n";
    return false;
  }
  err << "shopeasy-vision-gen: cannot write " << path << "\n";
  return false;
}

int code_command(const Args& a, std::ostream& out, std::ostream& err) {
  const auto kind = parse_code_kind(a.get("symbology"));
  if (!kind)
    return usage(
        err, "--symbology must be one of ean-13 ean-8 upc-a upc-e code-128 gs1-128 qr datamatrix");
  const auto level = to_level(a.get("level", "clean"));
  if (!level) return usage(err, "--level must be clean, medium, hard or extreme");
  const auto seed = to_int(a.get("seed", "1"));
  if (!seed) return usage(err, "--seed must be an integer");
  if (!a.has("out")) return usage(err, "--out FILE is required");
  std::mt19937 rng(static_cast<std::uint32_t>(*seed));
  const std::string content = a.has("content") ? a.get("content") : random_content(*kind, rng);
  auto sym = encode(*kind, content);
  if (!sym.ok()) {
    err << "shopeasy-vision-gen: " << sym.status().message() << "\n";
    return 1;
  }
  SceneTruth truth;
  const cv::Mat img = render_scene(*sym, sample_scene_params(*level, rng), rng, &truth);
  if (!write_image(a.get("out"), img, err)) return 1;
  nlohmann::json corners = nlohmann::json::array();
  for (const cv::Point2f& p : truth.corners) corners.push_back({p.x, p.y});
  out << nlohmann::json{{"file", a.get("out")},
                        {"symbology", code_kind_name(*kind)},
                        {"content", sym->content},
                        {"corners", corners}}
             .dump()
      << "\n";
  return 0;
}

// One frame of a scene type: the image, and every code in it with its corners.
int scene_command(const Args& a, std::ostream& out, std::ostream& err) {
  const auto type = parse_scene_type(a.get("type"));
  if (!type) return usage(err, "--type must be two-codes, cut, large-matrix or shared-prefix");
  const auto kind = parse_code_kind(a.get("symbology"));
  if (!kind) return usage(err, "--symbology must name a symbology");
  const auto level = to_level(a.get("level", "medium"));
  if (!level) return usage(err, "--level must be clean, medium, hard or extreme");
  const auto seed = to_int(a.get("seed", "1"));
  if (!seed) return usage(err, "--seed must be an integer");
  if (!a.has("out")) return usage(err, "--out FILE is required");
  std::mt19937 content_rng(static_cast<std::uint32_t>(*seed));
  std::mt19937 scene_rng(static_cast<std::uint32_t>(*seed) * 2654435761u + 1u);
  auto scene = make_typed_scene(*type, *kind, *level, content_rng, scene_rng);
  if (!scene.ok()) {
    err << "shopeasy-vision-gen: " << scene.status().message() << "\n";
    return 1;
  }
  if (!write_image(a.get("out"), scene->image, err)) return 1;
  nlohmann::json codes = nlohmann::json::array();
  for (std::size_t i = 0; i < scene->symbols.size(); ++i) {
    nlohmann::json corners = nlohmann::json::array();
    for (const cv::Point2f& p : scene->truths[i].corners) corners.push_back({p.x, p.y});
    codes.push_back({{"symbology", code_kind_name(scene->symbols[i].kind)},
                     {"content", scene->symbols[i].content},
                     {"corners", corners}});
  }
  nlohmann::json line = {
      {"file", a.get("out")}, {"type", scene_type_name(*type)}, {"codes", codes}};
  if (!scene->catalog.empty()) line["catalog"] = scene->catalog;
  if (*type == SceneType::kCut) line["cut_fraction"] = scene->cut_fraction;
  out << line.dump() << "\n";
  return 0;
}

int set_command(const Args& a, std::ostream& out, std::ostream& err) {
  const std::string name = a.get("symbology");
  const auto kind = parse_code_kind(name);
  if (!kind && name != "none") return usage(err, "--symbology must name a symbology or none");
  const auto level = to_level(a.get("level", "clean"));
  if (!level) return usage(err, "--level must be clean, medium, hard or extreme");
  const auto count = to_int(a.get("count", ""));
  if (!count || *count < 1) return usage(err, "--count must be a positive integer");
  const auto seed = to_int(a.get("seed", "1"));
  if (!seed) return usage(err, "--seed must be an integer");
  if (!a.has("dir")) return usage(err, "--dir DIR is required");
  const fs::path dir = a.get("dir");
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::ofstream truth(dir / "truth.jsonl", std::ios::trunc);
  if (!truth) {
    err << "shopeasy-vision-gen: cannot write " << (dir / "truth.jsonl").string() << "\n";
    return 1;
  }
  for (int i = 0; i < *count; ++i) {
    std::mt19937 rng(static_cast<std::uint32_t>(*seed) * 1000003u + static_cast<std::uint32_t>(i));
    char file[32];
    std::snprintf(file, sizeof(file), "%05d.png", i);
    cv::Mat img;
    std::string content;
    if (kind) {
      auto sym = encode(*kind, random_content(*kind, rng));
      if (!sym.ok()) {
        err << "shopeasy-vision-gen: " << sym.status().message() << "\n";
        return 1;
      }
      img = render_scene(*sym, sample_scene_params(*level, rng), rng, nullptr);
      content = sym->content;
    } else {
      img = render_blank_scene(sample_scene_params(*level, rng), rng);
    }
    if (!write_image((dir / file).string(), img, err)) return 1;
    truth << nlohmann::json{{"file", file}, {"symbology", name}, {"content", content}}.dump()
          << "\n";
  }
  out << "wrote " << *count << " images to " << dir.string() << "\n";
  return 0;
}

int shelf_command(const Args& a, std::ostream& out, std::ostream& err) {
  const auto seed = to_int(a.get("seed", "1"));
  const auto rows = to_int(a.get("rows", "4"));
  const auto slots = to_int(a.get("slots", "6"));
  const auto frames = to_int(a.get("frames", "3"));
  if (!seed || !rows || !slots || !frames || *rows < 1 || *rows > 8 || *slots < 1 || *slots > 12 ||
      *frames < 0 || *frames > 1000) {
    return usage(err,
                 "--seed, --rows (1..8), --slots (1..12) and --frames (0..1000) take integers");
  }
  if (!a.has("dir")) return usage(err, "--dir DIR is required");
  const fs::path dir = a.get("dir");
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::mt19937 rng(static_cast<std::uint32_t>(*seed));
  ShelfSpec spec;
  spec.rows = *rows;
  spec.slots_per_row = *slots;
  spec.markers = !a.has("no-markers");
  const ShelfLayout layout = make_shelf_layout(spec, rng);
  CameraView identity;
  if (!write_image((dir / "full.png").string(),
                   render_shelf(layout, full_state(layout), identity, rng), err) ||
      !write_image((dir / "empty.png").string(),
                   render_shelf(layout, empty_state(layout), identity, rng), err)) {
    return 1;
  }
  std::ofstream plan(dir / "planogram.json", std::ios::trunc);
  plan << shelf_planogram(layout, "shelf-" + std::to_string(*seed), "full.png", "empty.png").dump(2)
       << "\n";
  nlohmann::json truth = nlohmann::json::array();
  for (int f = 0; f < *frames; ++f) {
    const ShelfState state = random_state(layout, rng, 0.25, 0.3, 0.05);
    char name[32];
    std::snprintf(name, sizeof(name), "frame-%02d.jpg", f);
    if (!write_image((dir / name).string(), render_shelf(layout, state, random_view(rng), rng),
                     err))
      return 1;
    nlohmann::json slot_truth = nlohmann::json::array();
    for (std::size_t s = 0; s < layout.slots.size(); ++s) {
      slot_truth.push_back({{"id", layout.slots[s].id},
                            {"fill", fill_of(state, s)},
                            {"wrong_product", state.intruder[s].has_value()}});
    }
    truth.push_back({{"file", name}, {"slots", slot_truth}});
  }
  std::ofstream t(dir / "truth.json", std::ios::trunc);
  t << truth.dump(2) << "\n";
  if (!plan || !t) {
    err << "shopeasy-vision-gen: cannot write into " << dir.string() << "\n";
    return 1;
  }
  out << "wrote a shelf with " << layout.slots.size() << " slots and " << *frames << " frames to "
      << dir.string() << "\n";
  return 0;
}

}  // namespace

int run_gen_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  try {
    if (args.empty()) return usage(err, "a command is required");
    if (args[0] == "--help" || args[0] == "-h") {
      usage(out, "generated barcode scenes and shelves");
      return 0;
    }
    const Args a = parse(args, {"no-markers"});
    if (a.error) return usage(err, *a.error);
    if (args[0] == "code") return code_command(a, out, err);
    if (args[0] == "set") return set_command(a, out, err);
    if (args[0] == "scene") return scene_command(a, out, err);
    if (args[0] == "shelf") return shelf_command(a, out, err);
    return usage(err, "unknown command " + args[0]);
  } catch (const std::exception& e) {
    err << "shopeasy-vision-gen: internal error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace shopeasy::vision_gen
