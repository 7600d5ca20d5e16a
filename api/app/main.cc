// `remotegpu`: the RemoteGPU server binary.
//
//   remotegpu serve [flags]   open the event log under --data-dir, project it
//                             into PostgreSQL and serve
//   remotegpu project [flags] project the Kafka topic into PostgreSQL as one
//                             worker of a consumer group
//
// Every flag can also be given as an environment variable REMOTEGPU_<NAME>
// (--data-dir is REMOTEGPU_DATA_DIR); a flag on the command line wins.
#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <iostream>
#include <optional>

#include <boost/program_options.hpp>
#include <spdlog/spdlog.h>

#include "api/app/serve.h"
#include "common/env_flags.h"
#include "common/logging.h"

namespace po = boost::program_options;

namespace remotegpu {
namespace {

constexpr char kUsage[] = R"(Usage: remotegpu <command> [flags]

Commands:
  serve     Open the event log, keep the PostgreSQL read models current, and run
            until SIGINT or SIGTERM.
  project   Build the read models from the Kafka topic the relay publishes, as
            one worker of a consumer group, until SIGINT or SIGTERM.

Run `remotegpu serve --help` or `remotegpu project --help` for their flags.
)";

po::options_description ServeFlags() {
  po::options_description flags("remotegpu serve flags (each also REMOTEGPU_<NAME>)");
  // clang-format off
  flags.add_options()
      ("help,h", "print this help and exit")
      ("data-dir", po::value<std::string>()->default_value("./data"),
       "directory of the event log and server state")
      ("listen", po::value<std::string>()->default_value("127.0.0.1:8080"),
       "address:port of the HTTP API (port 0: any)")
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
       "keep query answers until their read models move (false: every query hits PostgreSQL)")
      ("kafka-brokers", po::value<std::string>()->default_value(""),
       "Kafka bootstrap servers (host:port,...); the relay publishes every event there. "
       "Empty: relay off")
      ("kafka-topic", po::value<std::string>()->default_value("remotegpu.events"),
       "the topic the relay publishes to (create it first; see the README)")
      ("kafka-format", po::value<std::string>()->default_value("protobuf"),
       "message values: protobuf (the Envelope) or json (the audit export's shape)")
      ("rate-limit", po::value<double>()->default_value(100),
       "requests per second each customer user, API key or anonymous address may make "
       "(token bucket; platform admins are not limited); 0: off")
      ("rate-burst", po::value<double>()->default_value(200),
       "requests a caller may make at once before the rate applies")
      ("cors-origins", po::value<std::string>()->default_value(""),
       "comma-separated origins whose browser pages may call the API "
       "(https://console.example.com); * for any; empty: no CORS")
      ("agent-timeout-s", po::value<int>()->default_value(30),
       "seconds without a heartbeat before a host with an agent token is marked offline")
      ("metering-interval-s", po::value<int>()->default_value(60),
       "seconds between metering ticks (bill lines, balance checks, invoice drafts); 0: off")
      ("insecure-no-auth", po::bool_switch(),
       "BENCHMARKS ONLY: read no credentials, every caller acts as admin; only with a "
       "loopback --listen (measures what authentication costs)");
  // clang-format on
  return flags;
}

po::options_description ProjectFlags() {
  po::options_description flags("remotegpu project flags (each also REMOTEGPU_<NAME>)");
  // clang-format off
  flags.add_options()
      ("help,h", "print this help and exit")
      ("source", po::value<std::string>()->default_value("kafka"), "where events come from: kafka")
      ("kafka-brokers", po::value<std::string>()->default_value(""), "Kafka bootstrap servers")
      ("kafka-topic", po::value<std::string>()->default_value("remotegpu.events"),
       "the topic the relay publishes (protobuf format)")
      ("group", po::value<std::string>()->default_value(""),
       "consumer group; the workers of one group share the topic's partitions")
      ("pg-url", po::value<std::string>()->default_value(""),
       "libpq connection string of the PostgreSQL to write the read models to")
      ("schema", po::value<std::string>()->default_value("rg"), "schema of the read models")
      ("batch-size", po::value<int>()->default_value(1000), "most events per transaction")
      ("session-timeout-ms", po::value<int>()->default_value(10000),
       "how long the group waits for a silent worker before handing its partitions on")
      ("log-format", po::value<std::string>()->default_value("text"), "text or json");
  // clang-format on
  return flags;
}

