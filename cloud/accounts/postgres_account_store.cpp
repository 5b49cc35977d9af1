// AccountStore on PostgreSQL through libpq, in the cloud's database. One connection per
// instance behind a mutex (sign-ins are rare next to orders), re-established when the
// server dropped it. Counting and recording a send takes a transaction-scoped advisory
// lock per counted key, in key order, so instances sharing the database count every
// send exactly once and never deadlock on each other; a code check is one UPDATE ...
// RETURNING (the row lock orders concurrent checks), and a refresh rotation locks the
// token's row (SELECT ... FOR UPDATE), so a token is rotated at most once. The check
// of deleted customers, made on every customer request, reads on a few connections of
// its own (CheckPool), so it never waits behind a sign-in's transaction.
#include <libpq-fe.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <set>
#include <vector>

#include "cloud/accounts/account_store.hpp"
#include "common/sync/mutex.hpp"

namespace shopeasy::cloud::accounts {
namespace {

// Serializes migrations across instances (pg_advisory_xact_lock key).
constexpr const char* kMigrationLock = "7307018830517351233";  // "eSAccMig"-ish, any constant

struct PgMigration {
  int version;
  const char* name;
  const char* sql;
};

const PgMigration kMigrations[] = {
    {1, "accounts_initial", R"sql(
CREATE TABLE customers (
  customer_id text COLLATE "C" PRIMARY KEY,
  phone text COLLATE "C" NOT NULL UNIQUE,
  created_at_ms bigint NOT NULL
);
CREATE TABLE otp_codes (
  phone text COLLATE "C" PRIMARY KEY,
  code_id text NOT NULL,
  code_hash text NOT NULL,
  expires_ms bigint NOT NULL,
  attempts bigint NOT NULL
);
CREATE TABLE otp_sends (
  limit_key text COLLATE "C" NOT NULL,
  at_ms bigint NOT NULL
);
CREATE INDEX otp_sends_by_key ON otp_sends (limit_key, at_ms);
CREATE INDEX otp_sends_by_age ON otp_sends (at_ms);
CREATE TABLE refresh_tokens (
  token_hash text COLLATE "C" PRIMARY KEY,
  family_id text COLLATE "C" NOT NULL,
  customer_id text COLLATE "C" NOT NULL,
  created_at_ms bigint NOT NULL,
  expires_ms bigint NOT NULL,
  used boolean NOT NULL DEFAULT false,
  revoked boolean NOT NULL DEFAULT false
);
CREATE INDEX refresh_by_family ON refresh_tokens (family_id);
CREATE TABLE sandbox_sms (
  id bigserial PRIMARY KEY,
  phone text COLLATE "C" NOT NULL,
  body text NOT NULL,
  at_ms bigint NOT NULL
);
CREATE INDEX sandbox_sms_by_phone ON sandbox_sms (phone, id);
)sql"},
    {2, "sandbox_sms_ref", R"sql(
ALTER TABLE sandbox_sms ADD COLUMN ref text COLLATE "C";
CREATE UNIQUE INDEX sandbox_sms_by_ref ON sandbox_sms (ref) WHERE ref IS NOT NULL;
)sql"},
    {3, "saved_addresses", R"sql(
CREATE TABLE saved_addresses (
  customer_id text COLLATE "C" NOT NULL,
  address_id text COLLATE "C" NOT NULL,
  label text NOT NULL,
  line text NOT NULL,
  lat double precision NOT NULL,
  lon double precision NOT NULL,
  geohash text NOT NULL,
  updated_at_ms bigint NOT NULL,
  PRIMARY KEY (customer_id, address_id)
);
)sql"},
    {4, "deleted_customers", R"sql(
CREATE TABLE deleted_customers (
  customer_id text COLLATE "C" PRIMARY KEY,
  deleted_at_ms bigint NOT NULL
);
CREATE INDEX deleted_customers_by_age ON deleted_customers (deleted_at_ms);
)sql"},
};

// The statement every check connection has prepared.
constexpr const char* kDeletedCheck = "deleted_customer_check";
constexpr const char* kDeletedCheckSql = "SELECT 1 FROM deleted_customers WHERE customer_id = $1";
// Check connections per instance: enough for the handler threads' customer requests to
// rarely queue, few enough not to crowd the server's connection limit.
constexpr std::size_t kCheckConnections = 4;

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// Connections for customer_deleted, opened when first needed (each with the check
// prepared) and closed when one fails, so a restarted server costs one failed check.
class CheckPool {
 public:
  explicit CheckPool(std::string dsn) : dsn_(std::move(dsn)) {}
  ~CheckPool() {
    for (PGconn* c : idle_) PQfinish(c);
  }

