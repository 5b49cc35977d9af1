// The edge database's schema, as one ordered list of migrations. Each capability adds
// its tables as a new version at the end; a version, once released, never changes.
#pragma once

#include <span>

#include "common/db/migration.hpp"

namespace shopeasy::edge::store {

std::span<const db::Migration> edge_migrations();

}  // namespace shopeasy::edge::store
