#include "api/rebuild_job.h"

#include <spdlog/spdlog.h>

#include "common/clock.h"

namespace remotegpu::api {
namespace {

std::string Now() { return FormatRfc3339(SystemClock::Instance().NowMicros()); }

}  // namespace

RebuildJob::~RebuildJob() {
  std::thread thread;
  {
    std::lock_guard lock(mu_);
    thread = std::move(thread_);
  }
  if (thread.joinable()) thread.join();
}

Status RebuildJob::Start(const std::string& requested_by) {
  std::lock_guard lock(mu_);
  if (running_) return Status::FailedPrecondition("a rebuild is already running");
  if (thread_.joinable()) thread_.join();  // The previous one has finished.
  running_ = true;
  progress_ = {"starting", 0, store_.LastPosition(), 0};
  error_.clear();
  finished_at_.clear();
  started_at_ = Now();
  requested_by_ = requested_by;
  spdlog::info("read-model rebuild requested by {}", requested_by);
  thread_ = std::thread([this] {
    Status done = projections::RebuildAndSwap(
        store_,
        {.runner = options_,
         .progress =
             [this](const projections::RebuildProgress& p) {
               spdlog::info("rebuild: {} {}/{} ({:.0f} events/s)", p.phase, p.position, p.target,
                            p.events_per_second);
               std::lock_guard lock(mu_);
               progress_ = p;
             }},
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
          {"started_at", started_at_},
          {"finished_at", finished_at_},
          {"error", error_}};
}

}  // namespace remotegpu::api
