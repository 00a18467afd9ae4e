#include "net/input_budget.h"

#include <algorithm>

namespace tollgate {

// Bytes of holders already chosen as victims are as good as gone: the
// decision is made on the rest, so a victim is not followed by more while it
// is still closing. Over the limit, the largest remaining holder is picked
// (the asker counted at its wanted size) until the rest fits; an asker
// picked itself keeps its old size on the books: it will not grow.
bool InputBudget::set(const void* holder, const void* group, uint64_t id, size_t grown,
                      std::vector<Victim>& victims) {
  std::lock_guard lock(mutex_);
  auto it = holders_.find(holder);
  const size_t old = it == holders_.end() ? 0 : it->second.grown;
  const bool dropping = it != holders_.end() && it->second.dropping;
  if (dropping && grown > old) return false;  // on its way out: no more
  const size_t staying = total_ - dropping_total_;
  if (grown <= old || staying - old + grown <= limit_) {  // shrinking, or it fits
    total_ = total_ - old + grown;
    if (dropping) dropping_total_ = dropping_total_ - old + grown;
    if (grown == 0) {
      if (it != holders_.end()) holders_.erase(it);
    } else if (it == holders_.end()) {
      holders_.emplace(holder, Entry{group, id, grown, false});
    } else {
      it->second.grown = grown;
    }
    used_.store(total_, std::memory_order_relaxed);
    return true;
  }
  if (it == holders_.end()) it = holders_.emplace(holder, Entry{group, id, old, false}).first;

  auto size_of = [&](const std::pair<const void* const, Entry>& e) {
    return e.first == holder ? grown : e.second.grown;
  };
  size_t wanted = staying - old + grown;
  bool asker_dropped = false;
  while (wanted > limit_) {
    auto largest = holders_.end();
    for (auto e = holders_.begin(); e != holders_.end(); ++e) {
      if (e->second.dropping) continue;
      if (largest == holders_.end() || size_of(*e) > size_of(*largest)) largest = e;
    }
    if (largest == holders_.end()) break;  // cannot happen: the asker itself is a candidate
    wanted -= size_of(*largest);
    largest->second.dropping = true;
    dropping_total_ += largest->second.grown;  // what it holds now is what goes
    victims.push_back(Victim{largest->second.group, largest->second.id, largest->second.grown});
    victims_chosen_.fetch_add(1, std::memory_order_relaxed);
    if (largest->first == holder) {
      asker_dropped = true;
      break;
    }
  }
  if (!asker_dropped) {
    total_ = total_ - old + grown;
    it->second.grown = grown;
  }
  used_.store(total_, std::memory_order_relaxed);
  return !asker_dropped;
}

void InputBudget::remove(const void* holder) {
  std::lock_guard lock(mutex_);
  auto it = holders_.find(holder);
  if (it == holders_.end()) return;
  total_ -= it->second.grown;
  if (it->second.dropping) dropping_total_ -= it->second.grown;
  holders_.erase(it);
  used_.store(total_, std::memory_order_relaxed);
}

}  // namespace tollgate
