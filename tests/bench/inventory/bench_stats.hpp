// Small measurement helpers shared by the inventory benchmark's phases: latency
// percentiles, reading figures out of a Prometheus text page (the daemon's /metrics),
// per-process CPU time and memory from /proc, and a plain-text results table.
// Everything here is a pure function or a value type; thread-safety is that of the
// standard containers involved.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status/status.hpp"

namespace shopeasy::bench {

// Percentiles of a set of latencies, in milliseconds. Empty input gives all zeros.
struct LatencySummary {
  std::size_t count = 0;
  double mean_ms = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
};

// Nearest-rank percentiles of `micros` (latencies in microseconds); sorts it in place.
LatencySummary summarize_latencies(std::vector<double>& micros);

// One histogram from a Prometheus text page: cumulative bucket counts by upper bound
// (the last bound is +Inf), plus _sum and _count.
struct PromHistogram {
  std::vector<double> bounds;
  std::vector<double> cumulative;
  double sum = 0;
  double count = 0;

  // The mean observation (sum / count), 0 when empty.
  double mean() const;
  // Estimates quantile q (0..1) by linear interpolation inside the bucket that holds
  // it, as Prometheus' histogram_quantile does. 0 when empty; the highest finite
  // bound when the quantile falls in the +Inf bucket.
  double quantile(double q) const;
  // The share of observations at or below `bound`, which must be one of the bucket
  // bounds (else the share below the next lower bound). 0 when empty.
  double share_at_most(double bound) const;
  // What was observed between `earlier` and this snapshot of the same histogram.
  PromHistogram minus(const PromHistogram& earlier) const;
};

// A parsed Prometheus text exposition (version 0.0.4). Lines are kept by their series
// text as rendered, without the value: `name` or `name{k="v",...}`.
class PromPage {
 public:
  // Never fails: lines that are not samples are skipped.
  static PromPage parse(std::string_view text);

  // The value of an exact series ("edge_store_batch_writes_count"), if present.
  std::optional<double> value(std::string_view series) const;
  // Sum over every series of metric `name` whose labels contain all of `label_filter`
  // (each "k=\"v\"" text), e.g. all result labels of a counter. 0 when none match.
  double sum_of(std::string_view name, std::vector<std::string> label_filter = {}) const;
  // The histogram `name` with exactly the labels `labels` (as rendered, e.g.
  // `route="/api/stock"`; empty for an unlabelled one). kNotFound if the page has no
  // _count for it.
  StatusOr<PromHistogram> histogram(std::string_view name, std::string_view labels = {}) const;

 private:
  std::map<std::string, double, std::less<>> samples_;
};

// CPU time (user + system) a process has used so far, in seconds; kNotFound if the
// process is gone. pid 0 means this process.
StatusOr<double> process_cpu_seconds(pid_t pid);

// Memory figures from /proc/<pid>/status, in KiB.
struct ProcessMemory {
  std::int64_t vm_rss_kib = 0;
  std::int64_t rss_anon_kib = 0;
  std::int64_t rss_file_kib = 0;
  std::int64_t vm_hwm_kib = 0;  // peak resident set
};
// kNotFound if the process is gone, kInternal if the file lacks the fields.
StatusOr<ProcessMemory> process_memory(pid_t pid);

// What one fdatasync costs on the disk holding `dir`, over `rounds` 4 KiB writes: the
// floor under a durable commit's latency. `overwrite` rewrites blocks of a file that
// is already allocated and synced (as SQLite does once its WAL is recycled); otherwise
// each write appends, so each sync also commits the file's new size. kUnavailable
// when the file cannot be written.
StatusOr<LatencySummary> probe_fdatasync(const std::string& dir, int rounds, bool overwrite);

// The machine's load averages over 1, 5 and 15 minutes, as /proc/loadavg shows them.
std::string load_averages();

// A results table printed with aligned columns.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  // Rows shorter than the header are padded with empty cells.
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string render() const;
  const std::vector<std::vector<std::string>>& rows() const { return rows_; }

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// printf("%.*f") into a std::string.
std::string fixed(double value, int decimals);

}  // namespace shopeasy::bench
