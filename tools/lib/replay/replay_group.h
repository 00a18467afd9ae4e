// tollgate-replay's side of a group of CHECKs decided all-or-nothing live
// (a kGroup record and the kCheck members after it; calllog/group_hook.h).
// Replayer::apply hands every record to the open group first: a kCheck at
// the group's time is a member (copied: a group may straddle two blocks);
// once all have come, they are decided together by Engine::check_all on
// the replay engine and each is compared with its recorded decision like a
// lone CHECK, in both modes (a candidate, or following the generations).
// A group cut short — another kind of record, a CHECK at another time, a
// new group, or the end of the log arrives before its last member (a
// damaged block lost them) — is reported as a problem, and the members that
// did come are replayed one by one (Engine::check), not skipped: their
// counters are charged as a lone CHECK would charge them.
// Thread-safety: owned by one Replayer (not thread-safe).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "calllog/call_record.h"

namespace tollgate::replay {

struct PendingGroup {
  struct Member {
    calllog::CallRecord record;  // views fixed to the strings below by views()
    std::string key, channel, purpose, limit;
  };
  bool open = false;
  uint64_t expected = 0;
  Nanos time = 0;
  std::vector<Member> members;

  // Copies `r`'s strings; the views are set by views() once no more come.
  void add(const calllog::CallRecord& r);
  // Points every member's views at its own strings (after the last add).
  void views();
};

}  // namespace tollgate::replay
