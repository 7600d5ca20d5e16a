// The read models' PostgreSQL schema, versioned in code. Each migration runs
// once, in its own transaction, and records itself in
// <schema>.schema_migrations; Migrate brings any schema (the live one or a
// fresh one for a rebuild) to the latest version.
#pragma once

#include <memory>
#include <string>

#include <pqxx/pqxx>

#include "common/status.h"

namespace remotegpu::projections {

// The version Migrate brings a schema to.
int LatestSchemaVersion();

// Creates `schema` if needed and applies every migration it lacks.
// IoError (with PostgreSQL's message) when a statement fails.
Status Migrate(pqxx::connection& connection, const std::string& schema);

// The version a schema is at; 0 when it does not exist.
Result<int> SchemaVersion(pqxx::connection& connection, const std::string& schema);

// A connection to `conninfo` with `schema` migrated to the latest version:
// what every projection writer starts with. InvalidArgument for a bad schema
// name, Unavailable when PostgreSQL cannot be reached, IoError when a
// migration fails.
Result<std::unique_ptr<pqxx::connection>> ConnectAndMigrate(const std::string& conninfo,
                                                            const std::string& schema);

// A schema name must be a plain lower-case identifier (it is spliced into SQL).
Status ValidateSchemaName(const std::string& schema);

}  // namespace remotegpu::projections