  StatusOr<bool> deleted(const std::string& customer_id) {
    SHOPEASY_ASSIGN_OR_RETURN(PGconn * conn, acquire());
    const char* values[] = {customer_id.c_str()};
    Result r(PQexecPrepared(conn, kDeletedCheck, 1, values, nullptr, nullptr, 0));
    const bool ok = r && PQresultStatus(r.get()) == PGRES_TUPLES_OK;
    if (!ok) {
      const std::string message = r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn);
      release(conn, false);
      return unavailable("accounts database: " + message);
    }
    const bool found = PQntuples(r.get()) > 0;
    release(conn, true);
    return found;
  }

 private:
  StatusOr<PGconn*> acquire() {
    {
      sync::MutexLock lock(mu_);
      while (idle_.empty() && open_ >= kCheckConnections) freed_.wait(mu_);
      if (!idle_.empty()) {
        PGconn* c = idle_.back();
        idle_.pop_back();
        return c;
      }
      ++open_;  // a slot for the connection made below, outside the lock
    }
    PGconn* c = PQconnectdb(dsn_.c_str());
    if (PQstatus(c) == CONNECTION_OK) {
      PQsetNoticeProcessor(
          c, [](void*, const char*) {}, nullptr);
      Result prepared(PQprepare(c, kDeletedCheck, kDeletedCheckSql, 1, nullptr));
      if (prepared && PQresultStatus(prepared.get()) == PGRES_COMMAND_OK) return c;
    }
    release(c, false);
    return unavailable("cannot connect to the accounts database");
  }

  void release(PGconn* c, bool healthy) {
    {
      sync::MutexLock lock(mu_);
      if (healthy) {
        idle_.push_back(c);
      } else {
        --open_;
      }
    }
    if (!healthy) PQfinish(c);
    freed_.notify_one();
  }

  const std::string dsn_;
  sync::Mutex mu_;       // guards idle_ and open_
  sync::CondVar freed_;  // a connection was given back, or a slot freed
  std::vector<PGconn*> idle_ GUARDED_BY(mu_);
  std::size_t open_ GUARDED_BY(mu_) = 0;  // connections in idle_, lent out, or being made
};

class PostgresAccountStore final : public AccountStore {
 public:
  PostgresAccountStore(PGconn* conn, std::string dsn) : conn_(conn), checks_(std::move(dsn)) {}
  ~PostgresAccountStore() override { PQfinish(conn_); }

  Status migrate() override {
    sync::MutexLock lock(mu_);
    SHOPEASY_RETURN_IF_ERROR(ready());
    SHOPEASY_RETURN_IF_ERROR(
        exec("CREATE TABLE IF NOT EXISTS accounts_schema_migrations (version integer PRIMARY "
             "KEY, name text NOT NULL, applied_at_ms bigint NOT NULL)")
            .status());
    for (const PgMigration& m : kMigrations) {
      Tx tx(*this);
      SHOPEASY_RETURN_IF_ERROR(tx.begin());
      SHOPEASY_RETURN_IF_ERROR(
          exec("SELECT pg_advisory_xact_lock($1::bigint)", {kMigrationLock}).status());
      SHOPEASY_ASSIGN_OR_RETURN(
          Result done, exec("SELECT name FROM accounts_schema_migrations WHERE version = $1",
                            {std::to_string(m.version)}));
      if (PQntuples(done.get()) > 0) {
        if (std::string(PQgetvalue(done.get(), 0, 0)) != m.name) {
          return failed_precondition("accounts migration " + std::to_string(m.version) +
                                     " is recorded under another name");
        }
        continue;  // the destructor rolls back the empty transaction
      }
      SHOPEASY_RETURN_IF_ERROR(exec(m.sql).status());
      SHOPEASY_RETURN_IF_ERROR(
          exec("INSERT INTO accounts_schema_migrations (version, name, applied_at_ms) VALUES "
               "($1, $2, (extract(epoch from now()) * 1000)::bigint)",
               {std::to_string(m.version), m.name})
              .status());
      SHOPEASY_RETURN_IF_ERROR(tx.commit());
    }
    return Status::ok();
  }

