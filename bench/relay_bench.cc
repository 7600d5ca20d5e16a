// remotegpu-bench-relay: how fast the Kafka relay publishes a pre-filled log
// to a broker, and how far behind it runs under a steady command load, with
// kcat producing the same messages to the same broker as the peer.
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "bench/bench_flags.h"
#include "common/subprocess.h"
#include "eventstore/envelope_codec.h"
#include "eventstore/kafka_relay.h"
#include "eventstore/rocksdb_event_store.h"
#include "tests/support/temp_dir.h"

namespace remotegpu::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr char kUsage[] = R"(Usage: remotegpu-bench-relay [--quick] [--json]

Runs mock Kafka clusters (remotegpu-kafka-mock, librdkafka's brokers on
127.0.0.1; a fresh one for each run) and measures, as the median of 3 rounds:
  relay     events/s the relay publishes from a pre-filled log of 500,000
            events (~300-byte payloads; 100,000 with --quick) until every
            delivery report is in
  kcat      events/s kcat produces the same number of messages of the same
            size, key and headers to the same broker (idempotent, acks=all)
  lag       delivery time minus commit time of every event while commands
            append 10,000 events/s for 10 s (3 s with --quick)

  --quick   the short version
  --json    end with one JSON object of the figures
  --help    print this and exit
)";

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "remotegpu-bench-relay: " << what << "\n";
  std::exit(1);
}

double Seconds(SteadyClock::time_point since) {
  return std::chrono::duration<double>(SteadyClock::now() - since).count();
}

// ~300 bytes of JSON, like a GpuAllocated event.
std::string Payload(int i) {
  std::string payload = R"({"allocation_id":"alloc-)" + std::to_string(i) + R"(","holder":"env-)" +
                        std::to_string(i) +
                        R"(","cpu_cores":8,"memory_mb":65536,"gpu_indexes":[0,1],"ports":[)";
  payload += R"({"service":"ssh","port":30001},{"service":"jupyter","port":38001}],)";
  payload.append(300 - std::min<size_t>(300, payload.size() + 12), ' ');
  payload += R"("x":true})";
  return payload;
}

struct Mock {
  Subprocess process;
  std::string bootstrap;
};

Mock StartMock(const std::vector<std::string>& topics) {
  std::vector<std::string> argv = {KAFKA_MOCK_BIN};
  for (const auto& topic : topics) {
    argv.push_back("--topic");
    argv.push_back(topic + ":4");
  }
  auto child = Subprocess::Spawn(argv, {.capture_stdout = true, .merge_stderr = true});
  if (!child.ok()) Die(child.status().ToString());
  std::string output;
  char buffer[512];
  while (output.find('\n') == std::string::npos) {
    pollfd p{child->stdout_fd(), POLLIN, 0};
    if (poll(&p, 1, 10'000) <= 0) Die("the mock cluster did not start");
    const ssize_t n = read(child->stdout_fd(), buffer, sizeof buffer);
    if (n <= 0) Die("the mock cluster exited: " + output);
    output.append(buffer, static_cast<size_t>(n));
  }
  const std::string marker = "bootstrap: ";
  if (output.find(marker) != 0) Die("unexpected mock output: " + output);
  return {std::move(*child), output.substr(marker.size(), output.find('\n') - marker.size())};
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(p * values.size()))];
}

