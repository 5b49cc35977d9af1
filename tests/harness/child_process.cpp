#include "tests/harness/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <sstream>
#include <system_error>
#include <thread>

#include "tests/harness/unique_fd.hpp"
#include "tests/harness/wait.hpp"

namespace shopeasy::testing {
namespace {

using std::chrono_literals::operator""ms;
using std::chrono_literals::operator""s;

// How long to wait for the pipes to reach EOF once the whole group is dead. Only a
// process that escaped the group (double fork plus setpgid) can keep them open longer.
constexpr std::chrono::milliseconds kDrainTimeout = 2s;
// How long kill9/terminate_and_wait wait for the kernel to deliver SIGKILL and let
// the child be reaped.
constexpr std::chrono::milliseconds kReapTimeout = 10s;

struct FileActions {
  posix_spawn_file_actions_t actions;
  FileActions() { posix_spawn_file_actions_init(&actions); }
  ~FileActions() { posix_spawn_file_actions_destroy(&actions); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
};

struct SpawnAttr {
  posix_spawnattr_t attr;
  SpawnAttr() { posix_spawnattr_init(&attr); }
  ~SpawnAttr() { posix_spawnattr_destroy(&attr); }
  SpawnAttr(const SpawnAttr&) = delete;
  SpawnAttr& operator=(const SpawnAttr&) = delete;
};

Status make_pipe(UniqueFd& read_end, UniqueFd& write_end) {
  int fds[2];
  // Close-on-exec so concurrently spawned children never inherit our pipe ends.
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return unavailable(std::string("pipe2: ") + std::strerror(errno));
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
  return Status::ok();
}

std::vector<std::string> build_environment(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view kv(*entry);
    std::string_view key = kv.substr(0, kv.find('='));
    if (extra.count(std::string(key)) == 0) env.emplace_back(kv);
  }
  for (const auto& [key, value] : extra) env.push_back(key + "=" + value);
  return env;
}

std::vector<char*> as_c_array(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

int decode_wait_status(int wstatus) {
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return -WTERMSIG(wstatus);
  return kExitStatusUnknown;
}

void write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // A broken log file must not stop output capture.
    data += n;
    size -= static_cast<size_t>(n);
  }
}

std::string join_command(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& arg : argv) {
    if (!out.empty()) out += ' ';
    if (arg.empty() || arg.find_first_of(" \t\n'\"") != std::string::npos) {
      out += '\'' + arg + '\'';
    } else {
      out += arg;
    }
  }
  return out;
}

}  // namespace

struct ChildProcess::State {
  std::vector<std::string> argv;
  pid_t pid = -1;
  bool reaped = false;  // Touched only by the owning thread.
  // Writing to wake_write makes the reader stop early. Both ends live as long as the
  // State, so the write can never hit a closed pipe.
  UniqueFd wake_read;
  UniqueFd wake_write;
  std::thread reader;

  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  std::string combined;
  std::string out;
  std::string err;
  bool output_closed = false;
  std::optional<int> status;

  void append(bool is_stdout, const char* data, size_t size) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      combined.append(data, size);
      (is_stdout ? out : err).append(data, size);
    }
    changed.notify_all();
  }

  void read_loop(UniqueFd out_fd, UniqueFd err_fd, UniqueFd log_fd) {
    char buffer[8192];
    while (out_fd.valid() || err_fd.valid()) {
      pollfd fds[3];
      nfds_t count = 0;
      fds[count++] = pollfd{wake_read.get(), POLLIN, 0};
      fds[count++] = pollfd{out_fd.get(), POLLIN, 0};  // A negative fd is skipped by poll.
      fds[count++] = pollfd{err_fd.get(), POLLIN, 0};
      int rc = ::poll(fds, count, -1);
      if (rc < 0 && errno == EINTR) continue;
      if (rc < 0 || fds[0].revents != 0) break;
      for (int i = 1; i <= 2; ++i) {
        if (fds[i].revents == 0) continue;
        UniqueFd& fd = i == 1 ? out_fd : err_fd;
        ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
        if (n > 0) {
          append(i == 1, buffer, static_cast<size_t>(n));
          if (log_fd.valid()) write_all(log_fd.get(), buffer, static_cast<size_t>(n));
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
          fd.reset();
        }
      }
    }
    {
      std::lock_guard<std::mutex> lock(mutex);
      output_closed = true;
    }
    changed.notify_all();
  }

  // Called once the child is reaped: records the status and stops the reader, giving
  // it a moment to collect what the child wrote last.
  void finish(int exit_status) {
    reaped = true;
    std::unique_lock<std::mutex> lock(mutex);
    status = exit_status;
    changed.wait_for(lock, kDrainTimeout, [this] { return output_closed; });
    lock.unlock();
    stop_reader();
  }

  void stop_reader() {
    if (!reader.joinable()) return;
    const char byte = 'x';
    if (wake_write.valid()) write_all(wake_write.get(), &byte, 1);
    reader.join();
  }
};

