// The metrics store against a real PostgreSQL: samples written with COPY and
// read back by time range, hourly roll-ups, the time window, daily
// partitions and their retention, and a full queue refusing more.
#include "projections/metrics_store.h"

#include <chrono>
#include <thread>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "common/clock.h"
#include "projections/embedded_postgres.h"
#include "tests/support/suite_postgres.h"
#include "tests/support/temp_dir.h"

namespace remotegpu::projections {
namespace {

constexpr int64_t kMinuteUs = 60'000'000;
constexpr int64_t kHourUs = 60 * kMinuteUs;
constexpr int64_t kDayUs = 24 * kHourUs;

int64_t At(const char* rfc3339) { return *ParseRfc3339(rfc3339); }

domain::HostSample Sample(int64_t at_us, double cpu, double temperature) {
  domain::HostSample sample;
  sample.set_collected_at_us(at_us);
  sample.set_cpu_usage_percent(cpu);
  sample.set_memory_total_bytes(100);
  sample.set_memory_available_bytes(25);
  sample.set_disk_total_bytes(1000);
  sample.set_disk_available_bytes(900);
  sample.set_network_rx_bytes(static_cast<uint64_t>(at_us / kMinuteUs));
  for (uint32_t i = 0; i < 2; ++i) {
    auto* gpu = sample.add_gpus();
    gpu->set_index(i);
    gpu->set_uuid("GPU-" + std::to_string(i));
    gpu->set_accessible(true);
    gpu->set_utilization_percent(50 + i);
    gpu->set_temperature_c(temperature + i);
    gpu->set_has_temperature(true);
    if (i == 1) gpu->add_xid_errors(79);
  }
  return sample;
}

class MetricsStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pg_.Start(); }
  static void TearDownTestSuite() { pg_.Stop(); }
  void SetUp() override { schema_ = "m" + std::to_string(++counter_); }

  std::unique_ptr<MetricsStore> Open(int64_t now_us, MetricsStoreOptions options = {}) {
    auto store = std::make_unique<MetricsStore>(pg_->ConnectionString(), schema_, options);
    Status opened = store->Open(now_us);
    EXPECT_TRUE(opened.ok()) << opened.ToString();
    return store;
  }
  int64_t Count(const std::string& sql) {
    pqxx::connection connection(pg_->ConnectionString());
    pqxx::nontransaction tx(connection);
    return tx.exec1(sql)[0].as<int64_t>();
  }

  static inline testing::SuitePostgres pg_;
  static inline int counter_ = 0;
  std::string schema_;
};

TEST_F(MetricsStoreTest, SamplesComeBackByTimeRange) {
  const int64_t now = At("2026-11-23T10:30:00Z");
  auto store = Open(now);
  domain::MetricsBatch batch;
  for (int i = 0; i < 10; ++i) {
    *batch.add_samples() = Sample(now - (10 - i) * kMinuteUs, 10.0 * i, 60);
  }
  auto accepted = store->Enqueue("host-1", batch, now);
  ASSERT_TRUE(accepted.ok()) << accepted.status().ToString();
  EXPECT_EQ(accepted->samples, 10);
  EXPECT_EQ(accepted->gpu_rows, 20);
  ASSERT_TRUE(store->Flush().ok());

  auto series = store->HostSeries(
      "host-1", {.from_us = now - 5 * kMinuteUs, .to_us = now, .hourly = false, .limit = 100});
  ASSERT_TRUE(series.ok()) << series.status().ToString();
  ASSERT_EQ(series->size(), 5u);  // Minutes -5 … -1.
  EXPECT_DOUBLE_EQ((*series)[0]["cpu_usage_percent"].get<double>(), 50);
  EXPECT_DOUBLE_EQ((*series)[0]["memory_usage_percent"].get<double>(), 75);
  EXPECT_DOUBLE_EQ((*series)[0]["gpu_avg_temperature"].get<double>(), 60.5);
  EXPECT_EQ((*series)[0]["gpu_count"], 2);

  auto gpu = store->GpuSeries("GPU-1", {.from_us = now - kHourUs, .to_us = now, .limit = 3});
  ASSERT_TRUE(gpu.ok());
  ASSERT_EQ(gpu->size(), 3u);  // The limit.
  EXPECT_EQ((*gpu)[0]["host_id"], "host-1");
  EXPECT_EQ((*gpu)[0]["xid_errors"], nlohmann::json::array({79}));
  EXPECT_TRUE(store->HostSeries("host-2", {.from_us = 0, .to_us = now, .limit = 10})->empty());
  EXPECT_EQ(store->stats().host_rows, 10u);
}