int Main(int argc, char** argv) {
  auto parsed = ParseBenchFlags(argc, argv, "remotegpu-bench-relay", kUsage);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  const bool quick = std::get<BenchFlags>(parsed).quick;
  const bool json = std::get<BenchFlags>(parsed).json;
  spdlog::set_level(spdlog::level::warn);
  const int events = quick ? 100'000 : 500'000;
  const int lag_seconds = quick ? 3 : 10;
  const int rate = 10'000;
  const int rounds = 3;

  testing::TempDir dir;
  auto opened = eventstore::RocksDbEventStore::Open({.path = dir.Sub("events")});
  if (!opened.ok()) Die(opened.status().ToString());
  eventstore::RocksDbEventStore& store = **opened;

  // The pre-filled log: one event per command, 1,000 hosts' streams.
  for (int i = 0; i < events; i += 100) {
    std::vector<eventstore::StreamAppend> batch;
    for (int j = i; j < i + 100 && j < events; ++j) {
      eventstore::EventData e;
      e.type = "GpuAllocated";
      e.payload = Payload(j);
      e.actor = {eventstore::ActorKind::kUser, "user-1", "bench"};
      batch.push_back(
          {"host-" + std::to_string(j % 1000), eventstore::ExpectedVersion::Any(), {std::move(e)}});
    }
    auto appended = store.Append(std::move(batch), {.sync = false});
    if (!appended.ok()) Die(appended.status().ToString());
  }
  auto sample = store.ReadAll(1, 1);
  if (!sample.ok() || sample->empty()) Die("the log is empty");
  // kcat sends values of the size of our envelopes, with the same keys and
  // headers of the same sizes.
  const size_t value_size = eventstore::EncodeEnvelope(sample->front()).size();
  {
    std::ofstream file(dir.Sub("messages"));
    const std::string value(value_size, 'v');
    for (int i = 0; i < events; ++i) file << "host-" << (i % 1000) << '\t' << value << '\n';
  }

  // Rounds alternate the two, each on a fresh cluster so that neither
  // inherits the other's warm (or full) broker; the median round counts.
  std::vector<double> relay_rounds, kcat_rounds;
  std::mutex lags_mu;
  std::vector<double> lags_ms;
  std::atomic<bool> measuring{false};
  std::unique_ptr<eventstore::KafkaRelay> relay;
  std::unique_ptr<Mock> mock;
  for (int round = 0; round < rounds; ++round) {
    {
      Mock kcat_mock = StartMock({"kcat"});
      const auto kcat_start = SteadyClock::now();
      auto kcat =
          RunCommand({"kcat",
                      "-P",
                      "-b",
                      kcat_mock.bootstrap,
                      "-t",
                      "kcat",
                      "-K",
                      "\t",
                      "-l",
                      "-X",
                      "enable.idempotence=true",
                      "-X",
                      "acks=all",
                      "-X",
                      "linger.ms=2",
                      "-X",
                      "partitioner=murmur2_random",
                      "-H",
                      "event-id=01890000-0000-7000-8000-000000000000",
                      "-H",
                      "event-type=GpuAllocated",
                      "-H",
                      "position=250000",
                      "-H",
                      "stream-version=250",
                      "-H",
                      "content-type=application/x-protobuf; messageType=remotegpu.domain.Envelope",
                      dir.Sub("messages")});
      if (!kcat.ok()) Die(kcat.status().ToString());
      kcat_rounds.push_back(events / Seconds(kcat_start));
    }
    relay.reset();
    mock = std::make_unique<Mock>(StartMock({"relay"}));
    eventstore::KafkaRelayOptions options{.brokers = mock->bootstrap,
                                          .topic = "relay",
                                          .checkpoint_name = "round-" + std::to_string(round)};
    options.on_delivered = [&](uint64_t, UnixMicros recorded_at_us) {
      if (!measuring) return;
      const double lag =
          static_cast<double>(SystemClock::Instance().NowMicros() - recorded_at_us) / 1000.0;
      std::lock_guard lock(lags_mu);
      lags_ms.push_back(lag);
    };
    const auto relay_start = SteadyClock::now();
    auto started = eventstore::KafkaRelay::Start(store, options);
    if (!started.ok()) Die(started.status().ToString());
    relay = std::move(*started);
    while (relay->stats().checkpoint < static_cast<uint64_t>(events)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      if (Seconds(relay_start) > 300) Die("the relay did not finish");
    }
    relay_rounds.push_back(events / Seconds(relay_start));
  }
  const double relay_eps = Percentile(relay_rounds, 0.5);
  const double kcat_eps = Percentile(kcat_rounds, 0.5);

  // Lag: commands at a steady rate, durable, one event each.
  measuring = true;
  std::atomic<int> pending{0};
  const auto lag_start = SteadyClock::now();
  int sent = 0;
  while (Seconds(lag_start) < lag_seconds) {
    const int due = static_cast<int>(Seconds(lag_start) * rate);
    for (; sent < due; ++sent) {
      eventstore::EventData e;
      e.type = "GpuAllocated";
      e.payload = Payload(sent);
      ++pending;
      store.AppendAsync({{"host-" + std::to_string(sent % 1000),
                          eventstore::ExpectedVersion::Any(),
                          {std::move(e)}}},
                        {}, [&pending](Result<eventstore::AppendResult> r) {
                          if (!r.ok()) Die(r.status().ToString());
                          --pending;
                        });
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  while (pending > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  while (relay->stats().checkpoint < store.LastPosition()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  measuring = false;
  relay->Stop();
  double lag_p50, lag_p99, lag_max;
  size_t lag_samples;
  {
    std::lock_guard lock(lags_mu);
    lag_p50 = Percentile(lags_ms, 0.50);
    lag_p99 = Percentile(lags_ms, 0.99);
    lag_max = lags_ms.empty() ? 0 : *std::max_element(lags_ms.begin(), lags_ms.end());
    lag_samples = lags_ms.size();
  }
  const double achieved_rate = sent / Seconds(lag_start);

  std::printf("%d events of %zu bytes (envelope) to a 4-partition topic on the mock cluster\n\n",
              events, value_size);
  auto rounds_text = [](const std::vector<double>& v) {
    std::string text;
    for (double x : v) text += (text.empty() ? "" : " ") + std::to_string(static_cast<int>(x));
    return text;
  };
  std::printf("relay (log -> topic, every delivery reported)   %10.0f events/s  (rounds: %s)\n",
              relay_eps, rounds_text(relay_rounds).c_str());
  std::printf("kcat -P (same count, size, key and headers)     %10.0f events/s  (rounds: %s)\n",
              kcat_eps, rounds_text(kcat_rounds).c_str());
  std::printf("ratio relay / kcat                              %10.2f\n\n", relay_eps / kcat_eps);
  std::printf(
      "lag at %.0f durable events/s for %d s (%zu events): p50 %.1f ms, p99 %.1f ms, "
      "max %.1f ms\n",
      achieved_rate, lag_seconds, lag_samples, lag_p50, lag_p99, lag_max);
  if (json) {
    nlohmann::json figures = {
        {"events", events},      {"message_bytes", value_size},   {"relay_eps", relay_eps},
        {"kcat_eps", kcat_eps},  {"ratio", relay_eps / kcat_eps}, {"lag_rate_eps", achieved_rate},
        {"lag_p50_ms", lag_p50}, {"lag_p99_ms", lag_p99},         {"lag_max_ms", lag_max}};
    std::printf("%s\n", figures.dump().c_str());
  }
  return 0;
}

}  // namespace
}  // namespace remotegpu::bench

int main(int argc, char** argv) { return remotegpu::bench::Main(argc, argv); }
