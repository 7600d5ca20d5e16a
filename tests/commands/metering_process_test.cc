// The metering process over a real RocksDB store, on simulated time:
// exact amounts, stops and price changes inside an hour, monthly lease
// lines, catch-up after downtime, a crash between appends, two processes
// racing, balance warnings and the stop policy, monthly invoices.
#include "commands/metering_process.h"

#include <thread>

#include "commands/lease_service.h"
#include "commands/spec_service.h"
#include "tests/commands/service_fixture.h"
#include "tests/eventstore/fault_injection.h"

namespace remotegpu::commands {
namespace {

constexpr int64_t kMinute = 60'000'000;
constexpr int64_t kHour = 60 * kMinute;
// 2026-11-02T00:00:00Z, a Monday.
constexpr int64_t kDay = 1'793'577'600'000'000;

class MeteringTest : public ServiceTest {
 protected:
  void SetUp() override {
    ServiceTest::SetUp();
    clock_.Set(kDay);
    WireBilling();
    RegisterHost("host-1", 8);
  }

  void TearDown() override {
    CloseBilling();
    ServiceTest::TearDown();
  }

  // Before the store closes: the spec catalog follows it on a thread.
  void CloseBilling() {
    process_.reset();
    leases_.reset();
    lease_cache_.reset();
    if (specs_) specs_->Stop();
    specs_.reset();
    billing_.reset();
  }

  void WireBilling() {
    billing_ = std::make_unique<BillingService>(*store_, clock_);
    specs_ = std::make_unique<SpecService>(*store_, clock_);
    ASSERT_TRUE(specs_->Open().ok());
    lease_cache_ = std::make_unique<AggregateCache<LeaseTraits>>(*store_);
    leases_ = std::make_unique<LeaseService>(*store_, clock_, *index_, *host_cache_, *lease_cache_,
                                             host_locks_);
    process_ = NewProcess();
  }

  std::unique_ptr<MeteringProcess> NewProcess(MeteringOptions options = {}) {
    return std::make_unique<MeteringProcess>(
        *store_, clock_, *billing_,
        [this](const std::string& env_id, const std::string& reason) {
          return environments_service_->Release(env_id, "", reason, meta_).status();
        },
        options);
  }

  void At(int64_t offset) { clock_.Set(kDay + offset); }

  // A spec at `fen_per_hour`, priced from now.
  void Spec(const std::string& id, int64_t fen_per_hour) {
    domain::ProductSpec spec;
    spec.set_name(id);
    spec.set_gpu_count(1);
    spec.set_gpu_model("A100");
    spec.set_cpu_cores(4);
    spec.set_memory_gb(16);
    spec.set_listed(true);
    ASSERT_TRUE(specs_->Create(id, spec, fen_per_hour, meta_).ok());
  }

  // Creates `env_id` (on `spec_id`, or with explicit resources) and runs it.
  void Run(const std::string& env_id, const std::string& spec_id,
           const std::string& owner = "acme") {
    domain::EnvironmentSpec spec = ServiceTest::Spec(1, owner);
    spec.set_product_spec_id(spec_id);
    auto created = environments_service_->Create(env_id, spec, meta_);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    MoveTo(env_id, domain::STARTING);
    MoveTo(env_id, domain::RUNNING);
  }
  void MoveTo(const std::string& env_id, domain::EnvironmentStatus to) {
    auto moved = environments_service_->ChangeStatus(env_id, to, "test", meta_);
    ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  }
  void Stop(const std::string& env_id) {
    ASSERT_TRUE(environments_service_->Release(env_id, "", "test", meta_).ok());
  }
  void Restart(const std::string& env_id) {
    ASSERT_TRUE(environments_service_->Start(env_id, meta_).ok());
    MoveTo(env_id, domain::STARTING);
    MoveTo(env_id, domain::RUNNING);
  }

  MeteringReport Tick(MeteringProcess& process) {
    auto report = process.Tick(meta_);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : MeteringReport{};
  }
  MeteringReport Tick() { return Tick(*process_); }

