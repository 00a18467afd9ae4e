// ConnectionCount / ConnectionSlot: a connection counts from accept until it
// is freed, exactly once, wherever it ends — checked through a real Worker.
#include "net/connection_count.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <vector>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

#include "net/service.h"
#include "net/worker.h"

namespace tollgate {
namespace {

TEST(ConnectionCount, SlotsUpToTheLimitThenNone) {
  // Verifies at most `max` slots exist at once and a released slot can be
  // taken again.
  ConnectionCount count(2);
  ConnectionSlot a = count.try_acquire();
  ConnectionSlot b = count.try_acquire();
  ConnectionSlot c = count.try_acquire();
  EXPECT_TRUE(a);
  EXPECT_TRUE(b);
  EXPECT_FALSE(c);
  EXPECT_EQ(count.open(), 2u);
  a.release();
  EXPECT_EQ(count.open(), 1u);
  a.release();  // idempotent
  EXPECT_EQ(count.open(), 1u);
  ConnectionSlot d = count.try_acquire();
  EXPECT_TRUE(d);
  EXPECT_EQ(count.open(), 2u);
}

TEST(ConnectionCount, MovedSlotsReleaseOnce) {
  // Verifies moving a slot transfers it: only the last owner releases it.
  ConnectionCount count(5);
  {
    ConnectionSlot a = count.try_acquire();
    ConnectionSlot b = std::move(a);
    EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
    ConnectionSlot c;
    c = std::move(b);
    EXPECT_EQ(count.open(), 1u);
    ConnectionSlot d = count.try_acquire();
    d = std::move(c);  // d's own slot is released, c's taken over
    EXPECT_EQ(count.open(), 1u);
  }
  EXPECT_EQ(count.open(), 0u);
}

TEST(ConnectionCount, ConcurrentAcquireNeverPassesTheLimit) {
  // Verifies under contention no more than `max` slots are ever held.
  ConnectionCount count(10);
  std::atomic<size_t> held{0}, peak{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        ConnectionSlot s = count.try_acquire();
        if (!s) continue;
        size_t now = held.fetch_add(1) + 1;
        size_t p = peak.load();
        while (now > p && !peak.compare_exchange_weak(p, now)) {
        }
        held.fetch_sub(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(peak.load(), 10u);
  EXPECT_EQ(count.open(), 0u);
}

class NullService final : public Service {
 public:
  void begin_batch(int) override {}
  void end_batch(int) override {}
  Nanos batch_now(int) const override { return 0; }
  void execute(std::span<const std::string_view>, Session&, resp::ReplyWriter& out) override { out.simple("OK"); }
};

bool eventually(const std::function<bool()>& done, int timeout_ms = 5000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST(ConnectionCount, AWorkerGivesTheCountBackWhereverAConnectionEnds) {
  // Verifies the count covers a connection from adoption until it is freed:
  // closed by its peer, closed by a worker stop, or handed to a worker that
  // is already stopping.
  ConnectionLimits limits;
  NullService service;
  ConnectionCount count(10);
  auto worker = std::make_unique<Worker>(0, limits);
  ASSERT_TRUE(worker->start());
  int a[2], b[2], c[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, c), 0);
  worker->adopt(a[1], service, Session{}, count.try_acquire());
  worker->adopt(b[1], service, Session{}, count.try_acquire());
  EXPECT_EQ(count.open(), 2u);  // counted before the worker has adopted them
  ASSERT_TRUE(eventually([&] { return worker->stats().connections.load() == 2; }));
  ::close(a[0]);  // the peer goes away
  EXPECT_TRUE(eventually([&] { return count.open() == 1; }));
  worker->stop();  // closes b
  worker->adopt(c[1], service, Session{}, count.try_acquire());  // too late: closed unserved
  EXPECT_TRUE(eventually([&] { return count.open() == 0; }));
  worker->join();
  EXPECT_EQ(count.open(), 0u);
  ::close(b[0]);
  ::close(c[0]);
}

}  // namespace
}  // namespace tollgate
