// Runs `remotegpu serve` as a child process for end-to-end tests.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/subprocess.h"
#include "tests/api/http_client.h"

namespace remotegpu::api::testing_process {

// Reads the child's output until it contains `needle` (60 s at most).
inline std::string ReadUntil(Subprocess& child, const std::string& needle) {
  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  char buffer[4096];
  while (output.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{child.stdout_fd(), POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t n = read(child.stdout_fd(), buffer, sizeof buffer);
    if (n <= 0) break;
    output.append(buffer, static_cast<size_t>(n));
  }
  return output;
}

// The port in the server's "ready: HTTP on 127.0.0.1:PORT" line; 0 if absent.
inline uint16_t PortFrom(const std::string& output) {
  const std::string marker = "HTTP on 127.0.0.1:";
  size_t at = output.find(marker);
  if (at == std::string::npos) return 0;
  return static_cast<uint16_t>(std::stoi(output.substr(at + marker.size())));
}

// A `remotegpu serve` child, its port, and what it printed up to "ready:".
struct Server {
  std::unique_ptr<Subprocess> process;
  uint16_t port = 0;
  std::string output;
};

// Starts `binary serve --data-dir DIR --listen 127.0.0.1:0 EXTRA…`, waits
// until it is ready and logs in as the first admin (the default credential
// of every call afterwards). port 0 when it did not start.
inline Server StartServer(const std::string& binary, const std::string& data_dir,
                          const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {binary, "serve", "--data-dir", data_dir};
  // A --listen among `extra` replaces the default (any free port).
  if (std::find(extra.begin(), extra.end(), "--listen") == extra.end()) {
    argv.insert(argv.end(), {"--listen", "127.0.0.1:0"});
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto child = Subprocess::Spawn(argv, {.capture_stdout = true, .merge_stderr = true});
  if (!child.ok()) return {};
  Server server{std::make_unique<Subprocess>(std::move(*child)), 0, ""};
  server.output = ReadUntil(*server.process, "ready:");
  server.port = PortFrom(server.output);
  if (server.port != 0 && testing_http::LogInAsAdmin(server.port).status != 200) server.port = 0;
  return server;
}

inline int Terminate(Subprocess& child) {
  child.Signal(SIGTERM);
  return child.Wait();
}

}  // namespace remotegpu::api::testing_process
