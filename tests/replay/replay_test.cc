// The replay library over a real RocksDB store fed by the real command side:
// time travel, diffs, history, the audit export round trip, host rollback.
#include <sstream>

#include <gtest/gtest.h>

#include "commands/identity_service.h"
#include "commands/rollback.h"
#include "projections/queries/audit_export.h"
#include "projections/queries/event_json.h"
#include "projections/queries/stream_state.h"
#include "tests/commands/service_fixture.h"

namespace remotegpu::replay {
namespace {

using namespace ::remotegpu::queries;

using commands::ServiceTest;
using domain::testing_builders::StatusCmd;

class ReplayTest : public ServiceTest {
 protected:
  void SetUp() override {
    // The store records times from the manual clock, so that time travel has
    // exact boundaries.
    auto store = eventstore::RocksDbEventStore::Open({.path = dir_.Sub("timed"), .clock = &clock_});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    Wire();
  }

  // Replaces the host's labels with team=<team> (the rest of the spec kept).
  void SetTeam(const std::string& host_id, const std::string& team) {
    domain::HostCommand command;
    auto* spec = command.mutable_update_spec()->mutable_spec();
    *spec = FoldFromLog(host_id).spec;
    spec->clear_labels();
    auto* label = spec->add_labels();
    label->set_key("team");
    label->set_value(team);
    ASSERT_TRUE(hosts_service_->Execute(host_id, command, meta_).ok());
  }

  void Run(const std::string& host_id, const domain::HostCommand& command) {
    auto done = hosts_service_->Execute(host_id, command, meta_);
    ASSERT_TRUE(done.ok()) << done.status().ToString();
  }

  uint64_t Version(const std::string& stream) { return store_->StreamHead(stream).value(); }
};

TEST_F(ReplayTest, StateAtEveryVersionEqualsTheFoldOfItsFirstEvents) {
  RegisterHost("host-1", 2);
  clock_.Advance(1'000'000);
  SetTeam("host-1", "vision");
  clock_.Advance(1'000'000);
  Run("host-1", StatusCmd(domain::MAINTENANCE, true));
  clock_.Advance(1'000'000);
  SetTeam("host-1", "speech");
  const uint64_t head = Version("host-1");
  auto events = store_->ReadStream("host-1");
  ASSERT_TRUE(events.ok());

  domain::HostState folded;
  for (uint64_t version = 1; version <= head; ++version) {
    const auto& recorded = (*events)[version - 1];
    domain::HostEvent event;
    ASSERT_TRUE(event.ParseFromString(recorded.data.payload));
    domain::Apply(folded, event);
    for (const Moment& moment :
         {Moment{.max_version = version}, Moment{.max_position = recorded.global_position}}) {
      auto state = StateAt(*store_, "host-1", moment);
      ASSERT_TRUE(state.ok()) << state.status().ToString();
      EXPECT_EQ(state->version, version);
      EXPECT_EQ(state->state["operational_status"], domain::Name(folded.status));
      EXPECT_EQ(state->state["spec"]["labels"].size(),
                static_cast<size_t>(folded.spec.labels_size()));
      EXPECT_EQ(state->state["gpus"].size(), folded.gpus.size());
    }
  }

  // Time travel at the boundaries: an event is in the state from the very
  // microsecond it was recorded, not one before.
  const UnixMicros maintenance_at = (*events)[head - 2].recorded_at_us;
  auto just_before = StateAt(*store_, "host-1", {.max_time_us = maintenance_at - 1});
  auto exactly = StateAt(*store_, "host-1", {.max_time_us = maintenance_at});
  ASSERT_TRUE(just_before.ok() && exactly.ok());
  EXPECT_EQ(just_before->state["operational_status"], "available");
  EXPECT_EQ(exactly->state["operational_status"], "maintenance");
  auto before_creation =
      StateAt(*store_, "host-1", {.max_time_us = (*events)[0].recorded_at_us - 1});
  ASSERT_TRUE(before_creation.ok());
  EXPECT_EQ(before_creation->version, 0u);
  EXPECT_EQ(StateAt(*store_, "host-none", {}).status().code(), StatusCode::kNotFound);

  // The same through the parsed forms.
  auto parsed = ParseMoment(FormatRfc3339(maintenance_at));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->max_time_us, maintenance_at);
  EXPECT_EQ(ParseMoment("2026-01-01T08:00:01+08:00")->max_time_us,
            domain::testing_builders::kNow + 1'000'000);
  EXPECT_EQ(ParseMoment("v3")->max_version, 3u);
  EXPECT_EQ(ParseMoment("42")->max_position, 42u);
  EXPECT_FALSE(ParseMoment("yesterday").ok());
  EXPECT_FALSE(ParseMoment("2026-01-01T00:00:00").ok()) << "a time needs its zone";
}

TEST_F(ReplayTest, DiffAndHistoryNameTheFieldsThatChanged) {
  RegisterHost("host-1", 1);
  SetTeam("host-1", "vision");
  Run("host-1", StatusCmd(domain::MAINTENANCE, true));
  auto history = History(*store_, "host-1");
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), Version("host-1"));
  const auto& last = history->back();
  EXPECT_EQ(last.event.data.type, "OperationalStatusChanged");
  EXPECT_EQ(last.event.data.actor.id, "user-1");
  bool status_changed = false;
  for (const auto& change : last.changes) {
    if (change.field == "operational_status") {
      status_changed = true;
      EXPECT_EQ(change.old_value, "available");
      EXPECT_EQ(change.new_value, "maintenance");
    }
  }
  EXPECT_TRUE(status_changed);

  auto first = StateAt(*store_, "host-1", {.max_version = 1});
  auto now = StateAt(*store_, "host-1", {});
  ASSERT_TRUE(first.ok() && now.ok());
  std::set<std::string> fields;
  for (const auto& change : Diff(first->state, now->state)) fields.insert(change.field);
  EXPECT_TRUE(fields.count("spec.labels"));
  EXPECT_TRUE(fields.count("operational_status"));
  EXPECT_TRUE(fields.count("gpus.0")) << "the GPU came in version 2";
  EXPECT_FALSE(fields.count("spec.name"));
}

