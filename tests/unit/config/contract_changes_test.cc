// Scheduled contract changes in the configuration (config/contract_changes.h):
// reading `changes:`, local instants across DST, the terms at an instant, and
// the file:line errors --check-config gives.
#include <gtest/gtest.h>

#include <string>

#include "config/contract_changes.h"
#include "config/units.h"
#include "unit/config/config_test_util.h"

namespace tollgate {
namespace {

using ::testing::ElementsAre;
using testing::ErrorAt;
using testing::parse_errors;
using testing::parse_ok;

Nanos at(std::string_view text) { return *parse_instant(text); }

constexpr std::string_view kPricing = R"(pricing:
  standard:
    - { prepay_from: 0, unit_price: 10 }
  discount:
    - { prepay_from: 0, unit_price: 5 }
)";

// A contract `acme` (Europe/Berlin) with `changes_yaml` under it (lines from line 13 on).
std::string with_changes(std::string_view changes_yaml) {
  return std::string(kPricing) +
         "contracts:\n"
         "  acme:\n"                          // 7
         "    timezone: Europe/Berlin\n"      // 8
         "    pricing: standard\n"            // 9
         "    limits:\n"                      // 10
         "      - { name: daily, type: quota, limit: 100, period: day }\n"  // 11
         "    changes:\n" +                   // 12
         std::string(changes_yaml);
}

// Verifies both forms of `at:` and every key a change may name are read, in
// order, with what each change changes described for CONTRACT and EVENTS.
TEST(ContractChanges, ReadsChangesInOrder) {
  const Config config = parse_ok(with_changes(
      "      - at: 2027-01-01T00:00:00+08:00\n"
      "        limits:\n"
      "          - { name: daily, type: quota, limit: 200, period: day }\n"
      "        pricing: discount\n"
      "        channels: [web, app]\n"
      "      - at: 2027-06-01T12:00:00\n"
      "        status: suspended\n"
      "        expires: 2028-01-01T00:00:00Z\n"));
  const ContractConfig& acme = config.contracts.at("acme");
  ASSERT_EQ(acme.changes.size(), 2u);
  EXPECT_EQ(acme.changes[0].at, at("2026-12-31T16:00:00Z"));
  EXPECT_FALSE(acme.changes[0].local);
  EXPECT_EQ(acme.changes[0].line, 13);
  EXPECT_EQ(describe_change(acme.changes[0]), "channels [web,app]; pricing discount; limits [daily]");
  EXPECT_EQ(acme.changes[1].at, at("2027-06-01T10:00:00Z"));  // CEST, +02:00
  EXPECT_TRUE(acme.changes[1].local);
  EXPECT_EQ(describe_change(acme.changes[1]), "status suspended; expires 2028-01-01T00:00:00Z");
  EXPECT_EQ(next_change_at(config), at("2026-12-31T16:00:00Z"));
}

// Verifies the definition: the terms at t are the base plus every change
// with at <= t, in order — 1 ns before an instant the old terms, at it the
// new; a later change builds on the earlier one; pending changes stay listed.
TEST(ContractChanges, TermsAtAnInstantFoldChangesInOrder) {
  const Config config = parse_ok(with_changes(
      "      - at: 2027-01-01T00:00:00Z\n"
      "        limits:\n"
      "          - { name: daily, type: quota, limit: 200, period: day }\n"
      "      - at: 2027-02-01T00:00:00Z\n"
      "        status: suspended\n"
      "      - at: 2027-03-01T00:00:00Z\n"
      "        status: active\n"));
  const ContractConfig& acme = config.contracts.at("acme");
  const Nanos t1 = at("2027-01-01T00:00:00Z"), t2 = at("2027-02-01T00:00:00Z"), t3 = at("2027-03-01T00:00:00Z");

  ContractConfig before = contract_terms_at(acme, t1 - 1);
  EXPECT_EQ(before.limits.at(0).limit, 100);
  EXPECT_EQ(before.changes.size(), 3u);

  ContractConfig first = contract_terms_at(acme, t1);
  EXPECT_EQ(first.limits.at(0).limit, 200);
  EXPECT_EQ(first.status, ContractStatus::kActive);
  EXPECT_EQ(first.changes.size(), 2u);

  EXPECT_EQ(contract_terms_at(acme, t2 - 1).status, ContractStatus::kActive);
  ContractConfig second = contract_terms_at(acme, t2);
  EXPECT_EQ(second.status, ContractStatus::kSuspended);
  EXPECT_EQ(second.limits.at(0).limit, 200);  // the first change stays in effect

  ContractConfig all = contract_terms_at(acme, t3);
  EXPECT_EQ(all.status, ContractStatus::kActive);
  EXPECT_EQ(all.limits.at(0).limit, 200);
  EXPECT_TRUE(all.changes.empty());
  EXPECT_EQ(next_change_at(config_at(config, t3)), kNoChange);
  EXPECT_EQ(next_change_at(config_at(config, t1)), t2);
}

// Verifies local instants in the contract's zone across Europe/Berlin's DST
// changes of 2027: a wall time in the spring gap takes effect at the
// transition (the first instant the clock shows it or later), one in the
// autumn overlap at its first occurrence, others at their one offset.
TEST(ContractChanges, LocalInstantsAcrossDaylightSaving) {
  const std::string_view berlin = "Europe/Berlin";
  EXPECT_EQ(*parse_change_instant("2027-03-28T01:59:59", berlin), at("2027-03-28T00:59:59Z"));  // CET
  EXPECT_EQ(*parse_change_instant("2027-03-28T02:00:00", berlin), at("2027-03-28T01:00:00Z"));  // gap: the jump
  EXPECT_EQ(*parse_change_instant("2027-03-28T02:30:00", berlin), at("2027-03-28T01:00:00Z"));  // gap: the jump
  EXPECT_EQ(*parse_change_instant("2027-03-28T03:00:00", berlin), at("2027-03-28T01:00:00Z"));  // CEST
  EXPECT_EQ(*parse_change_instant("2027-03-28T04:00:00", berlin), at("2027-03-28T02:00:00Z"));
  EXPECT_EQ(*parse_change_instant("2027-10-31T02:30:00", berlin), at("2027-10-31T00:30:00Z"));  // first 02:30
  EXPECT_EQ(*parse_change_instant("2027-10-31T03:30:00", berlin), at("2027-10-31T02:30:00Z"));  // CET again
  EXPECT_EQ(*parse_change_instant("2027-06-01T00:00:00.5", "UTC"), at("2027-06-01T00:00:00.5Z"));
  bool local = false;
  EXPECT_EQ(*parse_change_instant("2027-03-28T02:30:00+01:00", berlin, &local), at("2027-03-28T01:30:00Z"));
  EXPECT_FALSE(local);
  EXPECT_FALSE(parse_change_instant("2027-03-28 02:30", berlin).has_value());
}

// Verifies the global `timezone:` is the zone of a contract without its own.
TEST(ContractChanges, LocalInstantUsesTheGlobalZoneByDefault) {
  const Config config = parse_ok(
      "timezone: Asia/Shanghai\n"
      "contracts:\n"
      "  acme:\n"
      "    changes:\n"
      "      - { at: 2027-01-01T00:00:00, status: suspended }\n");
  EXPECT_EQ(config.contracts.at("acme").changes.at(0).at, at("2026-12-31T16:00:00Z"));
}

// Verifies --check-config's errors, each at the line of the change or key:
// instants out of order, unknown keys, keys that cannot change on a
// schedule, a ladder that does not exist, pricing added to a contract
// without it, a change that changes nothing, a missing or bad `at`, a
// distinct_subjects limit changed, and expires before starts once applied.
TEST(ContractChanges, ErrorsNameTheLine) {
  const auto errors = parse_errors(with_changes(
      "      - { at: 2027-02-01T00:00:00Z, status: suspended }\n"                  // 13
      "      - { at: 2027-01-01T00:00:00Z, status: active }\n"                     // 14
      "      - { at: 2027-03-01T00:00:00Z, colour: red }\n"                        // 15
      "      - { at: 2027-04-01T00:00:00Z, timezone: UTC }\n"                      // 16
      "      - { at: 2027-05-01T00:00:00Z, pricing: gold }\n"                      // 17
      "      - { at: 2027-06-01T00:00:00Z }\n"                                     // 18
      "      - { status: active }\n"                                               // 19
      "      - { at: tomorrow, status: active }\n"                                 // 20
      "      - { at: 2027-07-01T00:00:00Z, starts: 2029-01-01T00:00:00Z, expires: 2028-01-01T00:00:00Z }\n"  // 21
      "      - at: 2027-08-01T00:00:00Z\n"                                         // 22
      "        limits:\n"                                                          // 23
      "          - { name: daily, type: quota, limit: -1, period: day }\n"))      // 24
  ;
  EXPECT_THAT(errors,
              ElementsAre(ErrorAt(14, "2027-01-01T00:00:00Z is not after the previous change's 2027-02-01T00:00:00Z"),
                          ErrorAt(15, "colour: unknown key"), ErrorAt(15, "this change changes nothing"),
                          ErrorAt(16, "timezone: cannot change on a schedule"),
                          ErrorAt(17, "unknown price ladder 'gold'"), ErrorAt(18, "this change changes nothing"),
                          ErrorAt(19, "changes[6].at: is required"), ErrorAt(20, "expected an instant like"),
                          ErrorAt(21, "is not after starts"), ErrorAt(24, "limit")))
      << testing::joined(errors);
}

// Verifies the changes a contract's state cannot follow exactly are refused:
// pricing gained by a contract without it, per_subject limits, and a changed
// distinct_subjects limit (their subject sets are state).
TEST(ContractChanges, RefusesWhatOnlyAReloadCanChange) {
  const auto errors = parse_errors(std::string(kPricing) +
                                   "contracts:\n"
                                   "  free:\n"                                                   // 7
                                   "    limits:\n"                                               // 8
                                   "      - { name: users, type: distinct_subjects, limit: 10, period: day }\n"
                                   "    changes:\n"                                              // 10
                                   "      - { at: 2027-01-01T00:00:00Z, pricing: standard }\n"   // 11
                                   "      - { at: 2027-02-01T00:00:00Z, per_subject: [] }\n"     // 12
                                   "      - at: 2027-03-01T00:00:00Z\n"                          // 13
                                   "        limits:\n"                                           // 14
                                   "          - { name: users, type: distinct_subjects, limit: 20, period: day }\n");
  EXPECT_THAT(errors, ElementsAre(ErrorAt(11, "a contract without pricing cannot gain it on a schedule"),
                                  ErrorAt(12, "per_subject: cannot change on a schedule"),
                                  ErrorAt(14, "distinct_subjects limits cannot change on a schedule")))
      << testing::joined(errors);
}

// Verifies fleet mode accepts scheduled changes (the fleet leases the
// terms in force: docs/fleet.md, "Reloads").
TEST(ContractChanges, FleetModeAcceptsChanges) {
  const Config config = parse_ok(
      "storage:\n  mode: redis\n  redis: { socket: /tmp/r.sock }\n"
      "fleet:\n  node: a\n"
      "contracts:\n"
      "  acme:\n"
      "    changes:\n"
      "      - { at: 2027-01-01T00:00:00Z, status: suspended }\n");
  EXPECT_TRUE(config.fleet.enabled);
  ASSERT_EQ(config.contracts.at("acme").changes.size(), 1u);
}

}  // namespace
}  // namespace tollgate
