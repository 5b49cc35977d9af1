// The benchmark's own MQTT clients, run as child processes of the benchmark so their
// CPU and memory are not counted against the pipeline under test:
//  - a publisher fleet: K libmosquitto connections, each publishing the telemetry of its
//    share of N runners as fast as the broker takes it (plausible moving fixes);
//  - a raw subscriber: one libmosquitto connection on runners/+/telemetry that only
//    counts, the best any client of this library can do.
#pragma once

#include <cstdint>
#include <string>

namespace shopeasy::bench {

struct PublisherArgs {
  std::string host = "127.0.0.1";
  int port = 1883;
  int runners = 2000;
  std::int64_t messages = 1'000'000;  // in total, over all connections
  int connections = 4;
};

// Prints "published=<n> seconds=<s>" and returns 0, or prints an error and returns 1.
int run_publishers(const PublisherArgs& args);

// Prints "ready" once subscribed, then "rawsub received=<n> first_ns=<t> last_ns=<t>"
// (CLOCK_MONOTONIC) after `expect` messages or `idle_ms` without one after the first.
int run_raw_subscriber(const std::string& host, int port, std::int64_t expect, int idle_ms);

// "bench-00042"
std::string runner_name(int i);
// The telemetry payload of runner i's j-th message: ~190 bytes, moving 4 m per message,
// device time `base_ms + j * 1000`.
int format_telemetry(char* buf, std::size_t size, int runner, std::int64_t j, std::int64_t base_ms);

}  // namespace shopeasy::bench
