#include "api/app/app.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "api/app/event_feed.h"
#include "api/app/host_signals.h"
#include "api/app/metrics_feed.h"
#include "api/app/notification_outbox.h"
#include "api/app/rebuild_job.h"
#include "api/http/access_tokens.h"
#include "api/http/envelope.h"
#include "api/http/gateway.h"
#include "api/http/http_server.h"
#include "api/http/query_cache.h"
#include "api/http/request_metrics.h"
#include "api/routes/agent_routes.h"
#include "api/routes/audit_routes.h"
#include "api/routes/auth.h"
#include "api/routes/billing_routes.h"
#include "api/routes/cmdb_routes.h"
#include "api/routes/environment_routes.h"
#include "api/routes/lease_routes.h"
#include "api/routes/monitoring_routes.h"
#include "api/routes/quota_routes.h"
#include "api/routes/scheduler_routes.h"
#include "api/routes/spec_routes.h"
#include "api/routes/stream_routes.h"
#include "api/routes/workspace_routes.h"
#include "commands/billing_service.h"
#include "commands/environment_service.h"
#include "commands/host_service.h"
#include "commands/identity_index.h"
#include "commands/identity_service.h"
#include "commands/lease_service.h"
#include "commands/metering_process.h"
#include "commands/policy_service.h"
#include "commands/process_managers.h"
#include "commands/quota_service.h"
#include "commands/scheduler_index.h"
#include "commands/secrets.h"
#include "commands/spec_service.h"
#include "commands/striped_lock.h"
#include "commands/workspace_service.h"
#include "eventstore/kafka_relay.h"
#include "eventstore/rocksdb_event_store.h"
#include "projections/embedded_postgres.h"
#include "projections/metrics_store.h"
#include "projections/queries/event_json.h"
#include "projections/queries/read_store.h"
#include "projections/standard_projections.h"

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

std::string Metric(const char* name, const char* type, const char* help, uint64_t value) {
  return std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
         name + " " + std::to_string(value) + "\n";
}
std::string Counter(const char* name, const char* help, uint64_t value) {
  return Metric(name, "counter", help, value);
}

// The agents' telemetry: rows stored, samples refused by time, batches
// PostgreSQL refused (dead-lettered).
std::string TelemetryMetrics(const projections::MetricsStore::Stats& stats) {
  return Counter("remotegpu_metrics_host_rows_total", "Host samples stored.", stats.host_rows) +
         Counter("remotegpu_metrics_gpu_rows_total", "GPU samples stored.", stats.gpu_rows) +
         Counter("remotegpu_metrics_refused_total",
                 "Samples refused for their time (too old or ahead).", stats.refused) +
         Counter("remotegpu_metrics_dead_letter_batches_total",
                 "Batches PostgreSQL kept refusing, set aside in dead_letters.",
                 stats.dead_batches) +
         Counter("remotegpu_metrics_dead_letter_rows_total", "Rows in dead-lettered batches.",
                 stats.dead_rows);
}

// The HTTP core's parked requests, streams and refusals, and the feed's.
std::string StreamMetrics(const HttpServer::Stats& http, const EventFeed::Stats& feed) {
  return Metric("remotegpu_http_parked_requests", "gauge",
                "Requests parked until their read model reaches X-Min-Position.", http.parked) +
         Metric("remotegpu_http_streams", "gauge", "Open WebSocket and event-stream peers.",
                http.streams) +
         Counter("remotegpu_http_busy_refused_total",
                 "Requests answered 503 because the worker queue was full.", http.refused) +
         Counter("remotegpu_http_streams_dropped_total",
                 "Stream peers dropped for a full send queue (too slow).", http.dropped) +
         Counter("remotegpu_event_feed_messages_total", "Messages the event feed sent.",
                 feed.messages);
}

