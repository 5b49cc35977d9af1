// The SQLite CloudStore's schema: its migrations, oldest first, for db::migrate.
// Internal to cloud/storage.
#pragma once

#include <span>

#include "common/db/migration.hpp"

namespace shopeasy::cloud::storage::sqlite {

std::span<const db::Migration> migrations();

}  // namespace shopeasy::cloud::storage::sqlite