ChildProcess::ChildProcess(std::unique_ptr<State> state) : state_(std::move(state)) {}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept = default;

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    destroy();
    state_ = std::move(other.state_);
  }
  return *this;
}

ChildProcess::~ChildProcess() { destroy(); }

StatusOr<ChildProcess> ChildProcess::spawn(SpawnOptions options) {
  if (options.argv.empty() || options.argv[0].empty()) {
    return invalid_argument("argv must name a program", "argv");
  }
  UniqueFd out_read, out_write, err_read, err_write, wake_read, wake_write;
  SHOPEASY_RETURN_IF_ERROR(make_pipe(out_read, out_write));
  SHOPEASY_RETURN_IF_ERROR(make_pipe(err_read, err_write));
  SHOPEASY_RETURN_IF_ERROR(make_pipe(wake_read, wake_write));
  UniqueFd log_fd;
  if (!options.log_file.empty()) {
    log_fd.reset(::open(options.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!log_fd.valid()) {
      return unavailable("cannot open log file " + options.log_file.string() + ": " +
                         std::strerror(errno));
    }
  }

  FileActions actions;
  posix_spawn_file_actions_addopen(&actions.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions.actions, out_write.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions.actions, err_write.get(), STDERR_FILENO);
  if (!options.working_dir.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions.actions, options.working_dir.c_str());
  }

  SpawnAttr attr;
  // A group of its own lets the harness kill the child together with anything it forks.
  posix_spawnattr_setflags(&attr.attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr.attr, 0);
  sigset_t mask;
  sigemptyset(&mask);
  posix_spawnattr_setsigmask(&attr.attr, &mask);
  // Ignored dispositions survive exec; reset them so SIGTERM/SIGPIPE behave normally
  // even if the test runner ignores them.
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig = 1; sig < 32; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaddset(&defaults, sig);
  }
  posix_spawnattr_setsigdefault(&attr.attr, &defaults);

  std::vector<std::string> argv_storage = options.argv;
  std::vector<char*> argv_ptrs = as_c_array(argv_storage);
  std::vector<std::string> env_storage = build_environment(options.env);
  std::vector<char*> env_ptrs = as_c_array(env_storage);

  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, argv_ptrs[0], &actions.actions, &attr.attr, argv_ptrs.data(),
                          env_ptrs.data());
  out_write.reset();
  err_write.reset();
  if (rc != 0) {
    std::string message = "cannot start " + options.argv[0] + ": " + std::strerror(rc);
    if (rc == ENOENT) return not_found(message);
    return unavailable(message);
  }

  auto state = std::make_unique<State>();
  state->argv = std::move(options.argv);
  state->pid = pid;
  state->wake_read = std::move(wake_read);
  state->wake_write = std::move(wake_write);
  try {
    state->reader = std::thread(&State::read_loop, state.get(), std::move(out_read),
                                std::move(err_read), std::move(log_fd));
  } catch (const std::system_error& e) {
    ::killpg(pid, SIGKILL);
    int wstatus = 0;
    while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
    return unavailable(std::string("cannot start output reader: ") + e.what());
  }
  return ChildProcess(std::move(state));
}

pid_t ChildProcess::pid() const { return state_ ? state_->pid : -1; }

const std::vector<std::string>& ChildProcess::argv() const {
  static const std::vector<std::string> kEmpty;
  return state_ ? state_->argv : kEmpty;
}

bool ChildProcess::try_reap() {
  if (!state_ || state_->reaped) return true;
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(state_->pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    if (errno == EINTR) continue;
    // ECHILD: reaped behind our back (SIGCHLD ignored); the status is lost.
    state_->finish(kExitStatusUnknown);
    return true;
  }
  if (info.si_pid == 0) return false;
  // The leader is a zombie now, which keeps its group id from being reused, so killing
  // the group here can only hit what the child left behind.
  ::killpg(state_->pid, SIGKILL);
  int wstatus = 0;
  while (::waitpid(state_->pid, &wstatus, 0) < 0) {
    if (errno != EINTR) {
      state_->finish(kExitStatusUnknown);
      return true;
    }
  }
  state_->finish(decode_wait_status(wstatus));
  return true;
}