// Starts the relay when brokers are configured; null when off.
Result<std::unique_ptr<eventstore::KafkaRelay>> StartRelay(eventstore::EventStore& store,
                                                           const ServeConfig& config) {
  if (config.kafka_brokers.empty()) return std::unique_ptr<eventstore::KafkaRelay>();
  eventstore::KafkaRelayOptions options{.brokers = config.kafka_brokers,
                                        .topic = config.kafka_topic};
  if (config.kafka_format == "json") {
    options.encode = [](const eventstore::RecordedEvent& e) {
      return queries::EventJson(e).dump();
    };
    options.content_type = "application/json";
  } else if (config.kafka_format != "protobuf") {
    return Status::InvalidArgument("--kafka-format must be protobuf or json, not '" +
                                   config.kafka_format + "'");
  }
  return eventstore::KafkaRelay::Start(store, std::move(options));
}

// "address:port" split; InvalidArgument otherwise.
Result<std::pair<std::string, uint16_t>> ListenAddress(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  int port = -1;
  if (colon != std::string::npos) {
    try {
      port = std::stoi(listen.substr(colon + 1));
    } catch (const std::exception&) {
      port = -1;
    }
  }
  if (port < 0 || port > 65535) {
    return Status::InvalidArgument("--listen must be address:port, not '" + listen + "'");
  }
  return std::make_pair(listen.substr(0, colon), static_cast<uint16_t>(port));
}

// What a failed step says: where it failed and why.
Status Failed(const std::string& what, const Status& status) {
  return Status(status.code(), what + ": " + status.message());
}

}  // namespace

// Every part, declared in the order it is built: members are destroyed in
// reverse, so each goes before what it uses.
struct App::Parts {
  ServeConfig config;
  const Clock* clock = nullptr;
  std::unique_ptr<eventstore::RocksDbEventStore> store;
  std::unique_ptr<eventstore::KafkaRelay> relay;
  std::unique_ptr<projections::EmbeddedPostgres> embedded;
  std::string conninfo;
  std::vector<std::unique_ptr<projections::ProjectionRunner>> runners;

  // The command side.
  std::unique_ptr<commands::AggregateCache<commands::HostTraits>> host_cache;
  std::unique_ptr<commands::SchedulerIndex> index;
  std::unique_ptr<commands::StripedLock> host_locks;
  std::unique_ptr<commands::HostService> hosts;
  std::unique_ptr<commands::AggregateCache<commands::EnvironmentTraits>> env_cache;
  std::unique_ptr<commands::FileDataKeyStore> keys;
  std::unique_ptr<commands::EnvironmentService> environments;
  std::unique_ptr<commands::AggregateCache<commands::LeaseTraits>> lease_cache;
  std::unique_ptr<commands::LeaseService> leases;
  std::unique_ptr<queries::ReadStore> reads;
  std::unique_ptr<UuidV7Generator> ids;
  std::unique_ptr<commands::IdentityIndex> identity_index;
  std::unique_ptr<NotificationOutbox> outbox;
  std::unique_ptr<commands::IdentityService> identity;
  std::unique_ptr<AccessTokens> tokens;
  std::unique_ptr<commands::QuotaService> quotas;
  std::unique_ptr<commands::WorkspaceService> workspaces;
  std::unique_ptr<commands::SpecService> specs;
  std::unique_ptr<commands::PolicyService> policies;
  std::unique_ptr<commands::OfflineDetector> liveness;
  std::unique_ptr<projections::MetricsStore> metrics;
  std::unique_ptr<commands::HealthMonitor> health;
  std::unique_ptr<commands::BillingService> billing;
  std::unique_ptr<commands::MeteringProcess> metering;
  std::unique_ptr<commands::LeaseExpiryProcess> expiry;
  std::unique_ptr<commands::AllocationReconciler> reconciler;