  StatusOr<SendDecision> record_send(const std::vector<SendLimit>& limits,
                                     std::int64_t now_ms) override {
    sync::MutexLock lock(mu_);
    SHOPEASY_RETURN_IF_ERROR(ready());
    Tx tx(*this);
    SHOPEASY_RETURN_IF_ERROR(tx.begin());
    std::set<std::string> keys;
    for (const SendLimit& l : limits) {
      if (l.window_ms > kMaxLimitWindowMs) return invalid_argument("window too long", l.kind);
      keys.insert(l.key);
    }
    for (const std::string& key : keys) {  // std::set: key order, the same in every instance
      SHOPEASY_RETURN_IF_ERROR(
          exec("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", {key}).status());
    }
    for (const SendLimit& l : limits) {
      const std::string since = std::to_string(now_ms - l.window_ms);
      SHOPEASY_ASSIGN_OR_RETURN(
          Result count, exec("SELECT count(*) FROM otp_sends WHERE limit_key = $1 AND at_ms > $2",
                             {l.key, since}));
      const std::int64_t n = std::stoll(PQgetvalue(count.get(), 0, 0));
      if (n < l.max) continue;
      SHOPEASY_ASSIGN_OR_RETURN(
          Result oldest,
          exec("SELECT at_ms FROM otp_sends WHERE limit_key = $1 AND at_ms > $2 ORDER BY at_ms "
               "LIMIT 1 OFFSET $3",
               {l.key, since, std::to_string(n - l.max)}));
      const std::int64_t at =
          PQntuples(oldest.get()) > 0 ? std::stoll(PQgetvalue(oldest.get(), 0, 0)) : now_ms;
      SendDecision d;
      d.tripped_kind = l.kind;
      d.retry_after_ms = std::max<std::int64_t>(1, at + l.window_ms - now_ms);
      return d;
    }
    for (const std::string& key : keys) {
      SHOPEASY_RETURN_IF_ERROR(exec("INSERT INTO otp_sends (limit_key, at_ms) VALUES ($1, $2)",
                                    {key, std::to_string(now_ms)})
                                   .status());
    }
    SHOPEASY_RETURN_IF_ERROR(exec("DELETE FROM otp_sends WHERE at_ms <= $1",
                                  {std::to_string(now_ms - kMaxLimitWindowMs)})
                                 .status());
    SHOPEASY_RETURN_IF_ERROR(tx.commit());
    return SendDecision{.allowed = true};
  }

  Status put_code(const std::string& phone, const StoredCode& code) override {
    sync::MutexLock lock(mu_);
    SHOPEASY_RETURN_IF_ERROR(ready());
    return exec(
               "INSERT INTO otp_codes (phone, code_id, code_hash, expires_ms, attempts) VALUES "
               "($1, $2, $3, $4, 0) ON CONFLICT (phone) DO UPDATE SET code_id = "
               "excluded.code_id, code_hash = excluded.code_hash, expires_ms = "
               "excluded.expires_ms, attempts = 0",
               {phone, code.code_id, code.code_hash, std::to_string(code.expires_ms)})
        .status();
  }

