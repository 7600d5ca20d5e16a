#include "eventstore/log_verifier.h"

#include <gtest/gtest.h>

#include "eventstore/envelope_codec.h"
#include "tests/eventstore/store_fixture.h"

namespace remotegpu::eventstore {
namespace {

// Serves the real store's events, altered by `tamper`, to show that
// VerifyLog notices what an attacker or a bad disk could do.
class TamperingStore final : public EventStore {
 public:
  TamperingStore(EventStore& real, std::function<void(std::vector<RecordedEvent>&)> tamper)
      : real_(real), tamper_(std::move(tamper)) {}
  Result<std::vector<RecordedEvent>> ReadAll(uint64_t from, size_t max) override {
    auto events = real_.ReadAll(from, max);
    if (events.ok()) tamper_(*events);
    return events;
  }
  Result<AppendResult> Append(std::vector<StreamAppend> s, const AppendOptions& o) override {
    return real_.Append(std::move(s), o);
  }
  Result<std::vector<RecordedEvent>> ReadStream(const std::string& id,
                                                const StreamReadOptions& o) override {
    return real_.ReadStream(id, o);
  }
  Result<uint64_t> StreamHead(const std::string& id) override { return real_.StreamHead(id); }
  uint64_t LastPosition() const override { return real_.LastPosition(); }
  Result<std::unique_ptr<Subscription>> Subscribe(const SubscribeOptions& o) override {
    return real_.Subscribe(o);
  }
  Status SaveSnapshot(const std::string& id, const Snapshot& s) override {
    return real_.SaveSnapshot(id, s);
  }
  Result<std::optional<Snapshot>> LoadSnapshot(const std::string& id) override {
    return real_.LoadSnapshot(id);
  }
  Status SaveCheckpoint(const std::string& n, uint64_t p) override {
    return real_.SaveCheckpoint(n, p);
  }
  Result<std::optional<uint64_t>> LoadCheckpoint(const std::string& n) override {
    return real_.LoadCheckpoint(n);
  }

 private:
  EventStore& real_;
  std::function<void(std::vector<RecordedEvent>&)> tamper_;
};

class LogVerifierTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    for (int i = 0; i < 10; ++i) AppendOne("host-" + std::to_string(i % 3), ExpectedVersion::Any());
  }
  Status VerifyWith(std::function<void(std::vector<RecordedEvent>&)> tamper) {
    TamperingStore tampering(*store_, std::move(tamper));
    return VerifyLog(tampering).status();
  }
};

TEST_F(LogVerifierTest, IntactLogVerifies) {
  uint64_t progress = 0;
  auto report = VerifyLog(*store_, [&](uint64_t n) { progress = n; });
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->events, 10u);
  EXPECT_EQ(progress, 10u);
}

TEST_F(LogVerifierTest, EditedPayloadIsFoundAtItsPosition) {
  Status s = VerifyWith([](auto& events) {
    if (events.size() > 4) events[4].data.payload = "edited";
  });
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("position 5:"), std::string::npos) << s.message();
}

TEST_F(LogVerifierTest, RemovedEventIsAGap) {
  Status s = VerifyWith([](auto& events) {
    if (events.size() > 6) events.erase(events.begin() + 6);
  });
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("position 7:"), std::string::npos) << s.message();
}

TEST_F(LogVerifierTest, RehashedEditStillBreaksTheChain) {
  // An editor who recomputes the edited event's hash still breaks the link
  // from its successor.
  Status s = VerifyWith([](auto& events) {
    if (events.size() > 4) {
      events[4].data.payload = "edited";
      events[4].hash = ComputeEventHash(events[4]);
    }
  });
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("position 6: prev_hash"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace remotegpu::eventstore
