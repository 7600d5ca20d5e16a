// `remotegpu-replay` as a process over a log written by the command side:
// every subcommand's --help, state, history, export, rollback, and verify
// failing at the position of a byte changed in RocksDB itself.
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <rocksdb/db.h>

#include "commands/host_service.h"
#include "common/subprocess.h"
#include "eventstore/envelope_codec.h"
#include "eventstore/key_format.h"
#include "eventstore/rocksdb_event_store.h"
#include "tests/domain/builders.h"
#include "tests/support/temp_dir.h"

namespace remotegpu::replay {
namespace {

struct ToolRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr.
};

ToolRun Replay(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {REMOTEGPU_REPLAY_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  auto child = Subprocess::Spawn(argv, {.capture_stdout = true, .merge_stderr = true});
  if (!child.ok()) return {};
  ToolRun run;
  run.output = child->ReadAllStdout();
  const int status = child->Wait();
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

// The JSON object a command printed (its stdout may be followed by
// progress lines from stderr).
nlohmann::json JsonOf(const std::string& output) {
  const size_t end = output.rfind("\n}");
  return nlohmann::json::parse(output.substr(0, end + 2), nullptr, false);
}

class ReplayCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = dir_.Sub("data");
    std::filesystem::create_directories(data_dir_);
    auto store = eventstore::RocksDbEventStore::Open({.path = data_dir_ + "/events"});
    ASSERT_TRUE(store.ok());
    commands::AggregateCache<commands::HostTraits> cache(**store);
    commands::SchedulerIndex index;
    commands::StripedLock locks;
    commands::HostService hosts(**store, SystemClock::Instance(), index, cache, locks);
    const commands::CommandMeta meta{{eventstore::ActorKind::kUser, "ada", "Ada"}, "", "", ""};
    for (const char* id : {"host-1", "host-2"}) {
      ASSERT_TRUE(hosts.Execute(id, domain::testing_builders::RegisterCmd(1), meta).ok());
    }
    ASSERT_TRUE(
        hosts
            .Execute("host-1", domain::testing_builders::StatusCmd(domain::MAINTENANCE, true), meta)
            .ok());
    last_position_ = (*store)->LastPosition();
  }

  testing::TempDir dir_;
  std::string data_dir_;
  uint64_t last_position_ = 0;
};

TEST_F(ReplayCliTest, EveryCommandHasHelpAndBadUsageIsExitTwo) {
  for (const char* command :
       {"rebuild", "state", "diff", "history", "export", "verify", "rollback", "tail"}) {
    ToolRun help = Replay({command, "--help"});
    EXPECT_EQ(help.exit_code, 0) << command;
    EXPECT_NE(help.output.find("--data-dir"), std::string::npos) << command;
  }
  EXPECT_EQ(Replay({"--help"}).exit_code, 0);
  EXPECT_EQ(Replay({"travel"}).exit_code, 2);
  EXPECT_EQ(Replay({"state", "--data-dir", data_dir_}).exit_code, 2) << "--stream is required";
  EXPECT_EQ(Replay({"state", "--data-dir", dir_.Sub("nowhere"), "--stream", "host-1"}).exit_code,
            1);
}

TEST_F(ReplayCliTest, StateHistoryExportAndRollback) {
  ToolRun state = Replay({"state", "--data-dir", data_dir_, "--stream", "host-1", "--at", "v1"});
  ASSERT_EQ(state.exit_code, 0) << state.output;
  EXPECT_EQ(JsonOf(state.output)["version"], 1);
  EXPECT_EQ(JsonOf(state.output)["state"]["operational_status"], "available");

  ToolRun history = Replay({"history", "--data-dir", data_dir_, "--stream", "host-1"});
  ASSERT_EQ(history.exit_code, 0) << history.output;
  EXPECT_NE(history.output.find("user:ada  OperationalStatusChanged  (because)"), std::string::npos)
      << history.output;
  EXPECT_NE(history.output.find("operational_status: available -> maintenance"), std::string::npos);

  const std::string file = dir_.Sub("audit.jsonl");
  ToolRun exported = Replay({"export", "--data-dir", data_dir_, "--out", file});
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  std::ifstream in(file);
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), last_position_ + 1);
  EXPECT_EQ(lines.back()["trailer"]["count"], last_position_);
  EXPECT_EQ(lines.back()["trailer"]["log_chain_head"], lines[last_position_ - 1]["hash"]);

  ToolRun dry = Replay({"rollback", "--data-dir", data_dir_, "--stream", "host-1", "--to-version", "1",
                    "--reason", "undo", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_EQ(JsonOf(dry.output)["events"].size(), 1u);
  ToolRun rolled = Replay({"rollback", "--data-dir", data_dir_, "--stream", "host-1", "--to-version",
                       "1", "--reason", "undo"});
  ASSERT_EQ(rolled.exit_code, 0) << rolled.output;
  EXPECT_EQ(JsonOf(rolled.output)["position"], last_position_ + 1);
  ToolRun after = Replay({"state", "--data-dir", data_dir_, "--stream", "host-1"});
  EXPECT_EQ(JsonOf(after.output)["state"]["operational_status"], "available");

  ToolRun environment = Replay({"rollback", "--data-dir", data_dir_, "--stream", "env-1",
                                "--to-version", "1", "--reason", "undo", "--dry-run"});
  EXPECT_EQ(environment.exit_code, 1);
  EXPECT_NE(environment.output.find("only hosts (host-…) can be rolled back"), std::string::npos)
      << environment.output;
}

TEST_F(ReplayCliTest, VerifyFailsAtThePositionOfAByteChangedInTheStore) {
  ToolRun intact = Replay({"verify", "--data-dir", data_dir_});
  ASSERT_EQ(intact.exit_code, 0) << intact.output;
  EXPECT_NE(intact.output.find("log ok: " + std::to_string(last_position_) + " events"),
            std::string::npos)
      << intact.output;

  {
    // Change one byte of the payload of the event at position 3, in RocksDB.
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const char* name :
         {rocksdb::kDefaultColumnFamilyName.c_str(), eventstore::keys::kLogFamily,
          eventstore::keys::kStreamIndexFamily, eventstore::keys::kEventIdsFamily,
          eventstore::keys::kSnapshotsFamily, eventstore::keys::kCheckpointsFamily}) {
      families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(
        rocksdb::DB::Open(rocksdb::DBOptions(), data_dir_ + "/events", families, &handles, &raw)
            .ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::string value;
    const std::string key = eventstore::keys::PositionKey(3);
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), handles[1], key, &value).ok());
    auto event = eventstore::DecodeEnvelope(value);
    ASSERT_TRUE(event.ok());
    event->data.payload[0] ^= 0x01;
    ASSERT_TRUE(
        db->Put(rocksdb::WriteOptions(), handles[1], key, eventstore::EncodeEnvelope(*event)).ok());
    for (auto* handle : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(handle).ok());
  }
  ToolRun tampered = Replay({"verify", "--data-dir", data_dir_});
  EXPECT_EQ(tampered.exit_code, 1) << tampered.output;
  EXPECT_NE(tampered.output.find("position 3"), std::string::npos) << tampered.output;
}

}  // namespace
}  // namespace remotegpu::replay
