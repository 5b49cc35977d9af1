// The shopeasy-edge-users command: manages the store's staff accounts in the user
// database directly (the daemon may be running; SQLite serializes the writers).
//   shopeasy-edge-users [--db PATH] add NAME ROLE      password on standard input
//   shopeasy-edge-users [--db PATH] passwd NAME        password on standard input
//   shopeasy-edge-users [--db PATH] set-role NAME ROLE
//   shopeasy-edge-users [--db PATH] disable NAME | enable NAME
//   shopeasy-edge-users [--db PATH] list [--json]
//   shopeasy-edge-users [--db PATH] audit [--actor A] [--action X] [--limit N]
//   shopeasy-edge-users [--db PATH] verify-audit
// Passwords are never taken from the command line, where other users could read them
// in the process list. The logic lives here, apart from main(), so tests run it
// in-process with string streams.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "common/clock/clock.hpp"
#include "common/security/password.hpp"

namespace shopeasy::security {

inline constexpr const char* kDefaultUsersDb = "/var/lib/shopeasy-edge/users.db";

struct UsersCliContext {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
  const Clock& clock;
  std::string operator_name;  // recorded in the audit log as "cli:<operator_name>"
  bool interactive = false;   // prompt on `err` and ask for the password twice
  PasswordParams password_params = {};
};

// Runs one command; `args` excludes the program name. Returns the exit code: 0 done,
// 1 the command failed (message on err), 2 bad usage.
int run_users_cli(const std::vector<std::string>& args, UsersCliContext& ctx);

}  // namespace shopeasy::security
