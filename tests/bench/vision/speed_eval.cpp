#include "tests/bench/vision/speed_eval.hpp"

#include <vector>

#include "edge/vision/decoder.hpp"
#include "tests/bench/vision/eval_common.hpp"
#include "tools/vision-gen/scene.hpp"

namespace shopeasy::bench::vision {

nlohmann::json run_speed_eval(const SpeedEvalOptions& o, std::ostream& out) {
  edge::vision::BarcodeDecoder decoder(o.decoder);
  std::vector<double> with_code;
  std::vector<double> wall_with_code;
  std::vector<double> without;
  int read = 0;
  const auto& kinds = vision_gen::all_code_kinds();
  for (int i = 0; i < o.frames + o.blank; ++i) {
    std::mt19937 rng(o.seed * 977u + static_cast<std::uint32_t>(i));
    vision_gen::SceneParams p = sample_scene_params(vision_gen::Difficulty::kMedium, rng);
    p.scene = cv::Size(1920, 1080);
    cv::Mat frame;
    const bool code = i < o.frames;
    vision_gen::CodeKind kind = kinds[static_cast<std::size_t>(i) % kinds.size()];
    std::string content;
    if (code) {
      auto sym = vision_gen::encode(kind, vision_gen::random_content(kind, rng));
      content = sym->content;
      frame = vision_gen::render_scene(*sym, p, rng, nullptr);
    } else {
      frame = vision_gen::render_blank_scene(p, rng);
    }
    const double w0 = wall_ms();
    const double t0 = thread_cpu_ms();
    auto found = decoder.decode(frame);
    const double cpu = thread_cpu_ms() - t0;
    const double wall = wall_ms() - w0;
    if (code) {
      with_code.push_back(cpu);
      wall_with_code.push_back(wall);
      const std::string want = expected_key(kind, content);
      for (const auto& d : *found) {
        if ((is_retail(kind) ? d.gtin14 : d.text) == want) {
          ++read;
          break;
        }
      }
    } else {
      without.push_back(cpu);
    }
  }
  const Summary a = summarize(with_code);
  const Summary w = summarize(wall_with_code);
  const Summary b = summarize(without);
  out << "\n## Decoder chain speed, 1920x1080 frames, one thread\n\n"
      << "| frames | n | CPU median ms | CPU p95 ms | CPU max ms | wall median ms | read |\n"
      << "| --- | --- | --- | --- | --- | --- | --- |\n"
      << "| one code (medium level, all symbologies) | " << a.n << " | " << fmt(a.median) << " | "
      << fmt(a.p95) << " | " << fmt(a.max) << " | " << fmt(w.median) << " | " << pct(read, a.n)
      << " |\n"
      << "| no code | " << b.n << " | " << fmt(b.median) << " | " << fmt(b.p95) << " | "
      << fmt(b.max) << " | - | - |\n"
      << "\nTargets: median <= 15 ms, p95 <= 40 ms.\n";
  return {{"with_code",
           {{"n", a.n},
            {"median_ms", a.median},
            {"p95_ms", a.p95},
            {"max_ms", a.max},
            {"wall_median_ms", w.median}}},
          {"without_code",
           {{"n", b.n}, {"median_ms", b.median}, {"p95_ms", b.p95}, {"max_ms", b.max}}}};
}

}  // namespace shopeasy::bench::vision
