// Many threads debiting (and refunding) one account: exact totals, no
// over-admission, and a ledger that balances while workers run.
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "engine/money/account.h"
#include "engine/money/ledger.h"
#include "support/recharge.h"

namespace tollgate {
namespace {

constexpr Nanos kNow = 1'700'000'000 * kNanosPerSecond;
constexpr int kThreads = 4;

// Three lots at three prices: 5,000 @100 + 11,111 @90 + 25,000 @80, wallet 10.
constexpr int64_t kCredits = 5'000 + 11'111 + 25'000;
constexpr int64_t kWallet = 10;

struct Fixture {
  Account account{*PriceLadder::create({{2'000'000, 80}, {1'000'000, 90}, {0, 100}})};
  Ledger ledger;

  Fixture() {
    for (int64_t amount : {500'000, 1'000'000, 2'000'000})
      EXPECT_TRUE(apply_recharge(account, ledger, nullptr, "k", amount, kNow).has_value());
  }
};

// Net credits and money one worker consumed (debits minus its own refunds).
struct Tally {
  int64_t credits = 0;
  int64_t money = 0;
  void add(const Account& account, const DebitResult& debit, int sign) {
    for (const DebitSpan& span : debit.taken()) {
      credits += sign * span.credits;
      money += sign * span.credits * account.lot(span.lot)->unit_price;
    }
  }
};

// Each worker debits `cost(i)` until `stop` or it is denied `patience` times
// in a row; every `refund_every`-th success is refunded at once.
template <typename Cost>
std::vector<Tally> run_workers(Account& account, Cost cost, int refund_every, int patience,
                               const std::atomic<bool>* stop = nullptr) {
  std::vector<Tally> tallies(kThreads);
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      Tally& tally = tallies[t];
      int denied = 0;
      for (int64_t i = t; denied < patience; ++i) {
        if (stop != nullptr && stop->load(std::memory_order_relaxed)) break;
        const DebitResult debit = account.try_debit(cost(i));
        if (!debit.ok()) {
          ++denied;
          continue;
        }
        denied = 0;
        tally.add(account, debit, +1);
        if (refund_every > 0 && i % refund_every == 0) {
          ASSERT_EQ(account.refund(debit.taken()), RefundStatus::kOk);
          tally.add(account, debit, -1);
        }
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  return tallies;
}

Tally total(const std::vector<Tally>& tallies) {
  Tally sum;
  for (const Tally& t : tallies) {
    sum.credits += t.credits;
    sum.money += t.money;
  }
  return sum;
}

// With only cost-1 debits and no refunds a denial means empty, so drain to zero.
Tally drain(Account& account) { return total(run_workers(account, [](int64_t) { return 1; }, 0, 1)); }

// Verifies 4 threads debiting cost 1 consume exactly the credits, oldest lot first in total.
TEST(MoneyAccountConcurrency, UnitDebitsConsumeExactly) {
  Fixture f;
  const Tally consumed = total(run_workers(f.account, [](int64_t) { return 1; }, 0, 1));
  EXPECT_EQ(consumed.credits, kCredits);
  EXPECT_EQ(consumed.money, 3'500'000 - kWallet);
  EXPECT_EQ(f.account.credits(), 0);
  EXPECT_EQ(f.account.balance(), kWallet);
  for (uint32_t i = 0; i < 3; ++i) EXPECT_EQ(f.account.lot(i)->debited, f.account.lot(i)->credits);
  const FlushResult flush = f.ledger.flush_debits(f.account, "k", kNow);
  EXPECT_EQ(flush.balance, kWallet);
  EXPECT_TRUE(check_invariant(f.ledger, "k", flush.balance).has_value());
}

// Verifies mixed costs spanning lots never over-admit, and a drain then reaches exactly zero.
TEST(MoneyAccountConcurrency, MixedCostsNeverOverAdmit) {
  Fixture f;
  const Tally mixed = total(run_workers(f.account, [](int64_t i) { return 1 + i % 7; }, 0, 50));
  EXPECT_LE(mixed.credits, kCredits);
  EXPECT_EQ(f.account.credits(), kCredits - mixed.credits);
  const Tally rest = drain(f.account);
  EXPECT_EQ(mixed.credits + rest.credits, kCredits);
  EXPECT_EQ(mixed.money + rest.money, 3'500'000 - kWallet);
  EXPECT_EQ(f.account.balance(), kWallet);
  const FlushResult flush = f.ledger.flush_debits(f.account, "k", kNow);
  EXPECT_EQ(flush.balance, kWallet);
  EXPECT_TRUE(check_invariant(f.ledger, "k", flush.balance).has_value());
}

// Verifies interleaved refunds (cancelled holds) keep totals exact.
TEST(MoneyAccountConcurrency, InterleavedRefundsStayExact) {
  Fixture f;
  const Tally net = total(run_workers(f.account, [](int64_t i) { return 1 + i % 5; }, 3, 50));
  EXPECT_EQ(f.account.credits(), kCredits - net.credits);
  EXPECT_EQ(f.account.balance(), 3'500'000 - net.money);
  const Tally rest = drain(f.account);
  EXPECT_EQ(net.credits + rest.credits, kCredits);
  EXPECT_EQ(f.account.balance(), kWallet);
  for (uint32_t i = 0; i < 3; ++i) EXPECT_EQ(f.account.lot(i)->remaining(), 0);
  const FlushResult flush = f.ledger.flush_debits(f.account, "k", kNow);
  EXPECT_TRUE(check_invariant(f.ledger, "k", flush.balance).has_value());
  EXPECT_EQ(flush.balance, kWallet);
}

// Verifies the ledger invariant holds at every flush taken while workers debit and refund.
TEST(MoneyAccountConcurrency, InvariantHoldsDuringDebits) {
  Fixture f;
  // A large fourth lot so the workers are still busy across many flushes.
  constexpr int64_t kBigTopUp = 80'000'000;  // 1,000,000 credits at 80
  EXPECT_TRUE(apply_recharge(f.account, f.ledger, nullptr, "k", kBigTopUp, kNow).has_value());
  const int64_t total_money = 3'500'000 + kBigTopUp;
  std::atomic<bool> stop{false};
  std::vector<Tally> tallies;
  std::thread runner([&] {
    tallies = run_workers(f.account, [](int64_t i) { return 1 + i % 3; }, 4, 1'000'000, &stop);
  });
  // Start flushing once the workers are debiting; stop when they have drained it.
  while (f.account.credits() == 1'000'000 + kCredits) std::this_thread::yield();
  int flushes = 0;
  int concurrent_flushes = 0;  // flushes that found new debits
  for (;; ++flushes) {
    const FlushResult flush = f.ledger.flush_debits(f.account, "k", kNow + flushes);
    const auto invariant = check_invariant(f.ledger, "k", flush.balance);
    ASSERT_TRUE(invariant.has_value()) << invariant.error();
    ASSERT_GE(flush.balance, kWallet);
    ASSERT_LE(flush.balance, total_money);
    if (flush.appended > 0) ++concurrent_flushes;
    if (flush.credits < 1'000) break;
  }
  stop.store(true);
  runner.join();
  const FlushResult final_flush = f.ledger.flush_debits(f.account, "k", kNow);
  EXPECT_TRUE(check_invariant(f.ledger, "k", final_flush.balance).has_value());
  EXPECT_EQ(final_flush.balance, f.account.balance());
  EXPECT_EQ(final_flush.balance, total_money - total(tallies).money);
  EXPECT_GT(concurrent_flushes, 0);
  RecordProperty("concurrent_flushes", concurrent_flushes);
}

// Verifies reserve / take_reserved / release from 4 threads over many small
// lots with refunds racing: never more taken than there was, and what is
// left plus what was taken is exactly what was bought.
TEST(MoneyAccountConcurrency, ReservationsOverSmallLotsStayExact) {
  Account account(PriceLadder::flat(3));
  constexpr int kLots = 400;
  for (int i = 0; i < kLots; ++i) ASSERT_TRUE(apply_recharge(account, 3 * (1 + i % 3), kNow).has_value());
  const int64_t bought = account.credits();
  std::atomic<int64_t> taken{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      for (int64_t i = t, denied = 0; denied < 50; ++i) {
        const int64_t cost = 1 + i % 11;
        if (i % 5 == 0) {  // a HOLD cancelled at once: refund races the takers
          const DebitResult held = account.try_debit(cost);
          if (held.ok()) {
            ASSERT_EQ(account.refund(held.taken()), RefundStatus::kOk);
          }
          continue;
        }
        if (!account.reserve(cost)) {
          ++denied;
          continue;
        }
        denied = 0;
        if (i % 3 == 0) {
          account.release(cost);  // denied by a limit after reserving
        } else {
          account.take_reserved(cost);
          taken.fetch_add(cost);
        }
      }
    });
  }
  for (std::thread& w : workers) w.join();
  EXPECT_EQ(account.credits() + taken.load(), bought);
  EXPECT_EQ(account.balance(), account.credits() * 3);
  // What is left can all be reserved and taken: the counter never drifted.
  const int64_t left = account.credits();
  ASSERT_TRUE(account.reserve(left));
  EXPECT_FALSE(account.reserve(1));
  account.take_reserved(left);
  EXPECT_EQ(account.credits(), 0);
}

}  // namespace
}  // namespace tollgate
