#include "tests/bench/vision/outside_eval.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <vector>

#include <opencv2/barcode.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "edge/barcode/barcode.hpp"
#include "edge/vision/decoder.hpp"
#include "edge/vision/zxing_reader.hpp"
#include "tests/bench/vision/eval_common.hpp"

namespace shopeasy::bench::vision {
namespace {

namespace fs = std::filesystem;
namespace ev = edge::vision;
using nlohmann::json;

constexpr int kEngines = 4;  // chain, zxing-cpp alone, OpenCV alone, zbarimg

struct Item {
  std::string set;        // "photos" or "zint"
  std::string symbology;  // "qr", "datamatrix", "ean-13", ..., "none" (no code)
  std::string name;       // for listings
  fs::path file;          // the image
  std::string want;       // expected text (empty for "none")
};

struct Outcome {
  std::array<bool, kEngines> hit{};
  std::array<int, kEngines> wrong{};
  double chain_ms = 0;
  std::string chain_read;  // what the chain reported, for --verbose
};

bool is_retail_name(const std::string& s) {
  return s == "ean-13" || s == "ean-8" || s == "upc-a" || s == "upc-e";
}

std::optional<std::string> folder_symbology(const std::string& folder) {
  static const std::array<std::pair<const char*, const char*>, 8> kPrefixes = {{
      {"qrcode", "qr"},
      {"datamatrix", "datamatrix"},
      {"ean13", "ean-13"},
      {"ean8", "ean-8"},
      {"upca", "upc-a"},
      {"upce", "upc-e"},
      {"code128", "code-128"},
      {"falsepositives", "none"},
  }};
  for (const auto& [prefix, name] : kPrefixes) {
    if (folder.rfind(prefix, 0) == 0) return std::string(name);
  }
  return std::nullopt;
}

// The key a correct read must produce: the GTIN-14 for EAN/UPC (UPC-E printed in 8
// digits or expanded), else the text.
std::string want_key(const std::string& symbology, const std::string& text) {
  if (symbology == "upc-e" && text.size() == 8) {
    auto upca = edge::barcode::expand_upce(text);
    if (!upca.ok()) return "?";
    auto g = edge::barcode::to_gtin14(*upca);
    return g.ok() ? *g : "?";
  }
  if (is_retail_name(symbology)) {
    auto g = edge::barcode::to_gtin14(text);
    return g.ok() ? *g : "?";
  }
  return text;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// Expected bytes as the UTF-8 text of their ISO 8859-1 reading (zxing-cpp's default).
std::string latin1_to_utf8(const std::string& bytes) {
  std::string out;
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out += ch;
    } else {
      out += static_cast<char>(0xc0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3f));
    }
  }
  return out;
}

std::vector<Item> photo_items(const fs::path& dir) {
  std::vector<Item> items;
  std::vector<fs::path> folders;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_directory()) folders.push_back(e.path());
  }
  std::sort(folders.begin(), folders.end());
  for (const fs::path& folder : folders) {
    const auto sym = folder_symbology(folder.filename().string());
    if (!sym) continue;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(folder)) {
      std::string ext = e.path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
      if (ext == ".webp" || ext == ".png" || ext == ".jpg" || ext == ".jpeg") {
        files.push_back(e.path());
      }
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) {
      Item it{"photos", *sym, folder.filename().string() + "/" + f.filename().string(), f, ""};
      fs::path txt = f;
      txt.replace_extension(".txt");
      fs::path bin = f;
      bin.replace_extension(".bin");
      if (fs::exists(txt)) {
        it.want = slurp(txt);
      } else if (fs::exists(bin)) {
        it.want = latin1_to_utf8(slurp(bin));
      } else if (*sym != "none") {
        continue;  // nothing to compare with
      }
      items.push_back(std::move(it));
    }
  }
  return items;
}

// --- zint renders ---------------------------------------------------------------------

struct ZintSpec {
  std::string symbology;
  int type;             // zint's -b
  std::string options;  // more zint options
  std::string data;     // zint's -d (may hold zint escapes with --esc)
  std::string want;     // what a reader must return
  std::vector<double> scales;
};

