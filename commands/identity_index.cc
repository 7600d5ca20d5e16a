#include "commands/identity_index.h"

#include <algorithm>
#include <mutex>

#include <spdlog/spdlog.h>

#include "commands/aggregate.h"
#include "domain/stream_id.h"

namespace remotegpu::commands {
namespace {

// Applies `event` to `entry` when it is the stream's next version.
template <typename Entry, typename Event>
bool ApplyInOrder(Entry& entry, uint64_t version, const Event& event) {
  if (version != entry.version + 1) return false;
  domain::Apply(entry.state, event);
  entry.version = version;
  return true;
}

}  // namespace

Status IdentityIndex::Apply(const eventstore::RecordedEvent& recorded) {
  RGPU_RETURN_IF_ERROR(Observe(recorded));
  std::unique_lock lock(mu_);
  position_ = std::max(position_, recorded.global_position);
  return Status::Ok();
}

void IdentityIndex::ObserveCommit(eventstore::EventStore& store, const std::string& stream_id,
                                  uint64_t version, size_t events) {
  if (events == 0) return;
  auto recorded =
      store.ReadStream(stream_id, {.from_version = version - events + 1, .max_count = events});
  if (!recorded.ok()) return;  // Follow applies them shortly.
  for (const auto& event : *recorded) {
    if (Status observed = Observe(event); !observed.ok()) return;  // Follow reports it.
  }
}

Status IdentityIndex::Observe(const eventstore::RecordedEvent& recorded) {
  const std::string& stream = recorded.stream_id;
  if (domain::IsKind(stream, domain::StreamKind::kUser)) {
    auto event = ParseRecorded<domain::UserEvent>(recorded);
    if (!event.ok()) return event.status();
    ObserveUser(stream, recorded.stream_version, *event);
  } else if (domain::IsKind(stream, domain::StreamKind::kCustomer)) {
    auto event = ParseRecorded<domain::CustomerEvent>(recorded);
    if (!event.ok()) return event.status();
    ObserveCustomer(stream, recorded.stream_version, *event);
  } else if (domain::IsKind(stream, domain::StreamKind::kApiKey)) {
    auto event = ParseRecorded<domain::ApiKeyEvent>(recorded);
    if (!event.ok()) return event.status();
    ObserveApiKey(stream, recorded.stream_version, *event);
  } else if (domain::IsKind(stream, domain::StreamKind::kWorkspace)) {
    auto event = ParseRecorded<domain::WorkspaceEvent>(recorded);
    if (!event.ok()) return event.status();
    ObserveWorkspace(stream, recorded.stream_version, *event);
  }
  return Status::Ok();
}

Status IdentityIndex::CatchUp(eventstore::EventStore& store) {
  while (true) {
    uint64_t from;
    {
      std::shared_lock lock(mu_);
      from = position_ + 1;
    }
    auto events = store.ReadAll(from, 4096);
    if (!events.ok()) return events.status();
    if (events->empty()) return Status::Ok();
    for (const auto& event : *events) RGPU_RETURN_IF_ERROR(Apply(event));
  }
}

Status IdentityIndex::Follow(eventstore::EventStore& store) {
  uint64_t from;
  {
    std::shared_lock lock(mu_);
    from = position_ + 1;
  }
  auto follower = eventstore::LogFollower::Start(
      store, from, "identity index",
      [this](const eventstore::RecordedEvent& event) { return Apply(event); });
  if (!follower.ok()) return follower.status();
  follower_ = std::move(*follower);
  return Status::Ok();
}

void IdentityIndex::Stop() {
  if (follower_) follower_->Stop();
}

void IdentityIndex::ObserveCustomer(const std::string& id, uint64_t version,
                                    const domain::CustomerEvent& event) {
  std::unique_lock lock(mu_);
  ApplyInOrder(customers_[id], version, event);
}

void IdentityIndex::ObserveUser(const std::string& id, uint64_t version,
                                const domain::UserEvent& event) {
  std::unique_lock lock(mu_);
  User& user = users_[id];
  if (ApplyInOrder(user, version, event) && event.has_created()) {
    names_[user.state.username] = id;
  }
}

void IdentityIndex::ObserveApiKey(const std::string& id, uint64_t version,
                                  const domain::ApiKeyEvent& event) {
  std::unique_lock lock(mu_);
  ApplyInOrder(keys_[id], version, event);
}

void IdentityIndex::ObserveWorkspace(const std::string& id, uint64_t version,
                                     const domain::WorkspaceEvent& event) {
  std::unique_lock lock(mu_);
  ApplyInOrder(workspaces_[id], version, event);
}

Result<Principal> IdentityIndex::PrincipalOf(const std::string& user_id) const {
  auto it = users_.find(user_id);
  if (it == users_.end() || !it->second.state.created) {
    return Status::Unauthenticated("the credentials name no user");
  }
  const domain::UserState& user = it->second.state;
  if (user.disabled) return Status::Unauthenticated("the user is disabled");
  if (user.role == domain::ROLE_CUSTOMER) {
    auto customer = customers_.find(user.customer_id);
    if (customer == customers_.end() || !customer->second.state.enabled) {
      return Status::Unauthenticated("the customer is disabled");
    }
  }
  Principal principal;
  principal.user_id = user_id;
  principal.username = user.username;
  principal.customer_id = user.customer_id;
  principal.admin = user.role == domain::ROLE_ADMIN;
  return principal;
}

Result<Principal> IdentityIndex::ForUser(const std::string& user_id) const {
  std::shared_lock lock(mu_);
  return PrincipalOf(user_id);
}

Result<Principal> IdentityIndex::ForSession(const std::string& user_id,
                                            const std::string& session_id) const {
  std::shared_lock lock(mu_);
  auto principal = PrincipalOf(user_id);
  if (!principal.ok()) return principal.status();
  if (!users_.at(user_id).state.sessions.count(session_id)) {
    return Status::Unauthenticated("the session has ended; log in again");
  }
  principal->session_id = session_id;
  return principal;
}

Result<Principal> IdentityIndex::ForApiKey(const std::string& key_id,
                                           const std::string& secret_digest,
                                           UnixMicros now_us) const {
  std::shared_lock lock(mu_);
  auto it = keys_.find(key_id);
  if (it == keys_.end() || !it->second.state.created ||
      it->second.state.info.secret_hash() != secret_digest) {
    return Status::Unauthenticated("unknown API key");
  }
  const domain::ApiKeyState& key = it->second.state;
  if (key.revoked) return Status::Unauthenticated("the API key was deleted");
  if (key.info.expires_at_us() != 0 && now_us >= key.info.expires_at_us()) {
    return Status::Unauthenticated("the API key has expired");
  }
  auto principal = PrincipalOf(key.info.user_id());
  if (!principal.ok()) return principal.status();
  principal->api_key_id = key_id;
  principal->host_id = key.info.host_id();
  return principal;
}

std::optional<std::string> IdentityIndex::UserIdByName(const std::string& username) const {
  std::shared_lock lock(mu_);
  auto it = names_.find(username);
  if (it == names_.end()) return std::nullopt;
  return it->second;
}

bool IdentityIndex::CustomerActive(const std::string& customer_id) const {
  std::shared_lock lock(mu_);
  auto it = customers_.find(customer_id);
  return it != customers_.end() && it->second.state.enabled;
}

bool IdentityIndex::CustomerExists(const std::string& customer_id) const {
  std::shared_lock lock(mu_);
  auto it = customers_.find(customer_id);
  return it != customers_.end() && it->second.state.created;
}

bool IdentityIndex::AnyAdmin() const {
  std::shared_lock lock(mu_);
  for (const auto& [id, user] : users_) {
    if (user.state.created && user.state.role == domain::ROLE_ADMIN) return true;
  }
  return false;
}

namespace {

ApiKeyInfo InfoOf(const std::string& key_id, const domain::ApiKeyState& key) {
  return {key_id,
          key.info.user_id(),
          key.info.name(),
          key.info.prefix(),
          key.info.expires_at_us(),
          key.info.host_id(),
          key.revoked};
}

}  // namespace

std::vector<ApiKeyInfo> IdentityIndex::ApiKeysOf(const std::string& user_id) const {
  std::shared_lock lock(mu_);
  std::vector<ApiKeyInfo> out;
  for (const auto& [id, key] : keys_) {
    if (key.state.created && key.state.info.user_id() == user_id)
      out.push_back(InfoOf(id, key.state));
  }
  std::sort(out.begin(), out.end(),
            [](const ApiKeyInfo& a, const ApiKeyInfo& b) { return a.key_id < b.key_id; });
  return out;
}

std::map<std::string, domain::CustomerState> IdentityIndex::Customers() const {
  std::shared_lock lock(mu_);
  std::map<std::string, domain::CustomerState> out;
  for (const auto& [id, customer] : customers_) {
    if (customer.state.created) out[id] = customer.state;
  }
  return out;
}

std::optional<ApiKeyInfo> IdentityIndex::ApiKey(const std::string& key_id) const {
  std::shared_lock lock(mu_);
  auto it = keys_.find(key_id);
  if (it == keys_.end() || !it->second.state.created) return std::nullopt;
  return InfoOf(key_id, it->second.state);
}

std::optional<domain::WorkspaceState> IdentityIndex::Workspace(
    const std::string& workspace_id) const {
  std::shared_lock lock(mu_);
  auto it = workspaces_.find(workspace_id);
  if (it == workspaces_.end() || !it->second.state.created) return std::nullopt;
  return it->second.state;
}

domain::WorkspaceRole IdentityIndex::RoleIn(const std::string& workspace_id,
                                            const std::string& user_id) const {
  std::shared_lock lock(mu_);
  auto it = workspaces_.find(workspace_id);
  if (it == workspaces_.end()) return domain::WORKSPACE_ROLE_UNSPECIFIED;
  auto member = it->second.state.members.find(user_id);
  return member == it->second.state.members.end() ? domain::WORKSPACE_ROLE_UNSPECIFIED
                                                  : member->second;
}

std::map<std::string, domain::WorkspaceState> IdentityIndex::Workspaces(
    const std::string& user_id, const std::string& customer_id) const {
  std::shared_lock lock(mu_);
  std::map<std::string, domain::WorkspaceState> out;
  for (const auto& [id, workspace] : workspaces_) {
    const domain::WorkspaceState& state = workspace.state;
    if (!state.created) continue;
    if (!user_id.empty() && !state.members.contains(user_id)) continue;
    if (!customer_id.empty() && state.info.customer_id() != customer_id) continue;
    out[id] = state;
  }
  return out;
}

std::set<std::string> IdentityIndex::HostsWithAgents(UnixMicros now_us) const {
  std::shared_lock lock(mu_);
  std::set<std::string> hosts;
  for (const auto& [id, key] : keys_) {
    const domain::ApiKeyState& state = key.state;
    if (state.created && !state.revoked && !state.info.host_id().empty() &&
        (state.info.expires_at_us() == 0 || now_us < state.info.expires_at_us())) {
      hosts.insert(state.info.host_id());
    }
  }
  return hosts;
}

std::string IdentityIndex::UsernameOf(const std::string& user_id) const {
  std::shared_lock lock(mu_);
  auto it = users_.find(user_id);
  return it == users_.end() ? "" : it->second.state.username;
}

}  // namespace remotegpu::commands
