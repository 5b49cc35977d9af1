// Fixtures shared by the vision tests: generated code scenes and small shelves.
#pragma once

#include <random>
#include <string>

#include <ZXing/BarcodeFormat.h>
#include <ZXing/BitMatrix.h>
#include <ZXing/MultiFormatWriter.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "tools/vision-gen/encoders.hpp"
#include "tools/vision-gen/scene.hpp"
#include "tools/vision-gen/shelf.hpp"

namespace shopeasy::edge::vision::testing {

// A clean scene (480x360) with one code of `kind` holding `content`.
inline cv::Mat code_scene(vision_gen::CodeKind kind, const std::string& content,
                          std::uint32_t seed = 1, double px_per_module = 3.0) {
  std::mt19937 rng(seed);
  auto sym = vision_gen::encode(kind, content);
  if (!sym.ok()) return {};
  vision_gen::SceneParams p;
  p.scene = cv::Size(480, 360);
  p.px_per_module = px_per_module;
  p.noise_sigma = 1.5;
  return vision_gen::render_scene(*sym, p, rng, nullptr);
}

// A QR code or DataMatrix holding any bytes (the generator takes printable ASCII only),
// drawn black on white at `px_per_module` with a quiet zone of `quiet` modules: large
// modules on a plain background, the code filling the frame. Empty if it cannot be
// encoded.
inline cv::Mat plain_matrix_code(bool qr, const std::string& content, int px_per_module,
                                 int quiet) {
  try {
    ZXing::MultiFormatWriter writer(qr ? ZXing::BarcodeFormat::QRCode
                                       : ZXing::BarcodeFormat::DataMatrix);
    writer.setMargin(0);
    const ZXing::BitMatrix m = writer.encode(content, 1, 1);
    cv::Mat img(m.height() + 2 * quiet, m.width() + 2 * quiet, CV_8UC1, cv::Scalar(255));
    for (int y = 0; y < m.height(); ++y) {
      for (int x = 0; x < m.width(); ++x) {
        if (m.get(x, y)) img.at<std::uint8_t>(y + quiet, x + quiet) = 0;
      }
    }
    cv::resize(img, img, cv::Size(), px_per_module, px_per_module, cv::INTER_NEAREST);
    return img;
  } catch (const std::exception&) {
    return {};
  }
}

// A small shelf (960x540, 2 rows of 4 slots) with its references and planogram.
struct SmallShelf {
  vision_gen::ShelfLayout layout;
  cv::Mat full;
  cv::Mat empty;
  nlohmann::json planogram;
};

inline SmallShelf small_shelf(std::uint32_t seed) {
  std::mt19937 rng(seed);
  vision_gen::ShelfSpec spec;
  spec.image = cv::Size(960, 540);
  spec.rows = 2;
  spec.slots_per_row = 4;
  SmallShelf s;
  s.layout = vision_gen::make_shelf_layout(spec, rng);
  const vision_gen::CameraView identity;
  s.full = vision_gen::render_shelf(s.layout, vision_gen::full_state(s.layout), identity, rng);
  s.empty = vision_gen::render_shelf(s.layout, vision_gen::empty_state(s.layout), identity, rng);
  s.planogram = vision_gen::shelf_planogram(s.layout, "cam1", "full.png", "empty.png");
  return s;
}

}  // namespace shopeasy::edge::vision::testing
