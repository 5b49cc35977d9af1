// MosquittoBroker: a real mosquitto MQTT broker for integration tests, listening on
// 127.0.0.1 on a port of its own, configured from a generated file in a private
// TempDir (config, password file, ACL file, persistence database and log all live
// there). It can be stopped, killed and restarted on the same port to test how the
// daemons ride out broker outages.
//
// The mosquitto binary is taken from the environment variable SHOPEASY_MOSQUITTO if
// set, else /usr/sbin/mosquitto, else the first "mosquitto" in PATH. Password files are
// made with mosquitto_passwd from PATH.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status/status.hpp"
#include "tests/harness/child_process.hpp"
#include "tests/harness/temp_dir.hpp"

namespace shopeasy::testing {

// Meant for designated initializers: MosquittoBroker::start({.allow_anonymous = false}).
struct MosquittoOptions {
  bool allow_anonymous = true;
  // user -> password. Non-empty: a password file is generated and required of clients
  // that send a user name. Names must be non-empty without ':'; neither may hold a newline.
  std::map<std::string, std::string> users{};
  // Text of an ACL file (mosquitto acl_file syntax); empty means no ACL file.
  std::string acl{};
  // Keep retained messages and sessions across stop()/restart() (saved on SIGTERM).
  bool persistence = false;
  // Appended verbatim to the generated configuration, one entry per line.
  std::vector<std::string> extra_config{};
};

class MosquittoBroker {
 public:
  // Starts the broker and waits until it accepts connections. kInvalidArgument for bad
  // options, kNotFound if mosquitto is not installed, kUnavailable if it exits during
  // start-up and kDeadlineExceeded if it does not come up within `timeout`; the message
  // carries the broker's output.
  static StatusOr<MosquittoBroker> start(
      MosquittoOptions options = {}, std::chrono::milliseconds timeout = std::chrono::seconds(10));

  MosquittoBroker(MosquittoBroker&& other) noexcept;
  MosquittoBroker& operator=(MosquittoBroker&& other) noexcept;
  MosquittoBroker(const MosquittoBroker&) = delete;
  MosquittoBroker& operator=(const MosquittoBroker&) = delete;
  // Kills the broker (if running) and removes its directory.
  ~MosquittoBroker();

  const std::string& host() const { return host_; }
  int port() const { return port_; }
  // "tcp://127.0.0.1:<port>"
  std::string url() const;
  // The broker's private directory: mosquitto.conf, passwd, acl, mosquitto.db,
  // mosquitto.log (output of every run, appended).
  const std::filesystem::path& config_dir() const { return dir_.path(); }
  std::filesystem::path config_file() const;

  // Graceful stop: SIGTERM (mosquitto then saves its persistence database) and wait up
  // to `grace`. kDeadlineExceeded if it had to be SIGKILLed instead. OK if not running.
  Status stop(std::chrono::milliseconds grace = std::chrono::seconds(15));
  // Stops the broker if it runs (gracefully) and starts it again on the same port with
  // the same configuration, waiting until it accepts connections. Errors as in start();
  // kUnavailable if the port has been taken meanwhile.
  Status restart(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Crash: SIGKILL without letting the broker save anything. OK if not running.
  Status kill9();
  bool is_running();
  // The broker process id while it runs, else -1.
  pid_t pid();
  // Captured output of the current (or last) broker process.
  std::string output() const;

 private:
  MosquittoBroker(TempDir dir, std::filesystem::path binary);
  Status launch(std::chrono::milliseconds timeout);

  TempDir dir_;
  std::filesystem::path binary_;
  std::string host_ = "127.0.0.1";
  int port_ = 0;
  // Declared after dir_ so the process is gone before its directory is removed.
  std::optional<ChildProcess> child_;
};

}  // namespace shopeasy::testing
