#include "api/app/serve.h"

#include <signal.h>

#include <thread>

#include <spdlog/spdlog.h>

#include "api/app/app.h"
#include "projections/kafka_projection_worker.h"
#include "projections/standard_projections.h"

namespace remotegpu::api {
namespace {

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

}  // namespace

int RunServe(const ServeConfig& config) {
  auto app = App::Build(config, SystemClock::Instance());
  if (!app.ok()) {
    spdlog::error("{}", app.status().ToString());
    return app.status().code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  WaitForStopSignal();
  Status stopped = (*app)->Stop();
  if (!stopped.ok()) return 1;
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
