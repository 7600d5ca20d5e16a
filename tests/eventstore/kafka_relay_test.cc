// The Kafka relay against librdkafka's mock cluster over TCP on 127.0.0.1,
// read back by our own consumer and by kcat.
#include "eventstore/kafka_relay.h"

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "eventstore/envelope_codec.h"
#include "tests/eventstore/store_fixture.h"
#include "tests/support/kafka_testing.h"

namespace remotegpu::eventstore {
namespace {

using remotegpu::testing::KafkaMessage;
using remotegpu::testing::MockKafka;
using remotegpu::testing::WaitFor;

constexpr char kTopic[] = "events";

class KafkaRelayTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    kafka_ = MockKafka::Start(KAFKA_MOCK_BIN, kTopic, 4);
    ASSERT_NE(kafka_, nullptr) << "the mock cluster did not start";
  }

  std::unique_ptr<KafkaRelay> StartRelay() {
    auto relay = KafkaRelay::Start(*store_, {.brokers = kafka_->bootstrap(), .topic = kTopic});
    EXPECT_TRUE(relay.ok()) << relay.status().ToString();
    return relay.ok() ? std::move(*relay) : nullptr;
  }

  // Appends `count` events spread over `streams` streams, some appends
  // touching two streams at once.
  void AppendEvents(int count, int streams) {
    for (int i = 0; i < count; i += 2) {
      const std::string a = "host-" + std::to_string(i % streams);
      const std::string b = "env-" + std::to_string((i / 2) % streams);
      auto appended = store_->Append({ToStream(a, ExpectedVersion::Any(), {MakeEvent("A")}),
                                      ToStream(b, ExpectedVersion::Any(), {MakeEvent("B")})},
                                     {.sync = false});
      ASSERT_TRUE(appended.ok()) << appended.status().ToString();
    }
  }

  bool Delivered(const KafkaRelay& relay) {
    return WaitFor([&] { return relay.stats().checkpoint == store_->LastPosition(); });
  }

  // Checks what the topic holds against the log: every position at least
  // once; per partition, dropping "position <= highest seen" leaves each
  // event exactly once and in log order; keys keep to one partition.
  void ExpectTopicMatchesLog(const std::vector<KafkaMessage>& messages) {
    const std::vector<RecordedEvent> log = ReadAllEvents();
    std::map<int32_t, uint64_t> highest;
    std::map<std::string, int32_t> partition_of;
    std::set<uint64_t> first_seen;
    for (const KafkaMessage& m : messages) {
      const uint64_t position = m.position();
      ASSERT_GE(position, 1u);
      ASSERT_LE(position, log.size());
      const RecordedEvent& e = log[position - 1];
      EXPECT_EQ(m.key, e.stream_id);
      EXPECT_EQ(m.headers.at("event-id"), e.data.event_id.ToString());
      EXPECT_EQ(m.headers.at("event-type"), e.data.type);
      EXPECT_EQ(m.headers.at("stream-version"), std::to_string(e.stream_version));
      EXPECT_EQ(m.headers.at("content-type"),
                "application/x-protobuf; messageType=remotegpu.domain.Envelope");
      auto decoded = DecodeEnvelope(m.value);
      ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
      EXPECT_EQ(decoded->hash, e.hash);
      EXPECT_EQ(decoded->global_position, position);
      auto [it, inserted] = partition_of.emplace(m.key, m.partition);
      EXPECT_EQ(it->second, m.partition) << "stream " << m.key << " in two partitions";
      if (position <= highest[m.partition]) {
        EXPECT_TRUE(first_seen.count(position))
            << "position " << position << " dropped as a duplicate but never seen";
        continue;
      }
      highest[m.partition] = position;
      EXPECT_TRUE(first_seen.insert(position).second);
    }
    EXPECT_EQ(first_seen.size(), log.size());
  }

  std::unique_ptr<MockKafka> kafka_;
};

