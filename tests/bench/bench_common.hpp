// What every benchmark program shares: the daemon limits it lifts, and the rows it adds
// to the summary that scripts/bench-all.sh collects.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace shopeasy::bench {

// Settings the benchmarks pass to the daemons they start. A production limit that
// would throttle the benchmark's own client (the per-client HTTP rate limit answers
// 429 after 200 requests) measures the limiter, not the code under test.
inline std::vector<std::string> lifted_daemon_limits() { return {"--http.rate_limit_per_s=0"}; }

// Says once, on standard output, which limits are lifted.
inline void print_lifted_limits(const char* program) {
  std::printf(
      "%s: daemons run with limits lifted: http.rate_limit_per_s=0 (per-client HTTP "
      "rate limit off)\n",
      program);
}

// Appends one row (benchmark, figure, measured, baseline, ratio, target, verdict) to the
// tab-separated file named by SHOPEASY_BENCH_RESULTS, when that is set. scripts/bench-all.sh
// turns the rows of every benchmark into one table. Tabs and newlines in a cell become
// spaces.
inline void record_result(const std::string& benchmark, const std::string& figure,
                          const std::string& measured, const std::string& baseline,
                          const std::string& ratio, const std::string& target,
                          const std::string& verdict) {
  const char* path = std::getenv("SHOPEASY_BENCH_RESULTS");
  if (path == nullptr || *path == '\0') return;
  std::FILE* out = std::fopen(path, "a");
  if (out == nullptr) return;
  std::string line;
  for (const std::string* cell :
       {&benchmark, &figure, &measured, &baseline, &ratio, &target, &verdict}) {
    if (!line.empty()) line += '\t';
    for (char c : *cell) line += (c == '\t' || c == '\n' || c == '\r') ? ' ' : c;
  }
  line += '\n';
  std::fputs(line.c_str(), out);
  std::fclose(out);
}

}  // namespace shopeasy::bench
