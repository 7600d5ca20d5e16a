// The agent's loop: learn which host its token speaks for, report the
// machine's facts and GPUs, then heartbeat, send metrics and (with a
// runtime) bring the host's environments to what the server wants. Facts go
// again every facts interval and whenever the server has forgotten the host
// or the token (a wiped or restored server: the token is read again from its
// file, and the host reported from scratch).
//
// Metrics are sampled on their own schedule whatever the server does, and
// kept in a bounded buffer until it takes them; when the buffer is full the
// oldest go, and the next batch says how many.
//
// The server down or slow never stops it: failures are logged and retried
// with exponential back-off (1 s to 60 s) and jitter.
//
// Thread-safety: Run on one thread; Stop from any.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "agent/gpu_discovery.h"
#include "agent/http_client.h"
#include "agent/reconciler.h"
#include "domain/proto/metrics.pb.h"

namespace remotegpu::agent {

class MetricsCollector;

struct AgentOptions {
  std::chrono::milliseconds heartbeat_interval{30'000};
  std::chrono::milliseconds facts_interval{600'000};
  std::chrono::milliseconds metrics_interval{30'000};
  // The longest the desired-environments long-poll waits when idle (a change
  // there is picked up at once); also how often workloads' ends are noticed.
  std::chrono::milliseconds sync_interval{5'000};
  size_t metrics_buffer = 1000;  // Samples kept while the server is away.
  size_t metrics_per_post = 100;
  GpuDiscoveryOptions gpus;
  std::string root = "/";  // Where the machine's files are (tests: a fixture tree).
  // Reads the token again after the server refused it (a file an operator
  // can rewrite); null: the token never changes.
  std::function<std::string()> reload_token;
};

class Agent {
 public:
  // `reconciler` (may be null: metrics and liveness only) runs the host's
  // environments; the agent keeps it.
  Agent(HttpClient client, AgentOptions options, std::unique_ptr<Reconciler> reconciler = nullptr);
  ~Agent();

  // Until Stop(). Returns the process exit code (0).
  int Run();
  void Stop();

  // Samples buffered and not yet taken by the server, and those the full
  // buffer let go since the server last took a batch.
  size_t BufferedSamples() const;
  uint64_t DroppedSamples() const;

 private:
  using Clock = std::chrono::steady_clock;
  // Everything due that talks to the server; false when a call failed.
  bool Exchange(Clock::time_point now);
  bool LearnHost();
  bool ReportFacts();
  bool Heartbeat();
  bool SendMetrics();
  void SampleMetrics();
  // POST /internal/hosts/<host>/<what>; false (logged) when it failed or
  // was refused.
  // The server's HTTP status for POST /internal/hosts/<id>/<what>, 0 when
  // it could not be reached; anything but 200 is logged.
  int PostForHost(const std::string& what, const std::string& json);
  // A refusal meaning the server no longer knows the host or the token.
  void Forget(int status);
  // Waits until `when` or Stop(); false when stopped.
  bool SleepUntil(Clock::time_point when);

  HttpClient client_;
  AgentOptions options_;
  std::unique_ptr<MetricsCollector> collector_;
  std::unique_ptr<Reconciler> reconciler_;
  std::string host_id_;
  std::string token_;        // The last token read again from its file.
  bool retry_soon_ = false;  // A new token was read: no back-off.
  Clock::time_point facts_due_{}, heartbeat_due_{}, metrics_due_{}, sync_due_{};
  std::mt19937 jitter_{std::random_device{}()};

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;                       // Guarded by mu_.
  std::deque<domain::HostSample> samples_;  // Guarded by mu_.
  uint64_t dropped_ = 0;                    // Guarded by mu_.
};

}  // namespace remotegpu::agent
