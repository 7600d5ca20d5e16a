// Product specs over a real RocksDB store: the catalog lists a command's
// effect at once, is rebuilt from the log by a fresh service, follows
// another writer's commits, and keeps unlisted specs from customers.
#include "commands/spec_service.h"

#include <thread>

#include "tests/commands/service_fixture.h"

namespace remotegpu::commands {
namespace {

domain::ProductSpec ProductSpecOf(const std::string& name, bool listed, uint32_t gpus = 1) {
  domain::ProductSpec spec;
  spec.set_name(name);
  spec.set_gpu_count(gpus);
  if (gpus > 0) spec.set_gpu_model("A100");
  spec.set_cpu_cores(8);
  spec.set_memory_gb(64);
  spec.set_listed(listed);
  return spec;
}

class SpecServiceTest : public ServiceTest {
 protected:
  std::unique_ptr<SpecService> Open() {
    auto specs = std::make_unique<SpecService>(*store_, clock_);
    EXPECT_TRUE(specs->Open().ok());
    return specs;
  }
};

TEST_F(SpecServiceTest, ListsAtOnceAndAfterARestart) {
  auto specs = Open();
  ASSERT_TRUE(specs->Create("spec-a100", ProductSpecOf("A100 x1", true), 1250, meta_).ok());
  ASSERT_TRUE(specs->Create("spec-draft", ProductSpecOf("Draft", false), 999, meta_).ok());
  EXPECT_EQ(specs->List(false).size(), 2u);
  ASSERT_EQ(specs->List(true).size(), 1u);
  EXPECT_EQ(specs->List(true).begin()->first, "spec-a100");
  EXPECT_EQ(specs->Create("spec-a100", ProductSpecOf("again", true), 1, meta_).status().code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(specs->Create("a100", ProductSpecOf("bad id", true), 1, meta_).status().code(),
            StatusCode::kInvalidArgument);

  clock_.Advance(60'000'000);
  ASSERT_TRUE(
      specs->ChangePrice("spec-a100", 1500, clock_.NowMicros() + 3'600'000'000, meta_).ok());
  specs->Stop();

  // A fresh service rebuilds the same catalog from the log.
  auto again = Open();
  auto all = again->List(false);
  ASSERT_EQ(all.size(), 2u);
  const domain::SpecState& a100 = all.at("spec-a100").state;
  EXPECT_EQ(a100.prices.size(), 2u);
  EXPECT_EQ(domain::PriceAt(a100, clock_.NowMicros()), 1250);
  EXPECT_EQ(domain::PriceAt(a100, clock_.NowMicros() + 3'600'000'000), 1500);
  EXPECT_EQ(again->Get("spec-none").status().code(), StatusCode::kNotFound);
}

TEST_F(SpecServiceTest, FollowsAnotherWritersCommits) {
  auto reader = Open();
  auto writer = Open();
  ASSERT_TRUE(writer->Create("spec-cpu", ProductSpecOf("CPU 8c", true, 0), 300, meta_).ok());
  domain::ProductSpec unlisted = ProductSpecOf("CPU 8c", false, 0);
  ASSERT_TRUE(writer->Update("spec-cpu", unlisted, meta_).ok());
  for (int i = 0; i < 200 && reader->List(false).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (int i = 0; i < 200 && !reader->List(true).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(reader->List(false).size(), 1u);
  EXPECT_TRUE(reader->List(true).empty()) << "the update unlisted it";
}

}  // namespace
}  // namespace remotegpu::commands
