#include "common/security/user_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include "common/db/migration.hpp"
#include "common/security/encoding.hpp"
#include "common/security/guarded_db.hpp"

namespace shopeasy::security {

namespace {

constexpr std::size_t kTokenBytes = 32;
constexpr std::string_view kBadLogin = "unknown user name or wrong password";

const db::Migration kMigrations[] = {
    {1, "staff_users",
     R"sql(
CREATE TABLE users (
  name TEXT PRIMARY KEY NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
  role TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'picker', 'viewer')),
  password_hash TEXT NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY NOT NULL,
  user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL
);
CREATE INDEX sessions_by_user ON sessions(user_name, created_ms);
CREATE INDEX sessions_by_expiry ON sessions(expires_ms);
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY,
  ts_ms INTEGER NOT NULL,
  actor TEXT NOT NULL,
  role TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  details TEXT NOT NULL DEFAULT '{}',
  remote_addr TEXT NOT NULL DEFAULT '',
  chain TEXT NOT NULL
);
CREATE INDEX audit_by_ts ON audit_log(ts_ms);
CREATE INDEX audit_by_actor ON audit_log(actor, id);
CREATE INDEX audit_by_action ON audit_log(action, id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
)sql"},
};

Status unauthenticated(std::string message) {
  return Status(StatusCode::kUnauthenticated, std::move(message));
}

bool is_token_shape(std::string_view token) {
  return token.size() == 2 * kTokenBytes && std::all_of(token.begin(), token.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

Status check_password(std::string_view password) {
  if (password.empty()) return invalid_argument("password must not be empty", "password");
  if (password.size() > kMaxPasswordBytes) {
    return invalid_argument("password must be at most 1024 bytes", "password");
  }
  return Status::ok();
}

Status check_name(std::string_view name) {
  if (!is_valid_user_name(name)) {
    return invalid_argument(
        "user name must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or "
        "digit",
        "name");
  }
  return Status::ok();
}

Status check_role(std::string_view role) {
  if (!is_staff_role(role)) {
    return invalid_argument("role must be one of admin, manager, picker, viewer", "role");
  }
  return Status::ok();
}

// An empty file is a valid empty SQLite database; creating it first fixes its mode,
// and SQLite gives the -wal and -shm files the same mode.
Status create_private_file(const std::string& path) {
  if (path == ":memory:") return Status::ok();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
    return Status::ok();
  }
  if (errno == EEXIST) return Status::ok();
  return unavailable("cannot create " + path + ": " + std::strerror(errno));
}

// The attempted name goes into the audit log only if it could be a user name, so a
// password typed into the name field is not recorded.
std::string loggable_name(std::string_view name) {
  return is_valid_user_name(name) ? std::string(name) : std::string("<invalid>");
}

}  // namespace

bool is_staff_role(std::string_view role) {
  return std::find(std::begin(kStaffRoles), std::end(kStaffRoles), role) != std::end(kStaffRoles);
}

