#include "edge/vision/cli.hpp"

#include <cmath>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iomanip>

#include <nlohmann/json.hpp>

#include "edge/vision/decoder.hpp"
#include "edge/vision/image_io.hpp"
#include "edge/vision/planogram.hpp"
#include "edge/vision/shelf_scanner.hpp"

namespace shopeasy::edge::vision {
namespace {

constexpr const char* kUsage =
    "usage: shopeasy-vision decode [--engine chain|zxing|opencv] IMAGE...\n"
    "       shopeasy-vision shelf --planogram FILE [--out ANNOTATED.jpg] [--json] IMAGE\n";

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

int shelf_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string planogram_path;
  std::string out_path;
  std::string image_path;
  bool as_json = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--planogram" || args[i] == "--out") {
      if (i + 1 >= args.size()) return usage(err, args[i] + " needs a value");
      (args[i] == "--planogram" ? planogram_path : out_path) = args[i + 1];
      ++i;
    } else if (args[i] == "--json") {
      as_json = true;
    } else if (!args[i].empty() && args[i][0] == '-') {
      return usage(err, "unknown option " + args[i]);
    } else if (image_path.empty()) {
      image_path = args[i];
    } else {
      return usage(err, "shelf takes one image");
    }
  }
  if (planogram_path.empty()) return usage(err, "shelf needs --planogram FILE");
  if (image_path.empty()) return usage(err, "shelf needs an image");
  if (out_path.empty()) out_path = image_path + ".annotated.jpg";

  auto plan = load_planogram(planogram_path);
  if (!plan.ok()) {
    err << "shopeasy-vision: bad planogram: " << plan.status().to_string() << "\n";
    return 1;
  }
  ShelfScannerOptions options;
  auto scanner = ShelfScanner::create(*plan, options);
  if (!scanner.ok()) {
    err << "shopeasy-vision: cannot use planogram " << planogram_path << ": "
        << scanner.status().to_string() << "\n";
    return 1;
  }
  auto image = read_image_file(image_path, options.limits);
  if (!image.ok()) {
    err << "shopeasy-vision: " << image.status().message() << "\n";
    return 1;
  }
  auto scan = (*scanner)->scan(*image, 0);
  if (!scan.ok()) {
    err << "shopeasy-vision: cannot scan " << image_path << ": " << scan.status().message() << "\n";
    return 1;
  }
  auto jpeg = encode_jpeg((*scanner)->annotate(*image, *scan), 85);
  if (jpeg.ok()) {
    std::ofstream f(out_path, std::ios::binary | std::ios::trunc);
    f.write(jpeg->data(), static_cast<std::streamsize>(jpeg->size()));
    if (!f) {
      err << "shopeasy-vision: cannot write " << out_path << "\n";
      return 1;
    }
  }
  if (as_json) {
    out << to_json(*scan).dump(2) << "\n";
    return 0;
  }
  out << "camera " << scan->camera << "  registration " << scan->registration;
  if (scan->registered)
    out << " (" << scan->inliers << " points, moved " << std::fixed << std::setprecision(1)
        << scan->shift_px << " px)";
  out << "\n";
  for (const SlotResult& s : scan->slots) {
    out << std::left << std::setw(10) << s.id << std::setw(15) << slot_state_name(s.state)
        << "fill " << std::fixed << std::setprecision(2) << s.fill << "  facings " << s.facings_seen
        << "/" << s.facings_expected << "  sku " << s.sku;
    for (const std::string& c : s.codes) out << "  code " << c;
    out << "\n";
  }
  out << "annotated image: " << out_path << "\n";
  return 0;
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
