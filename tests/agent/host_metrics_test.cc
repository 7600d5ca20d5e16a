// Metrics sampling: the /proc parsers on fixture files of a real host, the
// collector over a fixture tree with GPU figures from a fake NVML (loaded
// through dlopen), from a stand-in nvidia-smi, and from one that stops
// answering (its GPUs then read as not accessible).
#include "agent/host_metrics.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>

#include <gtest/gtest.h>

#include "agent/proc_text.h"
#include "tests/support/temp_dir.h"

namespace remotegpu::agent {
namespace {

const std::string kRoot = std::string(AGENT_FIXTURES) + "/root";

TEST(ProcParsers, CpuTimesAndUsage) {
  CpuTimes times = ParseProcStat(ReadTextFile(kRoot + "/proc/stat"));
  // user nice system idle iowait irq softirq steal of the "cpu" line.
  EXPECT_EQ(times.total, 10132153u + 290696 + 3084719 + 46828483 + 16683 + 0 + 25195 + 0);
  EXPECT_EQ(times.idle, 46828483u + 16683);
  EXPECT_DOUBLE_EQ(CpuUsagePercent({1000, 800}, {2000, 1550}), 25.0);
  EXPECT_DOUBLE_EQ(CpuUsagePercent({1000, 800}, {1000, 800}), 0.0);
}

TEST(ProcParsers, WholeDisksOnly) {
  IoTotals io;
  ParseDiskstats(ReadTextFile(kRoot + "/proc/diskstats"), &io);
  // nvme0n1 and sda; not loop0, partitions or dm-0.
  EXPECT_EQ(io.read_bytes, (12345678ull + 2000) * 512);
  EXPECT_EQ(io.write_bytes, (23456789ull + 4000) * 512);
}

TEST(ProcParsers, NetworkWithoutLoopback) {
  IoTotals io;
  ParseNetDev(ReadTextFile(kRoot + "/proc/net/dev"), &io);
  EXPECT_EQ(io.rx_bytes, 5000000000ull + 100000);
  EXPECT_EQ(io.tx_bytes, 2000000000ull + 300000);
  EXPECT_EQ(io.rx_packets, 4000000ull + 200);
  EXPECT_EQ(io.tx_packets, 3000000ull + 400);
}

class CollectorTest : public ::testing::Test {
 protected:
  void TearDown() override {
    unsetenv("FAKE_NVML_MODE");
    unsetenv("FAKE_NVML_XID");
  }
  // A stand-in nvidia-smi printing `fixture`, or failing when empty.
  std::string FakeSmi(const std::string& fixture) {
    const std::string path = dir_.Sub("nvidia-smi");
    std::ofstream script(path);
    script << "#!/bin/sh\n";
    if (fixture.empty()) {
      script << "echo 'Unable to determine the device handle for GPU0000:00:1E.0: Unknown "
                "Error' >&2\nexit 15\n";
    } else {
      script << "cat '" << AGENT_FIXTURES << "/" << fixture << "'\n";
    }
    script.close();
    chmod(path.c_str(), 0755);
    return path;
  }
  testing::TempDir dir_;
};

TEST_F(CollectorTest, HostFiguresFromTheTree) {
  MetricsCollector collector(kRoot, {FAKE_NVML_LIB, "nvidia-smi"});
  domain::HostSample sample = collector.Collect(1'700'000'000'000'000);
  EXPECT_EQ(sample.collected_at_us(), 1'700'000'000'000'000);
  EXPECT_EQ(sample.cpu_usage_percent(), 0);  // The first sample has no interval.
  EXPECT_DOUBLE_EQ(sample.load_1m(), 3.52);
  EXPECT_DOUBLE_EQ(sample.load_15m(), 2.40);
  EXPECT_EQ(sample.memory_total_bytes(), 1056617472ull * 1024);
  EXPECT_EQ(sample.memory_available_bytes(), 1010000000ull * 1024);
  EXPECT_GT(sample.disk_total_bytes(), 0u);  // statvfs of the tree's file system.
  EXPECT_EQ(sample.network_rx_bytes(), 5000000000ull + 100000);
  EXPECT_EQ(sample.disk_read_bytes(), (12345678ull + 2000) * 512);
}

TEST_F(CollectorTest, GpuFiguresFromNvmlWithXidEvents) {
  setenv("FAKE_NVML_XID", "79", 1);
  MetricsCollector collector(kRoot, {FAKE_NVML_LIB, "nvidia-smi"});
  domain::HostSample sample = collector.Collect(1);
  EXPECT_EQ(collector.gpu_source(), "nvml");
  ASSERT_EQ(sample.gpus_size(), 2);
  const domain::GpuSample& second = sample.gpus(1);
  EXPECT_TRUE(second.accessible());
  EXPECT_EQ(second.uuid(), "GPU-fake-2");
  EXPECT_DOUBLE_EQ(second.utilization_percent(), 41);
  EXPECT_DOUBLE_EQ(second.temperature_c(), 31);
  EXPECT_DOUBLE_EQ(second.power_w(), 101);
  EXPECT_DOUBLE_EQ(second.power_limit_w(), 700);
  EXPECT_EQ(second.memory_used_bytes(), 8ull << 30);
  EXPECT_TRUE(second.has_ecc());
  ASSERT_EQ(second.xid_errors_size(), 1);
  EXPECT_EQ(second.xid_errors(0), 79u);
  EXPECT_EQ(sample.gpus(0).xid_errors_size(), 0);
  // Drained: the next sample does not repeat the event.
  EXPECT_EQ(collector.Collect(2).gpus(1).xid_errors_size(), 0);
}

TEST_F(CollectorTest, GpuFiguresFromNvidiaSmiWhenNvmlIsMissing) {
  setenv("FAKE_NVML_MODE", "no-driver", 1);
  MetricsCollector collector(kRoot, {FAKE_NVML_LIB, FakeSmi("query_gpu_metrics_h100.csv")});
  domain::HostSample sample = collector.Collect(1);
  EXPECT_EQ(collector.gpu_source(), "nvidia-smi");
  ASSERT_EQ(sample.gpus_size(), 2);
  EXPECT_DOUBLE_EQ(sample.gpus(0).power_w(), 645.12);
}

TEST_F(CollectorTest, AnNvidiaSmiThatStopsAnsweringMakesItsGpusInaccessible) {
  setenv("FAKE_NVML_MODE", "no-driver", 1);
  const std::string smi = FakeSmi("query_gpu_metrics_h100.csv");
  MetricsCollector collector(kRoot, {FAKE_NVML_LIB, smi});
  ASSERT_EQ(collector.Collect(1).gpus_size(), 2);
  FakeSmi("");  // The same path now fails.
  domain::HostSample sample = collector.Collect(2);
  ASSERT_EQ(sample.gpus_size(), 2);
  EXPECT_FALSE(sample.gpus(0).accessible());
  EXPECT_FALSE(sample.gpus(1).accessible());
}

TEST_F(CollectorTest, NoGpuSourceMeansNoGpuFigures) {
  setenv("FAKE_NVML_MODE", "no-driver", 1);
  MetricsCollector collector(kRoot, {FAKE_NVML_LIB, dir_.Sub("no-such-nvidia-smi")});
  EXPECT_EQ(collector.Collect(1).gpus_size(), 0);
  EXPECT_EQ(collector.gpu_source(), "none");
}

}  // namespace
}  // namespace remotegpu::agent
