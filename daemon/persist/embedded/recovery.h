// The embedded store's replay: applies snapshot and journal records to the
// runtime state, in order, through the StateRestorer (shared with the Redis
// store), and adds what is the journal's own: admin records held until a
// cancel may follow, and open holds, ID replies and distinct-subject state.
// EmbeddedStore::recover reads the files (persist/files/) and feeds this.
// Every record that passes its checksum but cannot be decoded or applied is
// counted in PersistStatus::recovery_errors (and logged); the store refuses
// to start on any such record unless the operator said --recover.
// Thread-safety: not thread-safe; used once at start-up, before any worker
// runs, under the store's mutex. Borrows the RuntimeState,
// engine and counters, which must outlive it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "engine/admin_record.h"
#include "engine/engine.h"
#include "persist/embedded/embedded_store.h"
#include "persist/files/journal.h"
#include "persist/state_codec.h"
#include "persist/state_restorer.h"
#include "tollgate/time.h"

namespace tollgate::persist {

class Recovery {
 public:
  // Counts into `counters` (the recovery_* fields); `now` decides what has
  // expired (holds, ID replies, distinct-subject periods).
  Recovery(RuntimeState& state, Engine& engine, PersistStatus& counters, Nanos now)
      : state_(state), engine_(engine), now_(now), c_(counters), restorer_(state, engine, now, StateRestorer::Overdraft::kError) {}

  // One record of the snapshot being loaded, in file order.
  void snapshot_record(uint8_t type, std::string_view bytes);
  // One journal record after the snapshot, in sequence order.
  void journal_record(const files::RecordView& r);
  // After the last record: applies a held admin record, rebuilds money from
  // the ledger, restores the trusted hold set, settles holds that expired
  // while the daemon was down, and copies the restore counts into counters.
  void finish();

  // The hold set recovery trusted (after finish()), in journal order.
  const HoldSet& durable_holds() const { return latest_holds_; }

 private:
  // A record that passed its checksum but does not decode (or is of no known
  // type): the state it carried is missing from what was recovered.
  void undecodable(std::string message) { restorer_.error(std::move(message)); }
  void apply_held();
  void ledger(std::string_view bytes);
  void counters(std::string_view bytes);
  void holds(std::string_view bytes);
  void id_records(std::string_view bytes);
  void subjects(std::string_view bytes);
  void subject_estimate(std::string_view bytes);

  RuntimeState& state_;
  Engine& engine_;
  Nanos now_;
  PersistStatus& c_;
  StateRestorer restorer_;
  HoldSet latest_holds_, previous_holds_;
  std::map<std::string, PeriodHll*, std::less<>> estimates_;
  std::map<std::pair<std::string, std::string>, DistinctSubjects*> sets_;
  std::optional<std::pair<uint64_t, AdminRecord>> held_;
};

}  // namespace tollgate::persist
