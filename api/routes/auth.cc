#include "api/routes/auth.h"

#include "api/http/envelope.h"
#include "api/http/json_fields.h"
#include "api/routes/route_helpers.h"
#include "common/clock.h"
#include "domain/quota.h"

namespace remotegpu::api {
namespace {

using nlohmann::json;

// The credential a request carries, or empty.
std::string CredentialOf(const HttpRequest& request) {
  const std::string key = request.Header("x-api-key");
  if (!key.empty()) return key;
  const std::string authorization = request.Header("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() > kBearer.size() &&
      std::string_view(authorization).substr(0, kBearer.size()) == kBearer) {
    return authorization.substr(kBearer.size());
  }
  // A browser cannot set headers on a WebSocket: stream routes also take
  // the token as ?access_token= (never logged: logs carry the path only).
  if (request.method == "GET" && request.path.starts_with("/ws/")) {
    return request.Query("access_token");
  }
  return "";
}

Identity IdentityOf(const commands::Principal& p) {
  return {true,    p.user_id,    p.username,   p.customer_id,
          p.admin, p.session_id, p.api_key_id, p.host_id};
}

Result<commands::Principal> Authenticate(AuthApi& api, const std::string& credential) {
  if (credential.starts_with("rgk.")) return api.identity->AuthenticateApiKey(credential);
  auto claims = api.tokens->Verify(credential);
  if (!claims.ok()) return claims.status();
  return api.index->ForSession(claims->user_id, claims->session_id);
}

json UserJson(const Identity& who) {
  return {{"user_id", who.user_id},
          {"username", who.username},
          {"role", who.admin ? "admin" : "customer"},
          {"customer_id", who.customer_id.empty() ? json() : json(who.customer_id)}};
}

json TokensJson(AuthApi& api, const commands::Login& login) {
  return {{"token", api.tokens->Issue(login.principal.user_id, login.principal.session_id)},
          {"token_type", "Bearer"},
          {"expires_in", AccessTokens::kLifetimeSeconds},
          {"refresh_token", login.refresh_token},
          {"refresh_expires_at", FormatRfc3339(login.refresh_expires_at_us)},
          {"user", UserJson(IdentityOf(login.principal))}};
}

json ApiKeyJson(const commands::ApiKeyInfo& key) {
  return {{"id", key.key_id},
          {"name", key.name},
          {"prefix", key.prefix},
          {"expires_at", key.expires_at_us == 0 ? json() : json(FormatRfc3339(key.expires_at_us))},
          {"host_id", key.host_id.empty() ? json() : json(key.host_id)},
          {"revoked", key.revoked}};
}

}  // namespace

Middleware AuthMiddleware(AuthApi& api) {
  return [&api](HttpRequest& request, const RouteOptions& options) -> std::optional<HttpResponse> {
    const std::string credential = CredentialOf(request);
    if (options.access == Access::kPublic) return std::nullopt;
    if (credential.empty()) {
      return StatusResponse(
          request,
          Status::Unauthenticated("send Authorization: Bearer <token> (POST /api/auth/login) or "
                                  "X-Api-Key: <key>"));
    }
    auto principal = Authenticate(api, credential);
    if (!principal.ok()) return StatusResponse(request, principal.status());
    request.identity = IdentityOf(*principal);
    // An agent token speaks for its host only: agent routes, never its
    // creator's (an admin's) rights.
    const bool agent = !principal->host_id.empty();
    if (agent) request.identity.admin = false;
    if (options.access == Access::kAgent) {
      if (agent || principal->admin) return std::nullopt;
      return StatusResponse(request,
                            Status::PermissionDenied("only a host agent's token may do this"));
    }
    if (agent) {
      return StatusResponse(
          request,
          Status::PermissionDenied("an agent token may call only the agent routes (/internal/…)"));
    }
    if (options.access == Access::kAdmin && !principal->admin) {
      return StatusResponse(request, Status::PermissionDenied("only a platform admin may do this"));
    }
    return std::nullopt;
  };
}

Middleware InsecureNoAuthMiddleware(commands::IdentityIndex& index) {
  return
      [&index](HttpRequest& request, const RouteOptions& options) -> std::optional<HttpResponse> {
        if (options.access == Access::kPublic) return std::nullopt;
        auto admin = index.ForUser(index.UserIdByName("admin").value_or(""));
        if (!admin.ok()) return StatusResponse(request, admin.status());
        request.identity = IdentityOf(*admin);
        return std::nullopt;
      };
}

void AddAuthRoutes(Router& router, AuthApi& api) {
  router.Add("POST", "/api/auth/login",
             "Log in: {username, password} -> access token (15 min), refresh token, user",
             [&api](const HttpRequest& request) {
               std::string username, password;
               if (auto bad = ReadBody(request, [&](JsonFields& f) {
                     Status s = f.OnlyAllowed({"username", "password"});
                     if (s.ok()) s = f.String("username", &username, true);
                     if (s.ok()) s = f.String("password", &password, true);
                     return s;
                   })) {
                 return *bad;
               }
               auto login = api.identity->LogIn(username, password, MetaFor(request));
               if (!login.ok()) return StatusResponse(request, login.status());
               return OkResponse(request, TokensJson(api, *login));
             },
             {.access = Access::kPublic});

  router.Add("POST", "/api/auth/refresh",
             "Exchange a refresh token for new tokens: {refresh_token}; the old one stops working",
             [&api](const HttpRequest& request) {
               std::string token;
               if (auto bad = ReadBody(request, [&](JsonFields& f) {
                     Status s = f.OnlyAllowed({"refresh_token"});
                     if (s.ok()) s = f.String("refresh_token", &token, true);
                     return s;
                   })) {
                 return *bad;
               }
               auto login = api.identity->Refresh(token, MetaFor(request));
               if (!login.ok()) return StatusResponse(request, login.status());
               return OkResponse(request, TokensJson(api, *login));
             },
             {.access = Access::kPublic});

  router.Add("POST", "/api/auth/logout", "End this login session (its tokens stop working at once)",
             [&api](const HttpRequest& request) {
               const Identity& who = request.identity;
               if (who.session_id.empty()) {
                 return StatusResponse(
                     request,
                     Status::InvalidArgument("an API key has no session; delete the key instead"));
               }
               Status ended = api.identity->LogOut(who.user_id, who.session_id, MetaFor(request));
               if (!ended.ok()) return StatusResponse(request, ended);
               return OkResponse(request, {{"status", "success"}});
             },
             {.access = Access::kUser});

  router.Add("GET", "/api/users/me", "The caller: user id, name, role and customer",
             [](const HttpRequest& request) {
               json data = UserJson(request.identity);
               data["credential"] = request.identity.api_key_id.empty() ? "token" : "api_key";
               return OkResponse(request, data);
             },
             {.access = Access::kUser, .never_blocks = true});

  router.Add("PUT", "/api/users/me/password",
             "Change the caller's password: {current_password, new_password}; ends every session",
             [&api](const HttpRequest& request) {
               std::string current, replacement;
               if (auto bad = ReadBody(request, [&](JsonFields& f) {
                     Status s = f.OnlyAllowed({"current_password", "new_password"});
                     if (s.ok()) s = f.String("current_password", &current, true);
                     if (s.ok()) s = f.String("new_password", &replacement, true);
                     return s;
                   })) {
                 return *bad;
               }
               auto changed = api.identity->ChangePassword(request.identity.user_id, current,
                                                           replacement, false, MetaFor(request));
               if (!changed.ok()) return StatusResponse(request, changed.status());
               return OkResponse(request, {{"position", changed->last_position}});
             },
             {.access = Access::kUser});

  router.Add(
      "POST", "/api/auth/api-keys",
      "Create an API key acting as the caller: {name, expires_in (seconds)}; the key is shown "
      "once",
      [&api](const HttpRequest& request) {
        std::string name;
        int64_t expires_in = 0;
        if (auto bad = ReadBody(request, [&](JsonFields& f) {
              Status s = f.OnlyAllowed({"name", "expires_in"});
              if (s.ok()) s = f.String("name", &name, true);
              if (s.ok()) s = f.Integer("expires_in", &expires_in, 60, int64_t{10} * 365 * 86400);
              return s;
            })) {
          return *bad;
        }
        const UnixMicros expires =
            expires_in == 0 ? 0 : SystemClock::Instance().NowMicros() + expires_in * 1'000'000;
        auto issued = api.identity->CreateApiKey(request.identity.user_id, name, expires, "",
                                                 MetaFor(request));
        if (!issued.ok()) return StatusResponse(request, issued.status());
        json data = ApiKeyJson(issued->info);
        data["key"] = issued->key;
        data["position"] = issued->position;
        return OkResponse(request, data, 201);
      },
      {.access = Access::kUser});

  router.Add("POST", "/api/admin/hosts/:id/agent-tokens",
             "Create a token for the host's agent: {name, expires_in (seconds)}; it may call only "
             "the agent routes, for this host; shown once",
             [&api](const HttpRequest& request) {
               const std::string& host_id = request.params.at("id");
               std::string name;
               int64_t expires_in = 0;
               if (auto bad = ReadBody(request, [&](JsonFields& f) {
                     RGPU_RETURN_IF_ERROR(f.OnlyAllowed({"name", "expires_in"}));
                     RGPU_RETURN_IF_ERROR(f.String("name", &name, true));
                     return f.Integer("expires_in", &expires_in, 60, int64_t{10} * 365 * 86400);
                   })) {
                 return *bad;
               }
               if (!api.host_exists || !api.host_exists(host_id)) {
                 return StatusResponse(request, Status::NotFound("no host " + host_id));
               }
               const UnixMicros expires =
                   expires_in == 0 ? 0
                                   : SystemClock::Instance().NowMicros() + expires_in * 1'000'000;
               auto issued = api.identity->CreateApiKey(request.identity.user_id, name, expires,
                                                        host_id, MetaFor(request));
               if (!issued.ok()) return StatusResponse(request, issued.status());
               json data = ApiKeyJson(issued->info);
               data["key"] = issued->key;
               data["position"] = issued->position;
               return OkResponse(request, data, 201);
             });

  router.Add("GET", "/api/auth/api-keys", "The caller's API keys (never their secrets)",
             [&api](const HttpRequest& request) {
               json list = json::array();
               for (const auto& key : api.index->ApiKeysOf(request.identity.user_id)) {
                 list.push_back(ApiKeyJson(key));
               }
               return OkResponse(request, {{"list", list}, {"total", list.size()}});
             },
             {.access = Access::kUser, .never_blocks = true});

  router.Add(
      "DELETE", "/api/auth/api-keys/:id", "Delete (revoke) one of the caller's API keys",
      [&api](const HttpRequest& request) {
        const std::string& id = request.params.at("id");
        auto key = api.index->ApiKey(id);
        // Another user's key is as absent as a key that never was.
        if (!key || (key->user_id != request.identity.user_id && !request.identity.admin)) {
          return StatusResponse(request, Status::NotFound("no API key " + id));
        }
        auto revoked = api.identity->RevokeApiKey(id, "deleted", MetaFor(request));
        if (!revoked.ok()) return StatusResponse(request, revoked.status());
        return OkResponse(request, {{"status", "deleted"}, {"position", revoked->last_position}});
      },
      {.access = Access::kUser});

  router.Add("POST", "/api/admin/customers",
             "Create a customer (tenant): {name, company, contact, email, phone, quota_level "
             "(free|basic|pro|enterprise; default free)}",
             [&api](const HttpRequest& request) {
               domain::CreateCustomer form;
               domain::QuotaLevel level = domain::QUOTA_FREE;
               if (auto bad = ReadBody(request, [&](JsonFields& f) {
                     RGPU_RETURN_IF_ERROR(f.OnlyAllowed(
                         {"name", "company", "contact", "email", "phone", "quota_level"}));
                     RGPU_RETURN_IF_ERROR(f.String("name", form.mutable_name(), true));
                     RGPU_RETURN_IF_ERROR(f.String("company", form.mutable_company()));
                     RGPU_RETURN_IF_ERROR(f.String("contact", form.mutable_contact()));
                     RGPU_RETURN_IF_ERROR(f.String("email", form.mutable_email()));
                     RGPU_RETURN_IF_ERROR(f.String("phone", form.mutable_phone()));
                     std::string name = domain::Name(level);
                     RGPU_RETURN_IF_ERROR(f.String("quota_level", &name));
                     auto parsed = domain::ParseQuotaLevel(name);
                     if (!parsed.ok()) return parsed.status();
                     level = *parsed;
                     return Status::Ok();
                   })) {
                 return *bad;
               }
               std::string id;
               auto created = api.identity->CreateCustomer(form, level, MetaFor(request), &id);
               if (!created.ok()) return StatusResponse(request, created.status());
               return OkResponse(request,
                                 {{"customer_id", id}, {"position", created->last_position}}, 201);
             });

  router.Add("GET", "/api/admin/customers", "Every customer with its status",
             [&api](const HttpRequest& request) {
               json list = json::array();
               for (const auto& [id, customer] : api.index->Customers()) {
                 list.push_back({{"customer_id", id},
                                 {"name", customer.info.name()},
                                 {"company", customer.info.company()},
                                 {"contact", customer.info.contact()},
                                 {"email", customer.info.email()},
                                 {"phone", customer.info.phone()},
                                 {"status", customer.enabled ? "enabled" : "disabled"}});
               }
               return OkResponse(request, {{"list", list}, {"total", list.size()}});
             },
             {.never_blocks = true});

  router.Add("PUT", "/api/admin/customers/:id/status",
             "Enable or disable a customer: {enabled, reason}; disabling stops its logins and keys",
             [&api](const HttpRequest& request) {
               bool enabled = true;
               std::string reason;
               if (auto bad = ReadBody(request, [&](JsonFields& f) {
                     Status s = f.OnlyAllowed({"enabled", "reason"});
                     if (s.ok() && !f.Has("enabled"))
                       s = Status::InvalidArgument("enabled is required");
                     if (s.ok()) s = f.Boolean("enabled", &enabled);
                     if (s.ok()) s = f.String("reason", &reason);
                     return s;
                   })) {
                 return *bad;
               }
               auto changed = api.identity->SetCustomerEnabled(request.params.at("id"), enabled,
                                                               reason, MetaFor(request));
               if (!changed.ok()) return StatusResponse(request, changed.status());
               return OkResponse(request, {{"customer_id", request.params.at("id")},
                                           {"status", enabled ? "enabled" : "disabled"},
                                           {"position", changed->last_position}});
             });

  router.Add(
      "POST", "/api/admin/users",
      "Create a user: {username, password, role (admin|customer), customer_id, email, "
      "display_name}",
      [&api](const HttpRequest& request) {
        commands::NewUser form;
        if (auto bad = ReadBody(request, [&](JsonFields& f) {
              Status s = f.OnlyAllowed(
                  {"username", "password", "role", "customer_id", "email", "display_name"});
              std::string role = "customer";
              if (s.ok()) s = f.String("username", &form.username, true);
              if (s.ok()) s = f.String("password", &form.password, true);
              if (s.ok()) s = f.String("role", &role);
              if (s.ok()) s = f.String("customer_id", &form.customer_id);
              if (s.ok()) s = f.String("email", &form.email);
              if (s.ok()) s = f.String("display_name", &form.display_name);
              if (s.ok() && role != "admin" && role != "customer") {
                s = Status::InvalidArgument("role must be admin or customer");
              }
              form.role = role == "admin" ? domain::ROLE_ADMIN : domain::ROLE_CUSTOMER;
              return s;
            })) {
          return *bad;
        }
        std::string id;
        auto created = api.identity->CreateUser(form, MetaFor(request), &id);
        if (!created.ok()) return StatusResponse(request, created.status());
        return OkResponse(request, {{"user_id", id}, {"position", created->last_position}}, 201);
      });

  router.Add("POST", "/api/auth/password-reset",
             "Send a one-time reset code to a user: {username}; the same 202 whether or not "
             "the user exists",
             [&api](const HttpRequest& request) {
               std::string username;
               if (auto bad = ReadBody(request, [&](JsonFields& f) {
                     RGPU_RETURN_IF_ERROR(f.OnlyAllowed({"username"}));
                     return f.String("username", &username, true);
                   })) {
                 return *bad;
               }
               Status sent = api.identity->RequestPasswordReset(username, MetaFor(request));
               if (!sent.ok()) return StatusResponse(request, sent);
               return OkResponse(request,
                                 {{"status", "if the user exists, a code is on its way"},
                                  {"expires_in", commands::kResetCodeLifetimeUs / 1'000'000}},
                                 202);
             },
             {.access = Access::kPublic});

  router.Add("POST", "/api/auth/password-reset/confirm",
             "Set a new password with the code: {username, code, password}; every session "
             "ends (log in again)",
             [&api](const HttpRequest& request) {
               std::string username, code, password;
               if (auto bad = ReadBody(request, [&](JsonFields& f) {
                     RGPU_RETURN_IF_ERROR(f.OnlyAllowed({"username", "code", "password"}));
                     RGPU_RETURN_IF_ERROR(f.String("username", &username, true));
                     RGPU_RETURN_IF_ERROR(f.String("code", &code, true));
                     return f.String("password", &password, true);
                   })) {
                 return *bad;
               }
               Status reset =
                   api.identity->ResetPassword(username, code, password, MetaFor(request));
               if (!reset.ok()) return StatusResponse(request, reset);
               return OkResponse(request, {{"status", "password changed; log in again"}});
             },
             {.access = Access::kPublic});

  router.Add("GET", "/api/admin/notifications",
             "The notification outbox, newest first; filters user_id, limit (at most 500)",
             [&api](const HttpRequest& request) {
               if (api.outbox == nullptr) {
                 // Not configured here: retrying will not help (no Retry-After).
                 return ErrorResponse(request, 501, "NOT_IMPLEMENTED",
                                      "this server has no notification outbox");
               }
               int limit = 100;
               try {
                 limit = std::stoi(request.Query("limit", "100"));
               } catch (const std::exception&) {
                 limit = -1;
               }
               if (limit < 1 || limit > 500) {
                 return StatusResponse(request,
                                       Status::InvalidArgument("limit must be between 1 and 500"));
               }
               auto list = api.outbox->List(request.Query("user_id"), limit);
               if (!list.ok()) return StatusResponse(request, list.status());
               return OkResponse(request, {{"list", *list}, {"total", list->size()}});
             },
             {.access = Access::kAdmin,
              .query = {{"user_id", "one user only"}, {"limit", "at most 500"}}});

  router.Add("POST", "/api/admin/auth/rotate-signing-key",
             "Start signing access tokens with a new key; tokens signed before stay valid",
             [&api](const HttpRequest& request) {
               auto rotated = api.tokens->Rotate();
               if (!rotated.ok()) return StatusResponse(request, rotated.status());
               return OkResponse(request, {{"key_id", *rotated}});
             });
}

}  // namespace remotegpu::api
