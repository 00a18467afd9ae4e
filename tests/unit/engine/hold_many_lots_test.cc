// A HOLD whose credits come from more lots than fit in a hold-pool slot
// (kInlineDebitSpans): allowed like the same call without HOLD, and its
// SETTLE COMMIT, CANCEL and expiry are money-exact lot by lot — every lot
// gets back exactly what it gave, Σ ledger = balance throughout.
#include <gtest/gtest.h>

#include "unit/engine/limit_specs.h"

#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "control/contract_admin.h"
#include "engine/engine.h"

namespace tollgate {
namespace {

constexpr Nanos kStart = testing::kTestStart;

// Seven recharges of 100..700 reach seven ladder steps: seven lots of
// 2, 5, 10, 16, 25, 40 and 70 credits at 50, 40, 30, 25, 20, 15 and 10 (no
// wallet left over), 2,800.00 minor units in all.
constexpr int64_t kAmounts[] = {100, 200, 300, 400, 500, 600, 700};
constexpr int64_t kCredits[] = {2, 5, 10, 16, 25, 40, 70};
constexpr int64_t kTotal = 2800;
// A cost that empties the first six lots and takes one credit of the seventh.
constexpr int64_t kSevenLotCost = 2 + 5 + 10 + 16 + 25 + 40 + 1;
constexpr int64_t kBalanceAfter = 69 * 10;

PriceLadder seven_steps() {
  auto ladder = PriceLadder::create(
      {{0, 50}, {200, 40}, {300, 30}, {400, 25}, {500, 20}, {600, 15}, {700, 10}});
  EXPECT_TRUE(ladder.has_value());
  return *ladder;
}

class HoldManyLots : public ::testing::Test {
 protected:
  void SetUp() override {
    EngineOptions o;
    for (auto [name, policy] : {std::pair{"cancel", HoldTimeoutPolicy::kCancel},
                                std::pair{"commit", HoldTimeoutPolicy::kCommit}}) {
      PolicySpec p;
      p.name = name;
      p.limits = {testing::quota("daily", 1000)};
      ContractRules rules;
      rules.pricing = seven_steps();
      rules.concurrency = {ConcurrencyLimit{"inflight", 4, false}};
      rules.hold_timeout = policy;
      p.rules = rules;
      o.contracts.push_back(p);
    }
    auto e = Engine::create(o, reclaimer_, now_, state_);
    ASSERT_TRUE(e.has_value()) << e.error().front();
    engine_ = std::move(*e);
    admin_ = std::make_unique<ContractAdmin>([this]() -> Engine& { return *engine_; }, state_);
    for (const std::string key : {"cancel", "commit"})
      for (size_t i = 0; i < std::size(kAmounts); ++i)
        ASSERT_TRUE(admin_->recharge(key, std::to_string(kAmounts[i]), key + "-pay-" + std::to_string(i), 0, now_)
                        .has_value());
  }
  Decision hold(std::string_view key, std::string_view id, int64_t cost = kSevenLotCost, int64_t hold_ms = 5000) {
    CheckRequest r;
    r.key = key;
    r.cost = cost;
    r.id = id;
    r.hold_ms = hold_ms;
    return engine_->check(r, now_, 0);
  }
  Account& account(std::string_view key) { return *state_.find(key)->account(); }
  std::vector<int64_t> remaining(std::string_view key) {
    std::vector<int64_t> out;
    for (const LotState& lot : account(key).snapshot().lots) out.push_back(lot.remaining());
    return out;
  }
  // Flushes the debit counters into the ledger and checks Σ ledger = balance.
  void expect_ledger_matches(std::string_view key) {
    admin_->flush_debits(now_);
    auto ok = check_invariant(state_.ledger(), key, account(key).balance());
    EXPECT_TRUE(ok.has_value()) << ok.error();
  }
  int64_t quota_used(std::string_view key) {
    CheckRequest r;
    r.key = key;
    r.cost = 0;
    return 1000 - engine_->peek(r, now_).remaining;
  }

