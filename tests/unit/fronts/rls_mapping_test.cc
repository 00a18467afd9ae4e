// The Envoy Rate Limit Service's mapping (fronts/envoy/rls_mapping.h) on a
// real engine and a simulated clock: descriptors → CHECK calls, all or
// nothing, decisions → statuses and headers, the configured defaults.
#include "fronts/envoy/rls_mapping.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "unit/engine/limit_specs.h"

namespace tollgate::testing {
namespace {

using fronts::DescriptorEntry;
using fronts::EnvoyMapping;
using fronts::RlsAnswer;
using fronts::RlsCode;
using fronts::RlsCounters;
using fronts::RlsDecider;
using fronts::RlsUnit;

using Descriptor = std::vector<std::pair<std::string, std::string>>;

EnvoyConfig api_mapping(EnvoyDefault unmatched = EnvoyDefault::kOk, EnvoyDefault unknown = EnvoyDefault::kOk) {
  EnvoyConfig c;
  c.unknown_domain = unknown;
  EnvoyDomainConfig d;
  d.domain = "api";
  d.key = "contract";
  d.channel = "channel";
  d.purpose = "purpose";
  d.subject = "user";
  d.unmatched = unmatched;
  c.domains.push_back(d);
  return c;
}

class RlsMappingTest : public EngineFixture {
 protected:
  void SetUp() override {
    EngineOptions o;
    ContractRules web_only;
    web_only.channels = {"web"};
    o.contracts.push_back(contract("acme", {bucket("per_second", 5, kNanosPerSecond, 5)}, web_only));
    o.contracts.push_back(contract("tiny", {window("per_minute", 2, 60 * kNanosPerSecond)}));
    o.contracts.push_back(contract("daily", {quota("per_day", 1000)}));
    engine_ = build(o);
  }

  const RlsAnswer& ask(const EnvoyMapping& mapping, std::string_view domain, const std::vector<Descriptor>& ds,
                       uint32_t hits = 0) {
    strings_ = ds;  // the decider keeps views
    decider_.clear();
    for (const Descriptor& d : strings_) {
      for (const auto& [k, v] : d) decider_.add_entry(k, v);
      decider_.end_descriptor();
    }
    return decider_.decide(mapping, *engine_, domain, hits, now_, 0, counters_);
  }
  // Units left now (PEEK of 1 reports what would be left after it).
  int64_t remaining(std::string_view key) {
    CheckRequest r;
    r.key = key;
    r.channel = "web";
    return engine_->peek(r, now_).remaining + 1;
  }
  static std::string header(const RlsAnswer& a, std::string_view name) {
    for (const auto& h : a.headers)
      if (h.name == name) return std::string(h.value);
    return "(absent)";
  }