  StatusOr<std::optional<StoredCode>> take_attempt(const std::string& phone, std::int64_t now_ms,
                                                   std::int64_t max_attempts) override {
    sync::MutexLock lock(mu_);
    SHOPEASY_RETURN_IF_ERROR(ready());
    const std::string now = std::to_string(now_ms), max = std::to_string(max_attempts);
    SHOPEASY_ASSIGN_OR_RETURN(
        Result r, exec("UPDATE otp_codes SET attempts = attempts + 1 WHERE phone = $1 AND "
                       "expires_ms > $2 AND attempts < $3 RETURNING code_id, code_hash, "
                       "expires_ms, attempts",
                       {phone, now, max}));
    if (PQntuples(r.get()) == 1) {
      return std::optional<StoredCode>(
          StoredCode{.code_id = PQgetvalue(r.get(), 0, 0),
                     .code_hash = PQgetvalue(r.get(), 0, 1),
                     .expires_ms = std::stoll(PQgetvalue(r.get(), 0, 2)),
                     .attempts = std::stoll(PQgetvalue(r.get(), 0, 3))});
    }
    SHOPEASY_RETURN_IF_ERROR(
        exec("DELETE FROM otp_codes WHERE phone = $1 AND (expires_ms <= $2 OR attempts >= $3)",
             {phone, now, max})
            .status());
    return std::optional<StoredCode>();
  }

  StatusOr<bool> consume_code(const std::string& phone, const std::string& code_id) override {
    sync::MutexLock lock(mu_);
    SHOPEASY_RETURN_IF_ERROR(ready());
    SHOPEASY_ASSIGN_OR_RETURN(
        Result r,
        exec("DELETE FROM otp_codes WHERE phone = $1 AND code_id = $2", {phone, code_id}));
    return std::string(PQcmdTuples(r.get())) == "1";
  }

  StatusOr<std::string> customer_for_phone(const std::string& phone, const std::string& new_id,
                                           std::int64_t now_ms) override {
    sync::MutexLock lock(mu_);
    SHOPEASY_RETURN_IF_ERROR(ready());
    SHOPEASY_RETURN_IF_ERROR(exec("INSERT INTO customers (customer_id, phone, created_at_ms) "
                                  "VALUES ($1, $2, $3) ON CONFLICT (phone) DO NOTHING",
                                  {new_id, phone, std::to_string(now_ms)})
                                 .status());
    SHOPEASY_ASSIGN_OR_RETURN(Result r,
                              exec("SELECT customer_id FROM customers WHERE phone = $1", {phone}));
    if (PQntuples(r.get()) != 1) return internal_error("customer row missing after insert");
    return std::string(PQgetvalue(r.get(), 0, 0));
  }

  StatusOr<std::string> phone_of(const std::string& customer_id) override {
    sync::MutexLock lock(mu_);
    SHOPEASY_RETURN_IF_ERROR(ready());
    SHOPEASY_ASSIGN_OR_RETURN(
        Result r, exec("SELECT phone FROM customers WHERE customer_id = $1", {customer_id}));
    if (PQntuples(r.get()) != 1) return not_found("no such customer");
    return std::string(PQgetvalue(r.get(), 0, 0));
  }

  Status add_refresh(const std::string& token_hash, const std::string& family_id,
                     const std::string& customer_id, std::int64_t now_ms,
                     std::int64_t expires_ms) override {
    sync::MutexLock lock(mu_);
    SHOPEASY_RETURN_IF_ERROR(ready());
    return exec(
               "INSERT INTO refresh_tokens (token_hash, family_id, customer_id, created_at_ms, "
               "expires_ms) VALUES ($1, $2, $3, $4, $5)",
               {token_hash, family_id, customer_id, std::to_string(now_ms),
                std::to_string(expires_ms)})
        .status();
  }

