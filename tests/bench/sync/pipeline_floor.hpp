// The sync pipeline taken apart, in this process and on one thread: every step a
// change goes through between the edge's outbox and the cloud's replica, timed on its
// own over a sample outbox, with the real code where it is callable (the wire decoder,
// CloudStore::apply_batch on an embedded store) and faithful copies of the rest (the
// edge's outbox read and acknowledgement write, the SyncClient's batch building, the
// HTTP client's gzip). The sum is the serial CPU floor of a drain without HTTP, which
// shows where a drain's time goes and what overlapping edge and cloud work would gain.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/status/status.hpp"

namespace shopeasy::syncbench {

struct PipelineStep {
  std::string name;
  double cpu_s = 0;   // for the whole sample
  double wall_s = 0;  // including waits (fsync)
  bool edge = false;  // which side does it in a real drain
};

struct PipelineFloor {
  std::int64_t changes = 0;
  std::vector<PipelineStep> steps;
  std::int64_t gzip_bytes = 0;
  std::int64_t gzip_fast_bytes = 0;  // at zlib level 1 instead of the default
};

// Runs the steps over the events of `outbox_db` (a filled edge database, which is
// changed: acknowledged events are deleted as the edge trims them) in batches of
// `batch`; `scratch` is a directory for the cloud store. Errors: kUnavailable for
// SQLite failures, kInternal when the real decoder or store refuses a batch.
StatusOr<PipelineFloor> measure_pipeline(const std::filesystem::path& outbox_db,
                                         const std::filesystem::path& scratch,
                                         const std::string& store_id, int batch);

}  // namespace shopeasy::syncbench
