// MONITOR ACK's state: RuntimeState::acknowledge_event and the
// unacknowledged gauge (engine/runtime_state.h).
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "engine/runtime_state.h"

namespace tollgate {
namespace {

Event event(std::string kind, std::string contract = "acme") {
  Event e;
  e.time_ms = 1000;
  e.kind = std::move(kind);
  e.contract = std::move(contract);
  e.detail = "d";
  return e;
}

uint64_t gauge(RuntimeState& s) { return s.monitor_counters().unacknowledged.load(); }

// Verifies a firing is acknowledged once (who, when, note kept; a second ack
// changes nothing), that events which call for no ack and seqs not kept are
// refused, and that the gauge counts the firings and actions not acknowledged.
TEST(EventAck, AcknowledgesFiringsAndActionsOnce) {
  RuntimeState s;
  const uint64_t suspend = s.add_event(event("suspend"));
  const uint64_t fired = s.add_event(event("monitor.fired"));
  const uint64_t action = s.add_event(event("monitor.action"));
  const uint64_t cleared = s.add_event(event("monitor.cleared"));
  EXPECT_EQ(gauge(s), 2u);

  auto ack = s.acknowledge_event(fired, 1001, 5000, "seen, calling them");
  ASSERT_TRUE(ack.has_value());
  EXPECT_TRUE(ack->newly);
  EXPECT_EQ(ack->event.seq, fired);
  EXPECT_EQ(ack->event.acked_ms, 5000);
  EXPECT_EQ(ack->event.acked_by, 1001);
  EXPECT_EQ(ack->event.ack_note, "seen, calling them");
  EXPECT_EQ(gauge(s), 1u);
  EXPECT_EQ(s.monitor_counters().acks.load(), 1u);

  auto again = s.acknowledge_event(fired, 2002, 9000, "other");
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(again->newly);
  EXPECT_EQ(again->event.acked_by, 1001) << "the first ack stays";
  EXPECT_EQ(again->event.ack_note, "seen, calling them");
  EXPECT_EQ(gauge(s), 1u);
  EXPECT_EQ(s.monitor_counters().acks.load(), 1u);

  auto listed = s.events(fired - 1);
  ASSERT_FALSE(listed.empty());
  EXPECT_EQ(listed.front().seq, fired);
  EXPECT_EQ(listed.front().acked_ms, 5000);

  for (uint64_t seq : {suspend, cleared}) {
    auto refused = s.acknowledge_event(seq, 1, 1, "");
    ASSERT_FALSE(refused.has_value()) << seq;
    EXPECT_EQ(refused.error(), EventAckRefusal::kNotAckable);
  }
  for (uint64_t seq : {uint64_t{0}, action + 100}) {
    auto refused = s.acknowledge_event(seq, 1, 1, "");
    ASSERT_FALSE(refused.has_value()) << seq;
    EXPECT_EQ(refused.error(), EventAckRefusal::kNoSuchEvent);
  }
  ASSERT_TRUE(s.acknowledge_event(action, 1, 0, "").has_value());
  EXPECT_EQ(s.events(action - 1).front().acked_ms, 1) << "acknowledged at 0 ms still reads as acknowledged";
  EXPECT_EQ(gauge(s), 0u);
}

// Verifies that when the oldest events are dropped (the list keeps
// kMaxEvents), their unacknowledged firings leave the gauge with them, and
// that an ack of a dropped seq is refused as not kept.
TEST(EventAck, DroppedEventsLeaveTheGauge) {
  RuntimeState s;
  const uint64_t first = s.add_event(event("monitor.fired"));
  const uint64_t acked = s.add_event(event("monitor.fired"));
  ASSERT_TRUE(s.acknowledge_event(acked, 1, 1, "").has_value());
  for (size_t i = 2; i < RuntimeState::kMaxEvents; ++i) s.add_event(event(i % 2 ? "monitor.action" : "reset"));
  const uint64_t expected_before = 1 + (RuntimeState::kMaxEvents - 2) / 2;  // `first` + the actions
  EXPECT_EQ(gauge(s), expected_before);
  s.add_event(event("reset"));  // one past the cap: the oldest quarter goes
  auto kept = s.events(0);
  ASSERT_EQ(kept.size(), RuntimeState::kMaxEvents + 1 - RuntimeState::kMaxEvents / 4);
  uint64_t open = 0;
  for (const Event& e : kept) open += ackable_event_kind(e.kind) && e.acked_ms == 0;
  EXPECT_EQ(gauge(s), open);
  auto refused = s.acknowledge_event(first, 1, 1, "");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error(), EventAckRefusal::kNoSuchEvent);
}

// Verifies acks from several threads while events keep being added: each
// firing is acknowledged exactly once and the gauge ends at zero.
TEST(EventAck, ConcurrentAcksAcknowledgeEachFiringOnce) {
  RuntimeState s;
  std::vector<uint64_t> seqs;
  for (int i = 0; i < 2000; ++i) seqs.push_back(s.add_event(event("monitor.fired")));
  std::atomic<int> newly{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (uint64_t seq : seqs) {
        auto a = s.acknowledge_event(seq, t, 1, "");
        if (a && a->newly) newly.fetch_add(1);
      }
    });
  threads.emplace_back([&] {
    for (int i = 0; i < 2000; ++i) s.add_event(event("reset"));
  });
  for (auto& t : threads) t.join();
  EXPECT_EQ(newly.load(), 2000);
  EXPECT_EQ(gauge(s), 0u);
  EXPECT_EQ(s.monitor_counters().acks.load(), 2000u);
}

}  // namespace
}  // namespace tollgate