// Parses a JSON-lines export: the events and the trailer.
struct ParsedExport {
  std::vector<nlohmann::json> events;
  nlohmann::json trailer;
  Sha256Digest lines_sha256{};
};

ParsedExport ParseJsonLines(const std::string& text) {
  ParsedExport out;
  std::stringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    nlohmann::json value = nlohmann::json::parse(line);
    if (value.contains("trailer")) {
      out.trailer = value["trailer"];
      continue;
    }
    out.lines_sha256 = Sha256(DigestBytes(out.lines_sha256), line);
    out.events.push_back(std::move(value));
  }
  return out;
}

TEST_F(ReplayTest, TheExportRoundTripsEveryEventAndItsTrailerChecks) {
  RegisterHost("host-1", 2);
  RegisterHost("host-2", 1);
  ASSERT_TRUE(environments_service_->Create("env-1", Spec(1), meta_).ok());
  Run("host-2", StatusCmd(domain::MAINTENANCE, true, "", /*drain=*/true));

  std::string text;
  AuditWriter writer(AuditFormat::kJsonLines, [&](std::string_view part) { text.append(part); });
  auto next = ExportEvents(*store_, {}, writer);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 0u);
  auto last = store_->ReadAll(store_->LastPosition(), 1);
  writer.Finish(&(*last)[0]);

  const ParsedExport parsed = ParseJsonLines(text);
  ASSERT_EQ(parsed.events.size(), store_->LastPosition());
  EXPECT_EQ(parsed.trailer["count"], parsed.events.size());
  EXPECT_EQ(parsed.trailer["lines_sha256"], ToHex(DigestBytes(parsed.lines_sha256)));
  EXPECT_EQ(parsed.trailer["log_chain_head"], parsed.events.back()["hash"]);
  for (size_t i = 0; i < parsed.events.size(); ++i) {
    EXPECT_EQ(parsed.events[i]["position"], i + 1);
    if (i > 0) {
      EXPECT_EQ(parsed.events[i]["prev_hash"], parsed.events[i - 1]["hash"]);
    }
  }
  EXPECT_TRUE(parsed.events.front()["data"].contains("registered"));

  // An edited line no longer matches the trailer.
  std::string edited = text;
  edited.replace(edited.find("user-1"), 6, "user-2");
  EXPECT_NE(ParseJsonLines(edited).lines_sha256, parsed.lines_sha256);

  // Filters: type, stream prefix, actor and a position range; CSV rows.
  auto filter = ParseAuditFilter("2", "", "OperationalStatusChanged,EnvironmentCreated", "", "");
  ASSERT_TRUE(filter.ok());
  std::string csv;
  AuditWriter csv_writer(AuditFormat::kCsv, [&](std::string_view part) { csv.append(part); });
  ASSERT_TRUE(ExportEvents(*store_, *filter, csv_writer).ok());
  csv_writer.Finish(&(*last)[0]);
  EXPECT_EQ(csv_writer.count(), 2u);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4) << csv;  // Header, 2 rows, trailer.
  EXPECT_NE(csv.find("#trailer,count=2,"), std::string::npos);
  auto by_prefix = ParseAuditFilter("", "", "", "env-", "user-1");
  std::string only_env;
  AuditWriter env_writer(AuditFormat::kJsonLines, [&](std::string_view p) { only_env.append(p); });
  ASSERT_TRUE(ExportEvents(*store_, *by_prefix, env_writer).ok());
  EXPECT_EQ(env_writer.count(), Version("env-1"));
  // A limit stops and says where to go on.
  AuditWriter limited(AuditFormat::kJsonLines, [](std::string_view) {});
  auto go_on = ExportEvents(*store_, {}, limited, 3);
  ASSERT_TRUE(go_on.ok());
  EXPECT_EQ(*go_on, 4u);
  EXPECT_FALSE(ParseAuditFilter("soon", "", "", "", "").ok());
}

