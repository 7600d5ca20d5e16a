#include "api/routes/agent_routes.h"

#include <limits>

#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>

#include "api/app/host_signals.h"
#include "api/app/metrics_feed.h"
#include "api/routes/route_helpers.h"
#include "domain/environment.h"
#include "domain/stream_id.h"

namespace remotegpu::api {
namespace {

// The 404 an agent gets for a host its token does not name.
std::optional<HttpResponse> NotItsHost(const HttpRequest& request) {
  const std::string& host_id = request.params.at("id");
  if (request.identity.host_id.empty() || request.identity.host_id == host_id) return std::nullopt;
  return StatusResponse(request, Status::NotFound("no host " + host_id + " for this agent"));
}

// The longest a desired-state poll may wait (below the agents' 10 s HTTP
// timeout, so that an idle poll is answered, not abandoned).
constexpr uint64_t kMaxPollWaitMs = 9'000;

// A whole number of at most `max` in query parameter `name`; `fallback`
// when absent.
Result<uint64_t> Whole(const HttpRequest& request, const std::string& name, uint64_t fallback,
                       uint64_t max) {
  const std::string text = request.Query(name);
  if (text.empty()) return fallback;
  if (text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos ||
      std::stoull(text) > max) {
    return Status::InvalidArgument(name + " must be a whole number up to " + std::to_string(max));
  }
  return std::stoull(text);
}

// What the host's agent should run: its environments that are placed there
// and not stopping, with everything a runtime needs, and `position`: the
// log position of the last change to them this answer includes. With
// ?after=P&wait_ms=W, a request finding nothing changed past P is parked on
// the host's signal for up to W ms first.
HttpResponse DesiredEnvironments(const HttpRequest& request, AgentApi& api) {
  const std::string& host_id = request.params.at("id");
  auto after = Whole(request, "after", 0, std::numeric_limits<int64_t>::max());
  if (!after.ok()) return StatusResponse(request, after.status());
  auto wait_ms = Whole(request, "wait_ms", 0, kMaxPollWaitMs);
  if (!wait_ms.ok()) return StatusResponse(request, wait_ms.status());
  if (auto known = api.index->HostState(host_id); !known || !known->registered) {
    return StatusResponse(request, Status::NotFound("no host " + host_id));
  }
  uint64_t position = 0;
  if (api.signals != nullptr) {
    ProgressSignal& signal = api.signals->For(host_id);
    position = signal.reached();  // Read before the state below: an answer is never older.
    if (position <= *after && *wait_ms > 0 && !request.resumed) {
      HttpResponse parked;
      parked.park = HttpResponse::Park{&signal, *after + 1, std::chrono::milliseconds(*wait_ms)};
      return parked;
    }
  }
  auto host = api.index->HostState(host_id);
  if (!host) return StatusResponse(request, Status::NotFound("no host " + host_id));
  nlohmann::json environments = nlohmann::json::array();
  for (const auto& [allocation_id, allocation] : host->allocations) {
    if (!domain::IsKind(allocation.holder, domain::StreamKind::kEnvironment)) continue;
    auto env = api.environments->StateOf(allocation.holder);
    if (!env.ok()) {
      if (env.status().code() == StatusCode::kNotFound) continue;
      return RefusedResponse(request, env.status());
    }
    const auto status = env->status;
    if (!env->placed || env->placement.host_id() != host_id ||
        (status != domain::SCHEDULED && status != domain::STARTING && status != domain::RUNNING &&
         status != domain::RESTARTING)) {
      continue;
    }
    const domain::EnvironmentSpec& spec = env->spec;
    nlohmann::json variables = nlohmann::json::object();
    for (const auto& var : spec.env()) variables[var.name()] = var.value();
    nlohmann::json ports = nlohmann::json::array();
    for (const auto& port : env->placement.ports()) {
      std::string service = domain::Name(port.service());
      for (char& c : service) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      ports.push_back({{"service", service}, {"port", port.port()}});
    }
    environments.push_back(
        {{"env_id", allocation.holder},
         {"status", domain::Name(status)},
         {"image", spec.image()},
         {"command", std::vector<std::string>(spec.command().begin(), spec.command().end())},
         {"env", variables},
         {"gpu_indexes", std::vector<uint32_t>(env->placement.gpu_indexes().begin(),
                                               env->placement.gpu_indexes().end())},
         {"ports", ports},
         {"cpu_cores", spec.cpu_cores()},
         {"memory_mb", spec.memory_mb()},
         {"generation", env->restarts}});
  }
  return OkResponse(request,
                    {{"host_id", host_id}, {"environments", environments}, {"position", position}});
}

HttpResponse IngestMetrics(const HttpRequest& request, AgentApi& api) {
  const std::string& host_id = request.params.at("id");
  domain::MetricsBatch batch;
  auto parsed = google::protobuf::util::JsonStringToMessage(request.body, &batch);
  if (!parsed.ok()) {
    return StatusResponse(
        request, Status::InvalidArgument("not a metrics batch: " + std::string(parsed.message())));
  }
  if (batch.samples_size() > kMaxSamplesPerPost) {
    return StatusResponse(request,
                          Status::InvalidArgument("at most " + std::to_string(kMaxSamplesPerPost) +
                                                  " samples per post"));
  }
  auto host = api.index->HostState(host_id);
  if (!host || !host->registered) {
    return StatusResponse(request, Status::NotFound("no host " + host_id));
  }
  // Ranges at the edge: storage never sees a value it cannot hold.
  if (Status valid = domain::ValidateMetricsBatch(batch, *host); !valid.ok()) {
    return StatusResponse(request, valid);
  }
  auto accepted = api.metrics->Enqueue(host_id, batch, api.clock->NowMicros());
  if (!accepted.ok()) {
    HttpResponse busy = StatusResponse(request, Status::Unavailable(accepted.status().message()));
    busy.headers["Retry-After"] = "5";
    return busy;
  }
  if (api.live != nullptr) api.live->Publish(host_id, batch);
  bool reported = false;
  if (batch.samples_size() > 0) {
    // The newest sample speaks for the host's health now.
    const auto newest = std::max_element(
        batch.samples().begin(), batch.samples().end(),
        [](const auto& a, const auto& b) { return a.collected_at_us() < b.collected_at_us(); });
    // The samples are taken either way: an error here must not make the
    // agent send them again.
    auto observed = api.health->Observe(host_id, *newest, MetaFor(request));
    if (observed.ok()) {
      reported = *observed;
    } else {
      spdlog::warn("health of {}: {}", host_id, observed.status().ToString());
    }
  }
  return OkResponse(request, {{"host_id", host_id},
                              {"samples", accepted->samples},
                              {"gpu_samples", accepted->gpu_rows},
                              {"refused", accepted->refused},
                              {"health_reported", reported}});
}

}  // namespace

void AddAgentRoutes(Router& router, AgentApi& api) {
  router.Add("GET", "/internal/agent/me", "The host an agent token speaks for: {host_id}",
             [](const HttpRequest& request) {
               if (request.identity.host_id.empty()) {
                 return StatusResponse(request, Status::InvalidArgument("not an agent token"));
               }
               return OkResponse(request, {{"host_id", request.identity.host_id}});
             },
             {.access = Access::kAgent, .never_blocks = true});

  router.Add(
      "POST", "/internal/hosts/:id/facts",
      "An agent's report: the machine's facts and GPUs (AgentReport as JSON); changes become "
      "events",
      [&api](const HttpRequest& request) {
        if (auto refused = NotItsHost(request)) return *refused;
        domain::AgentReport report;
        auto parsed = google::protobuf::util::JsonStringToMessage(request.body, &report);
        if (!parsed.ok()) {
          return StatusResponse(request, Status::InvalidArgument("not an agent report: " +
                                                                 std::string(parsed.message())));
        }
        auto applied =
            api.hosts->ApplyAgentReport(request.params.at("id"), report, MetaFor(request));
        if (!applied.ok()) return RefusedResponse(request, applied.status());
        return OkResponse(request, {{"host_id", request.params.at("id")},
                                    {"changed", applied->events > 0},
                                    {"position", applied->last_position}});
      },
      {.access = Access::kAgent});

  router.Add("POST", "/internal/hosts/:id/heartbeat",
             "An agent's heartbeat: the host is alive (online again if it was offline)",
             [&api](const HttpRequest& request) {
               if (auto refused = NotItsHost(request)) return *refused;
               auto beat = api.liveness->Heartbeat(request.params.at("id"), MetaFor(request));
               if (!beat.ok()) return RefusedResponse(request, beat.status());
               return OkResponse(request, {{"host_id", request.params.at("id")},
                                           {"position", beat->last_position}});
             },
             {.access = Access::kAgent});

  router.Add("POST", "/internal/hosts/:id/metrics",
             "An agent's metrics samples (MetricsBatch as JSON); stored as telemetry, judged for "
             "health",
             [&api](const HttpRequest& request) {
               if (auto refused = NotItsHost(request)) return *refused;
               return IngestMetrics(request, api);
             },
             {.access = Access::kAgent});

  router.Add(
      "GET", "/internal/hosts/:id/environments",
      "What the host's agent should run: its placed environments that are not stopping; a "
      "long-poll with after and wait_ms",
      [&api](const HttpRequest& request) {
        if (auto refused = NotItsHost(request)) return *refused;
        return DesiredEnvironments(request, api);
      },
      {.access = Access::kAgent,
       .query = {{"after", "the position of the answer the agent has: wait for a later change"},
                 {"wait_ms", "how long to wait for one, at most 9000 (0: answer at once)"}}});
}

}  // namespace remotegpu::api
