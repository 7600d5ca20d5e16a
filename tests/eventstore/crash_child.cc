// Child process of crash_test.cc: appends from several threads until it is
// killed, and after each acknowledged (synced) append writes one line to
// stdout:
//
//   ack <first_position> <last_position> <stream> <last_version> [<stream> <last_version>]
//
// Usage: eventstore_crash_child <store-dir> <threads>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "eventstore/rocksdb_event_store.h"

using namespace remotegpu;
using namespace remotegpu::eventstore;

namespace {

void WriteLine(const std::string& line) {
  // One write per line (under PIPE_BUF), so lines from threads never interleave.
  if (write(STDOUT_FILENO, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    std::_Exit(3);
  }
}

EventData Event(const std::string& type, int thread, int i) {
  EventData event;
  event.type = type;
  event.payload =
      std::string(200, 'x') + " thread " + std::to_string(thread) + " #" + std::to_string(i);
  event.actor = {ActorKind::kSystem, "crash-child", ""};
  return event;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <store-dir> <threads>\n", argv[0]);
    return 2;
  }
  RocksDbEventStoreOptions options;
  options.path = argv[1];
  auto store = RocksDbEventStore::Open(std::move(options));
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    return 1;
  }
  WriteLine("ready\n");
  const int threads = std::atoi(argv[2]);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0;; ++i) {
        std::vector<StreamAppend> request;
        request.push_back({"host-" + std::to_string(t) + "-" + std::to_string(i % 8),
                           ExpectedVersion::Any(),
                           {Event("Tick", t, i)}});
        if (i % 5 == 0) {  // Every fifth append touches two streams at once.
          request.push_back({"env-" + std::to_string(t),
                             ExpectedVersion::Any(),
                             {Event("Tock", t, i), Event("Tock", t, i)}});
        }
        auto result = (*store)->Append(std::move(request));
        if (!result.ok()) {
          std::fprintf(stderr, "append: %s\n", result.status().ToString().c_str());
          std::_Exit(1);
        }
        std::string line = "ack " + std::to_string(result->first_position) + " " +
                           std::to_string(result->last_position);
        for (const auto& s : result->streams) {
          line += " " + s.stream_id + " " + std::to_string(s.last_version);
        }
        WriteLine(line + "\n");
      }
    });
  }
  for (auto& w : workers) w.join();
  return 0;
}
