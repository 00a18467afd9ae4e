// Engine::check_all: several calls decided all-or-nothing (see engine.h for
// the two phases and what a concurrent thread may observe between them).
#include <cassert>
#include <vector>

#include "engine/engine.h"

namespace tollgate {
namespace {

// One call of a batch between the two phases.
struct BatchCall {
  enum class Kind : uint8_t { kDecided, kReplayed, kDuplicate };
  Kind kind = Kind::kDecided;
  bool claimed_id = false;  // dedup_slot holds this call's ID in progress
  size_t dedup_slot = 0;
  uint64_t id_hash = 0;
  size_t original = 0;  // kDuplicate: the earlier call with the same key and ID
  ContractState* decided_on = nullptr;  // counted by its final code (GET /metrics)
};

// A limit whose retry never comes (-1) outranks any finite wait.
int64_t longer_retry(int64_t a, int64_t b) {
  if (a < 0 || b < 0) return -1;
  return std::max(a, b);
}

}  // namespace

bool Engine::check_all(std::span<const CheckRequest> requests, Nanos now, int worker, std::span<Decision> out) {
  assert(out.size() == requests.size());
  const size_t n = std::min(requests.size(), out.size());
  // Scratch space per thread: grows to the largest batch seen, then never
  // allocates again. check_all does not re-enter itself on one thread.
  thread_local std::vector<Provisional> taken;
  thread_local std::vector<BatchCall> calls;
  if (taken.size() < n) taken.resize(n);
  if (calls.size() < n) calls.resize(n);

  // Phase 1: decide every call in order, taking provisionally.
  bool all_allowed = true;
  for (size_t i = 0; i < n; ++i) {
    const CheckRequest& request = requests[i];
    BatchCall& call = calls[i];
    call = BatchCall{};
    taken[i].clear();
    taken[i].decided_on = nullptr;
    if (!request.id.empty()) {
      call.id_hash = request_id_hash(request.key, request.id);
      for (size_t j = 0; j < i; ++j) {
        if (!requests[j].id.empty() && calls[j].id_hash == call.id_hash && requests[j].key == request.key &&
            requests[j].id == request.id) {
          call.kind = BatchCall::Kind::kDuplicate;
          call.original = calls[j].kind == BatchCall::Kind::kDuplicate ? calls[j].original : j;
          break;
        }
      }
      if (call.kind == BatchCall::Kind::kDuplicate) {
        out[i] = out[call.original];  // as a retry of it would answer
        out[i].delay_ns = 0;
        all_allowed = all_allowed && out[i].allowed;
        continue;
      }
      DedupTable::Claim claim = dedup_.begin(call.id_hash, now);
      if (claim.result == DedupTable::Lookup::kReplay) {
        call.kind = BatchCall::Kind::kReplayed;
        out[i] = replay(request.key, claim.stored);
        continue;
      }
      if (claim.result == DedupTable::Lookup::kInProgress) {
        out[i] = id_in_progress();
        all_allowed = false;
        continue;
      }
      call.claimed_id = true;
      call.dedup_slot = claim.slot;
    }
    out[i] = decide(request, CounterTable::hash_key(request.key), now, call.id_hash, taken[i]);
    call.decided_on = taken[i].decided_on;
    all_allowed = all_allowed && out[i].allowed;
  }
  // Each decided contract call counted once, by the code it is answered.
  auto count_decisions = [&] {
    for (size_t i = 0; i < n; ++i)
      if (calls[i].kind == BatchCall::Kind::kDecided && calls[i].decided_on != nullptr)
        calls[i].decided_on->count_decision(out[i].code, worker);
  };

  // Phase 2a: everything allowed — make it final, in order.
  if (all_allowed) {
    for (size_t i = 0; i < n; ++i) {
      BatchCall& call = calls[i];
      if (call.kind == BatchCall::Kind::kDuplicate) {
        out[i] = out[call.original];
        out[i].delay_ns = 0;
        continue;
      }
      if (call.kind != BatchCall::Kind::kDecided) continue;
      finalize(taken[i], now, worker, out[i]);
      if (call.claimed_id)
        dedup_.finish(call.dedup_slot, call.id_hash, true, stored_reply(requests[i].key, out[i]), now);
    }
    count_decisions();
    return true;
  }

  // Phase 2b: some call is denied — give everything back, last call first.
  int64_t retry = 0;
  for (size_t i = 0; i < n; ++i)
    if (!out[i].allowed) retry = longer_retry(retry, out[i].retry_after_ms);
  for (size_t i = n; i-- > 0;) {
    abandon(taken[i], now);
    if (calls[i].claimed_id) dedup_.finish(calls[i].dedup_slot, calls[i].id_hash, false, {}, now);
  }
  for (size_t i = 0; i < n; ++i) {
    Decision& d = out[i];
    if (d.allowed) {
      d = Decision{};
      d.allowed = false;
      d.code = Code::kAborted;
      d.retry_after_ms = retry;
    }
    d.delay_ns = 0;
    // The balance after the whole call (the provisional reservations are gone).
    if (const Policy* p = contract(requests[i].key); p != nullptr && p->state->account() != nullptr)
      d.balance = p->state->account()->balance();
  }
  count_decisions();
  return false;
}

}  // namespace tollgate
