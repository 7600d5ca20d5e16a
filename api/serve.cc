#include "api/serve.h"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "api/agent_routes.h"
#include "api/audit_routes.h"
#include "api/auth.h"
#include "api/billing_routes.h"
#include "api/cmdb_routes.h"
#include "api/envelope.h"
#include "api/environment_routes.h"
#include "api/gateway.h"
#include "api/http_server.h"
#include "api/lease_routes.h"
#include "api/monitoring_routes.h"
#include "api/query_cache.h"
#include "api/quota_routes.h"
#include "api/scheduler_routes.h"
#include "api/spec_routes.h"
#include "api/workspace_routes.h"
#include "commands/environment_service.h"
#include "commands/host_service.h"
#include "commands/metering_process.h"
#include "commands/process_managers.h"
#include "commands/secrets.h"
#include "eventstore/kafka_relay.h"
#include "eventstore/rocksdb_event_store.h"
#include "projections/embedded_postgres.h"
#include "projections/kafka_projection_worker.h"
#include "projections/standard_projections.h"
#include "replay/event_json.h"

namespace remotegpu::api {
namespace {

// remotegpu_query_cache_{hits,misses}_total by cache; absent caches are off.
std::string CacheMetrics(const std::vector<std::pair<std::string, const QueryCache*>>& caches) {
  std::string hits =
      "# HELP remotegpu_query_cache_hits_total Queries answered from the cache.\n"
      "# TYPE remotegpu_query_cache_hits_total counter\n";
  std::string misses =
      "# HELP remotegpu_query_cache_misses_total Cache lookups that went to PostgreSQL.\n"
      "# TYPE remotegpu_query_cache_misses_total counter\n";
  for (const auto& [name, cache] : caches) {
    if (cache == nullptr) continue;
    const QueryCache::Stats stats = cache->stats();
    hits += "remotegpu_query_cache_hits_total{cache=\"" + name + "\"} " +
            std::to_string(stats.hits) + "\n";
    misses += "remotegpu_query_cache_misses_total{cache=\"" + name + "\"} " +
              std::to_string(stats.misses) + "\n";
  }
  return hits + misses;
}

// The agents' telemetry: rows stored, samples refused by time, batches
// PostgreSQL refused (dead-lettered).
template <typename Counter>
std::string TelemetryMetrics(const projections::MetricsStore::Stats& stats, Counter counter) {
  return counter("remotegpu_metrics_host_rows_total", "Host samples stored.", stats.host_rows) +
         counter("remotegpu_metrics_gpu_rows_total", "GPU samples stored.", stats.gpu_rows) +
         counter("remotegpu_metrics_refused_total",
                 "Samples refused for their time (too old or ahead).", stats.refused) +
         counter("remotegpu_metrics_dead_letter_batches_total",
                 "Batches PostgreSQL kept refusing, set aside in dead_letters.",
                 stats.dead_batches) +
         counter("remotegpu_metrics_dead_letter_rows_total", "Rows in dead-lettered batches.",
                 stats.dead_rows);
}

// Blocks until SIGINT or SIGTERM (blocked in every thread, see serve.h) and
// logs which arrived.
void WaitForStopSignal() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  int signal = 0;
  sigwait(&stop_signals, &signal);
  spdlog::info("received {}, stopping", signal == SIGINT ? "SIGINT" : "SIGTERM");
}

// Starts the relay when brokers are configured; null when off.
Result<std::unique_ptr<eventstore::KafkaRelay>> StartRelay(eventstore::EventStore& store,
                                                           const ServeConfig& config) {
  if (config.kafka_brokers.empty()) return std::unique_ptr<eventstore::KafkaRelay>();
  eventstore::KafkaRelayOptions options{.brokers = config.kafka_brokers,
                                        .topic = config.kafka_topic};
  if (config.kafka_format == "json") {
    options.encode = [](const eventstore::RecordedEvent& e) { return replay::EventJson(e).dump(); };
    options.content_type = "application/json";
  } else if (config.kafka_format != "protobuf") {
    return Status::InvalidArgument("--kafka-format must be protobuf or json, not '" +
                                   config.kafka_format + "'");
  }
  return eventstore::KafkaRelay::Start(store, std::move(options));
}

}  // namespace

