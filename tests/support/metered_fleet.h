// A fleet to meter, written straight into an event log: for the billing
// benchmark and the metering crash test.
#pragma once

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "commands/aggregate.h"
#include "domain/billing.h"
#include "domain/environment.h"
#include "domain/lease.h"
#include "domain/product_spec.h"

namespace remotegpu::testing {

template <typename Event>
inline eventstore::EventData FleetEvent(const Event& event, int64_t at_us) {
  return commands::EventDataOf(event, commands::EventTypeName(event), {}, at_us);
}

// Appends in unsynced batches of 2,000 streams.
class FleetLoader {
 public:
  explicit FleetLoader(eventstore::EventStore& store) : store_(store) {}
  void Add(eventstore::StreamAppend append) {
    batch_.push_back(std::move(append));
    if (batch_.size() >= 2000) Flush();
  }
  void Flush() {
    if (batch_.empty()) return;
    auto appended = store_.Append(batch_, {.sync = false});
    if (!appended.ok()) {
      std::cerr << "loading the fleet: " << appended.status().ToString() << "\n";
      std::exit(1);
    }
    batch_.clear();
  }

 private:
  eventstore::EventStore& store_;
  std::vector<eventstore::StreamAppend> batch_;
};

// Writes straight into `store` (unsynced, like an import): a ¥12.50/h spec
// and a ¥30,000 machine-month rate card; `environments` on the spec running
// since half an hour before `start_us` (an hour boundary); `leases` of one
// machine for 3 months beginning half an hour after it, activated; owned
// round-robin by "customer-0" … Exits the program when an append fails.
inline void LoadMeteredFleet(eventstore::EventStore& store, int64_t start_us, int environments,
                             int leases, int customers) {
  constexpr int64_t kHour = 3'600'000'000;
  FleetLoader loader(store);
  domain::SpecEvent spec;
  spec.mutable_created()->mutable_spec()->set_name("A100 x1");
  spec.mutable_created()->set_fen_per_hour(1250);
  spec.mutable_created()->set_created_at_us(start_us - 24 * kHour);
  loader.Add({"spec-fleet",
              eventstore::ExpectedVersion::NoStream(),
              {FleetEvent(spec, start_us - 24 * kHour)}});
  domain::RatesEvent rates;
  rates.mutable_set()->mutable_rates()->set_machine_month_fen(3'000'000);
  rates.mutable_set()->set_effective_at_us(start_us - 24 * kHour);
  loader.Add({domain::kRatesStream,
              eventstore::ExpectedVersion::NoStream(),
              {FleetEvent(rates, start_us - 24 * kHour)}});
  const int64_t started = start_us - kHour / 2;
  for (int i = 0; i < environments; ++i) {
    domain::EnvironmentEvent created, starting, running;
    auto* env = created.mutable_created()->mutable_spec();
    env->set_name("work");
    env->set_owner("customer-" + std::to_string(i % customers));
    env->set_product_spec_id("spec-fleet");
    env->set_gpu_count(1);
    starting.mutable_status_changed()->set_to(domain::STARTING);
    running.mutable_status_changed()->set_to(domain::RUNNING);
    loader.Add({"env-" + std::to_string(i),
                eventstore::ExpectedVersion::NoStream(),
                {FleetEvent(created, started - 60'000'000),
                 FleetEvent(starting, started - 30'000'000), FleetEvent(running, started)}});
  }
  for (int i = 0; i < leases; ++i) {
    domain::LeaseEvent created, activated;
    auto* lease = created.mutable_created();
    lease->set_customer_id("customer-" + std::to_string(i % customers));
    lease->add_host_ids("host-" + std::to_string(i));
    lease->set_starts_at_us(start_us + kHour / 2);
    lease->set_months(3);
    lease->set_expires_at_us(domain::AddMonths(start_us + kHour / 2, 3));
    activated.mutable_activated();
    loader.Add({"lease-" + std::to_string(i),
                eventstore::ExpectedVersion::NoStream(),
                {FleetEvent(created, start_us), FleetEvent(activated, start_us)}});
  }
  loader.Flush();
}

}  // namespace remotegpu::testing
