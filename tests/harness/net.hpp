// Loopback networking helpers for tests: picking a free TCP port, connecting with a
// deadline, and waiting until a server accepts connections.
#pragma once

#include <chrono>
#include <string>

#include "common/status/status.hpp"
#include "tests/harness/unique_fd.hpp"

namespace shopeasy::testing {

// Returns a TCP port that was free on 127.0.0.1 a moment ago (binds port 0, reads the
// port the kernel chose, closes), or 0 if no socket could be bound. Racy by nature:
// another process may take the port before the caller binds it. Prefer letting the
// server under test bind port 0 itself and report its port; use this only where a port
// must be chosen up front (e.g. a broker that is restarted on the same port).
int free_tcp_port();

// Opens a TCP connection to host:port (a numeric address or a resolvable name) within
// `timeout`. The returned socket is non-blocking and close-on-exec. kInvalidArgument for
// a port outside 1..65535, kUnavailable when refused/unresolvable, kDeadlineExceeded on
// timeout.
StatusOr<UniqueFd> connect_tcp(const std::string& host, int port,
                               std::chrono::milliseconds timeout);

// Polls until a TCP connection to host:port succeeds (the probe connection is closed
// at once) or `timeout` passes. Returns false on timeout or an invalid port.
bool wait_for_tcp(const std::string& host, int port, std::chrono::milliseconds timeout);

}  // namespace shopeasy::testing
