// apply_admin_record (engine/admin_record.h) on replayed admin records whose ledger entry does not
// match the mutation (found by tests/fuzz/store_recovery_fuzz.cc).
#include <gtest/gtest.h>

#include "unit/engine/limit_specs.h"

#include <memory>
#include <mutex>
#include <optional>

#include "commands/admin_service.h"
#include "control/contract_admin.h"
#include "engine/admin_record.h"
#include "engine/engine.h"

namespace tollgate {
namespace {

constexpr Nanos kStart = testing::kTestStart;

// Keeps the last record it was asked to make durable.
class RecordingHook final : public DurabilityHook {
 public:
  std::unique_lock<std::mutex> exclusive() override { return std::unique_lock<std::mutex>(mutex_); }
  std::expected<void, std::string> durable(AdminRecord& record) override {
    last = record;
    return {};
  }
  std::expected<std::string, std::string> snapshot_now() override { return "none"; }
  std::optional<AdminRecord> last;

 private:
  std::mutex mutex_;
};

// A priced contract "acme" and a plain one, "beta", in a fresh state.
struct Daemon {
  Daemon() {
    EngineOptions o;
    for (const char* name : {"acme", "beta"}) {
      PolicySpec p;
      p.name = name;
      p.limits = {testing::quota("daily", 1000)};
      ContractRules rules;
      rules.pricing = PriceLadder::flat(100);
      p.rules = rules;
      o.contracts.push_back(p);
    }
    engine = std::move(*Engine::create(o, reclaimer, kStart, state));
    admin = std::make_unique<ContractAdmin>([this]() -> Engine& { return *engine; }, state);
    admin->set_durability(&hook);
  }
  // What recovery does with a journaled record.
  std::expected<void, std::string> apply(const AdminRecord& record) { return apply_admin_record(record, *engine, state); }
  int64_t balance(const char* key) { return state.find(key)->account()->balance(); }

  Reclaimer reclaimer;
  RuntimeState state;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<ContractAdmin> admin;
  RecordingHook hook;
};

AdminRecord recharge_record() {
  Daemon live;
  EXPECT_TRUE(live.admin->recharge("acme", "2000", "pay-1", 7, kStart).has_value());
  EXPECT_TRUE(live.hook.last.has_value());
  return *live.hook.last;
}

// Verifies a recharge record replays: the lot and its ledger entry, Σ ledger == balance.
TEST(AdminRecordApply, RechargeRecordReplays) {
  Daemon d;
  ASSERT_TRUE(d.apply(recharge_record()).has_value());
  EXPECT_EQ(d.balance("acme"), 2000);
  EXPECT_TRUE(check_invariant(d.state.ledger(), "acme", d.balance("acme")).has_value());
}

// Verifies a retried payment id answers the first reply and adds nothing,
// and reusing it for another amount or contract is refused with the texts
// clients see: the money path the daemon takes, lot, payment and ledger.
TEST(AdminRecordApply, PaymentIdAppliesOnce) {
  Daemon d;
  auto first = d.admin->recharge("acme", "2000", "pay-1", 7, kStart);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, (RechargeReply{20, 100, 2000}));
  ASSERT_TRUE(d.state.find("acme")->account()->try_debit(1).ok());  // the balance moves on; the replay does not
  auto again = d.admin->recharge("acme", "2000", "pay-1", 7, kStart);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, *first);
  auto other_amount = d.admin->recharge("acme", "3000", "pay-1", 7, kStart);
  ASSERT_FALSE(other_amount.has_value());
  EXPECT_EQ(admin_error_text(other_amount.error()), "ERR payment id pay-1 was used with amount 2000");
  auto other_contract = d.admin->recharge("beta", "2000", "pay-1", 7, kStart);
  ASSERT_FALSE(other_contract.has_value());
  EXPECT_EQ(admin_error_text(other_contract.error()), "ERR payment id pay-1 was used for contract acme");
  EXPECT_EQ(d.state.find("acme")->account()->lot_count(), 1u);
  EXPECT_EQ(d.state.find("beta")->account()->lot_count(), 0u);
  EXPECT_EQ(d.state.ledger().entries("acme").size(), 1u);
  EXPECT_EQ(d.state.payments().size(), 1u);
  EXPECT_EQ(d.state.payments().find("pay-1")->amount, 2000);
  EXPECT_EQ(d.balance("acme"), 1900);
}

// Verifies a recharge record whose ledger entry disagrees with its lot (another
// amount, another contract, another lot or payment id, another kind) is
// refused with nothing applied. Before, apply restored the lot and appended
// the entry as they were: recovery started with Σ ledger != balance (e.g.
// 149772 in the ledger against a 150000 lot; or a lot in one contract and its
// money in another's ledger).
TEST(AdminRecordApply, RefusesARechargeWhoseLedgerEntryDisagrees) {
  const AdminRecord good = recharge_record();
  std::vector<AdminRecord> bad(5, good);
  bad[0].ledger_entry.amount = 1772;
  bad[1].ledger_entry.contract = "beta";
  bad[2].ledger_entry.lot = 3;
  bad[3].ledger_entry.id = "pay-2";
  bad[4].ledger_entry.kind = LedgerKind::kAdjust;
  for (size_t i = 0; i < bad.size(); ++i) {
    Daemon d;
    auto applied = d.apply(bad[i]);
    EXPECT_FALSE(applied.has_value()) << "case " << i;
    EXPECT_EQ(d.state.find("acme")->account()->lot_count(), 0u) << "case " << i;
    EXPECT_TRUE(d.state.ledger().entries("acme").empty()) << "case " << i;
    EXPECT_TRUE(d.state.ledger().entries("beta").empty()) << "case " << i;
    EXPECT_FALSE(d.state.payments().find("pay-1").has_value()) << "case " << i;
  }
}

// Verifies a replayed recharge of a contract no longer priced (here: no
// longer in the config at all) whose lot has no positive price is refused,
// not a crash: PriceLadder::flat aborted on it.
TEST(AdminRecordApply, RefusesARechargeWithoutAPositivePrice) {
  AdminRecord bad = recharge_record();
  bad.contract = bad.ledger_entry.contract = "gone";
  bad.lot.unit_price = 0;
  Daemon d;
  auto applied = d.apply(bad);
  ASSERT_FALSE(applied.has_value());
  EXPECT_NE(applied.error().find("unit price 0"), std::string::npos) << applied.error();
  EXPECT_TRUE(d.state.ledger().entries("gone").empty());
}

// Verifies a status record carrying money in its ledger entry is refused.
TEST(AdminRecordApply, RefusesAStatusRecordWithMoney) {
  AdminRecord record;
  {
    Daemon live;
    ASSERT_TRUE(live.admin->suspend("acme", "audit", 7, kStart).has_value());
    record = *live.hook.last;
  }
  Daemon d;
  ASSERT_TRUE(d.apply(record).has_value());
  EXPECT_EQ(d.state.find("acme")->status(), ContractStatus::kSuspended);
  record.ledger_entry.amount = 500;
  Daemon other;
  EXPECT_FALSE(other.apply(record).has_value());
  EXPECT_EQ(other.state.find("acme")->status(), ContractStatus::kActive);
  EXPECT_TRUE(other.state.ledger().entries("acme").empty());
}

}  // namespace
}  // namespace tollgate