  StatusOr<RotateResult> rotate_refresh(const std::string& token_hash, const std::string& new_hash,
                                        std::int64_t now_ms, std::int64_t new_expires_ms) override {
    sync::MutexLock lock(mu_);
    SHOPEASY_RETURN_IF_ERROR(ready());
    Tx tx(*this);
    SHOPEASY_RETURN_IF_ERROR(tx.begin());
    SHOPEASY_ASSIGN_OR_RETURN(Result row,
                              exec("SELECT family_id, customer_id, expires_ms, used, revoked FROM "
                                   "refresh_tokens WHERE token_hash = $1 FOR UPDATE",
                                   {token_hash}));
    RotateResult r;
    if (PQntuples(row.get()) != 1) return r;
    r.family_id = PQgetvalue(row.get(), 0, 0);
    r.customer_id = PQgetvalue(row.get(), 0, 1);
    const std::int64_t expires = std::stoll(PQgetvalue(row.get(), 0, 2));
    const bool used = PQgetvalue(row.get(), 0, 3)[0] == 't';
    const bool revoked = PQgetvalue(row.get(), 0, 4)[0] == 't';
    if (revoked) {
      r.outcome = RotateOutcome::kRevoked;
      return r;
    }
    if (used) {
      SHOPEASY_RETURN_IF_ERROR(
          exec("UPDATE refresh_tokens SET revoked = true WHERE family_id = $1", {r.family_id})
              .status());
      SHOPEASY_RETURN_IF_ERROR(tx.commit());
      r.outcome = RotateOutcome::kReused;
      return r;
    }
    if (expires <= now_ms) {
      r.outcome = RotateOutcome::kExpired;
      return r;
    }
    SHOPEASY_RETURN_IF_ERROR(
        exec("UPDATE refresh_tokens SET used = true WHERE token_hash = $1", {token_hash}).status());
    SHOPEASY_RETURN_IF_ERROR(
        exec("INSERT INTO refresh_tokens (token_hash, family_id, customer_id, created_at_ms, "
             "expires_ms) VALUES ($1, $2, $3, $4, $5)",
             {new_hash, r.family_id, r.customer_id, std::to_string(now_ms),
              std::to_string(new_expires_ms)})
            .status());
    SHOPEASY_RETURN_IF_ERROR(tx.commit());
    r.outcome = RotateOutcome::kRotated;
    return r;
  }

  StatusOr<bool> revoke_family(const std::string& token_hash) override {
    sync::MutexLock lock(mu_);
    SHOPEASY_RETURN_IF_ERROR(ready());
    SHOPEASY_ASSIGN_OR_RETURN(
        Result r, exec("UPDATE refresh_tokens SET revoked = true WHERE family_id = (SELECT "
                       "family_id FROM refresh_tokens WHERE token_hash = $1)",
                       {token_hash}));
    return std::string(PQcmdTuples(r.get())) != "0";
  }

  StatusOr<std::int64_t> purge(std::int64_t now_ms) override {
    sync::MutexLock lock(mu_);
    SHOPEASY_RETURN_IF_ERROR(ready());
    std::int64_t deleted = 0;
    const std::pair<const char*, std::int64_t> steps[] = {
        {"DELETE FROM otp_codes WHERE expires_ms <= $1", now_ms},
        {"DELETE FROM refresh_tokens WHERE expires_ms <= $1", now_ms},
        {"DELETE FROM otp_sends WHERE at_ms <= $1", now_ms - kMaxLimitWindowMs},
        {"DELETE FROM sandbox_sms WHERE at_ms <= $1", now_ms - kMaxLimitWindowMs},
        {"DELETE FROM deleted_customers WHERE deleted_at_ms <= $1",
         now_ms - kDeletedCustomerKeepMs}};
    for (const auto& [sql, bound] : steps) {
      SHOPEASY_ASSIGN_OR_RETURN(Result r, exec(sql, {std::to_string(bound)}));
      deleted += std::stoll(PQcmdTuples(r.get()));
    }
    return deleted;
  }

  Status add_sandbox_sms(const SandboxSms& sms) override {
    sync::MutexLock lock(mu_);
    SHOPEASY_RETURN_IF_ERROR(ready());
    if (sms.ref.empty()) {
      return exec("INSERT INTO sandbox_sms (phone, body, at_ms) VALUES ($1, $2, $3)",
                  {sms.phone, sms.body, std::to_string(sms.at_ms)})
          .status();
    }
    return exec(
               "INSERT INTO sandbox_sms (phone, body, at_ms, ref) VALUES ($1, $2, $3, $4) "
               "ON CONFLICT (ref) WHERE ref IS NOT NULL DO NOTHING",
               {sms.phone, sms.body, std::to_string(sms.at_ms), sms.ref})
        .status();
  }

