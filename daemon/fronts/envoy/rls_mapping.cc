#include "fronts/envoy/rls_mapping.h"

#include "calllog/group_hook.h"

#include <algorithm>
#include <limits>

namespace tollgate::fronts {
namespace {

constexpr size_t kUnmatched = std::numeric_limits<size_t>::max();

// Envoy adds response headers as given; HTTP/2 and Envoy's header map want
// lower-case names. The fields the HTTP front names, lower-cased once.
std::string_view lower_case_name(std::string_view name) {
  static constexpr std::pair<std::string_view, std::string_view> kNames[] = {
      {kRateLimitPolicyField, "ratelimit-policy"}, {kRateLimitField, "ratelimit"},
      {kRetryAfterField, "retry-after"},           {kCodeField, "tollgate-code"},
      {kLimitField, "tollgate-limit"},             {kBalanceField, "tollgate-balance"}};
  for (const auto& [canonical, lower] : kNames)
    if (canonical == name) return lower;
  return name;  // a field added later: Envoy lower-cases it itself
}

uint32_t clamp_u32(int64_t v) {
  return static_cast<uint32_t>(std::clamp<int64_t>(v, 0, std::numeric_limits<uint32_t>::max()));
}

// A would-pass call that was not charged because another one was denied
// (Engine::check_all) is, for Envoy, a descriptor under its limit.
bool under_limit(const Decision& d) { return d.allowed || d.code == Code::kAborted; }

}  // namespace

EnvoyMapping::EnvoyMapping(EnvoyConfig config) : config_(std::move(config)) {
  for (const EnvoyDomainConfig& d : config_.domains) by_domain_.emplace(d.domain, &d);
}

const EnvoyDomainConfig* EnvoyMapping::find(std::string_view domain) const {
  auto it = by_domain_.find(domain);
  return it == by_domain_.end() ? nullptr : it->second;
}

bool map_descriptor(const EnvoyDomainConfig& domain, std::span<const DescriptorEntry> entries, int64_t cost,
                    CheckRequest& out) {
  out = CheckRequest{};
  out.cost = cost;
  bool keyed = false;
  // The first entry of each name counts (Envoy's actions append in order;
  // a repeated name is another action's, not a correction).
  bool channel = false, purpose = false, subject = false;
  for (const DescriptorEntry& e : entries) {
    if (!keyed && e.key == domain.key) {
      out.key = e.value;
      keyed = true;
    } else if (!channel && !domain.channel.empty() && e.key == domain.channel) {
      out.channel = e.value;
      channel = true;
    } else if (!purpose && !domain.purpose.empty() && e.key == domain.purpose) {
      out.purpose = e.value;
      purpose = true;
    } else if (!subject && !domain.subject.empty() && e.key == domain.subject) {
      out.subject = e.value;
      subject = true;
    }
  }
  return keyed && !out.key.empty();
}

std::optional<RlsUnit> rls_unit(int64_t window_seconds) {
  switch (window_seconds) {
    case 1: return RlsUnit::kSecond;
    case 60: return RlsUnit::kMinute;
    case 3600: return RlsUnit::kHour;
    case 86400: return RlsUnit::kDay;
    default: return std::nullopt;
  }
}

std::optional<std::string_view> rls_request_problem(std::string_view domain, size_t descriptors,
                                                    size_t max_descriptors, std::span<const DescriptorEntry> entries,
                                                    size_t max_key) {
  if (domain.empty()) return "domain is empty";
  if (descriptors == 0) return "no descriptors";
  if (descriptors > max_descriptors) return "more descriptors than server.grpc.max_descriptors";
  for (const DescriptorEntry& e : entries)
    if (e.key.empty()) return "a descriptor entry has an empty key";
  for (const DescriptorEntry& e : entries)
    if (e.value.size() > max_key) return "a descriptor entry's value is longer than server.max_key";
  return std::nullopt;
}

void RlsDecider::clear() {
  entries_.clear();
  starts_.clear();
  starts_.push_back(0);
}

void RlsDecider::answer_default(EnvoyDefault value, size_t count) {
  const RlsCode code = value == EnvoyDefault::kOk ? RlsCode::kOk : RlsCode::kOverLimit;
  answer_.overall = code;
  answer_.statuses.assign(count, RlsStatus{code, std::nullopt, 0, -1});
}

RlsStatus RlsDecider::status_of(const Engine& engine, const CheckRequest& request, const Decision& d) const {
  RlsStatus s;
  s.code = under_limit(d) ? RlsCode::kOk : RlsCode::kOverLimit;
  if (d.limit.empty()) return s;
  s.limit_remaining = clamp_u32(d.remaining);
  s.reset_after_ms = std::max<int64_t>(d.reset_after_ms, 0);
  if (auto terms = engine.limit_terms(request.key, d.limit)) {
    if (auto unit = rls_unit(terms->window_seconds))
      s.current_limit = RlsLimit{d.limit, clamp_u32(terms->quota), *unit};
  }
  return s;
}

void RlsDecider::add_headers(const Engine& engine, const CheckRequest& request, const Decision& d) {
  fields_.reset();
  fields_.emplace(d, engine.limit_terms(request.key, d.limit));
  for (const HeaderField& f : fields_->fields()) {
    if (f.value.empty()) continue;  // Tollgate-Limit without a deciding limit
    answer_.headers.push_back({lower_case_name(f.name), f.value});
  }
}

const RlsAnswer& RlsDecider::decide(const EnvoyMapping& mapping, Engine& engine, std::string_view domain,
                                    uint32_t hits_addend, Nanos now, int worker, RlsCounters& counters,
                                    calllog::CallLog* call_log, int log_buffer) {
  const size_t count = descriptor_count();
  answer_.headers.clear();
  answer_.statuses.clear();
  RlsCounters::bump(counters.requests);
  RlsCounters::bump(counters.descriptors, count);
  auto finish = [&]() -> const RlsAnswer& {
    RlsCounters::bump(answer_.overall == RlsCode::kOk ? counters.ok : counters.over_limit);
    return answer_;
  };

  const EnvoyDomainConfig* mapped = mapping.find(domain);
  if (mapped == nullptr) {
    RlsCounters::bump(counters.unknown_domains);
    answer_default(mapping.unknown_domain(), count);
    if (answer_.overall == RlsCode::kOverLimit) answer_.headers.push_back({"tollgate-code", code_name(Code::kUnknown)});
    return finish();
  }

  const int64_t cost = hits_addend == 0 ? 1 : hits_addend;
  requests_.clear();
  request_of_.assign(count, kUnmatched);
  bool unmatched_denies = false;
  for (size_t i = 0; i < count; ++i) {
    CheckRequest r;
    if (map_descriptor(*mapped, descriptor(i), cost, r)) {
      request_of_[i] = requests_.size();
      requests_.push_back(r);
    } else {
      RlsCounters::bump(counters.unmatched_descriptors);
      unmatched_denies |= mapped->unmatched == EnvoyDefault::kOverLimit;
    }
  }

  decisions_.assign(requests_.size(), Decision{});
  if (unmatched_denies) {
    // The call is over the limit whatever the matched descriptors say:
    // charge none of them, and report what each would have been told.
    for (size_t j = 0; j < requests_.size(); ++j) {
      decisions_[j] = engine.peek(requests_[j], now);
      if (decisions_[j].allowed) {
        decisions_[j].allowed = false;
        decisions_[j].code = Code::kAborted;
      }
    }
  } else if (!requests_.empty()) {
    (void)engine.check_all(requests_, now, worker, decisions_);  // the decisions say it all
    calllog::record_group(call_log, log_buffer, now, requests_, decisions_, engine.options().generation);
  }
  for (const Decision& d : decisions_) RlsCounters::bump(counters.by_code[static_cast<int>(d.code)]);

  // Statuses in descriptor order; the headers speak for the first denied
  // descriptor, else the matched one with the fewest units left.
  answer_.overall = unmatched_denies ? RlsCode::kOverLimit : RlsCode::kOk;
  size_t first_denied = kUnmatched, fewest_left = kUnmatched;
  for (size_t i = 0; i < count; ++i) {
    const size_t j = request_of_[i];
    if (j == kUnmatched) {
      const RlsCode code = mapped->unmatched == EnvoyDefault::kOk ? RlsCode::kOk : RlsCode::kOverLimit;
      answer_.statuses.push_back(RlsStatus{code, std::nullopt, 0, -1});
      continue;
    }
    const Decision& d = decisions_[j];
    answer_.statuses.push_back(status_of(engine, requests_[j], d));
    if (!under_limit(d)) {
      answer_.overall = RlsCode::kOverLimit;
      if (first_denied == kUnmatched) first_denied = j;
    } else if (!d.limit.empty() && (fewest_left == kUnmatched || d.remaining < decisions_[fewest_left].remaining)) {
      fewest_left = j;
    }
  }
  if (first_denied != kUnmatched) {
    add_headers(engine, requests_[first_denied], decisions_[first_denied]);
  } else if (answer_.overall == RlsCode::kOverLimit) {
    answer_.headers.push_back({"tollgate-code", code_name(Code::kUnknown)});  // an unmatched descriptor denied it
  } else if (fewest_left != kUnmatched) {
    add_headers(engine, requests_[fewest_left], decisions_[fewest_left]);
  }
  return finish();
}

}  // namespace tollgate::fronts