void ChildProcess::destroy() noexcept {
  if (!state_) return;
  if (!state_->reaped) {
    ::killpg(state_->pid, SIGKILL);
    // In case the child moved itself to another group.
    ::kill(state_->pid, SIGKILL);
    int wstatus = 0;
    pid_t rc;
    while ((rc = ::waitpid(state_->pid, &wstatus, 0)) < 0 && errno == EINTR) {
    }
    state_->finish(rc == state_->pid ? decode_wait_status(wstatus) : kExitStatusUnknown);
  }
  state_->stop_reader();
  state_.reset();
}

bool ChildProcess::is_running() { return !try_reap(); }

Status ChildProcess::send_signal(int sig) {
  if (!state_) return failed_precondition("no process (moved from)");
  if (try_reap()) {
    return failed_precondition("process " + std::to_string(state_->pid) + " has already exited");
  }
  if (::kill(state_->pid, sig) != 0) {
    return internal_error("kill(" + std::to_string(state_->pid) + ", " + std::to_string(sig) +
                          "): " + std::strerror(errno));
  }
  return Status::ok();
}

std::optional<int> ChildProcess::kill9() {
  if (!state_) return std::nullopt;
  if (!try_reap()) ::killpg(state_->pid, SIGKILL);
  return wait_exit(kReapTimeout);
}

std::optional<int> ChildProcess::terminate_and_wait(std::chrono::milliseconds grace) {
  if (!state_) return std::nullopt;
  if (!try_reap()) ::kill(state_->pid, SIGTERM);
  if (std::optional<int> status = wait_exit(grace)) return status;
  ::killpg(state_->pid, SIGKILL);
  return wait_exit(kReapTimeout);
}

std::optional<int> ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (!state_) return std::nullopt;
  if (!wait_for([this] { return try_reap(); }, timeout, 5ms)) return std::nullopt;
  return exit_status();
}

std::optional<int> ChildProcess::exit_status() const {
  if (!state_) return std::nullopt;
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->status;
}

bool ChildProcess::wait_for_output(std::string_view needle,
                                   std::chrono::milliseconds timeout) const {
  if (!state_) return false;
  std::unique_lock<std::mutex> lock(state_->mutex);
  bool found = false;
  state_->changed.wait_for(lock, timeout, [&] {
    // Each stream alone too: interleaved chunks could split a needle in `combined`.
    found = state_->combined.find(needle) != std::string::npos ||
            state_->out.find(needle) != std::string::npos ||
            state_->err.find(needle) != std::string::npos;
    return found || state_->output_closed;
  });
  return found;
}

namespace {
// The first whole line of `text` containing `needle`, without its newline.
std::optional<std::string> whole_line_with(const std::string& text, std::string_view needle) {
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    const std::size_t end = text.find('\n', at);
    if (end == std::string::npos) return std::nullopt;  // the line is still arriving
    const std::size_t start = text.rfind('\n', at);
    const std::size_t begin = start == std::string::npos ? 0 : start + 1;
    return text.substr(begin, end - begin);
  }
  return std::nullopt;
}
}  // namespace

std::optional<std::string> ChildProcess::wait_for_line(std::string_view needle,
                                                       std::chrono::milliseconds timeout) const {
  if (!state_) return std::nullopt;
  std::unique_lock<std::mutex> lock(state_->mutex);
  std::optional<std::string> line;
  state_->changed.wait_for(lock, timeout, [&] {
    // Each stream alone: the interleaved output could split a line with the other's chunk.
    line = whole_line_with(state_->out, needle);
    if (!line) line = whole_line_with(state_->err, needle);
    return line.has_value() || state_->output_closed;
  });
  return line;
}

std::string ChildProcess::output() const {
  if (!state_) return {};
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->combined;
}

std::string ChildProcess::stdout_text() const {
  if (!state_) return {};
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->out;
}

std::string ChildProcess::stderr_text() const {
  if (!state_) return {};
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->err;
}

std::string ChildProcess::describe() const {
  if (!state_) return "(no process)\n";
  std::lock_guard<std::mutex> lock(state_->mutex);
  std::ostringstream text;
  text << "command: " << join_command(state_->argv) << "\n"
       << "pid: " << state_->pid << "\n"
       << "exit status: ";
  if (!state_->status) {
    text << "still running";
  } else if (*state_->status == kExitStatusUnknown) {
    text << "unknown";
  } else {
    text << *state_->status;
  }
  text << "\n--- output ---\n" << state_->combined;
  if (!state_->combined.empty() && state_->combined.back() != '\n') text << "\n";
  text << "--- end of output ---\n";
  return text.str();
}

}  // namespace shopeasy::testing