  // The HTTP side: what the routes hold, the router, the server.
  std::unique_ptr<QueryCache> cmdb_cache, environment_cache;
  std::unique_ptr<RebuildJob> rebuild;
  std::unique_ptr<RateLimiter> rate_limiter;
  std::unique_ptr<Cors> cors;
  std::unique_ptr<EventFeed> feed;
  std::unique_ptr<HostSignals> host_signals;  // Outlives the server's parked polls.
  MetricsFeed live_metrics;
  RequestMetrics request_metrics;
  AuthApi auth_api;
  ApiContext context;
  QuotaApi quota_api;
  WorkspaceApi workspace_api;
  SpecApi spec_api;
  EnvironmentApi environment_api;
  LeaseApi lease_api;
  SchedulerApi scheduler_api;
  AgentApi agent_api;
  MonitoringApi monitoring_api;
  BillingApi billing_api;
  AuditApi audit_api;
  StreamApi stream_api;
  std::string openapi;
  Router router;
  std::unique_ptr<HttpServer> server;
  std::atomic<HttpServer*> server_ptr{
      nullptr};  // For /metrics, which may run while `server` is set.
  uint16_t port = 0;

  // The ticker.
  std::mutex ticker_mu;
  std::condition_variable ticker_cv;
  bool ticker_stop = false;  // Guarded by ticker_mu.
  std::thread ticker;
  std::mutex tick_mu;   // One Tick at a time.
  bool ticking = true;  // False once Stop began. Guarded by tick_mu.
  UnixMicros metrics_due_us = 0;
  UnixMicros metering_due_us = 0;
  bool stopped = false;

  Status OpenLogAndReadModels();
  Status BuildCommandSide();
  Status BuildRoutes();
  Status StartHttp();
  void StartTicker();
  void Tick();
  Status Stop();
};

Status App::Parts::OpenLogAndReadModels() {
  const std::filesystem::path data_dir = config.data_dir;
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec)
    return Status::IoError("cannot create data dir " + data_dir.string() + ": " + ec.message());
  // The event log first: its lock makes this process the data directory's
  // only user, so a PostgreSQL left running there by a killed server is ours.
  auto opened = eventstore::RocksDbEventStore::Open({.path = (data_dir / "events").string()});
  if (!opened.ok()) return Failed("cannot open the event log", opened.status());
  store = std::move(*opened);
  spdlog::info("event log open at {}: {} events", (data_dir / "events").string(),
               store->LastPosition());
  auto started_relay = StartRelay(*store, config);
  if (!started_relay.ok()) return Failed("cannot start the kafka relay", started_relay.status());
  relay = std::move(*started_relay);

  conninfo = config.pg_url;
  if (conninfo.empty()) {
    auto started = projections::EmbeddedPostgres::Start({.data_dir = (data_dir / "pg").string()});
    if (!started.ok()) return Failed("cannot start the embedded PostgreSQL", started.status());
    embedded = std::move(*started);
    conninfo = embedded->ConnectionString();
  }
  runners = projections::StandardProjections(
      *store, {.conninfo = conninfo,
               .schema = config.schema,
               .batch_size = 1000,
               .linger = std::chrono::milliseconds(config.projection_linger_ms)});
  for (auto& runner : runners) {
    if (Status started = runner->Start(); !started.ok()) {
      return Failed("cannot start projection " + runner->name(), started);
    }
  }
  return Status::Ok();
}

