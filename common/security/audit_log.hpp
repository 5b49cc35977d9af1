// AuditLog: who did what to what, when and from where, in the `audit_log` table of the
// staff-user database (see UserStore, which creates it and hands it out). Rows are
// append-only: triggers refuse UPDATE and DELETE, so an application bug cannot rewrite
// history. Each row also carries `chain`, the SHA-256 of the previous row's chain and
// this row's fields, so verify_chain() notices rows edited or removed behind the
// application's back (by someone with write access to the file who dropped the
// triggers). Thread-safe: calls serialize on the database's lock.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock/clock.hpp"
#include "common/security/guarded_db.hpp"
#include "common/status/status.hpp"

namespace shopeasy::security {

class UserStore;

struct AuditEntry {
  std::int64_t id = 0;  // increasing in append order; the cursor of query()
  std::int64_t ts_ms = 0;
  std::string actor;  // user or token name; "-" when unknown (a failed login)
  std::string role;
  std::string action;  // "user.add", "login", "login_failed", "stock.adjust", ...
  std::string target;  // what was acted on, e.g. the user name or SKU
  nlohmann::json details = nlohmann::json::object();
  std::string remote_addr;
};

struct AuditQuery {
  std::optional<WallTime> since;  // entries at or after this time
  std::string actor;              // exact match; empty: any
  std::string action;             // exact match; empty: any
  int limit = 100;                // 1..1000
  std::int64_t cursor = 0;        // entries with id > cursor (0: from the start)
};

struct AuditPage {
  std::vector<AuditEntry> entries;  // ascending id
  std::int64_t next_cursor = 0;     // pass as AuditQuery::cursor for the next page
  bool more = false;                // whether another page may follow
};

// Bounds on one entry, so a caller cannot grow the log by megabytes per request.
inline constexpr std::size_t kMaxAuditFieldBytes = 256;
inline constexpr std::size_t kMaxAuditDetailsBytes = 8192;

class AuditLog {
 public:
  // Used by UserStore; `db` must already have the audit_log schema.
  AuditLog(std::shared_ptr<detail::GuardedDb> db, const Clock& clock);

  // Appends one entry stamped with the clock's wall time; returns its id.
  // kInvalidArgument if action is empty or a text field exceeds kMaxAuditFieldBytes;
  // kPayloadTooLarge if the serialized details exceed kMaxAuditDetailsBytes;
  // kUnavailable if the database is busy or the disk fails.
  StatusOr<std::int64_t> record(std::string_view actor, std::string_view role,
                                std::string_view action, std::string_view target,
                                const nlohmann::json& details, std::string_view remote_addr);

  // One page of entries matching `q`. kInvalidArgument for a limit outside 1..1000 or a
  // negative cursor.
  StatusOr<AuditPage> query(const AuditQuery& q) const;

  // Recomputes the hash chain over every row and returns the newest row's chain value
  // (empty for an empty log). kInternal naming the first row whose chain does not match
  // (edited, inserted out of order, or a predecessor removed). Removing rows from the
  // end leaves a valid shorter chain, so operators who need that covered record the
  // returned head elsewhere (e.g. in the journal) and compare.
  StatusOr<std::string> verify_chain() const;

 private:
  friend class UserStore;
  // record() for a caller that already holds the database lock, so a change and its
  // audit entry commit in one transaction. `guarded` is the database this log shares
  // with the caller (*db_), named by the caller so the lock it holds is checked.
  StatusOr<std::int64_t> record_locked(detail::GuardedDb& guarded, std::string_view actor,
                                       std::string_view role, std::string_view action,
                                       std::string_view target, const nlohmann::json& details,
                                       std::string_view remote_addr) REQUIRES(guarded.mutex);

  std::shared_ptr<detail::GuardedDb> db_;
  const Clock& clock_;
};

}  // namespace shopeasy::security
