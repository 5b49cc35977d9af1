// Decode rates on images the project did not generate, beside zxing-cpp alone, OpenCV
// alone and zbarimg, per symbology:
// - real photos: a directory with one folder per symbology (qrcode-*, datamatrix-*,
//   ean13-*, ean8-*, upca-*, upce-*, code128-*, falsepositives-*), each image
//   NAME.{webp,png,jpg} beside its expected text NAME.txt (or bytes NAME.bin);
//   falsepositives folders hold photos without a code, where every read is wrong;
// - codes rendered by zint at evaluation time (QR up to version 40, DataMatrix up to
//   144x144 and rectangular, GS1 and ISO 15434 payloads, EAN/UPC, Code 128, GS1-128) at
//   several scales, with and without quiet zones, turned by 0, 90 and 30 degrees.
#pragma once

#include <map>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "edge/vision/decoder.hpp"

namespace shopeasy::bench::vision {

struct OutsideEvalOptions {
  std::string samples_dir;  // real photos; empty or missing: that part is skipped
  bool photos = true;
  bool zint = true;        // skipped with a message when zint is not installed
  bool references = true;  // zxing-cpp alone, OpenCV alone and zbarimg beside the chain
  int jobs = 2;
  std::string work_dir;  // zint renders and PNG copies for zbarimg
  bool verbose = false;  // each image the chain missed or misread, on stderr
  edge::vision::DecoderOptions decoder;
};

// {"photos": {symbology: counts}, "zint": {...}} with counts
// {"n", "chain", "zxing", "opencv", "zbar", "chain_wrong", ...}; sets that could not be
// run are absent.
nlohmann::json run_outside_eval(const OutsideEvalOptions& options, std::ostream& out);

}  // namespace shopeasy::bench::vision
