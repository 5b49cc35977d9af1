// Internal to the db module: how SQLite result codes become Status codes. It has its own
// header only so the whole table can be unit-tested without provoking every failure
// (disk full, corruption) for real.
#pragma once

#include <string>
#include <string_view>

#include "common/status/status.hpp"

namespace shopeasy::db::detail {

// The StatusCode for a SQLite (extended) result code; see database.hpp for the policy.
StatusCode status_code_for_sqlite(int result_code);

// The first 80 characters of `sql` on one line, with "..." when cut, for error messages.
std::string sql_excerpt(std::string_view sql);

}  // namespace shopeasy::db::detail
