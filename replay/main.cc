// `remotegpu-replay`: the event log's replay tools. Every subcommand but
// `rollback` reads the log read-only and works while `remotegpu serve` runs.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <thread>

#include <boost/program_options.hpp>
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include "commands/host_service.h"
#include "commands/rollback.h"
#include "domain/stream_id.h"
#include "eventstore/log_verifier.h"
#include "projections/queries/audit_export.h"
#include "projections/queries/event_json.h"
#include "projections/queries/rollback_json.h"
#include "projections/queries/stream_state.h"
#include "projections/read_model_compare.h"
#include "projections/rebuild.h"
#include "projections/standard_projections.h"
#include "replay/tool.h"

namespace po = boost::program_options;

namespace remotegpu::replay {
namespace {

using namespace ::remotegpu::queries;  // The log's queries: event JSON, time travel, export.

constexpr char kUsage[] = R"(Usage: remotegpu-replay <command> [flags]

Commands:
  rebuild    replay the log into fresh read models and swap them in atomically
  state      an aggregate's state at a log position, a time or a version (JSON)
  diff       what changed in an aggregate between two moments, field by field
  history    every event of an aggregate with actor, reason, time, old -> new
  export     a streaming audit export (JSON lines or CSV) with a checkable trailer
  verify     check the hash chain, positions, versions and (optionally) read models
  rollback   compensating events that bring a host back to an earlier version
  tail       print events as they are committed

Moments are a log position (1234), a stream version (v12) or an RFC 3339 time
(2026-11-22T09:30:00Z). Every command reads <data-dir>/events; all but
rollback open it read-only and work while `remotegpu serve` runs.
Run `remotegpu-replay <command> --help` for its flags.
)";

// A subcommand's flags plus --data-dir and --help; 0 after --help, 2 (with the
// usage) on bad flags, -1 to go on.
int ParseFlags(const std::string& command, int argc, char** argv, po::options_description& flags,
               po::variables_map& vars, const std::string& summary) {
  // clang-format off
  flags.add_options()
      ("help,h", "print this help and exit")
      ("data-dir", po::value<std::string>()->default_value("./data"),
       "the server's data directory (the log is <data-dir>/events)");
  // clang-format on
  try {
    po::store(po::parse_command_line(argc, argv, flags), vars);
    if (vars.count("help")) {
      std::cout << "Usage: remotegpu-replay " << command << " [flags]\n\n"
                << summary << "\n\n"
                << flags;
      return 0;
    }
    po::notify(vars);  // Required flags: checked only when not asking for help.
  } catch (const std::exception& e) {
    std::cerr << "remotegpu-replay " << command << ": " << e.what() << "\n\n" << flags;
    return 2;
  }
  return -1;
}

int Fail(const std::string& command, const Status& status) {
  std::cerr << "remotegpu-replay " << command << ": " << status.ToString() << "\n";
  return 1;
}

std::string Shown(const nlohmann::json& value) {
  return value.is_null() ? "(none)" : value.is_string() ? value.get<std::string>() : value.dump();
}

int Rebuild(int argc, char** argv) {
  po::options_description flags("rebuild flags");
  flags.add_options()("pg-url", po::value<std::string>()->default_value(""),
                      "the read models' PostgreSQL; empty: the data directory's embedded one")(
      "schema", po::value<std::string>()->default_value("rg"), "the read models' schema")(
      "projection", po::value<std::vector<std::string>>()->composing(),
      "rebuild only this projection (cmdb, environments, leases); repeatable; absent: all");
  po::variables_map vars;
  if (int code = ParseFlags("rebuild", argc, argv, flags, vars,
                            "Replays the log into a fresh schema while the live read models keep "
                            "answering, then swaps\nit in: the whole schema with one rename, or "
                            "with --projection only that projection's tables\n(the others stay as "
                            "they are). A running server's projections continue on the new "
                            "tables.");
      code >= 0) {
    return code;
  }
  const std::string data_dir = vars["data-dir"].as<std::string>();
  auto log = LogReader::Open(data_dir);
  if (!log.ok()) return Fail("rebuild", log.status());
  auto db = ReadModelDatabase::Connect(data_dir, vars["pg-url"].as<std::string>());
  if (!db.ok()) return Fail("rebuild", db.status());
  Progress progress("rebuild");
  eventstore::RocksDbEventStore& store = (*log)->store();
  const auto started = std::chrono::steady_clock::now();
  Status done = projections::RebuildAndSwap(
      store,
      {.runner = {.conninfo = (*db)->conninfo(), .schema = vars["schema"].as<std::string>()},
       .progress =
           [&](const projections::RebuildProgress& p) {
             progress.Update(p.position, p.target, p.events_per_second);
           },
       .refresh = [&] { return store.CatchUpWithWriter(); },
       .projections = vars.count("projection") ? vars["projection"].as<std::vector<std::string>>()
                                               : std::vector<std::string>{}},
      {});
  if (!done.ok()) return Fail("rebuild", done);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  progress.Finish("swapped in: " + std::to_string(store.LastPosition()) + " events in " +
                  std::to_string(static_cast<int>(seconds)) + " s");
  return 0;
}

int State(int argc, char** argv) {
  po::options_description flags("state flags");
  flags.add_options()("stream", po::value<std::string>()->required(), "the stream: host-…, env-…")(
      "at", po::value<std::string>()->default_value(""),
      "position, vN or RFC 3339 time; empty: now");
  po::variables_map vars;
  if (int code = ParseFlags("state", argc, argv, flags, vars,
                            "Prints an aggregate's state as of a moment, as JSON.");
      code >= 0) {
    return code;
  }
  Moment moment;
  if (const std::string at = vars["at"].as<std::string>(); !at.empty()) {
    auto parsed = ParseMoment(at);
    if (!parsed.ok()) return Fail("state", parsed.status());
    moment = *parsed;
  }
  auto log = LogReader::Open(vars["data-dir"].as<std::string>());
  if (!log.ok()) return Fail("state", log.status());
  const std::string stream = vars["stream"].as<std::string>();
  auto state = StateAt((*log)->store(), stream, moment);
  if (!state.ok()) return Fail("state", state.status());
  std::cout << StateJson("stream_id", stream, *state).dump(2) << "\n";
  return 0;
}

int DiffCommand(int argc, char** argv) {
  po::options_description flags("diff flags");
  flags.add_options()("stream", po::value<std::string>()->required(), "the stream")(
      "from", po::value<std::string>()->required(), "position, vN or RFC 3339 time")(
      "to", po::value<std::string>()->default_value(""), "likewise; empty: now")(
      "json", "print JSON instead of lines");
  po::variables_map vars;
  if (int code = ParseFlags("diff", argc, argv, flags, vars,
                            "Prints what changed in an aggregate between two moments, field by "
                            "field.");
      code >= 0) {
    return code;
  }
  auto from = ParseMoment(vars["from"].as<std::string>());
  if (!from.ok()) return Fail("diff", from.status());
  Moment to;
  if (const std::string text = vars["to"].as<std::string>(); !text.empty()) {
    auto parsed = ParseMoment(text);
    if (!parsed.ok()) return Fail("diff", parsed.status());
    to = *parsed;
  }
  auto log = LogReader::Open(vars["data-dir"].as<std::string>());
  if (!log.ok()) return Fail("diff", log.status());
  const std::string stream = vars["stream"].as<std::string>();
  auto before = StateAt((*log)->store(), stream, *from);
  auto after = before.ok() ? StateAt((*log)->store(), stream, to) : before;
  if (!after.ok()) return Fail("diff", after.status());
  const auto changes = Diff(before->state, after->state);
  if (vars.count("json")) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& c : changes) {
      list.push_back({{"field", c.field}, {"old", c.old_value}, {"new", c.new_value}});
    }
    std::cout << nlohmann::json{{"stream_id", stream},
                                {"from_version", before->version},
                                {"to_version", after->version},
                                {"changes", list}}
                     .dump(2)
              << "\n";
    return 0;
  }
  std::cout << stream << ": version " << before->version << " -> " << after->version << ", "
            << changes.size() << " field(s) changed\n";
  for (const auto& c : changes) {
    std::cout << "  " << c.field << ": " << Shown(c.old_value) << " -> " << Shown(c.new_value)
              << "\n";
  }
  return 0;
}