  StatusOr<std::vector<SavedAddress>> addresses(const std::string& customer_id) override {
    sync::MutexLock lock(mu_);
    SHOPEASY_RETURN_IF_ERROR(ready());
    SHOPEASY_ASSIGN_OR_RETURN(
        Result r, exec("SELECT address_id, label, line, lat, lon, geohash, updated_at_ms FROM "
                       "saved_addresses WHERE customer_id = $1 ORDER BY address_id",
                       {customer_id}));
    std::vector<SavedAddress> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      out.push_back(SavedAddress{.address_id = PQgetvalue(r.get(), i, 0),
                                 .label = PQgetvalue(r.get(), i, 1),
                                 .line = PQgetvalue(r.get(), i, 2),
                                 .lat = std::stod(PQgetvalue(r.get(), i, 3)),
                                 .lon = std::stod(PQgetvalue(r.get(), i, 4)),
                                 .geohash = PQgetvalue(r.get(), i, 5),
                                 .updated_at_ms = std::stoll(PQgetvalue(r.get(), i, 6))});
    }
    return out;
  }

  StatusOr<bool> put_address(const std::string& customer_id, const SavedAddress& a) override {
    sync::MutexLock lock(mu_);
    SHOPEASY_RETURN_IF_ERROR(ready());
    Tx tx(*this);
    SHOPEASY_RETURN_IF_ERROR(tx.begin());
    // Serializes one customer's writes, so two instances cannot both add the 21st.
    SHOPEASY_RETURN_IF_ERROR(
        exec("SELECT pg_advisory_xact_lock(hashtext($1))", {"addr:" + customer_id}).status());
    SHOPEASY_ASSIGN_OR_RETURN(Result n, exec("SELECT count(*) FROM saved_addresses WHERE "
                                             "customer_id = $1 AND address_id <> $2",
                                             {customer_id, a.address_id}));
    if (std::stoll(PQgetvalue(n.get(), 0, 0)) >= kMaxSavedAddresses) return false;
    char lat[32];
    char lon[32];
    std::snprintf(lat, sizeof lat, "%.9f", a.lat);
    std::snprintf(lon, sizeof lon, "%.9f", a.lon);
    SHOPEASY_RETURN_IF_ERROR(
        exec("INSERT INTO saved_addresses (customer_id, address_id, label, line, lat, lon, "
             "geohash, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
             "ON CONFLICT (customer_id, address_id) DO UPDATE SET label = excluded.label, "
             "line = excluded.line, lat = excluded.lat, lon = excluded.lon, "
             "geohash = excluded.geohash, updated_at_ms = excluded.updated_at_ms",
             {customer_id, a.address_id, a.label, a.line, lat, lon, a.geohash,
              std::to_string(a.updated_at_ms)})
            .status());
    SHOPEASY_RETURN_IF_ERROR(tx.commit());
    return true;
  }

  StatusOr<bool> delete_address(const std::string& customer_id,
                                const std::string& address_id) override {
    sync::MutexLock lock(mu_);
    SHOPEASY_RETURN_IF_ERROR(ready());
    SHOPEASY_ASSIGN_OR_RETURN(
        Result r, exec("DELETE FROM saved_addresses WHERE customer_id = $1 AND address_id = $2",
                       {customer_id, address_id}));
    return std::string(PQcmdTuples(r.get())) != "0";
  }

  StatusOr<bool> delete_customer(const std::string& customer_id, std::int64_t now_ms) override {
    sync::MutexLock lock(mu_);
    SHOPEASY_RETURN_IF_ERROR(ready());
    Tx tx(*this);
    SHOPEASY_RETURN_IF_ERROR(tx.begin());
    SHOPEASY_RETURN_IF_ERROR(
        exec("INSERT INTO deleted_customers (customer_id, deleted_at_ms) VALUES ($1, $2) "
             "ON CONFLICT (customer_id) DO UPDATE SET deleted_at_ms = excluded.deleted_at_ms",
             {customer_id, std::to_string(now_ms)})
            .status());
    SHOPEASY_ASSIGN_OR_RETURN(
        Result found,
        exec("SELECT phone FROM customers WHERE customer_id = $1 FOR UPDATE", {customer_id}));
    const bool existed = PQntuples(found.get()) == 1;
    SHOPEASY_RETURN_IF_ERROR(
        exec("DELETE FROM refresh_tokens WHERE customer_id = $1", {customer_id}).status());
    SHOPEASY_RETURN_IF_ERROR(
        exec("DELETE FROM saved_addresses WHERE customer_id = $1", {customer_id}).status());
    if (existed) {
      const std::string phone = PQgetvalue(found.get(), 0, 0);
      SHOPEASY_RETURN_IF_ERROR(exec("DELETE FROM otp_codes WHERE phone = $1", {phone}).status());
      SHOPEASY_RETURN_IF_ERROR(
          exec("DELETE FROM customers WHERE customer_id = $1", {customer_id}).status());
    }
    SHOPEASY_RETURN_IF_ERROR(tx.commit());
    return existed;
  }