  std::vector<domain::BillLineRecorded> Lines(const std::string& resource_id) {
    std::vector<domain::BillLineRecorded> lines;
    auto events = store_->ReadStream(BillStreamOf(resource_id), {.max_count = 100'000});
    EXPECT_TRUE(events.ok());
    for (const auto& recorded : *events) {
      domain::BillEvent event;
      EXPECT_TRUE(event.ParseFromString(recorded.data.payload));
      lines.push_back(event.line());
    }
    return lines;
  }
  static int64_t Total(const std::vector<domain::BillLineRecorded>& lines) {
    int64_t total = 0;
    for (const auto& line : lines) total += line.amount_fen();
    return total;
  }

  std::unique_ptr<BillingService> billing_;
  std::unique_ptr<SpecService> specs_;
  std::unique_ptr<AggregateCache<LeaseTraits>> lease_cache_;
  std::unique_ptr<LeaseService> leases_;
  std::unique_ptr<MeteringProcess> process_;
};

TEST_F(MeteringTest, NinetyMinutesAtTwelveFiftyCostEighteenSeventyFive) {
  At(9 * kHour);
  Spec("spec-a100", 1250);
  At(10 * kHour + 15 * kMinute);
  Run("env-1", "spec-a100");
  At(11 * kHour + 45 * kMinute);
  Stop("env-1");

  At(11 * kHour + 30 * kMinute);  // 10:00–11:00 is complete and settled; 11:00–12:00 is not.
  EXPECT_EQ(Tick().lines, 1u);
  At(12 * kHour + 2 * kMinute);
  EXPECT_EQ(Tick().lines, 1u);
  EXPECT_EQ(Tick().lines, 0u);  // Nothing twice.

  auto lines = Lines("env-1");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].period_start_us(), kDay + 10 * kHour);
  EXPECT_EQ(lines[0].seconds(), 45 * 60);
  EXPECT_EQ(lines[0].amount_fen(), 938);  // 9.375 rounded half away from zero …
  EXPECT_EQ(lines[1].amount_fen(), 937);  // … and the half carried into the next line.
  EXPECT_EQ(Total(lines), 1875);
  EXPECT_EQ(lines[0].customer_id(), "acme");
  EXPECT_EQ(lines[0].resource_type(), "environment");
  EXPECT_EQ(lines[0].billing_mode(), "pay_as_you_go");
  EXPECT_EQ(lines[0].price_source(), "spec-a100");
  EXPECT_EQ(lines[0].currency(), "CNY");
}

TEST_F(MeteringTest, AStopAndAStartInsideAnHourBillBothParts) {
  Spec("spec-a100", 1250);
  At(10 * kHour);
  Run("env-1", "spec-a100");
  At(10 * kHour + 20 * kMinute);
  Stop("env-1");
  At(10 * kHour + 40 * kMinute);
  Restart("env-1");
  At(11 * kHour + 5 * kMinute);
  Tick();
  auto lines = Lines("env-1");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].parts_size(), 2);
  EXPECT_EQ(lines[0].seconds(), 40 * 60);
  EXPECT_EQ(lines[0].amount_fen(), 833);  // 12.50 × 40 / 60 = 8.333…
}

