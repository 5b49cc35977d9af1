#include "tests/bench/vision/fuzz_eval.hpp"

#include <array>
#include <map>
#include <random>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "edge/vision/decoder.hpp"
#include "edge/vision/image_io.hpp"
#include "edge/vision/planogram.hpp"
#include "edge/vision/shelf_scanner.hpp"
#include "tests/bench/vision/eval_common.hpp"
#include "tools/vision-gen/scene.hpp"
#include "tools/vision-gen/shelf.hpp"

namespace shopeasy::bench::vision {
namespace {

namespace ev = edge::vision;

int uniform(std::mt19937& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}

cv::Mat noise(int h, int w, int type, std::mt19937& rng) {
  cv::Mat m(h, w, type);
  if (m.empty()) return m;
  cv::RNG r(rng());
  const int depth = CV_MAT_DEPTH(type);
  const double hi = depth == CV_32F ? 1e6 : depth == CV_16U ? 65536 : depth == CV_8S ? 127 : 256;
  r.fill(m, cv::RNG::UNIFORM, cv::Scalar::all(depth == CV_8S ? -128 : 0), cv::Scalar::all(hi));
  return m;
}

cv::Mat stripes(int h, int w, std::mt19937& rng) {
  cv::Mat m(h, w, CV_8UC1, cv::Scalar(uniform(rng, 150, 255)));
  int x = uniform(rng, 0, 20);
  while (x < w) {
    const int bar = uniform(rng, 1, 8);
    if (uniform(rng, 0, 1))
      cv::rectangle(m, cv::Rect(x, 0, bar, h), cv::Scalar(uniform(rng, 0, 90)), cv::FILLED);
    x += bar;
  }
  if (uniform(rng, 0, 1)) {
    cv::Mat rot =
        cv::getRotationMatrix2D(cv::Point2f(w / 2.0f, h / 2.0f), uniform(rng, 0, 359), 1.0);
    cv::warpAffine(m, m, rot, m.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  }
  return m;
}

cv::Mat damaged_code(std::mt19937& rng) {
  const auto& kinds = vision_gen::all_code_kinds();
  const auto kind =
      kinds[static_cast<std::size_t>(uniform(rng, 0, static_cast<int>(kinds.size()) - 1))];
  auto sym = vision_gen::encode(kind, vision_gen::random_content(kind, rng));
  vision_gen::SceneParams p =
      vision_gen::sample_scene_params(vision_gen::Difficulty::kExtreme, rng);
  p.scene = cv::Size(uniform(rng, 64, 640), uniform(rng, 64, 480));
  p.px_per_module = std::uniform_real_distribution<double>(0.4, 3.0)(rng);
  cv::Mat img = vision_gen::render_scene(*sym, p, rng, nullptr);
  for (int k = uniform(rng, 0, 6); k > 0; --k) {
    cv::rectangle(img,
                  cv::Rect(uniform(rng, 0, img.cols), uniform(rng, 0, img.rows),
                           uniform(rng, 2, 80), uniform(rng, 2, 80)),
                  cv::Scalar::all(uniform(rng, 0, 255)), cv::FILLED);
  }
  const cv::Rect part(uniform(rng, 0, img.cols / 2), uniform(rng, 0, img.rows / 2),
                      uniform(rng, 1, img.cols / 2), uniform(rng, 1, img.rows / 2));
  return uniform(rng, 0, 2) == 0 ? img(part & cv::Rect(0, 0, img.cols, img.rows)).clone() : img;
}

std::string corrupt_file(std::mt19937& rng) {
  static const std::array<const char*, 4> kExt = {".png", ".jpg", ".bmp", ".ppm"};
  const cv::Mat img = noise(uniform(rng, 1, 120), uniform(rng, 1, 120), CV_8UC3, rng);
  std::vector<std::uint8_t> buf;
  cv::imencode(kExt[static_cast<std::size_t>(uniform(rng, 0, 3))], img, buf);
  std::string b(buf.begin(), buf.end());
  switch (uniform(rng, 0, 4)) {
    case 0:
      b.resize(static_cast<std::size_t>(uniform(rng, 0, static_cast<int>(b.size()))));
      break;
    case 1:
      for (int k = uniform(rng, 1, 30); k > 0 && !b.empty(); --k) {
        b[static_cast<std::size_t>(uniform(rng, 0, static_cast<int>(b.size()) - 1))] =
            static_cast<char>(rng());
      }
      break;
    case 2:  // a header claiming an enormous size
      if (b.size() > 24 && b[1] == 'P') {
        for (int k = 16; k < 24; ++k) b[static_cast<std::size_t>(k)] = static_cast<char>(0x7f);
      }
      break;
    case 3:
      b = std::string(static_cast<std::size_t>(uniform(rng, 0, 64)), static_cast<char>(rng()));
      break;
    default:
      break;
  }
  return b;
}

nlohmann::json mutated_planogram(const nlohmann::json& valid, std::mt19937& rng) {
  nlohmann::json j = valid;
  auto& slots = j["slots"];
  switch (uniform(rng, 0, 7)) {
    case 0:
      slots[0]["polygon"][static_cast<std::size_t>(uniform(rng, 0, 3))] =
          nlohmann::json::array({uniform(rng, -5000, 5000), uniform(rng, -5000, 5000)});
      break;
    case 1:
      slots[1]["polygon"] = slots[0]["polygon"];
      break;
    case 2:
      slots = nlohmann::json::array();
      break;
    case 3:
      j["image"]["width"] = uniform(rng, -10, 100000);
      break;
    case 4:
      slots[0]["facings"] = uniform(rng, -3, 100);
      break;
    case 5:
      slots[0]["gtins"] = nlohmann::json::array({std::to_string(rng())});
      break;
    case 6:
      slots[0]["polygon"] = nlohmann::json::array();
      break;
    default:
      j = nlohmann::json::parse(j.dump().substr(0, static_cast<std::size_t>(uniform(rng, 0, 200))),
                                nullptr, false);
      break;
  }
  return j;
}

}  // namespace

nlohmann::json run_fuzz_eval(const FuzzEvalOptions& o, std::ostream& out) {
  ev::BarcodeDecoder decoder;
  // A small shelf for the scanner part.
  std::mt19937 srng(o.seed);
  vision_gen::ShelfSpec spec;
  spec.image = cv::Size(640, 360);
  spec.rows = 2;
  spec.slots_per_row = 3;
  const vision_gen::ShelfLayout layout = vision_gen::make_shelf_layout(spec, srng);
  const vision_gen::CameraView identity;
  const cv::Mat full =
      vision_gen::render_shelf(layout, vision_gen::full_state(layout), identity, srng);
  const cv::Mat empty =
      vision_gen::render_shelf(layout, vision_gen::empty_state(layout), identity, srng);
  const nlohmann::json plan_json = vision_gen::shelf_planogram(layout, "fuzz", "f", "e");
  auto plan = ev::parse_planogram(plan_json);
  auto scanner = ev::ShelfScanner::create_from_images(*plan, full, empty);
  if (!scanner.ok()) {
    out << "fuzz: cannot build the shelf scanner: " << scanner.status().to_string() << "\n";
    return {{"error", "setup"}};
  }
  std::map<std::string, int> outcomes;
  int library_errors = 0;
  int codes = 0;
  const double wall0 = wall_ms();
  for (int i = 0; i < o.inputs; ++i) {
    std::mt19937 rng(o.seed * 1000003u + static_cast<std::uint32_t>(i));
    cv::Mat img;
    const int category = i % 10;
    switch (category) {
      case 0: {
        static const std::array<int, 7> kTypes = {CV_8UC1,  CV_8UC3,  CV_8UC4, CV_8UC2,
                                                  CV_16UC1, CV_32FC1, CV_8SC1};
        img = noise(uniform(rng, 0, 300), uniform(rng, 0, 300),
                    kTypes[static_cast<std::size_t>(uniform(rng, 0, 6))], rng);
        break;
      }
      case 1: {
        const int side = uniform(rng, 30, 70);
        img = uniform(rng, 0, 1) ? stripes(side, uniform(rng, side, 400), rng)
                                 : noise(uniform(rng, side, 300), side,
                                         uniform(rng, 0, 1) ? CV_8UC1 : CV_8UC3, rng);
        if (uniform(rng, 0, 3) == 0) img.setTo(cv::Scalar::all(uniform(rng, 0, 255)));
        break;
      }
      case 2:
        img = stripes(uniform(rng, 16, 600), uniform(rng, 16, 800), rng);
        break;
      case 3:
        img = damaged_code(rng);
        break;
      case 4: {
        const int cells = uniform(rng, 4, 60);
        cv::Mat m = noise(cells, cells, CV_8UC1, rng) > 127;
        cv::resize(m, img, cv::Size(), uniform(rng, 1, 8), uniform(rng, 1, 8), cv::INTER_NEAREST);
        break;
      }
      case 5:
        switch (uniform(rng, 0, 4)) {
          case 0:
            img = cv::Mat(uniform(rng, 16, 400), uniform(rng, 16, 400), CV_8UC1, cv::Scalar(0));
            break;
          case 1:
            img = cv::Mat(uniform(rng, 16, 400), uniform(rng, 16, 400), CV_8UC3,
                          cv::Scalar::all(255));
            break;
          case 2: {
            img = cv::Mat(uniform(rng, 16, 200), uniform(rng, 16, 400), CV_8UC1, cv::Scalar(0));
            for (int x = 0; x < img.cols; x += 2) img.col(x).setTo(255);
            break;
          }
          case 3:
            img = noise(16, uniform(rng, 1000, 4000), CV_8UC1, rng);
            break;
          default:
            img = noise(uniform(rng, 1000, 4000), 16, CV_8UC1, rng);
            break;
        }
        break;
      case 6: {
        const cv::Mat big = noise(300, 400, CV_8UC3, rng);
        img = big(cv::Rect(uniform(rng, 0, 100), uniform(rng, 0, 100), uniform(rng, 1, 300),
                           uniform(rng, 1, 200)));
        break;
      }
      case 7: {
        auto decoded = ev::decode_image(corrupt_file(rng), ev::ImageLimits{});
        ++outcomes[decoded.ok() ? "file_read" : "file_refused"];
        if (decoded.ok()) img = *decoded;
        break;
      }
      case 8: {
        cv::Mat frame;
        switch (uniform(rng, 0, 3)) {
          case 0:
            frame = noise(360, 640, CV_8UC3, rng);
            break;
          case 1: {
            vision_gen::CameraView v = vision_gen::random_view(rng, 200, 1.0);
            v.rotation_deg *= 10;
            frame = vision_gen::render_shelf(layout, vision_gen::random_state(layout, rng), v, rng);
            break;
          }
          case 2:
            frame = cv::Mat(360, 640, CV_8UC3, cv::Scalar::all(uniform(rng, 0, 255)));
            break;
          default:
            frame = noise(uniform(rng, 1, 720), uniform(rng, 1, 1280), CV_8UC3, rng);
            break;
        }
        auto scan = (*scanner)->scan(frame, 0);
        ++outcomes[scan.ok() ? (scan->registered ? "shelf_registered" : "shelf_unregistered")
                             : "shelf_refused"];
        continue;
      }
      default: {
        if (uniform(rng, 0, 1)) {
          auto p = ev::parse_planogram(mutated_planogram(plan_json, rng));
          ++outcomes[p.ok() ? "planogram_ok" : "planogram_refused"];
          continue;
        }
        ev::ImageLimits tight;
        tight.max_side = uniform(rng, 16, 200);
        ev::DecoderOptions opts;
        opts.limits = tight;
        ev::BarcodeDecoder limited(opts);
        auto r =
            limited.decode(noise(uniform(rng, 100, 400), uniform(rng, 100, 400), CV_8UC1, rng));
        ++outcomes[r.ok() ? "decoded" : "refused"];
        continue;
      }
    }
    if (category == 7 && img.empty()) continue;
    ev::DecodeStats stats;
    auto r = decoder.decode(img, &stats);
    ++outcomes[r.ok() ? "decoded" : "refused"];
    library_errors += stats.library_errors;
    if (r.ok()) codes += static_cast<int>(r->size());
  }
  out << "\n## Degenerate input (" << o.inputs
      << " inputs)\n\n| outcome | count |\n| --- | --- |\n";
  nlohmann::json j = {
      {"inputs", o.inputs}, {"library_errors_caught", library_errors}, {"codes", codes}};
  for (const auto& [k, v] : outcomes) {
    out << "| " << k << " | " << v << " |\n";
    j["outcomes"][k] = v;
  }
  out << "| library errors caught (exceptions, assertions) | " << library_errors << " |\n"
      << "| codes read (damaged real codes) | " << codes << " |\n"
      << "\nNo crash: all " << o.inputs << " inputs processed in "
      << fmt((wall_ms() - wall0) / 1000, 0) << " s.\n";
  return j;
}

}  // namespace shopeasy::bench::vision
