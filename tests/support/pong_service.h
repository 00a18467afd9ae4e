// A Service for tests of the net room's Worker and Connection: answers PONG
// to every command, and mirrors `SETNAME <name>` and the last command into
// the session's client record the way the command layer does (CLIENT LIST
// tests read them). Runs on the worker threads; its batch clock is its own.
#pragma once

#include <span>
#include <string_view>

#include "net/client_registry.h"
#include "net/service.h"
#include "tollgate/time.h"

namespace tollgate::testing {

class PongService final : public Service {
 public:
  void begin_batch(int) override { now_ = clock_.now(); }
  void end_batch(int) override {}
  Nanos batch_now(int) const override { return now_; }
  void execute(std::span<const std::string_view> args, Session& session, resp::ReplyWriter& out) override {
    if (args.size() == 2 && args[0] == "SETNAME" && session.record) session.record->set_name(args[1]);
    if (session.record) session.record->last_command.store("PING", std::memory_order_relaxed);
    out.simple("PONG");
  }

 private:
  SystemClock clock_;
  Nanos now_ = 0;
};

}  // namespace tollgate::testing
