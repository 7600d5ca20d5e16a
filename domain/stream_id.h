// The kinds of stream in the log, told apart by their id's prefix
// ("host-…", "env-…"): the one place that knows the prefixes. Ids are the
// streams' ids as stored; a kind is what a projector, a decoder or a route
// switches on instead of comparing prefixes by hand.
#pragma once

#include <string>
#include <string_view>

namespace remotegpu::domain {

enum class StreamKind {
  kUnknown,
  kHost,         // host-…
  kEnvironment,  // env-…
  kLease,        // lease-…
  kPolicy,       // policy-…
  kCustomer,     // customer-…
  kUser,         // user-…
  kUsername,     // username-… (a claim on a login name)
  kApiKey,       // apikey-…
  kQuota,        // quota-…
  kWorkspace,    // workspace-…
  kSpec,         // spec-… (a product spec)
  kRates,        // rates-… (the rate card)
  kBill,         // bill-… (a resource's bill lines)
  kAccount,      // account-… (a customer's balance)
  kPayment,      // payment-… (a claimed order id)
  kInvoice,      // invoice-…
};

// The kind of `stream_id`; kUnknown for a prefix this build does not know.
StreamKind KindOf(std::string_view stream_id);

// Whether `stream_id` is of `kind`.
inline bool IsKind(std::string_view stream_id, StreamKind kind) {
  return KindOf(stream_id) == kind;
}

// "host-" for kHost; "" for kUnknown.
std::string_view PrefixOf(StreamKind kind);

}  // namespace remotegpu::domain
