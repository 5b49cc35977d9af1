// ChildProcess: a program started by a test (a daemon under test, a broker, a CLI
// client) with its stdout and stderr captured. The child runs in its own process group
// with stdin on /dev/null; a reader thread collects its output so a test can wait for a
// line ("listening on") and print everything on failure. Whatever happens to the test,
// destruction SIGKILLs the whole group and reaps the child, so nothing outlives it.
//
// Exit statuses are reported as the exit code (0..255) for a normal exit and as the
// negated signal number for death by signal (-9 for SIGKILL, -15 for SIGTERM).
// Output accessors are thread-safe; everything else is for one thread at a time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status/status.hpp"

namespace shopeasy::testing {

// Status reported when the child was reaped by someone else (SIGCHLD ignored), so its
// real exit status could not be learned.
inline constexpr int kExitStatusUnknown = std::numeric_limits<int>::min();

// Meant for designated initializers: ChildProcess::spawn({.argv = {"sleep", "1"}}).
struct SpawnOptions {
  // argv[0] is the program; without a '/', it is searched in the test process's PATH.
  std::vector<std::string> argv{};
  // Set in the child on top of (and overriding) the test process's environment.
  std::map<std::string, std::string> env{};
  // Directory the child starts in; empty keeps the test's working directory.
  std::filesystem::path working_dir{};
  // If set, everything the child prints is also appended to this file (handy with
  // SHOPEASY_KEEP_TEST_DIRS=1 to look at logs after the run).
  std::filesystem::path log_file{};
};

class ChildProcess {
 public:
  // Starts the program. kInvalidArgument for an empty argv, kNotFound if the program
  // does not exist, kUnavailable for other spawn failures (all messages name argv[0]).
  static StatusOr<ChildProcess> spawn(SpawnOptions options);

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // SIGKILLs the process group if the child is still running, reaps it and joins the
  // output reader.
  ~ChildProcess();

  // The child's pid (also its process group id); -1 for a moved-from object. Stays the
  // same after exit, but signalling it then is the caller's risk (pid reuse).
  pid_t pid() const;
  const std::vector<std::string>& argv() const;

  // True while the child has not exited. Reaps it (see wait_exit) when it has.
  bool is_running();
  // Sends `sig` to the child itself (not its group). kFailedPrecondition once the child
  // has exited: the pid may already belong to someone else.
  Status send_signal(int sig);
  // SIGKILLs the whole group and reaps the child; returns its exit status (-9 unless it
  // had already exited) or nullopt if it could not be reaped within 10 s.
  std::optional<int> kill9();
  // SIGTERM to the child, waits up to `grace`, then SIGKILL to the group. Returns the
  // exit status (-15 or the code of a clean shutdown; -9 if it had to be killed), or
  // nullopt if it could not be reaped at all.
  std::optional<int> terminate_and_wait(std::chrono::milliseconds grace);
  // Waits up to `timeout` for the child to exit. On exit, processes it left behind in its
  // group are killed and its output is drained, so output() is complete afterwards.
  // Returns the exit status, or nullopt if it is still running.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  // The exit status if the child has been reaped, without waiting.
  std::optional<int> exit_status() const;

  // Waits until `needle` appears in stdout or stderr. False on timeout or when the
  // output ended without it. Thread-safe.
  bool wait_for_output(std::string_view needle, std::chrono::milliseconds timeout) const;
  // Waits until a whole line (ended by a newline) of stdout or stderr contains `needle`
  // and returns that line without its newline; nullopt on timeout or when the output
  // ended first. Unlike wait_for_output, what follows the needle on its line is there to
  // read: a pipe may hand a line over in pieces. Thread-safe.
  std::optional<std::string> wait_for_line(std::string_view needle,
                                           std::chrono::milliseconds timeout) const;
  // Captured output so far: stdout and stderr interleaved in arrival order, and each
  // alone. Thread-safe.
  std::string output() const;
  std::string stdout_text() const;
  std::string stderr_text() const;
  // A multi-line description for failure messages: command line, pid, exit status and
  // the captured output. Thread-safe.
  std::string describe() const;

 private:
  struct State;
  explicit ChildProcess(std::unique_ptr<State> state);
  // Non-blocking: reaps the child if it has exited. True once reaped.
  bool try_reap();
  void destroy() noexcept;

  std::unique_ptr<State> state_;
};

}  // namespace shopeasy::testing
