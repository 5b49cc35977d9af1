#include "tests/harness/mosquitto_broker.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "tests/harness/binaries.hpp"
#include "tests/harness/net.hpp"
#include "tests/harness/wait.hpp"

namespace shopeasy::testing {
namespace {

using std::chrono_literals::operator""ms;
using std::chrono_literals::operator""s;

constexpr const char* kConfigName = "mosquitto.conf";
constexpr const char* kPasswordName = "passwd";
constexpr const char* kAclName = "acl";
constexpr const char* kLogName = "mosquitto.log";
// A port picked by free_tcp_port() can be taken before mosquitto binds it; try afresh.
constexpr int kStartAttempts = 3;

StatusOr<std::filesystem::path> find_mosquitto() {
  if (const char* configured = std::getenv("SHOPEASY_MOSQUITTO"); configured && *configured) {
    if (auto path = find_executable(configured)) return *path;
    return not_found(std::string("SHOPEASY_MOSQUITTO names no executable: ") + configured);
  }
  if (auto path = find_executable("/usr/sbin/mosquitto")) return *path;
  if (auto path = find_executable("mosquitto")) return *path;
  return not_found("mosquitto is not installed (set SHOPEASY_MOSQUITTO to its path)");
}

Status validate(const MosquittoOptions& options) {
  for (const auto& [user, password] : options.users) {
    if (user.empty()) return invalid_argument("user name is empty", "users");
    if (user.find_first_of(":\r\n") != std::string::npos) {
      return invalid_argument("user name must not contain ':' or a newline", "users");
    }
    if (password.find_first_of("\r\n") != std::string::npos) {
      return invalid_argument("password must not contain a newline", "users");
    }
  }
  return Status::ok();
}

// mosquitto_passwd -U hashes a plain "user:password" file in place.
Status write_password_file(const TempDir& dir, const std::map<std::string, std::string>& users) {
  std::string plain;
  for (const auto& [user, password] : users) plain += user + ":" + password + "\n";
  SHOPEASY_RETURN_IF_ERROR(dir.write_file(kPasswordName, plain));
  std::optional<std::filesystem::path> tool = find_executable("mosquitto_passwd");
  if (!tool) return not_found("mosquitto_passwd is not installed");
  StatusOr<ChildProcess> hasher =
      ChildProcess::spawn({.argv = {tool->string(), "-U", dir.file(kPasswordName).string()}});
  if (!hasher.ok()) return hasher.status();
  std::optional<int> status = hasher->wait_exit(10s);
  if (status != 0) {
    return unavailable("mosquitto_passwd failed:\n" + hasher->describe());
  }
  return Status::ok();
}

std::string render_config(const MosquittoOptions& options, const TempDir& dir, int port) {
  std::ostringstream conf;
  conf << "# Generated for one integration test.\n";
  if (::geteuid() == 0) {
    // As root mosquitto would switch to the "mosquitto" user, which cannot read this
    // private directory.
    conf << "user root\n";
  }
  conf << "listener " << port << " 127.0.0.1\n"
       << "allow_anonymous " << (options.allow_anonymous ? "true" : "false") << "\n";
  if (!options.users.empty()) conf << "password_file " << dir.file(kPasswordName).string() << "\n";
  if (!options.acl.empty()) conf << "acl_file " << dir.file(kAclName).string() << "\n";
  conf << "persistence " << (options.persistence ? "true" : "false") << "\n"
       << "persistence_location " << dir.path().string() << "/\n"
       << "log_dest stderr\n"
       << "log_type all\n"
       << "connection_messages true\n";
  for (const std::string& line : options.extra_config) conf << line << "\n";
  return conf.str();
}

}  // namespace

MosquittoBroker::MosquittoBroker(TempDir dir, std::filesystem::path binary)
    : dir_(std::move(dir)), binary_(std::move(binary)) {}

MosquittoBroker::MosquittoBroker(MosquittoBroker&& other) noexcept = default;

MosquittoBroker& MosquittoBroker::operator=(MosquittoBroker&& other) noexcept {
  if (this != &other) {
    child_.reset();  // Our broker must die before its directory goes.
    dir_ = std::move(other.dir_);
    binary_ = std::move(other.binary_);
    host_ = std::move(other.host_);
    port_ = other.port_;
    child_ = std::move(other.child_);
    other.child_.reset();
  }
  return *this;
}

MosquittoBroker::~MosquittoBroker() { child_.reset(); }

StatusOr<MosquittoBroker> MosquittoBroker::start(MosquittoOptions options,
                                                 std::chrono::milliseconds timeout) {
  SHOPEASY_RETURN_IF_ERROR(validate(options));
  StatusOr<std::filesystem::path> binary = find_mosquitto();
  if (!binary.ok()) return binary.status();
  StatusOr<TempDir> dir = TempDir::create("shopeasy-mosquitto");
  if (!dir.ok()) return dir.status();
  MosquittoBroker broker(std::move(*dir), std::move(*binary));

  if (!options.users.empty())
    SHOPEASY_RETURN_IF_ERROR(write_password_file(broker.dir_, options.users));
  if (!options.acl.empty()) SHOPEASY_RETURN_IF_ERROR(broker.dir_.write_file(kAclName, options.acl));

  Status last = unavailable("mosquitto was not started");
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    broker.port_ = free_tcp_port();
    if (broker.port_ == 0) return unavailable("no free TCP port on 127.0.0.1");
    SHOPEASY_RETURN_IF_ERROR(
        broker.dir_.write_file(kConfigName, render_config(options, broker.dir_, broker.port_)));
    last = broker.launch(timeout);
    if (last.is_ok()) return broker;
    if (broker.output().find("Address already in use") == std::string::npos) break;
  }
  return last;
}

