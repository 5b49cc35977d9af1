// Starting the real edge daemon for the benchmark and talking to it: the command line
// (loopback, port 0, no broker, an admin token), one-off authenticated requests, the
// catalog upload and /metrics scrapes; and starting the hello-world baseline server. Requests use a
// fresh connection each, so they never disturb the measured clients.
#pragma once

#include <string>
#include <vector>

#include "common/status/status.hpp"
#include "tests/bench/inventory/bench_stats.hpp"
#include "tests/bench/inventory/catalog_gen.hpp"
#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::bench {

// The admin token the benchmark's daemons accept.
std::string bench_token();

// Starts shopeasy-edge on a free loopback port with its state in `state_dir`, MQTT off,
// `http_threads` workers and durable (synchronous=FULL) or not. Errors as
// testing::start_daemon.
StatusOr<testing::RunningDaemon> start_edge(const std::string& state_dir, int http_threads,
                                            bool durable);

// One authenticated request; returns the body of a 2xx answer. kUnavailable when the
// daemon does not answer, kInternal naming the status and body otherwise.
StatusOr<std::string> call_edge(int port, const std::string& method, const std::string& path,
                                const std::string& body = {}, const std::string& content_type = {});

// Creates the bins and uploads the catalog as CSV; kInternal unless every row applied.
Status load_catalog(int port, const std::vector<std::string>& bins,
                    const std::vector<BenchProduct>& catalog);

// The daemon's /metrics page, parsed.
StatusOr<PromPage> scrape_metrics(int port);

// A baseline hello-world server (see hello_server.hpp) running as a child process.
struct HelloServer {
  testing::ChildProcess process;
  int port = 0;
};

// Runs `self_exe` (this benchmark) as the hello server with `threads` workers, tuned or
// configured like the daemon. kUnavailable if it does not come up within 10 s.
StatusOr<HelloServer> start_hello_server(const std::string& self_exe, int threads, bool tuned);

}  // namespace shopeasy::bench
