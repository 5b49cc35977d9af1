// shopeasy-edge-users: see users_cli.hpp. This file holds only what touches the
// terminal and the process: echo-less password entry, the umask, the operator's name
// and the refusal to create root-owned files the daemon could not open.
#include <pwd.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "common/clock/clock.hpp"
#include "common/config/config.hpp"
#include "common/security/cli/users_cli.hpp"

namespace {

// Turns terminal echo off while alive, so a typed password is not shown.
class EchoOff {
 public:
  EchoOff() {
    if (::tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios quiet = saved_;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    active_ = ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
  }
  ~EchoOff() {
    if (active_) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

 private:
  termios saved_{};
  bool active_ = false;
};

std::string operator_name() {
  const auto env = shopeasy::config::process_environment();
  std::string name = "uid" + std::to_string(::getuid());
  if (const passwd* pw = ::getpwuid(::getuid()); pw != nullptr && pw->pw_name != nullptr) {
    name = pw->pw_name;
  }
  if (auto it = env.find("SUDO_USER"); it != env.end() && !it->second.empty()) {
    name = it->second + "(sudo)";
  }
  return name;
}

std::string db_path(const std::vector<std::string>& args) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--db" && i + 1 < args.size()) return args[i + 1];
    if (args[i].rfind("--db=", 0) == 0) return args[i].substr(5);
  }
  return shopeasy::security::kDefaultUsersDb;
}

// Root would create the database (or its -wal/-shm files) owned by root, which the
// daemon's own user then cannot write.
std::optional<std::string> root_owned_risk(const std::string& path) {
  if (::geteuid() != 0) return std::nullopt;
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::absolute(path, ec).parent_path();
  struct stat st {};
  if (ec || ::stat(dir.c_str(), &st) != 0 || st.st_uid == 0) return std::nullopt;
  const passwd* owner = ::getpwuid(st.st_uid);
  const std::string who = owner != nullptr ? owner->pw_name : std::to_string(st.st_uid);
  return "refusing to run as root on a database in " + dir.string() + " (owned by " + who +
         "); run it as that user: runuser -u " + who + " -- shopeasy-edge-users ...";
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  ::umask(077);
  bool wants_help = false;
  for (const auto& a : args) wants_help = wants_help || a == "--help" || a == "-h";
  if (!wants_help) {
    if (auto risk = root_owned_risk(db_path(args))) {
      std::cerr << "shopeasy-edge-users: " << *risk << "\n";
      return 1;
    }
  }
  shopeasy::SystemClock clock;
  const bool tty = ::isatty(STDIN_FILENO) == 1;
  std::optional<EchoOff> echo_off;
  if (tty) echo_off.emplace();
  shopeasy::security::UsersCliContext ctx{std::cin, std::cout,       std::cerr,
                                          clock,    operator_name(), tty};
  return shopeasy::security::run_users_cli(args, ctx);
}
