// Groups of CHECKs decided all-or-nothing (replay/replay_group.h).
#include "replay/replay_group.h"

#include <fmt/format.h>

#include <array>

#include "config/units.h"
#include "replay/replay.h"

namespace tollgate::replay {
namespace {

// Largest group taken at its word: a larger count is a damaged record.
constexpr int64_t kMaxGroup = 1 << 16;

// The 16 hex digits a logged hash stands in for (as replay.cc's hex: a
// SUBJECT or ID must read the same in a group as in a lone CHECK).
std::string_view hex16(uint64_t v, std::array<char, 16>& buffer) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i, v >>= 4) buffer[static_cast<size_t>(i)] = kDigits[v & 15];
  return {buffer.data(), 16};
}

}  // namespace

void PendingGroup::add(const calllog::CallRecord& r) {
  Member& m = members.emplace_back();
  m.record = r;
  m.key = r.key;
  m.channel = r.channel;
  m.purpose = r.purpose;
  m.limit = r.limit;
}

void PendingGroup::views() {
  for (Member& m : members) {
    m.record.key = m.key;
    m.record.channel = m.channel;
    m.record.purpose = m.purpose;
    m.record.limit = m.limit;
    m.record.text = {};
  }
}

void Replayer::start_group(const calllog::CallRecord& r) {
  if (r.cost <= 0 || r.cost > kMaxGroup) {
    report_.problems.push_back(calllog::SegmentProblem{
        fmt::format("group at {}", format_instant(r.time)), 0,
        fmt::format("a group of {} CHECKs is not believable; its members are replayed one by one", r.cost)});
    return;
  }
  group_.open = true;
  group_.expected = static_cast<uint64_t>(r.cost);
  group_.time = r.time;
  group_.members.clear();
}

bool Replayer::group_member(const calllog::CallRecord& r) {
  if (r.kind != calllog::RecordKind::kCheck || r.time != group_.time) {
    cut_group(r.kind == calllog::RecordKind::kCheck ? "a CHECK at another time came before its last member"
                                                    : "another record came before its last member");
    return false;
  }
  group_.add(r);
  if (group_.members.size() == group_.expected) decide_group();
  return true;
}

void Replayer::decide_group() {
  group_.open = false;
  group_.views();
  const size_t n = group_.members.size();
  std::vector<CheckRequest> requests(n);
  std::vector<std::array<char, 16>> subjects(n), ids(n);
  for (size_t i = 0; i < n; ++i) {
    const calllog::CallRecord& r = group_.members[i].record;
    CheckRequest& q = requests[i];
    q.key = r.key;
    q.cost = r.cost;
    q.channel = r.channel;
    q.purpose = r.purpose;
    if (r.subject_hash != 0) q.subject = hex16(r.subject_hash, subjects[i]);
    if (r.id_hash != 0) q.id = hex16(r.id_hash, ids[i]);
    q.hold_ms = r.hold_ms;
    q.wait_ms = r.wait_ms;
  }
  std::vector<Decision> decisions(n);
  (void)engine_->check_all(requests, group_.time, 0, decisions);  // the decisions say it all
  ++report_.groups;
  for (size_t i = 0; i < n; ++i) check(group_.members[i].record, key_state(group_.members[i].record.key), &decisions[i]);
  group_.members.clear();
}

void Replayer::cut_group(std::string_view why) {
  group_.open = false;
  group_.views();
  ++report_.groups;
  report_.problems.push_back(calllog::SegmentProblem{
      fmt::format("group at {}", format_instant(group_.time)), 0,
      fmt::format("a group of {} CHECKs decided together is cut short after {} ({}: a damaged block?); the {} "
                  "that came are replayed one by one",
                  group_.expected, group_.members.size(), why, group_.members.size())});
  for (const PendingGroup::Member& m : group_.members) check(m.record, key_state(m.record.key));
  group_.members.clear();
}

}  // namespace tollgate::replay
