#include "agent/agent.h"

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "agent/host_facts.h"
#include "agent/host_metrics.h"
#include "agent/reconciler.h"

namespace remotegpu::agent {
namespace {

constexpr std::chrono::milliseconds kFirstBackoff{1000};
constexpr std::chrono::milliseconds kMaxBackoff{60'000};

int64_t WallMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Agent::Agent(HttpClient client, AgentOptions options, std::unique_ptr<Reconciler> reconciler)
    : client_(std::move(client)),
      options_(std::move(options)),
      collector_(std::make_unique<MetricsCollector>(options_.root, options_.gpus)),
      reconciler_(std::move(reconciler)) {}

Agent::~Agent() = default;

void Agent::Stop() {
  std::lock_guard lock(mu_);
  stop_ = true;
  wake_.notify_all();
}

size_t Agent::BufferedSamples() const {
  std::lock_guard lock(mu_);
  return samples_.size();
}

uint64_t Agent::DroppedSamples() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

bool Agent::SleepUntil(Clock::time_point when) {
  std::unique_lock lock(mu_);
  return !wake_.wait_until(lock, when, [this] { return stop_; });
}

int Agent::Run() {
  std::chrono::milliseconds backoff = kFirstBackoff;
  Clock::time_point retry_at{};
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stop_) break;
    }
    Clock::time_point now = Clock::now();
    if (now >= metrics_due_) {
      SampleMetrics();
      metrics_due_ = now + options_.metrics_interval;
    }
    if (now >= retry_at) {
      if (Exchange(now)) {
        backoff = kFirstBackoff;
        retry_at = {};
      } else if (retry_soon_) {
        retry_soon_ = false;
        backoff = kFirstBackoff;
        retry_at = Clock::now() + kFirstBackoff;
      } else {
        // Full jitter over the upper half, so many agents do not retry in step.
        std::uniform_int_distribution<int64_t> pick(backoff.count() / 2, backoff.count());
        retry_at = Clock::now() + std::chrono::milliseconds(pick(jitter_));
        backoff = std::min(backoff * 2, kMaxBackoff);
      }
    }
    Clock::time_point next = metrics_due_;
    if (retry_at != Clock::time_point{}) {
      next = std::min(next, retry_at);
    } else {
      next = std::min({next, heartbeat_due_, facts_due_});
      if (reconciler_) next = std::min(next, sync_due_);
    }
    if (reconciler_ && retry_at == Clock::time_point{} && !host_id_.empty()) {
      // Idle: wait on the server instead (a long-poll of the desired
      // environments), which answers as soon as something for this host
      // changes, and at the latest when the next round or report is due.
      const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::min(next, Clock::now() + options_.sync_interval) - Clock::now());
      if (wait >= std::chrono::milliseconds(50)) {
        const std::optional<uint64_t> before = reconciler_->applied_position();
        const Clock::time_point asked = Clock::now();
        Status synced = reconciler_->Sync(client_, host_id_, wait);
        if (synced.ok()) {
          sync_due_ = Clock::now() + options_.sync_interval;
          // Round again at once only if the server did wait (or had news):
          // one that answers at once (an older server, or one without
          // long-polls) is polled at the usual pace instead.
          const std::optional<uint64_t> after = reconciler_->applied_position();
          const bool news = before && after && *after > *before;
          if (news || Clock::now() - asked >= wait / 2) continue;
        } else {
          spdlog::warn("environments: {}", synced.message());
          if (synced.code() == StatusCode::kNotFound) host_id_.clear();
        }
      }
    }
    if (!SleepUntil(next)) break;
  }
  if (reconciler_) reconciler_->Shutdown();
  spdlog::info("agent stopped");
  return 0;
}