int HistoryCommand(int argc, char** argv) {
  po::options_description flags("history flags");
  flags.add_options()("stream", po::value<std::string>()->required(), "the stream")(
      "json", "print one JSON object per event instead of text");
  po::variables_map vars;
  if (int code = ParseFlags("history", argc, argv, flags, vars,
                            "Prints every event of an aggregate: version, time, actor, type, "
                            "reason, and the\nfields it changed (old -> new).");
      code >= 0) {
    return code;
  }
  auto log = LogReader::Open(vars["data-dir"].as<std::string>());
  if (!log.ok()) return Fail("history", log.status());
  auto history = History((*log)->store(), vars["stream"].as<std::string>());
  if (!history.ok()) return Fail("history", history.status());
  for (const auto& entry : *history) {
    nlohmann::json event = EventJson(entry.event);
    // The reason, where the event has one (one level inside its payload).
    std::string reason;
    if (event["data"].is_object()) {
      for (const auto& [name, body] : event["data"].items()) {
        if (body.is_object() && body.contains("reason")) reason = Shown(body["reason"]);
      }
    }
    if (vars.count("json")) {
      nlohmann::json changes = nlohmann::json::array();
      for (const auto& c : entry.changes) {
        changes.push_back({{"field", c.field}, {"old", c.old_value}, {"new", c.new_value}});
      }
      event["reason"] = reason;
      event["changes"] = changes;
      std::cout << event.dump() << "\n";
      continue;
    }
    std::cout << "v" << entry.event.stream_version << "  "
              << event["recorded_at"].get<std::string>() << "  "
              << event["actor"]["kind"].get<std::string>() << ":"
              << event["actor"]["id"].get<std::string>() << "  " << entry.event.data.type
              << (reason.empty() ? "" : "  (" + reason + ")") << "  @"
              << entry.event.global_position << "\n";
    for (const auto& c : entry.changes) {
      std::cout << "    " << c.field << ": " << Shown(c.old_value) << " -> " << Shown(c.new_value)
                << "\n";
    }
  }
  return 0;
}

