// Staff accounts of a store: users with a role and an Argon2id password hash, login
// sessions, and the audit log, in one SQLite file of their own (kept apart from the
// stock ledger so credentials can have tighter permissions and their own backups).
//
// A session token is 32 random bytes in hex, handed to the client once at login; only
// its SHA-256 is stored, so a copy of the database does not let anyone log in. A
// session dies at its expiry, when it is revoked (logout), when the user's password
// changes and when the user is disabled. Roles are read at every authentication, so a
// role change takes effect at once. Every change and every login attempt is written to
// the audit log.
//
// Thread-safety: every method may be called from any thread; database access is
// serialized, and password hashing (the slow part) runs outside the lock.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock/clock.hpp"
#include "common/http/auth.hpp"
#include "common/http/types.hpp"
#include "common/security/audit_log.hpp"
#include "common/security/guarded_db.hpp"
#include "common/security/password.hpp"
#include "common/status/status.hpp"

namespace shopeasy::security {

// The staff roles, most powerful first.
inline constexpr std::string_view kStaffRoles[] = {"admin", "manager", "picker", "viewer"};
bool is_staff_role(std::string_view role);
// A user name is 1..64 of [A-Za-z0-9._-], starting with a letter or digit.
bool is_valid_user_name(std::string_view name);

struct UserStoreOptions {
  std::string path;  // the SQLite file; created (mode 0600 under the service's umask)
  PasswordParams password_params;
  std::chrono::seconds session_ttl{std::chrono::hours(12)};
  // Beyond this many live sessions per user, login ends the oldest.
  std::size_t max_sessions_per_user = 16;
  bool durable = true;  // fsync every commit
  // Failed sign-ins written to the append-only audit log per minute, so a password
  // spray from many addresses cannot grow the file without bound; the ones past the
  // budget are counted in the next entry written ("suppressed_before").
  double failed_login_audits_per_minute = 30;
};

// Who performs a change, for the audit log.
struct Actor {
  std::string name;  // user or token name, or "cli:<unix user>"
  std::string role;
  std::string remote_addr;  // empty for local tools
};

struct User {
  std::string name;
  std::string role;
  bool disabled = false;
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
};

struct Session {
  std::string token;  // give to the client; never stored or logged
  std::string user;
  std::string role;
  WallTime expires_at;
};

class UserStore {
 public:
  // Opens (creating if missing) the database and brings its schema up to date.
  // kInvalidArgument for bad options (field names the option); kUnavailable when the
  // file cannot be opened; other errors as db::Database::open and db::migrate.
  // `clock` stamps rows and audit entries and must outlive the store.
  static StatusOr<std::unique_ptr<UserStore>> open(UserStoreOptions options, const Clock& clock);
  ~UserStore();
  UserStore(const UserStore&) = delete;
  UserStore& operator=(const UserStore&) = delete;

  // Creates a user. kInvalidArgument for a bad name, role or password (empty or over
  // kMaxPasswordBytes); kAlreadyExists if the name is taken.
  Status add_user(std::string_view name, std::string_view role, std::string_view password,
                  const Actor& by);
  // Replaces the password and ends all of the user's sessions. kNotFound for an
  // unknown user; kInvalidArgument for a bad password.
  Status set_password(std::string_view name, std::string_view password, const Actor& by);
  // Changes the role. kNotFound, kInvalidArgument for an unknown role;
  // kFailedPrecondition if it would leave no enabled admin.
  Status set_role(std::string_view name, std::string_view role, const Actor& by);
  // Disables the user and ends their sessions; they cannot log in until enabled.
  // kNotFound; kFailedPrecondition if it would leave no enabled admin.
  Status disable_user(std::string_view name, const Actor& by);
  // Lets a disabled user log in again. kNotFound.
  Status enable_user(std::string_view name, const Actor& by);
  // Every user, by name.
  StatusOr<std::vector<User>> list_users() const;
  // One user. kNotFound.
  StatusOr<User> get_user(std::string_view name) const;

  // Checks the password and opens a session valid for session_ttl from `now`.
  // kUnauthenticated with one message for an unknown user, a wrong password and a
  // disabled account (so the answer does not reveal which names exist); unknown names
  // cost as much time as known ones. A hash made with older parameters is replaced.
  StatusOr<Session> login(std::string_view name, std::string_view password, WallTime now,
                          std::string_view remote_addr = {});
  // The principal of a live session token. kUnauthenticated for a malformed, unknown,
  // revoked or expired token or a disabled user; kUnavailable if the database is busy.
  StatusOr<http::Principal> authenticate(std::string_view token, WallTime now) const;
  // Ends one session (logout). kNotFound if the token is not a live session.
  Status revoke_session(std::string_view token, const Actor& by);
  // Ends every session of `name`; returns how many there were.
  StatusOr<std::int64_t> revoke_user_sessions(std::string_view name, const Actor& by);
  // Deletes sessions expired at `now`; returns how many. login() also does this.
  StatusOr<std::int64_t> purge_expired_sessions(WallTime now);

  // The audit log in the same database.
  AuditLog& audit() { return audit_; }
  const AuditLog& audit() const { return audit_; }

 private:
  UserStore(UserStoreOptions options, const Clock& clock, std::shared_ptr<detail::GuardedDb> db,
            std::string dummy_hash);
  Status check_not_last_admin(std::string_view name) REQUIRES(db_->mutex);
  void audit_best_effort(const Actor& by, std::string_view action, std::string_view target,
                         const nlohmann::json& details);
  // Records a failed sign-in within the per-minute budget.
  void audit_failed_login(const Actor& attempt, std::string_view reason) EXCLUDES(failed_audit_mu_);

  UserStoreOptions options_;
  const Clock& clock_;
  std::shared_ptr<detail::GuardedDb> db_;
  AuditLog audit_;
  // A hash of a random password with the current parameters: login() verifies
  // against it for unknown names so they take as long as known ones.
  std::string dummy_hash_;

  sync::Mutex failed_audit_mu_;  // guards the three fields below
  double failed_audit_tokens_ GUARDED_BY(failed_audit_mu_);
  MonoTime failed_audit_refilled_ GUARDED_BY(failed_audit_mu_){};
  std::int64_t failed_audits_suppressed_ GUARDED_BY(failed_audit_mu_) = 0;
};

// The cookie the staff web page keeps its session in (HttpOnly, SameSite=Strict).
inline constexpr std::string_view kSessionCookie = "shopeasy_session";
// The session cookie's value in `request`, or empty.
std::string session_cookie(const http::Request& request);

// An http::Authenticator for "Authorization: Bearer <session token>", or for GET and
// HEAD requests also the session cookie. Requests whose
// token is not a live session go to `fallback` (e.g. the configured TokenAuthenticator
// for machine clients) when one is given. The store, clock and fallback must outlive
// it. Thread-safe.
class SessionAuthenticator final : public http::Authenticator {
 public:
  SessionAuthenticator(const UserStore& store, const Clock& clock,
                       const http::Authenticator* fallback = nullptr)
      : store_(store), clock_(clock), fallback_(fallback) {}
  StatusOr<http::Principal> authenticate(const http::Request& request) const override;

 private:
  const UserStore& store_;
  const Clock& clock_;
  const http::Authenticator* fallback_;
};

}  // namespace shopeasy::security
