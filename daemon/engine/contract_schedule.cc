#include "engine/contract_schedule.h"

#include <fmt/format.h>

namespace tollgate {

std::string attach_schedule(Policy& base, const PolicySpec& spec, const std::vector<ScheduledTerms>& changes,
                            const PolicyDefaults& defaults) {
  Policy* before = &base;
  int words = base.word_count;
  for (const ScheduledTerms& terms : changes) {
    PolicySpec next_spec{spec.name, terms.limits, spec.timezone, 0, terms.rules, {}};
    auto compiled = compile_policy(next_spec, false, defaults);
    if (!compiled) return compiled.error().front();
    std::unique_ptr<Policy> next = std::move(*compiled);
    for (auto& limit : next->limits) {
      const CompiledLimit* kept = nullptr;
      for (const auto& old : before->limits)
        if (same_limit_state(*old, *limit)) kept = old.get();
      if (kept != nullptr) {
        limit->word_offset = kept->word_offset;
      } else {
        limit->word_offset = words;
        words += limit->limiter.words();
      }
    }
    if (words > kMaxWordsPerPolicy) return fmt::format("{}: limits and their scheduled changes need too much state", spec.name);
    next->rules = std::make_unique<ContractRules>(terms.rules);
    if (!next->rules->channels.empty())
      next->channel_calls = std::make_unique<std::atomic<uint64_t>[]>(next->rules->channels.size());
    if (!spec.per_subject.empty()) {
      // The same per-subject limits (a change cannot name them): same layout as the base's.
      PolicySpec sub{spec.name + " per_subject", spec.per_subject, spec.timezone, 0, std::nullopt, {}};
      auto per_subject = compile_policy(sub, true, defaults);
      if (!per_subject) return per_subject.error().front();
      next->per_subject = std::move(*per_subject);
    }
    // distinct_subjects limits cannot change on a schedule (config/contract_changes.h): the same sets.
    for (const auto& d : base.distinct) {
      auto copy = std::make_unique<DistinctLimit>();
      copy->name = d->name;
      copy->shadow = d->shadow;
      copy->set = d->set;
      next->distinct.push_back(std::move(copy));
    }
    next->subjects = base.subjects;
    next->scheduled = true;
    next->effective_from = terms.at;
    next->change_note = terms.note;
    before->next_at = terms.at;
    before->next = std::move(next);
    before = before->next.get();
  }
  for (Policy* p = &base; p != nullptr; p = p->next.get()) p->word_count = words;
  return {};
}

void init_schedule_words(const Policy& base, std::atomic<uint64_t>* words, Nanos now) {
  for (const Policy* p = &base; p != nullptr; p = p->next.get())
    for (const auto& l : p->limits) l->limiter.init(words + l->word_offset, now);
}

ContractStatus status_under(const Policy& terms) {
  const ContractState& st = *terms.state;
  if ((terms.scheduled || terms.next != nullptr) && !st.overridden()) return terms.rules->status;
  return st.status();
}

}  // namespace tollgate