TEST_F(MetricsStoreTest, HourlyAggregatesOfEachHour) {
  const int64_t hour = At("2026-11-23T09:00:00Z");
  auto store = Open(hour);
  domain::MetricsBatch batch;
  // 09:00–09:59 every 30 s: cpu 0…119 % / 1.19, temperature 40 then 80.
  for (int i = 0; i < 120; ++i) {
    *batch.add_samples() = Sample(hour + i * int64_t{30'000'000}, i / 1.19, i < 60 ? 40 : 80);
  }
  *batch.add_samples() = Sample(hour + kHourUs + 1, 5, 50);  // 10:00: another hour.
  ASSERT_TRUE(store->Enqueue("host-1", batch, hour + kHourUs).ok());
  ASSERT_TRUE(store->Maintain(hour + kHourUs + 5 * kMinuteUs).ok());

  auto hourly = store->HostSeries(
      "host-1", {.from_us = hour, .to_us = hour + 2 * kHourUs, .hourly = true, .limit = 10});
  ASSERT_TRUE(hourly.ok()) << hourly.status().ToString();
  ASSERT_EQ(hourly->size(), 2u);
  const auto& nine = (*hourly)[0];
  EXPECT_EQ(nine["samples"], 120);
  EXPECT_NEAR(nine["cpu_usage_percent"].get<double>(), 59.5 / 1.19, 0.01);
  EXPECT_NEAR(nine["cpu_usage_max"].get<double>(), 119 / 1.19, 0.01);
  EXPECT_NEAR(nine["gpu_avg_temperature"].get<double>(), 60.5, 0.01);
  EXPECT_NEAR(nine["gpu_max_temperature"].get<double>(), 80.5, 0.01);
  EXPECT_EQ(nine["network_rx_bytes"],
            (hour + 119 * int64_t{30'000'000}) / kMinuteUs);  // The hour's last.
  EXPECT_EQ((*hourly)[1]["samples"], 1);

  auto gpu = store->GpuSeries(
      "GPU-1", {.from_us = hour, .to_us = hour + kHourUs, .hourly = true, .limit = 10});
  ASSERT_TRUE(gpu.ok());
  ASSERT_EQ(gpu->size(), 1u);
  EXPECT_EQ((*gpu)[0]["samples"], 120);
  EXPECT_EQ((*gpu)[0]["xid_events"], 120);
  EXPECT_NEAR((*gpu)[0]["temperature_max"].get<double>(), 81, 0.01);

  // A late sample for 09:xx is folded in at the next maintenance.
  domain::MetricsBatch late;
  *late.add_samples() = Sample(hour + 59 * kMinuteUs + 59'000'000, 0, 40);
  ASSERT_TRUE(store->Enqueue("host-1", late, hour + 2 * kHourUs).ok());
  ASSERT_TRUE(store->Maintain(hour + 2 * kHourUs).ok());
  hourly = store->HostSeries(
      "host-1", {.from_us = hour, .to_us = hour + kHourUs, .hourly = true, .limit = 1});
  EXPECT_EQ((*hourly)[0]["samples"], 121);
}

TEST_F(MetricsStoreTest, SamplesOutsideTheWindowAreRefusedOneByOne) {
  const int64_t now = At("2026-11-23T10:00:00Z");
  auto store = Open(now);
  domain::MetricsBatch batch;
  *batch.add_samples() = Sample(now - 8 * kDayUs, 1, 40);  // Older than the raw retention.
  *batch.add_samples() = Sample(now + 2 * kDayUs, 1, 40);  // A clock far ahead.
  *batch.add_samples() = Sample(now - kMinuteUs, 1, 40);
  auto accepted = store->Enqueue("host-1", batch, now);
  ASSERT_TRUE(accepted.ok());
  EXPECT_EQ(accepted->samples, 1);
  EXPECT_EQ(accepted->refused, 2);
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(Count("SELECT count(*) FROM " + schema_ + "_metrics.host_metrics"), 1);
}

