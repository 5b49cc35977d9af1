// The PostgreSQL CloudStore's schema: its migrations, and the step that brings a
// database up to them. Internal to cloud/storage.
#pragma once

#include "cloud/storage/postgres_session.hpp"
#include "common/status/status.hpp"

namespace shopeasy::cloud::storage::pg {

// Applies, in one transaction on `s`, every migration the database has not had yet,
// recording each in schema_migrations. Instances starting together take turns (an
// advisory lock). kFailedPrecondition when the database is at a version this build does
// not know, or knows under another name.
Status migrate_schema(Session& s);

}  // namespace shopeasy::cloud::storage::pg
