// `remotegpu serve`: composes the server from its parts and runs it until
// SIGINT or SIGTERM.
#pragma once

#include <string>
#include <vector>

#include "common/logging.h"

namespace remotegpu::api {

struct ServeConfig {
  std::string data_dir = "./data";
  // libpq connection string; empty: run a private PostgreSQL under
  // <data-dir>/pg and stop it on exit.
  std::string pg_url;
  std::string schema = "rg";              // Where the read models live.
  std::string listen = "127.0.0.1:8080";  // address:port of the HTTP API; port 0: any.
  // Threads running sockets; 0: one per core.
  int io_threads = 0;
  // Threads running handlers that block on appends and queries: the number
  // of such requests served at once, which group commit turns into batches.
  int http_workers = 64;
  // Keep query answers while their read models have not moved (see
  // api/query_cache.h); off: every query goes to PostgreSQL.
  bool query_cache = true;
  // How long a projection waits to fill a batch (see ProjectionRunnerOptions).
  int projection_linger_ms = 5;
  // Kafka bootstrap servers; empty: the relay is off.
  std::string kafka_brokers;
  std::string kafka_topic = "remotegpu.events";
  // The relay's message values: "protobuf" (the Envelope) or "json" (the
  // audit export's shape).
  std::string kafka_format = "protobuf";
  // Token bucket per customer user, API key or anonymous address; platform
  // admins are not limited (see api/gateway.h); rate 0: off.
  double rate_limit = 100;
  double rate_burst = 200;
  // Origins allowed to call from a browser (CORS); "*" for any; empty: none.
  std::vector<std::string> cors_origins;
  // Benchmarks only: no authentication, every caller is admin; refused
  // unless `listen` is a loopback address.
  bool insecure_no_auth = false;
  // Seconds without a heartbeat after which a host with an agent token is
  // marked offline.
  int agent_timeout_s = 30;
  // Seconds between metering ticks (bill lines, balance checks, invoice
  // drafts); 0: metering is off.
  int metering_interval_s = 60;
  // Run the process managers on a thread of their own (App::Tick); off for
  // tests that tick a manual clock themselves.
  bool ticker = true;
};

// `remotegpu project`: projection workers fed from Kafka.
struct ProjectConfig {
  std::string source = "kafka";  // The only source so far.
  std::string kafka_brokers;
  std::string kafka_topic = "remotegpu.events";
  std::string group;
  std::string pg_url;
  std::string schema = "rg";
  int batch_size = 1000;
  int session_timeout_ms = 10'000;
};

// Same signal contract as RunServe. Returns the process exit code.
int RunProject(const ProjectConfig& config);

// The caller must have blocked SIGINT and SIGTERM in every thread (before
// starting any), so that this function's sigwait receives them. Returns the
// process exit code.
int RunServe(const ServeConfig& config);

}  // namespace remotegpu::api
