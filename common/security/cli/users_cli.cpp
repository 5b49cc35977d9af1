#include "common/security/cli/users_cli.hpp"

#include <charconv>
#include <deque>
#include <istream>
#include <ostream>

#include "common/security/user_store.hpp"

namespace shopeasy::security {

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

constexpr const char* kUsage =
    "usage: shopeasy-edge-users [--db PATH] COMMAND\n"
    "  add NAME ROLE        create a user (ROLE: admin, manager, picker, viewer)\n"
    "  passwd NAME          set a new password and end the user's sessions\n"
    "  set-role NAME ROLE   change a user's role\n"
    "  disable NAME         block logins and end the user's sessions\n"
    "  enable NAME          allow logins again\n"
    "  list [--json]        show every user\n"
    "  audit [--actor A] [--action X] [--limit N]\n"
    "                       print the newest audit entries as JSON lines\n"
    "  verify-audit         check the audit log's hash chain\n"
    "Passwords are read from standard input (one line), never from arguments.\n"
    "--db defaults to /var/lib/shopeasy-edge/users.db.\n";

int usage_error(UsersCliContext& ctx, const std::string& message) {
  ctx.err << "shopeasy-edge-users: " << message << "\n" << kUsage;
  return kExitUsage;
}

int failed(UsersCliContext& ctx, const Status& status) {
  ctx.err << "shopeasy-edge-users: " << status.message() << "\n";
  return kExitFailed;
}

StatusOr<std::string> read_line(UsersCliContext& ctx, const char* prompt) {
  if (ctx.interactive) ctx.err << prompt << std::flush;
  std::string line;
  const bool got = static_cast<bool>(std::getline(ctx.in, line));
  if (ctx.interactive) ctx.err << "\n";
  if (!got && line.empty()) return invalid_argument("no password on standard input");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

StatusOr<std::string> read_password(UsersCliContext& ctx) {
  auto first = read_line(ctx, "New password: ");
  if (!first.ok()) return first.status();
  if (first->empty()) return invalid_argument("the password must not be empty");
  if (first->size() > kMaxPasswordBytes) {
    return invalid_argument("the password must be at most 1024 bytes");
  }
  if (ctx.interactive) {
    auto second = read_line(ctx, "Repeat password: ");
    if (!second.ok()) return second.status();
    if (*second != *first) return invalid_argument("the passwords do not match");
  }
  return first;
}

void print_users(UsersCliContext& ctx, const std::vector<User>& users, bool json) {
  if (json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& u : users) {
      arr.push_back({{"name", u.name},
                     {"role", u.role},
                     {"disabled", u.disabled},
                     {"created", format_rfc3339(from_unix_ms(u.created_ms))},
                     {"updated", format_rfc3339(from_unix_ms(u.updated_ms))}});
    }
    ctx.out << arr.dump(2) << "\n";
    return;
  }
  for (const auto& u : users) {
    ctx.out << u.name << "\t" << u.role << "\t" << (u.disabled ? "disabled" : "enabled") << "\t"
            << format_rfc3339(from_unix_ms(u.updated_ms)) << "\n";
  }
}

}  // namespace

