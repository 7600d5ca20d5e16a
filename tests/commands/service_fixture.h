// A real RocksDB event store with the command side wired on top: the
// aggregate caches, the scheduler index and the services.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "commands/environment_service.h"
#include "commands/host_service.h"
#include "eventstore/rocksdb_event_store.h"
#include "tests/domain/builders.h"
#include "tests/support/temp_dir.h"

namespace remotegpu::commands {

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { OpenFresh("events"); }
  void TearDown() override { Close(); }

  // Closes everything and starts over on a new, empty store in `name`.
  void OpenFresh(const std::string& name) {
    Close();
    auto store = eventstore::RocksDbEventStore::Open({.path = dir_.Sub(name)});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    Wire();
  }

  void Close() {
    environments_service_.reset();
    hosts_service_.reset();
    index_.reset();
    env_cache_.reset();
    host_cache_.reset();
    store_.reset();
  }

  // (Re)builds everything above the store, the index from the log.
  void Wire() {
    host_cache_ = std::make_unique<AggregateCache<HostTraits>>(*store_);
    env_cache_ = std::make_unique<AggregateCache<EnvironmentTraits>>(*store_);
    index_ = std::make_unique<SchedulerIndex>(42);
    ASSERT_TRUE(index_->CatchUp(*store_).ok());
    hosts_service_ =
        std::make_unique<HostService>(*store_, clock_, *index_, *host_cache_, host_locks_);
    environments_service_ = std::make_unique<EnvironmentService>(
        *store_, clock_, *index_, *host_cache_, *env_cache_, host_locks_);
  }

  void RegisterHost(const std::string& host_id, int gpus, const std::string& model = "A100") {
    auto result =
        hosts_service_->Execute(host_id, domain::testing_builders::RegisterCmd(gpus, model), meta_);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
  }

  static domain::EnvironmentSpec Spec(uint32_t gpus, const std::string& owner = "acme") {
    domain::EnvironmentSpec spec;
    spec.set_name("work");
    spec.set_owner(owner);
    spec.set_image("pytorch:2.3");
    spec.set_cpu_cores(4);
    spec.set_memory_mb(16384);
    spec.set_gpu_count(gpus);
    auto* ssh = spec.add_ports();
    ssh->set_service(domain::SSH);
    ssh->set_count(1);
    spec.set_strategy(domain::BEST_FIT);
    return spec;
  }

  // The host's state folded from the log alone, ignoring every cache.
  domain::HostState FoldFromLog(const std::string& host_id) {
    domain::HostState state;
    auto events = store_->ReadStream(host_id, {.max_count = 1'000'000});
    EXPECT_TRUE(events.ok());
    for (const auto& recorded : *events) {
      domain::HostEvent event;
      EXPECT_TRUE(event.ParseFromString(recorded.data.payload));
      domain::Apply(state, event);
    }
    return state;
  }

  testing::TempDir dir_;
  ManualClock clock_{domain::testing_builders::kNow};
  CommandMeta meta_{{eventstore::ActorKind::kUser, "user-1", "Ada"}, "req-1", "", ""};
  std::unique_ptr<eventstore::RocksDbEventStore> store_;
  std::unique_ptr<AggregateCache<HostTraits>> host_cache_;
  std::unique_ptr<AggregateCache<EnvironmentTraits>> env_cache_;
  std::unique_ptr<SchedulerIndex> index_;
  StripedLock host_locks_;
  std::unique_ptr<HostService> hosts_service_;
  std::unique_ptr<EnvironmentService> environments_service_;
};

}  // namespace remotegpu::commands
