#include "common/security/audit_log.hpp"

#include <limits>

#include "common/http/auth.hpp"
#include "common/security/guarded_db.hpp"

namespace shopeasy::security {

namespace {

// Length-prefixed fields, so no two different rows serialize to the same bytes.
void append_field(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
}

std::string chain_of(std::string_view previous, std::int64_t id, std::int64_t ts_ms,
                     std::string_view actor, std::string_view role, std::string_view action,
                     std::string_view target, std::string_view details,
                     std::string_view remote_addr) {
  const std::string id_text = std::to_string(id);
  const std::string ts_text = std::to_string(ts_ms);
  std::string buf;
  for (std::string_view f : {previous, std::string_view(id_text), std::string_view(ts_text), actor,
                             role, action, target, details, remote_addr}) {
    append_field(buf, f);
  }
  return http::sha256_hex(buf);
}

Status check_field(std::string_view value, const char* name) {
  if (value.size() > kMaxAuditFieldBytes) {
    return invalid_argument(
        std::string(name) + " must be at most " + std::to_string(kMaxAuditFieldBytes) + " bytes",
        name);
  }
  return Status::ok();
}

}  // namespace

AuditLog::AuditLog(std::shared_ptr<detail::GuardedDb> db, const Clock& clock)
    : db_(std::move(db)), clock_(clock) {}

StatusOr<std::int64_t> AuditLog::record(std::string_view actor, std::string_view role,
                                        std::string_view action, std::string_view target,
                                        const nlohmann::json& details,
                                        std::string_view remote_addr) {
  sync::MutexLock lock(db_->mutex);
  return record_locked(*db_, actor, role, action, target, details, remote_addr);
}

StatusOr<std::int64_t> AuditLog::record_locked(detail::GuardedDb& guarded, std::string_view actor,
                                               std::string_view role, std::string_view action,
                                               std::string_view target,
                                               const nlohmann::json& details,
                                               std::string_view remote_addr) {
  if (action.empty()) return invalid_argument("action must not be empty", "action");
  SHOPEASY_RETURN_IF_ERROR(check_field(actor, "actor"));
  SHOPEASY_RETURN_IF_ERROR(check_field(role, "role"));
  SHOPEASY_RETURN_IF_ERROR(check_field(action, "action"));
  SHOPEASY_RETURN_IF_ERROR(check_field(target, "target"));
  SHOPEASY_RETURN_IF_ERROR(check_field(remote_addr, "remote_addr"));
  // Replacing invalid UTF-8 keeps a hostile string from making dump() throw.
  const std::string text =
      details.is_null() ? "{}"
                        : details.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > kMaxAuditDetailsBytes) {
    return Status(
        StatusCode::kPayloadTooLarge,
        "details must serialize to at most " + std::to_string(kMaxAuditDetailsBytes) + " bytes",
        "details");
  }
  const std::string who = actor.empty() ? "-" : std::string(actor);
  const std::int64_t ts = to_unix_ms(clock_.wall_now());
  auto& db = guarded.db;
  auto tx = db.begin();
  if (!tx.ok()) return tx.status();
  std::int64_t last_id = 0;
  std::string last_chain;
  {
    auto q = db.query("SELECT id, chain FROM audit_log ORDER BY id DESC LIMIT 1");
    if (const auto* row = q.next()) {
      last_id = row->column_int64(0);
      last_chain = row->column_text(1);
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
  }
  const std::int64_t id = last_id + 1;
  const std::string chain =
      chain_of(last_chain, id, ts, who, role, action, target, text, remote_addr);
  SHOPEASY_RETURN_IF_ERROR(
      db.run("INSERT INTO audit_log (id, ts_ms, actor, role, action, target, details, remote_addr, "
             "chain) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
             id, ts, who, std::string(role), std::string(action), std::string(target), text,
             std::string(remote_addr), chain));
  SHOPEASY_RETURN_IF_ERROR(tx->commit());
  return id;
}

StatusOr<AuditPage> AuditLog::query(const AuditQuery& q) const {
  if (q.limit < 1 || q.limit > 1000) return invalid_argument("limit must be 1..1000", "limit");
  if (q.cursor < 0) return invalid_argument("cursor must not be negative", "cursor");
  const std::int64_t since =
      q.since ? to_unix_ms(*q.since) : std::numeric_limits<std::int64_t>::min();
  AuditPage page;
  sync::MutexLock lock(db_->mutex);
  auto rows = db_->db.query(
      "SELECT id, ts_ms, actor, role, action, target, details, remote_addr FROM audit_log "
      "WHERE id > ?1 AND ts_ms >= ?2 AND (?3 = '' OR actor = ?3) AND (?4 = '' OR action = ?4) "
      "ORDER BY id LIMIT ?5",
      q.cursor, since, q.actor, q.action, q.limit + 1);
  while (const auto* row = rows.next()) {
    if (static_cast<int>(page.entries.size()) == q.limit) {
      page.more = true;
      break;
    }
    AuditEntry e;
    e.id = row->column_int64(0);
    e.ts_ms = row->column_int64(1);
    e.actor = row->column_text(2);
    e.role = row->column_text(3);
    e.action = row->column_text(4);
    e.target = row->column_text(5);
    e.details = nlohmann::json::parse(row->column_text(6), nullptr, false);
    if (e.details.is_discarded()) {
      return internal_error("audit_log row " + std::to_string(e.id) + " has unreadable details");
    }
    e.remote_addr = row->column_text(7);
    page.entries.push_back(std::move(e));
  }
  SHOPEASY_RETURN_IF_ERROR(rows.status());
  page.next_cursor = page.entries.empty() ? q.cursor : page.entries.back().id;
  return page;
}

StatusOr<std::string> AuditLog::verify_chain() const {
  sync::MutexLock lock(db_->mutex);
  auto rows = db_->db.query(
      "SELECT id, ts_ms, actor, role, action, target, details, remote_addr, chain "
      "FROM audit_log ORDER BY id");
  std::string previous;
  std::int64_t expected_id = 1;
  while (const auto* row = rows.next()) {
    const std::int64_t id = row->column_int64(0);
    if (id != expected_id) {
      return internal_error("audit_log chain broken: expected row " + std::to_string(expected_id) +
                            ", found " + std::to_string(id));
    }
    const std::string chain = chain_of(
        previous, id, row->column_int64(1), row->column_text(2), row->column_text(3),
        row->column_text(4), row->column_text(5), row->column_text(6), row->column_text(7));
    if (!http::constant_time_equal(chain, row->column_text(8))) {
      return internal_error("audit_log chain broken at row " + std::to_string(id));
    }
    previous = chain;
    ++expected_id;
  }
  SHOPEASY_RETURN_IF_ERROR(rows.status());
  return previous;
}

}  // namespace shopeasy::security
