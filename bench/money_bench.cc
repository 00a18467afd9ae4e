// ns per Account::try_debit on the common case: one live lot, cost 1.
// Threads share one account, so 2 threads measure CAS contention on one lot.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <limits>

#include "engine/money/account.h"
#include "support/recharge.h"

namespace tollgate {
namespace {

Account& shared_account() {
  // Enough credits that no run drains it: INT64_MAX credits at price 1.
  static Account* account = [] {
    auto* a = new Account(PriceLadder::flat(1));
    if (!apply_recharge(*a, std::numeric_limits<int64_t>::max(), 0).has_value()) std::abort();
    return a;
  }();
  return *account;
}

void BM_TryDebitSingleLot(benchmark::State& state) {
  Account& account = shared_account();
  for (auto _ : state) {
    DebitResult result = account.try_debit(1);
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TryDebitSingleLot)->Threads(1)->Threads(2)->UseRealTime();

// Debit then refund (a cancelled hold): two CAS on one lot plus the hint.
void BM_TryDebitAndRefund(benchmark::State& state) {
  Account& account = shared_account();
  for (auto _ : state) {
    DebitResult result = account.try_debit(1);
    benchmark::DoNotOptimize(account.refund(result.taken()));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TryDebitAndRefund)->Threads(1)->Threads(2)->UseRealTime();

// The balance read that accompanies every decision.
void BM_Balance(benchmark::State& state) {
  Account& account = shared_account();
  for (auto _ : state) benchmark::DoNotOptimize(account.balance());
}
BENCHMARK(BM_Balance);

}  // namespace
}  // namespace tollgate
