#include "control/contract_admin.h"

#include <cctz/time_zone.h>
#include <fmt/format.h>

#include <chrono>

#include "config/config.h"  // yaml_name
#include "config/units.h"   // format_duration
#include "engine/contract_schedule.h"
#include "engine/money/amount.h"

namespace tollgate {
namespace {

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

std::string_view status_word(ContractStatus s) { return yaml_name(s); }

AdminError refuse(AdminError::Code code, std::string_view subject = {}, std::string detail = {}) {
  return AdminError{code, std::string(subject), std::move(detail)};
}

AdminRecord new_record(AdminRecord::Kind kind, std::string_view key, int64_t actor, Nanos now) {
  AdminRecord record;
  record.kind = kind;
  record.contract = std::string(key);
  record.time = now;
  record.actor = actor;
  return record;
}

}  // namespace

std::string format_instant(Nanos t, std::string_view zone) {
  cctz::time_zone tz;
  if (!cctz::load_time_zone(std::string(zone), &tz)) tz = cctz::utc_time_zone();
  auto tp = std::chrono::time_point<std::chrono::system_clock, std::chrono::nanoseconds>(std::chrono::nanoseconds(t));
  return cctz::format("%Y-%m-%dT%H:%M:%E*S%Ez", tp, tz);
}

ContractAdmin::ContractAdmin(std::function<Engine&()> engine, RuntimeState& state)
    : engine_(std::move(engine)), state_(state) {}

namespace {

// Scheduled changes still pending after the terms `in_force`:
// changes, change.<n>.at, change.<n>.changes (what it changes).
void append_pending_changes(const Policy& in_force, const std::string& zone, Fields& f) {
  std::vector<const Policy*> pending;
  for (const Policy* next = in_force.next.get(); next != nullptr; next = next->next.get()) pending.push_back(next);
  f.emplace_back("changes", std::to_string(pending.size()));
  for (size_t i = 0; i < pending.size(); ++i) {
    const std::string prefix = "change." + std::to_string(i) + ".";
    f.emplace_back(prefix + "at", format_instant(pending[i]->effective_from, zone));
    f.emplace_back(prefix + "changes", pending[i]->change_note);
  }
}

}  // namespace

std::expected<const Policy*, AdminError> ContractAdmin::find_contract(std::string_view key) {
  const Policy* p = engine_().contract(key);
  if (p == nullptr) return std::unexpected(refuse(AdminError::Code::kNoSuchContract, key));
  return p;
}

std::unique_lock<std::mutex> ContractAdmin::exclusive() {
  return hook_ != nullptr ? hook_->exclusive() : std::unique_lock<std::mutex>(memory_mutex_);
}

// The write-ahead step of every mutation: durable first (when a store is
// set), then applied by the function recovery replays. Caller holds exclusive().
// The store may flush debits into the ledger before the record and number
// its ledger entry after them (DurabilityHook::durable): what is applied is
// the record as journaled.
std::expected<void, AdminError> ContractAdmin::make_durable_and_apply(const AdminRecord& proposed) {
  AdminRecord record = proposed;
  if (hook_ != nullptr) {
    if (auto durable = hook_->durable(record); !durable)
      return std::unexpected(refuse(AdminError::Code::kNotDurable, record.contract, durable.error()));
  }
  if (auto applied = apply_admin_record(record, engine_(), state_); !applied)
    return std::unexpected(refuse(AdminError::Code::kNotApplied, record.contract, applied.error()));
  if (record.kind == AdminRecord::Kind::kAction) action_changes_.fetch_add(1, std::memory_order_release);
  if (on_applied_) on_applied_(record);
  return {};
}

std::expected<std::string, AdminError> ContractAdmin::snapshot() {
  if (hook_ == nullptr) return std::unexpected(refuse(AdminError::Code::kNoStorage));
  auto done = hook_->snapshot_now();
  if (!done) return std::unexpected(refuse(AdminError::Code::kSnapshotFailed, {}, done.error()));
  return std::move(*done);
}

void ContractAdmin::describe_admin(AdminRecord& record, std::string_view what) const {
  record.ledger_entry = LedgerEntry{.seq = state_.ledger().last_seq() + 1,
                                    .time_ms = record.time / kNanosPerMilli,
                                    .contract = record.contract,
                                    .kind = LedgerKind::kAdmin,
                                    .amount = 0,
                                    .lot = -1,
                                    .actor = record.actor,
                                    .id = std::string(what)};
  record.event_kind = std::string(what.substr(0, what.find(':')));
  record.event_detail = std::string(what);
}

std::expected<RechargeReply, AdminError> ContractAdmin::recharge(std::string_view key, std::string_view amount_text,
                                                                  std::string_view payment_id, int64_t actor,
                                                                  Nanos now) {
  auto lock = exclusive();
  auto policy = find_contract(key);
  if (!policy) return std::unexpected(policy.error());
  Account* account = (*policy)->state->account();
  if (account == nullptr) return std::unexpected(refuse(AdminError::Code::kNoPricing, key));
  auto amount = parse_minor(amount_text);
  if (!amount || *amount <= 0) return std::unexpected(refuse(AdminError::Code::kBadAmount, key));
  if (payment_id.empty() || payment_id.size() > kMaxPaymentId)
    return std::unexpected(refuse(AdminError::Code::kBadPaymentIdLength, key));
  for (char c : payment_id)
    if (c <= ' ' || c > '~') return std::unexpected(refuse(AdminError::Code::kPaymentIdNotPrintable, key));
  if ((*policy)->state->status() == ContractStatus::kTerminated)
    return std::unexpected(refuse(AdminError::Code::kTerminated, key));
  // A known payment id answers from its record: nothing new to make durable.
  if (auto known = state_.payments().find(payment_id)) {
    if (known->contract != key)
      return std::unexpected(refuse(AdminError::Code::kPaymentIdOtherContract, payment_id, known->contract));
    if (known->amount != *amount) {
      AdminError e = refuse(AdminError::Code::kPaymentIdOtherAmount, payment_id);
      e.amount = known->amount;
      return std::unexpected(std::move(e));
    }
    return known->reply;
  }
  // A scheduled pricing change already in force, before the control plane's
  // rebuild sets the same ladder (engine/contract_schedule.h).
  if (const Policy& terms = (*policy)->terms_at(now); terms.scheduled && terms.rules->pricing)
    account->set_ladder(*terms.rules->pricing);
  auto plan = account->plan_recharge(*amount, now);
  if (!plan) return std::unexpected(refuse(AdminError::Code::kRechargeRefused, key, plan.error()));
  // The lot keeps the validity in force when it was bought (a reload that
  // changes pricing.lot_validity leaves existing lots alone).
  const ContractRules& rules = *(*policy)->rules;
  auto expires = lot_expiry(rules.lot_validity, now, rules.lot_zone);
  if (!expires) return std::unexpected(refuse(AdminError::Code::kRechargeRefused, key, expires.error()));
  AdminRecord record = new_record(AdminRecord::Kind::kRecharge, key, actor, now);
  record.payment_id = std::string(payment_id);
  record.lot = recharge_lot(*plan, now, *expires);
  record.wallet = plan->wallet;
  record.reply = RechargeReply{plan->credits, plan->unit_price, plan->balance};
  record.ledger_entry = recharge_entry(*plan, state_.ledger().last_seq() + 1, now, key, actor, payment_id);
  record.event_kind = "recharge";
  record.event_detail = fmt::format("amount {} credits {} unit_price {} payment {}", plan->amount, plan->credits,
                                    plan->unit_price, payment_id);
  if (auto done = make_durable_and_apply(record); !done) return std::unexpected(done.error());
  return record.reply;
}

std::expected<void, AdminError> ContractAdmin::set_status(std::string_view key, ContractStatus status,
                                                          std::string_view verb, std::string reason, int64_t actor,
                                                          Nanos now) {
  auto lock = exclusive();
  auto policy = find_contract(key);
  if (!policy) return std::unexpected(policy.error());
  ContractState& st = *(*policy)->state;
  if (st.status() == ContractStatus::kTerminated && status != ContractStatus::kTerminated)
    return std::unexpected(refuse(AdminError::Code::kTerminatedIsFinal, key, std::string(verb)));
  AdminRecord record = new_record(AdminRecord::Kind::kStatus, key, actor, now);
  record.status = status;
  record.reason = reason;
  describe_admin(record, reason.empty() ? std::string(verb) : fmt::format("{}: {}", verb, reason));
  return make_durable_and_apply(record);
}

std::expected<void, AdminError> ContractAdmin::suspend(std::string_view key, std::string_view reason, int64_t actor,
                                                        Nanos now) {
  return set_status(key, ContractStatus::kSuspended, "suspend", std::string(reason), actor, now);
}

std::expected<void, AdminError> ContractAdmin::resume(std::string_view key, int64_t actor, Nanos now) {
  return set_status(key, ContractStatus::kActive, "resume", "", actor, now);
}

std::expected<void, AdminError> ContractAdmin::terminate(std::string_view key, int64_t actor, Nanos now) {
  return set_status(key, ContractStatus::kTerminated, "terminate", "", actor, now);
}

std::expected<int64_t, AdminError> ContractAdmin::reset(std::string_view key, std::string_view limit, int64_t actor,
                                                        Nanos now) {
  auto lock = exclusive();
  Engine& engine = engine_();
  const Entry* e = engine.table().find(key, CounterTable::hash_key(key));
  if (e == nullptr) return std::unexpected(refuse(AdminError::Code::kNoSuchKey, key));
  int64_t count = 0;
  for (const auto& l : e->policy()->limits)
    if (limit.empty() || l->spec.name == limit) ++count;
  if (count == 0) return std::unexpected(refuse(AdminError::Code::kNoSuchLimit, key, std::string(limit)));
  AdminRecord record = new_record(AdminRecord::Kind::kReset, key, actor, now);
  record.limit = std::string(limit);
  describe_admin(record, limit.empty() ? std::string("reset") : fmt::format("reset: {}", limit));
  if (auto done = make_durable_and_apply(record); !done) return std::unexpected(done.error());
  return count;
}

std::expected<Fields, AdminError> ContractAdmin::describe(std::string_view key, Nanos now) {
  auto lock = exclusive();  // its ledger flush is a change of persisted state
  auto policy = find_contract(key);
  if (!policy) return std::unexpected(policy.error());
  Engine& engine = engine_();
  const Policy& p = (*policy)->terms_at(now);  // the terms in force now (scheduled changes)
  const ContractRules& r = *p.rules;
  ContractState& st = *p.state;
  const std::string& zone = engine.options().timezone;
  Fields f;
  f.emplace_back("status", std::string(status_word(status_under(p))));
  f.emplace_back("status_reason", st.reason());
  f.emplace_back("status_source", st.overridden() ? "admin" : "config");
  f.emplace_back("starts", r.starts ? format_instant(*r.starts, zone) : "");
  f.emplace_back("expires", r.expires ? format_instant(*r.expires, zone) : "");
  f.emplace_back("channels", join(r.channels));
  f.emplace_back("purposes", join(r.purposes));
  f.emplace_back("pricing", r.pricing_name);
  f.emplace_back("lot_validity", format_lot_validity(r.lot_validity));
  if (Account* a = st.account()) {
    (void)a->expire_due(now);  // what is due by now is gone, swept or not
    FlushResult flushed = state_.ledger().flush_debits(*a, key, now);
    f.emplace_back("balance", std::to_string(flushed.balance));
    f.emplace_back("credits", std::to_string(flushed.credits));
    f.emplace_back("wallet", std::to_string(a->wallet()));
    f.emplace_back("lots", std::to_string(a->lot_count()));
    // Per lot with credits left: lot.<i>.credits/.unit_price/.expires (empty: never).
    for (const LotState& lot : a->snapshot().lots) {
      if (lot.remaining() <= 0) continue;
      const std::string prefix = "lot." + std::to_string(lot.index) + ".";
      f.emplace_back(prefix + "credits", std::to_string(lot.remaining()));
      f.emplace_back(prefix + "unit_price", std::to_string(lot.unit_price));
      f.emplace_back(prefix + "expires", lot.expires != 0 ? format_instant(lot.expires, zone) : "");
    }
  } else {
    f.emplace_back("balance", "-1");
    f.emplace_back("credits", "-1");
    f.emplace_back("wallet", "0");
    f.emplace_back("lots", "0");
  }
  f.emplace_back("open_holds", std::to_string(st.open_holds().load()));
  const Entry* e = engine.table().find(key, CounterTable::hash_key(key));
  for (const auto& l : p.limits) {
    LimitResult res = l->limiter.peek(e->words() + l->word_offset, 0, now);
    std::string prefix = "limit." + l->spec.name + ".";
    f.emplace_back(prefix + "type", std::string(yaml_name(l->spec.type)));
    f.emplace_back(prefix + "remaining", std::to_string(res.remaining));
    f.emplace_back(prefix + "reset_after_ms", std::to_string(ceil_millis(res.reset_after)));
    f.emplace_back(prefix + "shadow", l->spec.shadow ? "1" : "0");
    f.emplace_back(prefix + "shadow_denials", std::to_string(l->shadow_denials.load(std::memory_order_relaxed)));
  }
  for (const auto& c : r.concurrency) {
    std::string prefix = "limit." + c.name + ".";
    f.emplace_back(prefix + "type", "concurrency");
    f.emplace_back(prefix + "remaining", std::to_string(std::max<int64_t>(0, c.limit - st.open_holds().load())));
    f.emplace_back(prefix + "reset_after_ms", "0");
    f.emplace_back(prefix + "shadow", c.shadow ? "1" : "0");
    f.emplace_back(prefix + "shadow_denials", std::to_string(c.shadow ? st.concurrency_shadow_denials().load() : 0));
  }
  for (const auto& d : p.distinct) {
    std::string prefix = "limit." + d->name + ".";
    f.emplace_back(prefix + "type", "distinct_subjects");
    f.emplace_back(prefix + "remaining", std::to_string(std::max<int64_t>(0, d->set->limit() - d->set->count(now))));
    f.emplace_back(prefix + "reset_after_ms", std::to_string(ceil_millis(d->set->reset_after(now))));
    f.emplace_back(prefix + "shadow", d->shadow ? "1" : "0");
    f.emplace_back(prefix + "shadow_denials", std::to_string(d->shadow_denials.load(std::memory_order_relaxed)));
  }
  if (p.per_subject) {
    for (const auto& l : p.per_subject->limits) {
      std::string prefix = "per_subject." + l->spec.name + ".";
      f.emplace_back(prefix + "type", std::string(yaml_name(l->spec.type)));
      f.emplace_back(prefix + "shadow_denials", std::to_string(l->shadow_denials.load(std::memory_order_relaxed)));
    }
  }
  double estimate = engine.distinct_subjects_estimate(key, now);
  f.emplace_back("distinct_subjects_estimate", estimate < 0 ? "-1" : std::to_string(static_cast<int64_t>(estimate + 0.5)));
  // Monitor actions in force: action.<n>.{kind,channel,monitor,until,reason}, and
  // a throttle's rate (e.g. 10/1s) and burst, an enforce's limit.
  const std::vector<ActiveAction> actions = st.actions();
  f.emplace_back("actions", std::to_string(actions.size()));
  for (size_t i = 0; i < actions.size(); ++i) {
    const ActiveAction& a = actions[i];
    const std::string prefix = "action." + std::to_string(i) + ".";
    f.emplace_back(prefix + "kind", std::string(action_name(a.kind)));
    f.emplace_back(prefix + "channel", a.channel);
    f.emplace_back(prefix + "monitor", a.monitor);
    f.emplace_back(prefix + "until", format_instant(a.until, zone));
    f.emplace_back(prefix + "reason", a.reason);
    if (a.kind == MonitorActionKind::kThrottle) {
      f.emplace_back(prefix + "rate", std::to_string(a.rate) + "/" + format_duration(a.per));
      f.emplace_back(prefix + "burst", std::to_string(a.burst));
    }
    if (a.kind == MonitorActionKind::kEnforce) f.emplace_back(prefix + "limit", a.limit);
  }
  append_pending_changes(p, zone, f);
  return f;
}

std::expected<std::vector<LedgerEntry>, AdminError> ContractAdmin::ledger(std::string_view key, uint64_t since_seq,
                                                                         Nanos now) {
  auto lock = exclusive();
  ContractState* st = state_.find(key);
  if (st == nullptr) return std::unexpected(refuse(AdminError::Code::kNoSuchContract, key));
  if (Account* a = st->account()) {
    (void)a->expire_due(now);
    state_.ledger().flush_debits(*a, key, now);
  }
  return state_.ledger().entries(key, since_seq);
}

void ContractAdmin::flush_debits(Nanos now) {
  auto lock = exclusive();
  for (ContractState* st : state_.all())
    if (Account* a = st->account()) {
      // The control plane's tick expires due lots even when no call comes.
      (void)a->expire_due(now);
      state_.ledger().flush_debits(*a, st->key(), now);
    }
}

}  // namespace tollgate
