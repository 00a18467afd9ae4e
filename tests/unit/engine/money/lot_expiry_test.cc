// Lot validity (`pricing.lot_validity`): lots expire at an exact instant,
// oldest first, with `expire` ledger entries; holds across an expiry; the
// DST rule of "d"; the stored formats; recovery from the ledger; the config
// loader's errors. Simulated time only.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "config/config_loader.h"
#include "engine/admin_record.h"
#include "engine/money/account.h"
#include "engine/money/ledger.h"
#include "engine/money/lot_validity.h"
#include "persist/state_codec.h"
#include "support/recharge.h"
#include "unit/config/config_test_util.h"

namespace tollgate {
namespace {

constexpr Nanos kStart = 1'700'000'000 * kNanosPerSecond;
constexpr Nanos kHour = 3'600 * kNanosPerSecond;

// An account at 100 minor units a credit, its ledger, and a recharge that
// stamps the lot with an instant, the way ContractAdmin::recharge does.
struct Money {
  Account account{PriceLadder::flat(100)};
  Ledger ledger;

  RechargeResult recharge(int64_t amount, Nanos now, Nanos expires) {
    auto plan = account.plan_recharge(amount, now);
    EXPECT_TRUE(plan.has_value());
    EXPECT_TRUE(account.add_lot(recharge_lot(*plan, now, expires), plan->wallet).has_value());
    ledger.add(recharge_entry(*plan, ledger.last_seq() + 1, now, "acme", kDaemonActor, {}));
    return *plan;
  }
  // Flushes and checks Σ ledger == balance; returns the balance.
  int64_t settled(Nanos now) {
    const FlushResult flushed = ledger.flush_debits(account, "acme", now);
    EXPECT_TRUE(check_invariant(ledger, "acme", flushed.balance).has_value());
    EXPECT_EQ(flushed.balance, account.balance());
    return flushed.balance;
  }
  std::vector<LedgerEntry> of_kind(LedgerKind kind) {
    std::vector<LedgerEntry> out;
    for (const LedgerEntry& e : ledger.entries("acme"))
      if (e.kind == kind) out.push_back(e);
    return out;
  }
};

// Verifies the instant is exact: one nanosecond before it the lot's credits
// are spendable, at it they are gone (no sweep ran), and the expire entry is
// written once however often expiry runs again.
TEST(LotExpiry, ExactInstantAndWrittenOnce) {
  Money m;
  const Nanos expires = kStart + 10 * kHour;
  m.recharge(1'000, kStart, expires);  // 10 credits
  EXPECT_EQ(m.settled(kStart), 1'000);

  EXPECT_EQ(m.account.preview_debit(1, expires - 1).covered, true);
  ASSERT_TRUE(m.account.reserve(1, expires - 1));
  m.account.take_reserved(1);
  EXPECT_EQ(m.settled(expires - 1), 900);

  EXPECT_FALSE(m.account.preview_debit(1, expires).covered);
  EXPECT_FALSE(m.account.reserve(1, expires));  // the call itself expires the lot
  EXPECT_EQ(m.account.credits(), 0);
  EXPECT_EQ(m.settled(expires), 0);
  ASSERT_EQ(m.of_kind(LedgerKind::kExpire).size(), 1u);
  EXPECT_EQ(m.of_kind(LedgerKind::kExpire)[0].amount, -900);
  EXPECT_EQ(m.of_kind(LedgerKind::kExpire)[0].lot, 0);
  EXPECT_EQ(m.of_kind(LedgerKind::kDebit).size(), 1u);  // expiry is not a debit

  EXPECT_TRUE(m.account.expire_due(expires + kHour));
  EXPECT_TRUE(m.account.expire_due(expires + 2 * kHour));
  EXPECT_EQ(m.settled(expires + 2 * kHour), 0);
  EXPECT_EQ(m.of_kind(LedgerKind::kExpire).size(), 1u);
  EXPECT_EQ(m.account.next_expiry(), Account::kNoExpiry);
}

// Verifies lots expire oldest first and only the due ones, each with its own
// entry at its own price, after partial spending, the invariant after each step.
TEST(LotExpiry, OldestFirstWithPartialSpending) {
  Money m;
  m.recharge(1'000, kStart, kStart + 1 * kHour);          // lot 0: 10 credits
  m.recharge(500, kStart + 1, kStart + 2 * kHour);        // lot 1: 5 credits
  m.recharge(700, kStart + 2, 0);                         // lot 2: 7 credits, never expires
  EXPECT_EQ(m.settled(kStart), 2'200);
  EXPECT_EQ(m.account.next_expiry(), kStart + kHour);

  // 12 credits: all of lot 0 and 2 of lot 1.
  ASSERT_TRUE(m.account.try_debit(12, kStart + 10).ok());
  EXPECT_EQ(m.settled(kStart + 10), 1'000);
  EXPECT_TRUE(m.account.expire_due(kStart + kHour));  // lot 0 is empty: nothing to expire
  EXPECT_EQ(m.settled(kStart + kHour), 1'000);
  EXPECT_TRUE(m.of_kind(LedgerKind::kExpire).empty());
  EXPECT_EQ(m.account.next_expiry(), kStart + 2 * kHour);

  ASSERT_TRUE(m.account.try_debit(1, kStart + 2 * kHour - 1).ok());  // from lot 1
  EXPECT_EQ(m.settled(kStart + 2 * kHour - 1), 900);
  // At lot 1's instant a call of 8 no longer fits (2 left there, 7 in lot 2).
  EXPECT_FALSE(m.account.try_debit(8, kStart + 2 * kHour).ok());
  EXPECT_EQ(m.settled(kStart + 2 * kHour), 700);
  ASSERT_EQ(m.of_kind(LedgerKind::kExpire).size(), 1u);
  EXPECT_EQ(m.of_kind(LedgerKind::kExpire)[0].amount, -200);
  EXPECT_EQ(m.of_kind(LedgerKind::kExpire)[0].lot, 1);
  ASSERT_TRUE(m.account.try_debit(7, kStart + 3 * kHour).ok());
  EXPECT_EQ(m.settled(kStart + 3 * kHour), 0);
  EXPECT_EQ(m.account.lot(1)->expired, 2);
  EXPECT_EQ(m.account.lot(2)->expired, 0);
}

// Verifies a wallet (minor units below one credit) never expires: it is not
// in a lot, and the next top-up spends it.
TEST(LotExpiry, WalletIsNotALot) {
  Money m;
  m.recharge(1'050, kStart, kStart + kHour);  // 10 credits, wallet 50
  EXPECT_TRUE(m.account.expire_due(kStart + kHour));
  EXPECT_EQ(m.settled(kStart + kHour), 50);
  EXPECT_EQ(m.account.wallet(), 50);
}

// Verifies a HOLD across an expiry: credits a hold took before the instant
// were spent then; committed they stay debits; cancelled after the instant
// they come back forfeited (a refund and an expire entry of the same amount,
// balance unchanged); cancelled before it they come back spendable.
TEST(LotExpiry, HoldAcrossAnExpiry) {
  Money m;
  const Nanos expires = kStart + kHour;
  m.recharge(1'000, kStart, expires);  // 10 credits
  m.recharge(300, kStart + 1, 0);      // 3 credits, never expire
  DebitResult kept = m.account.try_debit(2, kStart + 5);
  DebitResult cancelled = m.account.try_debit(3, kStart + 5);
  DebitResult early = m.account.try_debit(1, kStart + 5);
  ASSERT_TRUE(kept.ok() && cancelled.ok() && early.ok());
  EXPECT_EQ(m.settled(kStart + 5), 700);

  EXPECT_EQ(m.account.refund(early.taken(), expires - 1), RefundStatus::kOk);  // before: back in the lot
  EXPECT_EQ(m.settled(expires - 1), 800);

  EXPECT_TRUE(m.account.expire_due(expires));  // 5 left in lot 0 expire
  EXPECT_EQ(m.settled(expires), 300);
  EXPECT_EQ(m.account.refund(cancelled.taken(), expires + 10), RefundStatus::kOk);
  EXPECT_EQ(m.settled(expires + 10), 300);  // nothing came back
  EXPECT_EQ(m.account.lot(0)->forfeited, 3);
  std::vector<LedgerEntry> refunds = m.of_kind(LedgerKind::kRefund);
  std::vector<LedgerEntry> expiries = m.of_kind(LedgerKind::kExpire);
  ASSERT_EQ(refunds.size(), 2u);
  EXPECT_EQ(refunds[1].amount, 300);
  ASSERT_EQ(expiries.size(), 2u);
  EXPECT_EQ(expiries[0].amount, -500);
  EXPECT_EQ(expiries[1].amount, -300);
  // The forfeited credits are never spendable: only lot 1's 3 are.
  EXPECT_FALSE(m.account.reserve(4, expires + 20));
  ASSERT_TRUE(m.account.try_debit(3, expires + 20).ok());
  EXPECT_EQ(m.settled(expires + 20), 0);
  // A refund of more than the lot gave is refused, forfeited or not.
  const DebitSpan too_much{0, 100};
  EXPECT_EQ(m.account.refund(std::span(&too_much, 1), expires + 30), RefundStatus::kInvalidSpan);
  EXPECT_EQ(m.settled(expires + 30), 0);
}

// Verifies a refund whose clock read came before the instant, landing after
// another thread expired the lot, makes the lot due again: the next call
// expires the returned credits instead of spending them.
TEST(LotExpiry, LateRefundIsExpiredByTheNextCall) {
  Money m;
  const Nanos expires = kStart + kHour;
  m.recharge(1'000, kStart, expires);
  m.recharge(200, kStart + 1, 0);
  DebitResult held = m.account.try_debit(4, kStart + 5);
  ASSERT_TRUE(held.ok());
  EXPECT_TRUE(m.account.expire_due(expires));
  EXPECT_EQ(m.settled(expires), 200);
  EXPECT_EQ(m.account.refund(held.taken(), expires - 1), RefundStatus::kOk);
  EXPECT_LE(m.account.next_expiry(), expires);
  EXPECT_FALSE(m.account.reserve(3, expires + 1));  // only lot 1's 2 credits are spendable
  EXPECT_EQ(m.settled(expires + 1), 200);
  EXPECT_EQ(m.account.lot(0)->expired, 10);
}

// Verifies workers debiting while another thread expires at the instant lose
// and create nothing: every credit is debited or expired exactly once and
// Σ ledger == balance. Run under TSan (make build-tsan).
TEST(LotExpiry, ConcurrentDebitsAndExpiry) {
  for (int round = 0; round < 20; ++round) {
    Money m;
    const Nanos expires = kStart + kHour;
    for (int i = 0; i < 6; ++i) m.recharge(1'000, kStart + i, i % 2 == 0 ? expires : 0);  // 60 credits
    std::atomic<bool> go{false};
    std::atomic<int64_t> debited{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < 3; ++t)
      workers.emplace_back([&, t] {
        while (!go.load()) {
        }
        for (int i = 0; i < 40; ++i) {
          // Half the calls come before the instant, half at or after it.
          const Nanos now = (i + t) % 2 == 0 ? expires - 1 : expires + i;
          if (m.account.reserve(1, now)) {
            m.account.take_reserved(1);
            debited.fetch_add(1);
          }
        }
      });
    std::thread control([&] {
      while (!go.load()) {
      }
      while (!m.account.expire_due(expires)) {
      }
    });
    go.store(true);
    for (auto& w : workers) w.join();
    control.join();
    while (!m.account.expire_due(expires + kHour)) {
    }
    int64_t expired = 0;
    for (const LotState& lot : m.account.snapshot().lots) expired += lot.expired;
    EXPECT_EQ(debited.load() + expired + m.account.credits(), 60);
    for (const LotState& lot : m.account.snapshot().lots) {
      if (lot.expires != 0) {
        EXPECT_EQ(lot.remaining(), 0);
      }
    }
    m.settled(expires + kHour);
  }
}

// Verifies "d" is calendar days in the contract's zone: across the US DST
// change (2026-03-08, 02:00 -> 03:00 in New York) a 1d lot bought at noon
// expires at noon the next day, 23 h later; a fixed 24h lot 24 h later; a
// wall time the change skips moves one hour later on the clock.
TEST(LotExpiry, DaysAreCalendarDaysAcrossDst) {
  // 2026-03-07T12:00:00-05:00
  const Nanos noon = 1'772'902'800 * kNanosPerSecond;
  auto day = lot_expiry(LotValidity{.days = 1, .fixed = 0}, noon + 7, "America/New_York");
  ASSERT_TRUE(day.has_value());
  EXPECT_EQ(*day - noon, 23 * kHour + 7);  // 2026-03-08T12:00:00-04:00, nanoseconds kept
  auto fixed = lot_expiry(LotValidity{.days = 0, .fixed = 24 * kHour}, noon, "America/New_York");
  EXPECT_EQ(*fixed - noon, 24 * kHour);
  auto utc = lot_expiry(LotValidity{.days = 1, .fixed = 0}, noon, "UTC");
  EXPECT_EQ(*utc - noon, 24 * kHour);
  // Autumn: 2026-10-31T12:00:00-04:00 + 1d = 2026-11-01T12:00:00-05:00, 25 h.
  const Nanos autumn = 1'793'462'400 * kNanosPerSecond;
  EXPECT_EQ(*lot_expiry(LotValidity{.days = 1, .fixed = 0}, autumn, "America/New_York") - autumn, 25 * kHour);
  // 2026-03-07T02:30:00-05:00 + 1d: 02:30 does not exist on the 8th -> 03:30-04:00, 24 h later.
  const Nanos skipped = noon - 9 * kHour - 30 * 60 * kNanosPerSecond;
  EXPECT_EQ(*lot_expiry(LotValidity{.days = 1, .fixed = 0}, skipped, "America/New_York") - skipped, 24 * kHour);
  EXPECT_EQ(*lot_expiry(LotValidity{}, noon, "America/New_York"), 0);
  EXPECT_FALSE(lot_expiry(LotValidity{.days = 1, .fixed = 0}, noon, "Nowhere/Else").has_value());

  // And the account honours that instant to the nanosecond.
  Money m;
  m.recharge(500, noon, *day);
  EXPECT_TRUE(m.account.preview_debit(5, noon + 23 * kHour + 6).covered);
  EXPECT_FALSE(m.account.preview_debit(1, noon + 23 * kHour + 7).covered);
  EXPECT_TRUE(m.account.expire_due(*day));
  EXPECT_EQ(m.settled(*day), 0);
  EXPECT_EQ(format_lot_validity(LotValidity{.days = 365, .fixed = 0}), "365d");
  EXPECT_EQ(format_lot_validity(LotValidity{.days = 0, .fixed = 36 * kHour}), "36h");
}

// Verifies the stored formats: a recharge record and a contract image keep
// the lot's instant, records and images without one are byte for byte the
// old format (and decode with no instant), and an expire entry round-trips.
TEST(LotExpiry, StoredFormats) {
  AdminRecord r;
  r.kind = AdminRecord::Kind::kRecharge;
  r.contract = "acme";
  r.lot = LotState{.index = 0, .amount = 1'000, .unit_price = 100, .credits = 10, .created = kStart};
  r.ledger_entry = LedgerEntry{.seq = 1, .contract = "acme", .kind = LedgerKind::kRecharge, .amount = 1'000, .lot = 0,
                               .actor = kDaemonActor, .id = {}};
  const std::string old_bytes = persist::encode_admin(r);
  auto old_record = persist::decode_admin(old_bytes);
  ASSERT_TRUE(old_record.has_value());
  EXPECT_EQ(old_record->lot.expires, 0);
  r.lot.expires = kStart + kHour;
  const std::string new_bytes = persist::encode_admin(r);
  EXPECT_EQ(new_bytes.substr(0, old_bytes.size()), old_bytes);  // appended, nothing renumbered
  EXPECT_EQ(persist::decode_admin(new_bytes)->lot.expires, kStart + kHour);

  persist::ContractImage image;
  image.key = "acme";
  image.has_account = true;
  image.lots = {r.lot, LotState{.index = 1, .amount = 5, .unit_price = 5, .credits = 1}};
  auto decoded = persist::decode_contract(persist::encode_contract(image));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->lots[0].expires, kStart + kHour);
  EXPECT_EQ(decoded->lots[1].expires, 0);
  image.lots[0].expires = 0;
  decoded = persist::decode_contract(persist::encode_contract(image));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->lots[0].expires, 0);

  const LedgerEntry expire{.seq = 7, .time_ms = 5, .contract = "acme", .kind = LedgerKind::kExpire, .amount = -300,
                           .lot = 2, .actor = kDaemonActor, .id = {}};
  auto entries = persist::decode_ledger_entries(persist::encode_ledger_entries(std::span(&expire, 1)));
  ASSERT_TRUE(entries.has_value());
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0], expire);
  EXPECT_EQ(ledger_kind_name(LedgerKind::kExpire), "expire");
}

// Verifies the config: `pricing.lot_validity` beside the ladders, "d" as
// calendar days, other units exact; bad, zero and negative values, and
// lot_validity with fleet:, are errors at the line.
TEST(LotExpiry, ConfigLoader) {
  using testing::parse_ok;
  const std::string ladder = "  std:\n    - { prepay_from: 0, unit_price: 10 }\n";
  const std::string contract = "contracts:\n  acme: { pricing: std }\n";
  Config c = parse_ok("pricing:\n  lot_validity: 365d\n" + ladder + contract);
  EXPECT_EQ(c.lot_validity, (LotValidity{.days = 365, .fixed = 0}));
  EXPECT_TRUE(c.pricing.contains("std"));
  EXPECT_FALSE(c.pricing.contains("lot_validity"));
  c = parse_ok("pricing:\n  lot_validity: 90m\n" + ladder + contract);
  EXPECT_EQ(c.lot_validity, (LotValidity{.days = 0, .fixed = 90 * 60 * kNanosPerSecond}));
  c = parse_ok("pricing:\n" + ladder + contract);
  EXPECT_FALSE(c.lot_validity.enabled());

  EXPECT_ONE_ERROR("pricing:\n  lot_validity: 365\n" + ladder + contract, 2, "needs a unit");
  EXPECT_ONE_ERROR("pricing:\n  lot_validity: soon\n" + ladder + contract, 2, "pricing.lot_validity");
  EXPECT_ONE_ERROR("pricing:\n  lot_validity: 0d\n" + ladder + contract, 2, "must be longer than 0");
  EXPECT_ONE_ERROR("pricing:\n  lot_validity: -5d\n" + ladder + contract, 2, "must not be negative");
  EXPECT_ONE_ERROR("pricing:\n  lot_validity: 40000d\n" + ladder + contract, 2, "at most 36500d");
  EXPECT_ONE_ERROR("pricing:\n  lot_validity: [1d]\n" + ladder + contract, 2, "expected a validity");
  EXPECT_ONE_ERROR("storage:\n  mode: redis\n  redis: { socket: /tmp/r.sock }\nfleet:\n  node: a\npricing:\n"
                   "  lot_validity: 30d\n" + ladder + contract,
                   7, "not supported with fleet");
}

}  // namespace
}  // namespace tollgate