int RunServe(const ServeConfig& config) {
  const std::filesystem::path data_dir = config.data_dir;
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    spdlog::error("cannot create data dir {}: {}", data_dir.string(), ec.message());
    return 1;
  }

  // The event log first: its lock makes this process the data directory's
  // only user, so a PostgreSQL left running there by a killed server is ours.
  auto store = eventstore::RocksDbEventStore::Open({.path = (data_dir / "events").string()});
  if (!store.ok()) {
    spdlog::error("cannot open the event log: {}", store.status().ToString());
    return 1;
  }
  spdlog::info("event log open at {}: {} events", (data_dir / "events").string(),
               (*store)->LastPosition());

  auto relay = StartRelay(**store, config);
  if (!relay.ok()) {
    spdlog::error("cannot start the kafka relay: {}", relay.status().ToString());
    return 2;
  }

  std::unique_ptr<projections::EmbeddedPostgres> embedded;
  std::string conninfo = config.pg_url;
  if (conninfo.empty()) {
    auto started = projections::EmbeddedPostgres::Start({.data_dir = (data_dir / "pg").string()});
    if (!started.ok()) {
      spdlog::error("cannot start the embedded PostgreSQL: {}", started.status().ToString());
      return 1;
    }
    embedded = std::move(*started);
    conninfo = embedded->ConnectionString();
  }

  auto runners = projections::StandardProjections(
      **store, {.conninfo = conninfo,
                .schema = config.schema,
                .batch_size = 1000,
                .linger = std::chrono::milliseconds(config.projection_linger_ms)});
  for (auto& runner : runners) {
    Status started = runner->Start();
    if (!started.ok()) {
      spdlog::error("cannot start projection {}: {}", runner->name(), started.ToString());
      return 1;
    }
  }
  // The command side: caches, the scheduler index rebuilt from the log and
  // following it, and the services.
  commands::AggregateCache<commands::HostTraits> host_cache(**store);
  commands::SchedulerIndex index;
  Status indexed = index.CatchUp(**store);
  if (indexed.ok()) indexed = index.Follow(**store);
  if (!indexed.ok()) {
    spdlog::error("cannot build the scheduler index: {}", indexed.ToString());
    return 1;
  }
  commands::StripedLock host_locks;
  commands::HostService hosts(**store, SystemClock::Instance(), index, host_cache, host_locks);
  commands::AggregateCache<commands::EnvironmentTraits> env_cache(**store);
  // Data keys of recoverable secrets live beside the log, never in it.
  commands::FileDataKeyStore keys((data_dir / "keys").string());
  commands::EnvironmentService environments(**store, SystemClock::Instance(), index, host_cache,
                                            env_cache, host_locks, {.keys = &keys});

  commands::AggregateCache<commands::LeaseTraits> lease_cache(**store);
  commands::LeaseService leases(**store, SystemClock::Instance(), index, host_cache, lease_cache,
                                host_locks);
  Status recovered = leases.Recover();
  if (!recovered.ok()) {
    spdlog::error("cannot learn the open leases: {}", recovered.ToString());
    return 1;
  }

  ReadStore reads(conninfo, config.schema);
  UuidV7Generator ids(SystemClock::Instance());

  // Who may call: the identity index from the log, the first admin, and the
  // access tokens' signing keys (beside the log, never in it).
  commands::IdentityIndex identity_index;
  Status identities = identity_index.CatchUp(**store);
  if (identities.ok()) identities = identity_index.Follow(**store);
  if (!identities.ok()) {
    spdlog::error("cannot read the identities: {}", identities.ToString());
    return 1;
  }
  NotificationOutbox outbox(conninfo, config.schema, keys);
  if (Status opened = outbox.Open(); !opened.ok()) {
    spdlog::error("{}", opened.ToString());
    return 1;
  }
  commands::IdentityService identity(**store, SystemClock::Instance(), identity_index, ids,
                                     &outbox);
  const char* admin_password = std::getenv("REMOTEGPU_ADMIN_PASSWORD");
  auto admin = identity.EnsureAdmin(admin_password != nullptr ? admin_password : "");
  if (!admin.ok()) {
    spdlog::error("cannot create the first admin: {}", admin.status().ToString());
    return 1;
  }
  if (admin->has_value()) {
    if ((*admin)->empty()) {
      spdlog::info("created user admin with the password in REMOTEGPU_ADMIN_PASSWORD");
    } else {
      // Printed once, to the terminal, never logged anywhere else.
      std::fprintf(
          stderr,
          "\n  First start: created user admin with password %s\n"
          "  Log in with POST /api/auth/login and change it (PUT /api/users/me/password).\n\n",
          (*admin)->c_str());
    }
  }
  auto tokens = AccessTokens::Open((data_dir / "keys" / "jwt").string(), SystemClock::Instance());
  if (!tokens.ok()) {
    spdlog::error("cannot open the token signing keys: {}", tokens.status().ToString());
    return 1;
  }
  AuthApi auth_api{&identity, &identity_index, tokens->get(), &outbox,
                   [&host_cache](const std::string& host_id) {
                     auto host = host_cache.Load(host_id);
                     return host.ok() && host->version > 0;
                   }};
  // One answer cache per projection, versioned by its checkpoint.
  auto cache_for = [&config](const projections::ProjectionRunner* runner) {
    return config.query_cache
               ? std::make_unique<QueryCache>([runner] { return runner->read_model_version(); },
                                              20'000, [runner] { return runner->checkpoint(); })
               : nullptr;
  };
  auto cmdb_cache = cache_for(runners[projections::kCmdb].get());
  auto environment_cache = cache_for(runners[projections::kEnvironments].get());
  ApiContext context{store->get(),    &hosts, &reads, &ids, runners[projections::kCmdb].get(),
                     cmdb_cache.get()};
  for (const auto& runner : runners) context.projections.push_back(runner.get());
  std::vector<projections::ProjectionRunner*> live;
  for (const auto& runner : runners) live.push_back(runner.get());
  RebuildJob rebuild(**store,
                     {.conninfo = conninfo,
                      .schema = config.schema,
                      .linger = std::chrono::milliseconds(config.projection_linger_ms)},
                     live);
  context.rebuild = &rebuild;
  context.relay = relay->get();
  Router router;
  if (config.insecure_no_auth) {
    spdlog::warn(
        "--insecure-no-auth: NO AUTHENTICATION; every caller acts as admin (benchmarks only)");
    router.Use(InsecureNoAuthMiddleware(identity_index));
  } else {
    router.Use(AuthMiddleware(auth_api));
  }
  router.Use(CheckJsonBodies);
  RateLimiter rate_limiter(config.rate_limit, config.rate_burst, SystemClock::Instance());
  if (config.rate_limit > 0) router.Admit(RateLimitAdmission(rate_limiter));
  AddAuthRoutes(router, auth_api);
  commands::QuotaService quotas(**store, SystemClock::Instance());
  QuotaApi quota_api{&quotas, &identity_index};
  AddQuotaRoutes(router, quota_api);
  commands::WorkspaceService workspaces(**store, SystemClock::Instance(), identity_index, ids);
  WorkspaceApi workspace_api{&workspaces, &identity_index};
  AddWorkspaceRoutes(router, workspace_api);
  AddHealthRoutes(router, context);
  AddCmdbRoutes(router, context);
  // Product specs: every one in memory, from the log.
  commands::SpecService specs(**store, SystemClock::Instance());
  if (Status opened = specs.Open(); !opened.ok()) {
    spdlog::error("cannot read the product specs: {}", opened.ToString());
    return 1;
  }
  SpecApi spec_api{&specs, &ids, &SystemClock::Instance()};
  AddSpecRoutes(router, spec_api);
  EnvironmentApi environment_api{
      &environments,           &reads,          &ids,  runners[projections::kEnvironments].get(),
      environment_cache.get(), &identity_index, &specs};
  AddEnvironmentRoutes(router, environment_api);
  LeaseApi lease_api{&leases, &reads, &ids, runners[projections::kLeases].get(),
                     runners[projections::kCmdb].get()};
  AddLeaseRoutes(router, lease_api);
  commands::PolicyService policies(**store, SystemClock::Instance(), index);
  SchedulerApi scheduler_api{
      &environments,   &policies, &index, &reads, runners[projections::kCmdb].get(),
      cmdb_cache.get()};
  AddSchedulerRoutes(router, scheduler_api);
  // Hosts with an agent token are expected to heartbeat; silent ones go offline.
  commands::OfflineDetector liveness(
      hosts, index, SystemClock::Instance(), int64_t{config.agent_timeout_s} * 1'000'000,
      [&identity_index] {
        return identity_index.HostsWithAgents(SystemClock::Instance().NowMicros());
      });
  // Agents' metrics: telemetry tables beside the read models, and health.
  projections::MetricsStore metrics(conninfo, config.schema);
  if (Status opened = metrics.Open(SystemClock::Instance().NowMicros()); !opened.ok()) {
    spdlog::error("{}", opened.ToString());
    return 1;
  }
  commands::HealthMonitor health(hosts);
  AgentApi agent_api{&hosts,  &liveness, &environments,           &index,
                     &health, &metrics,  &SystemClock::Instance()};
  AddAgentRoutes(router, agent_api);
  MonitoringApi monitoring_api{&metrics, &SystemClock::Instance()};
  AddMonitoringRoutes(router, monitoring_api);
  // Commerce: rates, accounts, invoices; the metering process on the ticker.
  commands::BillingService billing(**store, SystemClock::Instance());
  if (Status claimed = billing.ClaimRecordedOrders(
          {{eventstore::ActorKind::kSystem, "order-claims", "order id claims"}, "", "", ""});
      !claimed.ok()) {
    spdlog::error("cannot claim the order ids of earlier recharges: {}", claimed.ToString());
    return 1;
  }
  BillingApi billing_api{&billing, &identity_index, &reads, runners[projections::kBilling].get(),
                         &ids};
  AddBillingRoutes(router, billing_api);
  commands::MeteringProcess metering(
      **store, SystemClock::Instance(), billing,
      [&environments](const std::string& env_id, const std::string& reason) {
        const commands::CommandMeta meta{
            {eventstore::ActorKind::kSystem, "metering", ""}, "", "", ""};
        return environments.Release(env_id, "", reason, meta).status();
      });
  AuditApi audit_api{store->get(), &hosts, &SystemClock::Instance()};
  AddAuditRoutes(router, audit_api);
  const std::string openapi = router.OpenApiJson("RemoteGPU API", "0.1.0");
  router.Add("GET", "/api/openapi.json", "This document",
             [&openapi](const HttpRequest&) {
               return HttpResponse{200, "application/json", openapi, {}};
             },
             {.access = Access::kPublic, .never_blocks = true});

  const size_t colon = config.listen.rfind(':');
  const std::string address =
      colon == std::string::npos ? config.listen : config.listen.substr(0, colon);
  int port = -1;
  if (colon != std::string::npos) {
    try {
      port = std::stoi(config.listen.substr(colon + 1));
    } catch (const std::exception&) {
      port = -1;
    }
  }
  if (port < 0 || port > 65535) {
    spdlog::error("--listen must be address:port, not '{}'", config.listen);
    return 2;
  }
  RequestMetrics request_metrics;
  context.requests = &request_metrics;
  context.store_metrics = [&store, &cmdb_cache, &environment_cache, &metrics] {
    const eventstore::WriterStats stats = (*store)->Stats();
    auto counter = [](const char* name, const char* help, uint64_t value) {
      return std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name +
             " " + std::to_string(value) + "\n";
    };
    return counter("remotegpu_events_appended_total", "Events written to the log.", stats.events) +
           counter("remotegpu_appends_total", "Appends answered.", stats.appends) +
           counter("remotegpu_wal_syncs_total", "WAL fsyncs.", stats.wal_syncs) +
           counter("remotegpu_wal_sync_microseconds_total", "Time spent in WAL fsyncs.",
                   stats.sync_micros) +
           counter("remotegpu_group_write_microseconds_total", "Time spent writing groups.",
                   stats.write_micros) +
           CacheMetrics({{"cmdb", cmdb_cache.get()}, {"environments", environment_cache.get()}}) +
           TelemetryMetrics(metrics.stats(), counter);
  };
  // Both paths record the request's route, status and latency.
  auto measured = [&request_metrics](const HttpRequest& r, auto&& answer) {
    const auto start = std::chrono::steady_clock::now();
    std::string route;
    std::optional<HttpResponse> response = answer(&route);
    if (response) {
      request_metrics.Record(
          r.method, route.empty() ? "unmatched" : route, response->status,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    return response;
  };
  const int io_threads = config.io_threads > 0
                             ? config.io_threads
                             : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  // CORS around both paths: preflights answered at once, answers decorated.
  const Cors cors(config.cors_origins);
  auto with_cors = [&cors](const HttpRequest& r, std::optional<HttpResponse> response) {
    if (response && cors.enabled()) cors.Decorate(r, *response);
    return response;
  };
  auto server = HttpServer::Start(
      [&](const HttpRequest& r) {
        return *with_cors(r, measured(r, [&](std::string* route) -> std::optional<HttpResponse> {
                            return router.Handle(r, route);
                          }));
      },
      {.address = address,
       .port = static_cast<uint16_t>(port),
       .io_threads = io_threads,
       .worker_threads = config.http_workers},
      [&](const HttpRequest& r) -> std::optional<HttpResponse> {
        if (cors.enabled()) {
          if (auto preflight = cors.Preflight(r)) return preflight;
        }
        return with_cors(
            r, measured(r, [&](std::string* route) { return router.TryInline(r, route); }));
      });
  if (!server.ok()) {
    spdlog::error("{}", server.status().ToString());
    return 1;
  }
  // Process managers on a timer: offline detection, lease expiry and the
  // allocation reconciler, at least three times per agent timeout.
  commands::LeaseExpiryProcess expiry(leases);
  commands::AllocationReconciler reconciler(hosts, index, env_cache, lease_cache);
  std::mutex ticker_mu;
  std::condition_variable ticker_cv;
  bool ticker_stop = false;
  std::thread ticker([&] {
    const commands::CommandMeta system{
        {eventstore::ActorKind::kSystem, "process-managers", ""}, "", "", ""};
    // Metrics partitions, hourly roll-ups and retention every 5 minutes.
    auto metrics_due = std::chrono::steady_clock::now() + std::chrono::minutes(5);
    auto metering_due = std::chrono::steady_clock::now();
    std::unique_lock lock(ticker_mu);
    const auto period =
        std::clamp(std::chrono::milliseconds(config.agent_timeout_s * 1000 / 3),
                   std::chrono::milliseconds(200), std::chrono::milliseconds(10'000));
    while (!ticker_cv.wait_for(lock, period, [&] { return ticker_stop; })) {
      lock.unlock();
      auto offline = liveness.Tick(system);
      if (!offline.ok()) spdlog::error("offline detection: {}", offline.status().ToString());
      if (offline.ok() && *offline > 0) spdlog::warn("{} host(s) went offline", *offline);
      auto expired = expiry.Tick(system);
      if (!expired.ok()) spdlog::error("lease expiry: {}", expired.status().ToString());
      auto released = reconciler.Tick(system);
      if (!released.ok()) spdlog::error("reconciler: {}", released.status().ToString());
      if (const auto now = std::chrono::steady_clock::now(); now >= metrics_due) {
        Status maintained = metrics.Maintain(SystemClock::Instance().NowMicros());
        if (!maintained.ok()) spdlog::error("metrics upkeep: {}", maintained.ToString());
        metrics_due = now + std::chrono::minutes(5);
      }
      if (const auto now = std::chrono::steady_clock::now();
          config.metering_interval_s > 0 && now >= metering_due) {
        auto metered = metering.Tick(system);
        if (!metered.ok()) {
          spdlog::error("metering: {}", metered.status().ToString());
        } else if (metered->lines > 0 || metered->invoices > 0 || metered->stopped > 0) {
          spdlog::info(
              "metering: {} bill line(s), {} fen; {} invoice(s) drafted; {} "
              "environment(s) stopped for their balance",
              metered->lines, metered->amount_fen, metered->invoices, metered->stopped);
        }
        metering_due = now + std::chrono::seconds(config.metering_interval_s);
      }
      lock.lock();
    }
  });

  spdlog::info("ready: HTTP on {}:{}; read models in {} PostgreSQL, schema {}", address,
               (*server)->port(), embedded ? "embedded" : "external", config.schema);

  WaitForStopSignal();
  (*server)->Shutdown();  // In-flight requests finish first.
  {
    std::lock_guard lock(ticker_mu);
    ticker_stop = true;
  }
  ticker_cv.notify_all();
  ticker.join();
  index.Stop();
  identity_index.Stop();
  specs.Stop();
  for (auto& runner : runners) {
    runner->Stop();
    spdlog::info("projection {} stopped at position {}", runner->name(), runner->checkpoint());
  }
  runners.clear();
  if (*relay) (*relay)->Stop();
  store->reset();
  if (embedded) {
    Status stopped = embedded->Stop();
    if (!stopped.ok()) {
      spdlog::error("stopping the embedded PostgreSQL: {}", stopped.ToString());
      return 1;
    }
  }
  spdlog::info("stopped");
  return 0;
}

int RunProject(const ProjectConfig& config) {
  if (config.source != "kafka") {
    spdlog::error("--source must be kafka (the server itself projects its local log)");
    return 2;
  }
  if (config.kafka_brokers.empty() || config.group.empty() || config.pg_url.empty()) {
    spdlog::error("remotegpu project needs --kafka-brokers, --group and --pg-url");
    return 2;
  }
  projections::KafkaProjectionWorker worker(
      projections::StandardProjectors(nullptr),
      {.brokers = config.kafka_brokers,
       .topic = config.kafka_topic,
       .group = config.group,
       .conninfo = config.pg_url,
       .schema = config.schema,
       .batch_size = static_cast<size_t>(std::max(1, config.batch_size)),
       .session_timeout = std::chrono::milliseconds(config.session_timeout_ms)});
  Status opened = worker.Open();
  if (!opened.ok()) {
    spdlog::error("{}", opened.ToString());
    return opened.code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  spdlog::info("ready: projecting topic {} as group {} into schema {}", config.kafka_topic,
               config.group, config.schema);
  // The signal waiter stops the worker; the worker runs on this thread.
  std::thread waiter([&worker] {
    WaitForStopSignal();
    worker.Stop();
  });
  Status ran = worker.Run();
  if (!ran.ok()) {
    spdlog::error("{}", ran.ToString());
    pthread_kill(waiter.native_handle(), SIGTERM);
  }
  waiter.join();
  const projections::KafkaWorkerStats stats = worker.stats();
  spdlog::info("stopped: {} events applied in {} transactions", stats.applied, stats.transactions);
  return ran.ok() ? 0 : 1;
}

}  // namespace remotegpu::api
