#include "domain/stream_id.h"

#include <array>
#include <utility>

namespace remotegpu::domain {
namespace {

constexpr std::array<std::pair<StreamKind, std::string_view>, 16> kPrefixes = {{
    {StreamKind::kHost, "host-"},
    {StreamKind::kEnvironment, "env-"},
    {StreamKind::kLease, "lease-"},
    {StreamKind::kPolicy, "policy-"},
    {StreamKind::kCustomer, "customer-"},
    {StreamKind::kUser, "user-"},
    {StreamKind::kUsername, "username-"},
    {StreamKind::kApiKey, "apikey-"},
    {StreamKind::kQuota, "quota-"},
    {StreamKind::kWorkspace, "workspace-"},
    {StreamKind::kSpec, "spec-"},
    {StreamKind::kRates, "rates-"},
    {StreamKind::kBill, "bill-"},
    {StreamKind::kAccount, "account-"},
    {StreamKind::kPayment, "payment-"},
    {StreamKind::kInvoice, "invoice-"},
}};

}  // namespace

StreamKind KindOf(std::string_view stream_id) {
  for (const auto& [kind, prefix] : kPrefixes) {
    if (stream_id.starts_with(prefix)) return kind;
  }
  return StreamKind::kUnknown;
}

std::string_view PrefixOf(StreamKind kind) {
  for (const auto& [known, prefix] : kPrefixes) {
    if (known == kind) return prefix;
  }
  return "";
}

}  // namespace remotegpu::domain
