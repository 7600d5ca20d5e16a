#include "api/app/event_feed.h"

#include <algorithm>
#include <map>

#include <spdlog/spdlog.h>

#include "domain/stream_id.h"
#include "projections/queries/event_json.h"

namespace remotegpu::api {
namespace {

// Events a catching-up subscriber is sent per turn, and the queue it must
// have drained below before the next slice.
constexpr size_t kCatchUpSlice = 256;
constexpr size_t kCatchUpQueueBytes = 256 * 1024;
// Positions caught up per turn: a hundred subscribers resuming from far back
// cannot hold the live ones up for long.
constexpr size_t kCatchUpGroupsPerTurn = 8;
// A message is cut after this many bytes of events (a batch of 512 large
// events would otherwise be one message of megabytes).
constexpr size_t kMessageBytes = 256 * 1024;
// How long the feed gathers commits into one message, and at most how many.
constexpr std::chrono::milliseconds kLinger{10};
constexpr size_t kMaxBatch = 2048;
// Streams whose owner is remembered; beyond, the memory is dropped and
// learnt again from the log.
constexpr size_t kOwnersKept = 100'000;

std::string KeyOf(const EventFeed::View& view) {
  std::string key = view.customer_id + "|";
  for (const auto& prefix : view.prefixes) key += prefix + ",";
  key += "|";
  for (const auto& type : view.types) key += type + ",";
  return key;
}

// The customer an event's payload names, if any: customer_id, owner or
// spec.owner, at the top or inside the one-of wrapper most payloads are
// ({"created":{"spec":{"owner":…}}}).
std::string NamedCustomer(const nlohmann::json& payload, bool inside = false) {
  if (!payload.is_object()) return "";
  for (const char* field : {"customer_id", "owner"}) {
    auto it = payload.find(field);
    if (it != payload.end() && it->is_string()) return it->get<std::string>();
  }
  if (auto spec = payload.find("spec"); spec != payload.end() && spec->is_object()) {
    if (auto owner = spec->find("owner"); owner != spec->end() && owner->is_string()) {
      return owner->get<std::string>();
    }
  }
  if (!inside && payload.size() == 1 && payload.begin()->is_object()) {
    return NamedCustomer(*payload.begin(), true);
  }
  return "";
}

// An event as a customer's view shows it: who acted (an operator's user id
// and name) and the request ids are the platform's, not the customer's.
std::string ScopedJson(const eventstore::RecordedEvent& event) {
  nlohmann::json json = queries::EventJson(event);
  json["actor"]["id"] = "";
  json["actor"]["name"] = "";
  json["correlation_id"] = "";
  json["trace_id"] = "";
  return json.dump();
}

}  // namespace

Status EventFeed::Start() {
  const uint64_t from = store_.LastPosition() + 1;
  auto subscription = store_.Subscribe({.from_position = from, .max_batch = 512});
  if (!subscription.ok()) return subscription.status();
  subscription_ = std::move(*subscription);
  position_ = from;
  {
    std::lock_guard lock(mu_);
    started_ = true;
  }
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void EventFeed::Stop() {
  {
    std::lock_guard lock(mu_);
    started_ = false;
  }
  stop_ = true;
  if (subscription_) subscription_->Close();
  if (thread_.joinable()) thread_.join();  // Run closes every subscriber as it ends.
  subscription_.reset();
}

bool EventFeed::MayOpen(const std::string& caller) const {
  std::lock_guard lock(mu_);
  auto it = callers_.find(caller);
  return started_ && (caller.empty() || it == callers_.end() || it->second < kMaxPerCaller);
}

Status EventFeed::Subscribe(std::shared_ptr<StreamPeer> peer, View view, uint64_t from_position,
                            const std::string& caller) {
  const uint64_t next = store_.LastPosition() + 1;
  if (from_position > next) {
    return Status::OutOfRange("from " + std::to_string(from_position) +
                              " is beyond the log's next position, " + std::to_string(next));
  }
  std::lock_guard lock(mu_);
  if (!started_) return Status::Unavailable("the event feed is stopped");
  size_t& open = callers_[caller];
  if (!caller.empty() && open >= kMaxPerCaller) {
    return Status::ResourceExhausted("at most " + std::to_string(kMaxPerCaller) +
                                     " event streams per caller");
  }
  ++open;
  if (from_position == 0) from_position = next;
  // The first message says where the feed starts for this subscriber.
  peer->Send(std::make_shared<const std::string>(R"({"type":"subscribed","from":)" +
                                                 std::to_string(from_position) + "}"));
  Subscriber subscriber{std::move(peer), std::move(view), "", from_position, caller};
  subscriber.key = KeyOf(subscriber.view);
  joining_.push_back(std::move(subscriber));
  ++subscribers_;
  return Status::Ok();
}

EventFeed::Stats EventFeed::stats() const {
  return {subscribers_.load(), position_.load(), messages_.load(), dropped_.load()};
}

const std::string& EventFeed::OwnerOf(const eventstore::RecordedEvent& event) {
  auto found = owners_.find(event.stream_id);
  if (found != owners_.end()) return found->second;
  std::string owner;
  if (domain::IsKind(event.stream_id, domain::StreamKind::kCustomer)) {
    owner = event.stream_id;
  } else if (event.stream_version == 1) {
    owner = NamedCustomer(queries::PayloadJson(event));
  } else if (auto first = store_.ReadStream(event.stream_id, {.from_version = 1, .max_count = 1});
             first.ok() && !first->empty()) {
    owner = NamedCustomer(queries::PayloadJson(first->front()));
  }
  return owners_.emplace(event.stream_id, std::move(owner)).first->second;
}

bool EventFeed::Admits(const View& view, const eventstore::RecordedEvent& event) {
  if (!view.prefixes.empty() &&
      std::none_of(view.prefixes.begin(), view.prefixes.end(),
                   [&](const std::string& p) { return event.stream_id.starts_with(p); })) {
    return false;
  }
  if (!view.types.empty() &&
      std::find(view.types.begin(), view.types.end(), event.data.type) == view.types.end()) {
    return false;
  }
  if (view.customer_id.empty()) return true;
  // Identity streams name a customer too, but hold credentials' metadata:
  // admins only.
  for (const char* kind : {"user-", "username-", "apikey-", "host-"}) {
    if (event.stream_id.starts_with(kind)) return false;
  }
  return OwnerOf(event) == view.customer_id;
}

void EventFeed::Deliver(const std::vector<eventstore::RecordedEvent>& events,
                        std::vector<Subscriber*>& subscribers) {
  if (events.empty() || subscribers.empty()) return;
  // Each event's JSON once per audience: whole for admins, scoped for customers.
  std::vector<std::string> whole(events.size()), scoped(events.size());
  std::map<std::string, std::vector<std::shared_ptr<const std::string>>> messages;  // By view.
  for (Subscriber* subscriber : subscribers) {
    auto [slot, fresh] = messages.try_emplace(subscriber->key);
    if (fresh) {
      const bool customer = !subscriber->view.customer_id.empty();
      std::string message;
      auto flush = [&] {
        if (message.empty()) return;
        message += "]}";
        slot->second.push_back(std::make_shared<const std::string>(std::move(message)));
        message.clear();
      };
      for (size_t i = 0; i < events.size(); ++i) {
        if (!Admits(subscriber->view, events[i])) continue;
        std::string& json = customer ? scoped[i] : whole[i];
        if (json.empty()) {
          json = customer ? ScopedJson(events[i]) : queries::EventJson(events[i]).dump();
        }
        message += message.empty() ? R"({"type":"events","events":[)" : ",";
        message += json;
        if (message.size() >= kMessageBytes) flush();
      }
      flush();
    }
    subscriber->cursor = events.back().global_position + 1;
    for (const auto& message : slot->second) {
      if (!subscriber->peer->Send(message)) {
        dropped_.fetch_add(1);
        break;
      }
      messages_.fetch_add(1);
    }
  }
}

void EventFeed::Run() {
  try {
    Follow();
  } catch (const std::exception& e) {
    spdlog::error("event feed stopped: {}", e.what());
  }
  // However it ended, nobody is left waiting for events that will not come.
  std::vector<Subscriber> joining;
  {
    std::lock_guard lock(mu_);
    started_ = false;
    joining.swap(joining_);
    callers_.clear();
  }
  for (auto& subscriber : joining) subscriber.peer->Close();
  for (auto& subscriber : live_) subscriber.peer->Close();
  live_.clear();
  subscribers_ = 0;
}

void EventFeed::Follow() {
  size_t turn = 0;  // Rotates which positions catch up first.
  while (!stop_.load()) {
    {
      std::lock_guard lock(mu_);
      for (auto& subscriber : joining_) live_.push_back(std::move(subscriber));
      joining_.clear();
    }
    // Those behind whose queue has room are caught up below, so the log is
    // only polled then; otherwise the feed waits for commits.
    const uint64_t cursor = position_.load();
    auto ready = [&](const Subscriber& s) {
      return s.cursor < cursor && !s.peer->closed() && s.peer->queued_bytes() <= kCatchUpQueueBytes;
    };
    const bool catching_up = std::any_of(live_.begin(), live_.end(), ready);
    auto batch = subscription_->Next(catching_up ? std::chrono::milliseconds(0)
                                                 : std::chrono::milliseconds(200));
    if (!batch.ok()) {
      if (!stop_.load()) spdlog::error("event feed: {}", batch.status().ToString());
      return;
    }
    // A trickle of commits is gathered for a moment: one message of twenty
    // events costs a peer one write instead of twenty.
    const auto linger_end = std::chrono::steady_clock::now() + kLinger;
    while (!batch->empty() && batch->size() < kMaxBatch && !stop_.load()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          linger_end - std::chrono::steady_clock::now());
      if (left <= std::chrono::milliseconds(0)) break;
      auto more = subscription_->Next(left);
      if (!more.ok() || more->empty()) break;
      batch->insert(batch->end(), std::make_move_iterator(more->begin()),
                    std::make_move_iterator(more->end()));
    }
    if (!batch->empty()) {
      std::vector<Subscriber*> current;
      for (auto& subscriber : live_) {
        if (subscriber.cursor == cursor) current.push_back(&subscriber);
      }
      Deliver(*batch, current);
      position_ = batch->back().global_position + 1;
    }
    // Those behind: a slice for a few positions per turn; those at the same
    // position share the read and the renderings.
    const uint64_t head = position_.load();
    std::map<uint64_t, std::vector<Subscriber*>> behind;
    for (auto& subscriber : live_) {
      if (subscriber.cursor < head && ready(subscriber)) {
        behind[subscriber.cursor].push_back(&subscriber);
      }
    }
    std::vector<std::pair<uint64_t, std::vector<Subscriber*>>> groups(behind.begin(), behind.end());
    for (size_t n = 0; n < std::min(groups.size(), kCatchUpGroupsPerTurn); ++n) {
      auto& [from, group] = groups[(turn + n) % groups.size()];
      auto slice = store_.ReadAll(from, std::min<uint64_t>(kCatchUpSlice, head - from));
      if (!slice.ok()) {
        spdlog::error("event feed: catching subscribers up: {}", slice.status().ToString());
        for (Subscriber* subscriber : group) subscriber->peer->Close();
        continue;
      }
      Deliver(*slice, group);
    }
    ++turn;
    // The closed go.
    std::vector<std::string> gone;
    std::erase_if(live_, [&](const Subscriber& s) {
      if (!s.peer->closed()) return false;
      gone.push_back(s.caller);
      return true;
    });
    if (!gone.empty()) {
      std::lock_guard lock(mu_);
      for (const auto& caller : gone) {
        if (auto it = callers_.find(caller); it != callers_.end() && --it->second == 0) {
          callers_.erase(it);
        }
      }
    }
    subscribers_.fetch_sub(gone.size());
    if (owners_.size() > kOwnersKept) owners_.clear();
  }
}

}  // namespace remotegpu::api