TEST_F(MeteringTest, APriceChangeAppliesFromItsTimeAndSplitsTheLineItFallsIn) {
  Spec("spec-a100", 1250);
  At(13 * kHour);
  Run("env-1", "spec-a100");
  ASSERT_TRUE(specs_->ChangePrice("spec-a100", 2000, kDay + 14 * kHour, meta_).ok());
  ASSERT_TRUE(specs_->ChangePrice("spec-a100", 1000, kDay + 15 * kHour + 30 * kMinute, meta_).ok());
  At(16 * kHour + 5 * kMinute);
  Tick();
  auto lines = Lines("env-1");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].amount_fen(), 1250);  // 13–14 at the old price.
  EXPECT_EQ(lines[1].amount_fen(), 2000);  // 14–15 at the new one.
  ASSERT_EQ(lines[2].parts_size(), 2);     // 15–16 split at 15:30.
  EXPECT_EQ(lines[2].parts(0).fen_per_unit(), 2000);
  EXPECT_EQ(lines[2].parts(1).fen_per_unit(), 1000);
  EXPECT_EQ(lines[2].amount_fen(), 1500);
  // Never retroactive: a change cannot be placed in the past.
  EXPECT_EQ(specs_->ChangePrice("spec-a100", 1, kDay, meta_).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(MeteringTest, ExplicitResourcesArePricedByTheRateCard) {
  domain::SetRates rates;
  rates.mutable_rates()->set_cpu_core_hour_fen(10);
  rates.mutable_rates()->set_memory_gb_hour_fen(2);
  rates.mutable_rates()->set_gpu_hour_fen(500);
  auto* a100 = rates.mutable_rates()->add_gpu_rates();
  a100->set_gpu_model("A100");
  a100->set_fen_per_hour(900);
  rates.mutable_rates()->set_storage_gb_month_fen(36);  // 100 GB: 3600 fen a month, 5 an hour.
  At(kHour);
  ASSERT_TRUE(billing_->SetRates(rates, meta_).ok());
  At(2 * kHour);
  domain::EnvironmentSpec spec = ServiceTest::Spec(1);  // 4 cores, 16 GiB.
  spec.mutable_constraints()->set_gpu_model("A100");
  spec.set_storage_gb(100);
  ASSERT_TRUE(environments_service_->Create("env-1", spec, meta_).ok());
  MoveTo("env-1", domain::STARTING);
  MoveTo("env-1", domain::RUNNING);
  At(3 * kHour + 2 * kMinute);
  Tick();
  auto lines = Lines("env-1");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].amount_fen(), 4 * 10 + 16 * 2 + 900 + 5);
  EXPECT_EQ(lines[0].price_source(), "rates-default");
}

TEST_F(MeteringTest, ALeaseOfThreeMonthsBillsThreeMonthlyLines) {
  domain::SetRates rates;
  rates.mutable_rates()->set_machine_month_fen(3'000'000);  // ¥30,000 a machine a month.
  ASSERT_TRUE(billing_->SetRates(rates, meta_).ok());
  RegisterHost("host-2", 8);
  At(kHour);
  domain::CreateLease create;
  create.set_customer_id("acme");
  create.add_host_ids("host-2");
  create.set_months(3);
  ASSERT_TRUE(leases_->Create("lease-1", create, meta_).ok());
  At(2 * kHour);
  Tick();
  ASSERT_EQ(Lines("lease-1").size(), 1u);                // Monthly: billed when the month begins.
  clock_.Set(domain::LeaseMonthStart(kDay + kHour, 5));  // Long after it ended.
  Tick();
  auto lines = Lines("lease-1");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1].period_start_us(), domain::LeaseMonthStart(kDay + kHour, 1));
  EXPECT_EQ(lines[2].period_end_us(), domain::LeaseMonthStart(kDay + kHour, 3));
  EXPECT_EQ(Total(lines), 9'000'000);
  EXPECT_EQ(lines[0].billing_mode(), "monthly");
}

TEST_F(MeteringTest, CatchesUpEveryHourMissedWhileDown) {
  Spec("spec-a100", 1250);
  At(10 * kHour);
  Run("env-1", "spec-a100");
  At(15 * kHour + 2 * kMinute);  // The first tick in five hours.
  EXPECT_EQ(Tick().lines, 5u);
  auto fresh = NewProcess();  // A restart: a new book from the log.
  EXPECT_EQ(Tick(*fresh).lines, 0u);
  At(16 * kHour + 2 * kMinute);
  EXPECT_EQ(Tick(*fresh).lines, 1u);
  EXPECT_EQ(Total(Lines("env-1")), 6 * 1250);
}

