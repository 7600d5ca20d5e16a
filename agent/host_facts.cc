#include "agent/host_facts.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>

#include <filesystem>
#include <sstream>

#include <net/if.h>

#include "agent/proc_text.h"

namespace remotegpu::agent {
namespace {

// The first IPv4 address of an interface that is up and not loopback.
std::string FirstAddress() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return "";
  std::string found;
  for (ifaddrs* it = list; it != nullptr && found.empty(); it = it->ifa_next) {
    if (it->ifa_addr == nullptr || it->ifa_addr->sa_family != AF_INET) continue;
    if ((it->ifa_flags & IFF_LOOPBACK) || !(it->ifa_flags & IFF_UP)) continue;
    char text[INET_ADDRSTRLEN];
    const auto* address = reinterpret_cast<const sockaddr_in*>(it->ifa_addr);
    if (inet_ntop(AF_INET, &address->sin_addr, text, sizeof text)) found = text;
  }
  freeifaddrs(list);
  return found;
}

}  // namespace

domain::AgentReport ReadHostFacts(const std::string& root) {
  namespace fs = std::filesystem;
  const fs::path base(root);
  domain::AgentReport facts;
  facts.set_os("linux");
  facts.set_hostname(TrimField(ReadTextFile(base / "proc/sys/kernel/hostname")));
  facts.set_kernel(TrimField(ReadTextFile(base / "proc/sys/kernel/osrelease")));
  facts.set_os_version(FieldOf(ReadTextFile(base / "etc/os-release"), "PRETTY_NAME", '='));

  const std::string cpuinfo = ReadTextFile(base / "proc/cpuinfo");
  facts.set_cpu_model(FieldOf(cpuinfo, "model name", ':'));
  uint32_t processors = 0;
  std::istringstream lines(cpuinfo);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("processor")) ++processors;
  }
  facts.set_cpu_cores(processors);
  // "MemTotal:       24563876 kB"
  const std::string total = FieldOf(ReadTextFile(base / "proc/meminfo"), "MemTotal", ':');
  try {
    facts.set_memory_mb(total.empty() ? 0 : std::stoull(total) / 1024);
  } catch (const std::exception&) {
    facts.set_memory_mb(0);
  }

  std::error_code ignored;
  if (fs::exists(base / "var/run/docker.sock", ignored) ||
      fs::exists(base / "run/docker.sock", ignored)) {
    facts.set_deployment_mode(domain::DOCKER);
  } else if (fs::exists(base / "var/lib/kubelet", ignored)) {
    facts.set_deployment_mode(domain::KUBERNETES);
  } else {
    facts.set_deployment_mode(domain::BARE_METAL);
  }

  utsname name{};
  if (uname(&name) == 0) facts.set_arch(name.machine);
  facts.set_ip(FirstAddress());
  struct statvfs disk {};
  if (statvfs(root.c_str(), &disk) == 0) {
    facts.set_disk_gb(static_cast<uint64_t>(disk.f_blocks) * disk.f_frsize / 1'000'000'000);
  }
  return facts;
}

}  // namespace remotegpu::agent