int Export(int argc, char** argv) {
  po::options_description flags("export flags");
  flags.add_options()("format", po::value<std::string>()->default_value("jsonl"), "jsonl or csv")(
      "from", po::value<std::string>()->default_value(""), "first position or time (inclusive)")(
      "to", po::value<std::string>()->default_value(""), "last position or time (inclusive)")(
      "type", po::value<std::string>()->default_value(""), "event types, comma-separated")(
      "stream-prefix", po::value<std::string>()->default_value(""), "e.g. host- or env-42")(
      "actor", po::value<std::string>()->default_value(""), "the actor's id")(
      "out", po::value<std::string>()->default_value("-"), "output file; - is stdout");
  po::variables_map vars;
  if (int code = ParseFlags("export", argc, argv, flags, vars,
                            "Writes the events that pass the filters, in constant memory, and a "
                            "trailer with the count,\nthe log's hash-chain head and a hash chain "
                            "over the lines (see projections/queries/audit_export.h).");
      code >= 0) {
    return code;
  }
  auto format = ParseAuditFormat(vars["format"].as<std::string>());
  if (!format.ok()) return Fail("export", format.status());
  auto filter = ParseAuditFilter(
      vars["from"].as<std::string>(), vars["to"].as<std::string>(), vars["type"].as<std::string>(),
      vars["stream-prefix"].as<std::string>(), vars["actor"].as<std::string>());
  if (!filter.ok()) return Fail("export", filter.status());
  auto log = LogReader::Open(vars["data-dir"].as<std::string>());
  if (!log.ok()) return Fail("export", log.status());
  eventstore::RocksDbEventStore& store = (*log)->store();

  const std::string out_path = vars["out"].as<std::string>();
  std::ofstream file;
  if (out_path != "-") {
    file.open(out_path, std::ios::binary | std::ios::trunc);
    if (!file) return Fail("export", Status::IoError("cannot write " + out_path));
  }
  std::ostream& out = out_path == "-" ? std::cout : file;
  AuditWriter writer(*format,
                     [&out](std::string_view text) { out.write(text.data(), text.size()); });
  const uint64_t last = store.LastPosition();
  Progress progress("export");
  const auto started = std::chrono::steady_clock::now();
  auto exported = ExportEvents(store, *filter, writer, 0, [&](uint64_t position) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    progress.Update(position, last, seconds > 0 ? position / seconds : 0);
  });
  if (!exported.ok()) return Fail("export", exported.status());
  Status finished = writer.Finish(store, last);
  if (!finished.ok()) return Fail("export", finished);
  out.flush();
  if (!out) return Fail("export", Status::IoError("writing " + out_path + " failed"));
  progress.Finish(std::to_string(writer.count()) + " events exported");
  return 0;
}