  std::unique_ptr<Engine> engine_;
  RlsDecider decider_;
  RlsCounters counters_;
  std::vector<Descriptor> strings_;
};

// Verifies the named entries become key, CHANNEL, PURPOSE and SUBJECT, other entries are ignored, and hits_addend is COST.
TEST(RlsMapDescriptor, NamedEntriesAndCost) {
  EnvoyConfig c = api_mapping();
  const DescriptorEntry entries[] = {
      {"path", "/x"}, {"user", "u1"}, {"contract", "acme"}, {"channel", "web"}, {"purpose", "p"}, {"contract", "b"}};
  CheckRequest r;
  ASSERT_TRUE(fronts::map_descriptor(c.domains[0], entries, 7, r));
  EXPECT_EQ(r.key, "acme");  // the first entry of a name counts
  EXPECT_EQ(r.channel, "web");
  EXPECT_EQ(r.purpose, "p");
  EXPECT_EQ(r.subject, "u1");
  EXPECT_EQ(r.cost, 7);
  EXPECT_EQ(r.hold_ms, -1);  // never a HOLD: the gRPC threads own no expiry heap

  const DescriptorEntry no_key[] = {{"user", "u1"}};
  EXPECT_FALSE(fronts::map_descriptor(c.domains[0], no_key, 1, r));
  const DescriptorEntry empty_key[] = {{"contract", ""}};
  EXPECT_FALSE(fronts::map_descriptor(c.domains[0], empty_key, 1, r));
}

// Verifies the window units Envoy can state, and no others.
TEST(RlsUnit, WholeWindowsOnly) {
  EXPECT_EQ(fronts::rls_unit(1), RlsUnit::kSecond);
  EXPECT_EQ(fronts::rls_unit(60), RlsUnit::kMinute);
  EXPECT_EQ(fronts::rls_unit(3600), RlsUnit::kHour);
  EXPECT_EQ(fronts::rls_unit(86400), RlsUnit::kDay);
  EXPECT_FALSE(fronts::rls_unit(0));
  EXPECT_FALSE(fronts::rls_unit(12));
  EXPECT_FALSE(fronts::rls_unit(7 * 86400));
}

// Verifies what a malformed request is refused for.
TEST(RlsRequestProblem, Reasons) {
  const DescriptorEntry ok[] = {{"contract", "acme"}};
  const DescriptorEntry empty_key[] = {{"", "acme"}};
  EXPECT_FALSE(fronts::rls_request_problem("api", 1, 64, ok, 512));
  EXPECT_EQ(fronts::rls_request_problem("", 1, 64, ok, 512), "domain is empty");
  EXPECT_EQ(fronts::rls_request_problem("api", 0, 64, {}, 512), "no descriptors");
  EXPECT_TRUE(fronts::rls_request_problem("api", 65, 64, ok, 512));
  EXPECT_TRUE(fronts::rls_request_problem("api", 1, 64, empty_key, 512));
  EXPECT_FALSE(fronts::rls_request_problem("api", 1, 64, ok, 4));
  EXPECT_EQ(fronts::rls_request_problem("api", 1, 64, ok, 3), "a descriptor entry's value is longer than server.max_key");
}

// Verifies one allowed descriptor: OK, charged by hits_addend, remaining, reset and current_limit, RateLimit headers.
TEST_F(RlsMappingTest, AllowedDescriptorCarriesItsLimit) {
  EnvoyMapping m(api_mapping());
  const RlsAnswer& a = ask(m, "api", {{{"contract", "acme"}, {"channel", "web"}}}, 2);
  EXPECT_EQ(a.overall, RlsCode::kOk);
  ASSERT_EQ(a.statuses.size(), 1u);
  EXPECT_EQ(a.statuses[0].code, RlsCode::kOk);
  EXPECT_EQ(a.statuses[0].limit_remaining, 3u);
  EXPECT_GE(a.statuses[0].reset_after_ms, 0);
  ASSERT_TRUE(a.statuses[0].current_limit);
  EXPECT_EQ(a.statuses[0].current_limit->name, "per_second");
  EXPECT_EQ(a.statuses[0].current_limit->requests_per_unit, 5u);
  EXPECT_EQ(a.statuses[0].current_limit->unit, RlsUnit::kSecond);
  EXPECT_EQ(header(a, "tollgate-code"), "OK");
  EXPECT_NE(header(a, "ratelimit-policy"), "(absent)");
  EXPECT_NE(header(a, "ratelimit"), "(absent)");
  EXPECT_EQ(header(a, "retry-after"), "(absent)");
  EXPECT_EQ(remaining("acme"), 3);
  EXPECT_EQ(counters_.ok.load(), 1u);
}

// Verifies all or nothing: one denied descriptor leaves the others uncharged, and the answer speaks for the denied one.
TEST_F(RlsMappingTest, SeveralDescriptorsAllOrNothing) {
  EnvoyMapping m(api_mapping());
  ASSERT_TRUE(check(*engine_, "tiny", 2).allowed);  // tiny is spent
  const RlsAnswer& a = ask(m, "api", {{{"contract", "acme"}, {"channel", "web"}}, {{"contract", "tiny"}}});
  EXPECT_EQ(a.overall, RlsCode::kOverLimit);
  ASSERT_EQ(a.statuses.size(), 2u);
  EXPECT_EQ(a.statuses[0].code, RlsCode::kOk);  // would pass, but is not charged
  EXPECT_EQ(a.statuses[1].code, RlsCode::kOverLimit);
  EXPECT_EQ(a.statuses[1].limit_remaining, 0u);
  ASSERT_TRUE(a.statuses[1].current_limit);
  EXPECT_EQ(a.statuses[1].current_limit->unit, RlsUnit::kMinute);
  EXPECT_EQ(a.statuses[1].current_limit->requests_per_unit, 2u);
  EXPECT_EQ(header(a, "tollgate-code"), "WINDOW");
  EXPECT_NE(header(a, "retry-after"), "(absent)");
  EXPECT_EQ(remaining("acme"), 5);  // nothing charged

  // Both allowed: both charged.
  const RlsAnswer& b = ask(m, "api", {{{"contract", "acme"}, {"channel", "web"}}, {{"contract", "daily"}}});
  EXPECT_EQ(b.overall, RlsCode::kOk);
  EXPECT_EQ(remaining("acme"), 4);
  EXPECT_EQ(remaining("daily"), 999);
  // The headers name the descriptor with the fewest units left.
  EXPECT_NE(header(b, "ratelimit-policy").find("per_second"), std::string::npos);
}

// Verifies a non-rate denial (CHANNEL) is OVER_LIMIT with its code in tollgate-code and no Retry-After.
TEST_F(RlsMappingTest, NonRateDenialNamesItsCode) {
  EnvoyMapping m(api_mapping());
  const RlsAnswer& a = ask(m, "api", {{{"contract", "acme"}, {"channel", "mobile"}}});
  EXPECT_EQ(a.overall, RlsCode::kOverLimit);
  EXPECT_EQ(a.statuses[0].code, RlsCode::kOverLimit);
  EXPECT_FALSE(a.statuses[0].current_limit);
  EXPECT_EQ(header(a, "tollgate-code"), "CHANNEL");
  EXPECT_EQ(header(a, "retry-after"), "(absent)");
  EXPECT_EQ(counters_.by_code[static_cast<int>(Code::kChannel)].load(), 1u);
}

// Verifies an unmatched descriptor under `unmatched: ok` is OK and not charged, while the matched ones are.
TEST_F(RlsMappingTest, UnmatchedOkPassesAndIsCounted) {
  EnvoyMapping m(api_mapping(EnvoyDefault::kOk));
  const RlsAnswer& a = ask(m, "api", {{{"path", "/x"}}, {{"contract", "daily"}}});
  EXPECT_EQ(a.overall, RlsCode::kOk);
  ASSERT_EQ(a.statuses.size(), 2u);
  EXPECT_EQ(a.statuses[0].code, RlsCode::kOk);
  EXPECT_FALSE(a.statuses[0].current_limit);
  EXPECT_EQ(remaining("daily"), 999);
  EXPECT_EQ(counters_.unmatched_descriptors.load(), 1u);
}

// Verifies an unmatched descriptor under `unmatched: over_limit` denies the call and nothing is charged.
TEST_F(RlsMappingTest, UnmatchedOverLimitChargesNothing) {
  EnvoyMapping m(api_mapping(EnvoyDefault::kOverLimit));
  const RlsAnswer& a = ask(m, "api", {{{"contract", "daily"}}, {{"user", "u1"}}});
  EXPECT_EQ(a.overall, RlsCode::kOverLimit);
  EXPECT_EQ(a.statuses[0].code, RlsCode::kOk);
  EXPECT_EQ(a.statuses[1].code, RlsCode::kOverLimit);
  EXPECT_EQ(header(a, "tollgate-code"), "UNKNOWN");
  EXPECT_EQ(remaining("daily"), 1000);
  EXPECT_EQ(counters_.unmatched_descriptors.load(), 1u);
  EXPECT_EQ(counters_.over_limit.load(), 1u);
}

// Verifies an unknown domain is answered per unknown_domain, every status alike, and counted.
TEST_F(RlsMappingTest, UnknownDomainDefaults) {
  EnvoyMapping ok(api_mapping(EnvoyDefault::kOk, EnvoyDefault::kOk));
  const RlsAnswer& a = ask(ok, "other", {{{"contract", "daily"}}, {{"contract", "acme"}}});
  EXPECT_EQ(a.overall, RlsCode::kOk);
  ASSERT_EQ(a.statuses.size(), 2u);
  EXPECT_EQ(a.statuses[1].code, RlsCode::kOk);
  EXPECT_EQ(remaining("daily"), 1000);

  EnvoyMapping deny(api_mapping(EnvoyDefault::kOk, EnvoyDefault::kOverLimit));
  const RlsAnswer& b = ask(deny, "other", {{{"contract", "daily"}}});
  EXPECT_EQ(b.overall, RlsCode::kOverLimit);
  EXPECT_EQ(b.statuses[0].code, RlsCode::kOverLimit);
  EXPECT_EQ(header(b, "tollgate-code"), "UNKNOWN");
  EXPECT_EQ(counters_.unknown_domains.load(), 2u);
  EXPECT_EQ(counters_.requests.load(), 2u);
  EXPECT_EQ(counters_.descriptors.load(), 3u);
}

// Verifies an unknown tollgate key is an OVER_LIMIT descriptor (UNKNOWN), as on RESP with unknown_keys: deny.
TEST_F(RlsMappingTest, UnknownKeyIsDenied) {
  EnvoyMapping m(api_mapping());
  const RlsAnswer& a = ask(m, "api", {{{"contract", "nobody"}}});
  EXPECT_EQ(a.overall, RlsCode::kOverLimit);
  EXPECT_EQ(header(a, "tollgate-code"), "UNKNOWN");
}

// Verifies a quota by day maps onto DAY with its limit.
TEST_F(RlsMappingTest, DailyQuotaMapsOntoDay) {
  EnvoyMapping m(api_mapping());
  const RlsAnswer& a = ask(m, "api", {{{"contract", "daily"}}}, 10);
  ASSERT_TRUE(a.statuses[0].current_limit);
  EXPECT_EQ(a.statuses[0].current_limit->unit, RlsUnit::kDay);
  EXPECT_EQ(a.statuses[0].current_limit->requests_per_unit, 1000u);
  EXPECT_EQ(a.statuses[0].limit_remaining, 990u);
}

}  // namespace
}  // namespace tollgate::testing
