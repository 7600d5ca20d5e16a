#include "api/event_feed.h"

#include <algorithm>
#include <map>

#include <spdlog/spdlog.h>

#include "api/router.h"
#include "replay/event_json.h"

namespace remotegpu::api {
namespace {

// Events a catching-up subscriber is sent per turn, and the queue it must
// have drained below before the next slice.
constexpr size_t kCatchUpSlice = 256;
constexpr size_t kCatchUpQueueBytes = 256 * 1024;

std::string KeyOf(const EventFeed::View& view) {
  std::string key = view.customer_id + "|";
  for (const auto& prefix : view.prefixes) key += prefix + ",";
  key += "|";
  for (const auto& type : view.types) key += type + ",";
  return key;
}

// The customer an event's payload names, if any.
std::string NamedCustomer(const nlohmann::json& payload) {
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
  return "";
}

// Comma-separated items of a query parameter: at most 16, each 1 to 128 of
// [A-Za-z0-9_.:-].
Result<std::vector<std::string>> ListParameter(const HttpRequest& request,
                                               const std::string& name) {
  std::vector<std::string> items;
  const std::string value = request.Query(name);
  size_t start = 0;
  while (!value.empty() && start <= value.size()) {
    size_t comma = value.find(',', start);
    if (comma == std::string::npos) comma = value.size();
    std::string item = value.substr(start, comma - start);
    if (!UsablePathParameter(item) || items.size() == 16) {
      return Status::InvalidArgument(name + " must be up to 16 comma-separated items of " +
                                     "[A-Za-z0-9_.:-]");
    }
    items.push_back(std::move(item));
    start = comma + 1;
  }
  return items;
}

}  // namespace

Result<EventFeed::View> ViewOf(const HttpRequest& request) {
  EventFeed::View view;
  if (!request.identity.admin) {
    if (request.identity.customer_id.empty()) {
      return Status::PermissionDenied("the event feed is for admins and customers' users");
    }
    view.customer_id = request.identity.customer_id;
  }
  auto prefixes = ListParameter(request, "prefix");
  if (!prefixes.ok()) return prefixes.status();
  auto types = ListParameter(request, "type");
  if (!types.ok()) return types.status();
  view.prefixes = std::move(*prefixes);
  view.types = std::move(*types);
  return view;
}

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
    if (!started_) return;
    started_ = false;
  }
  stop_ = true;
  subscription_->Close();
  if (thread_.joinable()) thread_.join();
  subscription_.reset();
  std::vector<Subscriber> joining;
  {
    std::lock_guard lock(mu_);
    joining.swap(joining_);
  }
  for (auto& subscriber : joining) subscriber.peer->Close();
  for (auto& subscriber : live_) subscriber.peer->Close();
  live_.clear();
  subscribers_ = 0;
}

Status EventFeed::Subscribe(std::shared_ptr<StreamPeer> peer, View view, uint64_t from_position) {
  const uint64_t next = store_.LastPosition() + 1;
  if (from_position > next) {
    return Status::OutOfRange("from " + std::to_string(from_position) +
                              " is beyond the log's next position, " + std::to_string(next));
  }
  std::lock_guard lock(mu_);
  if (!started_) return Status::Unavailable("the event feed is stopped");
  if (from_position == 0) from_position = next;
  // The first message says where the feed starts for this subscriber.
  peer->Send(std::make_shared<const std::string>(
      R"({"type":"subscribed","from":)" + std::to_string(from_position) + "}"));
  Subscriber subscriber{std::move(peer), std::move(view), "", from_position};
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
  if (event.stream_id.starts_with("customer-")) {
    owner = event.stream_id;
  } else if (event.stream_version == 1) {
    owner = NamedCustomer(replay::PayloadJson(event));
  } else if (auto first = store_.ReadStream(event.stream_id, {.from_version = 1, .max_count = 1});
             first.ok() && !first->empty()) {
    owner = NamedCustomer(replay::PayloadJson(first->front()));
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
  std::vector<std::string> rendered(events.size());  // Each event's JSON, once.
  std::map<std::string, std::shared_ptr<const std::string>> messages;  // By view key.
  for (Subscriber* subscriber : subscribers) {
    auto [slot, fresh] = messages.try_emplace(subscriber->key);
    if (fresh) {
      std::string message = R"({"type":"events","events":[)";
      bool any = false;
      for (size_t i = 0; i < events.size(); ++i) {
        if (!Admits(subscriber->view, events[i])) continue;
        if (rendered[i].empty()) rendered[i] = replay::EventJson(events[i]).dump();
        if (any) message += ',';
        message += rendered[i];
        any = true;
      }
      message += "]}";
      if (any) slot->second = std::make_shared<const std::string>(std::move(message));
    }
    subscriber->cursor = events.back().global_position + 1;
    if (slot->second == nullptr) continue;  // Nothing in this batch for this view.
    if (subscriber->peer->Send(slot->second)) {
      messages_.fetch_add(1);
    } else {
      dropped_.fetch_add(1);
    }
  }
}

void EventFeed::Run() {
  while (!stop_.load()) {
    // Newcomers: from now on, or caught up below.
    {
      std::lock_guard lock(mu_);
      for (auto& subscriber : joining_) live_.push_back(std::move(subscriber));
      joining_.clear();
    }
    const uint64_t cursor = position_.load();
    const bool catching_up = std::any_of(live_.begin(), live_.end(),
                                         [&](const Subscriber& s) { return s.cursor < cursor; });
    auto batch = subscription_->Next(catching_up ? std::chrono::milliseconds(0)
                                                 : std::chrono::milliseconds(200));
    if (!batch.ok()) {
      if (!stop_.load()) spdlog::error("event feed: {}", batch.status().ToString());
      break;
    }
    if (!batch->empty()) {
      std::vector<Subscriber*> current;
      for (auto& subscriber : live_) {
        if (subscriber.cursor == cursor) current.push_back(&subscriber);
      }
      Deliver(*batch, current);
      position_ = batch->back().global_position + 1;
    }
    // Those behind: one slice per turn, when their queue has room; those at
    // the same position share the read and the renderings.
    const uint64_t head = position_.load();
    std::map<uint64_t, std::vector<Subscriber*>> behind;
    for (auto& subscriber : live_) {
      if (subscriber.cursor >= head || subscriber.peer->closed() ||
          subscriber.peer->queued_bytes() > kCatchUpQueueBytes) {
        continue;
      }
      behind[subscriber.cursor].push_back(&subscriber);
    }
    for (auto& [from, group] : behind) {
      auto slice = store_.ReadAll(from, std::min<uint64_t>(kCatchUpSlice, head - from));
      if (!slice.ok()) {
        spdlog::error("event feed: catching subscribers up: {}", slice.status().ToString());
        for (Subscriber* subscriber : group) subscriber->peer->Close();
        continue;
      }
      Deliver(*slice, group);
    }
    // The closed go.
    const size_t before = live_.size();
    std::erase_if(live_, [](const Subscriber& s) { return s.peer->closed(); });
    subscribers_.fetch_sub(before - live_.size());
  }
}

}  // namespace remotegpu::api
