#include "agent/host_facts.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <net/if.h>

namespace remotegpu::agent {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Trim(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t\r\n\"");
  if (first == std::string::npos) return "";
  const size_t last = text.find_last_not_of(" \t\r\n\"");
  return text.substr(first, last - first + 1);
}

// The value of `key` in "key<separator>value" lines, trimmed (and unquoted).
std::string Field(const std::string& text, const std::string& key, char separator) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    const size_t at = line.find(separator);
    if (at != std::string::npos && Trim(line.substr(0, at)) == key)
      return Trim(line.substr(at + 1));
  }
  return "";
}

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
  facts.set_hostname(Trim(ReadFile(base / "proc/sys/kernel/hostname")));
  facts.set_kernel(Trim(ReadFile(base / "proc/sys/kernel/osrelease")));
  facts.set_os_version(Field(ReadFile(base / "etc/os-release"), "PRETTY_NAME", '='));

  const std::string cpuinfo = ReadFile(base / "proc/cpuinfo");
  facts.set_cpu_model(Field(cpuinfo, "model name", ':'));
  uint32_t processors = 0;
  std::istringstream lines(cpuinfo);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("processor")) ++processors;
  }
  facts.set_cpu_cores(processors);
  // "MemTotal:       24563876 kB"
  const std::string total = Field(ReadFile(base / "proc/meminfo"), "MemTotal", ':');
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