bool is_valid_user_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  if (!std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

StatusOr<std::unique_ptr<UserStore>> UserStore::open(UserStoreOptions options, const Clock& clock) {
  if (options.path.empty()) return invalid_argument("path must not be empty", "path");
  // Short sessions are allowed for shared kiosks (and tests); a month is the longest.
  if (options.session_ttl < std::chrono::seconds(1) ||
      options.session_ttl > std::chrono::hours(24 * 30)) {
    return invalid_argument("session_ttl must be between 1 second and 30 days", "session_ttl");
  }
  if (options.max_sessions_per_user < 1 || options.max_sessions_per_user > 1000) {
    return invalid_argument("max_sessions_per_user must be 1..1000", "max_sessions_per_user");
  }
  Status params = options.password_params.validate();
  if (!params.is_ok()) return params.with_field_prefix("password_params");

  SHOPEASY_RETURN_IF_ERROR(create_private_file(options.path));
  db::OpenOptions oo;
  oo.synchronous = options.durable ? db::Synchronous::kFull : db::Synchronous::kNormal;
  auto database = db::Database::open(options.path, oo);
  if (!database.ok()) return database.status();
  SHOPEASY_RETURN_IF_ERROR(db::migrate(*database, kMigrations, clock));

  auto secret = random_hex(16);
  if (!secret.ok()) return secret.status();
  auto dummy = hash_password(*secret, options.password_params);
  if (!dummy.ok()) return dummy.status();

  auto shared = std::make_shared<detail::GuardedDb>(std::move(*database));
  return std::unique_ptr<UserStore>(
      new UserStore(std::move(options), clock, std::move(shared), std::move(*dummy)));
}

UserStore::UserStore(UserStoreOptions options, const Clock& clock,
                     std::shared_ptr<detail::GuardedDb> db, std::string dummy_hash)
    : options_(std::move(options)),
      clock_(clock),
      db_(db),
      audit_(std::move(db), clock),
      dummy_hash_(std::move(dummy_hash)),
      failed_audit_tokens_(options_.failed_login_audits_per_minute),
      failed_audit_refilled_(clock.mono_now()) {}

UserStore::~UserStore() = default;

Status UserStore::add_user(std::string_view name, std::string_view role, std::string_view password,
                           const Actor& by) {
  SHOPEASY_RETURN_IF_ERROR(check_name(name));
  SHOPEASY_RETURN_IF_ERROR(check_role(role));
  SHOPEASY_RETURN_IF_ERROR(check_password(password));
  auto hash = hash_password(password, options_.password_params);
  if (!hash.ok()) return hash.status();
  const std::int64_t now = to_unix_ms(clock_.wall_now());

  sync::MutexLock lock(db_->mutex);
  auto tx = db_->db.begin();
  if (!tx.ok()) return tx.status();
  Status inserted = db_->db.run(
      "INSERT INTO users (name, role, password_hash, disabled, created_ms, updated_ms) "
      "VALUES (?, ?, ?, 0, ?, ?)",
      std::string(name), std::string(role), *hash, now, now);
  if (inserted.code() == StatusCode::kAlreadyExists) {
    return Status(StatusCode::kAlreadyExists, "user '" + std::string(name) + "' already exists",
                  "name");
  }
  SHOPEASY_RETURN_IF_ERROR(inserted);
  auto logged = audit_.record_locked(*db_, by.name, by.role, "user.add", name, {{"role", role}},
                                     by.remote_addr);
  if (!logged.ok()) return logged.status();
  return tx->commit();
}

Status UserStore::set_password(std::string_view name, std::string_view password, const Actor& by) {
  SHOPEASY_RETURN_IF_ERROR(check_name(name));
  SHOPEASY_RETURN_IF_ERROR(check_password(password));
  auto hash = hash_password(password, options_.password_params);
  if (!hash.ok()) return hash.status();
  const std::int64_t now = to_unix_ms(clock_.wall_now());

  sync::MutexLock lock(db_->mutex);
  auto tx = db_->db.begin();
  if (!tx.ok()) return tx.status();
  SHOPEASY_RETURN_IF_ERROR(
      db_->db.run("UPDATE users SET password_hash = ?, updated_ms = ? WHERE name = ?", *hash, now,
                  std::string(name)));
  if (db_->db.changes() == 0) return not_found("no user '" + std::string(name) + "'");
  SHOPEASY_RETURN_IF_ERROR(
      db_->db.run("DELETE FROM sessions WHERE user_name = ?", std::string(name)));
  const std::int64_t ended = db_->db.changes();
  auto logged = audit_.record_locked(*db_, by.name, by.role, "user.password", name,
                                     {{"sessions_ended", ended}}, by.remote_addr);
  if (!logged.ok()) return logged.status();
  return tx->commit();
}

Status UserStore::check_not_last_admin(std::string_view name) {
  auto is_admin = db_->db.query_one<std::int64_t>(
      "SELECT count(*) FROM users WHERE name = ? AND role = 'admin' AND disabled = 0",
      std::string(name));
  if (!is_admin.ok()) return is_admin.status();
  if (is_admin->value_or(0) == 0) return Status::ok();
  auto others = db_->db.query_one<std::int64_t>(
      "SELECT count(*) FROM users WHERE name != ? AND role = 'admin' AND disabled = 0",
      std::string(name));
  if (!others.ok()) return others.status();
  if (others->value_or(0) == 0) {
    return failed_precondition("'" + std::string(name) +
                               "' is the last enabled admin; add or enable another admin first");
  }
  return Status::ok();
}

Status UserStore::set_role(std::string_view name, std::string_view role, const Actor& by) {
  SHOPEASY_RETURN_IF_ERROR(check_name(name));
  SHOPEASY_RETURN_IF_ERROR(check_role(role));
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  sync::MutexLock lock(db_->mutex);
  auto tx = db_->db.begin();
  if (!tx.ok()) return tx.status();
  auto old_role =
      db_->db.query_one<std::string>("SELECT role FROM users WHERE name = ?", std::string(name));
  if (!old_role.ok()) return old_role.status();
  if (!old_role->has_value()) return not_found("no user '" + std::string(name) + "'");
  if (**old_role == role) return Status::ok();
  if (role != "admin") SHOPEASY_RETURN_IF_ERROR(check_not_last_admin(name));
  SHOPEASY_RETURN_IF_ERROR(db_->db.run("UPDATE users SET role = ?, updated_ms = ? WHERE name = ?",
                                       std::string(role), now, std::string(name)));
  auto logged = audit_.record_locked(*db_, by.name, by.role, "user.role", name,
                                     {{"from", **old_role}, {"to", role}}, by.remote_addr);
  if (!logged.ok()) return logged.status();
  return tx->commit();
}

Status UserStore::disable_user(std::string_view name, const Actor& by) {
  SHOPEASY_RETURN_IF_ERROR(check_name(name));
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  sync::MutexLock lock(db_->mutex);
  auto tx = db_->db.begin();
  if (!tx.ok()) return tx.status();
  SHOPEASY_RETURN_IF_ERROR(check_not_last_admin(name));
  SHOPEASY_RETURN_IF_ERROR(db_->db.run(
      "UPDATE users SET disabled = 1, updated_ms = ? WHERE name = ?", now, std::string(name)));
  if (db_->db.changes() == 0) return not_found("no user '" + std::string(name) + "'");
  SHOPEASY_RETURN_IF_ERROR(
      db_->db.run("DELETE FROM sessions WHERE user_name = ?", std::string(name)));
  const std::int64_t ended = db_->db.changes();
  auto logged = audit_.record_locked(*db_, by.name, by.role, "user.disable", name,
                                     {{"sessions_ended", ended}}, by.remote_addr);
  if (!logged.ok()) return logged.status();
  return tx->commit();
}

Status UserStore::enable_user(std::string_view name, const Actor& by) {
  SHOPEASY_RETURN_IF_ERROR(check_name(name));
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  sync::MutexLock lock(db_->mutex);
  auto tx = db_->db.begin();
  if (!tx.ok()) return tx.status();
  SHOPEASY_RETURN_IF_ERROR(db_->db.run(
      "UPDATE users SET disabled = 0, updated_ms = ? WHERE name = ?", now, std::string(name)));
  if (db_->db.changes() == 0) return not_found("no user '" + std::string(name) + "'");
  auto logged = audit_.record_locked(*db_, by.name, by.role, "user.enable", name,
                                     nlohmann::json::object(), by.remote_addr);
  if (!logged.ok()) return logged.status();
  return tx->commit();
}

StatusOr<std::vector<User>> UserStore::list_users() const {
  std::vector<User> users;
  sync::MutexLock lock(db_->mutex);
  auto rows =
      db_->db.query("SELECT name, role, disabled, created_ms, updated_ms FROM users ORDER BY name");
  while (const auto* row = rows.next()) {
    users.push_back(User{row->column_text(0), row->column_text(1), row->column_int64(2) != 0,
                         row->column_int64(3), row->column_int64(4)});
  }
  SHOPEASY_RETURN_IF_ERROR(rows.status());
  return users;
}

StatusOr<User> UserStore::get_user(std::string_view name) const {
  sync::MutexLock lock(db_->mutex);
  auto rows =
      db_->db.query("SELECT name, role, disabled, created_ms, updated_ms FROM users WHERE name = ?",
                    std::string(name));
  if (const auto* row = rows.next()) {
    return User{row->column_text(0), row->column_text(1), row->column_int64(2) != 0,
                row->column_int64(3), row->column_int64(4)};
  }
  SHOPEASY_RETURN_IF_ERROR(rows.status());
  return not_found("no user '" + std::string(name) + "'");
}

void UserStore::audit_best_effort(const Actor& by, std::string_view action, std::string_view target,
                                  const nlohmann::json& details) {
  // A failed-login entry that cannot be written must not turn a 401 into a 503.
  (void)audit_.record(by.name, by.role, action, target, details, by.remote_addr);
}

void UserStore::audit_failed_login(const Actor& attempt, std::string_view reason) {
  std::int64_t suppressed = 0;
  {
    sync::MutexLock lock(failed_audit_mu_);
    const double per_minute = options_.failed_login_audits_per_minute;
    const MonoTime now = clock_.mono_now();
    const double elapsed_s = std::chrono::duration<double>(now - failed_audit_refilled_).count();
    failed_audit_refilled_ = now;
    failed_audit_tokens_ = std::min(per_minute, failed_audit_tokens_ + elapsed_s * per_minute / 60);
    if (failed_audit_tokens_ < 1) {
      ++failed_audits_suppressed_;
      return;
    }
    failed_audit_tokens_ -= 1;
    suppressed = std::exchange(failed_audits_suppressed_, 0);
  }
  nlohmann::json details = {{"reason", reason}};
  if (suppressed > 0) details["suppressed_before"] = suppressed;
  audit_best_effort(attempt, "session.login_failed", attempt.name, details);
}

StatusOr<Session> UserStore::login(std::string_view name, std::string_view password, WallTime now,
                                   std::string_view remote_addr) {
  const Actor attempt{loggable_name(name), "", std::string(remote_addr)};
  if (password.empty() || password.size() > kMaxPasswordBytes || !is_valid_user_name(name)) {
    audit_failed_login(attempt, "malformed");
    return unauthenticated(std::string(kBadLogin));
  }
  struct Row {
    std::string role;
    std::string hash;
    bool disabled = false;
  };
  std::optional<Row> user;
  {
    sync::MutexLock lock(db_->mutex);
    auto rows = db_->db.query("SELECT role, password_hash, disabled FROM users WHERE name = ?",
                              std::string(name));
    if (const auto* row = rows.next()) {
      user = Row{row->column_text(0), row->column_text(1), row->column_int64(2) != 0};
    }
    SHOPEASY_RETURN_IF_ERROR(rows.status());
  }
  // The slow hash runs outside the lock, and runs for unknown names too.
  auto match = verify_password(password, user ? user->hash : dummy_hash_);
  if (!match.ok() && match.status().code() != StatusCode::kInvalidArgument) return match.status();
  const bool good = user.has_value() && match.ok() && *match;
  if (!good || user->disabled) {
    const char* reason = !user ? "unknown_user" : !good ? "wrong_password" : "disabled";
    audit_failed_login(attempt, reason);
    return unauthenticated(std::string(kBadLogin));
  }

  std::optional<std::string> rehashed;
  if (needs_rehash(user->hash, options_.password_params)) {
    auto fresh = hash_password(password, options_.password_params);
    if (fresh.ok()) rehashed = std::move(*fresh);
  }
  auto token = random_hex(kTokenBytes);
  if (!token.ok()) return token.status();
  const std::int64_t now_ms = to_unix_ms(now);
  const std::int64_t expires_ms =
      now_ms + std::chrono::duration_cast<std::chrono::milliseconds>(options_.session_ttl).count();

  sync::MutexLock lock(db_->mutex);
  auto tx = db_->db.begin();
  if (!tx.ok()) return tx.status();
  SHOPEASY_RETURN_IF_ERROR(db_->db.run("DELETE FROM sessions WHERE expires_ms <= ?", now_ms));
  SHOPEASY_RETURN_IF_ERROR(db_->db.run(
      "INSERT INTO sessions (token_hash, user_name, created_ms, expires_ms) VALUES (?, ?, ?, ?)",
      http::sha256_hex(*token), std::string(name), now_ms, expires_ms));
  SHOPEASY_RETURN_IF_ERROR(db_->db.run(
      "DELETE FROM sessions WHERE user_name = ?1 AND token_hash NOT IN (SELECT token_hash FROM "
      "sessions WHERE user_name = ?1 ORDER BY created_ms DESC, rowid DESC LIMIT ?2)",
      std::string(name), static_cast<std::int64_t>(options_.max_sessions_per_user)));
  if (rehashed) {
    // Only if the hash is still the one just verified, so a concurrent password change
    // wins.
    SHOPEASY_RETURN_IF_ERROR(
        db_->db.run("UPDATE users SET password_hash = ? WHERE name = ? AND password_hash = ?",
                    *rehashed, std::string(name), user->hash));
  }
  auto logged = audit_.record_locked(*db_, name, user->role, "session.login", name,
                                     {{"expires_ms", expires_ms}}, remote_addr);
  if (!logged.ok()) return logged.status();
  SHOPEASY_RETURN_IF_ERROR(tx->commit());
  return Session{std::move(*token), std::string(name), user->role, from_unix_ms(expires_ms)};
}

StatusOr<http::Principal> UserStore::authenticate(std::string_view token, WallTime now) const {
  if (!is_token_shape(token)) return unauthenticated("malformed session token");
  sync::MutexLock lock(db_->mutex);
  auto rows = db_->db.query(
      "SELECT s.user_name, s.expires_ms, u.role, u.disabled FROM sessions s "
      "JOIN users u ON u.name = s.user_name WHERE s.token_hash = ?",
      http::sha256_hex(token));
  const auto* row = rows.next();
  if (row == nullptr) {
    SHOPEASY_RETURN_IF_ERROR(rows.status());
    return unauthenticated("unknown or revoked session");
  }
  if (row->column_int64(1) <= to_unix_ms(now)) return unauthenticated("session expired");
  if (row->column_int64(3) != 0) return unauthenticated("unknown or revoked session");
  return http::Principal{row->column_text(0), row->column_text(2)};
}

Status UserStore::revoke_session(std::string_view token, const Actor& by) {
  if (!is_token_shape(token)) return not_found("no such session");
  sync::MutexLock lock(db_->mutex);
  auto tx = db_->db.begin();
  if (!tx.ok()) return tx.status();
  auto owner = db_->db.query_one<std::string>("SELECT user_name FROM sessions WHERE token_hash = ?",
                                              http::sha256_hex(token));
  if (!owner.ok()) return owner.status();
  if (!owner->has_value()) return not_found("no such session");
  SHOPEASY_RETURN_IF_ERROR(
      db_->db.run("DELETE FROM sessions WHERE token_hash = ?", http::sha256_hex(token)));
  auto logged = audit_.record_locked(*db_, by.name, by.role, "session.logout", **owner,
                                     nlohmann::json::object(), by.remote_addr);
  if (!logged.ok()) return logged.status();
  return tx->commit();
}

StatusOr<std::int64_t> UserStore::revoke_user_sessions(std::string_view name, const Actor& by) {
  sync::MutexLock lock(db_->mutex);
  auto tx = db_->db.begin();
  if (!tx.ok()) return tx.status();
  SHOPEASY_RETURN_IF_ERROR(
      db_->db.run("DELETE FROM sessions WHERE user_name = ?", std::string(name)));
  const std::int64_t ended = db_->db.changes();
  auto logged = audit_.record_locked(*db_, by.name, by.role, "session.revoke_all", name,
                                     {{"sessions_ended", ended}}, by.remote_addr);
  if (!logged.ok()) return logged.status();
  SHOPEASY_RETURN_IF_ERROR(tx->commit());
  return ended;
}

StatusOr<std::int64_t> UserStore::purge_expired_sessions(WallTime now) {
  sync::MutexLock lock(db_->mutex);
  SHOPEASY_RETURN_IF_ERROR(
      db_->db.run("DELETE FROM sessions WHERE expires_ms <= ?", to_unix_ms(now)));
  return db_->db.changes();
}

std::string session_cookie(const http::Request& request) {
  return http::cookie_value(request, kSessionCookie);
}

StatusOr<http::Principal> SessionAuthenticator::authenticate(const http::Request& request) const {
  std::string token = http::bearer_token(request);
  // The cookie is for reads only (event streams cannot send headers); a change always
  // needs the header, which another site's page cannot make a browser send.
  if (token.empty() && (request.method == "GET" || request.method == "HEAD")) {
    token = session_cookie(request);
  }
  if (token.empty()) {
    if (fallback_ != nullptr) return fallback_->authenticate(request);
    return unauthenticated("missing bearer token (Authorization: Bearer ...)");
  }
  auto session = store_.authenticate(token, clock_.wall_now());
  if (session.ok() || fallback_ == nullptr) return session;
  auto other = fallback_->authenticate(request);
  if (other.ok()) return other;
  // A database failure is worth a retry; the caller should not be told "bad token".
  if (session.status().code() == StatusCode::kUnavailable) return session;
  // A token shaped like a session token reports the session's reason (e.g. expired).
  return is_token_shape(token) ? session : other;
}

}  // namespace shopeasy::security
