#include "edge/vision/cli.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <optional>

#include <nlohmann/json.hpp>

#include "edge/vision/decoder.hpp"
#include "edge/vision/image_io.hpp"
#include "edge/vision/planogram.hpp"
#include "edge/vision/shelf_scanner.hpp"

namespace shopeasy::edge::vision {
namespace {

constexpr const char* kUsage =
    "usage: shopeasy-vision decode [--engine chain|zxing|opencv] IMAGE...\n"
    "       shopeasy-vision shelf --planogram FILE [--state PREFIX] [--out ANNOTATED.jpg] "
    "[--json] IMAGE|FOLDER\n";

int usage(std::ostream& err, const std::string& problem) {
  err << "shopeasy-vision: " << problem << "\n" << kUsage;
  return 2;
}

int decode_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  DecoderOptions options;
  std::vector<std::string> images;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--engine") {
      if (i + 1 >= args.size()) return usage(err, "--engine needs a value");
      const std::string& e = args[++i];
      if (e == "zxing") {
        options.use_opencv = false;
      } else if (e == "opencv") {
        options.use_zxing = false;
      } else if (e != "chain") {
        return usage(err, "unknown engine " + e);
      }
    } else if (!args[i].empty() && args[i][0] == '-') {
      return usage(err, "unknown option " + args[i]);
    } else {
      images.push_back(args[i]);
    }
  }
  if (images.empty()) return usage(err, "decode needs at least one image");
  BarcodeDecoder decoder(options);
  int status = 0;
  for (const std::string& path : images) {
    auto image = read_image_file(path, options.limits);
    if (!image.ok()) {
      err << "shopeasy-vision: " << image.status().message() << "\n";
      status = 1;
      continue;
    }
    auto found = decoder.decode(*image);
    if (!found.ok()) {
      err << "shopeasy-vision: cannot decode " << path << ": " << found.status().message() << "\n";
      status = 1;
      continue;
    }
    for (const Detection& d : *found) {
      nlohmann::json corners = nlohmann::json::array();
      for (const cv::Point2f& p : d.corners) {
        corners.push_back({std::round(p.x * 10) / 10, std::round(p.y * 10) / 10});
      }
      nlohmann::json line = {{"image", path},
                             {"symbology", symbology_name(d.symbology)},
                             {"text", d.text},
                             {"corners", corners},
                             {"engine", d.engine}};
      if (!d.gtin14.empty()) line["gtin14"] = d.gtin14;
      out << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    }
  }
  return status;
}

bool is_image_name(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const std::string name = p.filename().string();
  return !name.empty() && name[0] != '.' &&
         (ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp" || ext == ".tif" ||
          ext == ".tiff" || ext == ".webp");
}

void print_slots(const ShelfScan& scan, std::ostream& out) {
  out << "camera " << scan.camera << "  registration " << scan.registration;
  if (scan.registered)
    out << " (" << scan.inliers << " points, moved " << std::fixed << std::setprecision(1)
        << scan.shift_px << " px)";
  out << "\n";
  for (const SlotResult& s : scan.slots) {
    out << std::left << std::setw(10) << s.id << std::setw(15) << slot_state_name(s.state)
        << "fill " << std::fixed << std::setprecision(2) << s.fill << "  facings " << s.facings_seen
        << "/" << s.facings_expected << "  sku " << s.sku;
    for (const std::string& c : s.codes) out << "  code " << c;
    out << "\n";
  }
}