std::string MosquittoBroker::url() const { return "tcp://" + host_ + ":" + std::to_string(port_); }

std::filesystem::path MosquittoBroker::config_file() const { return dir_.file(kConfigName); }

Status MosquittoBroker::launch(std::chrono::milliseconds timeout) {
  child_.reset();
  StatusOr<ChildProcess> spawned = ChildProcess::spawn({
      .argv = {binary_.string(), "-c", config_file().string()},
      .log_file = dir_.file(kLogName),
  });
  if (!spawned.ok()) return spawned.status();
  child_.emplace(std::move(*spawned));
  ChildProcess& child = *child_;
  // mosquitto logs "... running" only after all listeners are bound; the connect then
  // proves the port is really ours and serving.
  bool ready = wait_for(
      [&] {
        if (!child.is_running()) return true;
        return child.output().find(" running") != std::string::npos &&
               connect_tcp(host_, port_, 500ms).ok();
      },
      timeout);
  if (!child.is_running()) {
    return unavailable("mosquitto exited during start-up on port " + std::to_string(port_) + ":\n" +
                       child.describe());
  }
  if (!ready) {
    child.kill9();
    return Status(StatusCode::kDeadlineExceeded, "mosquitto did not accept connections on port " +
                                                     std::to_string(port_) + " in time:\n" +
                                                     child.describe());
  }
  return Status::ok();
}

Status MosquittoBroker::stop(std::chrono::milliseconds grace) {
  if (!is_running()) return Status::ok();
  SHOPEASY_RETURN_IF_ERROR(child_->send_signal(SIGTERM));
  if (child_->wait_exit(grace)) return Status::ok();
  child_->kill9();
  return Status(StatusCode::kDeadlineExceeded,
                "mosquitto ignored SIGTERM and was killed:\n" + child_->describe());
}

Status MosquittoBroker::restart(std::chrono::milliseconds timeout) {
  SHOPEASY_RETURN_IF_ERROR(stop());
  return launch(timeout);
}

Status MosquittoBroker::kill9() {
  if (!is_running()) return Status::ok();
  if (!child_->kill9()) return internal_error("mosquitto could not be reaped after SIGKILL");
  return Status::ok();
}

bool MosquittoBroker::is_running() { return child_ && child_->is_running(); }

pid_t MosquittoBroker::pid() { return is_running() ? child_->pid() : -1; }

std::string MosquittoBroker::output() const { return child_ ? child_->output() : std::string(); }

}  // namespace shopeasy::testing
