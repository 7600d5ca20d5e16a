#include "agent/agent.h"

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "agent/host_facts.h"

namespace remotegpu::agent {
namespace {

constexpr std::chrono::milliseconds kFirstBackoff{1000};
constexpr std::chrono::milliseconds kMaxBackoff{60'000};

// The server's error message from an envelope, or the raw body.
std::string Why(const HttpReply& reply) {
  auto body = nlohmann::json::parse(reply.body, nullptr, false);
  if (body.is_object() && body.contains("message") && body["message"].is_string()) {
    return std::to_string(reply.status) + " " + body["message"].get<std::string>();
  }
  return std::to_string(reply.status) + " " + reply.body.substr(0, 200);
}

}  // namespace

void Agent::Stop() {
  std::lock_guard lock(mu_);
  stop_ = true;
  wake_.notify_all();
}

bool Agent::Sleep(std::chrono::milliseconds delay) {
  std::unique_lock lock(mu_);
  return !wake_.wait_for(lock, delay, [this] { return stop_; });
}

int Agent::Run() {
  std::chrono::milliseconds backoff = kFirstBackoff;
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stop_) break;
    }
    if (Step()) {
      backoff = kFirstBackoff;
      if (!Sleep(options_.heartbeat_interval)) break;
      continue;
    }
    // Full jitter: anywhere up to the back-off, so many agents do not retry in step.
    std::uniform_int_distribution<int64_t> pick(backoff.count() / 2, backoff.count());
    if (!Sleep(std::chrono::milliseconds(pick(jitter_)))) break;
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
  spdlog::info("agent stopped");
  return 0;
}

bool Agent::Step() {
  if (host_id_.empty() && !LearnHost()) return false;
  if (std::chrono::steady_clock::now() >= facts_due_ && !ReportFacts()) return false;
  return Heartbeat();
}

bool Agent::LearnHost() {
  auto reply = client_.Get("/internal/agent/me");
  if (!reply.ok()) {
    spdlog::warn("server unreachable: {}", reply.status().message());
    return false;
  }
  auto body = nlohmann::json::parse(reply->body, nullptr, false);
  if (reply->status != 200 || !body.is_object() || !body["data"]["host_id"].is_string()) {
    spdlog::error("the server refused the agent token: {}", Why(*reply));
    return false;
  }
  host_id_ = body["data"]["host_id"].get<std::string>();
  facts_due_ = {};
  spdlog::info("speaking for {}", host_id_);
  return true;
}

bool Agent::ReportFacts() {
  domain::AgentReport report = ReadHostFacts(options_.root);
  GpuReport gpus = DiscoverGpus(options_.gpus);
  for (auto& gpu : gpus.gpus) *report.add_gpus() = std::move(gpu);
  report.set_gpu_source(gpus.source);
  report.set_gpu_note(gpus.note);
  report.set_driver_version(gpus.driver_version);
  report.set_agent_version("0.1.0");
  if (!gpus.note.empty()) spdlog::info("GPU discovery: {}", gpus.note);
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(report, &json).ok()) return false;
  auto reply = client_.Post("/internal/hosts/" + host_id_ + "/facts", json);
  if (!reply.ok()) {
    spdlog::warn("reporting facts: {}", reply.status().message());
    return false;
  }
  if (reply->status != 200) {
    spdlog::error("the server refused the facts: {}", Why(*reply));
    if (reply->status == 404 || reply->status == 401) host_id_.clear();
    return false;
  }
  spdlog::info("reported {} with {} GPU(s) ({})", host_id_, report.gpus_size(), gpus.source);
  facts_due_ = std::chrono::steady_clock::now() + options_.facts_interval;
  return true;
}

bool Agent::Heartbeat() {
  auto reply = client_.Post("/internal/hosts/" + host_id_ + "/heartbeat", "{}");
  if (!reply.ok()) {
    spdlog::warn("heartbeat: {}", reply.status().message());
    return false;
  }
  if (reply->status != 200) {
    spdlog::error("heartbeat refused: {}", Why(*reply));
    // The host or token is gone (a wiped or restored server): start over.
    if (reply->status == 404 || reply->status == 401) host_id_.clear();
    return false;
  }
  return true;
}

}  // namespace remotegpu::agent