std::vector<ZintSpec> zint_specs() {
  // A long text that needs a large QR version.
  std::string long_text;
  for (int i = 0; long_text.size() < 600; ++i) long_text += "ITEM-" + std::to_string(i) + ";";
  std::string dm_long;
  for (int i = 0; dm_long.size() < 1000; ++i) dm_long += "LOT" + std::to_string(1000 + i);
  const std::string gs = "\x1d";
  return {
      {"qr", 58, "", "SHOPEASY 4711", "SHOPEASY 4711", {1, 2, 5}},
      {"qr",
       58,
       "",
       "https://id.gs1.org/01/09506000134352/10/ABC123",
       "https://id.gs1.org/01/09506000134352/10/ABC123",
       {1, 2, 4}},
      {"qr", 58, "", long_text, long_text, {1, 2}},
      {"qr", 58, "--vers=40", "VERSION 40", "VERSION 40", {1, 2}},
      {"datamatrix", 71, "", "SHOPEASY 4711", "SHOPEASY 4711", {1, 2, 4}},
      {"datamatrix",
       71,
       "--gs1",
       "[01]09506000134352[17]261231[10]AB12",
       "01095060001343521726123110AB12",
       {1, 2, 4}},
      {"datamatrix",
       71,
       "--esc",
       "[)>\\R06\\GP4711-0815\\G1T2026A\\R\\E",
       "[)>\x1e"
       "06" +
           gs + "P4711-0815" + gs + "1T2026A\x1e\x04",
       {1, 2}},
      {"datamatrix", 71, "--vers=24", dm_long, dm_long, {1, 2}},
      {"datamatrix", 71, "--vers=27", "RECT 12X26", "RECT 12X26", {2, 4}},
      {"datamatrix", 71, "--vers=32 --dmre", "DMRE 8X64", "DMRE 8X64", {2, 4}},
      {"ean-13", 13, "", "590123412345", "5901234123457", {1, 2, 3}},
      {"ean-8", 13, "", "9638507", "96385074", {1, 2, 3}},
      {"upc-a", 34, "", "03600029145", "036000291452", {1, 2, 3}},
      {"upc-e", 37, "", "0123456", "01234565", {1, 2, 3}},
      {"code-128", 20, "", "SHOPEASY-4711", "SHOPEASY-4711", {1, 2, 3}},
      {"gs1-128", 16, "", "[01]09506000134352[10]AB12", "010950600013435210AB12", {1, 2, 3}},
  };
}

bool zint_available() { return std::system("command -v zint >/dev/null 2>&1") == 0; }

// Renders every spec at each scale, with and without quiet zones, turned 0, 90 and 30
// degrees (the last by resampling, on a white margin).
std::vector<Item> zint_items(const fs::path& dir, std::ostream& log) {
  std::vector<Item> items;
  int n = 0;
  for (const ZintSpec& spec : zint_specs()) {
    for (double scale : spec.scales) {
      for (bool quiet : {true, false}) {
        for (int angle : {0, 90, 30}) {
          const fs::path sub = dir / spec.symbology;
          fs::create_directories(sub);
          char file[32];
          std::snprintf(file, sizeof(file), "%04d.png", n++);
          const fs::path out = sub / file;
          std::ostringstream cmd;
          cmd << "zint -b " << spec.type << " " << spec.options << " --scale=" << scale
              << (quiet ? " --quietzones" : " --noquietzones")
              << (angle == 90 ? " --rotate=90" : "") << " -o '" << out.string() << "' -d '"
              << spec.data << "' >/dev/null 2>&1";
          if (std::system(cmd.str().c_str()) != 0) {
            log << "zint failed: " << cmd.str() << "\n";
            continue;
          }
          if (angle == 30) {
            cv::Mat img = cv::imread(out.string(), cv::IMREAD_GRAYSCALE);
            if (img.empty()) continue;
            const int pad = std::max(img.cols, img.rows) / 3 + 8;
            cv::copyMakeBorder(img, img, pad, pad, pad, pad, cv::BORDER_CONSTANT, 255);
            const cv::Mat r =
                cv::getRotationMatrix2D(cv::Point2f(img.cols / 2.0f, img.rows / 2.0f), angle, 1.0);
            cv::warpAffine(img, img, r, img.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, 255);
            cv::imwrite(out.string(), img);
          }
          std::ostringstream name;
          name << spec.symbology << " " << spec.options << " data=" << spec.data.substr(0, 24)
               << " scale=" << scale << (quiet ? " quiet" : " no-quiet") << " rot=" << angle;
          items.push_back({"zint", spec.symbology, name.str(), out, spec.want});
        }
      }
    }
  }
  return items;
}

// --- evaluation ------------------------------------------------------------------------

struct Worker {
  ev::BarcodeDecoder chain;
  cv::barcode::BarcodeDetector opencv;
};

