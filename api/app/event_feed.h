// The live feed behind GET /ws/events: one thread follows the log and hands
// every batch of events to the subscribers whose view admits them, as one
// message per batch: {"type":"events","events":[…]} with each event in the
// audit export's shape (replay::EventJson). Subscribers with the same view
// share one rendered message, so a thousand idle admins cost one rendering.
//
// A subscriber resuming from an earlier position is caught up from the log
// first, on the same thread, a slice at a time and paced on its send queue:
// it sees every event it may see once, in log order, and catching up never
// stalls the live subscribers for long.
//
// Tenancy: an admin's view is everything; a customer's holds the streams it
// owns: those whose first event names it (customer_id, owner, spec.owner) and
// its own customer stream. Hosts, other customers and the identity streams
// (users, API keys) are never in a customer's view, and in its events who
// acted and the request ids are blanked (they are the platform's).
//
// Thread-safety: Subscribe, MayOpen and stats from any thread; Start and
// Stop from one owner. If the log cannot be followed any more, every
// subscriber is closed and new ones are refused.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "api/http/http_types.h"
#include "eventstore/event_store.h"

namespace remotegpu::api {

class EventFeed {
 public:
  struct View {
    std::string customer_id;            // Empty: an admin, who sees everything.
    std::vector<std::string> prefixes;  // Stream id prefixes ("env-"); empty: any.
    std::vector<std::string> types;     // Event types; empty: any.
  };

  explicit EventFeed(eventstore::EventStore& store) : store_(store) {}
  ~EventFeed() { Stop(); }

  // Follows the log from its head on.
  Status Start();
  // Joins the thread and closes every subscriber.
  void Stop();

  // `peer` receives {"type":"subscribed","from":N}, then the events its
  // view admits from position N = `from_position` on (0: the next event
  // committed). A position beyond the log's head + 1 is
  // OutOfRange, and a stopped feed Unavailable; either way the peer is not
  // kept.
  // `caller` (a user or API key id) may hold at most kMaxPerCaller streams;
  // ResourceExhausted beyond. An empty caller is not limited.
  Status Subscribe(std::shared_ptr<StreamPeer> peer, View view, uint64_t from_position,
                   const std::string& caller);
  // Whether `caller` may open one more stream now (the route asks before the
  // upgrade, so that a refusal is a 429 rather than a closed socket).
  bool MayOpen(const std::string& caller) const;
  static constexpr size_t kMaxPerCaller = 64;

  struct Stats {
    size_t subscribers = 0;
    uint64_t position = 0;  // The next position the feed will read.
    uint64_t messages = 0;  // Messages handed to peers.
    uint64_t dropped = 0;   // Peers that refused a message (too slow or gone).
  };
  Stats stats() const;

 private:
  struct Subscriber {
    std::shared_ptr<StreamPeer> peer;
    View view;
    std::string key;      // The view as text: subscribers with one key share messages.
    uint64_t cursor = 0;  // The next position it is owed.
    std::string caller;
  };

  // Follow, then closes every subscriber, however it ended.
  void Run();
  // Delivers batches and catches subscribers up until Stop or an error.
  void Follow();
  // Sends `events` (in order, from `cursor`) to `subscribers`, one rendering
  // per view; drops peers that refuse.
  void Deliver(const std::vector<eventstore::RecordedEvent>& events,
               std::vector<Subscriber*>& subscribers);
  // Whether `view` admits `event`.
  bool Admits(const View& view, const eventstore::RecordedEvent& event);
  // The customer a stream belongs to ("" for none), from its first event.
  const std::string& OwnerOf(const eventstore::RecordedEvent& event);

  eventstore::EventStore& store_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::unique_ptr<eventstore::Subscription> subscription_;  // Run's; Stop closes it to wake Run.

  mutable std::mutex mu_;
  std::vector<Subscriber> joining_;        // Subscribed, not yet taken by Run. Guarded by mu_.
  bool started_ = false;                   // Accepting subscribers. Guarded by mu_.
  std::map<std::string, size_t> callers_;  // Streams open per caller. Guarded by mu_.
  std::atomic<size_t> subscribers_{0};
  std::atomic<uint64_t> position_{0};
  std::atomic<uint64_t> messages_{0};
  std::atomic<uint64_t> dropped_{0};

  // Run's own.
  std::vector<Subscriber> live_;
  std::unordered_map<std::string, std::string> owners_;  // Stream -> customer ("" none).
};

}  // namespace remotegpu::api
