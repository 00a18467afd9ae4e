// Test helpers for the command layer: an engine on a simulated clock, and
// one command run on a service the way a connection runs it. Header-only;
// not thread-safe.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "commands/command_service.h"
#include "engine/engine.h"
#include "tollgate/time.h"

namespace tollgate::testing {

// Runs `args` on `service` as a batch of one (begin_batch, the session's
// time, execute, end_batch) and returns the raw RESP reply.
inline std::string run_command(CommandService& service, Session& session, std::vector<std::string_view> args) {
  std::string buffer;
  resp::ReplyWriter out(buffer);
  service.begin_batch(session.worker);
  session.now = service.batch_now(session.worker);  // as the connection does
  service.execute(args, session, out);
  service.end_batch(session.worker);
  return buffer;
}

// An engine built from `options` at `start`, with the clock, reclaimer and
// runtime state it uses.
struct EngineHarness {
  EngineHarness(const EngineOptions& options, Nanos start) : clock(start) {
    auto e = Engine::create(options, reclaimer, start, state);
    EXPECT_TRUE(e.has_value()) << (e ? "" : e.error().front());
    if (e) engine = std::move(*e);
  }

  ManualClock clock;
  Reclaimer reclaimer;
  RuntimeState state;
  std::unique_ptr<Engine> engine;
};

}  // namespace tollgate::testing
