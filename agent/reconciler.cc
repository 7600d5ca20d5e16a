#include "agent/reconciler.h"

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace remotegpu::agent {
namespace {

// Where each service listens inside a container.
uint32_t ContainerPortOf(const std::string& service, uint32_t host_port) {
  if (service == "ssh") return 22;
  if (service == "jupyter") return 8888;
  if (service == "rdp") return 3389;
  return host_port;
}

}  // namespace

std::vector<ReconcileAction> PlanReconcile(const std::vector<DesiredEnvironment>& desired,
                                           const std::vector<WorkloadStatus>& actual) {
  std::map<std::string, const WorkloadStatus*> running;
  for (const auto& workload : actual) running[workload.env_id] = &workload;
  std::vector<ReconcileAction> plan;
  for (const auto& want : desired) {
    const std::string& id = want.spec.env_id;
    auto it = running.find(id);
    if (it == running.end()) {
      plan.push_back({ReconcileAction::kStart, id});
      continue;
    }
    const WorkloadStatus& have = *it->second;
    running.erase(it);
    if (!have.running) {
      plan.push_back({ReconcileAction::kReportEnded, id});
    } else if (have.generation < want.spec.generation) {
      plan.push_back({ReconcileAction::kRestart, id});
    } else if (want.status == "scheduled" || want.status == "starting") {
      plan.push_back({ReconcileAction::kReportRunning, id});
    }
  }
  for (const auto& [id, workload] : running) plan.push_back({ReconcileAction::kRemove, id});
  return plan;
}

Result<std::vector<DesiredEnvironment>> ParseDesired(const std::string& body) {
  auto json = nlohmann::json::parse(body, nullptr, false);
  if (!json.is_object() || !json["data"].is_object() || !json["data"]["environments"].is_array()) {
    return Status::InvalidArgument(
        "the server's desired environments are not {data: {environments: []}}");
  }
  std::vector<DesiredEnvironment> out;
  try {
    for (const auto& item : json["data"]["environments"]) {
      DesiredEnvironment want;
      WorkloadSpec& spec = want.spec;
      spec.env_id = item.at("env_id").get<std::string>();
      want.status = item.at("status").get<std::string>();
      spec.image = item.value("image", "");
      spec.command = item.value("command", std::vector<std::string>{});
      spec.env = item.value("env", std::map<std::string, std::string>{});
      spec.gpu_indexes = item.value("gpu_indexes", std::vector<uint32_t>{});
      spec.cpu_cores = item.value("cpu_cores", 0u);
      spec.memory_mb = item.value("memory_mb", uint64_t{0});
      spec.generation = item.value("generation", uint64_t{0});
      for (const auto& port : item.value("ports", nlohmann::json::array())) {
        const std::string service = port.at("service").get<std::string>();
        const uint32_t host_port = port.at("port").get<uint32_t>();
        spec.ports.push_back({service, host_port, ContainerPortOf(service, host_port)});
      }
      out.push_back(std::move(want));
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("a desired environment is malformed: ") + e.what());
  }
  return out;
}

Status Reconciler::Report(const HttpClient& server, const std::string& env_id,
                          const std::string& status, const std::string& reason) {
  const nlohmann::json body = {{"status", status}, {"reason", reason}};
  auto reply =
      server.Post("/internal/environments/" + PercentEncode(env_id) + "/status", body.dump());
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) {
    // The environment moved on meanwhile (deleted, stopped): nothing to redo.
    spdlog::warn("{} {}: the server said {}", env_id, status, ServerSays(*reply));
  } else {
    spdlog::info("{} {}{}", env_id, status, reason.empty() ? "" : ": " + reason);
  }
  return Status::Ok();
}

Status Reconciler::Sync(const HttpClient& server, const std::string& host_id,
                        std::chrono::milliseconds wait) {
  std::string target = "/internal/hosts/" + PercentEncode(host_id) + "/environments";
  if (wait.count() > 0 && applied_position_) {
    target += "?after=" + std::to_string(*applied_position_) +
              "&wait_ms=" + std::to_string(std::min<int64_t>(wait.count(), 9'000));
  }
  applied_position_.reset();  // Set again only once this round is done.
  auto reply = server.Get(target);
  if (!reply.ok()) return reply.status();
  if (reply->status == 404 || reply->status == 401) {
    return Status::NotFound("the server does not know " + host_id + ": " + ServerSays(*reply));
  }
  if (reply->status != 200)
    return Status::Unavailable("desired environments: " + ServerSays(*reply));
  auto desired = ParseDesired(reply->body);
  if (!desired.ok()) return desired.status();
  auto actual = runtime_->List();
  if (!actual.ok()) return actual.status();

  std::map<std::string, const DesiredEnvironment*> wanted;
  for (const auto& want : *desired) wanted[want.spec.env_id] = &want;
  std::map<std::string, WorkloadStatus> seen;
  for (const auto& workload : *actual) seen[workload.env_id] = workload;

  for (const auto& action : PlanReconcile(*desired, *actual)) {
    const std::string& id = action.env_id;
    switch (action.kind) {
      case ReconcileAction::kStart:
      case ReconcileAction::kRestart: {
        const DesiredEnvironment& want = *wanted.at(id);
        if (want.status == "scheduled") RGPU_RETURN_IF_ERROR(Report(server, id, "starting", ""));
        Status started = action.kind == ReconcileAction::kRestart ? runtime_->Restart(want.spec)
                                                                  : runtime_->Start(want.spec);
        if (!started.ok()) {
          RGPU_RETURN_IF_ERROR(Report(server, id, "failed", started.message()));
        } else if (want.status == "scheduled" || want.status == "starting") {
          RGPU_RETURN_IF_ERROR(
              Report(server, id, "running", "started by " + std::string(runtime_->name())));
        } else if (action.kind == ReconcileAction::kRestart) {
          spdlog::info("{} restarted", id);
        } else {
          spdlog::info("{} started again (the server had it {})", id, want.status);
        }
        break;
      }
      case ReconcileAction::kReportRunning:
        if (wanted.at(id)->status == "scheduled") {
          RGPU_RETURN_IF_ERROR(Report(server, id, "starting", ""));
        }
        RGPU_RETURN_IF_ERROR(
            Report(server, id, "running", "started by " + std::string(runtime_->name())));
        break;
      case ReconcileAction::kReportEnded: {
        const WorkloadStatus& ended = seen.at(id);
        RGPU_RETURN_IF_ERROR(
            Report(server, id, ended.exit_code == 0 ? "stopped" : "failed", ended.reason));
        RGPU_RETURN_IF_ERROR(runtime_->Remove(id));
        break;
      }
      case ReconcileAction::kRemove:
        spdlog::info("{} is no longer wanted here: removing it", id);
        RGPU_RETURN_IF_ERROR(runtime_->Remove(id));
        break;
    }
  }
  // A server without long-polls sends no position: every round then asks
  // without waiting, as a plain poll.
  auto body = nlohmann::json::parse(reply->body, nullptr, false);
  if (body.is_object() && body["data"].is_object() &&
      body["data"]["position"].is_number_unsigned()) {
    applied_position_ = body["data"]["position"].get<uint64_t>();
  }
  return Status::Ok();
}

}  // namespace remotegpu::agent
