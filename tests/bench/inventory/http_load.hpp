// A closed-loop HTTP load generator: N client threads, each with its own keep-alive
// connection, send requests back to back for a fixed time (or count) and record the
// latency of every answer. The same code drives the daemon under test and the
// baselines, so their figures are comparable.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <random>
#include <string>

#include "common/status/status.hpp"
#include "tests/bench/inventory/bench_stats.hpp"

namespace shopeasy::bench {

// One request to send.
struct HttpCall {
  std::string method = "GET";  // GET or POST
  std::string path;
  std::string body;          // POST only
  std::string content_type;  // POST only
};

// Builds request number `seq` of client `client`; `rng` is that client's own generator
// (seeded from LoadSpec::seed and the client number). Called on the client's thread.
using CallMaker = std::function<HttpCall(int client, std::uint64_t seq, std::mt19937_64& rng)>;

struct LoadSpec {
  std::string host = "127.0.0.1";
  int port = 0;
  int clients = 1;
  // Requests sent during warmup are not measured.
  std::chrono::milliseconds warmup{500};
  // How long to measure; also the bound when max_requests is set.
  std::chrono::milliseconds duration{5000};
  // Stops after this many measured requests (over all clients); 0: no limit.
  std::uint64_t max_requests = 0;
  std::string bearer_token;  // sent as Authorization: Bearer when non-empty
  std::uint64_t seed = 1;
  CallMaker make_call;
};

struct LoadResult {
  std::uint64_t ok = 0;      // 2xx answers in the measured window
  std::uint64_t failed = 0;  // other answers and transport errors
  std::string first_error;   // what the first failure was, for the report
  double seconds = 0;        // length of the measured window
  LatencySummary latency;    // of the 2xx answers

  double rate() const { return seconds > 0 ? static_cast<double>(ok) / seconds : 0.0; }
};

// Runs the load and returns what was measured. kInvalidArgument for a spec without a
// port, clients or make_call. Failures of individual requests are counted, not
// returned; a client that sees 100 transport errors in a row gives up.
StatusOr<LoadResult> run_load(const LoadSpec& spec);

}  // namespace shopeasy::bench
