// A private PostgreSQL server run from Debian's installed binaries: the
// server's default read store when no --pg-url is given, and the peer that
// tests and benchmarks start for themselves.
//
// The cluster lives in `data_dir`; it listens on a unix socket inside that
// directory and, unless a TCP port is asked for, on no TCP port at all. The
// socket's directory is private to the server's user (0700), and every
// connection authenticates with scram-sha-256 as `postgres` with a password
// generated on first start and kept in `data_dir`/password (0600), so no
// other local user can reach the read models or the notification outbox.
// When this process is root, PostgreSQL (which refuses to run as root) runs
// as the `postgres` user and `data_dir` is handed to it.
//
// Thread-safety: not thread-safe; one owner starts and stops it.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "common/status.h"

namespace remotegpu::projections {

struct EmbeddedPostgresOptions {
  std::string data_dir;  // Created if missing; initialised on first start.
  // 0: unix socket only.
  int tcp_port = 0;
  // Extra postgresql.conf lines, e.g. "synchronous_commit = on".
  std::string extra_config;
  // Where to find initdb and pg_ctl; empty: the newest /usr/lib/postgresql/*/bin.
  std::string bin_dir;
  // A server found already running is used but left running on Stop (a tool
  // working beside `remotegpu serve`); false: it is adopted and stopped.
  bool borrow_running = false;
};

class EmbeddedPostgres {
 public:
  // Initialises the cluster when new, starts it and waits until it accepts
  // connections. IoError with PostgreSQL's own output when that fails. A
  // PostgreSQL already running on the cluster (left by an owner that was
  // killed) is adopted, and stopped like one this call started: the caller
  // must be the directory's only user.
  static Result<std::unique_ptr<EmbeddedPostgres>> Start(EmbeddedPostgresOptions options);

  // Stops the server (fast shutdown) if it still runs.
  ~EmbeddedPostgres();
  Status Stop();

  // A libpq connection string for database `dbname`, as user `postgres`.
  std::string ConnectionString(const std::string& dbname = "postgres") const;
  const std::string& socket_dir() const { return socket_dir_; }

 private:
  explicit EmbeddedPostgres(EmbeddedPostgresOptions options) : options_(std::move(options)) {}
  Status InitIfNeeded();
  // Reads the password of `postgres` from `file`, or makes one and writes
  // it there (mode 0600) for the first start.
  Status LoadPassword(const std::filesystem::path& file);
  // A cluster an earlier version made with trust authentication gets the
  // password and scram-sha-256 for every connection.
  Status RequirePasswords();
  // Whether pg_hba.conf trusts any connection (an earlier version's cluster).
  bool Trusting() const;

  EmbeddedPostgresOptions options_;
  std::string run_as_;  // "postgres" when we are root, else empty.
  std::string cluster_dir_;
  std::string socket_dir_;
  std::string password_;  // Of the `postgres` role; in ConnectionString.
  bool running_ = false;
};

}  // namespace remotegpu::projections
