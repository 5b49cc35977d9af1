#include "tests/harness/harness.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

namespace shopeasy::testing {
namespace {

using std::chrono_literals::operator""ms;
using std::chrono_literals::operator""s;
using SteadyClock = std::chrono::steady_clock;

// Sets (or unsets, for nullopt) one environment variable for the scope of a test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// True once `pid` no longer runs: gone entirely, or a zombie nobody has reaped yet.
bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

ChildProcess must_spawn(SpawnOptions options) {
  StatusOr<ChildProcess> child = ChildProcess::spawn(std::move(options));
  EXPECT_TRUE(child.ok()) << child.status().to_string();
  if (!child.ok()) {
    // Helpers returning a value cannot ASSERT; a test without its process is meaningless.
    std::fflush(stdout);
    std::abort();
  }
  return std::move(*child);
}

ChildProcess run_shell(const std::string& script) {
  return must_spawn({.argv = {"/bin/sh", "-c", script}});
}

// Runs a mosquitto command-line client against `broker` to completion.
ChildProcess run_client(const MosquittoBroker& broker, const std::string& tool,
                        std::vector<std::string> args) {
  std::vector<std::string> argv = {tool, "-h", broker.host(), "-p", std::to_string(broker.port())};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess child = must_spawn({.argv = std::move(argv)});
  EXPECT_TRUE(child.wait_exit(20s).has_value()) << child.describe();
  return child;
}

// ---------------------------------------------------------------- TempDir

TEST(TempDirTest, CreatesWritesReadsAndRemoves) {
  std::filesystem::path path;
  {
    StatusOr<TempDir> dir = TempDir::create("harness-unit");
    ASSERT_TRUE(dir.ok()) << dir.status().to_string();
    path = dir->path();
    EXPECT_TRUE(std::filesystem::is_directory(path));
    EXPECT_EQ(path.filename().string().rfind("harness-unit-", 0), 0u) << path;
    ASSERT_TRUE(dir->write_file("sub/config.json", "{\"a\":1}").is_ok());
    EXPECT_EQ(dir->file("sub/config.json"), path / "sub" / "config.json");
    StatusOr<std::string> back = dir->read_file("sub/config.json");
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, "{\"a\":1}");
    ASSERT_TRUE(dir->write_file("sub/config.json", "x").is_ok());
    EXPECT_EQ(dir->read_file("sub/config.json").value_or(""), "x");
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(TempDirTest, RejectsNamesOutsideTheDirectory) {
  StatusOr<TempDir> dir = TempDir::create();
  ASSERT_TRUE(dir.ok());
  EXPECT_EQ(dir->write_file("../escape", "x").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(dir->write_file("/abs", "x").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(dir->write_file("", "x").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(dir->read_file("a/../../b").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(dir->read_file("missing").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(TempDir::create("a/b").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(TempDir::create("").status().code(), StatusCode::kInvalidArgument);
}

TEST(TempDirTest, MoveTransfersOwnership) {
  StatusOr<TempDir> dir = TempDir::create();
  ASSERT_TRUE(dir.ok());
  std::filesystem::path path = dir->path();
  {
    TempDir moved = std::move(*dir);
    EXPECT_EQ(moved.path(), path);
    EXPECT_TRUE(dir->path().empty());
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(TempDirTest, KeptWhenAskedByEnvironment) {
  ScopedEnv keep("SHOPEASY_KEEP_TEST_DIRS", "1");
  std::filesystem::path path;
  {
    StatusOr<TempDir> dir = TempDir::create();
    ASSERT_TRUE(dir.ok());
    path = dir->path();
  }
  EXPECT_TRUE(std::filesystem::is_directory(path));
  std::filesystem::remove_all(path);
}

// ---------------------------------------------------------------- wait_for / net

TEST(WaitForTest, TrueAtOnceWhenConditionHolds) {
  int calls = 0;
  EXPECT_TRUE(wait_for([&] { return ++calls > 0; }, 0ms));
  EXPECT_EQ(calls, 1);
}

TEST(WaitForTest, TimesOutWithFalseAfterTheDeadline) {
  int calls = 0;
  auto start = SteadyClock::now();
  EXPECT_FALSE(wait_for([&] { return ++calls < 0; }, 100ms, 10ms));
  EXPECT_GE(SteadyClock::now() - start, 100ms);
  EXPECT_GE(calls, 2);
}

TEST(WaitForTest, ReturnsOnceConditionBecomesTrue) {
  int calls = 0;
  EXPECT_TRUE(wait_for([&] { return ++calls == 5; }, 10s, 1ms));
  EXPECT_EQ(calls, 5);
}

TEST(NetTest, FreePortCanBeBoundAndWaitForTcpSeesListener) {
  int port = free_tcp_port();
  ASSERT_GT(port, 0);
  ASSERT_LE(port, 65535);
  EXPECT_FALSE(wait_for_tcp("127.0.0.1", port, 50ms));

  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(listener.get(), 4), 0);
  EXPECT_TRUE(wait_for_tcp("127.0.0.1", port, 5s));
}

TEST(NetTest, RejectsBadPorts) {
  EXPECT_FALSE(wait_for_tcp("127.0.0.1", 0, 10ms));
  EXPECT_FALSE(wait_for_tcp("127.0.0.1", 70000, 10ms));
  EXPECT_EQ(connect_tcp("127.0.0.1", -1, 10ms).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(connect_tcp("no-such-host.invalid", 80, 1s).ok());
}

// ---------------------------------------------------------------- binaries

TEST(BinaryPathTest, EnvironmentOverridesBuildDirectory) {
  {
    ScopedEnv dir("SHOPEASY_BIN_DIR", "/opt/shopeasy/bin");
    EXPECT_EQ(binary_path("shopeasy-edge"), "/opt/shopeasy/bin/shopeasy-edge");
  }
  ScopedEnv unset("SHOPEASY_BIN_DIR", std::nullopt);
  std::filesystem::path path(binary_path("shopeasy-edge"));
  EXPECT_TRUE(path.is_absolute()) << path;
  EXPECT_EQ(path.filename(), "shopeasy-edge");
  EXPECT_EQ(path.parent_path().filename(), "bin");
}

TEST(FindExecutableTest, SearchesPath) {
  std::optional<std::filesystem::path> sh = find_executable("sh");
  ASSERT_TRUE(sh.has_value());
  EXPECT_EQ(sh->filename(), "sh");
  EXPECT_FALSE(find_executable("shopeasy-no-such-program").has_value());
  EXPECT_FALSE(find_executable("/nonexistent/prog").has_value());
  EXPECT_FALSE(find_executable("").has_value());
}

// ---------------------------------------------------------------- ChildProcess

TEST(ChildProcessTest, CapturesOutputAndExitCode) {
  ChildProcess child = run_shell("echo to-stdout; echo to-stderr >&2; exit 3");
  EXPECT_EQ(child.wait_exit(10s), 3) << child.describe();
  EXPECT_EQ(child.stdout_text(), "to-stdout\n");
  EXPECT_EQ(child.stderr_text(), "to-stderr\n");
  EXPECT_NE(child.output().find("to-stdout\n"), std::string::npos);
  EXPECT_NE(child.output().find("to-stderr\n"), std::string::npos);
  EXPECT_FALSE(child.is_running());
  EXPECT_EQ(child.exit_status(), 3);
  std::string description = child.describe();
  EXPECT_NE(description.find("exit status: 3"), std::string::npos) << description;
  EXPECT_NE(description.find("to-stderr"), std::string::npos) << description;
}

TEST(ChildProcessTest, ReportsDeathBySignalAsNegativeNumber) {
  ChildProcess child = run_shell("kill -TERM $$");
  EXPECT_EQ(child.wait_exit(10s), -SIGTERM) << child.describe();
}

TEST(ChildProcessTest, CapturesMoreThanAPipeBufferOfOutput) {
  ChildProcess child = run_shell("head -c 300000 /dev/zero | tr '\\0' a");
  EXPECT_EQ(child.wait_exit(10s), 0);
  EXPECT_EQ(child.stdout_text(), std::string(300000, 'a'));
}

TEST(ChildProcessTest, Kill9ReportsMinusNine) {
  ChildProcess child = must_spawn({.argv = {"sleep", "1000"}});
  EXPECT_TRUE(child.is_running());
  EXPECT_EQ(child.wait_exit(0ms), std::nullopt);
  EXPECT_EQ(child.kill9(), -SIGKILL);
  EXPECT_FALSE(child.is_running());
  EXPECT_EQ(child.kill9(), -SIGKILL);  // Idempotent.
}

TEST(ChildProcessTest, TerminateAndWaitStopsSleepWithSigterm) {
  ChildProcess child = must_spawn({.argv = {"sleep", "1000"}});
  auto start = SteadyClock::now();
  EXPECT_EQ(child.terminate_and_wait(10s), -SIGTERM);
  EXPECT_LT(SteadyClock::now() - start, 5s);
  EXPECT_FALSE(child.is_running());
}

TEST(ChildProcessTest, TerminateAndWaitKillsAChildIgnoringSigterm) {
  ChildProcess child = run_shell("trap '' TERM; echo ready; while :; do sleep 1; done");
  ASSERT_TRUE(child.wait_for_output("ready", 10s)) << child.describe();
  EXPECT_EQ(child.terminate_and_wait(200ms), -SIGKILL);
}

TEST(ChildProcessTest, WaitForOutputSeesLinesOnEitherStream) {
  ChildProcess child = run_shell("echo 'listening on 4242' >&2; exec sleep 1000");
  EXPECT_TRUE(child.wait_for_output("listening on", 10s)) << child.describe();
  EXPECT_FALSE(child.wait_for_output("never printed", 50ms));
  EXPECT_TRUE(child.is_running());
}

TEST(ChildProcessTest, WaitForLineWaitsForTheWholeLine) {
  // The line arrives in two writes, the needle in the first; the second waits for a file.
  auto dir = TempDir::create("line");
  ASSERT_TRUE(dir.ok());
  const std::string go = dir->file("go").string();
  ChildProcess child = run_shell("printf 'event=started http_'; while [ ! -e '" + go +
                                 "' ]; do sleep 0.01; done; printf 'port=4242 ok\\n'; "
                                 "exec sleep 1000");
  ASSERT_TRUE(child.wait_for_output("event=started", 10s)) << child.describe();
  EXPECT_FALSE(child.wait_for_line("event=started", 50ms)) << "half a line is not a line";
  ASSERT_TRUE(dir->write_file("go", "").is_ok());
  EXPECT_EQ(child.wait_for_line("event=started", 10s), "event=started http_port=4242 ok");
  // A line on stderr, after others.
  ChildProcess other = run_shell("echo first >&2; echo 'second started x=1' >&2; exec sleep 1000");
  EXPECT_EQ(other.wait_for_line("started", 10s), "second started x=1");
  EXPECT_FALSE(run_shell("printf 'no newline started'").wait_for_line("started", 10s));
}

TEST(ChildProcessTest, WaitForOutputGivesUpWhenOutputEnds) {
  ChildProcess child = run_shell("echo bye");
  auto start = SteadyClock::now();
  EXPECT_FALSE(child.wait_for_output("never printed", 10s));
  EXPECT_LT(SteadyClock::now() - start, 5s);
}

TEST(ChildProcessTest, PassesEnvironmentAndWorkingDirectory) {
  StatusOr<TempDir> dir = TempDir::create();
  ASSERT_TRUE(dir.ok());
  ChildProcess child = must_spawn({.argv = {"/bin/sh", "-c", "echo \"$HARNESS_PROBE\"; pwd -P"},
                                   .env = {{"HARNESS_PROBE", "probe value"}},
                                   .working_dir = dir->path()});
  EXPECT_EQ(child.wait_exit(10s), 0) << child.describe();
  EXPECT_EQ(child.stdout_text(),
            "probe value\n" + std::filesystem::canonical(dir->path()).string() + "\n");
}

TEST(ChildProcessTest, CopiesOutputToLogFile) {
  StatusOr<TempDir> dir = TempDir::create();
  ASSERT_TRUE(dir.ok());
  ChildProcess child = must_spawn(
      {.argv = {"/bin/sh", "-c", "echo one; echo two >&2"}, .log_file = dir->file("child.log")});
  EXPECT_EQ(child.wait_exit(10s), 0);
  StatusOr<std::string> log = dir->read_file("child.log");
  ASSERT_TRUE(log.ok());
  EXPECT_NE(log->find("one\n"), std::string::npos);
  EXPECT_NE(log->find("two\n"), std::string::npos);
}

TEST(ChildProcessTest, SpawnErrorsNameTheProblem) {
  StatusOr<ChildProcess> missing = ChildProcess::spawn({.argv = {"/nonexistent/shopeasy-daemon"}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("shopeasy-daemon"), std::string::npos);
  EXPECT_EQ(ChildProcess::spawn({}).status().code(), StatusCode::kInvalidArgument);
  StatusOr<TempDir> dir = TempDir::create();
  ASSERT_TRUE(dir.ok());
  EXPECT_FALSE(
      ChildProcess::spawn({.argv = {"true"}, .log_file = dir->file("no/such/dir/log")}).ok());
}

TEST(ChildProcessTest, SignallingAnExitedChildIsRefused) {
  ChildProcess child = run_shell("exit 0");
  ASSERT_EQ(child.wait_exit(10s), 0);
  EXPECT_EQ(child.send_signal(SIGTERM).code(), StatusCode::kFailedPrecondition);
}

TEST(ChildProcessTest, SendSignalReachesTheChild) {
  ChildProcess child =
      run_shell("trap 'echo got-usr1; exit 7' USR1; echo ready; sleep 1000 & wait");
  ASSERT_TRUE(child.wait_for_output("ready", 10s)) << child.describe();
  ASSERT_TRUE(child.send_signal(SIGUSR1).is_ok());
  EXPECT_EQ(child.wait_exit(10s), 7) << child.describe();
  EXPECT_NE(child.output().find("got-usr1"), std::string::npos);
}

TEST(ChildProcessTest, DestructorKillsTheWholeProcessGroup) {
  pid_t leader = -1;
  pid_t grandchild = -1;
  {
    ChildProcess child = run_shell("sleep 1000 & echo $!; wait");
    ASSERT_TRUE(child.wait_for_output("\n", 10s)) << child.describe();
    leader = child.pid();
    grandchild = std::stoi(child.stdout_text());
    ASSERT_FALSE(process_gone(grandchild));
  }
  EXPECT_TRUE(process_gone(leader));
  EXPECT_TRUE(wait_for([&] { return process_gone(grandchild); }, 10s));
}

TEST(ChildProcessTest, ExitOfLeaderKillsLeftoversAndCompletesOutput) {
  ChildProcess child = run_shell("sleep 1000 & echo $!; echo started");
  auto start = SteadyClock::now();
  EXPECT_EQ(child.wait_exit(10s), 0) << child.describe();
  EXPECT_LT(SteadyClock::now() - start, 2s);  // Not stuck on the pipe the sleep held.
  EXPECT_NE(child.output().find("started\n"), std::string::npos);
  pid_t grandchild = std::stoi(child.stdout_text());
  EXPECT_TRUE(wait_for([&] { return process_gone(grandchild); }, 10s));
}

TEST(ChildProcessTest, MoveKeepsTheProcess) {
  ChildProcess first = must_spawn({.argv = {"sleep", "1000"}});
  pid_t pid = first.pid();
  ChildProcess second = std::move(first);
  EXPECT_EQ(first.pid(), -1);  // NOLINT(bugprone-use-after-move): documented state.
  EXPECT_EQ(second.pid(), pid);
  EXPECT_TRUE(second.is_running());
  ChildProcess third = must_spawn({.argv = {"sleep", "1000"}});
  pid_t third_pid = third.pid();
  third = std::move(second);  // Kills the process third held.
  EXPECT_TRUE(process_gone(third_pid));
  EXPECT_EQ(third.pid(), pid);
}

// ---------------------------------------------------------------- MosquittoBroker

TEST(MosquittoBrokerTest, RetainedMessageRoundTrip) {
  StatusOr<MosquittoBroker> broker = MosquittoBroker::start();
  ASSERT_TRUE(broker.ok()) << broker.status().to_string();
  EXPECT_EQ(broker->host(), "127.0.0.1");
  EXPECT_EQ(broker->url(), "tcp://127.0.0.1:" + std::to_string(broker->port()));
  EXPECT_TRUE(std::filesystem::is_regular_file(broker->config_file()));

  ChildProcess pub = run_client(*broker, "mosquitto_pub",
                                {"-t", "harness/retained", "-m", "hello", "-r", "-q", "1"});
  ASSERT_EQ(pub.exit_status(), 0) << pub.describe() << broker->output();
  ChildProcess sub =
      run_client(*broker, "mosquitto_sub", {"-t", "harness/retained", "-C", "1", "-W", "10"});
  EXPECT_EQ(sub.exit_status(), 0) << sub.describe() << broker->output();
  EXPECT_EQ(sub.stdout_text(), "hello\n");
}

TEST(MosquittoBrokerTest, RestartKeepsPortAndAcceptsConnectionsAgain) {
  StatusOr<MosquittoBroker> broker = MosquittoBroker::start();
  ASSERT_TRUE(broker.ok()) << broker.status().to_string();
  const int port = broker->port();
  const pid_t first_pid = broker->pid();

  Status stopped = broker->stop();
  ASSERT_TRUE(stopped.is_ok()) << stopped.to_string();
  EXPECT_FALSE(broker->is_running());
  EXPECT_EQ(broker->pid(), -1);
  EXPECT_FALSE(wait_for_tcp(broker->host(), port, 50ms));

  Status restarted = broker->restart();
  ASSERT_TRUE(restarted.is_ok()) << restarted.to_string();
  EXPECT_EQ(broker->port(), port);
  EXPECT_NE(broker->pid(), first_pid);
  EXPECT_TRUE(wait_for_tcp(broker->host(), port, 5s));
  ChildProcess pub = run_client(*broker, "mosquitto_pub", {"-t", "harness/after", "-m", "x"});
  EXPECT_EQ(pub.exit_status(), 0) << pub.describe();
}

TEST(MosquittoBrokerTest, Kill9ThenRestart) {
  StatusOr<MosquittoBroker> broker = MosquittoBroker::start();
  ASSERT_TRUE(broker.ok()) << broker.status().to_string();
  const int port = broker->port();
  ASSERT_TRUE(broker->kill9().is_ok());
  EXPECT_FALSE(broker->is_running());
  ChildProcess refused = run_client(*broker, "mosquitto_pub", {"-t", "t", "-m", "x"});
  EXPECT_NE(refused.exit_status(), 0) << refused.describe();
  ASSERT_TRUE(broker->restart().is_ok());
  EXPECT_EQ(broker->port(), port);
  ChildProcess pub = run_client(*broker, "mosquitto_pub", {"-t", "t", "-m", "x"});
  EXPECT_EQ(pub.exit_status(), 0) << pub.describe();
}

TEST(MosquittoBrokerTest, PersistenceKeepsRetainedMessagesAcrossRestart) {
  StatusOr<MosquittoBroker> broker = MosquittoBroker::start({.persistence = true});
  ASSERT_TRUE(broker.ok()) << broker.status().to_string();
  ChildProcess pub = run_client(*broker, "mosquitto_pub",
                                {"-t", "harness/persisted", "-m", "kept", "-r", "-q", "1"});
  ASSERT_EQ(pub.exit_status(), 0) << pub.describe();
  ASSERT_TRUE(broker->restart().is_ok());
  EXPECT_TRUE(std::filesystem::exists(broker->config_dir() / "mosquitto.db"));
  ChildProcess sub =
      run_client(*broker, "mosquitto_sub", {"-t", "harness/persisted", "-C", "1", "-W", "10"});
  EXPECT_EQ(sub.exit_status(), 0) << sub.describe() << broker->output();
  EXPECT_EQ(sub.stdout_text(), "kept\n");
}

TEST(MosquittoBrokerTest, PasswordFileRefusesAnonymousAndWrongPassword) {
  StatusOr<MosquittoBroker> broker = MosquittoBroker::start(
      {.allow_anonymous = false, .users = {{"edge-store-1", "s3cret pass"}, {"cloud", "other"}}});
  ASSERT_TRUE(broker.ok()) << broker.status().to_string();
  std::ifstream file(broker->config_dir() / "passwd");
  std::string contents((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  EXPECT_EQ(contents.find("s3cret"), std::string::npos) << "password file is not hashed";

  ChildProcess anonymous = run_client(*broker, "mosquitto_pub", {"-t", "t", "-m", "x"});
  EXPECT_NE(anonymous.exit_status(), 0) << anonymous.describe();
  ChildProcess wrong = run_client(*broker, "mosquitto_pub",
                                  {"-u", "edge-store-1", "-P", "wrong", "-t", "t", "-m", "x"});
  EXPECT_NE(wrong.exit_status(), 0) << wrong.describe();
  ChildProcess right = run_client(
      *broker, "mosquitto_pub", {"-u", "edge-store-1", "-P", "s3cret pass", "-t", "t", "-m", "x"});
  EXPECT_EQ(right.exit_status(), 0) << right.describe() << broker->output();
}

TEST(MosquittoBrokerTest, AclDeniesPublishOutsideGrantedTopics) {
  StatusOr<MosquittoBroker> broker =
      MosquittoBroker::start({.allow_anonymous = false,
                              .users = {{"store", "pw"}},
                              .acl = "user store\ntopic readwrite stores/1/#\n"});
  ASSERT_TRUE(broker.ok()) << broker.status().to_string();
  // Under MQTT 5 the broker answers a denied QoS 1 publish with "not authorized".
  std::vector<std::string> common = {"-u",     "store", "-P", "pw", "-V",
                                     "mqttv5", "-q",    "1",  "-m", "x"};
  std::vector<std::string> allowed = common;
  allowed.insert(allowed.end(), {"-t", "stores/1/orders"});
  std::vector<std::string> denied = common;
  denied.insert(denied.end(), {"-t", "stores/2/orders"});
  ChildProcess ok_pub = run_client(*broker, "mosquitto_pub", allowed);
  EXPECT_EQ(ok_pub.output().find("Not authorized"), std::string::npos) << ok_pub.describe();
  ChildProcess denied_pub = run_client(*broker, "mosquitto_pub", denied);
  EXPECT_NE(denied_pub.output().find("Not authorized"), std::string::npos) << denied_pub.describe();
}

TEST(MosquittoBrokerTest, DestructorLeavesNoBrokerProcessOrDirectory) {
  pid_t pid = -1;
  std::filesystem::path dir;
  {
    StatusOr<MosquittoBroker> broker = MosquittoBroker::start();
    ASSERT_TRUE(broker.ok()) << broker.status().to_string();
    pid = broker->pid();
    dir = broker->config_dir();
    ASSERT_GT(pid, 0);
    ASSERT_EQ(::kill(pid, 0), 0);
    ASSERT_TRUE(std::filesystem::is_directory(dir));
  }
  errno = 0;
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST(MosquittoBrokerTest, BadOptionsAreReported) {
  EXPECT_EQ(MosquittoBroker::start({.users = {{"a:b", "pw"}}}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(MosquittoBroker::start({.users = {{"", "pw"}}}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(MosquittoBroker::start({.users = {{"u", "pw\nx"}}}).status().code(),
            StatusCode::kInvalidArgument);

  StatusOr<MosquittoBroker> bad_config =
      MosquittoBroker::start({.extra_config = {"no_such_option 1"}});
  ASSERT_FALSE(bad_config.ok());
  EXPECT_EQ(bad_config.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(bad_config.status().message().find("no_such_option"), std::string::npos)
      << bad_config.status().message();
}

TEST(MosquittoBrokerTest, MissingBinaryIsNotFound) {
  ScopedEnv env("SHOPEASY_MOSQUITTO", "/nonexistent/mosquitto");
  StatusOr<MosquittoBroker> broker = MosquittoBroker::start();
  ASSERT_FALSE(broker.ok());
  EXPECT_EQ(broker.status().code(), StatusCode::kNotFound);
  EXPECT_NE(broker.status().message().find("SHOPEASY_MOSQUITTO"), std::string::npos);
}

// ---------------------------------------------------------------- HttpProbe

// A one-connection HTTP server on a kernel-chosen port: records the request it gets
// and answers with canned bytes (or never answers, to test timeouts).
class ScriptedHttpServer {
 public:
  explicit ScriptedHttpServer(std::string reply, bool answer = true)
      : reply_(std::move(reply)), answer_(answer) {
    listener_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), len), 0);
    EXPECT_EQ(::listen(listener_.get(), 4), 0);
    EXPECT_EQ(::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedHttpServer() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    stop_.notify_all();
    ::shutdown(listener_.get(), SHUT_RDWR);  // Unblocks accept() if no client came.
    thread_.join();
  }
  ScriptedHttpServer(const ScriptedHttpServer&) = delete;
  ScriptedHttpServer& operator=(const ScriptedHttpServer&) = delete;

  int port() const { return port_; }
  std::string request() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return request_;
  }

 private:
  void serve() {
    UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn.valid()) return;
    timeval tv{10, 0};
    ::setsockopt(conn.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    std::string received;
    char buf[4096];
    size_t body_wanted = std::string::npos;
    while (true) {
      size_t head_end = received.find("\r\n\r\n");
      if (head_end != std::string::npos && body_wanted == std::string::npos) {
        size_t cl = received.find("Content-Length: ");
        body_wanted = cl != std::string::npos && cl < head_end
                          ? head_end + 4 + std::stoul(received.substr(cl + 16))
                          : head_end + 4;
      }
      if (body_wanted != std::string::npos && received.size() >= body_wanted) break;
      ssize_t n = ::recv(conn.get(), buf, sizeof(buf), 0);
      if (n <= 0) break;
      received.append(buf, static_cast<size_t>(n));
    }
    std::unique_lock<std::mutex> lock(mutex_);
    request_ = received;
    if (answer_) {
      lock.unlock();
      ::send(conn.get(), reply_.data(), reply_.size(), MSG_NOSIGNAL);
      return;
    }
    stop_.wait(lock, [this] { return stopping_; });
  }

  std::string reply_;
  bool answer_;
  UniqueFd listener_;
  int port_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable stop_;
  bool stopping_ = false;
  std::string request_;
  std::thread thread_;
};

TEST(HttpProbeTest, GetWithContentLength) {
  ScriptedHttpServer server(
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
      "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nhello");
  std::optional<HttpReply> reply = http_request("127.0.0.1", server.port(), "GET", "/healthz");
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "hello");
  EXPECT_EQ(reply->headers["content-type"], "text/plain");
  EXPECT_EQ(reply->headers["set-cookie"], "a=1, b=2");
  std::string request = server.request();
  EXPECT_EQ(request.rfind("GET /healthz HTTP/1.1\r\n", 0), 0u) << request;
  EXPECT_NE(request.find("Host: 127.0.0.1:" + std::to_string(server.port()) + "\r\n"),
            std::string::npos);
  EXPECT_NE(request.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(request.find("Content-Length"), std::string::npos);
}

TEST(HttpProbeTest, PostSendsBodyAndHeaders) {
  ScriptedHttpServer server("HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");
  std::optional<HttpReply> reply =
      http_request("127.0.0.1", server.port(), "POST", "/v1/orders", "{\"a\":1}",
                   {{"Content-Type", "application/json"}, {"X-Request-Id", "abc"}});
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status, 202);
  EXPECT_EQ(reply->body, "");
  std::string request = server.request();
  EXPECT_EQ(request.rfind("POST /v1/orders HTTP/1.1\r\n", 0), 0u) << request;
  EXPECT_NE(request.find("Content-Length: 7\r\n"), std::string::npos) << request;
  EXPECT_NE(request.find("Content-Type: application/json\r\n"), std::string::npos);
  EXPECT_NE(request.find("X-Request-Id: abc\r\n"), std::string::npos);
  EXPECT_EQ(request.substr(request.size() - 7), "{\"a\":1}");
}

TEST(HttpProbeTest, DecodesChunkedBodyAfterInterimReply) {
  ScriptedHttpServer server(
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4\r\nWiki\r\n5;ext=1\r\npedia\r\nA\r\n in chunks\r\n0\r\nX-Trailer: y\r\n\r\n");
  std::optional<HttpReply> reply = http_request("127.0.0.1", server.port(), "GET", "/");
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status, 201);
  EXPECT_EQ(reply->body, "Wikipedia in chunks");
}

TEST(HttpProbeTest, BodyDelimitedByConnectionClose) {
  ScriptedHttpServer server("HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n\r\nmissing");
  std::optional<HttpReply> reply = http_request("127.0.0.1", server.port(), "GET", "/x");
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status, 404);
  EXPECT_EQ(reply->body, "missing");
}

TEST(HttpProbeTest, RefusedConnectionIsNullopt) {
  int port = free_tcp_port();
  ASSERT_GT(port, 0);
  EXPECT_FALSE(http_request("127.0.0.1", port, "GET", "/").has_value());
  EXPECT_EQ(http_request_checked("127.0.0.1", port, "GET", "/").status().code(),
            StatusCode::kUnavailable);
}

TEST(HttpProbeTest, SilentServerTimesOut) {
  ScriptedHttpServer server("", /*answer=*/false);
  auto start = SteadyClock::now();
  StatusOr<HttpReply> reply =
      http_request_checked("127.0.0.1", server.port(), "GET", "/", "", {}, 200ms);
  EXPECT_EQ(reply.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_LT(SteadyClock::now() - start, 5s);
}

TEST(HttpProbeTest, MalformedRepliesAreRejected) {
  {
    ScriptedHttpServer server("SSH-2.0-OpenSSH_9.2\r\n\r\n");
    EXPECT_EQ(http_request_checked("127.0.0.1", server.port(), "GET", "/").status().code(),
              StatusCode::kUnavailable);
  }
  {
    ScriptedHttpServer server("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    EXPECT_FALSE(http_request("127.0.0.1", server.port(), "GET", "/").has_value());
  }
  {
    ScriptedHttpServer server("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    EXPECT_FALSE(http_request("127.0.0.1", server.port(), "GET", "/").has_value());
  }
  {
    ScriptedHttpServer server("HTTP/1.1 2x0 OK\r\n\r\n");
    EXPECT_FALSE(http_request("127.0.0.1", server.port(), "GET", "/").has_value());
  }
}

TEST(HttpProbeTest, RejectsRequestsThatWouldBeMalformed) {
  EXPECT_EQ(http_request_checked("127.0.0.1", 80, "GET", "/a\r\nX: y").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(http_request_checked("127.0.0.1", 80, "GE T", "/").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(http_request_checked("127.0.0.1", 80, "GET", "/", "", {{"X", "a\nb"}}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(http_request_checked("127.0.0.1", 80, "GET", "").status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shopeasy::testing
