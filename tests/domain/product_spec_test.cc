// The product spec decider: creation rules, CPU-only specs, updates and
// price changes that are never retroactive.
#include "domain/product_spec.h"

#include <gtest/gtest.h>

namespace remotegpu::domain {
namespace {

constexpr int64_t kNow = 1'700'000'000'000'000;

ProductSpec A100x8() {
  ProductSpec spec;
  spec.set_name("A100 x8");
  spec.set_gpu_model("A100");
  spec.set_gpu_count(8);
  spec.set_gpu_memory_gb(80);
  spec.set_cpu_cores(96);
  spec.set_memory_gb(960);
  spec.set_listed(true);
  return spec;
}

SpecState Given(const std::vector<SpecEvent>& events) {
  SpecState state;
  for (const auto& event : events) Apply(state, event);
  return state;
}

Result<std::vector<SpecEvent>> When(const SpecState& state, const SpecCommand& command,
                                    int64_t now = kNow) {
  return Decide(state, command, {"spec-a100x8", now});
}

SpecCommand Create(const ProductSpec& spec, int64_t fen) {
  SpecCommand command;
  *command.mutable_create()->mutable_spec() = spec;
  command.mutable_create()->set_fen_per_hour(fen);
  return command;
}

SpecCommand Price(int64_t fen, int64_t effective_at) {
  SpecCommand command;
  command.mutable_change_price()->set_fen_per_hour(fen);
  command.mutable_change_price()->set_effective_at_us(effective_at);
  return command;
}

TEST(ProductSpec, CreationRules) {
  auto created = When({}, Create(A100x8(), 12'000));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  SpecState state = Given(*created);
  EXPECT_EQ(PriceAt(state, kNow), 12'000);
  EXPECT_EQ(PriceAt(state, kNow - 1), 0);
  EXPECT_EQ(When(state, Create(A100x8(), 1)).status().code(), StatusCode::kAlreadyExists);

  ProductSpec no_model = A100x8();
  no_model.clear_gpu_model();
  EXPECT_EQ(When({}, Create(no_model, 1)).status().code(), StatusCode::kInvalidArgument);
  ProductSpec nameless = A100x8();
  nameless.clear_name();
  EXPECT_EQ(When({}, Create(nameless, 1)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(When({}, Create(A100x8(), -1)).status().code(), StatusCode::kInvalidArgument);
}

TEST(ProductSpec, ACpuOnlySpecKeepsNoGpuFields) {
  ProductSpec cpu = A100x8();
  cpu.set_name("CPU 16c");
  cpu.set_gpu_count(0);
  cpu.set_gpu_memory_slicing(true);
  auto created = When({}, Create(cpu, 300));
  ASSERT_TRUE(created.ok());
  const ProductSpec& kept = created->at(0).created().spec();
  EXPECT_EQ(kept.gpu_model(), "");
  EXPECT_EQ(kept.gpu_memory_gb(), 0u);
  EXPECT_FALSE(kept.gpu_memory_slicing());
}

TEST(ProductSpec, UpdatesRecordWhatChanged) {
  SpecState state = Given(*When({}, Create(A100x8(), 12'000)));
  SpecCommand update;
  *update.mutable_update()->mutable_spec() = A100x8();
  EXPECT_TRUE(When(state, update)->empty());  // Nothing changed.
  update.mutable_update()->mutable_spec()->set_listed(false);
  auto changed = When(state, update);
  ASSERT_EQ(changed->size(), 1u);
  ASSERT_EQ(changed->at(0).changed().changes_size(), 1);
  EXPECT_EQ(changed->at(0).changed().changes(0).field(), "listed");
  SpecCommand missing;
  *missing.mutable_update()->mutable_spec() = A100x8();
  EXPECT_EQ(When({}, missing).status().code(), StatusCode::kNotFound);
}

TEST(ProductSpec, PriceChangesApplyFromTheirTimeNeverBackwards) {
  std::vector<SpecEvent> history = *When({}, Create(A100x8(), 12'000));
  const int64_t later = kNow + 3'600'000'000;
  auto raised = When(Given(history), Price(15'000, later), kNow + 10);
  ASSERT_TRUE(raised.ok()) << raised.status().ToString();
  history.insert(history.end(), raised->begin(), raised->end());
  SpecState state = Given(history);
  EXPECT_EQ(PriceAt(state, later - 1), 12'000);
  EXPECT_EQ(PriceAt(state, later), 15'000);
  // In the past, or not after the last change: refused.
  EXPECT_EQ(When(state, Price(1, kNow), kNow + 20).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(When(state, Price(1, later), kNow + 20).status().code(),
            StatusCode::kFailedPrecondition);
  // Unset: now (after the scheduled change, since now is later still).
  auto now = When(state, Price(9'000, 0), later + 5);
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->at(0).price_changed().effective_at_us(), later + 5);
  // The schedule the metering reads.
  EXPECT_TRUE(PriceSchedule::Of(state.prices).ok());
}

}  // namespace
}  // namespace remotegpu::domain
