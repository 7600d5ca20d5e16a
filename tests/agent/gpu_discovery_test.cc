// GPU discovery's sources for real: a fake NVML loaded with dlopen, a stand-in
// nvidia-smi (a script printing fixtures of the real one), and a host with
// neither.
#include "agent/gpu_discovery.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace remotegpu::agent {
namespace {

class GpuDiscoveryTest : public ::testing::Test {
 protected:
  // A script answering like nvidia-smi with the fixtures `query` and `topo`.
  std::string FakeSmi(const std::string& query, const std::string& topo) {
    const std::string path = dir_.Sub("nvidia-smi");
    std::ofstream(path) << "#!/bin/sh\n"
                        << "if [ \"$1\" = topo ]; then cat '" << AGENT_FIXTURES << "/" << topo
                        << "'; else cat '" << AGENT_FIXTURES << "/" << query << "'; fi\n";
    chmod(path.c_str(), 0755);
    return path;
  }
  void TearDown() override { unsetenv("FAKE_NVML_MODE"); }

  testing::TempDir dir_;
};

TEST_F(GpuDiscoveryTest, NvmlThroughDlopenWithPeersFromTopology) {
  GpuReport report =
      DiscoverGpus({FAKE_NVML_LIB, FakeSmi("query_gpu_h100.csv", "topo_a100_8x_nvlink.txt")});
  EXPECT_EQ(report.source, "nvml");
  EXPECT_EQ(report.note, "");
  EXPECT_EQ(report.driver_version, "550.54.15");
  ASSERT_EQ(report.gpus.size(), 2u);
  EXPECT_EQ(report.gpus[0].model(), "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(report.gpus[0].memory_mb(), 81559u);
  EXPECT_EQ(report.gpus[1].uuid(), "GPU-fake-2");
  EXPECT_EQ(report.gpus[1].compute_capability(), "9.0");
  ASSERT_EQ(report.gpus[0].nvlink_peers_size(), 1);
  EXPECT_EQ(report.gpus[0].nvlink_peers(0), 1u);
}

TEST_F(GpuDiscoveryTest, NoDriverFallsBackToNvidiaSmi) {
  setenv("FAKE_NVML_MODE", "no-driver", 1);
  GpuReport report =
      DiscoverGpus({FAKE_NVML_LIB, FakeSmi("query_gpu_a100_8x.csv", "topo_a100_8x_nvlink.txt")});
  EXPECT_EQ(report.source, "nvidia-smi");
  EXPECT_NE(report.note.find("nvmlInit failed"), std::string::npos) << report.note;
  ASSERT_EQ(report.gpus.size(), 8u);
  EXPECT_EQ(report.gpus[7].nvlink_peers_size(), 7);
  EXPECT_EQ(report.driver_version, "525.85.12");
}

TEST_F(GpuDiscoveryTest, AHostWithNeitherReportsNoGpusAndSaysWhy) {
  GpuReport report =
      DiscoverGpus({dir_.Sub("libnvidia-ml-missing.so.1"), dir_.Sub("no-such-nvidia-smi")});
  EXPECT_EQ(report.source, "none");
  EXPECT_TRUE(report.gpus.empty());
  EXPECT_NE(report.note.find("NVML: cannot load"), std::string::npos) << report.note;
  EXPECT_NE(report.note.find("nvidia-smi:"), std::string::npos) << report.note;
}

TEST_F(GpuDiscoveryTest, UnparsableNvidiaSmiOutputIsAnError) {
  const std::string path = dir_.Sub("nvidia-smi");
  std::ofstream(path) << "#!/bin/sh\necho 'NVIDIA-SMI has failed because it could not "
                         "communicate with the NVIDIA driver.'\n";
  chmod(path.c_str(), 0755);
  auto report = DiscoverWithNvidiaSmi(path);
  EXPECT_EQ(report.status().code(), StatusCode::kInvalidArgument) << report.status().ToString();
}

}  // namespace
}  // namespace remotegpu::agent
