#include "api/http/envelope.h"
#include "api/http/json_fields.h"
#include "api/routes/cmdb_routes.h"
#include "api/routes/route_helpers.h"

namespace remotegpu::api {
namespace {

// A projection further behind than this is not ready to answer queries.
constexpr uint64_t kReadyLag = 10'000;

// The relay's state for /readyz. It does not decide readiness: commands and
// queries work while Kafka is away, and the relay catches up afterwards.
nlohmann::json RelayJson(const eventstore::KafkaRelay& relay) {
  const eventstore::KafkaRelayStats s = relay.stats();
  return {{"topic", relay.topic()},
          {"delivered_position", s.checkpoint},
          {"lag_events", s.lag_events},
          {"lag_seconds", s.lag_seconds},
          {"broker_reachable", s.broker_reachable},
          {"last_error", s.last_error}};
}

std::string RelayMetrics(const eventstore::KafkaRelay& relay) {
  const eventstore::KafkaRelayStats s = relay.stats();
  std::string text;
  auto metric = [&text](const char* name, const char* type, const char* help, auto value) {
    text += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
            name + " " + std::to_string(value) + "\n";
  };
  metric("remotegpu_kafka_relay_position", "gauge",
         "Every event up to this log position is delivered to Kafka.", s.checkpoint);
  metric("remotegpu_kafka_relay_lag_events", "gauge", "Events committed, not yet delivered.",
         s.lag_events);
  metric("remotegpu_kafka_relay_lag_seconds", "gauge",
         "Age of the oldest event not yet delivered (0 when caught up).", s.lag_seconds);
  metric("remotegpu_kafka_relay_delivered_total", "counter", "Delivery reports that succeeded.",
         s.delivered);
  metric("remotegpu_kafka_relay_failed_total", "counter", "Delivery reports that failed.",
         s.failed);
  metric("remotegpu_kafka_relay_restarts_total", "counter",
         "Times the relay started over from its checkpoint.", s.restarts);
  metric("remotegpu_kafka_relay_broker_reachable", "gauge",
         "1 once a delivery succeeded since the last connection error.",
         s.broker_reachable ? 1 : 0);
  return text;
}

// One projection's progress and, while it is stuck, where; `with_error`
// adds PostgreSQL's words (admins only: they may quote rows).
nlohmann::json ProjectionJson(const projections::ProjectionRunner& runner, bool with_error) {
  nlohmann::json out = {
      {"position", runner.checkpoint()}, {"lag", runner.lag()}, {"failing", runner.failing()}};
  if (runner.failing()) {
    const auto failure = runner.failure();
    out["failed_from"] = failure.from;
    out["failed_to"] = failure.to;
    out["failed_attempts"] = failure.attempts;
    if (with_error) out["error"] = failure.error;
  }
  return out;
}

}  // namespace

void AddHealthRoutes(Router& router, ApiContext& context) {
  router.Add("GET", "/healthz", "Liveness: the process answers",
             [](const HttpRequest& request) {
               return OkResponse(request, {{"status", "ok"}});
             },
             {.access = Access::kPublic, .never_blocks = true});

  router.Add("GET", "/readyz", "Readiness: projections healthy and within lag",
             [&context](const HttpRequest& request) {
               nlohmann::json projections = nlohmann::json::object();
               bool ready = true;
               for (const auto* runner : context.projections) {
                 const bool fine = !runner->failing() && runner->lag() <= kReadyLag;
                 ready &= fine;
                 projections[runner->name()] = ProjectionJson(*runner, false);
                 projections[runner->name()]["ready"] = fine;
               }
               nlohmann::json data = {{"ready", ready},
                                      {"log_position", context.store->LastPosition()},
                                      {"projections", projections}};
               if (context.relay != nullptr) data["kafka_relay"] = RelayJson(*context.relay);
               if (ready) return OkResponse(request, data);
               // Which projection and where, for a probe or a person; the
               // error itself (it may quote rows) only on the admin route.
               std::string stuck;
               for (const auto* runner : context.projections) {
                 if (!runner->failing()) continue;
                 const auto failure = runner->failure();
                 stuck += (stuck.empty() ? "" : "; ") + runner->name() +
                          " cannot apply an event in positions " + std::to_string(failure.from) +
                          ".." + std::to_string(failure.to);
               }
               return ErrorResponse(
                   request, 503, "NOT_READY",
                   stuck.empty()
                       ? "a projection is more than " + std::to_string(kReadyLag) + " events behind"
                       : stuck +
                             "; see GET /api/admin/projections and the README's "
                             "runbook for a stuck projection",
                   data);
             },
             {.access = Access::kPublic, .never_blocks = true});

  router.Add("GET", "/api/admin/projections",
             "Each projection's position, lag and health, and the last read-model rebuild",
             [&context](const HttpRequest& request) {
               nlohmann::json list = nlohmann::json::array();
               for (const auto* runner : context.projections) {
                 nlohmann::json entry = ProjectionJson(*runner, true);
                 entry["name"] = runner->name();
                 list.push_back(std::move(entry));
               }
               return OkResponse(
                   request, {{"projections", list},
                             {"log_position", context.store->LastPosition()},
                             {"rebuild", context.rebuild != nullptr ? context.rebuild->Describe()
                                                                    : nlohmann::json()}});
             },
             {.never_blocks = true});

  router.Add("POST", "/api/admin/projections/rebuild",
             "Replay the log into fresh read models and swap them in; queries keep answering: "
             "{projections: [cmdb|environments|leases|billing]} (absent: all)",
             [&context](const HttpRequest& request) {
               if (context.rebuild == nullptr) {
                 // Not configured here: retrying will not help (no Retry-After).
                 return ErrorResponse(request, 501, "NOT_IMPLEMENTED",
                                      "rebuilds are not enabled on this server");
               }
               std::vector<std::string> projections;
               if (!request.body.empty()) {
                 auto body = ParseJsonObject(request);
                 if (!body.ok()) return StatusResponse(request, body.status());
                 JsonFields f(*body);
                 Status read = f.OnlyAllowed({"projections"});
                 if (read.ok()) read = f.StringList("projections", &projections);
                 if (!read.ok()) return StatusResponse(request, read);
               }
               Status started = context.rebuild->Start(MetaFor(request).actor.id, projections);
               if (!started.ok()) return StatusResponse(request, started);
               return OkResponse(request, context.rebuild->Describe(), 202);
             });

  router.Add(
      "GET", "/metrics", "Prometheus metrics (text format)",
      [&context](const HttpRequest&) {
        std::string text;
        text += "# HELP remotegpu_log_position Global position of the last committed event.\n";
        text += "# TYPE remotegpu_log_position gauge\n";
        text += "remotegpu_log_position " + std::to_string(context.store->LastPosition()) + "\n";
        text += "# HELP remotegpu_projection_position Last position applied to a read model.\n";
        text += "# TYPE remotegpu_projection_position gauge\n";
        for (const auto* runner : context.projections) {
          text += "remotegpu_projection_position{projection=\"" + runner->name() + "\"} " +
                  std::to_string(runner->checkpoint()) + "\n";
        }
        text += "# HELP remotegpu_projection_lag Events committed but not yet projected.\n";
        text += "# TYPE remotegpu_projection_lag gauge\n";
        for (const auto* runner : context.projections) {
          text += "remotegpu_projection_lag{projection=\"" + runner->name() + "\"} " +
                  std::to_string(runner->lag()) + "\n";
        }
        text += "# HELP remotegpu_projection_failing 1 while a projection cannot apply an event.\n";
        text += "# TYPE remotegpu_projection_failing gauge\n";
        for (const auto* runner : context.projections) {
          text += "remotegpu_projection_failing{projection=\"" + runner->name() + "\"} " +
                  (runner->failing() ? "1" : "0") + "\n";
        }
        text +=
            "# HELP remotegpu_projection_failed_position First position of the batch a failing "
            "projection cannot apply (0: none).\n";
        text += "# TYPE remotegpu_projection_failed_position gauge\n";
        for (const auto* runner : context.projections) {
          text += "remotegpu_projection_failed_position{projection=\"" + runner->name() + "\"} " +
                  std::to_string(runner->failure().from) + "\n";
        }
        if (context.store_metrics) text += context.store_metrics();
        if (context.relay != nullptr) text += RelayMetrics(*context.relay);
        if (context.requests != nullptr) text += context.requests->Prometheus();
        return HttpResponse{200, "text/plain; version=0.0.4", text, {}};
      },
      {.access = Access::kPublic, .never_blocks = true});
}

}  // namespace remotegpu::api
