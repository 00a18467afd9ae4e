#include "commands/command_service.h"

#include <fmt/format.h>

#include "commands/cell_commands.h"

namespace tollgate {

CommandService::CommandService(uint32_t plane, Engine& engine, const Clock& clock, Reclaimer& reclaimer, int workers,
                               ServiceInfo info)
    : plane_(plane), engine_(&engine), clock_(clock), reclaimer_(reclaimer), info_(std::move(info)) {
  workers_storage_ = std::make_unique<PerWorker[]>(workers);
  workers_ = std::span<PerWorker>(workers_storage_.get(), workers);
  for (auto& w : workers_) w.reader_slot = reclaimer_.register_reader();
  // One table for both planes: each command's flags say where it runs.
  register_server_commands(table_);
  register_check_commands(table_);
  register_cell_commands(table_);
  register_admin_commands(table_);
  register_reload_commands(table_);
}

void CommandService::begin_batch(int worker) {
  PerWorker& w = workers_[worker];
  w.now = clock_.now();
  reclaimer_.enter(w.reader_slot);
}

void CommandService::end_batch(int worker) { reclaimer_.exit(workers_[worker].reader_slot); }

void CommandService::execute(std::span<const std::string_view> args, Session& session, resp::ReplyWriter& out) {
  if (args.empty()) return out.error("ERR empty command");
  const CommandSpec* spec = table_.find(args[0]);
  WorkerMetrics& m = workers_[session.worker].metrics;
  if (spec == nullptr) {
    WorkerMetrics::bump(m.unknown_commands);
    std::string_view name = args[0].substr(0, 128);
    return out.error(fmt::format("ERR unknown command '{}', with args beginning with: {}", name,
                                 args.size() > 1 ? args[1].substr(0, 64) : std::string_view{}));
  }
  if ((spec->flags & plane_) == 0) {
    WorkerMetrics::bump(m.client_errors);
    return out.error(plane_ == kOnAdmin
                         ? fmt::format("ERR '{}' is a data command; send it to the data socket", spec->name)
                         : fmt::format("ERR '{}' is an admin command; send it to the admin socket", spec->name));
  }
  if (!arity_ok(spec->arity, args.size())) {
    WorkerMetrics::bump(m.client_errors);
    return out.error(fmt::format("ERR wrong number of arguments for '{}' command (usage: {})", spec->name,
                                 spec->usage));
  }
  if ((spec->flags & kKeyArg) != 0 && args[1].size() > info_.max_key) {
    WorkerMetrics::bump(m.client_errors);
    return out.error(fmt::format("ERR key of {} bytes is longer than server.max_key ({} bytes)", args[1].size(),
                                 info_.max_key));
  }
  CommandContext ctx{args, session, out, *this, as_data_, as_admin_};
  spec->handler(ctx);
}

uint64_t CommandService::total(std::atomic<uint64_t> WorkerMetrics::*field) const {
  uint64_t sum = 0;
  for (const auto& w : workers_) sum += (w.metrics.*field).load(std::memory_order_relaxed);
  return sum;
}

uint64_t CommandService::total_code(Code c) const {
  uint64_t sum = 0;
  for (const auto& w : workers_) sum += w.metrics.by_code[static_cast<int>(c)].load(std::memory_order_relaxed);
  return sum;
}

}  // namespace tollgate
