// ContractAdmin's monitor actions: each one an AdminRecord of kind kAction,
// made durable then applied (engine/admin_record.cc), as SUSPEND is.
#include <fmt/format.h>

#include <algorithm>

#include "control/contract_admin.h"
#include "engine/monitor_throttle.h"

namespace tollgate {
namespace {

AdminRecord action_record(std::string_view key, const ActiveAction& action, bool lift, int64_t actor, Nanos now,
                          uint64_t seq, std::string_view what) {
  AdminRecord record;
  record.kind = AdminRecord::Kind::kAction;
  record.contract = std::string(key);
  record.time = now;
  record.actor = actor;
  record.action = action;
  record.lift = lift;
  record.ledger_entry = LedgerEntry{.seq = seq,
                                    .time_ms = now / kNanosPerMilli,
                                    .contract = record.contract,
                                    .kind = LedgerKind::kAdmin,
                                    .amount = 0,
                                    .lot = -1,
                                    .actor = actor,
                                    .id = std::string(what)};
  // The daemon's own actions are raised as events by the monitor runner (with their measure).
  if (actor != kDaemonActor) record.event_kind = lift ? "monitor.clear" : "monitor.action";
  record.event_detail = std::string(what);
  return record;
}

std::string describe_action(const ActiveAction& a) {
  return a.channel.empty() ? fmt::format("{} by {}", action_name(a.kind), a.monitor)
                           : fmt::format("{} {} by {}", action_name(a.kind), a.channel, a.monitor);
}

}  // namespace

std::expected<void, AdminError> ContractAdmin::put_action(std::string_view key, const ActiveAction& action,
                                                          int64_t actor, Nanos now) {
  auto lock = exclusive();
  auto policy = find_contract(key);
  if (!policy) return std::unexpected(policy.error());
  if (auto refused = action_refusal(**policy, action); !refused.empty())
    return std::unexpected(AdminError{AdminError::Code::kNotApplied, std::string(key), std::move(refused)});
  const std::string what = fmt::format("{} until {} ({})", describe_action(action),
                                       format_instant(action.until, engine_().options().timezone), action.reason);
  return make_durable_and_apply(
      action_record(key, action, false, actor, now, state_.ledger().last_seq() + 1, what));
}

std::expected<void, AdminError> ContractAdmin::lift_action(std::string_view key, const ActiveAction& action,
                                                           std::string_view why, int64_t actor, Nanos now) {
  auto lock = exclusive();
  const std::string what = fmt::format("{} lifted: {}", describe_action(action), why);
  return make_durable_and_apply(action_record(key, action, true, actor, now, state_.ledger().last_seq() + 1, what));
}

std::optional<std::vector<RemoteActionChange>> ContractAdmin::apply_remote_actions(
    uint64_t changes_seen, const std::function<std::vector<RemoteActionChange>()>& plan, Nanos now,
    std::vector<std::pair<RemoteActionChange, std::string>>* refused) {
  std::unique_lock<std::mutex> lock =
      hook_ != nullptr ? hook_->try_exclusive() : std::unique_lock<std::mutex>(memory_mutex_, std::try_to_lock);
  if (!lock.owns_lock() || action_changes() != changes_seen) return std::nullopt;
  std::vector<RemoteActionChange> applied;
  Engine& engine = engine_();
  for (RemoteActionChange& c : plan()) {
    const Policy* policy = engine.contract(c.contract);
    if (policy == nullptr) {
      if (refused != nullptr) refused->emplace_back(c, "no such contract here");
      continue;
    }
    if (!c.lift) {
      if (std::string why = action_refusal(*policy, c.action); !why.empty()) {
        if (refused != nullptr) refused->emplace_back(c, std::move(why));
        continue;
      }
    }
    const std::string what =
        c.lift ? fmt::format("{} lifted: {}", describe_action(c.action), c.why)
               : fmt::format("{} until {} ({}), put in force on another daemon", describe_action(c.action),
                             format_instant(c.action.until, engine.options().timezone), c.action.reason);
    // The record as the call log keeps it (seq 0: no ledger entry here).
    const AdminRecord record = action_record(c.contract, c.action, c.lift, kDaemonActor, now, 0, what);
    ContractState& st = state_.contract(c.contract);
    if (c.lift) st.lift_action(c.action);
    else st.put_action(c.action);
    engine.sync_restrictions(c.contract);
    state_.add_event({0, now / kNanosPerMilli, c.lift ? "monitor.lift" : "monitor.action", c.contract, kDaemonActor,
                      what});
    if (on_applied_) on_applied_(record);
    applied.push_back(std::move(c));
  }
  return applied;
}

std::expected<int64_t, AdminError> ContractAdmin::clear_actions(std::string_view key, std::string_view monitor,
                                                                int64_t actor, Nanos now) {
  auto policy = find_contract(key);
  if (!policy) return std::unexpected(policy.error());
  int64_t lifted = 0;
  for (const ActiveAction& a : (*policy)->state->actions()) {
    if (!monitor.empty() && a.monitor != monitor) continue;
    if (auto done = lift_action(key, a, "cleared by an operator", actor, now); !done)
      return std::unexpected(done.error());
    ++lifted;
  }
  if (on_clear_) on_clear_(key, monitor, now);
  return lifted;
}

std::expected<bool, AdminError> ContractAdmin::acknowledge_event(uint64_t seq, std::string_view note, int64_t actor,
                                                                Nanos now) {
  const bool printable = std::all_of(note.begin(), note.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u != 0x7f;
  });
  if (note.size() > kMaxAckNote || !printable) return std::unexpected(AdminError{AdminError::Code::kBadNote, {}, {}});
  const int64_t now_ms = now / kNanosPerMilli;
  auto ack = state_.acknowledge_event(seq, actor, now_ms, std::string(note));
  if (!ack) {
    const auto code = ack.error() == EventAckRefusal::kNoSuchEvent ? AdminError::Code::kNoSuchEvent
                                                                   : AdminError::Code::kNotAckable;
    return std::unexpected(AdminError{code, std::to_string(seq), {}});
  }
  if (!ack->newly) return false;
  const std::string detail =
      fmt::format("event {} ({}) acknowledged{}{}", seq, ack->event.kind, note.empty() ? "" : ": ", note);
  const uint64_t ack_seq = state_.add_event({0, now_ms, "monitor.ack", ack->event.contract, actor, detail});
  if (on_ack_) on_ack_(ack->event, ack_seq);
  return true;
}

}  // namespace tollgate
