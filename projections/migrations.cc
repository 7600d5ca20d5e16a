#include "projections/migrations.h"

#include <vector>

namespace remotegpu::projections {
namespace {

// Each entry is one migration; "{s}" stands for the schema. Never edit a
// migration that has shipped: add a new one.
const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> kMigrations = {
      // 1: checkpoints and the CMDB, environment and lease read models.
      R"sql(
CREATE TABLE {s}.projection_checkpoints (
  name text PRIMARY KEY,
  position bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE {s}.hosts (
  host_id text PRIMARY KEY,
  name text NOT NULL,
  ip_address text NOT NULL,
  public_ip text NOT NULL,
  ssh_port integer NOT NULL,
  os_type text NOT NULL,
  os_version text NOT NULL,
  arch text NOT NULL,
  deployment_mode text NOT NULL,
  region text NOT NULL,
  cpu_cores integer NOT NULL,
  memory_mb bigint NOT NULL,
  disk_gb bigint NOT NULL,
  labels jsonb NOT NULL,
  tags jsonb NOT NULL,
  asset_number text NOT NULL,
  room text NOT NULL,
  rack text NOT NULL,
  unit integer NOT NULL,
  owner text NOT NULL,
  operational_status text NOT NULL,
  usage_status text NOT NULL,
  health_status text NOT NULL,
  online boolean NOT NULL,
  isolated boolean NOT NULL,
  reserved_for text NOT NULL,
  gpu_model text NOT NULL,
  gpu_count integer NOT NULL,
  gpus_free integer NOT NULL,
  cpu_allocated integer NOT NULL,
  memory_allocated_mb bigint NOT NULL,
  version bigint NOT NULL,
  position bigint NOT NULL,
  registered_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX ON {s}.hosts (operational_status);
CREATE INDEX ON {s}.hosts (gpu_model);
CREATE INDEX ON {s}.hosts (region);
CREATE TABLE {s}.gpus (
  host_id text NOT NULL,
  gpu_index integer NOT NULL,
  uuid text NOT NULL,
  model text NOT NULL,
  memory_mb bigint NOT NULL,
  compute_capability text NOT NULL,
  nvlink_peers jsonb NOT NULL,
  allocation_id text,
  holder text,
  PRIMARY KEY (host_id, gpu_index)
);
CREATE INDEX ON {s}.gpus (model);
CREATE TABLE {s}.port_mappings (
  host_id text NOT NULL,
  port integer NOT NULL,
  service text NOT NULL,
  allocation_id text NOT NULL,
  holder text NOT NULL,
  PRIMARY KEY (host_id, port)
);
CREATE TABLE {s}.change_log (
  position bigint NOT NULL,
  seq integer NOT NULL,
  asset_id text NOT NULL,
  change_type text NOT NULL,
  field text NOT NULL,
  old_value text NOT NULL,
  new_value text NOT NULL,
  actor text NOT NULL,
  reason text NOT NULL,
  request_id text NOT NULL,
  changed_at timestamptz NOT NULL,
  PRIMARY KEY (position, seq)
);
CREATE INDEX ON {s}.change_log (asset_id, position);
CREATE TABLE {s}.environments (
  env_id text PRIMARY KEY,
  name text NOT NULL,
  owner text NOT NULL,
  image text NOT NULL,
  status text NOT NULL,
  cpu_cores integer NOT NULL,
  memory_mb bigint NOT NULL,
  gpu_count integer NOT NULL,
  host_id text,
  gpu_indexes jsonb NOT NULL,
  ssh_port integer,
  version bigint NOT NULL,
  position bigint NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX ON {s}.environments (owner);
CREATE INDEX ON {s}.environments (status);
CREATE TABLE {s}.scheduler_history (
  position bigint PRIMARY KEY,
  env_id text NOT NULL,
  result text NOT NULL,
  strategy text NOT NULL,
  host_id text,
  gpu_indexes jsonb NOT NULL,
  duration_us bigint NOT NULL,
  candidates integer NOT NULL,
  reason text NOT NULL,
  decided_at timestamptz NOT NULL
);
CREATE INDEX ON {s}.scheduler_history (env_id);
CREATE TABLE {s}.leases (
  lease_id text PRIMARY KEY,
  customer_id text NOT NULL,
  host_ids jsonb NOT NULL,
  status text NOT NULL,
  months integer NOT NULL,
  starts_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  version bigint NOT NULL,
  position bigint NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX ON {s}.leases (status, expires_at);
)sql",
      // 2: indexes for the API's default sort orders.
      R"sql(
CREATE INDEX ON {s}.hosts (name, host_id);
CREATE INDEX ON {s}.environments (created_at, env_id);
)sql",
      // 3: each host's port pools (seed 01 module 4 port_pools). Derived
      // from events already in the log, so the CMDB projection starts over
      // and fills the new table on its way back to the head.
      R"sql(
CREATE TABLE {s}.port_pools (
  host_id text NOT NULL,
  service text NOT NULL,
  first_port integer NOT NULL,
  last_port integer NOT NULL,
  PRIMARY KEY (host_id, service, first_port)
);
TRUNCATE {s}.hosts, {s}.gpus, {s}.port_mappings, {s}.change_log;
DELETE FROM {s}.projection_checkpoints WHERE name = 'cmdb';
)sql",
      // 4: where projection workers fed from Kafka are, per consumer group
      // and partition: the next offset to read and the last log position
      // applied, written in the same transaction as the read-model rows.
      R"sql(
CREATE TABLE {s}.kafka_offsets (
  group_id text NOT NULL,
  topic text NOT NULL,
  partition integer NOT NULL,
  next_offset bigint NOT NULL,
  applied_position bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, topic, partition)
);
)sql",
      // 5: environments carry their workspace and requested storage; the
      // environment projection starts over to fill them in.
      R"sql(
ALTER TABLE {s}.environments ADD COLUMN workspace_id text,
  ADD COLUMN storage_gb bigint NOT NULL DEFAULT 0;
CREATE INDEX ON {s}.environments (workspace_id) WHERE workspace_id IS NOT NULL;
TRUNCATE {s}.environments;
DELETE FROM {s}.projection_checkpoints WHERE name = 'environments';
)sql",
      // 6: commerce (seed 01 module 8): bill lines, accounts, payments and
      // invoices, all from events (the billing projection).
      R"sql(
CREATE TABLE {s}.billing_records (
  line_id text PRIMARY KEY,
  customer_id text NOT NULL,
  resource_type text NOT NULL,
  resource_id text NOT NULL,
  billing_mode text NOT NULL,
  period_start timestamptz NOT NULL,
  period_end timestamptz NOT NULL,
  seconds bigint NOT NULL,
  amount_fen bigint NOT NULL,
  currency text NOT NULL,
  parts jsonb NOT NULL,
  price_source text NOT NULL,
  position bigint NOT NULL,
  recorded_at timestamptz NOT NULL
);
CREATE INDEX ON {s}.billing_records (customer_id, period_start);
CREATE INDEX ON {s}.billing_records (period_start, line_id);
CREATE TABLE {s}.accounts (
  customer_id text PRIMARY KEY,
  recharged_fen bigint NOT NULL DEFAULT 0,
  consumed_fen bigint NOT NULL DEFAULT 0,
  balance_fen bigint GENERATED ALWAYS AS (recharged_fen - consumed_fen) STORED,
  credit_limit_fen bigint NOT NULL DEFAULT 0,
  low_balance_threshold_fen bigint NOT NULL DEFAULT 0,
  stop_when_exhausted boolean NOT NULL DEFAULT false,
  low_balance boolean NOT NULL DEFAULT false,
  exhausted boolean NOT NULL DEFAULT false,
  position bigint NOT NULL
);
CREATE TABLE {s}.payments (
  order_id text PRIMARY KEY,
  customer_id text NOT NULL,
  amount_fen bigint NOT NULL,
  method text NOT NULL,
  reference text NOT NULL,
  status text NOT NULL,
  paid_at timestamptz NOT NULL,
  recorded_by text NOT NULL,
  position bigint NOT NULL
);
CREATE INDEX ON {s}.payments (customer_id, paid_at);
CREATE TABLE {s}.invoices (
  invoice_id text PRIMARY KEY,
  customer_id text NOT NULL,
  month text NOT NULL,
  period_start timestamptz NOT NULL,
  period_end timestamptz NOT NULL,
  total_fen bigint NOT NULL,
  currency text NOT NULL,
  status text NOT NULL,
  groups jsonb NOT NULL,
  drafted_at timestamptz NOT NULL,
  issued_at timestamptz,
  paid_at timestamptz,
  payment_method text,
  payment_reference text,
  position bigint NOT NULL
);
CREATE INDEX ON {s}.invoices (customer_id, month);
)sql",
  };
  return kMigrations;
}