// Parses `argv` and REMOTEGPU_<NAME> variables into `vars`, configures
// logging and blocks the stop signals. Returns an exit code when the program
// should end now (--help, a bad flag), or nullopt to go on.
std::optional<int> ParseFlags(int argc, char** argv, const std::string& command,
                              const po::options_description& flags, po::variables_map& vars) {
  try {
    StoreFlags(argc, argv, "REMOTEGPU_", flags, vars);
  } catch (const po::error& e) {
    std::cerr << "remotegpu " << command << ": " << e.what() << "\n\n" << flags;
    return 2;
  }
  if (vars.count("help")) {
    std::cout << "Usage: remotegpu " << command << " [flags]\n\n" << flags;
    return 0;
  }
  auto format = ParseLogFormat(vars["log-format"].as<std::string>());
  if (!format.ok()) {
    std::cerr << "remotegpu " << command << ": " << format.status().message() << "\n";
    return 2;
  }
  ConfigureLogging(*format);

  // Block the stop signals before any thread starts, so only sigwait sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  return std::nullopt;
}

int Serve(int argc, char** argv) {
  po::variables_map vars;
  if (auto exit_code = ParseFlags(argc, argv, "serve", ServeFlags(), vars)) return *exit_code;
  api::ServeConfig config;
  config.data_dir = vars["data-dir"].as<std::string>();
  config.pg_url = vars["pg-url"].as<std::string>();
  config.listen = vars["listen"].as<std::string>();
  config.io_threads = vars["io-threads"].as<int>();
  config.http_workers = vars["http-workers"].as<int>();
  config.query_cache = vars["query-cache"].as<bool>();
  config.projection_linger_ms = vars["projection-linger-ms"].as<int>();
  config.kafka_brokers = vars["kafka-brokers"].as<std::string>();
  config.kafka_topic = vars["kafka-topic"].as<std::string>();
  config.kafka_format = vars["kafka-format"].as<std::string>();
  config.rate_limit = vars["rate-limit"].as<double>();
  config.rate_burst = vars["rate-burst"].as<double>();
  const std::string origins = vars["cors-origins"].as<std::string>();
  for (size_t start = 0; start < origins.size();) {
    size_t comma = origins.find(',', start);
    if (comma == std::string::npos) comma = origins.size();
    if (comma > start) config.cors_origins.push_back(origins.substr(start, comma - start));
    start = comma + 1;
  }
  config.insecure_no_auth = vars["insecure-no-auth"].as<bool>();
  config.agent_timeout_s = vars["agent-timeout-s"].as<int>();
  config.metering_interval_s = vars["metering-interval-s"].as<int>();
  if (config.metering_interval_s < 0) {
    std::cerr << "remotegpu serve: --metering-interval-s must be 0 or more\n";
    return 2;
  }
  if (config.agent_timeout_s < 1) {
    std::cerr << "remotegpu serve: --agent-timeout-s must be at least 1\n";
    return 2;
  }
  if (config.insecure_no_auth && !config.listen.starts_with("127.0.0.1:") &&
      !config.listen.starts_with("[::1]:") && !config.listen.starts_with("localhost:")) {
    std::cerr << "remotegpu serve: --insecure-no-auth is refused unless --listen is loopback\n";
    return 2;
  }
  if (config.rate_limit < 0 || config.rate_burst < 1) {
    std::cerr << "remotegpu serve: --rate-limit must be >= 0 and --rate-burst >= 1\n";
    return 2;
  }
  // Every WebSocket subscriber and parked request holds a descriptor: the
  // soft limit (often 1,024) goes up to the hard one.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  return api::RunServe(config);
}

int Project(int argc, char** argv) {
  po::variables_map vars;
  if (auto exit_code = ParseFlags(argc, argv, "project", ProjectFlags(), vars)) return *exit_code;
  api::ProjectConfig config;
  config.source = vars["source"].as<std::string>();
  config.kafka_brokers = vars["kafka-brokers"].as<std::string>();
  config.kafka_topic = vars["kafka-topic"].as<std::string>();
  config.group = vars["group"].as<std::string>();
  config.pg_url = vars["pg-url"].as<std::string>();
  config.schema = vars["schema"].as<std::string>();
  config.batch_size = vars["batch-size"].as<int>();
  config.session_timeout_ms = vars["session-timeout-ms"].as<int>();
  return api::RunProject(config);
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
  if (command == "project") return remotegpu::Project(argc - 1, argv + 1);
  std::cerr << "remotegpu: unknown command '" << command << "'\n\n" << remotegpu::kUsage;
  return 2;
}
