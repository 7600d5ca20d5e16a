// What metering needs to know, folded from the log: every billable resource
// (environments and leases) with its usage not yet billed and its bill
// stream's cursor; the prices (product specs, the rate card); the accounts
// and what each customer consumed; the lines of months not yet invoiced.
//
// The book is brought up to the log's head synchronously (CatchUp) before
// each metering tick, so a tick never bills from a stale view; the lines a
// tick appends are noted at once (NoteLine) and skipped when CatchUp reads
// them back. Every stream's events are applied once, in version order.
//
// Environments are billed while running or restarting (their GPUs and ports
// are held and in use); leases from their start once activated, one line per
// lease month begun before their end (expiry or reclaim).
//
// Thread-safety: none; the metering process serialises its use.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "domain/billing.h"
#include "domain/lease.h"
#include "domain/product_spec.h"
#include "eventstore/event_store.h"

namespace remotegpu::commands {

// Where a resource's bill stream stands.
struct BillCursor {
  uint64_t version = 0;         // Lines recorded.
  int64_t billed_until_us = 0;  // End of the last line's period.
  domain::FenSeconds carry;     // The last line's carry.
  // Hours before this are settled: billed, or known to hold no usage. Not
  // in the log; starts at billed_until_us after a restart.
  int64_t scanned_until_us = 0;
};

struct MeteredEnvironment {
  std::string spec_id;                 // The product spec; empty: priced by the rate card.
  domain::EnvironmentSpec resources;   // Resources only (CPU, memory, GPUs, storage).
  std::vector<domain::RunSpan> spans;  // Not yet settled; an open one ends at kOpen.
  bool running = false;
};

struct MeteredLease {
  int64_t start_us = 0;
  int64_t end_us = 0;
  uint32_t machines = 0;
  bool activated = false;
};

struct MeteredResource {
  bool is_lease = false;
  std::string customer_id;
  uint64_t version = 0;  // Of the resource's own stream.
  MeteredEnvironment environment;
  MeteredLease lease;
  BillCursor cursor;
  bool gone = false;  // Deleted: forgotten once settled.
};

class BillingBook {
 public:
  static constexpr int64_t kOpen = INT64_MAX;

  // Applies every event after the last one seen, up to the log's head.
  Status CatchUp(eventstore::EventStore& store);
  uint64_t position() const { return position_; }

  // A line the process just appended to `bill_stream` at `version`.
  void NoteLine(const std::string& bill_stream, uint64_t version,
                const domain::BillLineRecorded& line);

  std::unordered_map<std::string, MeteredResource>& resources() { return resources_; }

  // Hourly prices of an environment over time (free until a price exists).
  Result<domain::PriceSchedule> HourlyPrices(const MeteredEnvironment& environment) const;
  // Monthly prices of a lease of `machines` machines.
  Result<domain::PriceSchedule> MonthlyPrices(uint32_t machines) const;
  std::string PriceSourceOf(const MeteredEnvironment& environment) const;

  struct Account {
    uint64_t version = 0;
    domain::AccountState state;
    int64_t consumed_fen = 0;
    int64_t balance_fen() const { return state.recharged_fen - consumed_fen; }
  };
  std::map<std::string, Account>& accounts() { return accounts_; }  // By customer id.

  // Lines of months not yet invoiced, summed per resource, by
  // (customer id, "YYYY-MM").
  using MonthKey = std::pair<std::string, std::string>;
  std::map<MonthKey, domain::InvoiceGroups>& open_months() { return open_months_; }
  // Pay-as-you-go environments of `customer_id` running now.
  std::vector<std::string> RunningEnvironmentsOf(const std::string& customer_id) const;

 private:
  Status Apply(const eventstore::RecordedEvent& recorded);
  void ApplyEnvironment(const eventstore::RecordedEvent& recorded,
                        const domain::EnvironmentEvent& event);
  void ApplyLease(const eventstore::RecordedEvent& recorded, const domain::LeaseEvent& event);
  void ApplyLine(const std::string& resource_id, uint64_t version,
                 const domain::BillLineRecorded& line);

  uint64_t position_ = 0;
  std::unordered_map<std::string, MeteredResource> resources_;  // By "env-…" / "lease-…".
  struct Spec {
    uint64_t version = 0;
    domain::SpecState state;
  };
  std::map<std::string, Spec> specs_;
  uint64_t rates_version_ = 0;
  domain::RatesState rates_;
  std::map<std::string, Account> accounts_;
  std::map<MonthKey, domain::InvoiceGroups> open_months_;
  std::set<MonthKey> invoiced_;
  std::map<std::string, uint64_t> invoice_versions_;  // By invoice stream.
};

// "bill-env-7" for "env-7".
inline std::string BillStreamOf(const std::string& resource_id) { return "bill-" + resource_id; }

}  // namespace remotegpu::commands
