// Degenerate and hostile input for the decoder, the image reader, the planogram parser
// and the shelf scanner: empty, tiny, huge, oddly typed and strided images, noise,
// stripes and damaged codes, sizes that trip OpenCV's barcode detector, corrupted and
// truncated image files, mutated planograms and unrelated frames. Meant for an
// AddressSanitizer + UBSan build: surviving every input, with no report, is the result.
#pragma once

#include <cstdint>
#include <ostream>

#include <nlohmann/json.hpp>

namespace shopeasy::bench::vision {

struct FuzzEvalOptions {
  int inputs = 10000;
  std::uint32_t seed = 9;
};

nlohmann::json run_fuzz_eval(const FuzzEvalOptions& options, std::ostream& out);

}  // namespace shopeasy::bench::vision
