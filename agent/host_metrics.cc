#include "agent/host_metrics.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <sstream>
#include <vector>

#include <spdlog/spdlog.h>

#include "agent/nvidia_smi.h"
#include "agent/nvml.h"
#include "agent/proc_text.h"

namespace remotegpu::agent {
namespace {

// The whitespace-separated words of `line`.
std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> words;
  size_t at = 0;
  while (true) {
    at = line.find_first_not_of(" \t", at);
    if (at == std::string_view::npos) return words;
    const size_t end = line.find_first_of(" \t", at);
    words.push_back(line.substr(at, end == std::string_view::npos ? end : end - at));
    if (end == std::string_view::npos) return words;
    at = end;
  }
}

uint64_t Number(std::string_view text) {
  uint64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

// Calls `each` with the words of every line.
template <typename Each>
void ForEachLine(std::string_view text, Each each) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    each(Words(text.substr(start, end - start)));
    start = end + 1;
  }
}

bool AllOf(std::string_view text, std::string_view characters) {
  return !text.empty() && text.find_first_not_of(characters) == std::string_view::npos;
}

bool IsWholeDisk(std::string_view name) {
  constexpr std::string_view kDigits = "0123456789";
  constexpr std::string_view kLetters = "abcdefghijklmnopqrstuvwxyz";
  for (std::string_view prefix : {"sd", "vd", "xvd", "hd"}) {
    if (name.starts_with(prefix)) return AllOf(name.substr(prefix.size()), kLetters);
  }
  if (name.starts_with("mmcblk")) return AllOf(name.substr(6), kDigits);
  if (name.starts_with("nvme")) {  // nvme<c>n<n>, not its partitions nvme<c>n<n>p<p>
    const size_t n = name.find('n', 4);
    return n != std::string_view::npos && AllOf(name.substr(4, n - 4), kDigits) &&
           AllOf(name.substr(n + 1), kDigits);
  }
  return false;
}

}  // namespace

CpuTimes ParseProcStat(std::string_view text) {
  CpuTimes times;
  ForEachLine(text, [&](const std::vector<std::string_view>& words) {
    if (words.empty() || words[0] != "cpu") return;
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    for (size_t i = 1; i < words.size() && i <= 8; ++i) {
      const uint64_t value = Number(words[i]);
      times.total += value;
      if (i == 4 || i == 5) times.idle += value;
    }
  });
  return times;
}

double CpuUsagePercent(const CpuTimes& before, const CpuTimes& after) {
  if (after.total <= before.total) return 0;
  const double total = static_cast<double>(after.total - before.total);
  const double idle = after.idle >= before.idle ? static_cast<double>(after.idle - before.idle) : 0;
  return std::clamp(100.0 * (total - idle) / total, 0.0, 100.0);
}

void ParseDiskstats(std::string_view text, IoTotals* totals) {
  // major minor name reads merged sectors_read ms writes merged sectors_written …
  ForEachLine(text, [&](const std::vector<std::string_view>& words) {
    if (words.size() < 10 || !IsWholeDisk(words[2])) return;
    totals->read_bytes += Number(words[5]) * 512;
    totals->write_bytes += Number(words[9]) * 512;
  });
}

void ParseNetDev(std::string_view text, IoTotals* totals) {
  // "  eth0: rx_bytes rx_packets errs drop fifo frame compressed multicast tx_bytes tx_packets …"
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const auto name = Words(line.substr(0, colon));
    const auto words = Words(line.substr(colon + 1));
    if (name.size() != 1 || name[0] == "lo" || words.size() < 10) continue;
    totals->rx_bytes += Number(words[0]);
    totals->rx_packets += Number(words[1]);
    totals->tx_bytes += Number(words[8]);
    totals->tx_packets += Number(words[9]);
  }
}

MetricsCollector::MetricsCollector(std::string root, GpuDiscoveryOptions gpus)
    : root_(std::move(root)), gpu_options_(std::move(gpus)) {}

MetricsCollector::~MetricsCollector() = default;