TEST_F(ReplayTest, RollbackRestoresStatusAndLabelsThroughTheDecider) {
  RegisterHost("host-1", 1);
  SetTeam("host-1", "vision");
  const uint64_t good = Version("host-1");
  SetTeam("host-1", "speech");
  Run("host-1", StatusCmd(domain::MAINTENANCE, true));

  auto plan = commands::PlanHostRollback(*store_, clock_, "host-1", good, "bad edit");
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->commands.size(), 2u);  // Spec and status.
  EXPECT_EQ(Version("host-1"), plan->from_version) << "planning appends nothing";
  auto done = commands::ApplyHostRollback(*store_, *hosts_service_, *plan, meta_);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  const domain::HostState now = FoldFromLog("host-1");
  EXPECT_EQ(now.status, domain::AVAILABLE);
  ASSERT_EQ(now.spec.labels_size(), 1);
  EXPECT_EQ(now.spec.labels(0).value(), "vision");
  EXPECT_GT(Version("host-1"), plan->from_version) << "history grows, never rewritten";
  // A stale plan is refused.
  EXPECT_EQ(commands::ApplyHostRollback(*store_, *hosts_service_, *plan, meta_).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(commands::PlanHostRollback(*store_, clock_, "host-1", 99, "x").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(commands::PlanHostRollback(*store_, clock_, "host-1", good, "").status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(ReplayTest, RollbackThatWouldStealAReallocatedGpuIsRefused) {
  RegisterHost("host-1", 1);
  ASSERT_TRUE(environments_service_->Create("env-1", Spec(1), meta_).ok());
  const uint64_t with_env1 = Version("host-1");
  ASSERT_TRUE(environments_service_->ChangeStatus("env-1", domain::DELETED, "done", meta_).ok());
  ASSERT_TRUE(environments_service_->Create("env-2", Spec(1), meta_).ok());

  auto plan = commands::PlanHostRollback(*store_, clock_, "host-1", with_env1, "undo");
  ASSERT_EQ(plan.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(plan.status().message().find("GPU 0 of env-1 has since gone to env-2"),
            std::string::npos)
      << plan.status().message();
  // Released and not taken again: the holder must be placed again instead.
  ASSERT_TRUE(environments_service_->ChangeStatus("env-2", domain::DELETED, "done", meta_).ok());
  auto released = commands::PlanHostRollback(*store_, clock_, "host-1", with_env1, "undo");
  ASSERT_EQ(released.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(released.status().message().find("place env-1 again"), std::string::npos);
}

TEST_F(ReplayTest, ExportsRedactPasswordHashesAndTokenDigests) {
  commands::IdentityIndex index;
  SequentialIdGenerator ids;
  commands::IdentityService identity(*store_, clock_, index, ids);
  std::string user;
  ASSERT_TRUE(
      identity
          .CreateUser(
              {.username = "root", .password = "correct horse 42", .role = domain::ROLE_ADMIN},
              meta_, &user)
          .ok());
  ASSERT_TRUE(identity.LogIn("root", "correct horse 42", meta_).ok());
  ASSERT_TRUE(identity.CreateApiKey(user, "ci", 0, "", meta_).ok());
  std::string text;
  AuditWriter writer(AuditFormat::kJsonLines, [&](std::string_view part) { text.append(part); });
  ASSERT_TRUE(ExportEvents(*store_, {}, writer).ok());
  EXPECT_EQ(text.find("$argon2id$"), std::string::npos);
  EXPECT_NE(text.find("\"password_hash\":\"[redacted]\""), std::string::npos);
  EXPECT_NE(text.find("\"refresh_hash\":\"[redacted]\""), std::string::npos);
  EXPECT_NE(text.find("\"secret_hash\":\"[redacted]\""), std::string::npos);
  EXPECT_NE(text.find("\"username\":\"root\""), std::string::npos);
}

}  // namespace
}  // namespace remotegpu::replay
