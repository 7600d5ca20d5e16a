// The metering process manager (issue 9): on every Tick, driven by the
// injected clock,
//   1. brings its book up to the log's head (commands/billing_book.h);
//   2. records a BillLineRecorded for every (resource, period) now complete
//      and not yet recorded: environments per clock hour
//      (domain::MeterHour), leases per lease month (domain::MeterLeaseMonths),
//      catching up every period missed while the server was down;
//   3. checks each customer's balance (recharges minus bill lines): warns
//      below the account's threshold and, when the account asks for it,
//      stops the customer's pay-as-you-go environments below minus the
//      credit limit (BalanceExhausted says why);
//   4. drafts each customer's invoice for every month that has ended.
//
// Exactly once: a resource's lines go to its own stream ("bill-env-7") with
// the stream's version as the expectation and an event id derived from
// (resource, period start), so a crash between two appends, a restart, two
// processes racing or a retried append can neither record a period twice
// nor skip one: the next tick starts from what the log holds.
//
// A period is metered once it ended `settle` ago (1 min), so a status change
// committed just after the hour with a time just before it is already in the
// log.
//
// Thread-safety: Tick from any thread; ticks run one at a time.
#pragma once

#include <functional>
#include <mutex>
#include <string>

#include "commands/billing_book.h"
#include "commands/billing_service.h"

namespace remotegpu::commands {

struct MeteringOptions {
  int64_t settle_us = 60'000'000;
  size_t streams_per_append = 1000;  // Resources' lines written in one atomic append.
};

struct MeteringReport {
  size_t lines = 0;           // Bill lines recorded.
  int64_t amount_fen = 0;     // Their sum.
  size_t conflicts = 0;       // Resources someone else billed first (read back).
  size_t failures = 0;        // Resources that could not be metered (logged).
  size_t balance_events = 0;  // Warnings, exhaustions and recoveries written.
  size_t stopped = 0;         // Environments stopped for an exhausted balance.
  size_t invoices = 0;        // Invoices drafted.
};

class MeteringProcess {
 public:
  // Stops an environment for `reason` (the environment service's Release).
  using StopEnvironment =
      std::function<Status(const std::string& env_id, const std::string& reason)>;

  MeteringProcess(eventstore::EventStore& store, const Clock& clock, BillingService& billing,
                  StopEnvironment stop, MeteringOptions options = {})
      : store_(store),
        clock_(clock),
        billing_(billing),
        stop_(std::move(stop)),
        options_(options) {}

  // IoError when the log cannot be read or written; per-resource problems
  // are counted in the report and retried on the next tick.
  Result<MeteringReport> Tick(const CommandMeta& meta);

 private:
  struct Pending;
  Status MeterResources(int64_t until_us, const CommandMeta& meta, MeteringReport& report);
  Status Record(std::vector<Pending>& pending, const CommandMeta& meta, MeteringReport& report);
  void CheckBalances(const CommandMeta& meta, MeteringReport& report);
  void DraftInvoices(int64_t until_us, const CommandMeta& meta, MeteringReport& report);

  eventstore::EventStore& store_;
  const Clock& clock_;
  BillingService& billing_;
  const StopEnvironment stop_;
  const MeteringOptions options_;
  std::mutex mu_;
  BillingBook book_;  // Guarded by mu_.
};

}  // namespace remotegpu::commands
