// Linked into every test program: process-wide settings a test binary needs before any
// test runs.
#include <csignal>

namespace {

// A test talking to a daemon that hangs up (a TLS client writing to a closed
// connection, a refused upload) gets EPIPE, as the daemons do (common/service ignores
// SIGPIPE), instead of being killed by the signal mid-suite.
const bool kSigpipeIgnored = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();

}  // namespace