std::string Substitute(const std::string& sql, const std::string& schema) {
  std::string out;
  for (size_t i = 0; i < sql.size(); ++i) {
    if (sql.compare(i, 3, "{s}") == 0) {
      out += schema;
      i += 2;
    } else {
      out.push_back(sql[i]);
    }
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<pqxx::connection>> ConnectAndMigrate(const std::string& conninfo,
                                                            const std::string& schema) {
  RGPU_RETURN_IF_ERROR(ValidateSchemaName(schema));
  std::unique_ptr<pqxx::connection> connection;
  try {
    connection = std::make_unique<pqxx::connection>(conninfo);
  } catch (const std::exception& e) {
    return Status::Unavailable("cannot connect to PostgreSQL: " + std::string(e.what()));
  }
  RGPU_RETURN_IF_ERROR(Migrate(*connection, schema));
  return connection;
}

int LatestSchemaVersion() { return static_cast<int>(Migrations().size()); }

Status ValidateSchemaName(const std::string& schema) {
  if (schema.empty() || schema.size() > 48 || !(schema[0] >= 'a' && schema[0] <= 'z')) {
    return Status::InvalidArgument("schema name '" + schema +
                                   "' must start with a lower-case letter, at most 48 chars");
  }
  for (char c : schema) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return Status::InvalidArgument("schema name '" + schema +
                                     "' may hold only a-z, 0-9 and '_'");
    }
  }
  return Status::Ok();
}