int run_users_cli(const std::vector<std::string>& args, UsersCliContext& ctx) {
  std::string db_path = kDefaultUsersDb;
  std::vector<std::string> rest;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      ctx.out << kUsage;
      return kExitOk;
    }
    if (a == "--db") {
      if (i + 1 >= args.size()) return usage_error(ctx, "--db needs a path");
      db_path = args[++i];
    } else if (a.rfind("--db=", 0) == 0) {
      db_path = a.substr(5);
    } else {
      rest.push_back(a);
    }
  }
  if (rest.empty()) return usage_error(ctx, "no command given");
  if (db_path.empty()) return usage_error(ctx, "--db must not be empty");
  const std::string command = rest[0];
  const std::vector<std::string> operands(rest.begin() + 1, rest.end());

  auto expect = [&](std::size_t n) { return operands.size() == n; };
  bool json = false;
  AuditQuery audit_query;
  audit_query.limit = 50;
  if (command == "add" || command == "set-role") {
    if (!expect(2)) return usage_error(ctx, command + " needs NAME and ROLE");
  } else if (command == "passwd" || command == "disable" || command == "enable") {
    if (!expect(1)) return usage_error(ctx, command + " needs NAME");
  } else if (command == "list") {
    for (const auto& o : operands) {
      if (o != "--json") return usage_error(ctx, "unexpected argument '" + o + "'");
      json = true;
    }
  } else if (command == "audit") {
    for (std::size_t i = 0; i < operands.size(); ++i) {
      const std::string& o = operands[i];
      if (i + 1 >= operands.size()) return usage_error(ctx, "unexpected argument '" + o + "'");
      const std::string& v = operands[++i];
      if (o == "--actor") {
        audit_query.actor = v;
      } else if (o == "--action") {
        audit_query.action = v;
      } else if (o == "--limit") {
        int n = 0;
        const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (ec != std::errc() || end != v.data() + v.size() || n < 1 || n > 1000) {
          return usage_error(ctx, "--limit must be 1..1000");
        }
        audit_query.limit = n;
      } else {
        return usage_error(ctx, "unexpected argument '" + o + "'");
      }
    }
  } else if (command == "verify-audit") {
    if (!expect(0)) return usage_error(ctx, "verify-audit takes no arguments");
  } else {
    return usage_error(ctx, "unknown command '" + command + "'");
  }

  // Validate before asking for a password or touching the database.
  if ((command == "add" || command == "set-role") && !is_staff_role(operands[1])) {
    return usage_error(ctx, "ROLE must be one of admin, manager, picker, viewer");
  }
  if (!operands.empty() && command != "audit" && command != "list" &&
      !is_valid_user_name(operands[0])) {
    return usage_error(ctx,
                       "NAME must be 1 to 64 letters, digits, '.', '_' or '-', starting with a "
                       "letter or digit");
  }
  std::string password;
  if (command == "add" || command == "passwd") {
    auto pw = read_password(ctx);
    if (!pw.ok()) return failed(ctx, pw.status());
    password = std::move(*pw);
  }

  UserStoreOptions opts;
  opts.path = db_path;
  opts.password_params = ctx.password_params;
  auto store = UserStore::open(opts, ctx.clock);
  if (!store.ok()) return failed(ctx, store.status());
  const Actor by{"cli:" + ctx.operator_name, "admin", ""};
  UserStore& users = **store;

  if (command == "add") {
    Status st = users.add_user(operands[0], operands[1], password, by);
    if (!st.is_ok()) return failed(ctx, st);
    ctx.out << "added " << operands[0] << " (" << operands[1] << ")\n";
  } else if (command == "passwd") {
    Status st = users.set_password(operands[0], password, by);
    if (!st.is_ok()) return failed(ctx, st);
    ctx.out << "password changed for " << operands[0] << "; their sessions were ended\n";
  } else if (command == "set-role") {
    Status st = users.set_role(operands[0], operands[1], by);
    if (!st.is_ok()) return failed(ctx, st);
    ctx.out << operands[0] << " is now " << operands[1] << "\n";
  } else if (command == "disable") {
    Status st = users.disable_user(operands[0], by);
    if (!st.is_ok()) return failed(ctx, st);
    ctx.out << "disabled " << operands[0] << "; their sessions were ended\n";
  } else if (command == "enable") {
    Status st = users.enable_user(operands[0], by);
    if (!st.is_ok()) return failed(ctx, st);
    ctx.out << "enabled " << operands[0] << "\n";
  } else if (command == "list") {
    auto list = users.list_users();
    if (!list.ok()) return failed(ctx, list.status());
    print_users(ctx, *list, json);
  } else if (command == "audit") {
    // Newest entries: page forward from the point `limit` entries before the end.
    AuditQuery probe = audit_query;
    std::deque<AuditEntry> window;
    for (;;) {
      auto page = users.audit().query(probe);
      if (!page.ok()) return failed(ctx, page.status());
      for (auto& e : page->entries) {
        window.push_back(std::move(e));
        if (static_cast<int>(window.size()) > audit_query.limit) window.pop_front();
      }
      if (!page->more) break;
      probe.cursor = page->next_cursor;
    }
    for (const auto& e : window) {
      ctx.out
          << nlohmann::json{{"id", e.id},           {"ts", format_rfc3339(from_unix_ms(e.ts_ms))},
                            {"actor", e.actor},     {"role", e.role},
                            {"action", e.action},   {"target", e.target},
                            {"details", e.details}, {"remote_addr", e.remote_addr}}
                 .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
          << "\n";
    }
  } else if (command == "verify-audit") {
    auto head = users.audit().verify_chain();
    if (!head.ok()) return failed(ctx, head.status());
    ctx.out << "audit log intact; head " << (head->empty() ? "(empty)" : *head) << "\n";
  }
  return kExitOk;
}

}  // namespace shopeasy::security