int Verify(int argc, char** argv) {
  po::options_description flags("verify flags");
  flags.add_options()("read-models", "also compare the read models with a fresh fold of the log")(
      "pg-url", po::value<std::string>()->default_value(""),
      "the read models' PostgreSQL; empty: the data directory's embedded one")(
      "schema", po::value<std::string>()->default_value("rg"), "the read models' schema");
  po::variables_map vars;
  if (int code = ParseFlags("verify", argc, argv, flags, vars,
                            "Checks the hash chain, gap-free positions and per-stream versions; "
                            "with --read-models (or\n--pg-url), that every read model equals a "
                            "fresh projection of the log. Exits 1 naming\nthe first bad position "
                            "or table.");
      code >= 0) {
    return code;
  }
  const std::string data_dir = vars["data-dir"].as<std::string>();
  auto log = LogReader::Open(data_dir);
  if (!log.ok()) return Fail("verify", log.status());
  eventstore::RocksDbEventStore& store = (*log)->store();
  Progress progress("verify");
  const uint64_t last = store.LastPosition();
  auto report =
      eventstore::VerifyLog(store, [&](uint64_t checked) { progress.Update(checked, last, 0); });
  if (!report.ok()) {
    progress.Finish("FAILED");
    return Fail("verify", report.status());
  }
  progress.Finish("log ok: " + std::to_string(report->events) + " events in " +
                  std::to_string(report->streams) + " streams, chain head " +
                  ToHex(DigestBytes(report->chain_head)));
  if (!vars.count("read-models") && vars["pg-url"].as<std::string>().empty()) return 0;

  auto db = ReadModelDatabase::Connect(data_dir, vars["pg-url"].as<std::string>());
  if (!db.ok()) return Fail("verify", db.status());
  const std::string live = vars["schema"].as<std::string>();
  const std::string fresh = live + "_verify";
  try {
    pqxx::connection connection((*db)->conninfo());
    // The live read models must be at the log's end for the comparison.
    uint64_t live_position = 0;
    for (int attempt = 0; attempt < 300; ++attempt) {
      if (!store.CatchUpWithWriter().ok()) break;
      pqxx::nontransaction tx(connection);
      live_position =
          tx.exec1("SELECT coalesce(min(position), 0) FROM " + live + ".projection_checkpoints")[0]
              .as<uint64_t>();
      if (live_position == store.LastPosition()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (live_position != store.LastPosition()) {
      return Fail("verify",
                  Status::Unavailable("the read models are at " + std::to_string(live_position) +
                                      " and the log at " + std::to_string(store.LastPosition()) +
                                      "; verify them when the server is quiet"));
    }
    {
      pqxx::work tx(connection);
      tx.exec0("DROP SCHEMA IF EXISTS " + fresh + " CASCADE");
      tx.commit();
    }
    for (auto& runner : projections::StandardProjections(store, {(*db)->conninfo(), fresh, 5000})) {
      Status s = runner->Open();
      if (s.ok()) s = runner->CatchUp();
      if (!s.ok()) return Fail("verify", s);
    }
    int bad = 0;
    for (const auto& [table, differences] :
         projections::ReadModelDifferences(connection, live, fresh)) {
      if (differences == 0) continue;
      std::cerr << "remotegpu-replay verify: read model " << live << "." << table
                << " differs from "
                << "the log in " << differences << " row(s)\n";
      ++bad;
    }
    pqxx::work tx(connection);
    tx.exec0("DROP SCHEMA IF EXISTS " + fresh + " CASCADE");
    tx.commit();
    if (bad > 0) return 1;
    std::cerr << "read models ok: equal to a fresh projection at position " << live_position
              << "\n";
  } catch (const std::exception& e) {
    return Fail("verify", Status::IoError(e.what()));
  }
  return 0;
}

int Rollback(int argc, char** argv) {
  po::options_description flags("rollback flags");
  flags.add_options()("stream", po::value<std::string>()->required(), "the host: host-…")(
      "to-version", po::value<uint64_t>()->required(), "the version to return to")(
      "reason", po::value<std::string>()->required(), "why (recorded in the events)")(
      "dry-run", "print the events it would append and append nothing");
  po::variables_map vars;
  if (int code = ParseFlags(
          "rollback", argc, argv, flags, vars,
          "Appends compensating events, decided by the normal host decider, that bring a host's "
          "spec,\nasset data and operational status back to an earlier version. History is never "
          "rewritten.\nRefused, with the reason, where an allocation differs (a GPU or port gone "
          "to "
          "someone else).\nWithout --dry-run it opens the log for writing: stop the server first, "
          "or use\nPOST /api/cmdb/assets/:id/rollback on a running one.");
      code >= 0) {
    return code;
  }
  const std::string data_dir = vars["data-dir"].as<std::string>();
  const std::string host_id = vars["stream"].as<std::string>();
  const bool dry_run = vars.count("dry-run") > 0;
  if (!domain::IsKind(host_id, domain::StreamKind::kHost)) {
    // An environment or a lease is not put back: it moves forward through its
    // own commands (stop, delete, extend, reclaim), which release what it held.
    return Fail("rollback",
                Status::InvalidArgument(
                    "only hosts (host-…) can be rolled back; environments and leases move "
                    "forward through their own commands. `state --stream " +
                    host_id + " --at …` shows an earlier state"));
  }
  std::unique_ptr<LogReader> reader;
  std::unique_ptr<eventstore::RocksDbEventStore> writer;
  if (dry_run) {
    auto opened = LogReader::Open(data_dir);
    if (!opened.ok()) return Fail("rollback", opened.status());
    reader = std::move(*opened);
  } else {
    auto opened = eventstore::RocksDbEventStore::Open(
        {.path = data_dir + "/events", .create_if_missing = false});
    if (!opened.ok()) {
      return Fail("rollback", Status::FailedPrecondition(
                                  opened.status().message() +
                                  " (a running server holds the log: use POST /api/cmdb/assets/" +
                                  host_id + "/rollback, or stop it)"));
    }
    writer = std::move(*opened);
  }
  eventstore::EventStore& store =
      dry_run ? static_cast<eventstore::EventStore&>(reader->store()) : *writer;
  auto plan = commands::PlanHostRollback(store, SystemClock::Instance(), host_id,
                                         vars["to-version"].as<uint64_t>(),
                                         vars["reason"].as<std::string>());
  if (!plan.ok()) return Fail("rollback", plan.status());
  nlohmann::json out = RollbackPlanJson("host_id", *plan, dry_run);
  if (!dry_run) {
    commands::AggregateCache<commands::HostTraits> cache(store);
    commands::SchedulerIndex index;
    Status indexed = index.CatchUp(store);
    if (!indexed.ok()) return Fail("rollback", indexed);
    commands::StripedLock locks;
    commands::HostService hosts(store, SystemClock::Instance(), index, cache, locks);
    const commands::CommandMeta meta{
        {eventstore::ActorKind::kUser, getlogin() != nullptr ? getlogin() : "operator",
         "remotegpu-replay rollback"},
        "",
        "",
        ""};
    auto done = commands::ApplyHostRollback(store, hosts, *plan, meta);
    if (!done.ok()) return Fail("rollback", done.status());
    out["version"] = done->version;
    out["position"] = done->last_position;
  }
  std::cout << out.dump(2) << "\n";
  return 0;
}

volatile std::sig_atomic_t stop_tail = 0;

int Tail(int argc, char** argv) {
  po::options_description flags("tail flags");
  flags.add_options()("follow,f", "keep printing new events until interrupted")(
      "from", po::value<uint64_t>(), "first position; default: the next event committed");
  po::variables_map vars;
  if (int code = ParseFlags("tail", argc, argv, flags, vars,
                            "Prints events as JSON lines, from --from (or the end), following "
                            "new commits with --follow.");
      code >= 0) {
    return code;
  }
  auto log = LogReader::Open(vars["data-dir"].as<std::string>());
  if (!log.ok()) return Fail("tail", log.status());
  eventstore::RocksDbEventStore& store = (*log)->store();
  uint64_t position = vars.count("from") ? vars["from"].as<uint64_t>() : store.LastPosition() + 1;
  std::signal(SIGINT, [](int) { stop_tail = 1; });
  std::signal(SIGTERM, [](int) { stop_tail = 1; });
  while (!stop_tail) {
    auto events = store.ReadAll(std::max<uint64_t>(position, 1), 1000);
    if (!events.ok()) return Fail("tail", events.status());
    for (const auto& event : *events) {
      std::cout << EventJson(event).dump() << "\n";
      position = event.global_position + 1;
    }
    std::cout.flush();
    if (!events->empty()) continue;
    if (!vars.count("follow")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    Status caught_up = store.CatchUpWithWriter();
    if (!caught_up.ok()) return Fail("tail", caught_up);
  }
  return 0;
}

}  // namespace
}  // namespace remotegpu::replay

int main(int argc, char** argv) {
  using namespace remotegpu::replay;
  spdlog::set_level(spdlog::level::warn);  // The commands' own output is what matters.
  const std::map<std::string, std::function<int(int, char**)>> commands = {
      {"rebuild", Rebuild}, {"state", State},   {"diff", DiffCommand},  {"history", HistoryCommand},
      {"export", Export},   {"verify", Verify}, {"rollback", Rollback}, {"tail", Tail}};
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  auto it = commands.find(argv[1]);
  if (it == commands.end()) {
    std::cerr << "remotegpu-replay: unknown command '" << argv[1] << "'\n\n" << kUsage;
    return 2;
  }
  return it->second(argc - 1, argv + 1);
}
