#include "engine/contract_admin.h"

#include <cctz/time_zone.h>
#include <fmt/format.h>

#include <chrono>

#include "engine/money/amount.h"

namespace tollgate {
namespace {

constexpr size_t kMaxPaymentId = 128;

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

std::string_view status_word(ContractStatus s) { return yaml_name(s); }

}  // namespace

std::string format_instant(Nanos t, std::string_view zone) {
  cctz::time_zone tz;
  if (!cctz::load_time_zone(std::string(zone), &tz)) tz = cctz::utc_time_zone();
  auto tp = std::chrono::time_point<std::chrono::system_clock, std::chrono::nanoseconds>(std::chrono::nanoseconds(t));
  return cctz::format("%Y-%m-%dT%H:%M:%E*S%Ez", tp, tz);
}

ContractAdmin::ContractAdmin(std::function<Engine&()> engine, StateStore& state)
    : engine_(std::move(engine)), state_(state) {}

std::expected<const Policy*, std::string> ContractAdmin::find_contract(std::string_view key) {
  const Policy* p = engine_().contract(key);
  if (p == nullptr) return std::unexpected(fmt::format("ERR no such contract '{}'", key.substr(0, 128)));
  return p;
}

void ContractAdmin::record_admin(std::string_view key, std::string_view what, int64_t actor, Nanos now) {
  LedgerEntry entry;
  entry.time_ms = now / kNanosPerMilli;
  entry.contract = std::string(key);
  entry.kind = LedgerKind::kAdmin;
  entry.actor = actor;
  entry.id = std::string(what);
  state_.ledger().append(std::move(entry));
  state_.add_event({0, now / kNanosPerMilli, std::string(what.substr(0, what.find(':'))), std::string(key), actor,
                    std::string(what)});
}

std::expected<RechargeReply, std::string> ContractAdmin::recharge(std::string_view key, std::string_view amount_text,
                                                                  std::string_view payment_id, int64_t actor,
                                                                  Nanos now) {
  auto policy = find_contract(key);
  if (!policy) return std::unexpected(policy.error());
  Account* account = (*policy)->state->account();
  if (account == nullptr) return std::unexpected(fmt::format("ERR contract '{}' has no pricing: nothing to recharge", key));
  auto amount = parse_minor(amount_text);
  if (!amount || *amount <= 0)
    return std::unexpected("ERR amount must be a positive integer number of minor units (e.g. 15000000 for 150,000.00)");
  if (payment_id.empty() || payment_id.size() > kMaxPaymentId)
    return std::unexpected(fmt::format("ERR payment id must be 1 to {} bytes", kMaxPaymentId));
  for (char c : payment_id)
    if (c <= ' ' || c > '~') return std::unexpected("ERR payment id must be printable ASCII without spaces");
  if ((*policy)->state->status() == ContractStatus::kTerminated)
    return std::unexpected(fmt::format("ERR contract '{}' is terminated", key));
  auto reply = state_.payments().recharge_once(payment_id, key, *amount, [&]() -> std::expected<RechargeReply, std::string> {
    auto r = account->recharge(*amount, now);
    if (!r) return std::unexpected("ERR " + r.error());
    state_.ledger().record_recharge(key, *r, now, actor, payment_id);
    state_.add_event({0, now / kNanosPerMilli, "recharge", std::string(key), actor,
                      fmt::format("amount {} credits {} unit_price {} payment {}", r->amount, r->credits,
                                  r->unit_price, payment_id)});
    return RechargeReply{r->credits, r->unit_price, r->balance};
  });
  if (!reply && !reply.error().starts_with("ERR ")) return std::unexpected("ERR " + reply.error());
  return reply;
}

std::expected<void, std::string> ContractAdmin::set_status(std::string_view key, ContractStatus status,
                                                           std::string_view verb, std::string reason, int64_t actor,
                                                           Nanos now) {
  auto policy = find_contract(key);
  if (!policy) return std::unexpected(policy.error());
  ContractState& st = *(*policy)->state;
  if (st.status() == ContractStatus::kTerminated && status != ContractStatus::kTerminated)
    return std::unexpected(fmt::format("ERR contract '{}' is terminated; {} is not possible (terminate is final)", key, verb));
  st.override_status(status, reason);
  record_admin(key, reason.empty() ? std::string(verb) : fmt::format("{}: {}", verb, reason), actor, now);
  return {};
}

std::expected<void, std::string> ContractAdmin::suspend(std::string_view key, std::string_view reason, int64_t actor,
                                                        Nanos now) {
  return set_status(key, ContractStatus::kSuspended, "suspend", std::string(reason), actor, now);
}

std::expected<void, std::string> ContractAdmin::resume(std::string_view key, int64_t actor, Nanos now) {
  return set_status(key, ContractStatus::kActive, "resume", "", actor, now);
}

std::expected<void, std::string> ContractAdmin::terminate(std::string_view key, int64_t actor, Nanos now) {
  return set_status(key, ContractStatus::kTerminated, "terminate", "", actor, now);
}

std::expected<int64_t, std::string> ContractAdmin::reset(std::string_view key, std::string_view limit, int64_t actor,
                                                         Nanos now) {
  Engine& engine = engine_();
  Entry* e = const_cast<Entry*>(engine.table().find(key, CounterTable::hash_key(key)));
  if (e == nullptr) return std::unexpected(fmt::format("ERR no such key '{}'", key.substr(0, 128)));
  const Policy& p = *e->policy();
  int64_t count = 0;
  for (const auto& l : p.limits) {
    if (!limit.empty() && l->spec.name != limit) continue;
    l->limiter.reset(e->words() + l->word_offset, now);
    ++count;
  }
  if (count == 0) return std::unexpected(fmt::format("ERR key '{}' has no counter limit '{}'", key, limit));
  record_admin(key, limit.empty() ? std::string("reset") : fmt::format("reset: {}", limit), actor, now);
  return count;
}

std::expected<Fields, std::string> ContractAdmin::describe(std::string_view key, Nanos now) {
  auto policy = find_contract(key);
  if (!policy) return std::unexpected(policy.error());
  Engine& engine = engine_();
  const Policy& p = **policy;
  const ContractRules& r = *p.rules;
  ContractState& st = *p.state;
  const std::string& zone = engine.options().timezone;
  Fields f;
  f.emplace_back("status", std::string(status_word(st.status())));
  f.emplace_back("status_reason", st.reason());
  f.emplace_back("status_source", st.overridden() ? "admin" : "config");
  f.emplace_back("starts", r.starts ? format_instant(*r.starts, zone) : "");
  f.emplace_back("expires", r.expires ? format_instant(*r.expires, zone) : "");
  f.emplace_back("channels", join(r.channels));
  f.emplace_back("purposes", join(r.purposes));
  f.emplace_back("pricing", r.pricing_name);
  if (Account* a = st.account()) {
    FlushResult flushed = state_.ledger().flush_debits(*a, key, now);
    f.emplace_back("balance", std::to_string(flushed.balance));
    f.emplace_back("credits", std::to_string(flushed.credits));
    f.emplace_back("wallet", std::to_string(a->wallet()));
    f.emplace_back("lots", std::to_string(a->lot_count()));
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
  return f;
}

std::expected<std::vector<LedgerEntry>, std::string> ContractAdmin::ledger(std::string_view key, uint64_t since_seq,
                                                                          Nanos now) {
  ContractState* st = state_.find(key);
  if (st == nullptr) return std::unexpected(fmt::format("ERR no such contract '{}'", key.substr(0, 128)));
  if (Account* a = st->account()) state_.ledger().flush_debits(*a, key, now);
  return state_.ledger().entries(key, since_seq);
}

void ContractAdmin::flush_debits(Nanos now) {
  for (ContractState* st : state_.all())
    if (Account* a = st->account()) state_.ledger().flush_debits(*a, st->key(), now);
}

}  // namespace tollgate