Outcome evaluate(Worker& w, const Item& item, bool references) {
  Outcome o;
  // OpenCV's reader: the daemon's own (image_io.hpp) takes no WebP.
  const cv::Mat loaded = cv::imread(item.file.string(), cv::IMREAD_COLOR);
  if (loaded.empty()) return o;
  const cv::Mat* image = &loaded;
  const bool none = item.symbology == "none";
  const std::string want = none ? std::string() : want_key(item.symbology, item.want);
  const bool retail = is_retail_name(item.symbology);
  auto judge = [&](int e, const std::string& key) {
    if (!none && (key == want || same_text(key, want))) {
      o.hit[static_cast<std::size_t>(e)] = true;
    } else {
      ++o.wrong[static_cast<std::size_t>(e)];
    }
  };
  const double t0 = thread_cpu_ms();
  auto found = w.chain.decode(*image);
  o.chain_ms = thread_cpu_ms() - t0;
  if (found.ok()) {
    for (const ev::Detection& d : *found) {
      const std::string key = retail && !d.gtin14.empty() ? d.gtin14 : d.text;
      judge(0, key);
      o.chain_read += std::string(o.chain_read.empty() ? "" : ", ") +
                      std::string(ev::symbology_name(d.symbology)) + " " + d.text + " (" +
                      d.engine + ")";
    }
  }
  if (!references) return o;
  cv::Mat gray;
  if (image->channels() == 1) {
    gray = *image;
  } else {
    cv::cvtColor(*image, gray, image->channels() == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
  }
  auto z = ev::zxing_read_one(gray, ev::ZxingReadOptions{});
  if (z.ok() && z->has_value()) judge(1, raw_key((*z)->format, (*z)->text));
  if (retail || none) {
    for (const auto& [format, text] : opencv_read_all(w.opencv, gray)) {
      judge(2, raw_key(format, text));
    }
  }
  return o;
}

struct Tally {
  int n = 0;
  std::array<int, kEngines> hits{};
  std::array<int, kEngines> wrong{};
  std::vector<double> ms;
};

}  // namespace