bool Agent::Exchange(Clock::time_point now) {
  if (host_id_.empty() && !LearnHost()) return false;
  if (now >= facts_due_ && !ReportFacts()) return false;
  if (now >= heartbeat_due_) {
    if (!Heartbeat()) return false;
    heartbeat_due_ = now + options_.heartbeat_interval;
  }
  while (BufferedSamples() > 0) {
    if (!SendMetrics()) return false;
  }
  if (reconciler_ && now >= sync_due_) {
    Status synced = reconciler_->Sync(client_, host_id_);
    if (!synced.ok()) {
      spdlog::warn("environments: {}", synced.message());
      if (synced.code() == StatusCode::kNotFound) host_id_.clear();
      return false;
    }
    sync_due_ = now + options_.sync_interval;
  }
  return true;
}

void Agent::Forget(int status) {
  if (status != 404 && status != 401) return;
  // The host or token is gone (a wiped or restored server): start over.
  host_id_.clear();
  if (status != 401 || !options_.reload_token) return;
  std::string token = options_.reload_token();
  if (token.empty() || token == token_) return;
  // An operator wrote a new token: try it at once rather than after the
  // back-off the outage built up.
  token_ = token;
  client_.set_token(std::move(token));
  retry_soon_ = true;
}

bool Agent::LearnHost() {
  auto reply = client_.Get("/internal/agent/me");
  if (!reply.ok()) {
    spdlog::warn("server unreachable: {}", reply.status().message());
    return false;
  }
  auto body = nlohmann::json::parse(reply->body, nullptr, false);
  if (reply->status != 200 || !body.is_object() || !body["data"]["host_id"].is_string()) {
    spdlog::error("the server refused the agent token: {}", ServerSays(*reply));
    Forget(reply->status);
    return false;
  }
  host_id_ = body["data"]["host_id"].get<std::string>();
  facts_due_ = heartbeat_due_ = sync_due_ = {};
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
  if (PostForHost("facts", json) != 200) return false;
  spdlog::info("reported {} with {} GPU(s) ({})", host_id_, report.gpus_size(), gpus.source);
  facts_due_ = Clock::now() + options_.facts_interval;
  return true;
}

bool Agent::Heartbeat() { return PostForHost("heartbeat", "{}") == 200; }

int Agent::PostForHost(const std::string& what, const std::string& json) {
  auto reply = client_.Post("/internal/hosts/" + PercentEncode(host_id_) + "/" + what, json);
  if (!reply.ok()) {
    spdlog::warn("{}: {}", what, reply.status().message());
    return 0;
  }
  if (reply->status != 200) {
    spdlog::error("the server refused the {}: {}", what, ServerSays(*reply));
    Forget(reply->status);
  }
  return reply->status;
}

void Agent::SampleMetrics() {
  domain::HostSample sample = collector_->Collect(WallMicros());
  std::lock_guard lock(mu_);
  samples_.push_back(std::move(sample));
  while (samples_.size() > options_.metrics_buffer) {
    samples_.pop_front();
    ++dropped_;
  }
}

bool Agent::SendMetrics() {
  domain::MetricsBatch batch;
  {
    std::lock_guard lock(mu_);
    const size_t count = std::min(samples_.size(), options_.metrics_per_post);
    for (size_t i = 0; i < count; ++i) *batch.add_samples() = samples_[i];
    batch.set_dropped(dropped_);
  }
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(batch, &json).ok()) return false;
  const int status = PostForHost("metrics", json);
  // 400: the server will never take these samples (a value out of range, a
  // GPU it does not know yet); sending them again would block every later
  // sample behind them, so they go, counted as dropped.
  if (status != 200 && status != 400) return false;
  std::lock_guard lock(mu_);
  // Sampling runs on this thread too: the front is still what was sent.
  for (int i = 0; i < batch.samples_size(); ++i) samples_.pop_front();
  if (status == 400) {
    spdlog::error("dropping {} metrics sample(s) the server refused", batch.samples_size());
    dropped_ += static_cast<uint64_t>(batch.samples_size());  // Reported with the next batch.
    return true;  // The server answered: no back-off for the rest.
  }
  dropped_ -= std::min(dropped_, batch.dropped());
  return true;
}

}  // namespace remotegpu::agent
