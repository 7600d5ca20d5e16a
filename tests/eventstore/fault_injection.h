// Fault injection for the event store's group commit, in the spirit of
// LevelDB's FaultInjectionTestEnv: wraps the real commit sink and fails
// chosen group writes without writing anything, fails chosen WAL syncs, or
// holds a write until the test lets it go (to line appends up into one
// group).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <utility>

#include "eventstore/rocksdb_event_store.h"

namespace remotegpu::eventstore {

class FaultInjectingCommitSink final : public GroupCommitSink {
 public:
  explicit FaultInjectingCommitSink(std::unique_ptr<GroupCommitSink> inner)
      : inner_(std::move(inner)) {}

  // The n-th group write from now on (1-based) fails with an IoError; 0: none does.
  void FailNth(int n) {
    std::lock_guard lock(mu_);
    fail_at_ = n == 0 ? 0 : commits_ + n;
  }
  // The next WAL sync fails with an IoError.
  void FailNextSync() {
    std::lock_guard lock(mu_);
    fail_next_sync_ = true;
  }
  // The next WAL sync waits inside SyncWal until Release().
  void HoldNextSync() {
    std::lock_guard lock(mu_);
    hold_next_sync_ = true;
  }
  // The next group write waits inside Write until Release().
  void HoldNext() {
    std::lock_guard lock(mu_);
    hold_next_ = true;
  }
  void Release() {
    {
      std::lock_guard lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }
  // Blocks until a held write or sync has started waiting.
  void AwaitHeld() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return holding_; });
  }
  int commits() {
    std::lock_guard lock(mu_);
    return commits_;
  }

  Status Write(rocksdb::DB& db, rocksdb::WriteBatch& batch) override {
    bool fail;
    {
      std::unique_lock lock(mu_);
      ++commits_;
      if (std::exchange(hold_next_, false)) WaitForRelease(lock);
      fail = commits_ == fail_at_;
    }
    if (fail) return Status::IoError("injected fault: group write failed");
    return inner_->Write(db, batch);
  }

  Status SyncWal(rocksdb::DB& db) override {
    {
      std::unique_lock lock(mu_);
      if (std::exchange(hold_next_sync_, false)) WaitForRelease(lock);
      if (std::exchange(fail_next_sync_, false)) {
        return Status::IoError("injected fault: WAL fsync failed");
      }
    }
    return inner_->SyncWal(db);
  }

 private:
  void WaitForRelease(std::unique_lock<std::mutex>& lock) {
    holding_ = true;
    released_ = false;
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_; });
    holding_ = false;
  }

  std::unique_ptr<GroupCommitSink> inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  int commits_ = 0;
  int fail_at_ = 0;
  bool hold_next_ = false;
  bool fail_next_sync_ = false;
  bool hold_next_sync_ = false;
  bool holding_ = false;
  bool released_ = false;
};

}  // namespace remotegpu::eventstore
