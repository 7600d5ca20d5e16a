#include "projections/projection_runner.h"

#include <spdlog/spdlog.h>

#include "projections/migrations.h"

namespace remotegpu::projections {

ProjectionRunner::ProjectionRunner(eventstore::EventStore& store,
                                   std::unique_ptr<Projector> projector,
                                   ProjectionRunnerOptions options)
    : store_(store),
      projector_(std::move(projector)),
      options_(std::move(options)),
      name_(projector_->name()),
      progress_(name_, [&store] { return store.LastPosition(); }) {}

ProjectionRunner::~ProjectionRunner() { Stop(); }

Status ProjectionRunner::Open() {
  auto connection = ConnectAndMigrate(options_.conninfo, options_.schema);
  if (!connection.ok()) return connection.status();
  connection_ = std::move(*connection);
  try {
    pqxx::work tx(*connection_);
    auto rows = tx.exec_params(
        "SELECT position FROM " + options_.schema + ".projection_checkpoints WHERE name = $1",
        name_);
    checkpoint_ = rows.empty() ? 0 : rows[0][0].as<uint64_t>();
  } catch (const std::exception& e) {
    return Status::IoError("reading checkpoint of " + name_ + ": " + e.what());
  }
  projector_->Reset();
  ++opens_;
  progress_.Advance(checkpoint_);
  return Status::Ok();
}

Status ProjectionRunner::ApplyBatch(const std::vector<eventstore::RecordedEvent>& batch) {
  if (!connection_) return Status::FailedPrecondition("projection runner is not open");
  const uint64_t first = batch.front().global_position;
  const uint64_t last = batch.back().global_position;
  if (first != checkpoint_ + 1) {
    return Status::Internal("projection " + name_ + " at " + std::to_string(checkpoint_.load()) +
                            " was handed events from " + std::to_string(first));
  }
  try {
    pqxx::work tx(*connection_);
    // The stored checkpoint, locked for this transaction, is the truth: two
    // runners of one projection (two servers, a restarted one) take turns
    // instead of applying the same events twice.
    tx.exec_params0("INSERT INTO " + options_.schema +
                        ".projection_checkpoints (name, position) VALUES ($1, 0) "
                        "ON CONFLICT (name) DO NOTHING",
                    name_);
    const uint64_t stored =
        tx.exec_params1("SELECT position FROM " + options_.schema +
                            ".projection_checkpoints WHERE name = $1 FOR UPDATE",
                        name_)[0]
            .as<uint64_t>();
    if (stored != checkpoint_) {
      tx.abort();
      projector_->Reset();
      checkpoint_ = stored;
      progress_.Advance(stored);
      return Status::Conflict({name_, std::to_string(first - 1), stored});
    }
    projector_->Apply(tx, options_.schema, batch);
    tx.exec_params0("INSERT INTO " + options_.schema +
                        ".projection_checkpoints (name, position) VALUES ($1, $2) "
                        "ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, "
                        "updated_at = now()",
                    name_, static_cast<int64_t>(last));
    tx.commit();
  } catch (const std::exception& e) {
    projector_->Reset();
    {
      std::lock_guard lock(failure_mu_);
      failure_.from = first;
      failure_.to = last;
      failure_.error = e.what();
      ++failure_.attempts;
    }
    failing_ = true;  // After the failure is there to read.
    return Status::IoError("projecting " + name_ + " at positions " + std::to_string(first) + ".." +
                           std::to_string(last) + ": " + e.what());
  }
  checkpoint_ = last;
  progress_.Advance(last);
  failing_ = false;
  {
    std::lock_guard lock(failure_mu_);
    failure_ = {};
  }
  return Status::Ok();
}

Result<size_t> ProjectionRunner::Step() {
  auto batch = store_.ReadAll(checkpoint_ + 1, options_.batch_size);
  if (!batch.ok()) return batch.status();
  if (batch->empty()) return size_t{0};
  RGPU_RETURN_IF_ERROR(ApplyBatch(*batch));
  return batch->size();
}

Status ProjectionRunner::CatchUp() {
  const uint64_t target = store_.LastPosition();
  while (checkpoint_ < target) {
    auto applied = Step();
    if (!applied.ok() && applied.status().code() == StatusCode::kVersionConflict) continue;
    if (!applied.ok()) return applied.status();
    if (*applied == 0) break;
  }
  return Status::Ok();
}

uint64_t ProjectionRunner::lag() const {
  const uint64_t last = store_.LastPosition();
  const uint64_t done = checkpoint_.load();
  return last > done ? last - done : 0;
}

Status ProjectionRunner::Start() {
  if (!connection_) RGPU_RETURN_IF_ERROR(Open());
  running_ = true;
  thread_ = std::thread([this] {
    while (running_) {
      eventstore::Subscription* subscription;
      {
        std::lock_guard lock(subscription_mu_);
        if (!subscription_) {
          auto opened = store_.Subscribe(
              {.from_position = checkpoint_ + 1, .max_batch = options_.batch_size});
          if (!opened.ok()) {
            spdlog::error("projection {}: {}", name_, opened.status().ToString());
            return;
          }
          subscription_ = std::move(*opened);
        }
        subscription = subscription_.get();
      }
      auto events = subscription->Next(std::chrono::milliseconds(500));
      if (!events.ok() || events->empty()) continue;  // Closed (Stop) or nothing new yet.
      const auto deadline = std::chrono::steady_clock::now() + options_.linger;
      while (events->size() < options_.batch_size && running_) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        auto more = subscription->Next(left);
        if (!more.ok() || more->empty()) break;
        events->insert(events->end(), std::make_move_iterator(more->begin()),
                       std::make_move_iterator(more->end()));
      }
      Status applied = ApplyBatch(*events);
      if (applied.ok()) continue;
      if (applied.code() == StatusCode::kVersionConflict) {
        // Another runner got ahead: follow from the stored checkpoint.
        std::lock_guard lock(subscription_mu_);
        subscription_.reset();
        continue;
      }
      spdlog::error("projection {}: {}; retrying from {}", name_, applied.ToString(),
                    checkpoint_.load() + 1);
      {
        std::lock_guard lock(subscription_mu_);
        subscription_.reset();  // Resume from the checkpoint, not from the cursor.
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      if (!running_) break;
      Status reopened = Open();  // A dropped connection comes back here.
      if (!reopened.ok()) spdlog::error("projection {}: {}", name_, reopened.ToString());
    }
  });
  return Status::Ok();
}

void ProjectionRunner::Stop() {
  running_ = false;
  {
    std::lock_guard lock(subscription_mu_);
    if (subscription_) subscription_->Close();
  }
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(subscription_mu_);
  subscription_.reset();
}

}  // namespace remotegpu::projections
