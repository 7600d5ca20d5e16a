#include "projections/rebuild.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include "projections/migrations.h"
#include "projections/standard_projections.h"

namespace remotegpu::projections {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Catches every runner up to the log's head as of the call, reporting.
Status CatchUpAll(eventstore::EventStore& store,
                  std::vector<std::unique_ptr<ProjectionRunner>>& runners, const std::string& phase,
                  const RebuildOptions& options) {
  const uint64_t target = store.LastPosition();
  const auto started = SteadyClock::now();
  auto last_report = started;
  uint64_t start_position = runners.front()->checkpoint();
  for (const auto& runner : runners)
    start_position = std::min(start_position, runner->checkpoint());
  auto report = [&](uint64_t position) {
    if (!options.progress) return;
    const double seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
    options.progress({phase, position, target,
                      seconds > 0 ? static_cast<double>(position - start_position) / seconds : 0});
  };
  // One thread per projector, as the server runs them; this one reports.
  std::vector<Status> results(runners.size());
  std::atomic<size_t> running{runners.size()};
  std::vector<std::thread> threads;
  for (size_t i = 0; i < runners.size(); ++i) {
    threads.emplace_back([&, i] {
      while (runners[i]->checkpoint() < target) {
        auto applied = runners[i]->Step();
        if (!applied.ok()) {
          results[i] = applied.status();
          break;
        }
        if (*applied == 0) break;
      }
      --running;
    });
  }
  while (running.load() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (SteadyClock::now() - last_report < std::chrono::seconds(1)) continue;
    last_report = SteadyClock::now();
    uint64_t lowest = target;
    for (const auto& runner : runners) lowest = std::min(lowest, runner->checkpoint());
    report(lowest);
  }
  for (auto& thread : threads) thread.join();
  for (const auto& result : results) RGPU_RETURN_IF_ERROR(result);
  report(target);
  return Status::Ok();
}

// Renames `fresh` to `live` (and `live` to `old`) in one transaction. First
// it locks the live checkpoints, so that runners elsewhere wait, and has
// `catch_up` bring the fresh schema to at least the highest of them.
Status Swap(const std::string& conninfo, const std::string& live, const std::string& fresh,
            const std::string& old, const std::function<Status(uint64_t)>& catch_up) {
  try {
    pqxx::connection connection(conninfo);
    {
      pqxx::work tx(connection);
      tx.exec0("DROP SCHEMA IF EXISTS " + old + " CASCADE");
      const bool live_exists =
          !tx.exec_params("SELECT 1 FROM pg_namespace WHERE nspname = $1", live).empty();
      uint64_t live_position = 0;
      if (live_exists) {
        tx.exec0("LOCK TABLE " + live + ".projection_checkpoints IN EXCLUSIVE MODE");
        live_position = tx.exec1("SELECT coalesce(max(position), 0) FROM " + live +
                                 ".projection_checkpoints")[0]
                            .as<uint64_t>();
      }
      RGPU_RETURN_IF_ERROR(catch_up(live_position));
      if (live_exists) tx.exec0("ALTER SCHEMA " + live + " RENAME TO " + old);
      tx.exec0("ALTER SCHEMA " + fresh + " RENAME TO " + live);
      tx.commit();
    }
    pqxx::work drop(connection);
    drop.exec0("DROP SCHEMA IF EXISTS " + old + " CASCADE");
    drop.commit();
  } catch (const std::exception& e) {
    return Status::IoError(std::string("swapping the rebuilt read models in: ") + e.what());
  }
  return Status::Ok();
}

// Moves the tables of `runners` from `fresh` into `live` in place of the
// live ones and sets their live checkpoints to the fresh ones, in one
// transaction, after the same locking and catching up as Swap.
Status SwapTables(const std::string& conninfo, const std::string& live, const std::string& fresh,
                  const std::vector<std::string>& names, const std::vector<std::string>& tables,
                  const std::function<Status(uint64_t)>& catch_up) {
  try {
    pqxx::connection connection(conninfo);
    {
      pqxx::work tx(connection);
      tx.exec0("LOCK TABLE " + live + ".projection_checkpoints IN EXCLUSIVE MODE");
      std::string quoted_names;
      for (const auto& name : names) {
        quoted_names += (quoted_names.empty() ? "" : ", ") + tx.quote(name);
      }
      const uint64_t live_position =
          tx.exec1("SELECT coalesce(max(position), 0) FROM " + live +
                   ".projection_checkpoints WHERE name IN (" + quoted_names + ")")[0]
              .as<uint64_t>();
      RGPU_RETURN_IF_ERROR(catch_up(live_position));
      for (const auto& table : tables) {
        tx.exec0("DROP TABLE " + live + "." + table);
        tx.exec0("ALTER TABLE " + fresh + "." + table + " SET SCHEMA " + live);
      }
      tx.exec0("INSERT INTO " + live + ".projection_checkpoints (name, position) SELECT name, "
               "position FROM " + fresh + ".projection_checkpoints WHERE name IN (" +
               quoted_names + ") ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, "
               "updated_at = now()");
      tx.commit();
    }
    pqxx::work drop(connection);
    drop.exec0("DROP SCHEMA IF EXISTS " + fresh + " CASCADE");
    drop.commit();
  } catch (const std::exception& e) {
    return Status::IoError(std::string("swapping the rebuilt tables in: ") + e.what());
  }
  return Status::Ok();
}

bool SchemaExists(const std::string& conninfo, const std::string& schema) {
  pqxx::connection connection(conninfo);
  pqxx::nontransaction tx(connection);
  return !tx.exec_params("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema).empty();
}

}  // namespace

Status RebuildAndSwap(eventstore::EventStore& store, const RebuildOptions& options,
                      const std::vector<ProjectionRunner*>& live) {
  const std::string& schema = options.runner.schema;
  RGPU_RETURN_IF_ERROR(ValidateSchemaName(schema));
  const std::string fresh = schema + "_rebuild";
  const std::string old = schema + "_old";
  RGPU_RETURN_IF_ERROR(ValidateSchemaName(fresh));
  try {
    pqxx::connection connection(options.runner.conninfo);
    pqxx::work tx(connection);
    tx.exec0("DROP SCHEMA IF EXISTS " + fresh + " CASCADE");
    tx.commit();
  } catch (const std::exception& e) {
    return Status::IoError(std::string("preparing the rebuild schema: ") + e.what());
  }

  ProjectionRunnerOptions fresh_options = options.runner;
  fresh_options.schema = fresh;
  fresh_options.batch_size = options.batch_size;
  auto runners = StandardProjections(store, fresh_options);
  std::vector<std::string> known;
  for (const auto& runner : runners) known.push_back(runner->name());
  for (const auto& name : options.projections) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      return Status::InvalidArgument("no projection named '" + name + "' (there are " + list + ")");
    }
  }
  const bool partial = !options.projections.empty() && options.projections.size() < known.size();
  std::vector<std::string> names, tables;
  if (partial) {
    try {
      if (!SchemaExists(options.runner.conninfo, schema)) {
        return Status::FailedPrecondition("there are no read models in schema " + schema +
                                          " to rebuild a part of: rebuild them all");
      }
    } catch (const std::exception& e) {
      return Status::IoError(std::string("looking for the live schema: ") + e.what());
    }
    std::erase_if(runners, [&](const auto& runner) {
      return std::find(options.projections.begin(), options.projections.end(), runner->name()) ==
             options.projections.end();
    });
    for (const auto& runner : runners) {
      names.push_back(runner->name());
      for (const auto& table : runner->tables()) tables.push_back(table);
    }
  }
  for (auto& runner : runners) RGPU_RETURN_IF_ERROR(runner->Open());
  RGPU_RETURN_IF_ERROR(CatchUpAll(store, runners, "replaying", options));

  // The live runners pause so that nothing writes the live schema while it
  // is renamed; queries go on.
  for (auto* runner : live) runner->Stop();
  Status swapped = CatchUpAll(store, runners, "catching up", options);
  if (swapped.ok()) {
    if (options.progress) options.progress({"swapping", store.LastPosition(), 0, 0});
    auto catch_up_to = [&](uint64_t live_position) {
      // Runners elsewhere got to live_position: the fresh schema must too.
      const auto deadline = SteadyClock::now() + std::chrono::seconds(60);
      while (store.LastPosition() < live_position) {
        if (!options.refresh || SteadyClock::now() > deadline) {
          return Status::Unavailable(
              "the log read here ends at " + std::to_string(store.LastPosition()) +
              " but the live read models are at " + std::to_string(live_position));
        }
        RGPU_RETURN_IF_ERROR(options.refresh());
        if (store.LastPosition() < live_position) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
      }
      RGPU_RETURN_IF_ERROR(CatchUpAll(store, runners, "catching up", options));
      runners.clear();  // Their connections close before the rename.
      return Status::Ok();
    };
    swapped = partial ? SwapTables(options.runner.conninfo, schema, fresh, names, tables,
                                   catch_up_to)
                      : Swap(options.runner.conninfo, schema, fresh, old, catch_up_to);
  }
  for (auto* runner : live) {
    // Reopen on whichever schema now bears the name: the rebuilt one, or
    // the untouched old one when something failed.
    Status reopened = runner->Open();
    if (reopened.ok()) reopened = runner->Start();
    if (!reopened.ok()) {
      spdlog::error("projection {} after the rebuild: {}", runner->name(), reopened.ToString());
      if (swapped.ok()) swapped = reopened;
    }
  }
  if (swapped.ok() && options.progress) {
    options.progress({"done", store.LastPosition(), store.LastPosition(), 0});
  }
  return swapped;
}

}  // namespace remotegpu::projections