TEST_F(MetricsStoreTest, DailyPartitionsAndRetention) {
  const int64_t day0 = At("2026-11-01T12:00:00Z");
  auto store = Open(day0);
  const std::string partitions =
      "SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent "
      "JOIN pg_namespace n ON n.oid = p.relnamespace WHERE n.nspname = '" +
      schema_ + "_metrics' AND p.relname = 'host_metrics'";
  EXPECT_EQ(Count(partitions), 9);  // 7 days back, today, tomorrow.
  domain::MetricsBatch batch;
  *batch.add_samples() = Sample(day0, 1, 40);
  ASSERT_TRUE(store->Enqueue("host-1", batch, day0).ok());
  ASSERT_TRUE(store->Maintain(day0 + kHourUs).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM " + schema_ + "_metrics.host_metrics_hourly"), 1);

  // Eight days on, Nov 1's raw partition is gone; its hourly row stays.
  ASSERT_TRUE(store->Maintain(day0 + 8 * kDayUs).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM " + schema_ + "_metrics.host_metrics"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM pg_class WHERE relname = 'host_metrics_p20261101'"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM " + schema_ + "_metrics.host_metrics_hourly"), 1);
  // After 90 days the hourly row goes too.
  ASSERT_TRUE(store->Maintain(day0 + 91 * kDayUs).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM " + schema_ + "_metrics.host_metrics_hourly"), 0);
}

TEST_F(MetricsStoreTest, AFullQueueRefusesAndKeepsNothingOfTheBatch) {
  const int64_t now = At("2026-11-23T10:00:00Z");
  // The writer waits a minute between copies: the queue fills.
  auto store =
      Open(now, {.max_queued_rows = 10, .rows_per_copy = 1000, .flush_interval_ms = 60'000});
  domain::MetricsBatch three;  // 3 host + 6 GPU rows.
  for (int i = 0; i < 3; ++i) *three.add_samples() = Sample(now - i * kMinuteUs, 1, 40);
  ASSERT_TRUE(store->Enqueue("host-1", three, now).ok());
  auto refused = store->Enqueue("host-2", three, now);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kResourceExhausted);
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(Count("SELECT count(*) FROM " + schema_ + "_metrics.host_metrics"), 3);
  EXPECT_EQ(
      Count("SELECT count(*) FROM " + schema_ + "_metrics.host_metrics WHERE host_id = 'host-2'"),
      0);
}

// Regression: one batch PostgreSQL cannot store (a temperature past real's
// range) was retried forever, the queue filled and every host got 503.
TEST_F(MetricsStoreTest, RowsPostgresKeepsRefusingAreDeadLetteredAndTheOtherHostsWritten) {
  const int64_t now = At("2026-11-23T10:00:00Z");
  // The writer copies only when asked: both hosts' rows go in one batch.
  auto store = Open(now, {.flush_interval_ms = 60'000});
  domain::MetricsBatch poisoned, good;
  *poisoned.add_samples() = Sample(now - kMinuteUs, 1, 1e300);  // Beyond PostgreSQL's real.
  *good.add_samples() = Sample(now - kMinuteUs, 1, 40);
  ASSERT_TRUE(store->Enqueue("host-bad", poisoned, now).ok());
  ASSERT_TRUE(store->Enqueue("host-good", good, now).ok());
  // The writer tries again a second apart, then splits the batch by host.
  (void)store->Flush();  // May report a refusal while attempts remain.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (store->stats().dead_batches == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(store->stats().dead_batches, 1u);
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(store->stats().dead_rows, 3u);  // One host row, two GPU rows.
  EXPECT_EQ(Count("SELECT count(*) FROM " + schema_ +
                  "_metrics.dead_letters WHERE host_rows = 1 "
                  "AND gpu_rows = 2 AND error LIKE '%out of range%' AND host_copy LIKE "
                  "'host-bad%'"),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM " + schema_ +
                  "_metrics.host_metrics WHERE host_id = 'host-good'"),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM " + schema_ + "_metrics.host_metrics"), 1);

  // And the writer goes on with what comes next.
  ASSERT_TRUE(store->Enqueue("host-next", good, now).ok());
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(Count("SELECT count(*) FROM " + schema_ + "_metrics.host_metrics"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM " + schema_ + "_metrics.gpu_metrics"), 4);
}

TEST_F(MetricsStoreTest, ReopeningRollsUpWhatTheLastRunLeft) {
  const int64_t hour = At("2026-11-23T09:00:00Z");
  {
    auto store = Open(hour);
    domain::MetricsBatch batch;
    *batch.add_samples() = Sample(hour + kMinuteUs, 1, 40);
    ASSERT_TRUE(store->Enqueue("host-1", batch, hour + kMinuteUs).ok());
    ASSERT_TRUE(store->Flush().ok());
  }  // Stopped before any maintenance.
  auto store = Open(hour + 3 * kHourUs);
  EXPECT_EQ(Count("SELECT count(*) FROM " + schema_ + "_metrics.host_metrics_hourly"), 1);
}

}  // namespace
}  // namespace remotegpu::projections
