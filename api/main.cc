// `remotegpu`: the RemoteGPU server binary.
//
//   remotegpu serve [flags]   open the event log under --data-dir, project it
//                             into PostgreSQL and serve
//
// Every flag can also be given as an environment variable REMOTEGPU_<NAME>
// (--data-dir is REMOTEGPU_DATA_DIR); a flag on the command line wins.
#include <csignal>
#include <filesystem>
#include <iostream>

#include <boost/program_options.hpp>
#include <spdlog/spdlog.h>

#include "api/serve.h"
#include "common/logging.h"

namespace po = boost::program_options;

namespace remotegpu {
namespace {

constexpr char kUsage[] = R"(Usage: remotegpu <command> [flags]

Commands:
  serve     Open the event log, keep the PostgreSQL read models current, and run
            until SIGINT or SIGTERM.

Run `remotegpu serve --help` for the flags of serve.
)";

po::options_description ServeFlags() {
  po::options_description flags("remotegpu serve flags (each also REMOTEGPU_<NAME>)");
  // clang-format off
  flags.add_options()
      ("help,h", "print this help and exit")
      ("data-dir", po::value<std::string>()->default_value("./data"),
       "directory of the event log and server state")
      ("listen", po::value<std::string>()->default_value("127.0.0.1:8080"),
       "address:port of the HTTP API (loopback until authentication lands; port 0: any)")
      ("pg-url", po::value<std::string>()->default_value(""),
       "libpq connection string of the read models' PostgreSQL; empty: run a private one "
       "under <data-dir>/pg")
      ("log-format", po::value<std::string>()->default_value("text"), "text or json")
      ("io-threads", po::value<int>()->default_value(0),
       "threads running the HTTP sockets; 0: one per core")
      ("http-workers", po::value<int>()->default_value(64),
       "threads running handlers that wait on appends and queries")
      ("projection-linger-ms", po::value<int>()->default_value(5),
       "how long a projection waits to fill a batch: larger transactions under load")
      ("query-cache", po::value<bool>()->default_value(true),
       "keep query answers until their read models move (false: every query hits PostgreSQL)");
  // clang-format on
  return flags;
}

int Serve(int argc, char** argv) {
  po::options_description flags = ServeFlags();
  po::variables_map vars;
  try {
    po::store(po::parse_command_line(argc, argv, flags), vars);
    po::store(po::parse_environment(flags,
                                    [&](const std::string& env) -> std::string {
                                      const std::string prefix = "REMOTEGPU_";
                                      if (env.rfind(prefix, 0) != 0) return "";
                                      std::string name = env.substr(prefix.size());
                                      for (char& c : name) c = c == '_' ? '-' : std::tolower(c);
                                      return flags.find_nothrow(name, false) ? name : "";
                                    }),
              vars);
    po::notify(vars);
  } catch (const po::error& e) {
    std::cerr << "remotegpu serve: " << e.what() << "\n\n" << flags;
    return 2;
  }
  if (vars.count("help")) {
    std::cout << "Usage: remotegpu serve [flags]\n\n" << flags;
    return 0;
  }
  auto format = ParseLogFormat(vars["log-format"].as<std::string>());
  if (!format.ok()) {
    std::cerr << "remotegpu serve: " << format.status().message() << "\n";
    return 2;
  }
  ConfigureLogging(*format);

  // Block the stop signals before any thread starts, so only sigwait sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  api::ServeConfig config;
  config.data_dir = vars["data-dir"].as<std::string>();
  config.pg_url = vars["pg-url"].as<std::string>();
  config.listen = vars["listen"].as<std::string>();
  config.io_threads = vars["io-threads"].as<int>();
  config.http_workers = vars["http-workers"].as<int>();
  config.query_cache = vars["query-cache"].as<bool>();
  config.projection_linger_ms = vars["projection-linger-ms"].as<int>();
  return api::RunServe(config);
}

}  // namespace
}  // namespace remotegpu

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" ||
      std::string(argv[1]) == "help") {
    std::cout << remotegpu::kUsage;
    return argc < 2 ? 2 : 0;
  }
  std::string command = argv[1];
  if (command == "serve") return remotegpu::Serve(argc - 1, argv + 1);
  std::cerr << "remotegpu: unknown command '" << command << "'\n\n" << remotegpu::kUsage;
  return 2;
}
