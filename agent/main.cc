// remotegpu-agent: runs on each GPU host and speaks for it to the server.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <thread>

#include <boost/program_options.hpp>
#include <spdlog/spdlog.h>

#include "agent/agent.h"
#include "agent/docker_runtime.h"
#include "agent/proc_text.h"
#include "agent/process_runtime.h"
#include "agent/reconciler.h"
#include "common/env_flags.h"
#include "common/logging.h"
#include "common/subprocess.h"

namespace po = boost::program_options;

int main(int argc, char** argv) {
  po::options_description flags(
      "Usage: remotegpu-agent --server URL --token TOKEN [flags]\n\n"
      "Speaks for this GPU host to a RemoteGPU server: reports the machine's facts and\n"
      "GPUs (NVML, else nvidia-smi), heartbeats, sends metrics, and runs the host's\n"
      "environments with a runtime (a local process, or a Docker container). The token\n"
      "comes from POST /api/admin/hosts/:id/agent-tokens. Stops on SIGINT or SIGTERM.\n\n"
      "Flags (each also REMOTEGPU_AGENT_<NAME>)");
  // clang-format off
  flags.add_options()
      ("help,h", "print this help and exit")
      ("config", po::value<std::string>()->default_value(""),
       "a file of `name = value` lines for any flag below (the command line and the\n"
       "environment win)")
      ("server", po::value<std::string>()->default_value("http://127.0.0.1:8080"),
       "the server, http://host:port")
      ("token", po::value<std::string>()->default_value(""), "the host's agent token (rgk.…)")
      ("token-file", po::value<std::string>()->default_value(""),
       "a file holding the token instead; read again whenever the server refuses it")
      ("heartbeat-ms", po::value<int>()->default_value(30'000), "heartbeat interval")
      ("metrics-ms", po::value<int>()->default_value(30'000), "metrics sampling interval")
      ("metrics-buffer", po::value<int>()->default_value(1000),
       "samples kept while the server is away (oldest dropped beyond)")
      ("runtime", po::value<std::string>()->default_value("none"),
       "what runs environments: none, process, docker")
      ("docker-host", po::value<std::string>()->default_value("unix:///var/run/docker.sock"),
       "the Docker engine: unix://path or tcp://host:port")
      ("docker-tls-ca", po::value<std::string>()->default_value(""), "CA of the engine (tcp://)")
      ("docker-tls-cert", po::value<std::string>()->default_value(""), "client certificate")
      ("docker-tls-key", po::value<std::string>()->default_value(""), "client key")
      ("sync-ms", po::value<int>()->default_value(5'000),
       "the longest the agent waits on the server for a change to the environments it\n"
       "should run (a long-poll: a change is picked up at once); also how often it\n"
       "checks its workloads for ones that ended (with a runtime)")
      ("work-dir", po::value<std::string>()->default_value("/var/lib/remotegpu-agent"),
       "where the process runtime keeps its logs")
      ("workload-user", po::value<std::string>()->default_value("nobody"),
       "the unprivileged user the process runtime runs workloads as (the agent must be root);\n"
       "'' runs them as the agent's own user, which can then read its token")
      ("facts-ms", po::value<int>()->default_value(600'000),
       "how often facts and GPUs are reported again")
      ("nvml-library", po::value<std::string>()->default_value("libnvidia-ml.so.1"),
       "NVML to load with dlopen")
      ("nvidia-smi", po::value<std::string>()->default_value("nvidia-smi"),
       "nvidia-smi, when NVML is not there (and for NVLink topology)")
      ("root", po::value<std::string>()->default_value("/"), "where the machine's files are")
      ("log-format", po::value<std::string>()->default_value("text"), "text or json");
  // clang-format on
  po::variables_map vars;
  try {
    remotegpu::StoreFlags(argc, argv, "REMOTEGPU_AGENT_", flags, vars);
  } catch (const po::error& e) {
    std::cerr << "remotegpu-agent: " << e.what() << "\n\n" << flags;
    return 2;
  }
  if (vars.count("help")) {
    std::cout << flags;
    return 0;
  }
  auto format = remotegpu::ParseLogFormat(vars["log-format"].as<std::string>());
  const std::string token_file = vars["token-file"].as<std::string>();
  auto read_token = [&token_file] {
    return remotegpu::agent::TrimField(remotegpu::agent::ReadTextFile(token_file));
  };
  const std::string token = token_file.empty() ? vars["token"].as<std::string>() : read_token();
  const std::string runtime = vars["runtime"].as<std::string>();
  std::string bad;
  if (!format.ok()) {
    bad = format.status().message();
  } else if (token.empty()) {
    bad =
        token_file.empty() ? "--token or --token-file is required" : token_file + " holds no token";
  } else if (vars["heartbeat-ms"].as<int>() < 100 || vars["metrics-ms"].as<int>() < 100 ||
             vars["sync-ms"].as<int>() < 100 || vars["facts-ms"].as<int>() < 1000 ||
             vars["metrics-buffer"].as<int>() < 1) {
    bad =
        "--heartbeat-ms, --metrics-ms, --sync-ms >= 100; --facts-ms >= 1000; --metrics-buffer >= 1";
  } else if (runtime != "none" && runtime != "process" && runtime != "docker") {
    bad = "--runtime must be none, process or docker, not " + runtime;
  } else if (const std::string user = vars["workload-user"].as<std::string>();
             runtime == "process" && !user.empty()) {
    const auto ids = remotegpu::LookupUser(user);
    if (!ids) {
      bad = "--workload-user: no user " + user;
    } else if (ids->uid == 0) {
      bad = "--workload-user must name an unprivileged user, not " + user;
    } else if (geteuid() != 0 && geteuid() != ids->uid) {
      bad = "--workload-user " + user +
            " needs the agent to run as root; --workload-user '' runs workloads as the agent's "
            "own user";
    }
  }
  if (!bad.empty()) {
    std::cerr << "remotegpu-agent: " << bad << "\n";
    return 2;
  }
  remotegpu::ConfigureLogging(*format);
  auto client = remotegpu::agent::HttpClient::For(vars["server"].as<std::string>(), token);
  if (!client.ok()) {
    std::cerr << "remotegpu-agent: " << client.status().message() << "\n";
    return 2;
  }

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::unique_ptr<remotegpu::agent::Reconciler> reconciler;
  if (runtime == "process") {
    reconciler = std::make_unique<remotegpu::agent::Reconciler>(
        std::make_unique<remotegpu::agent::ProcessRuntime>(
            vars["work-dir"].as<std::string>(), 5000, vars["workload-user"].as<std::string>()));
  } else if (runtime == "docker") {
    auto docker = remotegpu::agent::DockerClient::Connect(
        {.host = vars["docker-host"].as<std::string>(),
         .ca_file = vars["docker-tls-ca"].as<std::string>(),
         .cert_file = vars["docker-tls-cert"].as<std::string>(),
         .key_file = vars["docker-tls-key"].as<std::string>()});
    if (!docker.ok()) {
      std::cerr << "remotegpu-agent: " << docker.status().message() << "\n";
      return 2;
    }
    reconciler = std::make_unique<remotegpu::agent::Reconciler>(
        std::make_unique<remotegpu::agent::DockerRuntime>(std::move(*docker)));
  }
  using std::chrono::milliseconds;
  remotegpu::agent::Agent agent(
      std::move(*client),
      {.heartbeat_interval = milliseconds(vars["heartbeat-ms"].as<int>()),
       .facts_interval = milliseconds(vars["facts-ms"].as<int>()),
       .metrics_interval = milliseconds(vars["metrics-ms"].as<int>()),
       .sync_interval = milliseconds(vars["sync-ms"].as<int>()),
       .metrics_buffer = static_cast<size_t>(vars["metrics-buffer"].as<int>()),
       .gpus = {vars["nvml-library"].as<std::string>(), vars["nvidia-smi"].as<std::string>()},
       .root = vars["root"].as<std::string>(),
       .reload_token = token_file.empty() ? std::function<std::string()>() : read_token},
      std::move(reconciler));
  std::thread signals([&] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    spdlog::info("stopping on signal {}", signal);
    agent.Stop();
  });
  spdlog::info("remotegpu-agent for {}", vars["server"].as<std::string>());
  const int code = agent.Run();
  pthread_kill(signals.native_handle(), SIGTERM);  // Ends the sigwait if no signal came.
  signals.join();
  return code;
}
