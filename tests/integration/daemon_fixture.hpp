// Starting the project's daemons as real child processes for integration tests: each
// binds HTTP port 0 and logs the port it got in its "event=started" line, which is
// read back here, so tests never pick fixed ports.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/http/auth.hpp"
#include "tests/harness/harness.hpp"

namespace shopeasy::testing {

// A token every test daemon accepts, and its table entry for auth.tokens.
inline constexpr const char* kAdminToken = "test-admin-token";
std::string admin_tokens_json();

// A further token for a test's own users.
struct TestToken {
  std::string name;
  std::string role;
  std::string secret;
};
// The auth.tokens table: the admin token and `extra`.
std::string tokens_json(const std::vector<TestToken>& extra);
std::map<std::string, std::string> bearer(const std::string& token = kAdminToken);

struct RunningDaemon {
  ChildProcess process;
  int http_port = 0;
};

// Spawns `binary` (a name under the build's bin/) with `args` and `env`, and waits up
// to `timeout` for its started line. kDeadlineExceeded (with the daemon's output) if
// it never starts.
StatusOr<RunningDaemon> start_daemon(const std::string& binary, std::vector<std::string> args,
                                     std::map<std::string, std::string> env = {},
                                     std::chrono::milliseconds timeout = std::chrono::seconds(20));

// GET path on the daemon; nullopt if it does not answer.
std::optional<HttpReply> get(const RunningDaemon& d, const std::string& path,
                             const std::map<std::string, std::string>& headers = {});

// Waits until the edge's /health reports its MQTT subscriptions acknowledged by the
// broker (mqtt.subscribed). "connected" alone is not enough: the CONNACK comes before
// the SUBACK, and a message published in between never reaches the edge.
bool wait_edge_subscribed(const RunningDaemon& edge,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Starts `mosquitto_sub -d` (line-buffered through coreutils' stdbuf) on the broker at
// 127.0.0.1:`port` with `args` (topics, credentials, -C ...) and waits until the broker
// acknowledged its subscriptions (the debug output's SUBACK line), so anything published afterwards
// is delivered to it. The debug lines share stdout with the messages. kDeadlineExceeded (with the
// client's output) if no SUBACK arrives within `timeout`.
StatusOr<ChildProcess> start_subscriber(
    int port, const std::vector<std::string>& args,
    std::chrono::milliseconds timeout = std::chrono::seconds(10));

// What read_stream saw of a streamed (chunked) reply.
struct StreamRead {
  int status = 0;
  std::string body;    // de-chunked, as far as it was read
  bool ended = false;  // the server ended the stream (last chunk or close)
};

// GET `path` as a long-lived stream (Server-Sent Events) and read until `done(body so
// far)` holds, the server ends the stream or `timeout` passes; the connection is then
// closed. Unlike http_request it returns what arrived even while the stream stays open.
StreamRead read_stream(int port, const std::string& path,
                       const std::map<std::string, std::string>& headers,
                       const std::function<bool(const std::string&)>& done,
                       std::chrono::milliseconds timeout);

// Records `body`, what a stream of `path` read by another client (curl -sN) delivered
// with status 200, as read_stream records its own reads (SHOPEASY_RECORD_REPLIES), so the
// contract check sees those events too.
void record_stream(int port, const std::string& path, const std::string& body);

}  // namespace shopeasy::testing
