#include "engine/policy_compiler.h"

#include <fmt/format.h>

namespace tollgate {

std::expected<std::unique_ptr<Policy>, std::vector<std::string>> compile_policy(
    const PolicySpec& spec, bool dynamic, const PolicyDefaults& defaults) {
  std::vector<std::string> errors;
  auto policy = std::make_unique<Policy>();
  policy->name = spec.name;
  policy->dynamic = dynamic;
  if (dynamic) {
    policy->exact = !spec.name.ends_with('*');
    policy->prefix = policy->exact ? spec.name : spec.name.substr(0, spec.name.size() - 1);
    policy->idle_timeout = spec.idle_timeout > 0 ? spec.idle_timeout : defaults.idle_timeout;
  }
  const std::string_view zone = spec.timezone.empty() ? defaults.timezone : std::string_view(spec.timezone);
  std::vector<std::unique_ptr<CompiledLimit>> shadows;
  int offset = 0;
  for (const LimitSpec& ls : spec.limits) {
    if (ls.type == LimitType::kConcurrency || ls.type == LimitType::kDistinctSubjects) continue;  // see ContractRules
    auto limiter = Limiter::make(ls, zone);
    if (!limiter) {
      errors.push_back(fmt::format("{} limit {}: {}", spec.name, ls.name, limiter.error()));
      continue;
    }
    int words = limiter->words();
    auto compiled = std::make_unique<CompiledLimit>(ls, std::move(*limiter), code_for(ls.type), offset);
    offset += words;
    if (ls.shadow || defaults.shadow_mode) {
      compiled->spec.shadow = true;
      shadows.push_back(std::move(compiled));
    } else {
      policy->limits.push_back(std::move(compiled));
    }
  }
  policy->enforced_count = policy->limits.size();
  for (auto& s : shadows) policy->limits.push_back(std::move(s));
  policy->word_count = offset;
  if (policy->limits.size() > kMaxLimitsPerPolicy)
    errors.push_back(fmt::format("{}: at most {} limits", spec.name, kMaxLimitsPerPolicy));
  if (offset > kMaxWordsPerPolicy) errors.push_back(fmt::format("{}: limits need too much state", spec.name));
  if (!errors.empty()) return std::unexpected(std::move(errors));
  return policy;
}

bool same_limit_state(const CompiledLimit& a, const CompiledLimit& b) {
  return a.spec.name == b.spec.name && a.spec.type == b.spec.type && a.limiter.words() == b.limiter.words();
}

bool same_layout(const Policy& a, const Policy& b) {
  if (a.limits.size() != b.limits.size() || a.word_count != b.word_count) return false;
  for (size_t i = 0; i < a.limits.size(); ++i) {
    const CompiledLimit& x = *a.limits[i];
    const CompiledLimit& y = *b.limits[i];
    if (!same_limit_state(x, y) || x.word_offset != y.word_offset) return false;
  }
  return true;
}

}  // namespace tollgate
