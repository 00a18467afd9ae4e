#include "commands/admin_service.h"

#include <fmt/format.h>

#include "commands/client_state.h"

namespace tollgate {

AdminService::AdminService(Engine& engine, const Clock& clock, Reclaimer& reclaimer, ContractAdmin& contracts,
                           Reload reload, ServiceInfo info)
    : CommandService(kOnAdmin, engine, clock, reclaimer, 1, std::move(info)),
      contracts_(contracts),
      reload_(std::move(reload)) {
  as_admin_ = this;
}

void AdminService::push(Session& session, resp::ReplyWriter& out) {
  out.set_protocol(session.protocol);
  ClientState& client = client_state(session);
  for (const Event& e : engine().state().events(client.events_followed)) {
    write_event(out, e);
    client.events_followed = e.seq;
  }
}

std::string admin_error_text(const AdminError& e) {
  using Code = AdminError::Code;
  const std::string_view subject = e.subject;
  switch (e.code) {
    case Code::kNoSuchContract: return fmt::format("ERR no such contract '{}'", subject.substr(0, 128));
    case Code::kNoPricing: return fmt::format("ERR contract '{}' has no pricing: nothing to recharge", subject);
    case Code::kBadAmount:
      return "ERR amount must be a positive integer number of minor units (e.g. 15000000 for 150,000.00)";
    case Code::kBadPaymentIdLength: return fmt::format("ERR payment id must be 1 to {} bytes", kMaxPaymentId);
    case Code::kPaymentIdNotPrintable: return "ERR payment id must be printable ASCII without spaces";
    case Code::kTerminated: return fmt::format("ERR contract '{}' is terminated", subject);
    case Code::kPaymentIdOtherContract:
      return fmt::format("ERR payment id {} was used for contract {}", subject, e.detail);
    case Code::kPaymentIdOtherAmount:
      return fmt::format("ERR payment id {} was used with amount {}", subject, e.amount);
    case Code::kRechargeRefused: return "ERR " + e.detail;
    case Code::kTerminatedIsFinal:
      return fmt::format("ERR contract '{}' is terminated; {} is not possible (terminate is final)", subject,
                         e.detail);
    case Code::kNoSuchKey: return fmt::format("ERR no such key '{}'", subject.substr(0, 128));
    case Code::kNoSuchLimit: return fmt::format("ERR key '{}' has no counter limit '{}'", subject, e.detail);
    case Code::kNotDurable: return "ERR cannot make the change durable, nothing was changed: " + e.detail;
    case Code::kNotApplied: return "ERR " + e.detail;
    case Code::kNoStorage: return "ERR storage.mode is memory: there is nothing to snapshot";
    case Code::kSnapshotFailed: return "ERR snapshot failed: " + e.detail;
    case Code::kNoSuchEvent:
      return fmt::format("ERR no event {} is kept (EVENTS lists the events kept)", subject);
    case Code::kNotAckable:
      return fmt::format("ERR event {} is not a monitor firing or action: only those are acknowledged", subject);
    case Code::kBadNote:
      return fmt::format("ERR the note must be at most {} printable bytes", ContractAdmin::kMaxAckNote);
  }
  return "ERR admin operation refused";
}

}  // namespace tollgate
