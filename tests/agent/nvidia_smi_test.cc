// The nvidia-smi parsers against fixtures of real output: H100, 8× A100
// SXM4 with an NVLink topology, RTX 4090 on PCIe, an old driver with [N/A].
#include "agent/nvidia_smi.h"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace remotegpu::agent {
namespace {

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(AGENT_FIXTURES) + "/" + name);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_FALSE(text.str().empty()) << name;
  return text.str();
}

TEST(ParseQueryGpu, H100) {
  auto parsed = ParseQueryGpu(Fixture("query_gpu_h100.csv"));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->gpus.size(), 2u);
  const domain::Gpu& gpu = parsed->gpus[1];
  EXPECT_EQ(gpu.index(), 1u);
  EXPECT_EQ(gpu.uuid(), "GPU-7c8d9e0f-1a2b-4c3d-8e5f-6a7b8c9d0e1f");
  EXPECT_EQ(gpu.model(), "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(gpu.memory_mb(), 81559u);
  EXPECT_EQ(gpu.compute_capability(), "9.0");
  EXPECT_EQ(parsed->driver_version, "535.129.03");
}

TEST(ParseQueryGpu, EightA100sAndTwoRtx4090s) {
  auto a100 = ParseQueryGpu(Fixture("query_gpu_a100_8x.csv"));
  ASSERT_TRUE(a100.ok());
  ASSERT_EQ(a100->gpus.size(), 8u);
  for (uint32_t i = 0; i < 8; ++i) {
    EXPECT_EQ(a100->gpus[i].index(), i);
    EXPECT_EQ(a100->gpus[i].model(), "NVIDIA A100-SXM4-80GB");
    EXPECT_EQ(a100->gpus[i].memory_mb(), 81920u);
  }
  auto rtx = ParseQueryGpu(Fixture("query_gpu_rtx4090.csv"));
  ASSERT_TRUE(rtx.ok());
  ASSERT_EQ(rtx->gpus.size(), 2u);
  EXPECT_EQ(rtx->gpus[0].model(), "NVIDIA GeForce RTX 4090");
  EXPECT_EQ(rtx->gpus[0].compute_capability(), "8.9");
}

TEST(ParseQueryGpu, NotAvailableFieldsStayEmpty) {
  auto parsed = ParseQueryGpu(Fixture("query_gpu_old_driver.csv"));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->gpus.size(), 1u);
  EXPECT_EQ(parsed->gpus[0].compute_capability(), "");
  EXPECT_EQ(parsed->gpus[0].memory_mb(), 32768u);
}

TEST(ParseQueryGpu, MalformedOutputNamesTheLine) {
  EXPECT_TRUE(ParseQueryGpu("").ok());  // No GPUs.
  for (const char* bad :
       {"0, GPU-x, A100", "x, GPU-x, A100, 1, 8.0, 1", "0, GPU-x, A100, lots, 8.0, 1",
        "0, a, b, 1, 8.0, 1\n0, c, d, 1, 8.0, 1"}) {
    auto parsed = ParseQueryGpu(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find("line"), std::string::npos);
  }
  // Lines come in any order; the result is by index.
  auto shuffled = ParseQueryGpu("1, b, B, 2, 8.0, 1\r\n0, a, A, 1, 8.0, 1\r\n");
  ASSERT_TRUE(shuffled.ok());
  EXPECT_EQ(shuffled->gpus[0].uuid(), "a");
}

