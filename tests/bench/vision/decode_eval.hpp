// Decode rates of the decoder chain against zxing-cpp and OpenCV alone (and zbarimg on a
// sample of the same images) on generated scenes of every symbology at four levels,
// plus scenes without any code, plus the camera path's filters (two frames agree, the
// catalog knows the code) against wrong product codes.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "edge/vision/decoder.hpp"

namespace shopeasy::bench::vision {

struct DecodeEvalOptions {
  int per_set = 1000;   // images per symbology and level
  int blank = 1000;     // images without a code
  int zbar_every = 20;  // every n-th image is also given to zbarimg (0: never)
  int jobs = 2;
  std::uint32_t seed = 1;
  std::string work_dir;  // where zbarimg's sample is written
  bool verbose = false;  // each wrong read of the chain on stderr
  // Only these sets ("datamatrix", "qr:medium"); empty: all of them.
  std::vector<std::string> only;
  std::string misses_dir;
  edge::vision::DecoderOptions
      decoder;  // the chain's options  // when set, images the chain missed are written there
};

nlohmann::json run_decode_eval(const DecodeEvalOptions& options, std::ostream& out);

}  // namespace shopeasy::bench::vision