json run_outside_eval(const OutsideEvalOptions& o, std::ostream& out) {
  std::vector<Item> items;
  const fs::path work = o.work_dir.empty() ? fs::temp_directory_path() / "shopeasy-vision-outside"
                                           : fs::path(o.work_dir) / "outside";
  fs::remove_all(work);
  fs::create_directories(work);
  std::vector<std::string> notes;
  if (o.photos) {
    if (o.samples_dir.empty() || !fs::is_directory(o.samples_dir)) {
      notes.push_back("real photos skipped: no sample directory" +
                      (o.samples_dir.empty() ? std::string() : " at " + o.samples_dir));
    } else {
      auto p = photo_items(o.samples_dir);
      items.insert(items.end(), p.begin(), p.end());
    }
  }
  if (o.zint) {
    if (!zint_available()) {
      notes.push_back("zint renders skipped: zint is not installed");
    } else {
      auto z = zint_items(work / "zint", std::cerr);
      items.insert(items.end(), z.begin(), z.end());
    }
  }
  const double wall0 = wall_ms();
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < o.jobs; ++i) {
    workers.push_back(std::unique_ptr<Worker>(new Worker{ev::BarcodeDecoder(o.decoder), {}}));
  }
  std::vector<Outcome> outcomes(items.size());
  parallel_for(items.size(), o.jobs, [&](std::size_t i, int w) {
    outcomes[i] = evaluate(*workers[static_cast<std::size_t>(w)], items[i], o.references);
  });

  // zbarimg: PNG copies (it cannot open every format, nor names with '#') per set and
  // symbology.
  const bool zbar = o.references && zbar_available();
  if (zbar) {
    std::map<std::string, std::vector<std::size_t>> groups;
    for (std::size_t i = 0; i < items.size(); ++i) {
      groups[items[i].set + "-" + items[i].symbology].push_back(i);
    }
    for (const auto& [group, members] : groups) {
      const fs::path dir = work / "zbar" / group;
      fs::create_directories(dir);
      for (std::size_t i : members) {
        const cv::Mat img = cv::imread(items[i].file.string(), cv::IMREAD_COLOR);
        char name[32];
        std::snprintf(name, sizeof(name), "%05zu.png", i);
        if (!img.empty()) cv::imwrite((dir / name).string(), img, {cv::IMWRITE_PNG_COMPRESSION, 1});
      }
      const auto results = run_zbar(dir);
      for (std::size_t i : members) {
        char name[32];
        std::snprintf(name, sizeof(name), "%05zu.png", i);
        const auto it = results.find(name);
        if (it == results.end()) continue;
        const bool none = items[i].symbology == "none";
        const std::string want = none ? "" : want_key(items[i].symbology, items[i].want);
        for (const auto& [type, data] : it->second) {
          const std::string key = raw_key(type, data);
          if (!none && (key == want || same_text(key, want))) {
            outcomes[i].hit[3] = true;
          } else {
            ++outcomes[i].wrong[3];
          }
        }
      }
    }
  }
  const double wall_s = (wall_ms() - wall0) / 1000;

  std::map<std::string, std::map<std::string, Tally>> tallies;
  for (std::size_t i = 0; i < items.size(); ++i) {
    Tally& t = tallies[items[i].set][items[i].symbology];
    ++t.n;
    for (std::size_t e = 0; e < kEngines; ++e) {
      t.hits[e] += outcomes[i].hit[e];
      t.wrong[e] += outcomes[i].wrong[e];
    }
    t.ms.push_back(outcomes[i].chain_ms);
    if (o.verbose &&
        (items[i].symbology == "none" ? outcomes[i].wrong[0] > 0 : !outcomes[i].hit[0])) {
      std::cerr << "chain " << (items[i].symbology == "none" ? "false read" : "missed") << ": "
                << items[i].set << " " << items[i].name
                << (outcomes[i].hit[1] ? " [zxing-cpp read it]" : "")
                << (outcomes[i].hit[3] ? " [zbarimg read it]" : "")
                << " chain: " << (outcomes[i].chain_read.empty() ? "-" : outcomes[i].chain_read)
                << "\n";
    }
  }
  json result = json::object();
  out << "\n## Outside material: real photos and zint renders\n\n";
  for (const std::string& n : notes) out << "Note: " << n << ".\n\n";
  out << "| set | symbology | images | chain | zxing-cpp alone | OpenCV alone | zbarimg | chain "
         "wrong reads | chain CPU ms median / p95 |\n| --- | --- | --- | --- | --- | --- | --- | "
         "--- | --- |\n";
  auto cell = [&](const Tally& t, std::size_t e, bool applies) -> std::string {
    if (!applies) return "n/a";
    return std::to_string(t.hits[e]) + " (" + pct(t.hits[e], t.n) + ")";
  };
  for (const auto& [set, by_sym] : tallies) {
    Tally total;
    for (const auto& [sym, t] : by_sym) {
      const bool none = sym == "none";
      const bool opencv = o.references && (is_retail_name(sym) || none);
      const Summary s = summarize(t.ms);
      if (none) {
        out << "| " << set << " | no code (false reads) | " << t.n << " | " << t.wrong[0] << " | "
            << (o.references ? std::to_string(t.wrong[1]) : "n/a") << " | "
            << (opencv ? std::to_string(t.wrong[2]) : "n/a") << " | "
            << (zbar ? std::to_string(t.wrong[3]) : "n/a") << " | - | " << fmt(s.median) << " / "
            << fmt(s.p95) << " |\n";
      } else {
        out << "| " << set << " | " << sym << " | " << t.n << " | " << cell(t, 0, true) << " | "
            << cell(t, 1, o.references) << " | " << cell(t, 2, opencv) << " | " << cell(t, 3, zbar)
            << " | " << t.wrong[0] << " | " << fmt(s.median) << " / " << fmt(s.p95) << " |\n";
        total.n += t.n;
        for (std::size_t e = 0; e < kEngines; ++e) total.hits[e] += t.hits[e];
        total.ms.insert(total.ms.end(), t.ms.begin(), t.ms.end());
      }
      result[set][sym] = {{"n", t.n},
                          {"chain", t.hits[0]},
                          {"zxing", o.references ? json(t.hits[1]) : json(nullptr)},
                          {"opencv", opencv ? json(t.hits[2]) : json(nullptr)},
                          {"zbar", zbar ? json(t.hits[3]) : json(nullptr)},
                          {"chain_wrong", t.wrong[0]},
                          {"zxing_wrong", t.wrong[1]},
                          {"zbar_wrong", t.wrong[3]},
                          {"chain_ms_median", s.median},
                          {"chain_ms_p95", s.p95}};
    }
    const Summary s = summarize(total.ms);
    out << "| " << set << " | **all with a code** | " << total.n << " | " << cell(total, 0, true)
        << " | " << cell(total, 1, o.references) << " | - | " << cell(total, 3, zbar) << " | - | "
        << fmt(s.median) << " / " << fmt(s.p95) << " |\n";
  }
  out << "\nOpenCV alone reads EAN/UPC only (n/a elsewhere); zxing-cpp alone is one whole-image "
         "read with every format, try-harder, rotations and its downscale pyramid. "
      << items.size() << " images in " << fmt(wall_s, 0) << " s wall on " << o.jobs
      << " threads.\n";
  return result;
}

}  // namespace shopeasy::bench::vision
