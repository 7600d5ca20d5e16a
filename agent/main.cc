// remotegpu-agent: runs on each GPU host and speaks for it to the server.
#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <thread>

#include <boost/program_options.hpp>
#include <spdlog/spdlog.h>

#include "agent/agent.h"
#include "common/env_flags.h"
#include "common/logging.h"

namespace po = boost::program_options;

int main(int argc, char** argv) {
  po::options_description flags(
      "Usage: remotegpu-agent --server URL --token TOKEN [flags]\n\n"
      "Speaks for this GPU host to a RemoteGPU server: reports the machine's facts and\n"
      "GPUs (NVML, else nvidia-smi), then heartbeats. The token comes from\n"
      "POST /api/admin/hosts/:id/agent-tokens. Stops on SIGINT or SIGTERM.\n\n"
      "Flags (each also REMOTEGPU_AGENT_<NAME>)");
  // clang-format off
  flags.add_options()
      ("help,h", "print this help and exit")
      ("server", po::value<std::string>()->default_value("http://127.0.0.1:8080"),
       "the server, http://host:port")
      ("token", po::value<std::string>()->default_value(""), "the host's agent token (rgk.…)")
      ("heartbeat-ms", po::value<int>()->default_value(30'000), "heartbeat interval")
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
  const std::string token = vars["token"].as<std::string>();
  if (!format.ok() || token.empty() || vars["heartbeat-ms"].as<int>() < 100 ||
      vars["facts-ms"].as<int>() < 1000) {
    std::cerr << "remotegpu-agent: "
              << (!format.ok()    ? format.status().message()
                  : token.empty() ? std::string("--token is required")
                                  : std::string("--heartbeat-ms >= 100, --facts-ms >= 1000"))
              << "\n";
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

  remotegpu::agent::Agent agent(
      std::move(*client),
      {.heartbeat_interval = std::chrono::milliseconds(vars["heartbeat-ms"].as<int>()),
       .facts_interval = std::chrono::milliseconds(vars["facts-ms"].as<int>()),
       .gpus = {vars["nvml-library"].as<std::string>(), vars["nvidia-smi"].as<std::string>()},
       .root = vars["root"].as<std::string>()});
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