Status App::Parts::BuildCommandSide() {
  const std::filesystem::path data_dir = config.data_dir;
  // Caches, the scheduler index rebuilt from the log and following it, and
  // the services.
  host_cache = std::make_unique<commands::AggregateCache<commands::HostTraits>>(*store);
  index = std::make_unique<commands::SchedulerIndex>();
  Status indexed = index->CatchUp(*store);
  if (indexed.ok()) indexed = index->Follow(*store);
  if (!indexed.ok()) return Failed("cannot build the scheduler index", indexed);
  host_locks = std::make_unique<commands::StripedLock>();
  hosts = std::make_unique<commands::HostService>(*store, *clock, *index, *host_cache, *host_locks);
  env_cache = std::make_unique<commands::AggregateCache<commands::EnvironmentTraits>>(*store);
  // Data keys of recoverable secrets live beside the log, never in it.
  keys = std::make_unique<commands::FileDataKeyStore>((data_dir / "keys").string());
  environments = std::make_unique<commands::EnvironmentService>(
      *store, *clock, *index, *host_cache, *env_cache, *host_locks,
      commands::AccessOptions{.keys = keys.get()});
  lease_cache = std::make_unique<commands::AggregateCache<commands::LeaseTraits>>(*store);
  leases = std::make_unique<commands::LeaseService>(*store, *clock, *index, *host_cache,
                                                    *lease_cache, *host_locks);
  if (Status recovered = leases->Recover(); !recovered.ok()) {
    return Failed("cannot learn the open leases", recovered);
  }
  reads = std::make_unique<queries::ReadStore>(conninfo, config.schema);
  ids = std::make_unique<UuidV7Generator>(*clock);

  // Who may call: the identity index from the log, the first admin, and the
  // access tokens' signing keys (beside the log, never in it).
  identity_index = std::make_unique<commands::IdentityIndex>();
  Status identities = identity_index->CatchUp(*store);
  if (identities.ok()) identities = identity_index->Follow(*store);
  if (!identities.ok()) return Failed("cannot read the identities", identities);
  outbox = std::make_unique<NotificationOutbox>(conninfo, config.schema, *keys);
  if (Status opened = outbox->Open(); !opened.ok()) return opened;
  identity = std::make_unique<commands::IdentityService>(*store, *clock, *identity_index, *ids,
                                                         outbox.get());
  const char* admin_password = std::getenv("REMOTEGPU_ADMIN_PASSWORD");
  auto admin = identity->EnsureAdmin(admin_password != nullptr ? admin_password : "");
  if (!admin.ok()) return Failed("cannot create the first admin", admin.status());
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
  auto opened_tokens = AccessTokens::Open((data_dir / "keys" / "jwt").string(), *clock);
  if (!opened_tokens.ok()) {
    return Failed("cannot open the token signing keys", opened_tokens.status());
  }
  tokens = std::move(*opened_tokens);
  quotas = std::make_unique<commands::QuotaService>(*store, *clock);
  workspaces = std::make_unique<commands::WorkspaceService>(*store, *clock, *identity_index, *ids);
  // Product specs: every one in memory, from the log.
  specs = std::make_unique<commands::SpecService>(*store, *clock);
  if (Status opened = specs->Open(); !opened.ok()) {
    return Failed("cannot read the product specs", opened);
  }
  policies = std::make_unique<commands::PolicyService>(*store, *clock, *index);
  // Hosts with an agent token are expected to heartbeat; silent ones go offline.
  liveness = std::make_unique<commands::OfflineDetector>(
      *hosts, *index, *clock, int64_t{config.agent_timeout_s} * 1'000'000,
      [this] { return identity_index->HostsWithAgents(clock->NowMicros()); });
  // Agents' metrics: telemetry tables beside the read models, and health.
  metrics = std::make_unique<projections::MetricsStore>(conninfo, config.schema);
  if (Status opened = metrics->Open(clock->NowMicros()); !opened.ok()) return opened;
  health = std::make_unique<commands::HealthMonitor>(*hosts);
  // Commerce: rates, accounts, invoices; the metering process on the ticker.
  billing = std::make_unique<commands::BillingService>(*store, *clock);
  if (Status claimed = billing->ClaimRecordedOrders(
          {{eventstore::ActorKind::kSystem, "order-claims", "order id claims"}, "", "", ""});
      !claimed.ok()) {
    return Failed("cannot claim the order ids of earlier recharges", claimed);
  }
  metering = std::make_unique<commands::MeteringProcess>(
      *store, *clock, *billing, [this](const std::string& env_id, const std::string& reason) {
        const commands::CommandMeta meta{
            {eventstore::ActorKind::kSystem, "metering", ""}, "", "", ""};
        return environments->Release(env_id, "", reason, meta).status();
      });
  expiry = std::make_unique<commands::LeaseExpiryProcess>(*leases);
  reconciler =
      std::make_unique<commands::AllocationReconciler>(*hosts, *index, *env_cache, *lease_cache);
  return Status::Ok();
}