TEST(ParseNvLinkPeers, EightGpusAllToAll) {
  auto peers = ParseNvLinkPeers(Fixture("topo_a100_8x_nvlink.txt"));
  ASSERT_TRUE(peers.ok()) << peers.status().ToString();
  ASSERT_EQ(peers->size(), 8u);  // The NICs' rows are not GPUs.
  EXPECT_EQ(peers->at(0), (std::vector<uint32_t>{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(peers->at(5), (std::vector<uint32_t>{0, 1, 2, 3, 4, 6, 7}));
}

TEST(ParseNvLinkPeers, PcieOnlyWithColourCodesHasNoPeers) {
  auto peers = ParseNvLinkPeers(Fixture("topo_rtx4090_pcie.txt"));
  ASSERT_TRUE(peers.ok()) << peers.status().ToString();
  ASSERT_EQ(peers->size(), 2u);
  EXPECT_TRUE(peers->at(0).empty());
  EXPECT_TRUE(peers->at(1).empty());
}

TEST(ParseNvLinkPeers, BridgedPairs) {
  const std::string matrix =
      "\tGPU0\tGPU1\tGPU2\tGPU3\tCPU Affinity\n"
      "GPU0\t X \tNV4\tSYS\tSYS\t0-15\n"
      "GPU1\tNV4\t X \tSYS\tSYS\t0-15\n"
      "GPU2\tSYS\tSYS\t X \tNV4\t16-31\n"
      "GPU3\tSYS\tSYS\tNV4\t X \t16-31\n";
  auto peers = ParseNvLinkPeers(matrix);
  ASSERT_TRUE(peers.ok());
  EXPECT_EQ(peers->at(0), (std::vector<uint32_t>{1}));
  EXPECT_EQ(peers->at(3), (std::vector<uint32_t>{2}));
  EXPECT_EQ(ParseNvLinkPeers("No devices were found").status().code(),
            StatusCode::kInvalidArgument);
}

TEST(ParseQueryGpuMetrics, H100UnderLoadAndIdle) {
  auto parsed = ParseQueryGpuMetrics(Fixture("query_gpu_metrics_h100.csv"));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->size(), 2u);
  const domain::GpuSample& busy = (*parsed)[0];
  EXPECT_TRUE(busy.accessible());
  EXPECT_EQ(busy.uuid(), "GPU-5a6f8e2d-3b1c-4f7a-9e0d-1c2b3a4d5e6f");
  EXPECT_DOUBLE_EQ(busy.utilization_percent(), 97);
  EXPECT_EQ(busy.memory_used_bytes(), 61234ull << 20);
  EXPECT_EQ(busy.memory_total_bytes(), 81559ull << 20);
  EXPECT_TRUE(busy.has_temperature());
  EXPECT_DOUBLE_EQ(busy.temperature_c(), 71);
  EXPECT_DOUBLE_EQ(busy.power_w(), 645.12);
  EXPECT_DOUBLE_EQ(busy.power_limit_w(), 700);
  const domain::GpuSample& idle = (*parsed)[1];
  EXPECT_TRUE(idle.has_ecc());
  EXPECT_EQ(idle.ecc_uncorrectable_errors(), 2u);
  EXPECT_EQ(idle.ecc_corrected_errors(), 17u);
}

TEST(ParseQueryGpuMetrics, NotSupportedFieldsStayUnknown) {
  auto parsed = ParseQueryGpuMetrics(Fixture("query_gpu_metrics_rtx4090.csv"));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->size(), 1u);
  const domain::GpuSample& gpu = (*parsed)[0];
  EXPECT_TRUE(gpu.has_temperature());
  EXPECT_FALSE(gpu.has_power());
  EXPECT_FALSE(gpu.has_ecc());
  EXPECT_DOUBLE_EQ(gpu.utilization_percent(), 12);
}

TEST(ParseQueryGpuMetrics, MalformedLinesAreNamed) {
  auto short_line = ParseQueryGpuMetrics("0, GPU-x, 12\n");
  ASSERT_FALSE(short_line.ok());
  EXPECT_NE(short_line.status().message().find("line 1"), std::string::npos);
  auto not_a_number = ParseQueryGpuMetrics("0, GPU-x, 1, 2, 3, hot, 5, 6, 7, 8\n");
  ASSERT_FALSE(not_a_number.ok());
  EXPECT_NE(not_a_number.status().message().find("not a number"), std::string::npos);
}

}  // namespace
}  // namespace remotegpu::agent
