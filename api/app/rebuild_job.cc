#include "api/app/rebuild_job.h"

#include <algorithm>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"

namespace remotegpu::api {
namespace {

std::string Now() { return FormatRfc3339(SystemClock::Instance().NowMicros()); }

}  // namespace

RebuildJob::~RebuildJob() { Close(); }

void RebuildJob::Close() {
  std::thread thread;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    thread = std::move(thread_);
    if (running_) spdlog::info("waiting for the read-model rebuild to finish");
  }
  if (thread.joinable()) thread.join();
}

Status RebuildJob::Start(const std::string& requested_by,
                         const std::vector<std::string>& projections) {
  for (const auto& name : projections) {
    const bool known = std::any_of(live_.begin(), live_.end(),
                                   [&](const auto* runner) { return runner->name() == name; });
    if (!known) return Status::InvalidArgument("no projection named '" + name + "'");
  }
  std::lock_guard lock(mu_);
  if (closed_) return Status::Unavailable("the server is stopping");
  if (running_) return Status::FailedPrecondition("a rebuild is already running");
  projections_ = projections;
  if (thread_.joinable()) thread_.join();  // The previous one has finished.
  running_ = true;
  progress_ = {"starting", 0, store_.LastPosition(), 0};
  error_.clear();
  finished_at_.clear();
  started_at_ = Now();
  requested_by_ = requested_by;
  spdlog::info(
      "read-model rebuild ({}) requested by {}",
      projections.empty() ? "all projections" : fmt::format("{}", fmt::join(projections, ", ")),
      requested_by);
  thread_ = std::thread([this, projections] {
    Status done = projections::RebuildAndSwap(
        store_,
        {.runner = options_,
         .progress =
             [this](const projections::RebuildProgress& p) {
               spdlog::info("rebuild: {} {}/{} ({:.0f} events/s)", p.phase, p.position, p.target,
                            p.events_per_second);
               std::lock_guard lock(mu_);
               progress_ = p;
             },
         .projections = projections},
        live_);
    if (!done.ok()) spdlog::error("rebuild failed: {}", done.ToString());
    std::lock_guard lock(mu_);
    running_ = false;
    finished_at_ = Now();
    if (!done.ok()) error_ = done.ToString();
  });
  return Status::Ok();
}

nlohmann::json RebuildJob::Describe() const {
  std::lock_guard lock(mu_);
  return {{"running", running_},
          {"phase", progress_.phase},
          {"position", progress_.position},
          {"target", progress_.target},
          {"events_per_second", progress_.events_per_second},
          {"requested_by", requested_by_},
          {"projections", projections_},
          {"started_at", started_at_},
          {"finished_at", finished_at_},
          {"error", error_}};
}

}  // namespace remotegpu::api