  StatusOr<bool> customer_deleted(const std::string& customer_id) override {
    return checks_.deleted(customer_id);
  }

  StatusOr<std::vector<SandboxSms>> sandbox_sms(const std::string& phone,
                                                std::int64_t limit) override {
    sync::MutexLock lock(mu_);
    SHOPEASY_RETURN_IF_ERROR(ready());
    SHOPEASY_ASSIGN_OR_RETURN(
        Result r, exec("SELECT phone, body, at_ms FROM sandbox_sms WHERE phone = $1 ORDER BY id "
                       "DESC LIMIT $2",
                       {phone, std::to_string(limit)}));
    std::vector<SandboxSms> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      out.push_back({PQgetvalue(r.get(), i, 0), PQgetvalue(r.get(), i, 1),
                     std::stoll(PQgetvalue(r.get(), i, 2))});
    }
    return out;
  }

 private:
  // BEGIN ... COMMIT; rolled back at destruction unless committed. Lives inside a
  // method holding s_.mu_; the analysis cannot tie s_ to that store, so its calls are
  // left unchecked.
  class Tx {
   public:
    explicit Tx(PostgresAccountStore& s) : s_(s) {}
    ~Tx() NO_THREAD_SAFETY_ANALYSIS {
      if (open_) (void)s_.exec("ROLLBACK");
    }
    Status begin() NO_THREAD_SAFETY_ANALYSIS {
      SHOPEASY_RETURN_IF_ERROR(s_.exec("BEGIN").status());
      open_ = true;
      return Status::ok();
    }
    Status commit() NO_THREAD_SAFETY_ANALYSIS {
      open_ = false;
      return s_.exec("COMMIT").status();
    }

   private:
    PostgresAccountStore& s_;
    bool open_ = false;
  };

  // Reconnects a connection the server dropped.
  Status ready() REQUIRES(mu_) {
    if (PQstatus(conn_) == CONNECTION_OK) return Status::ok();
    PQreset(conn_);
    if (PQstatus(conn_) != CONNECTION_OK) {
      return unavailable(std::string("accounts database: ") + PQerrorMessage(conn_));
    }
    return Status::ok();
  }

  StatusOr<Result> exec(const std::string& sql, const std::vector<std::string>& params = {})
      REQUIRES(mu_) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const std::string& p : params) values.push_back(p.c_str());
    Result r(params.empty() ? PQexec(conn_, sql.c_str())
                            : PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()),
                                           nullptr, values.data(), nullptr, nullptr, 0));
    const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return r;
    const std::string message = r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn_);
    if (PQstatus(conn_) != CONNECTION_OK) return unavailable("accounts database: " + message);
    return internal_error("accounts database: " + message);
  }

  sync::Mutex mu_;  // guards conn_: libpq connections are not shared between threads
  PGconn* conn_ GUARDED_BY(mu_);
  CheckPool checks_;  // its own lock; never used with mu_ held
};

}  // namespace

StatusOr<std::unique_ptr<AccountStore>> open_postgres_account_store(const std::string& dsn) {
  PGconn* conn = PQconnectdb(dsn.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    // The message may quote parts of the connection string; keep it out of the error.
    PQfinish(conn);
    return unavailable("cannot connect to the accounts database");
  }
  // Server notices ("already exists, skipping") are not errors; keep them off stderr.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<AccountStore>(std::make_unique<PostgresAccountStore>(conn, dsn));
}

}  // namespace shopeasy::cloud::accounts