class MeteringCrashTest : public MeteringTest {
 public:
  // Meters 40 environments over six hours, with or without a crash (a
  // failed group write) at the second append of the catch-up, then a
  // restart; the bill streams.
  std::map<std::string, std::vector<std::string>> MeterFleet(bool crash) {
    auto sink =
        std::make_unique<eventstore::FaultInjectingCommitSink>(eventstore::NewRocksDbCommitSink());
    eventstore::FaultInjectingCommitSink* faults = sink.get();
    CloseBilling();
    Close();
    auto store = eventstore::RocksDbEventStore::Open(
        {.path = dir_.Sub(crash ? "crash" : "clean"), .commit_sink = std::move(sink)});
    EXPECT_TRUE(store.ok());
    store_ = std::move(*store);
    Wire();
    WireBilling();
    clock_.Set(kDay);
    RegisterHost("host-1", 8);
    RegisterHost("host-2", 8);
    RegisterHost("host-3", 8);
    RegisterHost("host-4", 8);
    RegisterHost("host-5", 8);
    Spec("spec-a100", 1250);
    for (int i = 0; i < 40; ++i) {
      At(10 * kHour + i * 37 * 1'000'000);
      Run("env-" + std::to_string(i), "spec-a100");
    }
    auto process = NewProcess({.streams_per_append = 7});
    At(16 * kHour + 2 * kMinute);
    if (crash) {
      faults->FailNth(2);
      EXPECT_FALSE(process->Tick(meta_).ok());
      process = NewProcess({.streams_per_append = 7});  // The restarted server's.
    }
    Tick(*process);
    std::map<std::string, std::vector<std::string>> streams;
    for (int i = 0; i < 40; ++i) {
      const std::string id = "env-" + std::to_string(i);
      for (const auto& line : Lines(id)) streams[id].push_back(line.SerializeAsString());
    }
    return streams;
  }
};

TEST_F(MeteringCrashTest, ACrashBetweenAppendsEndsWithTheLinesOfAnUninterruptedRun) {
  const auto clean = MeterFleet(false);
  const auto crashed = MeterFleet(true);
  ASSERT_EQ(clean.size(), 40u);
  EXPECT_EQ(clean.begin()->second.size(), 6u);
  EXPECT_EQ(crashed, clean);
}

TEST_F(MeteringTest, TwoProcessesRacingRecordEachPeriodOnce) {
  Spec("spec-a100", 1250);
  At(10 * kHour);
  for (int i = 0; i < 6; ++i) Run("env-" + std::to_string(i), "spec-a100");
  At(13 * kHour + 2 * kMinute);
  for (int round = 0; round < 5; ++round) {
    auto first = NewProcess({.streams_per_append = 2});
    auto second = NewProcess({.streams_per_append = 2});
    std::thread racer([&] { EXPECT_TRUE(first->Tick(meta_).ok()); });
    EXPECT_TRUE(second->Tick(meta_).ok());
    racer.join();
    clock_.Advance(kHour);
  }
  for (int i = 0; i < 6; ++i) {
    auto lines = Lines("env-" + std::to_string(i));
    ASSERT_EQ(lines.size(), 7u);  // 10:00 … 16:00, each hour once.
    for (size_t k = 0; k < lines.size(); ++k) {
      EXPECT_EQ(lines[k].period_start_us(), kDay + (10 + static_cast<int64_t>(k)) * kHour);
    }
  }
}

