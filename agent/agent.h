// The agent's loop: learn which host its token speaks for, report the
// machine's facts and GPUs, then heartbeat; facts again every facts interval
// and whenever the server has forgotten the host. The server down or slow
// never stops it: failures are logged and retried with exponential back-off
// (1 s to 60 s) and jitter.
//
// Thread-safety: Run on one thread; Stop from any.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <string>

#include "agent/gpu_discovery.h"
#include "agent/http_client.h"

namespace remotegpu::agent {

struct AgentOptions {
  std::chrono::milliseconds heartbeat_interval{30'000};
  std::chrono::milliseconds facts_interval{600'000};
  GpuDiscoveryOptions gpus;
  std::string root = "/";  // Where the machine's files are (tests: a fixture tree).
};

class Agent {
 public:
  Agent(HttpClient client, AgentOptions options)
      : client_(std::move(client)), options_(std::move(options)) {}

  // Until Stop(). Returns the process exit code (0).
  int Run();
  void Stop();

 private:
  // One step: what is due next; false when it failed (back off).
  bool Step();
  bool LearnHost();
  bool ReportFacts();
  bool Heartbeat();
  // Waits `delay` or until Stop(); false when stopped.
  bool Sleep(std::chrono::milliseconds delay);

  HttpClient client_;
  AgentOptions options_;
  std::string host_id_;
  std::chrono::steady_clock::time_point facts_due_{};
  std::mt19937 jitter_{std::random_device{}()};

  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // Guarded by mu_.
};

}  // namespace remotegpu::agent