domain::HostSample MetricsCollector::Collect(int64_t now_us) {
  namespace fs = std::filesystem;
  const fs::path base(root_);
  domain::HostSample sample;
  sample.set_collected_at_us(now_us);

  const CpuTimes cpu = ParseProcStat(ReadTextFile(base / "proc/stat"));
  if (previous_cpu_.total != 0) sample.set_cpu_usage_percent(CpuUsagePercent(previous_cpu_, cpu));
  previous_cpu_ = cpu;
  {
    std::istringstream load(ReadTextFile(base / "proc/loadavg"));
    double one = 0, five = 0, fifteen = 0;
    if (load >> one >> five >> fifteen) {
      sample.set_load_1m(one);
      sample.set_load_5m(five);
      sample.set_load_15m(fifteen);
    }
  }
  const std::string meminfo = ReadTextFile(base / "proc/meminfo");
  sample.set_memory_total_bytes(Number(FieldOf(meminfo, "MemTotal", ':')) * 1024);
  sample.set_memory_available_bytes(Number(FieldOf(meminfo, "MemAvailable", ':')) * 1024);
  const std::string cpuinfo = ReadTextFile(base / "proc/cpuinfo");
  uint32_t cores = 0;
  for (size_t at = cpuinfo.find("processor"); at != std::string::npos;
       at = cpuinfo.find("processor", at + 1)) {
    if (at == 0 || cpuinfo[at - 1] == '\n') ++cores;
  }
  sample.set_cpu_cores(cores);

  struct statvfs disk {};
  if (statvfs(root_.c_str(), &disk) == 0) {
    sample.set_disk_total_bytes(static_cast<uint64_t>(disk.f_blocks) * disk.f_frsize);
    sample.set_disk_available_bytes(static_cast<uint64_t>(disk.f_bavail) * disk.f_frsize);
  }
  IoTotals io;
  ParseDiskstats(ReadTextFile(base / "proc/diskstats"), &io);
  ParseNetDev(ReadTextFile(base / "proc/net/dev"), &io);
  sample.set_disk_read_bytes(io.read_bytes);
  sample.set_disk_write_bytes(io.write_bytes);
  sample.set_network_rx_bytes(io.rx_bytes);
  sample.set_network_tx_bytes(io.tx_bytes);
  sample.set_network_rx_packets(io.rx_packets);
  sample.set_network_tx_packets(io.tx_packets);

  CollectGpus(sample);
  return sample;
}

void MetricsCollector::CollectGpus(domain::HostSample& sample) {
  if (gpu_source_.empty()) {
    auto nvml = Nvml::Load(gpu_options_.nvml_library);
    if (nvml.ok()) {
      nvml_ = std::move(*nvml);
      gpu_source_ = "nvml";
    } else {
      gpu_source_ = RunForStdout({gpu_options_.nvidia_smi, "-L"}).ok() ? "nvidia-smi" : "none";
    }
    spdlog::info("GPU metrics from {}", gpu_source_);
  }
  if (gpu_source_ == "none") return;
  Result<std::vector<domain::GpuSample>> gpus = Status::Unavailable("no GPU source");
  if (nvml_) {
    gpus = nvml_->Sample();
  } else {
    std::vector<std::string> argv = {gpu_options_.nvidia_smi};
    argv.insert(argv.end(), std::begin(kQueryGpuMetricsArgs), std::end(kQueryGpuMetricsArgs));
    auto out = RunForStdout(argv);
    gpus = out.ok() ? ParseQueryGpuMetrics(*out) : out.status();
  }
  if (!gpus.ok()) {
    // The driver stopped answering (seed 03: "GPU accessible: nvidia-smi
    // responds"): the GPUs seen last time are reported as not accessible.
    spdlog::warn("GPU metrics: {}", gpus.status().message());
    for (uint32_t i = 0; i < last_gpu_count_; ++i) sample.add_gpus()->set_index(i);
    return;
  }
  last_gpu_count_ = static_cast<uint32_t>(gpus->size());
  for (auto& gpu : *gpus) *sample.add_gpus() = std::move(gpu);
}

}  // namespace remotegpu::agent
