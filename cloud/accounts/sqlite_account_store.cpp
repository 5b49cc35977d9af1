// AccountStore on SQLite: one connection behind a mutex, every method one IMMEDIATE
// transaction (the write lock up front, so counting and recording a send cannot be
// interleaved with another process's).
#include <algorithm>
#include <set>

#include "cloud/accounts/account_store.hpp"
#include "common/db/database.hpp"
#include "common/db/migration.hpp"
#include "common/sync/mutex.hpp"

namespace shopeasy::cloud::accounts {
namespace {

const db::Migration kMigrations[] = {
    {1, "accounts_initial", R"sql(
CREATE TABLE customers (
  customer_id TEXT PRIMARY KEY,
  phone TEXT NOT NULL UNIQUE,
  created_at_ms INTEGER NOT NULL
);
CREATE TABLE otp_codes (
  phone TEXT PRIMARY KEY,
  code_id TEXT NOT NULL,
  code_hash TEXT NOT NULL,
  expires_ms INTEGER NOT NULL,
  attempts INTEGER NOT NULL
);
CREATE TABLE otp_sends (
  limit_key TEXT NOT NULL,
  at_ms INTEGER NOT NULL
);
CREATE INDEX otp_sends_by_key ON otp_sends (limit_key, at_ms);
CREATE INDEX otp_sends_by_age ON otp_sends (at_ms);
CREATE TABLE refresh_tokens (
  token_hash TEXT PRIMARY KEY,
  family_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL,
  used INTEGER NOT NULL DEFAULT 0,
  revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX refresh_by_family ON refresh_tokens (family_id);
CREATE TABLE sandbox_sms (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  phone TEXT NOT NULL,
  body TEXT NOT NULL,
  at_ms INTEGER NOT NULL
);
CREATE INDEX sandbox_sms_by_phone ON sandbox_sms (phone, id);
)sql"},
    {2, "sandbox_sms_ref", R"sql(
ALTER TABLE sandbox_sms ADD COLUMN ref TEXT;
CREATE UNIQUE INDEX sandbox_sms_by_ref ON sandbox_sms (ref) WHERE ref IS NOT NULL;
)sql"},
    {3, "saved_addresses", R"sql(
CREATE TABLE saved_addresses (
  customer_id TEXT NOT NULL,
  address_id TEXT NOT NULL,
  label TEXT NOT NULL,
  line TEXT NOT NULL,
  lat REAL NOT NULL,
  lon REAL NOT NULL,
  geohash TEXT NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (customer_id, address_id)
) WITHOUT ROWID;
)sql"},
    {4, "deleted_customers", R"sql(
CREATE TABLE deleted_customers (
  customer_id TEXT PRIMARY KEY,
  deleted_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX deleted_customers_by_age ON deleted_customers (deleted_at_ms);
)sql"},
};

class SqliteAccountStore final : public AccountStore {
 public:
  explicit SqliteAccountStore(db::Database db) : db_(std::move(db)) {}

  Status migrate() override {
    sync::MutexLock lock(mu_);
    return db::migrate(db_, kMigrations);
  }

  StatusOr<SendDecision> record_send(const std::vector<SendLimit>& limits,
                                     std::int64_t now_ms) override {
    sync::MutexLock lock(mu_);
    SHOPEASY_ASSIGN_OR_RETURN(db::Transaction tx, db_.begin());
    for (const SendLimit& l : limits) {
      if (l.window_ms > kMaxLimitWindowMs) return invalid_argument("window too long", l.kind);
    }
    SHOPEASY_RETURN_IF_ERROR(
        db_.run("DELETE FROM otp_sends WHERE at_ms <= ?", now_ms - kMaxLimitWindowMs));
    for (const SendLimit& l : limits) {
      SHOPEASY_ASSIGN_OR_RETURN(
          std::optional<std::int64_t> count,
          db_.query_one<std::int64_t>(
              "SELECT count(*) FROM otp_sends WHERE limit_key = ? AND at_ms > ?", l.key,
              now_ms - l.window_ms));
      if (count.value_or(0) < l.max) continue;
      // The (count - max + 1)-th oldest send in the window must leave it first.
      SHOPEASY_ASSIGN_OR_RETURN(
          std::optional<std::int64_t> oldest,
          db_.query_one<std::int64_t>("SELECT at_ms FROM otp_sends WHERE limit_key = ? AND "
                                      "at_ms > ? ORDER BY at_ms LIMIT 1 OFFSET ?",
                                      l.key, now_ms - l.window_ms, *count - l.max));
      SendDecision d;
      d.tripped_kind = l.kind;
      d.retry_after_ms = std::max<std::int64_t>(1, oldest.value_or(now_ms) + l.window_ms - now_ms);
      return d;
    }
    std::set<std::string> keys;
    for (const SendLimit& l : limits) keys.insert(l.key);
    for (const std::string& key : keys) {
      SHOPEASY_RETURN_IF_ERROR(
          db_.run("INSERT INTO otp_sends (limit_key, at_ms) VALUES (?, ?)", key, now_ms));
    }
    SHOPEASY_RETURN_IF_ERROR(tx.commit());
    return SendDecision{.allowed = true};
  }

  Status put_code(const std::string& phone, const StoredCode& code) override {
    sync::MutexLock lock(mu_);
    return db_.run(
        "INSERT INTO otp_codes (phone, code_id, code_hash, expires_ms, attempts) "
        "VALUES (?, ?, ?, ?, 0) ON CONFLICT (phone) DO UPDATE SET code_id = excluded.code_id, "
        "code_hash = excluded.code_hash, expires_ms = excluded.expires_ms, attempts = 0",
        phone, code.code_id, code.code_hash, code.expires_ms);
  }

  StatusOr<std::optional<StoredCode>> take_attempt(const std::string& phone, std::int64_t now_ms,
                                                   std::int64_t max_attempts) override {
    sync::MutexLock lock(mu_);
    SHOPEASY_ASSIGN_OR_RETURN(db::Transaction tx, db_.begin());
    std::optional<StoredCode> found;
    {
      db::Query q = db_.query(
          "UPDATE otp_codes SET attempts = attempts + 1 WHERE phone = ? AND expires_ms > ? AND "
          "attempts < ? RETURNING code_id, code_hash, expires_ms, attempts",
          phone, now_ms, max_attempts);
      if (const db::Statement* row = q.next()) {
        found = StoredCode{.code_id = row->column_text(0),
                           .code_hash = row->column_text(1),
                           .expires_ms = row->column_int64(2),
                           .attempts = row->column_int64(3)};
        while (q.next() != nullptr) {
        }
      }
      SHOPEASY_RETURN_IF_ERROR(q.status());
    }
    if (!found) {
      // Expired or used up: gone, so a later send starts afresh.
      SHOPEASY_RETURN_IF_ERROR(
          db_.run("DELETE FROM otp_codes WHERE phone = ? AND (expires_ms <= ? OR attempts >= ?)",
                  phone, now_ms, max_attempts));
    }
    SHOPEASY_RETURN_IF_ERROR(tx.commit());
    return found;
  }

  StatusOr<bool> consume_code(const std::string& phone, const std::string& code_id) override {
    sync::MutexLock lock(mu_);
    SHOPEASY_RETURN_IF_ERROR(
        db_.run("DELETE FROM otp_codes WHERE phone = ? AND code_id = ?", phone, code_id));
    return db_.changes() == 1;
  }

  StatusOr<std::string> customer_for_phone(const std::string& phone, const std::string& new_id,
                                           std::int64_t now_ms) override {
    sync::MutexLock lock(mu_);
    SHOPEASY_ASSIGN_OR_RETURN(db::Transaction tx, db_.begin());
    SHOPEASY_RETURN_IF_ERROR(
        db_.run("INSERT INTO customers (customer_id, phone, created_at_ms) VALUES (?, ?, ?) "
                "ON CONFLICT (phone) DO NOTHING",
                new_id, phone, now_ms));
    SHOPEASY_ASSIGN_OR_RETURN(
        std::optional<std::string> id,
        db_.query_one<std::string>("SELECT customer_id FROM customers WHERE phone = ?", phone));
    SHOPEASY_RETURN_IF_ERROR(tx.commit());
    if (!id) return internal_error("customer row missing after insert");
    return *id;
  }

  StatusOr<std::string> phone_of(const std::string& customer_id) override {
    sync::MutexLock lock(mu_);
    SHOPEASY_ASSIGN_OR_RETURN(
        std::optional<std::string> phone,
        db_.query_one<std::string>("SELECT phone FROM customers WHERE customer_id = ?",
                                   customer_id));
    if (!phone) return not_found("no such customer");
    return *phone;
  }

  Status add_refresh(const std::string& token_hash, const std::string& family_id,
                     const std::string& customer_id, std::int64_t now_ms,
                     std::int64_t expires_ms) override {
    sync::MutexLock lock(mu_);
    return db_.run(
        "INSERT INTO refresh_tokens (token_hash, family_id, customer_id, created_at_ms, "
        "expires_ms) VALUES (?, ?, ?, ?, ?)",
        token_hash, family_id, customer_id, now_ms, expires_ms);
  }

  StatusOr<RotateResult> rotate_refresh(const std::string& token_hash, const std::string& new_hash,
                                        std::int64_t now_ms, std::int64_t new_expires_ms) override {
    sync::MutexLock lock(mu_);
    SHOPEASY_ASSIGN_OR_RETURN(db::Transaction tx, db_.begin());
    RotateResult r;
    bool used = false, revoked = false;
    std::int64_t expires = 0;
    {
      db::Query q = db_.query(
          "SELECT family_id, customer_id, expires_ms, used, revoked FROM refresh_tokens "
          "WHERE token_hash = ?",
          token_hash);
      const db::Statement* row = q.next();
      if (row == nullptr) {
        SHOPEASY_RETURN_IF_ERROR(q.status());
        return r;  // kUnknown
      }
      r.family_id = row->column_text(0);
      r.customer_id = row->column_text(1);
      expires = row->column_int64(2);
      used = row->column_int64(3) != 0;
      revoked = row->column_int64(4) != 0;
    }
    if (revoked) {
      r.outcome = RotateOutcome::kRevoked;
      return r;
    }
    if (used) {
      SHOPEASY_RETURN_IF_ERROR(
          db_.run("UPDATE refresh_tokens SET revoked = 1 WHERE family_id = ?", r.family_id));
      SHOPEASY_RETURN_IF_ERROR(tx.commit());
      r.outcome = RotateOutcome::kReused;
      return r;
    }
    if (expires <= now_ms) {
      r.outcome = RotateOutcome::kExpired;
      return r;
    }
    SHOPEASY_RETURN_IF_ERROR(
        db_.run("UPDATE refresh_tokens SET used = 1 WHERE token_hash = ?", token_hash));
    SHOPEASY_RETURN_IF_ERROR(
        db_.run("INSERT INTO refresh_tokens (token_hash, family_id, customer_id, created_at_ms, "
                "expires_ms) VALUES (?, ?, ?, ?, ?)",
                new_hash, r.family_id, r.customer_id, now_ms, new_expires_ms));
    SHOPEASY_RETURN_IF_ERROR(tx.commit());
    r.outcome = RotateOutcome::kRotated;
    return r;
  }

  StatusOr<bool> revoke_family(const std::string& token_hash) override {
    sync::MutexLock lock(mu_);
    SHOPEASY_RETURN_IF_ERROR(
        db_.run("UPDATE refresh_tokens SET revoked = 1 WHERE family_id = "
                "(SELECT family_id FROM refresh_tokens WHERE token_hash = ?)",
                token_hash));
    return db_.changes() > 0;
  }

  StatusOr<std::int64_t> purge(std::int64_t now_ms) override {
    sync::MutexLock lock(mu_);
    SHOPEASY_ASSIGN_OR_RETURN(db::Transaction tx, db_.begin());
    std::int64_t deleted = 0;
    const std::pair<const char*, std::int64_t> steps[] = {
        {"DELETE FROM otp_codes WHERE expires_ms <= ?", now_ms},
        {"DELETE FROM refresh_tokens WHERE expires_ms <= ?", now_ms},
        {"DELETE FROM otp_sends WHERE at_ms <= ?", now_ms - kMaxLimitWindowMs},
        {"DELETE FROM sandbox_sms WHERE at_ms <= ?", now_ms - kMaxLimitWindowMs},
        {"DELETE FROM deleted_customers WHERE deleted_at_ms <= ?",
         now_ms - kDeletedCustomerKeepMs}};
    for (const auto& [sql, bound] : steps) {
      SHOPEASY_RETURN_IF_ERROR(db_.run(sql, bound));
      deleted += db_.changes();
    }
    SHOPEASY_RETURN_IF_ERROR(tx.commit());
    return deleted;
  }

  Status add_sandbox_sms(const SandboxSms& sms) override {
    sync::MutexLock lock(mu_);
    if (sms.ref.empty()) {
      return db_.run("INSERT INTO sandbox_sms (phone, body, at_ms) VALUES (?, ?, ?)", sms.phone,
                     sms.body, sms.at_ms);
    }
    return db_.run(
        "INSERT INTO sandbox_sms (phone, body, at_ms, ref) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (ref) WHERE ref IS NOT NULL DO NOTHING",
        sms.phone, sms.body, sms.at_ms, sms.ref);
  }

  StatusOr<std::vector<SavedAddress>> addresses(const std::string& customer_id) override {
    sync::MutexLock lock(mu_);
    std::vector<SavedAddress> out;
    db::Query q = db_.query(
        "SELECT address_id, label, line, lat, lon, geohash, updated_at_ms FROM saved_addresses "
        "WHERE customer_id = ? ORDER BY address_id",
        customer_id);
    while (const db::Statement* row = q.next()) {
      out.push_back(SavedAddress{.address_id = row->column_text(0),
                                 .label = row->column_text(1),
                                 .line = row->column_text(2),
                                 .lat = row->column_double(3),
                                 .lon = row->column_double(4),
                                 .geohash = row->column_text(5),
                                 .updated_at_ms = row->column_int64(6)});
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
    return out;
  }

  StatusOr<bool> put_address(const std::string& customer_id, const SavedAddress& a) override {
    sync::MutexLock lock(mu_);
    SHOPEASY_ASSIGN_OR_RETURN(db::Transaction tx, db_.begin());
    SHOPEASY_ASSIGN_OR_RETURN(
        std::optional<std::int64_t> others,
        db_.query_one<std::int64_t>(
            "SELECT count(*) FROM saved_addresses WHERE customer_id = ? AND address_id <> ?",
            customer_id, a.address_id));
    if (others.value_or(0) >= kMaxSavedAddresses) return false;
    SHOPEASY_RETURN_IF_ERROR(db_.run(
        "INSERT INTO saved_addresses (customer_id, address_id, label, line, lat, lon, geohash, "
        "updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (customer_id, address_id) "
        "DO UPDATE SET label = excluded.label, line = excluded.line, lat = excluded.lat, "
        "lon = excluded.lon, geohash = excluded.geohash, updated_at_ms = excluded.updated_at_ms",
        customer_id, a.address_id, a.label, a.line, a.lat, a.lon, a.geohash, a.updated_at_ms));
    SHOPEASY_RETURN_IF_ERROR(tx.commit());
    return true;
  }

  StatusOr<bool> delete_address(const std::string& customer_id,
                                const std::string& address_id) override {
    sync::MutexLock lock(mu_);
    SHOPEASY_RETURN_IF_ERROR(
        db_.run("DELETE FROM saved_addresses WHERE customer_id = ? AND address_id = ?", customer_id,
                address_id));
    return db_.changes() > 0;
  }

  StatusOr<bool> delete_customer(const std::string& customer_id, std::int64_t now_ms) override {
    sync::MutexLock lock(mu_);
    SHOPEASY_ASSIGN_OR_RETURN(db::Transaction tx, db_.begin());
    SHOPEASY_RETURN_IF_ERROR(
        db_.run("INSERT INTO deleted_customers (customer_id, deleted_at_ms) VALUES (?, ?) "
                "ON CONFLICT (customer_id) DO UPDATE SET deleted_at_ms = excluded.deleted_at_ms",
                customer_id, now_ms));
    SHOPEASY_ASSIGN_OR_RETURN(
        std::optional<std::string> phone,
        db_.query_one<std::string>("SELECT phone FROM customers WHERE customer_id = ?",
                                   customer_id));
    SHOPEASY_RETURN_IF_ERROR(
        db_.run("DELETE FROM refresh_tokens WHERE customer_id = ?", customer_id));
    SHOPEASY_RETURN_IF_ERROR(
        db_.run("DELETE FROM saved_addresses WHERE customer_id = ?", customer_id));
    if (phone) {
      SHOPEASY_RETURN_IF_ERROR(db_.run("DELETE FROM otp_codes WHERE phone = ?", *phone));
      SHOPEASY_RETURN_IF_ERROR(db_.run("DELETE FROM customers WHERE customer_id = ?", customer_id));
    }
    SHOPEASY_RETURN_IF_ERROR(tx.commit());
    return phone.has_value();
  }

  StatusOr<bool> customer_deleted(const std::string& customer_id) override {
    sync::MutexLock lock(mu_);
    SHOPEASY_ASSIGN_OR_RETURN(
        std::optional<std::int64_t> found,
        db_.query_one<std::int64_t>("SELECT 1 FROM deleted_customers WHERE customer_id = ?",
                                    customer_id));
    return found.has_value();
  }

  StatusOr<std::vector<SandboxSms>> sandbox_sms(const std::string& phone,
                                                std::int64_t limit) override {
    sync::MutexLock lock(mu_);
    std::vector<SandboxSms> out;
    db::Query q = db_.query(
        "SELECT phone, body, at_ms FROM sandbox_sms WHERE phone = ? ORDER BY id DESC LIMIT ?",
        phone, limit);
    while (const db::Statement* row = q.next()) {
      out.push_back({row->column_text(0), row->column_text(1), row->column_int64(2)});
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
    return out;
  }

 private:
  sync::Mutex mu_;  // guards db_: one connection, used by one request at a time
  db::Database db_ GUARDED_BY(mu_);
};

}  // namespace

StatusOr<std::unique_ptr<AccountStore>> open_sqlite_account_store(const std::string& path) {
  SHOPEASY_ASSIGN_OR_RETURN(db::Database db, db::Database::open(path));
  return std::unique_ptr<AccountStore>(std::make_unique<SqliteAccountStore>(std::move(db)));
}

}  // namespace shopeasy::cloud::accounts
