// The admin socket's service: runs the admin commands of the command table
// (CONTRACT, RECHARGE, SUSPEND, RESUME, TERMINATE, RESET, LEDGER, EVENTS,
// SNAPSHOT, RELOAD, and the server commands both planes answer) against the
// control plane's ContractAdmin and reloader. Data commands (CHECK, PEEK,
// SETTLE, CL.THROTTLE) are refused here with a pointer to the data socket; it
// never expires holds (the data workers own them).
// Thread-safety: as CommandService (commands/command_service.h); it serves
// one worker, the admin socket's dedicated thread. Borrows the ContractAdmin;
// `reload` is called on that worker and may block it (control/reloader.h:
// request_reload waits for the control thread).
#pragma once

#include <functional>
#include <string>

#include "commands/command_service.h"
#include "control/contract_admin.h"
#include "control/reloader.h"

namespace tollgate {

namespace calllog {
class CallLog;  // calllog/call_log.h
}  // namespace calllog

class AdminService final : public CommandService {
 public:
  // RELOAD's work: reload the config file and say what happened.
  using Reload = std::function<ReloadResult()>;

  // `reload` may be empty: RELOAD then answers that it is not available.
  AdminService(Engine& engine, const Clock& clock, Reclaimer& reclaimer, ContractAdmin& contracts, Reload reload,
               ServiceInfo info);

  ContractAdmin& contracts() { return contracts_; }
  // call_log: every applied RECHARGE is recorded here (for tollgate-replay's
  // balances). Owned by the daemon; null (the default): not recorded. Set
  // before the workers start.
  calllog::CallLog* call_log() const { return call_log_; }
  void set_call_log(calllog::CallLog* log) { call_log_ = log; }
  bool can_reload() const { return static_cast<bool>(reload_); }
  // Runs RELOAD's work (can_reload() must hold).
  ReloadResult reload() { return reload_(); }
  // EVENTS FOLLOW: writes the events after the connection's last one sent,
  // each as one reply shaped like an EVENTS entry (admin worker thread).
  void push(Session& session, resp::ReplyWriter& out) override;

 private:
  ContractAdmin& contracts_;
  Reload reload_;
  calllog::CallLog* call_log_ = nullptr;
};

// One event as EVENTS writes each entry: seq, time_ms, kind, contract,
// actor, detail as field/value pairs (a map in RESP3, a flat array in RESP2).
void write_event(resp::ReplyWriter& out, const Event& e);

// The RESP error text (with its "ERR " prefix) of a refused admin operation.
std::string admin_error_text(const AdminError& error);

}  // namespace tollgate
