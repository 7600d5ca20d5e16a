#include "api/serve.h"

#include <signal.h>

#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "api/cmdb_routes.h"
#include "api/environment_routes.h"
#include "api/http_server.h"
#include "api/lease_routes.h"
#include "commands/environment_service.h"
#include "commands/host_service.h"
#include "commands/process_managers.h"
#include "commands/secrets.h"
#include "eventstore/rocksdb_event_store.h"
#include "projections/embedded_postgres.h"
#include "projections/standard_projections.h"

namespace remotegpu::api {

int RunServe(const ServeConfig& config) {
  const std::filesystem::path data_dir = config.data_dir;
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    spdlog::error("cannot create data dir {}: {}", data_dir.string(), ec.message());
    return 1;
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

  auto store = eventstore::RocksDbEventStore::Open({.path = (data_dir / "events").string()});
  if (!store.ok()) {
    spdlog::error("cannot open the event log: {}", store.status().ToString());
    return 1;
  }
  spdlog::info("event log open at {}: {} events", (data_dir / "events").string(),
               (*store)->LastPosition());

  auto runners = projections::StandardProjections(**store, {conninfo, config.schema, 1000});
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
  ApiContext context{store->get(), &hosts, &reads, &ids, runners[projections::kCmdb].get(), {}};
  for (const auto& runner : runners) context.projections.push_back(runner.get());
  Router router;
  AddHealthRoutes(router, context);
  AddCmdbRoutes(router, context);
  EnvironmentApi environment_api{&environments, &reads, &ids,
                                 runners[projections::kEnvironments].get()};
  AddEnvironmentRoutes(router, environment_api);
  LeaseApi lease_api{&leases, &reads, &ids, runners[projections::kLeases].get()};
  AddLeaseRoutes(router, lease_api);
  router.Add("GET", "/api/openapi.json", "This document", [&router](const HttpRequest&) {
    static const std::string document = router.OpenApiJson("RemoteGPU API", "0.1.0");
    return HttpResponse{200, "application/json", document, {}};
  });

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
  context.store_metrics = [&store] {
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
                   stats.write_micros);
  };
  auto server = HttpServer::Start(
      [&router, &request_metrics](const HttpRequest& r) {
        const auto start = std::chrono::steady_clock::now();
        HttpResponse response = router.Handle(r);
        const std::string route = router.PatternFor(r);
        request_metrics.Record(
            r.method, route.empty() ? "unmatched" : route, response.status,
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        return response;
      },
      {.address = address, .port = static_cast<uint16_t>(port), .threads = config.http_threads});
  if (!server.ok()) {
    spdlog::error("{}", server.status().ToString());
    return 1;
  }
  // Process managers on a timer: lease expiry and the allocation reconciler.
  commands::LeaseExpiryProcess expiry(leases);
  commands::AllocationReconciler reconciler(hosts, index, env_cache, lease_cache);
  std::mutex ticker_mu;
  std::condition_variable ticker_cv;
  bool ticker_stop = false;
  std::thread ticker([&] {
    const commands::CommandMeta system{
        {eventstore::ActorKind::kSystem, "process-managers", ""}, "", "", ""};
    std::unique_lock lock(ticker_mu);
    while (!ticker_cv.wait_for(lock, std::chrono::seconds(10), [&] { return ticker_stop; })) {
      lock.unlock();
      auto expired = expiry.Tick(system);
      if (!expired.ok()) spdlog::error("lease expiry: {}", expired.status().ToString());
      auto released = reconciler.Tick(system);
      if (!released.ok()) spdlog::error("reconciler: {}", released.status().ToString());
      lock.lock();
    }
  });

  spdlog::info("ready: HTTP on {}:{}; read models in {} PostgreSQL, schema {}", address,
               (*server)->port(), embedded ? "embedded" : "external", config.schema);

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  int signal = 0;
  sigwait(&stop_signals, &signal);
  spdlog::info("received {}, shutting down", signal == SIGINT ? "SIGINT" : "SIGTERM");
  (*server)->Shutdown();  // In-flight requests finish first.
  {
    std::lock_guard lock(ticker_mu);
    ticker_stop = true;
  }
  ticker_cv.notify_all();
  ticker.join();
  index.Stop();
  for (auto& runner : runners) {
    runner->Stop();
    spdlog::info("projection {} stopped at position {}", runner->name(), runner->checkpoint());
  }
  runners.clear();
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

}  // namespace remotegpu::api