TEST_F(MeteringTest, WarnsBelowTheThresholdAndStopsBelowTheCreditLimit) {
  Spec("spec-a100", 10'000);  // ¥100 an hour.
  domain::AccountCommand settings;
  settings.mutable_change_settings()->set_credit_limit_fen(5'000);
  settings.mutable_change_settings()->set_low_balance_threshold_fen(20'000);
  settings.mutable_change_settings()->set_stop_when_exhausted(true);
  ASSERT_TRUE(billing_->Account("acme", settings, meta_).ok());
  domain::AccountCommand recharge;
  recharge.mutable_recharge()->set_order_id("order-1");
  recharge.mutable_recharge()->set_amount_fen(30'000);
  recharge.mutable_recharge()->set_method("transfer");
  recharge.mutable_recharge()->set_reference("bank ref 42");
  ASSERT_TRUE(billing_->Account("acme", recharge, meta_).ok());
  EXPECT_EQ(billing_->Account("acme", recharge, meta_).status().code(), StatusCode::kAlreadyExists);

  At(10 * kHour);
  Run("env-1", "spec-a100");
  Run("env-2", "spec-a100");
  At(11 * kHour + 2 * kMinute);  // −¥200: ¥100 left, below the ¥200 threshold.
  auto report = Tick();
  EXPECT_EQ(report.balance_events, 1u);
  EXPECT_EQ(report.stopped, 0u);
  EXPECT_TRUE(billing_->AccountOf("acme")->state.warned);
  EXPECT_EQ(Tick().balance_events, 0u);  // Warned once.

  At(12 * kHour + 2 * kMinute);  // −¥400: −¥100, below −¥50.
  report = Tick();
  EXPECT_EQ(report.balance_events, 1u);
  EXPECT_EQ(report.stopped, 2u);
  auto account = billing_->AccountOf("acme");
  EXPECT_TRUE(account->state.exhausted);
  EXPECT_EQ(environments_service_->StateOf("env-1")->status, domain::STOPPED);

  // A recharge lifts the balance: the warning and the exhaustion clear.
  recharge.mutable_recharge()->set_order_id("order-2");
  recharge.mutable_recharge()->set_amount_fen(100'000);
  ASSERT_TRUE(billing_->Account("acme", recharge, meta_).ok());
  At(13 * kHour + 2 * kMinute);
  EXPECT_EQ(Tick().balance_events, 2u);
  EXPECT_FALSE(billing_->AccountOf("acme")->state.warned);
  EXPECT_FALSE(billing_->AccountOf("acme")->state.exhausted);
}

TEST_F(MeteringTest, DraftsEachCustomersInvoiceOnceTheMonthHasEnded) {
  Spec("spec-a100", 1250);
  clock_.Set(kDay + 27 * 24 * kHour + 22 * kHour);  // 2026-11-29 22:00.
  Run("env-1", "spec-a100", "acme");
  Run("env-2", "spec-a100", "globex");
  clock_.Set(kDay + 28 * 24 * kHour + 23 * kHour + 30 * kMinute);  // 11-30 23:30
  Stop("env-2");
  EXPECT_EQ(Tick().invoices, 0u);                                // November has not ended.
  clock_.Set(kDay + 29 * 24 * kHour + 2 * kHour + 2 * kMinute);  // 12-01 02:02
  auto report = Tick();
  EXPECT_EQ(report.invoices, 2u);
  auto acme = billing_->InvoiceOf(InvoiceStreamOf("acme", "2026-11"));
  ASSERT_TRUE(acme.ok());
  EXPECT_EQ(acme->state.status, domain::InvoiceStatus::kDraft);
  EXPECT_EQ(acme->state.invoice.total_fen(), 26 * 1250);  // 11-29 22:00 to 12-01 00:00.
  ASSERT_EQ(acme->state.invoice.groups_size(), 1);
  EXPECT_EQ(acme->state.invoice.groups(0).lines(), 26);
  auto globex = billing_->InvoiceOf(InvoiceStreamOf("globex", "2026-11"));
  EXPECT_EQ(globex->state.invoice.total_fen(), 25 * 1250 + 625);
  EXPECT_EQ(Tick().invoices, 0u);
  EXPECT_EQ(NewProcess()->Tick(meta_)->invoices, 0u);  // Drafted once, restart or not.

  domain::InvoiceCommand pay;
  pay.mutable_pay()->set_method("transfer");
  EXPECT_EQ(billing_->Invoice(InvoiceStreamOf("acme", "2026-11"), pay, meta_).status().code(),
            StatusCode::kFailedPrecondition);  // Not issued yet.
  domain::InvoiceCommand issue;
  issue.mutable_issue();
  ASSERT_TRUE(billing_->Invoice(InvoiceStreamOf("acme", "2026-11"), issue, meta_).ok());
  ASSERT_TRUE(billing_->Invoice(InvoiceStreamOf("acme", "2026-11"), pay, meta_).ok());
  EXPECT_EQ(billing_->InvoiceOf(InvoiceStreamOf("acme", "2026-11"))->state.status,
            domain::InvoiceStatus::kPaid);
}

}  // namespace
}  // namespace remotegpu::commands