TEST_F(KafkaRelayTest, EveryEventArrivesOnceInStreamOrderWithKeyAndHeaders) {
  AppendEvents(600, 25);
  auto relay = StartRelay();
  ASSERT_NE(relay, nullptr);
  ASSERT_TRUE(Delivered(*relay));
  AppendEvents(200, 25);  // Live events after the catch-up.
  ASSERT_TRUE(Delivered(*relay));
  EXPECT_EQ(relay->stats().lag_events, 0u);
  EXPECT_TRUE(relay->stats().broker_reachable);

  auto messages = remotegpu::testing::ReadTopic(kafka_->bootstrap(), kTopic, 800);
  ASSERT_EQ(messages.size(), 800u);  // No restart, so no duplicate either.
  ExpectTopicMatchesLog(messages);
  // Each stream's versions arrive 1, 2, 3, … in its partition.
  std::map<std::string, uint64_t> version;
  for (const auto& m : messages) {
    EXPECT_EQ(std::stoull(m.headers.at("stream-version")), ++version[m.key]) << m.key;
  }

  // kcat, an independent client, reads the same messages.
  auto kcat = remotegpu::testing::KcatRead(kafka_->bootstrap(), kTopic);
  ASSERT_TRUE(kcat.ok()) << kcat.status().ToString();
  ASSERT_EQ(kcat->size(), messages.size());
  std::map<std::pair<int32_t, int64_t>, const KafkaMessage*> by_offset;
  for (const auto& m : messages) by_offset[{m.partition, m.offset}] = &m;
  for (const auto& line : *kcat) {
    auto it = by_offset.find({line.partition, line.offset});
    ASSERT_NE(it, by_offset.end());
    EXPECT_EQ(line.key, it->second->key);
    EXPECT_NE(line.headers.find("position=" + it->second->headers.at("position")),
              std::string::npos)
        << line.headers;
  }
}

TEST_F(KafkaRelayTest, ResumesFromItsCheckpointAfterAStop) {
  AppendEvents(300, 10);
  {
    auto relay = StartRelay();
    ASSERT_NE(relay, nullptr);
    ASSERT_TRUE(Delivered(*relay));
  }  // Stopped: the checkpoint is stored.
  auto stored = store_->LoadCheckpoint("kafka-relay:events");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ(**stored, 300u);
  AppendEvents(100, 10);
  auto relay = StartRelay();
  ASSERT_TRUE(Delivered(*relay));
  auto messages = remotegpu::testing::ReadTopic(kafka_->bootstrap(), kTopic, 400);
  EXPECT_EQ(messages.size(), 400u);  // A clean stop publishes nothing twice.
  ExpectTopicMatchesLog(messages);
}

TEST_F(KafkaRelayTest, BrokerDownDuringLoadNeitherFailsAppendsNorLosesEvents) {
  auto relay = StartRelay();
  ASSERT_NE(relay, nullptr);
  std::atomic<bool> stop{false};
  std::atomic<int> failed{0}, appended{0};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      auto result = store_->Append(
          {ToStream("host-" + std::to_string(i % 17), ExpectedVersion::Any(), {MakeEvent("A")})});
      result.ok() ? ++appended : ++failed;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  ASSERT_TRUE(WaitFor([&] { return relay->stats().checkpoint > 100; }));
  kafka_->Down();
  const int at_down = appended;
  EXPECT_TRUE(WaitFor([&] { return !relay->stats().broker_reachable; }, std::chrono::seconds(20)));
  // The log keeps growing while nothing can be delivered.
  ASSERT_TRUE(WaitFor([&] { return appended > at_down + 1000; }));
  EXPECT_GT(relay->stats().lag_events, 0u);
  kafka_->Up();
  ASSERT_TRUE(WaitFor([&] { return appended > at_down + 1500; }));
  stop = true;
  writer.join();
  EXPECT_EQ(failed, 0);
  ASSERT_TRUE(Delivered(*relay));
  EXPECT_TRUE(relay->stats().broker_reachable);
  const uint64_t total = store_->LastPosition();
  ExpectTopicMatchesLog(remotegpu::testing::ReadTopic(kafka_->bootstrap(), kTopic, total));
}

TEST_F(KafkaRelayTest, RefusesBadOptions) {
  EXPECT_EQ(KafkaRelay::Start(*store_, {.brokers = ""}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(KafkaRelay::Start(*store_, {.brokers = kafka_->bootstrap(),
                                        .extra_config = {{"no.such.property", "1"}}})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace remotegpu::eventstore
