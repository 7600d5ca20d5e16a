// Who may call and what they may do: an in-memory view of customers, users
// (with their open sessions), API keys and workspaces, built from the log on start (CatchUp), kept
// current from new commits (Follow) and, so that a login's token works at once, from the identity
// service's own commits (Observe*). The API's authentication middleware asks it on every request,
// so lookups never block on I/O.
//
// Every stream's events are applied once, in version order: an event whose
// version is not the next one for its stream is ignored (Follow delivers
// every event in order, so whatever a direct Observe skips, Follow applies).
//
// Thread-safety: all methods, from any thread.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "domain/identity.h"
#include "domain/workspace.h"
#include "eventstore/event_store.h"
#include "eventstore/log_follower.h"

namespace remotegpu::commands {

// An authenticated caller.
struct Principal {
  std::string user_id;  // "user-…"
  std::string username;
  std::string customer_id;  // Empty for a platform admin.
  bool admin = false;
  std::string session_id;  // Set when the caller came with an access token.
  std::string api_key_id;  // Set when the caller came with an API key.
  std::string host_id;     // Set for an agent token: the host it speaks for.
};

struct ApiKeyInfo {
  std::string key_id;  // "apikey-…"
  std::string user_id;
  std::string name;
  std::string prefix;
  int64_t expires_at_us = 0;
  std::string host_id;
  bool revoked = false;
};

class IdentityIndex {
 public:
  IdentityIndex() = default;
  ~IdentityIndex() { Stop(); }

  // Applies every identity event in the log, then keeps following.
  Status CatchUp(eventstore::EventStore& store);
  Status Follow(eventstore::EventStore& store);
  void Stop();

  // What a command just committed (stream id, its version after each event).
  void ObserveCustomer(const std::string& id, uint64_t version, const domain::CustomerEvent& e);
  void ObserveUser(const std::string& id, uint64_t version, const domain::UserEvent& e);
  void ObserveApiKey(const std::string& id, uint64_t version, const domain::ApiKeyEvent& e);
  void ObserveWorkspace(const std::string& id, uint64_t version, const domain::WorkspaceEvent& e);
  // The last `events` events a command appended to `stream_id` (its version
  // now `version`), read back from `store` and observed, so that the next
  // request sees them. A failed read is left to Follow.
  void ObserveCommit(eventstore::EventStore& store, const std::string& stream_id, uint64_t version,
                     size_t events);

  // The user as a caller: Unauthenticated when the user is gone or disabled
  // or its customer is disabled.
  Result<Principal> ForUser(const std::string& user_id) const;
  // The caller behind an access token's claims: Unauthenticated when the user
  // is gone or disabled, the session ended, or the customer is disabled.
  Result<Principal> ForSession(const std::string& user_id, const std::string& session_id) const;
  // The caller behind an API key: Unauthenticated for an unknown, revoked or
  // expired key, a secret that does not match, or a disabled user or customer.
  Result<Principal> ForApiKey(const std::string& key_id, const std::string& secret_digest,
                              UnixMicros now_us) const;

  std::optional<std::string> UserIdByName(const std::string& username) const;
  // Exists and is enabled.
  bool CustomerActive(const std::string& customer_id) const;
  bool CustomerExists(const std::string& customer_id) const;
  bool AnyAdmin() const;
  std::vector<ApiKeyInfo> ApiKeysOf(const std::string& user_id) const;
  // Every customer, by id.
  std::map<std::string, domain::CustomerState> Customers() const;
  std::optional<ApiKeyInfo> ApiKey(const std::string& key_id) const;

  // Workspaces ("workspace-…"): the state, or nullopt when there is none.
  std::optional<domain::WorkspaceState> Workspace(const std::string& workspace_id) const;
  // `user_id`'s role in the workspace; UNSPECIFIED when not a member.
  domain::WorkspaceRole RoleIn(const std::string& workspace_id, const std::string& user_id) const;
  // The workspaces `user_id` is a member of, or (empty user id) every
  // workspace of `customer_id`, or (both empty) every workspace; by id.
  std::map<std::string, domain::WorkspaceState> Workspaces(const std::string& user_id,
                                                           const std::string& customer_id) const;
  // The hosts with a live (not revoked, not expired at `now_us`) agent token.
  std::set<std::string> HostsWithAgents(UnixMicros now_us) const;
  // The user's username, or empty.
  std::string UsernameOf(const std::string& user_id) const;

 private:
  // A stream's folded state and the version it has reached.
  template <typename State>
  struct Versioned {
    uint64_t version = 0;
    State state;
  };
  using User = Versioned<domain::UserState>;
  using Customer = Versioned<domain::CustomerState>;
  using Key = Versioned<domain::ApiKeyState>;
  using WorkspaceEntry = Versioned<domain::WorkspaceState>;
  // Observe* by the stream's kind; Corruption for a payload that does not parse.
  Status Observe(const eventstore::RecordedEvent& event);
  // Observe, then the position reached (CatchUp and Follow).
  Status Apply(const eventstore::RecordedEvent& event);
  Result<Principal> PrincipalOf(const std::string& user_id) const;  // Needs mu_ (shared).

  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, User> users_;          // Guarded by mu_.
  std::unordered_map<std::string, std::string> names_;   // username -> user id; guarded by mu_.
  std::unordered_map<std::string, Customer> customers_;  // Guarded by mu_.
  std::unordered_map<std::string, Key> keys_;            // Guarded by mu_.
  std::unordered_map<std::string, WorkspaceEntry> workspaces_;  // Guarded by mu_.
  uint64_t position_ = 0;                                       // Guarded by mu_.

  std::unique_ptr<eventstore::LogFollower> follower_;
};

}  // namespace remotegpu::commands