int shelf_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string planogram_path;
  std::string out_path;
  std::string input;
  std::string state_prefix;
  bool as_json = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--planogram" || args[i] == "--out" || args[i] == "--state") {
      if (i + 1 >= args.size()) return usage(err, args[i] + " needs a value");
      (args[i] == "--planogram" ? planogram_path
       : args[i] == "--out"     ? out_path
                                : state_prefix) = args[i + 1];
      ++i;
    } else if (args[i] == "--json") {
      as_json = true;
    } else if (!args[i].empty() && args[i][0] == '-') {
      return usage(err, "unknown option " + args[i]);
    } else if (input.empty()) {
      input = args[i];
    } else {
      return usage(err, "shelf takes one image or one folder");
    }
  }
  if (planogram_path.empty()) return usage(err, "shelf needs --planogram FILE");
  if (input.empty()) return usage(err, "shelf needs an image or a folder of frames");

  // A folder: its images in name order, which is time order for camera uploads
  // (timestamped names); the learned state carries from frame to frame.
  std::vector<std::string> frames;
  std::error_code ec;
  const bool folder = std::filesystem::is_directory(input, ec);
  if (folder) {
    for (const auto& e : std::filesystem::directory_iterator(input, ec)) {
      if (e.is_regular_file() && is_image_name(e.path())) frames.push_back(e.path().string());
    }
    if (ec) {
      err << "shopeasy-vision: cannot list " << input << ": " << ec.message() << "\n";
      return 1;
    }
    std::sort(frames.begin(), frames.end());
    if (frames.empty()) {
      err << "shopeasy-vision: no images (jpg, png, bmp, tif, webp) in " << input << "\n";
      return 1;
    }
  } else {
    frames.push_back(input);
  }
  if (out_path.empty()) out_path = frames.back() + ".annotated.jpg";

  auto plan = load_planogram(planogram_path);
  if (!plan.ok()) {
    err << "shopeasy-vision: bad planogram: " << plan.status().to_string() << "\n";
    return 1;
  }
  ShelfScannerOptions options;
  options.state_prefix = state_prefix;
  options.save_every_ms = 0;  // by hand: keep what each frame taught
  auto scanner = ShelfScanner::create(*plan, options);
  if (!scanner.ok()) {
    err << "shopeasy-vision: cannot use planogram " << planogram_path << ": "
        << scanner.status().to_string() << "\n";
    return 1;
  }
  if (!(*scanner)->memory_note().empty()) {
    err << "shopeasy-vision: learned state not used: " << (*scanner)->memory_note() << "\n";
  }
  int status = 0;
  std::optional<ShelfScan> last;
  cv::Mat last_image;
  nlohmann::json per_frame = nlohmann::json::array();
  for (std::size_t f = 0; f < frames.size(); ++f) {
    auto image = read_image_file(frames[f], options.limits);
    if (!image.ok()) {
      err << "shopeasy-vision: " << frames[f] << ": " << image.status().message() << "\n";
      status = 1;
      continue;
    }
    const auto t0 = std::chrono::steady_clock::now();
    auto scan = (*scanner)->scan(*image, static_cast<std::int64_t>(f) * 1000);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!scan.ok()) {
      err << "shopeasy-vision: cannot scan " << frames[f] << ": " << scan.status().message()
          << "\n";
      status = 1;
      continue;
    }
    if (folder) {
      const std::string name = std::filesystem::path(frames[f]).filename().string();
      if (as_json) {
        per_frame.push_back({{"frame", name},
                             {"ms", std::round(ms * 10) / 10},
                             {"summary", to_json(*scan)["summary"]},
                             {"learned_empty_slots", scan->learned_empty_slots}});
      } else {
        out << "frame " << f << " " << name << ": " << scan->count(SlotState::kEmpty) << " empty, "
            << scan->count(SlotState::kLow) << " low, " << scan->count(SlotState::kOk) << " ok";
        if (scan->learning) out << ", learned empty looks " << scan->learned_empty_slots;
        out << ", " << std::fixed << std::setprecision(1) << ms << " ms\n";
      }
    }
    last = std::move(*scan);
    last_image = std::move(*image);
  }
  if (!last) return 1;
  if (!state_prefix.empty()) {
    if (Status st = (*scanner)->save_memory(); !st.is_ok()) {
      err << "shopeasy-vision: cannot save the learned state: " << st.to_string() << "\n";
      status = 1;
    }
  }
  auto jpeg = encode_jpeg((*scanner)->annotate(last_image, *last), 85);
  if (jpeg.ok()) {
    std::ofstream f(out_path, std::ios::binary | std::ios::trunc);
    f.write(jpeg->data(), static_cast<std::streamsize>(jpeg->size()));
    if (!f) {
      err << "shopeasy-vision: cannot write " << out_path << "\n";
      return 1;
    }
  }
  if (as_json) {
    nlohmann::json j = to_json(*last);
    if (folder) j["frames"] = per_frame;
    out << j.dump(2) << "\n";
    return status;
  }
  print_slots(*last, out);
  out << "annotated image: " << out_path << "\n";
  return status;
}

}  // namespace

int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  try {
    if (args.empty()) return usage(err, "a command is required");
    const std::string& cmd = args[0];
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    if (cmd == "-h" || cmd == "--help" || cmd == "help") {
      out << kUsage;
      return 0;
    }
    if (cmd == "decode") return decode_command(rest, out, err);
    if (cmd == "shelf") return shelf_command(rest, out, err);
    return usage(err, "unknown command " + cmd);
  } catch (const std::exception& e) {
    err << "shopeasy-vision: internal error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace shopeasy::edge::vision