  Reclaimer reclaimer_;
  RuntimeState state_;
  Nanos now_ = kStart;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<ContractAdmin> admin_;
};

const std::vector<int64_t> kFull(std::begin(kCredits), std::end(kCredits));
const std::vector<int64_t> kAfterHold = {0, 0, 0, 0, 0, 0, 69};

// Verifies the seven-lot HOLD is allowed with the exact balance after it, and
// CANCEL gives every lot back exactly what it gave (and the quota its units).
TEST_F(HoldManyLots, CancelRestoresEveryLot) {
  ASSERT_EQ(remaining("cancel"), kFull);
  ASSERT_EQ(account("cancel").balance(), kTotal);
  const Decision d = hold("cancel", "h");
  ASSERT_TRUE(d.allowed) << d.limit;
  EXPECT_EQ(d.balance, kBalanceAfter);
  EXPECT_EQ(remaining("cancel"), kAfterHold);
  EXPECT_EQ(state_.find("cancel")->open_holds().load(), 1);
  EXPECT_EQ(quota_used("cancel"), kSevenLotCost);
  expect_ledger_matches("cancel");

  ASSERT_TRUE(engine_->settle("cancel", "h", false, now_));
  EXPECT_FALSE(engine_->settle("cancel", "h", false, now_));
  EXPECT_EQ(remaining("cancel"), kFull);
  EXPECT_EQ(account("cancel").balance(), kTotal);
  EXPECT_EQ(state_.find("cancel")->open_holds().load(), 0);
  EXPECT_EQ(quota_used("cancel"), 0);
  expect_ledger_matches("cancel");
  // The refunded credits are spent again, oldest lot first.
  EXPECT_EQ(hold("cancel", "again", 3).balance, kTotal - 2 * 50 - 40);
}

// Verifies SETTLE COMMIT keeps the seven-lot charge and frees the slot.
TEST_F(HoldManyLots, CommitKeepsTheCharge) {
  ASSERT_TRUE(hold("cancel", "h").allowed);
  ASSERT_TRUE(engine_->settle("cancel", "h", true, now_));
  EXPECT_EQ(remaining("cancel"), kAfterHold);
  EXPECT_EQ(account("cancel").balance(), kBalanceAfter);
  EXPECT_EQ(state_.find("cancel")->open_holds().load(), 0);
  EXPECT_EQ(quota_used("cancel"), kSevenLotCost);
  expect_ledger_matches("cancel");
}

// Verifies expiry settles seven-lot holds by hold_timeout on the sweep: cancel
// restores every lot, commit keeps the charge.
TEST_F(HoldManyLots, ExpiryBySweep) {
  ASSERT_TRUE(hold("cancel", "h", kSevenLotCost, 1000).allowed);
  ASSERT_TRUE(hold("commit", "h", kSevenLotCost, 1000).allowed);
  EXPECT_EQ(engine_->expire_holds(0, now_ + kNanosPerSecond - 1), 0u);
  EXPECT_EQ(engine_->expire_holds(0, now_ + kNanosPerSecond), 2u);
  EXPECT_EQ(remaining("cancel"), kFull);
  EXPECT_EQ(account("cancel").balance(), kTotal);
  EXPECT_EQ(remaining("commit"), kAfterHold);
  EXPECT_EQ(account("commit").balance(), kBalanceAfter);
  EXPECT_EQ(engine_->holds().open(), 0u);
  expect_ledger_matches("cancel");
  expect_ledger_matches("commit");
}

// Verifies holds over few and many lots side by side: each CANCEL returns
// exactly its own spans, whatever order they settle in, and export_holds
// reports every span of a spilled hold.
TEST_F(HoldManyLots, MixedHoldsSettleIndependently) {
  ASSERT_TRUE(hold("cancel", "small", 3).allowed);               // lots 0 (2) and 1 (1)
  ASSERT_TRUE(hold("cancel", "big", 4 + 10 + 16 + 25 + 40 + 5).allowed);  // lots 1..6
  ASSERT_TRUE(hold("cancel", "tail", 60).allowed);               // lot 6
  EXPECT_EQ(remaining("cancel"), (std::vector<int64_t>{0, 0, 0, 0, 0, 0, 5}));
  const std::vector<HoldImage> images = engine_->export_holds();
  ASSERT_EQ(images.size(), 3u);
  size_t spans = 0;
  for (const HoldImage& image : images) spans += image.spans.size();
  EXPECT_EQ(spans, 2u + 6u + 1u);
  ASSERT_TRUE(engine_->settle("cancel", "big", false, now_));
  EXPECT_EQ(remaining("cancel"), (std::vector<int64_t>{0, 4, 10, 16, 25, 40, 10}));
  ASSERT_TRUE(engine_->settle("cancel", "small", false, now_));
  ASSERT_TRUE(engine_->settle("cancel", "tail", false, now_));
  EXPECT_EQ(remaining("cancel"), kFull);
  EXPECT_EQ(account("cancel").balance(), kTotal);
  expect_ledger_matches("cancel");
}

}  // namespace
}  // namespace tollgate
