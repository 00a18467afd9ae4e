// Contracts' `fail:` policies while the state store (Redis) is unavailable:
// closed denies UNAVAILABLE, open allows without charging, local decides as
// usual; CHECKs are counted, PEEK answers the same without counting.
#include <gtest/gtest.h>

#include "engine/engine.h"
#include "unit/engine/limit_specs.h"

namespace tollgate::testing {
namespace {

class FailPolicyTest : public EngineFixture {
 protected:
  void SetUp() override {
    EngineOptions o;
    for (auto [name, fail] : {std::pair{"shut", FailPolicy::kClosed}, std::pair{"open", FailPolicy::kOpen},
                              std::pair{"local", FailPolicy::kLocal}}) {
      PolicySpec p;
      p.name = name;
      p.limits = {quota("daily", 3)};
      ContractRules rules;
      rules.pricing = PriceLadder::flat(100);
      rules.fail = fail;
      p.rules = std::move(rules);
      o.contracts.push_back(std::move(p));
    }
    engine_ = build(o);
    ASSERT_NE(engine_, nullptr);
    for (const char* key : {"shut", "open", "local"})
      ASSERT_TRUE(state_.find(key)->account()->add_lot(LotState{0, 1000, 100, 10, 0, 0, now_}, 0).has_value());
  }
  std::unique_ptr<Engine> engine_;
};

// Verifies all three policies decide normally while the store is available.
TEST_F(FailPolicyTest, AvailableStoreDecidesNormally) {
  for (const char* key : {"shut", "open", "local"}) EXPECT_EQ(check(*engine_, key).code, Code::kOk) << key;
  EXPECT_EQ(state_.fail_closed_denied().load(), 0u);
  EXPECT_EQ(state_.fail_open_allowed().load(), 0u);
}

// Verifies closed denies UNAVAILABLE (limit `storage`, retry hint) and charges nothing.
TEST_F(FailPolicyTest, ClosedDeniesUnavailable) {
  state_.set_storage_available(false);
  Decision d = check(*engine_, "shut");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.code, Code::kUnavailable);
  EXPECT_EQ(code_name(d.code), "UNAVAILABLE");
  EXPECT_EQ(d.limit, kStorageLimit);
  EXPECT_EQ(d.retry_after_ms, kUnavailableRetryMs);
  EXPECT_EQ(d.balance, 1000);
  EXPECT_EQ(peek(*engine_, "shut").code, Code::kUnavailable);
  EXPECT_EQ(state_.fail_closed_denied().load(), 1u) << "PEEK is not counted";
  state_.set_storage_available(true);
  EXPECT_EQ(check(*engine_, "shut").remaining, 2) << "nothing was charged while down";
}

// Verifies open allows without charging quota or balance, counted.
TEST_F(FailPolicyTest, OpenAllowsWithoutCharging) {
  state_.set_storage_available(false);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(check(*engine_, "open").allowed);
  EXPECT_EQ(state_.fail_open_allowed().load(), 5u);
  EXPECT_EQ(state_.find("open")->account()->balance(), 1000);
  state_.set_storage_available(true);
  EXPECT_EQ(check(*engine_, "open").remaining, 2);
}

// Verifies local keeps deciding (and charging) from local state.
TEST_F(FailPolicyTest, LocalDecidesFromLocalState) {
  state_.set_storage_available(false);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(check(*engine_, "local").allowed);
  EXPECT_EQ(check(*engine_, "local").code, Code::kQuota);
  EXPECT_EQ(state_.find("local")->account()->balance(), 700);
}

// Verifies status gates still come first: a suspended contract says SUSPENDED, not UNAVAILABLE.
TEST_F(FailPolicyTest, StatusGatesComeFirst) {
  state_.set_storage_available(false);
  state_.find("shut")->override_status(ContractStatus::kSuspended, "unpaid");
  EXPECT_EQ(check(*engine_, "shut").code, Code::kSuspended);
}

}  // namespace
}  // namespace tollgate::testing