Status App::Parts::BuildRoutes() {
  // One answer cache per projection, versioned by its checkpoint.
  auto cache_for = [this](const projections::ProjectionRunner* runner) {
    return config.query_cache
               ? std::make_unique<QueryCache>([runner] { return runner->read_model_version(); },
                                              20'000, [runner] { return runner->checkpoint(); })
               : nullptr;
  };
  cmdb_cache = cache_for(runners[projections::kCmdb].get());
  environment_cache = cache_for(runners[projections::kEnvironments].get());

  auth_api = {identity.get(), identity_index.get(), tokens.get(), outbox.get(),
              [this](const std::string& host_id) {
                auto host = host_cache->Load(host_id);
                return host.ok() && host->version > 0;
              }};
  context = {
      store.get(),     hosts.get(), reads.get(), ids.get(), runners[projections::kCmdb].get(),
      cmdb_cache.get()};
  std::vector<projections::ProjectionRunner*> live;
  for (const auto& runner : runners) {
    context.projections.push_back(runner.get());
    live.push_back(runner.get());
  }
  rebuild = std::make_unique<RebuildJob>(
      *store,
      projections::ProjectionRunnerOptions{
          .conninfo = conninfo,
          .schema = config.schema,
          .linger = std::chrono::milliseconds(config.projection_linger_ms)},
      live);
  context.rebuild = rebuild.get();
  context.relay = relay.get();
  context.requests = &request_metrics;
  feed = std::make_unique<EventFeed>(*store);
  if (Status started = feed->Start(); !started.ok()) {
    return Failed("cannot start the event feed", started);
  }
  host_signals = std::make_unique<HostSignals>(*store, *environments, *index);
  if (Status started = host_signals->Start(); !started.ok()) {
    return Failed("cannot follow the log for the agents' long-polls", started);
  }
  context.store_metrics = [this] {
    auto Streams = [this] {
      HttpServer* http = server_ptr.load();
      return http != nullptr ? StreamMetrics(http->stats(), feed->stats()) : std::string();
    };
    const eventstore::WriterStats stats = store->Stats();
    return Counter("remotegpu_events_appended_total", "Events written to the log.", stats.events) +
           Counter("remotegpu_appends_total", "Appends answered.", stats.appends) +
           Counter("remotegpu_wal_syncs_total", "WAL fsyncs.", stats.wal_syncs) +
           Counter("remotegpu_wal_sync_microseconds_total", "Time spent in WAL fsyncs.",
                   stats.sync_micros) +
           Counter("remotegpu_group_write_microseconds_total", "Time spent writing groups.",
                   stats.write_micros) +
           CacheMetrics({{"cmdb", cmdb_cache.get()}, {"environments", environment_cache.get()}}) +
           TelemetryMetrics(metrics->stats()) + Streams();
  };

  if (config.insecure_no_auth) {
    spdlog::warn(
        "--insecure-no-auth: NO AUTHENTICATION; every caller acts as admin (benchmarks only)");
    router.Use(InsecureNoAuthMiddleware(*identity_index));
  } else {
    router.Use(AuthMiddleware(auth_api));
  }
  router.Use(CheckJsonBodies);
  rate_limiter = std::make_unique<RateLimiter>(config.rate_limit, config.rate_burst, *clock);
  if (config.rate_limit > 0) router.Admit(RateLimitAdmission(*rate_limiter));
  AddAuthRoutes(router, auth_api);
  quota_api = {quotas.get(), identity_index.get()};
  AddQuotaRoutes(router, quota_api);
  workspace_api = {workspaces.get(), identity_index.get()};
  AddWorkspaceRoutes(router, workspace_api);
  AddHealthRoutes(router, context);
  AddCmdbRoutes(router, context);
  spec_api = {specs.get(), ids.get(), clock};
  AddSpecRoutes(router, spec_api);
  environment_api = {environments.get(),
                     reads.get(),
                     ids.get(),
                     runners[projections::kEnvironments].get(),
                     environment_cache.get(),
                     identity_index.get(),
                     specs.get()};
  AddEnvironmentRoutes(router, environment_api);
  lease_api = {leases.get(), reads.get(), ids.get(), runners[projections::kLeases].get(),
               runners[projections::kCmdb].get()};
  AddLeaseRoutes(router, lease_api);
  scheduler_api = {environments.get(),
                   policies.get(),
                   index.get(),
                   reads.get(),
                   runners[projections::kCmdb].get(),
                   cmdb_cache.get()};
  AddSchedulerRoutes(router, scheduler_api);
  agent_api = {hosts.get(),   liveness.get(), environments.get(), index.get(),       health.get(),
               metrics.get(), clock,          &live_metrics,      host_signals.get()};
  AddAgentRoutes(router, agent_api);
  monitoring_api = {metrics.get(), clock};
  AddMonitoringRoutes(router, monitoring_api);
  billing_api = {billing.get(), identity_index.get(), reads.get(),
                 runners[projections::kBilling].get(), ids.get()};
  AddBillingRoutes(router, billing_api);
  audit_api = {store.get(), hosts.get(), clock};
  AddAuditRoutes(router, audit_api);
  stream_api = {feed.get(), store.get(), &live_metrics};
  AddStreamRoutes(router, stream_api);
  openapi = router.OpenApiJson("RemoteGPU API", "0.1.0");
  router.Add("GET", "/api/openapi.json", "This document",
             [this](const HttpRequest&) {
               return HttpResponse{200, "application/json", openapi, {}};
             },
             {.access = Access::kPublic, .never_blocks = true});
  return Status::Ok();
}

Status App::Parts::StartHttp() {
  auto address = ListenAddress(config.listen);
  if (!address.ok()) return address.status();
  cors = std::make_unique<Cors>(config.cors_origins);
  // Both paths record the request's route, status and latency.
  auto measured = [this](const HttpRequest& r, auto&& answer) {
    const auto start = std::chrono::steady_clock::now();
    std::string route;
    std::optional<HttpResponse> response = answer(&route);
    if (response && !response->park) {  // A parked request is counted when it answers.
      request_metrics.Record(
          r.method, route.empty() ? "unmatched" : route, response->status,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    return response;
  };
  // CORS around both paths: preflights answered at once, answers decorated.
  auto with_cors = [this](const HttpRequest& r, std::optional<HttpResponse> response) {
    if (response && cors->enabled()) cors->Decorate(r, *response);
    return response;
  };
  const int io_threads = config.io_threads > 0
                             ? config.io_threads
                             : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  auto started = HttpServer::Start(
      [this, measured, with_cors](const HttpRequest& r) {
        return *with_cors(r, measured(r, [&](std::string* route) -> std::optional<HttpResponse> {
                            return router.Handle(r, route);
                          }));
      },
      {.address = address->first,
       .port = address->second,
       .io_threads = io_threads,
       .worker_threads = config.http_workers},
      [this, measured, with_cors](const HttpRequest& r) -> std::optional<HttpResponse> {
        if (cors->enabled()) {
          if (auto preflight = cors->Preflight(r)) return preflight;
        }
        return with_cors(
            r, measured(r, [&](std::string* route) { return router.TryInline(r, route); }));
      });
  if (!started.ok()) return started.status();
  server = std::move(*started);
  server_ptr = server.get();
  port = server->port();
  return Status::Ok();
}

void App::Parts::Tick() {
  std::lock_guard one_at_a_time(tick_mu);
  if (!ticking) return;  // Stopping: the parts it uses are going.
  const commands::CommandMeta system{
      {eventstore::ActorKind::kSystem, "process-managers", ""}, "", "", ""};
  auto offline = liveness->Tick(system);
  if (!offline.ok()) spdlog::error("offline detection: {}", offline.status().ToString());
  if (offline.ok() && *offline > 0) spdlog::warn("{} host(s) went offline", *offline);
  auto expired = expiry->Tick(system);
  if (!expired.ok()) spdlog::error("lease expiry: {}", expired.status().ToString());
  auto released = reconciler->Tick(system);
  if (!released.ok()) spdlog::error("reconciler: {}", released.status().ToString());
  const UnixMicros now = clock->NowMicros();
  // Metrics partitions, hourly roll-ups and retention every 5 minutes.
  if (now >= metrics_due_us) {
    if (metrics_due_us != 0) {
      Status maintained = metrics->Maintain(now);
      if (!maintained.ok()) spdlog::error("metrics upkeep: {}", maintained.ToString());
    }
    metrics_due_us = now + int64_t{5 * 60} * 1'000'000;
  }
  if (config.metering_interval_s > 0 && now >= metering_due_us) {
    auto metered = metering->Tick(system);
    if (!metered.ok()) {
      spdlog::error("metering: {}", metered.status().ToString());
    } else if (metered->lines > 0 || metered->invoices > 0 || metered->stopped > 0) {
      spdlog::info(
          "metering: {} bill line(s), {} fen; {} invoice(s) drafted; {} "
          "environment(s) stopped for their balance",
          metered->lines, metered->amount_fen, metered->invoices, metered->stopped);
    }
    metering_due_us = now + int64_t{config.metering_interval_s} * 1'000'000;
  }
}

// The process managers at least three times per agent timeout.
void App::Parts::StartTicker() {
  ticker = std::thread([this] {
    const auto period =
        std::clamp(std::chrono::milliseconds(config.agent_timeout_s * 1000 / 3),
                   std::chrono::milliseconds(200), std::chrono::milliseconds(10'000));
    std::unique_lock lock(ticker_mu);
    while (!ticker_cv.wait_for(lock, period, [&] { return ticker_stop; })) {
      lock.unlock();
      Tick();
      lock.lock();
    }
  });
}

Status App::Parts::Stop() {
  if (stopped) return Status::Ok();
  stopped = true;
  if (server) server->Shutdown();          // In-flight requests finish first.
  if (feed) feed->Stop();                  // Its peers go before the server does.
  if (host_signals) host_signals->Stop();  // Parked polls were answered above.
  if (ticker.joinable()) {
    {
      std::lock_guard lock(ticker_mu);
      ticker_stop = true;
    }
    ticker_cv.notify_all();
    ticker.join();
  }
  {
    std::lock_guard one_at_a_time(tick_mu);  // A Tick from another thread has finished.
    ticking = false;
  }
  server_ptr = nullptr;
  server.reset();
  if (rebuild) rebuild->Close();  // It swaps the runners stopped below.
  if (index) index->Stop();
  if (identity_index) identity_index->Stop();
  if (specs) specs->Stop();
  for (auto& runner : runners) {
    runner->Stop();
    spdlog::info("projection {} stopped at position {}", runner->name(), runner->checkpoint());
  }
  if (relay) relay->Stop();
  Status stopped_pg = Status::Ok();
  if (embedded) {
    // What reads PostgreSQL goes first; the log's users are stopped above.
    stopped_pg = embedded->Stop();
    if (!stopped_pg.ok())
      spdlog::error("stopping the embedded PostgreSQL: {}", stopped_pg.ToString());
  }
  return stopped_pg;
}

App::App(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

App::~App() { static_cast<void>(Stop()); }  // Stop logs what it could not do.

Result<std::unique_ptr<App>> App::Build(const ServeConfig& config, const Clock& clock) {
  auto parts = std::make_unique<Parts>();
  parts->config = config;
  parts->clock = &clock;
  Status built = parts->OpenLogAndReadModels();
  if (built.ok()) built = parts->BuildCommandSide();
  if (built.ok()) built = parts->BuildRoutes();
  if (built.ok()) built = parts->StartHttp();
  if (!built.ok()) {
    static_cast<void>(parts->Stop());  // What failed is the answer; Stop logs its own.
    return built;
  }
  if (config.ticker) parts->StartTicker();
  spdlog::info("ready: HTTP on {}:{}; read models in {} PostgreSQL, schema {}",
               ListenAddress(config.listen)->first, parts->port,
               parts->embedded ? "embedded" : "external", config.schema);
  return std::unique_ptr<App>(new App(std::move(parts)));
}

uint16_t App::port() const { return parts_->port; }
const std::string& App::conninfo() const { return parts_->conninfo; }
void App::Tick() { parts_->Tick(); }
Status App::Stop() { return parts_->Stop(); }

}  // namespace remotegpu::api