Result<int> SchemaVersion(pqxx::connection& connection, const std::string& schema) {
  RGPU_RETURN_IF_ERROR(ValidateSchemaName(schema));
  try {
    pqxx::work tx(connection);
    auto exists = tx.exec_params1(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND "
        "table_name = 'schema_migrations'",
        schema);
    if (exists[0].as<int>() == 0) return 0;
    auto version = tx.exec1("SELECT coalesce(max(version), 0) FROM " + schema +
                            ".schema_migrations");
    return version[0].as<int>();
  } catch (const std::exception& e) {
    return Status::IoError(std::string("reading the schema version: ") + e.what());
  }
}

Status Migrate(pqxx::connection& connection, const std::string& schema) {
  RGPU_RETURN_IF_ERROR(ValidateSchemaName(schema));
  try {
    {
      pqxx::work tx(connection);
      tx.exec0("CREATE SCHEMA IF NOT EXISTS " + schema);
      tx.exec0("CREATE TABLE IF NOT EXISTS " + schema +
               ".schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT "
               "NULL DEFAULT now())");
      tx.commit();
    }
    const auto& migrations = Migrations();
    for (size_t i = 0; i < migrations.size(); ++i) {
      const int version = static_cast<int>(i) + 1;
      pqxx::work tx(connection);
      // The lock serialises migrators racing on the same schema.
      tx.exec0("LOCK TABLE " + schema + ".schema_migrations IN EXCLUSIVE MODE");
      auto applied = tx.exec_params1(
          "SELECT count(*) FROM " + schema + ".schema_migrations WHERE version = $1", version);
      if (applied[0].as<int>() > 0) continue;
      tx.exec0(Substitute(migrations[i], schema));
      tx.exec_params0("INSERT INTO " + schema + ".schema_migrations (version) VALUES ($1)",
                      version);
      tx.commit();
    }
  } catch (const std::exception& e) {
    return Status::IoError("migrating schema " + schema + ": " + e.what());
  }
  return Status::Ok();
}

}  // namespace remotegpu::projections
