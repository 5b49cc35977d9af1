// Measurement and reporting helpers for the sync benchmark: latency percentiles,
// reading samples out of a Prometheus text page (the daemons' /metrics), per-process
// CPU time from /proc, and the run's report, which prints every figure as it is
// measured and those with a target or a baseline again in a closing table.
// Pure functions and value types, except Report (one thread at a time).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status/status.hpp"

namespace shopeasy::syncbench {

// printf into a std::string.
std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// Nearest-rank percentiles of samples in milliseconds; all zero for no samples.
struct Percentiles {
  std::size_t count = 0;
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double max = 0;
  double mean = 0;
};
// Sorts `samples` in place.
Percentiles percentiles(std::vector<double>& samples);

// Seconds elapsed since `start` on the steady clock.
double seconds_since(std::chrono::steady_clock::time_point start);

// A Prometheus text exposition, kept by series text as rendered (`name` or
// `name{k="v",...}`) without the value. Lines that are not samples are skipped.
class PromPage {
 public:
  // Never fails.
  static PromPage parse(std::string_view text);
  // The value of one exact series; 0 when absent.
  double value(std::string_view series) const;
  // Sum over every series of metric `name` (any labels); 0 when none.
  double sum_of(std::string_view name) const;

 private:
  std::map<std::string, double, std::less<>> samples_;
};

// User + system CPU seconds a process has used; kNotFound when it is gone. pid 0 means
// this process (all its threads).
StatusOr<double> process_cpu_seconds(pid_t pid);
// CPU seconds of every live process in process group `pgid` (a daemon started by the
// harness runs in a group of its own); 0 when none is left.
double group_cpu_seconds(pid_t pgid);
// CPU seconds of process `pid`, of its children it has reaped and of its live direct
// children: a PostgreSQL server and its backends (which leave its process group).
double tree_cpu_seconds(pid_t pid);
// The scheduler's wake-up delay: how late `samples` 1 ms sleeps wake up, in ms. On a
// machine busy with other work this is what each hand-off between threads or
// processes costs.
Percentiles sleep_overshoot(int samples);
// The disk's commit latency: `samples` appends of 4 KiB to a file in `dir`, each made
// durable with fdatasync, as a database commit does; milliseconds. kUnavailable on I/O
// errors.
StatusOr<Percentiles> fdatasync_latency(const std::filesystem::path& dir, int samples);
// "1.23 0.98 0.71" from /proc/loadavg, or "?".
std::string load_average();

// What the run measured. figure() prints at once; summary() prints the table of the
// figures that carry a target or a baseline ratio.
class Report {
 public:
  // A phase banner with the command that reruns just this phase.
  void phase(const std::string& title, const std::string& command);
  // A free-form line under the current phase.
  void note(const std::string& text);
  // One figure. `target` is e.g. "< 30 s"; `met` is whether it was met (unset when the
  // figure has no target).
  void figure(const std::string& name, const std::string& value, const std::string& target = "",
              std::optional<bool> met = std::nullopt);
  // A figure without a target that still belongs in the closing table (a baseline or
  // a ratio against one).
  void key(const std::string& name, const std::string& value);
  // Prints the closing table: figures with a target or from key(), by phase.
  void summary() const;
  // False if any figure missed its target.
  bool all_met() const;

 private:
  struct Row {
    std::string phase;
    std::string name;
    std::string value;
    std::string target;
    std::optional<bool> met;
    bool in_summary = false;
  };
  std::string current_phase_;
  std::vector<Row> rows_;
};

}  // namespace shopeasy::syncbench
