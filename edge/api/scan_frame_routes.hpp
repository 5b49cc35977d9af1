// POST /api/scan-frames: one camera frame (JPEG or PNG) from a signed-in picker's
// handheld, read by the edge's own decoder chain (edge/vision), answered with the codes
// in it. The page sends frames from getUserMedia a few times a second, so no barcode
// decoder runs in the browser and every device reads codes the same way the store's
// fixed cameras do.
#pragma once

#include <cstddef>

#include "common/clock/clock.hpp"
#include "common/http/server.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"

namespace shopeasy::edge::api {

struct ScanFrameOptions {
  // Encoded bytes per frame: a 1280x720 JPEG from a phone is 100-300 KB. Frames above
  // the HTTP server's own body limit never reach the route.
  std::size_t max_bytes = 1u << 20;
  // Decoded size: a small PNG can expand to a huge bitmap, so pixels are capped too.
  int max_side = 4096;
  long long max_pixels = 4096LL * 3072;
};

// Registers the route (roles picker, manager, admin). Frames are decoded one at a time:
// the decoder is not thread-safe, and a store box with two cores must not spend both
// on camera frames. `clock` times each decode (and must outlive the server).
void register_scan_frame_routes(http::HttpServer& server, const ScanFrameOptions& options,
                                log::Logger logger, metrics::Registry& metrics,
                                const Clock& clock = real_clock());

}  // namespace shopeasy::edge::api
