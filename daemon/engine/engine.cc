#include "engine/engine.h"

#include <xxhash.h>

#include <array>
#include <fmt/format.h>

#include "engine/monitor_throttle.h"
#include "engine/contract_schedule.h"

namespace tollgate {
namespace {

// WAIT as a pacing tolerance; bounded by TokenBucket::kMaxPacing (the
// parser's bound), which clock-step detection relies on.
Nanos wait_of(const CheckRequest& r) {
  return r.wait_ms > 0 ? std::min(r.wait_ms, TokenBucket::kMaxPacing / kNanosPerMilli) * kNanosPerMilli : 0;
}

// A limit whose retry never comes (-1) outranks any finite wait.
bool longer_wait(Nanos a, Nanos b) {
  if (a < 0) return b >= 0;
  if (b < 0) return false;
  return a > b;
}

void fill(Decision& d, bool allowed, const CompiledLimit& limit, const LimitResult& r) {
  d.allowed = allowed;
  d.code = allowed ? Code::kOk : limit.code;
  d.limit = limit.spec.name;
  d.remaining = r.remaining;
  d.retry_after_ms = allowed ? 0 : (r.retry_after < 0 ? -1 : ceil_millis(r.retry_after));
  d.reset_after_ms = ceil_millis(r.reset_after);
}

void fill_allowed_without_limits(Decision& d) {
  d = Decision{};
  d.allowed = true;
  d.code = Code::kOk;
  d.remaining = -1;
  d.retry_after_ms = 0;
  d.reset_after_ms = 0;
}

// Scratch state for evaluating a key that does not exist yet (PEEK).
std::atomic<uint64_t>* scratch_words(size_t n) {
  thread_local std::vector<std::atomic<uint64_t>> scratch;
  if (scratch.size() < n) scratch = std::vector<std::atomic<uint64_t>>(n);
  return scratch.data();
}

}  // namespace

Engine::Engine(const EngineOptions& options, Reclaimer& reclaimer, RuntimeState& state, const Engine* previous)
    : options_(options),
      reclaimer_(reclaimer),
      state_(state),
      table_owner_(previous ? previous->table_owner_ : std::make_shared<CounterTable>(reclaimer, options.table)),
      dedup_owner_(previous ? previous->dedup_owner_
                            : std::make_shared<DedupTable>(options.dedup_max_entries, options.dedup_window)),
      holds_owner_(previous ? previous->holds_owner_ : std::make_shared<HoldTable>(options.max_holds, options.workers)),
      table_(*table_owner_),
      dedup_(*dedup_owner_),
      holds_(*holds_owner_) {}

uint64_t request_id_hash(std::string_view key, std::string_view id) {
  return XXH3_64bits_withSeed(id.data(), id.size(), XXH3_64bits(key.data(), key.size()));
}

// Two phases, so that a config the engine refuses changes nothing: build()
// reads `previous` and writes only the new engine (a failure, including an
// allocation failure, just destroys it); hand_over() then makes the changes
// every engine shares (contract statuses, price ladders, counter entries) and
// cannot fail.
std::expected<std::unique_ptr<Engine>, std::vector<std::string>> Engine::create(
    const EngineOptions& options, Reclaimer& reclaimer, Nanos now, RuntimeState& state, const Engine* previous) {
  std::unique_ptr<Engine> engine;
  try {
    engine.reset(new Engine(options, reclaimer, state, previous));
    if (auto errors = engine->build(previous); !errors.empty()) return std::unexpected(std::move(errors));
  } catch (const std::bad_alloc&) {
    return std::unexpected(std::vector<std::string>{
        "out of memory while building the engine (check table.*, dedup.max_entries and distinct_subjects limits "
        "against the memory of this machine)"});
  }
  engine->hand_over(now, previous);
  return engine;
}

std::vector<std::string> Engine::build(const Engine* previous) {
  std::vector<std::string> errors;
  auto add = [&](const PolicySpec& spec, bool dynamic, std::vector<std::unique_ptr<Policy>>& into) {
    auto compiled = compile_policy(spec, dynamic, options_.policy_defaults());
    if (!compiled) {
      errors.insert(errors.end(), compiled.error().begin(), compiled.error().end());
      return;
    }
    into.push_back(std::move(*compiled));
  };
  for (const auto& spec : options_.contracts) add(spec, false, contracts_);
  for (const auto& spec : options_.key_classes) add(spec, true, key_classes_);
  if (!errors.empty()) return errors;
  contract_index_.reserve(contracts_.size());
  for (size_t i = 0; i < contracts_.size(); ++i) {
    Policy& p = *contracts_[i];
    const PolicySpec& spec = options_.contracts[i];
    p.rules = std::make_unique<ContractRules>(spec.rules.value_or(ContractRules{}));
    if (!p.rules->channels.empty())
      p.channel_calls = std::make_unique<std::atomic<uint64_t>[]>(p.rules->channels.size());
    if (auto err = attach_subjects(p, spec, previous); !err.empty()) errors.push_back(err);
    else if (auto changes = options_.schedules.find(p.name); changes != options_.schedules.end())
      if (auto err = attach_schedule(p, spec, changes->second, options_.policy_defaults()); !err.empty())
        errors.push_back(err);
    contract_index_.emplace(p.name, &p);
  }
  return errors;
}

void Engine::hand_over(Nanos now, const Engine* previous) {
  for (const auto& policy : contracts_) {
    Policy& p = *policy;
    p.state = &state_.contract(p.name);
    for (Policy* next = p.next.get(); next != nullptr; next = next->next.get()) next->state = p.state;
    // The terms in force now: the chain may start before `now` (contract_schedule.h).
    const Policy& terms = p.terms_at(now);
    p.state->apply_config_status(terms.rules->status);
    if (terms.rules->pricing) p.state->ensure_account(*terms.rules->pricing);
    if (terms.next_at < next_change_at_) next_change_at_ = terms.next_at;
    sync_restrictions(p);
  }
  for (const auto& policy : contracts_) {
    const Policy* p = policy.get();
    table_.insert(p->name, CounterTable::hash_key(p->name), p, p->word_count, false, now,
                  [&](Entry* e) { init_schedule_words(*p, e->words(), now); });
  }
  if (previous != nullptr) adopt_entries(now);
}

const Policy* Engine::policy_for(const Entry& e) const {
  std::string_view key = e.key();
  if (size_t sep = key.find(kSubjectSeparator); e.dynamic() && sep != std::string_view::npos) {
    auto it = contract_index_.find(key.substr(0, sep));
    if (it != contract_index_.end()) return it->second->per_subject.get();
  }
  if (auto it = contract_index_.find(key); it != contract_index_.end()) return it->second;
  return match_class(key);
}

// Limits keep their counters when their key, name and type are unchanged
// (and their state has the same size); new parameters apply from the next
// call. Everything else starts fresh; keys without a policy are dropped.
void Engine::adopt_entries(Nanos now) {
  std::vector<Entry*> entries;
  table_.for_each([&](Entry* e) { entries.push_back(e); });
  for (Entry* e : entries) {
    const Policy* old_policy = e->policy();
    const Policy* fresh = policy_for(*e);
    if (fresh == old_policy) continue;
    if (fresh == nullptr) {
      table_.remove(e->key(), e->hash());
      continue;
    }
    bool dynamic = fresh->dynamic;
    const bool scheduled = old_policy->next != nullptr || fresh->next != nullptr;
    if (dynamic == e->dynamic() && !scheduled && same_layout(*old_policy, *fresh)) {
      e->set_policy(fresh);
      continue;
    }
    Entry* copy = Entry::create(e->key(), e->hash(), fresh, fresh->word_count, dynamic, now);
    // Scheduled changes (engine/contract_schedule.h): the words of the terms
    // in force now carry over; the rest of the chain starts fresh.
    init_schedule_words(*fresh, copy->words(), now);
    for (const auto& l : fresh->terms_at(now).limits) {
      for (const auto& o : old_policy->terms_at(now).limits) {
        if (!same_limit_state(*o, *l)) continue;
        for (int w = 0; w < l->limiter.words(); ++w)
          copy->words()[l->word_offset + w].store(e->words()[o->word_offset + w].load(std::memory_order_acquire),
                                                 std::memory_order_relaxed);
      }
    }
    state_.dirty_log().mark(copy);  // its words are new to the store
    if (!table_.replace(copy)) Entry::destroy(copy);
  }
}

// Per-subject counters and distinct-subject caps of one contract. The caps'
// sets (and the HLL) are state: shared with `previous` when the same limit
// keeps its cap, period and zone (the HLL: its period and zone), created
// fresh otherwise. `previous` is only read: its own references stay, so a
// build that fails later leaves it exactly as it was.
std::string Engine::attach_subjects(Policy& p, const PolicySpec& spec, const Engine* previous) {
  const std::string& zone = spec.timezone.empty() ? options_.timezone : spec.timezone;
  if (!spec.per_subject.empty()) {
    PolicySpec sub{p.name + " per_subject", spec.per_subject, spec.timezone, 0, std::nullopt, {}};
    auto compiled = compile_policy(sub, true, options_.policy_defaults());
    if (!compiled) return compiled.error().front();
    p.per_subject = std::move(*compiled);
  }
  const ContractSubjects* old = nullptr;
  if (previous != nullptr) {
    auto it = previous->subjects_.find(p.name);
    if (it != previous->subjects_.end()) old = it->second.get();
  }
  auto same_calendar = [](const Calendar& c, Period period, std::string_view zone_name) {
    return c.period() == period && c.zone_name() == zone_name;
  };
  auto subjects = std::make_unique<ContractSubjects>();
  const LimitSpec* first_distinct = nullptr;
  for (const LimitSpec& ls : spec.limits) {
    if (ls.type != LimitType::kDistinctSubjects) continue;
    if (first_distinct == nullptr) first_distinct = &ls;
    const std::string& set_zone = ls.timezone.empty() ? zone : ls.timezone;
    std::shared_ptr<DistinctSubjects> set;
    if (old != nullptr) {
      auto it = old->sets.find(ls.name);
      if (it != old->sets.end() && it->second->limit() == ls.limit &&
          same_calendar(it->second->calendar(), ls.period, set_zone))
        set = it->second;
    }
    if (!set) {
      auto made = DistinctSubjects::make(ls, zone);
      if (!made) return fmt::format("{} limit {}: {}", p.name, ls.name, made.error());
      set = std::make_shared<DistinctSubjects>(std::move(*made));
    }
    auto limit = std::make_unique<DistinctLimit>();
    limit->name = ls.name;
    limit->shadow = ls.shadow || options_.shadow_mode;
    limit->set = set.get();
    p.distinct.push_back(std::move(limit));
    subjects->sets.emplace(ls.name, std::move(set));
  }
  const Period hll_period = first_distinct ? first_distinct->period : Period::kDay;
  if (old != nullptr && old->hll && same_calendar(old->hll->calendar(), hll_period, zone)) {
    subjects->hll = old->hll;
  } else {
    auto hll = PeriodHll::make(hll_period, zone);
    if (!hll) return fmt::format("{}: {}", p.name, hll.error());
    subjects->hll = std::make_shared<PeriodHll>(std::move(*hll));
  }
  p.subjects = subjects.get();
  subjects_[p.name] = std::move(subjects);
  return {};
}

double Engine::distinct_subjects_estimate(std::string_view key, Nanos now) const {
  auto it = subjects_.find(key);
  if (it == subjects_.end() || !it->second->hll) return -1;
  return it->second->hll->estimate(now).current;
}

std::string_view Engine::subject_key(const Policy& p, std::string_view subject) const {
  thread_local std::string key;
  key.assign(p.name);
  key += kSubjectSeparator;
  key.append(subject);
  return key;
}

// Admits the subject into the distinct caps, then charges its per-subject
// counters; what it took goes into `taken` (the estimate is added when the
// call is finalized). On denial everything it took is given back.
bool Engine::charge_subject(const Policy& p, const CheckRequest& request, Nanos now, Decision& out,
                            Provisional& taken) {
  const uint64_t h = DistinctSubjects::hash_subject(request.subject);
  taken.subject_hash = h;
  taken.admitted_count = 0;
  auto undo = [&] {
    for (size_t i = taken.admitted_count; i-- > 0;) taken.admitted[i].set->forget(h, taken.admitted[i].in);
    taken.admitted_count = 0;
  };
  for (const auto& d : p.distinct) {
    SubjectCharge c = d->set->try_admit(h, now);
    if (!c.allowed()) {
      if (d->shadow) {
        d->shadow_denials.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      undo();
      out = Decision{};
      out.code = Code::kSubjects;
      out.limit = d->name;
      out.remaining = c.remaining;
      out.retry_after_ms = c.retry_after < 0 ? -1 : ceil_millis(c.retry_after);
      out.reset_after_ms = ceil_millis(c.reset_after);
      return false;
    }
    if (c.verdict == SubjectVerdict::kAdmitted && taken.admitted_count < taken.admitted.size())
      taken.admitted[taken.admitted_count++] = {d->set, c.admitted_in};
    if (!d->shadow && c.remaining < out.remaining) {
      out.limit = d->name;
      out.remaining = c.remaining;
      out.reset_after_ms = ceil_millis(c.reset_after);
    }
  }
  if (p.per_subject) {
    const Policy* sp = p.per_subject.get();
    std::string_view key = subject_key(p, request.subject);
    const uint64_t kh = CounterTable::hash_key(key);
    Decision sd;
    bool done = false;
    Entry* se = nullptr;
    uint32_t mask = 0;
    for (int attempt = 0; attempt < 8 && !done; ++attempt) {
      se = attempt == 0 ? table_.find(key, kh) : nullptr;
      if (se == nullptr) {
        auto [entry, result] = table_.insert(key, kh, sp, sp->word_count, true, now, [&](Entry* fresh) {
          for (const auto& l : sp->limits) l->limiter.init(fresh->words() + l->word_offset, now);
        });
        if (result == CounterTable::InsertResult::kFull) {
          undo();
          out = table_full();
          return false;
        }
        se = entry;
      }
      done = charge(se, request.cost, now, sd, &mask, 0, taken.subject_recorded_at.data());
    }
    if (!done || !sd.allowed) {
      undo();
      out = done ? sd : table_full();
      return false;
    }
    taken.subject_entry = se;
    taken.subject_policy = se->policy();
    taken.subject_mask = mask;
    if (!sd.limit.empty() && sd.remaining < out.remaining) {
      out.limit = sd.limit;
      out.remaining = sd.remaining;
      out.reset_after_ms = sd.reset_after_ms;
    }
  }
  taken.subject = true;
  return true;
}

// charge_subject without charging: the same order (distinct caps, then the
// per-subject counters) and the same updates of `out`.
void Engine::peek_subject(const Policy& p, const CheckRequest& request, Nanos now, Decision& out) const {
  const uint64_t h = DistinctSubjects::hash_subject(request.subject);
  for (const auto& d : p.distinct) {
    SubjectCharge c = d->set->peek_admit(h, now);
    if (!c.allowed()) {
      if (d->shadow) continue;
      out = Decision{};
      out.code = Code::kSubjects;
      out.limit = d->name;
      out.remaining = c.remaining;
      out.retry_after_ms = c.retry_after < 0 ? -1 : ceil_millis(c.retry_after);
      out.reset_after_ms = ceil_millis(c.reset_after);
      return;
    }
    if (!d->shadow && c.remaining < out.remaining) {
      out.limit = d->name;
      out.remaining = c.remaining;
      out.reset_after_ms = ceil_millis(c.reset_after);
    }
  }
  if (p.per_subject) {
    const Policy& sp = *p.per_subject;
    std::string_view key = subject_key(p, request.subject);
    Decision sd;
    if (const Entry* se = table_.find(key, CounterTable::hash_key(key))) {
      evaluate(sp, se->words(), request.cost, now, 0, sd);
    } else if (table_.dynamic_size() >= table_.max_dynamic_keys()) {
      out = table_full();
      return;
    } else {
      std::atomic<uint64_t>* w = scratch_words(static_cast<size_t>(sp.word_count));
      for (const auto& l : sp.limits) l->limiter.init(w + l->word_offset, now);
      evaluate(sp, w, request.cost, now, 0, sd);
    }
    if (!sd.allowed) {
      out = sd;
    } else if (!sd.limit.empty() && sd.remaining < out.remaining) {
      out.limit = sd.limit;
      out.remaining = sd.remaining;
      out.reset_after_ms = sd.reset_after_ms;
    }
  }
}

const Policy* Engine::match_class(std::string_view key) const {
  for (const auto& p : key_classes_)
    if (p->matches(key)) return p.get();
  return nullptr;
}

Decision Engine::unknown_key() const {
  Decision d;
  if (options_.allow_unknown) {
    fill_allowed_without_limits(d);
    return d;
  }
  d.allowed = false;
  d.code = Code::kUnknown;
  d.remaining = 0;
  d.retry_after_ms = -1;
  d.reset_after_ms = 0;
  return d;
}

Decision Engine::table_full() const {
  Decision d;
  d.allowed = false;
  d.code = Code::kRate;
  d.limit = kTableFullLimit;
  d.remaining = 0;
  d.retry_after_ms = ceil_millis(options_.sweep_interval);
  d.reset_after_ms = ceil_millis(options_.sweep_interval);
  return d;
}

// All-or-nothing over the enforced limits: charge each in order; on the first
// denial give back what was taken, then peek the rest so the reply can name
// the limit with the longest wait. Shadow limits are charged only when the
// call is allowed, and count their would-be denials.
bool Engine::charge(Entry* e, int64_t cost, Nanos now, Decision& out, uint32_t* charged_mask, Nanos max_delay,
                    Nanos* recorded_at) {
  const Policy& p = e->policy()->terms_at(now);
  std::atomic<uint64_t>* w = e->words();
  const size_t enforced = p.enforced_count;
  std::array<LimitResult, kMaxLimitsPerPolicy> results;
  size_t denied_at = enforced;
  for (size_t i = 0; i < enforced; ++i) {
    const CompiledLimit& l = *p.limits[i];
    // WAIT: token buckets may reserve a slot up to max_delay ahead (pacing).
    results[i] = max_delay > 0 ? l.limiter.try_reserve(w + l.word_offset, cost, now, max_delay)
                               : l.limiter.try_charge(w + l.word_offset, cost, now);
    if (results[i].sealed || !results[i].allowed) {
      for (size_t j = 0; j < i; ++j)
        p.limits[j]->limiter.refund(w + p.limits[j]->word_offset, cost, results[j].recorded_at, now);
      if (results[i].sealed) return false;
      denied_at = i;
      break;
    }
  }
  if (denied_at < enforced) {
    size_t worst = denied_at;
    for (size_t j = denied_at + 1; j < enforced; ++j) {
      const CompiledLimit& l = *p.limits[j];
      // With the same WAIT tolerance as the charge: what PEEK answers too.
      results[j] = l.limiter.peek(w + l.word_offset, cost, now, max_delay);
      if (!results[j].sealed && !results[j].allowed &&
          longer_wait(results[j].retry_after, results[worst].retry_after))
        worst = j;
    }
    fill(out, false, *p.limits[worst], results[worst]);
    return true;
  }
  uint32_t mask = enforced >= 32 ? ~uint32_t{0} : (uint32_t{1} << enforced) - 1;
  for (size_t i = enforced; i < p.limits.size(); ++i) {
    const CompiledLimit& l = *p.limits[i];
    LimitResult r = l.limiter.try_charge(w + l.word_offset, cost, now);
    if (r.sealed && i == 0) return false;  // only shadow limits, and the entry is being evicted
    if (!r.sealed && !r.allowed) {
      // A monitor's `enforce` action makes this shadow limit deny (read only here: no cost otherwise).
      if (i < 32 && ((p.promoted.load(std::memory_order_relaxed) >> i) & 1) != 0) {
        for (size_t j = 0; j < i; ++j)
          if (mask & (uint32_t{1} << j))
            p.limits[j]->limiter.refund(w + p.limits[j]->word_offset, cost, results[j].recorded_at, now);
        fill(out, false, l, r);
        return true;
      }
      l.shadow_denials.fetch_add(1, std::memory_order_relaxed);
    }
    if (r.allowed) mask |= uint32_t{1} << i;
    results[i] = r;
  }
  if (charged_mask != nullptr) *charged_mask = mask;
  if (recorded_at != nullptr)
    for (size_t i = 0; i < p.limits.size() && i < 32; ++i)
      if (mask & (uint32_t{1} << i)) recorded_at[i] = results[i].recorded_at;
  e->touch(now);
  if (options_.track_changes) state_.dirty_log().mark(e);
  if (enforced == 0) {
    fill_allowed_without_limits(out);
    return true;
  }
  size_t least = 0;
  Nanos delay = results[0].delay;
  for (size_t i = 1; i < enforced; ++i) {
    if (results[i].remaining < results[least].remaining) least = i;
    delay = std::max(delay, results[i].delay);
  }
  fill(out, true, *p.limits[least], results[least]);
  out.delay_ns = delay;
  return true;
}

// charge() without charging: the same results and the same choice of the
// deciding limit (first denial, then strictly longer waits; when allowed the
// least remaining, first on ties), so PEEK answers what CHECK would.
void Engine::evaluate(const Policy& p, const std::atomic<uint64_t>* w, int64_t cost, Nanos now,
                      Nanos max_delay, Decision& out) const {
  std::array<LimitResult, kMaxLimitsPerPolicy> results;
  size_t worst = p.enforced_count, least = p.enforced_count;
  for (size_t i = 0; i < p.enforced_count; ++i) {
    const CompiledLimit& l = *p.limits[i];
    results[i] = l.limiter.peek(w + l.word_offset, cost, now, max_delay);
    if (!results[i].allowed) {
      if (worst == p.enforced_count || longer_wait(results[i].retry_after, results[worst].retry_after))
        worst = i;
    } else if (least == p.enforced_count || results[i].remaining < results[least].remaining) {
      least = i;
    }
  }
  if (worst < p.enforced_count) return fill(out, false, *p.limits[worst], results[worst]);
  // Shadow limits a monitor enforces deny as CHECK's would (its shadow charge has no WAIT).
  if (const uint32_t promoted = p.rules ? p.promoted.load(std::memory_order_relaxed) : 0; promoted != 0)
    for (size_t i = p.enforced_count; i < p.limits.size() && i < 32; ++i)
      if ((promoted >> i) & 1) {
        const LimitResult r = p.limits[i]->limiter.peek(w + p.limits[i]->word_offset, cost, now, 0);
        if (!r.allowed) return fill(out, false, *p.limits[i], r);
      }
  if (least < p.enforced_count) return fill(out, true, *p.limits[least], results[least]);
  fill_allowed_without_limits(out);
}

// With an ID, the call is remembered: a retry within the dedup window gets
// the first allowed reply and is not charged again; a denied call is forgotten.
Decision Engine::check(const CheckRequest& request, Nanos now, int worker) {
  return check_with_hash(request, CounterTable::hash_key(request.key), now, worker);
}

Decision Engine::check_with_hash(const CheckRequest& request, uint64_t key_hash, Nanos now, int worker) {
  if (request.id.empty()) return check_without_id(request, key_hash, now, worker);
  Provisional taken;
  const uint64_t id_hash = request_id_hash(request.key, request.id);
  DedupTable::Claim claim = dedup_.begin(id_hash, now);
  if (claim.result == DedupTable::Lookup::kReplay) return replay(request.key, claim.stored);
  if (claim.result == DedupTable::Lookup::kInProgress) return id_in_progress();
  Decision d = decide(request, key_hash, now, id_hash, taken);
  ContractState* const decided_on = taken.decided_on;
  if (d.allowed) finalize(taken, now, worker, d);
  if (decided_on != nullptr) decided_on->count_decision(d.code, worker);
  dedup_.finish(claim.slot, id_hash, d.allowed, stored_reply(request.key, d), now);
  return d;
}

// A call without ID. Its own function so that its one named result is
// built in the caller's slot (GCC elides a copy only when every return of a
// function returns the same variable): no copy of the Decision per CHECK.
Decision Engine::check_without_id(const CheckRequest& request, uint64_t key_hash, Nanos now, int worker) {
  Provisional taken;
  Decision d = decide(request, key_hash, now, 0, taken);
  ContractState* const decided_on = taken.decided_on;
  if (d.allowed) finalize(taken, now, worker, d);
  if (decided_on != nullptr) decided_on->count_decision(d.code, worker);
  return d;
}

DedupTable::Stored Engine::stored_reply(std::string_view key, const Decision& d) const {
  DedupTable::Stored stored{d.remaining, d.reset_after_ms, d.balance, -1};
  if (d.allowed && !d.limit.empty()) {
    if (const Entry* e = table_.find(key, CounterTable::hash_key(key))) {
      const Policy& p = *e->policy();
      for (size_t i = 0; i < p.limits.size(); ++i)
        if (p.limits[i]->spec.name.data() == d.limit.data()) stored.limit_index = static_cast<int32_t>(i);
    }
  }
  return stored;
}

Decision Engine::replay(std::string_view key, const DedupTable::Stored& stored) const {
  Decision d;
  d.allowed = true;
  d.code = Code::kOk;
  d.remaining = stored.remaining;
  d.retry_after_ms = 0;
  d.reset_after_ms = stored.reset_after_ms;
  d.balance = stored.balance;
  if (stored.limit_index >= 0) {
    if (const Entry* e = table_.find(key, CounterTable::hash_key(key))) {
      const Policy& p = *e->policy();
      if (static_cast<size_t>(stored.limit_index) < p.limits.size()) d.limit = p.limits[stored.limit_index]->spec.name;
    }
  }
  return d;
}

Decision Engine::decide(const CheckRequest& request, uint64_t hash, Nanos now, uint64_t id_hash,
                        Provisional& taken) {
  Decision out;
  Entry* e = table_.find(request.key, hash);
  // A sealed entry is being evicted; the locked insert path waits for the
  // evictor and then finds or creates the live entry. Bounded retries.
  for (int attempt = 0; attempt < 8; ++attempt) {
    if (attempt > 0) e = table_.find(request.key, hash);  // replaced by a reload, or evicted
    if (e == nullptr || (attempt > 0 && e->dynamic())) {
      const Policy* cls = match_class(request.key);
      if (cls == nullptr) return unknown_key();  // static keys are never sealed
      auto [entry, result] = table_.insert(request.key, hash, cls, cls->word_count, true, now, [&](Entry* fresh) {
        for (const auto& l : cls->limits) l->limiter.init(fresh->words() + l->word_offset, now);
      });
      if (result == CounterTable::InsertResult::kFull) return table_full();
      e = entry;
    }
    if (e->policy()->rules) {
      taken.decided_on = e->policy()->state;  // counted by code once final (check / check_all)
      return check_contract(e, request, now, id_hash, taken);
    }
    if (charge(e, request.cost, now, out, &taken.mask, wait_of(request), taken.recorded_at.data())) {
      if (out.allowed) {
        taken.entry = e;
        taken.policy = e->policy();
        taken.cost = request.cost;
      }
      return out;
    }
  }
  return table_full();
}

Entry* Engine::entry_for(std::string_view key, Nanos now) {
  const uint64_t hash = CounterTable::hash_key(key);
  if (Entry* e = table_.find(key, hash)) return e;
  // The same precedence as policy_for: a subject key before a key class.
  const Policy* cls = nullptr;
  if (size_t sep = key.find(kSubjectSeparator); sep != std::string_view::npos) {
    for (const auto& c : contracts_)
      if (c->name == key.substr(0, sep)) cls = c->per_subject.get();
  }
  if (cls == nullptr) cls = match_class(key);
  if (cls == nullptr) return nullptr;
  auto [entry, result] = table_.insert(key, hash, cls, cls->word_count, true, now, [&](Entry* fresh) {
    for (const auto& l : cls->limits) l->limiter.init(fresh->words() + l->word_offset, now);
  });
  return result == CounterTable::InsertResult::kFull ? nullptr : entry;
}

const Policy* Engine::contract(std::string_view key) const { return contract(key, CounterTable::hash_key(key)); }

const Policy* Engine::contract(std::string_view key, uint64_t key_hash) const {
  const Entry* e = table_.find(key, key_hash);
  return e != nullptr && e->policy()->rules ? e->policy() : nullptr;
}

namespace {

void deny_with(Decision& d, Code code, int64_t retry_after_ms) {
  d = Decision{};
  d.allowed = false;
  d.code = code;
  d.remaining = 0;
  d.retry_after_ms = retry_after_ms;
  d.reset_after_ms = 0;
}

bool listed(const std::vector<std::string>& allowed, std::string_view value) {
  if (allowed.empty()) return true;
  for (const auto& a : allowed)
    if (a == value) return true;
  return false;
}

// The position of `value` in `allowed`: -1 when not listed, kAnyChannel when
// the list is empty (any value).
constexpr int kAnyChannel = -2;
int channel_position(const std::vector<std::string>& allowed, std::string_view value) {
  if (allowed.empty()) return kAnyChannel;
  for (size_t i = 0; i < allowed.size(); ++i)
    if (allowed[i] == value) return static_cast<int>(i);
  return -1;
}

}  // namespace

void Engine::sync_restrictions(const Policy& p) {
  if (!p.rules || p.state == nullptr) return;
  const std::vector<ActiveAction> actions = p.state->actions();
  for (const Policy* terms = &p; terms != nullptr; terms = terms->next.get()) {  // each its own channels, limits, slots
    // Slots and mask first, then the word: a call that sees the throttle bit finds its slot.
    const bool throttled = sync_monitor_actions(*terms, actions, options_.shadow_mode);
    uint64_t word = restriction_word(actions, terms->rules->channels) & ~kThrottledBit;
    if (throttled) word |= kThrottledBit;
    terms->restricted.store(word, std::memory_order_relaxed);
  }
}

void Engine::sync_restrictions(std::string_view key) {
  if (const Policy* p = contract(key)) sync_restrictions(*p);
}

namespace {

// A monitor's action in force (Policy::restricted): SUSPENDED for the whole
// contract, CHANNEL for a blocked channel, RATE past a throttle (charged only
// with `charge`: CHECK, not PEEK); the limit names the monitor.
bool restricted_by_monitor(const Policy& p, uint64_t word, int channel, Nanos now, bool charge, Decision& out) {
  if (word & kSuspendedBit) {
    deny_with(out, Code::kSuspended, -1);
  } else if (channel >= 0 && static_cast<size_t>(channel) < kMaxBlockableChannels && ((word >> channel) & 1) != 0) {
    deny_with(out, Code::kChannel, -1);
  } else if ((word & kThrottledBit) != 0 && throttled_by_monitor(p, channel, now, charge, out)) {
    return true;
  } else {
    return false;
  }
  out.limit = kMonitorLimit;
  return true;
}

}  // namespace

bool Engine::gate(const Policy& p, const CheckRequest& request, Nanos now, Decision& out, int* channel) const {
  const ContractRules& r = *p.rules;
  int position = kAnyChannel;
  switch (status_under(p)) {
    case ContractStatus::kTerminated: deny_with(out, Code::kTerminated, -1); break;
    case ContractStatus::kSuspended: deny_with(out, Code::kSuspended, -1); break;
    case ContractStatus::kActive:
      if (r.expires && now >= *r.expires) deny_with(out, Code::kExpired, -1);
      else if (r.starts && now < *r.starts) deny_with(out, Code::kNotStarted, ceil_millis(*r.starts - now));
      else if ((position = channel_position(r.channels, request.channel)) == -1) deny_with(out, Code::kChannel, -1);
      else if (!listed(r.purposes, request.purpose)) deny_with(out, Code::kPurpose, -1);
      else if (const uint64_t word = p.restricted.load(std::memory_order_relaxed);
               word != 0 && restricted_by_monitor(p, word, position, now, channel != nullptr, out)) {
      } else {
        if (channel != nullptr) *channel = position;
        return true;
      }
      break;
  }
  if (const Account* a = p.state->account()) out.balance = a->balance();
  return false;
}

// The state store is down: `fail: closed` denies UNAVAILABLE (retry once it
// is back), `fail: open` allows without charging anything. CHECKs (`count`)
// are counted; PEEK answers the same without counting.
Decision Engine::decide_unavailable(const Policy& p, Decision& out, bool count) const {
  const Account* a = p.state->account();
  if (p.rules->fail == FailPolicy::kClosed) {
    if (count) state_.fail_closed_denied().fetch_add(1, std::memory_order_relaxed);
    deny_with(out, Code::kUnavailable, kUnavailableRetryMs);
    out.limit = kStorageLimit;
  } else {
    if (count) state_.fail_open_allowed().fetch_add(1, std::memory_order_relaxed);
    out = Decision{};
    out.allowed = true;
    out.code = Code::kOk;
  }
  out.balance = a != nullptr ? a->balance() : -1;
  return out;
}

void Engine::deny_balance(const Policy& p, Decision& out) const {
  const Account* a = p.state->account();
  deny_with(out, Code::kBalance, -1);
  out.limit = "balance";
  out.remaining = a->credits();
  out.balance = a->balance();
}

const ConcurrencyLimit* Engine::tightest_concurrency(const Policy& p) const {
  const ConcurrencyLimit* tightest = nullptr;
  for (const auto& c : p.rules->concurrency)
    if (!c.shadow && !options_.shadow_mode && (tightest == nullptr || c.limit < tightest->limit)) tightest = &c;
  return tightest;
}

Decision Engine::deny_concurrency(const Policy& p, std::string_view limit) const {
  Decision out;
  out.code = Code::kConcurrency;
  out.limit = limit;
  out.retry_after_ms = kConcurrencyRetryMs;
  const Account* a = p.state->account();
  out.balance = a != nullptr ? a->balance() : -1;
  return out;
}

Decision Engine::id_in_progress() const {
  Decision d;
  d.allowed = false;
  d.code = Code::kConcurrency;
  d.limit = kIdInProgressLimit;
  d.retry_after_ms = 1;
  return d;
}

// A contract call: gates first (status, expiry, scope), then concurrency
// (open holds), then the prepaid reservation, then the counter limits, the
// subject and the hold's pool slot; any denial gives back what was taken.
// An allowed call leaves its charge in `taken` for finalize() (or abandon()).
Decision Engine::check_contract(Entry* e, const CheckRequest& request, Nanos now, uint64_t id_hash,
                                Provisional& taken) {
  const Policy& p = e->policy()->terms_at(now);
  const ContractRules& rules = *p.rules;
  ContractState& st = *p.state;
  Decision out;
  int channel = kAnyChannel;
  if (!gate(p, request, now, out, &channel)) return out;
  if (channel >= 0) p.channel_calls[channel].fetch_add(1, std::memory_order_relaxed);  // the monitors' counter
  // A fleet contract spends its lease first; take_fleet applies `fail:` once it is spent.
  FleetLease* fleet = st.fleet();
  if (fleet == nullptr && !state_.storage_available() && rules.fail != FailPolicy::kLocal)
    return decide_unavailable(p, out, true);
  const bool hold = request.hold_ms > 0;
  const bool needs_subject = p.per_subject != nullptr || !p.distinct.empty();
  if (needs_subject && request.subject.empty()) {
    deny_with(out, Code::kSubjects, -1);
    out.limit = kSubjectRequiredLimit;
    out.balance = st.account() != nullptr ? st.account()->balance() : -1;
    return out;
  }
  Account* account = st.account();
  auto denied = [&](Decision d) {
    abandon(taken, now);
    d.balance = account != nullptr ? account->balance() : -1;
    return d;
  };
  taken.contract = &p;
  taken.cost = request.cost;

  // Concurrency: enforced limits bound open holds; shadow ones only count.
  const ConcurrencyLimit* tightest = tightest_concurrency(p);
  std::atomic<int64_t>& open = st.open_holds();
  int64_t open_before = open.load(std::memory_order_acquire);
  if (hold) {
    for (;;) {
      if (tightest != nullptr && open_before >= tightest->limit) {
        taken.contract = nullptr;
        return deny_concurrency(p, tightest->name);
      }
      if (open.compare_exchange_weak(open_before, open_before + 1, std::memory_order_acq_rel)) break;
    }
    taken.slot = true;
  } else if (tightest != nullptr && open_before >= tightest->limit) {
    taken.contract = nullptr;
    return deny_concurrency(p, tightest->name);  // a call without HOLD occupies no slot
  }
  taken.open_before = open_before;

  // Money: the credits are only reserved here (all or nothing, one CAS) and
  // taken from the lots once everything allowed the call (finalize(); a HOLD
  // records every lot there, so that its CANCEL can give each lot back what
  // it gave). A denial releases the reservation: no lot is touched.
  if (account != nullptr && request.cost > 0) {
    if (!account->reserve(request.cost, now)) {
      abandon(taken, now);
      deny_balance(p, out);
      return out;
    }
    taken.reserved = true;
  }
  if (!charge(e, request.cost, now, out, &taken.mask, wait_of(request), taken.recorded_at.data()) ||
      !out.allowed)  // never sealed
    return denied(out);
  taken.entry = e;
  taken.policy = &p;
  if (!request.subject.empty() && !charge_subject(p, request, now, out, taken)) return denied(out);
  if (fleet != nullptr && !take_fleet(p, *fleet, request, now, out, taken)) {
    if (out.allowed) {  // fail: open while Redis is away: allowed, nothing charged
      abandon(taken, now);
      return out;
    }
    return denied(out);
  }
  if (hold) {
    taken.hold_slot = holds_.claim(id_hash);
    if (taken.hold_slot == HoldTable::kNoSlot) return denied(deny_concurrency(p, kHoldPoolFullLimit));
    taken.hold_hash = id_hash;
    // A paced call's hold runs from its slot.
    taken.hold_expires_at = now + out.delay_ns + request.hold_ms * kNanosPerMilli;
  }
  return out;
}

void Engine::finalize(Provisional& taken, Nanos now, int worker, Decision& out) {
  const Policy* p = taken.contract;
  if (p == nullptr) return;  // a key class or an uncharged allow: nothing pending
  ContractState& st = *p->state;
  const ContractRules& rules = *p->rules;
  for (const auto& c : rules.concurrency)
    if ((c.shadow || options_.shadow_mode) && taken.open_before >= c.limit)
      st.concurrency_shadow_denials().fetch_add(1, std::memory_order_relaxed);
  Account* account = st.account();
  const bool hold = taken.hold_slot != HoldTable::kNoSlot;
  DebitResult debit;
  if (taken.reserved) {
    // The lots' prices go into the decision (the call log's exact money by
    // lot price): only here, on the priced path.
    PriceSplit split;
    if (hold) debit = account->take_reserved_recorded(taken.cost, &split);
    else account->take_reserved(taken.cost, &split);
    taken.reserved = false;
    out.lot_prices = split.prices;
    out.lots = split.charge;
  }
  if (taken.subject && p->subjects != nullptr && p->subjects->hll) p->subjects->hll->add(taken.subject_hash, now);
  if (hold) {
    HoldCharge charge;
    charge.contract = &st;
    charge.cost = taken.cost;
    charge.charged_at = now;
    charge.limit_mask = taken.mask;
    charge.takes_slot = true;
    charge.commit_on_expiry = rules.hold_timeout == HoldTimeoutPolicy::kCommit;
    if (debit.ok()) charge.take_spans(std::move(debit));
    holds_.publish(taken.hold_slot, taken.hold_hash, charge, taken.hold_expires_at, worker);
  }
  out.balance = account != nullptr ? account->balance() : -1;
  taken.clear();
}

// The reverse of everything check_contract / decide / charge_subject took.
void Engine::abandon(Provisional& taken, Nanos now) {
  if (taken.fleet != nullptr) give_back_fleet(taken);
  if (taken.hold_slot != HoldTable::kNoSlot) holds_.unclaim(taken.hold_slot);
  if (taken.subject_entry != nullptr)
    refund_charged(taken.subject_entry, *taken.subject_policy, taken.subject_mask, taken.cost,
                   taken.subject_recorded_at.data(), now);
  for (size_t i = taken.admitted_count; i-- > 0;)
    taken.admitted[i].set->forget(taken.subject_hash, taken.admitted[i].in);
  if (taken.entry != nullptr)
    refund_charged(taken.entry, *taken.policy, taken.mask, taken.cost, taken.recorded_at.data(), now);
  if (taken.contract != nullptr) {
    ContractState& st = *taken.contract->state;
    if (taken.reserved) st.account()->release(taken.cost);
    if (taken.slot) st.open_holds().fetch_sub(1, std::memory_order_acq_rel);
  }
  taken.clear();
}

void Engine::refund_charged(Entry* e, const Policy& p, uint32_t mask, int64_t cost, const Nanos* recorded_at,
                            Nanos now) {
  for (size_t i = 0; i < p.limits.size() && i < 32; ++i)
    if (mask & (uint32_t{1} << i))
      p.limits[i]->limiter.refund(e->words() + p.limits[i]->word_offset, cost, recorded_at[i], now);
  if (options_.track_changes) state_.dirty_log().mark(e);
}

void Engine::refund_limits(Entry* e, uint32_t mask, int64_t cost, Nanos charged_at, Nanos now) {
  const Policy& p = e->policy()->terms_at(charged_at);  // the terms that charged (mask indexes their limits)
  for (size_t i = 0; i < p.limits.size() && i < 32; ++i)
    if (mask & (uint32_t{1} << i))
      p.limits[i]->limiter.refund(e->words() + p.limits[i]->word_offset, cost, charged_at, now);
  if (options_.track_changes) state_.dirty_log().mark(e);
}

// The ticket ends after apply_settlement: a checkpoint's account read sees
// the settle's refund whole or not at all (hold_table.h, "Settle ordinals").
bool Engine::settle(std::string_view key, std::string_view id, bool commit, Nanos now) {
  HoldTable::Settling settling(holds_);
  HoldCharge charge;
  if (!holds_.take(request_id_hash(key, id), charge, &settling)) return false;
  apply_settlement(charge, commit, now);
  return true;
}

size_t Engine::expire_holds(int worker, Nanos now, size_t max) {
  size_t n = 0;
  HoldCharge charge;
  while (n < max) {
    HoldTable::Settling settling(holds_);
    if (!holds_.pop_expired(worker, now, charge, &settling)) return n;
    apply_settlement(charge, charge.commit_on_expiry, now);
    ++n;
  }
  return n;
}

// COMMIT keeps the charge; CANCEL gives every charged limit its units back
// (to the slice/period they were taken from) and the credits to their lots.
// Either way the hold stops counting against concurrency.
void Engine::apply_settlement(const HoldCharge& charge, bool commit, Nanos now) {
  ContractState& st = *charge.contract;
  if (!commit) {
    const std::string& key = st.key();
    if (Entry* e = table_.find(key, CounterTable::hash_key(key)))
      refund_limits(e, charge.limit_mask, charge.cost, charge.charged_at, now);
    if (charge.span_count > 0 && st.account() != nullptr) (void)st.account()->refund(charge.taken(), now);
  }
  if (charge.takes_slot) st.open_holds().fetch_sub(1, std::memory_order_acq_rel);
}

std::vector<HoldImage> Engine::export_holds(std::vector<uint64_t>* identities) const {
  std::vector<HoldImage> out;
  holds_.for_each_open_identified([&](uint64_t hash, Nanos expires_at, const HoldCharge& charge, uint64_t identity) {
    if (identities != nullptr) identities->push_back(identity);
    HoldImage image;
    image.hash = hash;
    image.contract = charge.contract->key();
    image.cost = charge.cost;
    image.charged_at = charge.charged_at;
    image.expires_at = expires_at;
    image.takes_slot = charge.takes_slot;
    image.commit_on_expiry = charge.commit_on_expiry;
    const std::span<const DebitSpan> taken = charge.taken();
    image.spans.assign(taken.begin(), taken.end());
    if (const Policy* base = contract(image.contract)) {
      const Policy* p = &base->terms_at(charge.charged_at);
      for (size_t i = 0; i < p->limits.size() && i < 32; ++i)
        if (charge.limit_mask & (uint32_t{1} << i)) image.limits.push_back(p->limits[i]->spec.name);
    }
    out.push_back(std::move(image));
  });
  return out;
}

// Limits are matched by name: a limit renamed or removed since the hold was
// charged is not refunded by its CANCEL (its units are gone with it).
bool Engine::restore_hold(const HoldImage& image) {
  const Policy* p = contract(image.contract);
  if (p == nullptr || p->state == nullptr || image.spans.size() > UINT32_MAX) return false;
  HoldCharge charge;
  charge.contract = p->state;
  charge.cost = image.cost;
  charge.charged_at = image.charged_at;
  const Policy& terms = p->terms_at(image.charged_at);  // apply_settlement refunds through these
  for (size_t i = 0; i < terms.limits.size() && i < 32; ++i)
    if (std::find(image.limits.begin(), image.limits.end(), terms.limits[i]->spec.name) != image.limits.end())
      charge.limit_mask |= uint32_t{1} << i;
  charge.takes_slot = image.takes_slot;
  charge.commit_on_expiry = image.commit_on_expiry;
  charge.set_spans(image.spans);
  const int worker = static_cast<int>(image.hash % static_cast<uint64_t>(holds_.workers()));
  if (!holds_.create(image.hash, charge, image.expires_at, worker)) return false;
  if (charge.takes_slot) p->state->open_holds().fetch_add(1, std::memory_order_acq_rel);
  return true;
}

void Engine::for_each_distinct_set(
    const std::function<void(const std::string&, const std::string&, DistinctSubjects&)>& visit) {
  for (auto& [contract, subjects] : subjects_)
    for (auto& [limit, set] : subjects->sets) visit(contract, limit, *set);
}

void Engine::for_each_subject_estimate(const std::function<void(const std::string&, PeriodHll&)>& visit) {
  for (auto& [contract, subjects] : subjects_)
    if (subjects->hll) visit(contract, *subjects->hll);
}

// check() without charging anything: the same steps in the same order, each
// asked what it would answer (a remembered ID replays, as CHECK would).
Decision Engine::peek(const CheckRequest& request, Nanos now) const {
  if (!request.id.empty()) {
    DedupTable::Claim claim = dedup_.peek(request_id_hash(request.key, request.id), now);
    if (claim.result == DedupTable::Lookup::kReplay) return replay(request.key, claim.stored);
    if (claim.result == DedupTable::Lookup::kInProgress) return id_in_progress();
  }
  const uint64_t hash = CounterTable::hash_key(request.key);
  Decision out;
  if (const Entry* e = table_.find(request.key, hash)) {
    if (e->policy()->rules) return peek_contract(*e, request, now);
    evaluate(*e->policy(), e->words(), request.cost, now, wait_of(request), out);
    return out;
  }
  const Policy* cls = match_class(request.key);
  if (cls == nullptr) return unknown_key();
  if (table_.dynamic_size() >= table_.max_dynamic_keys()) return table_full();  // CHECK could not create it
  // A fresh key's answer, without creating it.
  std::atomic<uint64_t>* w = scratch_words(static_cast<size_t>(cls->word_count));
  for (const auto& l : cls->limits) l->limiter.init(w + l->word_offset, now);
  evaluate(*cls, w, request.cost, now, wait_of(request), out);
  return out;
}

// check_contract's steps, in its order, charging nothing.
Decision Engine::peek_contract(const Entry& e, const CheckRequest& request, Nanos now) const {
  const Policy& p = e.policy()->terms_at(now);
  Decision out;
  if (!gate(p, request, now, out)) return out;
  if (!state_.storage_available() && p.rules->fail != FailPolicy::kLocal) return decide_unavailable(p, out, false);
  const Account* account = p.state->account();
  const int64_t balance_now = account != nullptr ? account->balance() : -1;
  if ((p.per_subject != nullptr || !p.distinct.empty()) && request.subject.empty()) {
    deny_with(out, Code::kSubjects, -1);
    out.limit = kSubjectRequiredLimit;
    out.balance = balance_now;
    return out;
  }
  const ConcurrencyLimit* tightest = tightest_concurrency(p);
  if (tightest != nullptr && p.state->open_holds().load(std::memory_order_acquire) >= tightest->limit)
    return deny_concurrency(p, tightest->name);
  const bool hold = request.hold_ms > 0;
  Account::DebitPreview debit;
  debit.balance = balance_now;
  if (account != nullptr && request.cost > 0) {
    debit = account->preview_debit(request.cost, now);
    if (!debit.covered) {
      deny_balance(p, out);
      return out;
    }
  }
  evaluate(p, e.words(), request.cost, now, wait_of(request), out);
  if (out.allowed && !request.subject.empty()) peek_subject(p, request, now, out);
  if (!out.allowed) {
    out.balance = balance_now;
    return out;
  }
  if (hold && !holds_.would_create(request_id_hash(request.key, request.id)))
    return deny_concurrency(p, kHoldPoolFullLimit);
  out.balance = debit.balance;
  return out;
}

size_t Engine::sweep(Nanos now, size_t budget) {
  const uint32_t now_s = static_cast<uint32_t>(now / kNanosPerSecond);
  return table_.sweep(budget, [&](Entry* e) {
    const Policy& p = *e->policy();
    if (int64_t{now_s} - int64_t{e->last_used_s()} < p.idle_timeout / kNanosPerSecond) return false;
    // Seal from the last limit to the first: a charge always starts at limit
    // 0, so once limit 0 is sealed no charge can be in flight on this entry.
    std::atomic<uint64_t>* w = e->words();
    for (size_t i = p.limits.size(); i-- > 0;) {
      const CompiledLimit& l = *p.limits[i];
      if (!l.limiter.try_seal(w + l.word_offset, now)) {
        // Not at rest after all: the limits sealed so far were at rest, so a
        // fresh state is equivalent; unseal them that way.
        for (size_t j = i + 1; j < p.limits.size(); ++j)
          p.limits[j]->limiter.reset(w + p.limits[j]->word_offset, now);
        return false;
      }
    }
    return true;
  });
}

}  // namespace tollgate
