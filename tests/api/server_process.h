// Runs `remotegpu serve` as a child process for end-to-end tests.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "common/subprocess.h"

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

inline int Terminate(Subprocess& child) {
  child.Signal(SIGTERM);
  return child.Wait();
}

}  // namespace remotegpu::api::testing_process
