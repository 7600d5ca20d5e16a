// The machine's facts as an agent reports them (domain::AgentReport without
// the GPUs): hostname, IP, OS and version, kernel, architecture, CPU model
// and cores, memory, root disk size, and deployment mode (a Docker socket:
// docker; a kubelet: kubernetes; else bare metal).
#pragma once

#include <string>

#include "domain/proto/host.pb.h"

namespace remotegpu::agent {

// Reads the files under `root` ("/" on a host; a fixture tree in tests):
// etc/os-release, proc/cpuinfo, proc/meminfo, proc/sys/kernel/{hostname,
// osrelease}, var/run/docker.sock, var/lib/kubelet. The architecture, IP
// and disk size come from the running system (uname, getifaddrs, statvfs of
// `root`). What cannot be read stays empty or zero.
domain::AgentReport ReadHostFacts(const std::string& root = "/");

}  // namespace remotegpu::agent
