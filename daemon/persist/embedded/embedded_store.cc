#include "persist/embedded/embedded_store.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "engine/counter_table.h"
#include "engine/policy.h"
#include "log/log_limiter.h"
#include "persist/embedded/lost_records.h"
#include "persist/embedded/recovery.h"
#include "persist/state_codec.h"
#include "persist/state_restorer.h"
#include "persist/files/discarded.h"
#include "persist/files/snapshot.h"

namespace tollgate::persist {
namespace {

constexpr size_t kBatchBytes = 256 << 10;    // counter/ledger batch per record
constexpr size_t kLedgerBatch = 4096;        // ledger entries per record
constexpr Nanos kFailureLogEvery = 10 * kNanosPerSecond;

const SystemClock kSystemClock;

constexpr size_t kMembersPerRecord = kBatchBytes / 8;

using Emit = std::function<void(RecordType, std::string_view)>;

// Holds are compared by identity: the same (key, id) held again is another hold.
auto hold_identity(const HoldImage& h) { return std::tie(h.hash, h.charged_at, h.expires_at); }
bool hold_before(const HoldImage& a, const HoldImage& b) { return hold_identity(a) < hold_identity(b); }

HoldSet sorted_holds(HoldSet set) {
  std::sort(set.holds.begin(), set.holds.end(), hold_before);
  return set;
}

size_t emit_id_records(std::span<const DedupTable::Record> records, const Emit& emit) {
  for (size_t i = 0; i < records.size(); i += kLedgerBatch)
    emit(RecordType::kIdRecords, encode_id_records(records.subspan(i, std::min(kLedgerBatch, records.size() - i))));
  return records.size();
}

size_t emit_members(const std::string& contract, const std::string& limit, const PeriodMembers& members,
                    const Emit& emit) {
  for (size_t i = 0; i < members.hashes.size(); i += kMembersPerRecord) {
    const size_t n = std::min(kMembersPerRecord, members.hashes.size() - i);
    SubjectMembers record{contract, limit, members.period_start,
                          std::vector<uint64_t>(members.hashes.begin() + i, members.hashes.begin() + i + n)};
    emit(RecordType::kSubjects, encode_subjects(record));
  }
  return members.hashes.size();
}

// A PeriodHll has at most 2^18 / 8 words of 12 encoded bytes: one record.
void emit_estimate(const std::string& contract, HllWords words, const Emit& emit) {
  if (words.words.empty()) return;
  emit(RecordType::kSubjectEstimate, encode_subject_estimate(EstimateWords{contract, std::move(words)}));
}

}  // namespace

EmbeddedStore::EmbeddedStore(EmbeddedStoreOptions options, RuntimeState& state, std::function<Engine&()> engine)
    : options_(std::move(options)), state_(state), engine_(std::move(engine)) {
  if (options_.clock == nullptr) options_.clock = &kSystemClock;
  if (options_.fs == nullptr) options_.fs = &files::default_file_system();
}

EmbeddedStore::~EmbeddedStore() = default;

std::expected<void, std::string> EmbeddedStore::recover(Nanos now) {
  std::lock_guard lock(mutex_);
  const Nanos started = options_.clock->now();
  uint64_t required_seq = 0;
  if (auto opened = open_directory_locked(now, required_seq); !opened) return opened;
  const bool truncate = options_.recover == RecoverMode::kTruncate;
  Recovery recovery(state_, engine_(), counters_, now);
  files::SnapshotOptions snapshot_options{.fs = options_.fs, .status = &store_status_};
  auto load = files::load_latest(
      options_.dir, [&](uint8_t type, std::string_view bytes) { recovery.snapshot_record(type, bytes); },
      snapshot_options);
  if (!load) return std::unexpected(fmt::format("reading snapshots in {}: {}", options_.dir, load.error().message));
  for (const files::Corruption& bad : load->skipped) {
    ++counters_.recovery_corrupt_snapshots;
    spdlog::error("recovery: snapshot {} is corrupt ({} at offset {}); using an older snapshot and the journal",
                  bad.file, bad.reason, bad.offset);
  }
  if (load->loaded) {
    counters_.recovery_snapshot_seq = load->loaded->seq;
    previous_snapshot_seq_ = load->loaded->seq;
    spdlog::info("recovery: loaded {} ({} records, {} bytes)", load->loaded->path, load->loaded->records,
                 load->loaded->bytes);
  }
  LostRecords lost;
  files::JournalOptions journal_options{.segment_bytes = options_.segment_bytes,
                                        .fs = options_.fs,
                                        .status = &store_status_,
                                        .clock = options_.clock,
                                        .after_seq = load->loaded ? load->loaded->seq : 0,
                                        .required_seq = required_seq,
                                        .discard_corruption = truncate,
                                        .on_untrusted = [&](const files::RecordView& r) { lost.journal_record(r); }};
  auto journal = files::Journal::open(options_.dir, journal_options,
                                      [&](const files::RecordView& r) { recovery.journal_record(r); });
  if (!journal && journal.error().kind() == files::StoreErrorKind::kCorrupt) {
    if (lost.records() > 0 || lost.undecodable() > 0)
      lost.log("not starting; beyond the damage (the damaged record itself cannot be decoded) the journal holds",
               "is beyond the damage");
    std::string snapshots;
    for (const files::Corruption& bad : load->skipped)
      snapshots += fmt::format("; snapshot {} is corrupt too ({} at offset {})", bad.file, bad.reason, bad.offset);
    if (!load->loaded && !load->skipped.empty()) snapshots += "; no valid snapshot covers the journal's beginning";
    return std::unexpected(fmt::format(
        "{}{}. Not starting: what the store made durable cannot be read whole. To start with everything before the "
        "damage, run tollgated once with --recover=truncate (the rest is moved to {}, every payment id lost is "
        "logged); "
        "--recover=empty starts with no state at all; or restore {} from a backup",
        journal.error().message, snapshots, files::discarded_dir(options_.dir), options_.dir));
  }
  if (!journal)
    return std::unexpected(fmt::format("opening the journal in {}: {}", options_.dir, journal.error().message));
  journal_.emplace(std::move(*journal));
  const files::RecoveryReport& report = journal_->recovery();
  if (report.torn_tail) {
    counters_.recovery_torn_tail_bytes = report.bytes_truncated;
    spdlog::warn("recovery: journal tail in {} at offset {} was not trusted ({}); {} bytes truncated",
                 report.torn_tail->file, report.torn_tail->offset, report.torn_tail->reason, report.bytes_truncated);
  }
  if (report.data_loss) {
    counters_.recovery_journal_data_loss = 1;
    counters_.recovery_untrusted_records = report.untrusted_records;
    spdlog::error("recovery: --recover=truncate: journal damaged: {}; everything after it is discarded; set aside: {}",
                  describe(*report.data_loss),
                  report.quarantined.empty() ? std::string("nothing (it was missing)")
                                             : fmt::format("{}", fmt::join(report.quarantined, ", ")));
    // Snapshots that could not be read are set aside too: the journal now
    // continues below their sequence numbers.
    std::vector<std::string> corrupt;
    for (const files::Corruption& bad : load->skipped) corrupt.push_back(bad.file.substr(bad.file.rfind('/') + 1));
    if (auto moved = files::move_to_discarded(*options_.fs, options_.dir, corrupt); !moved)
      return std::unexpected(fmt::format("setting corrupt snapshots aside: {}", moved.error().message));
    counters_.recovery_payments_lost =
        lost.log("discarded by --recover=truncate (besides the damaged record itself, which cannot be decoded)");
    // The operator accepted the loss: the watermark comes down to what is kept.
    if (auto w = write_watermark_locked(load->loaded ? load->loaded->seq : 0, /*lower=*/true); !w) return w;
  }
  recovery.finish();
  if (counters_.recovery_errors > 0 && options_.recover == RecoverMode::kRefuse) {
    // A checksummed record that does not decode, or one whose state cannot be
    // applied (lot counters that do not fit its credits, a ledger entry that
    // contradicts its lot), lost what it carried: starting would serve money
    // that disagrees with its ledger.
    return std::unexpected(fmt::format(
        "recovery: {} stored record{} could not be decoded or applied (logged above as 'recovery: ...'); "
        "not starting with less state than was acknowledged. Restore the directory from a backup, or start with "
        "--recover=truncate to accept the state without them",
        counters_.recovery_errors, counters_.recovery_errors == 1 ? "" : "s"));
  }
  if (!identity_written_) {
    // A store from an earlier version, or one whose identity was unreadable:
    // it is marked now. Only the snapshot is known synced, so the watermark
    // starts there; this run's first durable record raises it.
    if (auto w = write_watermark_locked(load->loaded ? load->loaded->seq : 0, /*lower=*/true); !w) return w;
    spdlog::info("storage: identity file {} written (store {})",
                 files::join_path(options_.dir, files::kIdentityFileName),
                 identity_.id);
  }
  // The first checkpoint compares the holds now open with the durable set, so
  // holds skipped or settled by recovery are journaled as gone together with
  // their refunds (and are not settled a second time after another crash).
  holds_set_ = sorted_holds(recovery.durable_holds());
  holds_ids_.clear();
  holds_changes_ = UINT64_MAX;
  journaled_ledger_seq_ = state_.ledger().last_seq();
  last_snapshot_ = now;
  counters_.recovery_ms = static_cast<uint64_t>((options_.clock->now() - started) / kNanosPerMilli);
  spdlog::info(
      "recovery: {} ms; snapshot seq {}, {} journal records replayed (last seq {}), {} keys restored, {} keys and {} "
      "limits skipped (no longer configured), {} ledger entries, {} admin mutations ({} refused ones skipped), {} open "
      "holds ({} expired while down and settled, {} skipped), {} ID replies, {} distinct subjects, {} errors",
      counters_.recovery_ms, counters_.recovery_snapshot_seq, counters_.recovery_records_replayed, report.last_seq,
      counters_.recovery_keys_restored, counters_.recovery_keys_skipped, counters_.recovery_limits_skipped,
      counters_.recovery_ledger_entries, counters_.recovery_admin_applied, counters_.recovery_admin_cancelled,
      counters_.recovery_holds_restored, counters_.recovery_holds_expired, counters_.recovery_holds_skipped,
      counters_.recovery_id_records, counters_.recovery_subjects, counters_.recovery_errors);
  publish_status();
  return {};
}

void EmbeddedStore::note_failure(const std::string& what, const std::string& error, Nanos now) {
  counters_.degraded = 1;
  counters_.last_error = error;
  if (!failing_ || now - last_failure_log_ >= kFailureLogEvery) {
    spdlog::error("persistence: {} failed: {}; deciding from memory, admin mutations are refused, retrying every "
                  "checkpoint",
                  what, error);
    last_failure_log_ = now;
  }
  failing_ = true;
}

void EmbeddedStore::note_success(Nanos) {
  if (failing_) spdlog::info("persistence: the journal is writable again; pending records are durable");
  failing_ = false;
  counters_.degraded = 0;
}

void EmbeddedStore::publish_status() {
  std::lock_guard lock(status_mutex_);
  published_ = counters_;
  published_.store = store_status_;
}

PersistStatus EmbeddedStore::status() const {
  std::lock_guard lock(status_mutex_);
  return published_;
}

std::expected<void, std::string> EmbeddedStore::commit_pending_locked() {
  if (!journal_) return std::unexpected("the store is not open");
  if (journal_->pending_records() == 0) return {};
  auto committed = journal_->commit();
  if (!committed) {
    note_failure("journal commit", committed.error().message, options_.clock->now());
    return std::unexpected(committed.error().message);
  }
  note_success(options_.clock->now());
  return {};
}

size_t EmbeddedStore::append_ledger_tail_locked() {
  size_t appended = 0;
  for (;;) {
    std::vector<LedgerEntry> batch = state_.ledger().entries_after(journaled_ledger_seq_, kLedgerBatch);
    if (batch.empty()) return appended;
    journal_->append(static_cast<uint8_t>(RecordType::kLedgerEntries), encode_ledger_entries(batch));
    journaled_ledger_seq_ = batch.back().seq;
    appended += batch.size();
  }
}

size_t EmbeddedStore::append_dirty_counters_locked(Nanos now) {
  CounterBatch batch;
  size_t keys = 0;
  dirty_hashes_.clear();
  state_.dirty_log().take(dirty_hashes_);
  const CounterTable& table = engine_().table();
  for (uint64_t hash : dirty_hashes_) table.for_each_with_hash(hash, [&](Entry* e) {
    if (!e->take_dirty() || !worth_saving(*e, now)) return;
    batch.add_entry(*e);
    ++keys;
    if (batch.bytes() >= kBatchBytes) {
      journal_->append(static_cast<uint8_t>(RecordType::kCounters), batch.finish());
      batch.clear();
    }
  });
  if (batch.keys() > 0) journal_->append(static_cast<uint8_t>(RecordType::kCounters), batch.finish());
  return keys;
}

// The open holds and the ledger flush, cut consistently. A hold belongs in
// the set journaled with this checkpoint's ledger entries exactly when its
// debit is in them and its settlement (a CANCEL's refund; a COMMIT changes no
// money but must not be undone either) is not: restored with less, a debit
// stays charged for a hold nobody can cancel; with more, a CANCEL refunds
// twice. Workers settle holds while this runs, so each hold is placed by the
// settle ordinals of hold_table.h:
//   1. `from`: a quiescent point (every settle numbered below it finished);
//      then the open holds B (each with its slot identity). A hold open
//      here has its debit in its account's counters (a hold is published
//      after its debit) and no settle numbered below `from`.
//   2. Each account that has holds in B is read at a quiescent point of its
//      own, `cut`: settles numbered below `cut` are wholly in the read (the
//      refund included), settles from `cut` on not at all; the read is
//      turned into ledger entries. Other accounts are flushed as before
//      (no hold to place). A window is one account's read, a few lots.
//   3. `end`: a quiescent point; the settle log names the holds settled with
//      ordinals in [from, end). A hold of B is left out exactly when its
//      settle's ordinal is below its account's `cut` (its settlement is in
//      the entries); a hold of a contract without account is placed by `end`.
//      Matching is by slot identity (slot << 32 | version), so a hold settled
//      and its id held again by a new hold are never confused.
//   4. If more than HoldTable::kSettleLog settles ran from `from` on, an
//      entry may be gone: the whole cut is taken again (flushing again only
//      appends what changed since).
// Holds created after `from` and not seen in B are left to the next
// checkpoint (docs/durability.md states that window). The set is written
// before the ledger entries and carries the ledger sequence they reach, so
// recovery can tell a commit torn between the two and use the previous set.
void EmbeddedStore::flush_ledger_and_holds_locked(Nanos now) {
  Engine& engine = engine_();
  const HoldTable& table = engine.holds();
  auto probe = [&](std::string_view point) {
    if (options_.checkpoint_probe) options_.checkpoint_probe(point);
  };
  for (;;) {
    const uint64_t from = table.at_quiescent_point([] {});
    const uint64_t changes = table.changes();
    // No create or settle since the set was journaled: it is the open set.
    const bool cached = changes == holds_changes_;
    // The cached set is read in place, not copied (50 000 holds are 150 000
    // allocations): only the holds kept are copied, and only if it changed.
    std::vector<uint64_t> fresh_ids;
    std::vector<HoldImage> fresh;
    if (!cached) fresh = engine.export_holds(&fresh_ids);
    const std::vector<HoldImage>& before = cached ? holds_set_.holds : fresh;
    const std::vector<uint64_t>& ids = cached ? holds_ids_ : fresh_ids;
    probe("holds_read");
    constexpr uint64_t kNoAccount = UINT64_MAX;
    std::unordered_map<std::string_view, uint64_t> cut;  // contract → its account's quiescent point
    for (const HoldImage& h : before) cut.emplace(h.contract, kNoAccount);
    for (ContractState* st : state_.all()) {
      Account* account = st->account();
      if (account == nullptr) continue;
      auto it = cut.find(st->key());
      if (it == cut.end()) {
        state_.ledger().flush_debits(*account, st->key(), now);
        continue;
      }
      AccountSnapshot snapshot;
      it->second = table.at_quiescent_point([&] {
        snapshot = account->snapshot();
        probe("account_read");
      });
      state_.ledger().flush_snapshot(snapshot, st->key(), now);
    }
    probe("flushed");
    const uint64_t end = table.at_quiescent_point([] {});
    if (cached && table.changes() == changes) return;  // nothing settled or created: the set stands
    std::unordered_map<uint64_t, uint64_t> settled_at;  // identity → ordinal of its settle
    if (!before.empty()) {
      std::vector<uint64_t> settled;
      if (!table.settled_between(from, end, settled)) continue;  // the log wrapped: cut again
      for (uint64_t i = 0; i < settled.size(); ++i)
        if (settled[i] != 0) settled_at.emplace(settled[i], from + i);
    }
    HoldSet set{state_.ledger().last_seq(), {}};
    std::vector<size_t> kept;
    for (size_t i = 0; i < before.size(); ++i) {
      const auto s = settled_at.find(ids[i]);
      const auto c = cut.find(before[i].contract);
      const uint64_t placed_by = c != cut.end() && c->second != kNoAccount ? c->second : end;
      if (s == settled_at.end() || s->second >= placed_by) kept.push_back(i);
    }
    std::sort(kept.begin(), kept.end(), [&](size_t a, size_t b) { return hold_before(before[a], before[b]); });
    std::vector<uint64_t> kept_ids;
    for (size_t i : kept) {
      set.holds.push_back(cached ? before[i] : std::move(fresh[i]));
      kept_ids.push_back(ids[i]);
    }
    holds_changes_ = changes;
    holds_ids_ = std::move(kept_ids);
    if (set.holds == holds_set_.holds) return;
    journal_->append(static_cast<uint8_t>(RecordType::kHolds), encode_holds(set));
    counters_.checkpoint_holds_last = set.holds.size();
    holds_set_ = std::move(set);
    return;
  }
}

// Read after the ledger and counters: a reply or member saved without its
// charge makes a retry free; a charge saved without its reply happens only
// for a call in flight across this whole checkpoint.
void EmbeddedStore::append_id_and_subject_records_locked(Nanos now) {
  Engine& engine = engine_();
  const Emit emit = [&](RecordType type, std::string_view bytes) {
    journal_->append(static_cast<uint8_t>(type), bytes);
  };
  std::vector<DedupTable::Record> ids;
  engine.dedup().drain_dirty(now, [&](const DedupTable::Record& r) { ids.push_back(r); });
  counters_.checkpoint_id_records += emit_id_records(ids, emit);
  engine.for_each_distinct_set([&](const std::string& contract, const std::string& limit, DistinctSubjects& set) {
    counters_.checkpoint_subjects += emit_members(contract, limit, set.drain_new(now), emit);
  });
  engine.for_each_subject_estimate([&](const std::string& contract, PeriodHll& hll) {
    emit_estimate(contract, hll.drain_changed(now), emit);
  });
}

std::expected<void, std::string> EmbeddedStore::durable(AdminRecord& record) {
  // Caller holds exclusive(). A journal that still refuses earlier records
  // refuses this one before anything is appended.
  if (auto pending = commit_pending_locked(); !pending) {
    ++counters_.admin_refused;
    publish_status();
    return std::unexpected(pending.error());
  }
  // The ledger journaled below goes with the hold set that matches it: the
  // checkpoint's cut, then the record numbered after what it flushed (see
  // "Holds and money in every commit" in the header).
  flush_ledger_and_holds_locked(record.time);
  record.ledger_entry.seq = state_.ledger().last_seq() + 1;
  append_ledger_tail_locked();
  (void)append_dirty_counters_locked(record.time);
  const uint64_t seq = journal_->append(static_cast<uint8_t>(RecordType::kAdmin), encode_admin(record));
  auto committed = journal_->commit();
  if (!committed) {
    // The record stays buffered and a later commit would write it: the cancel
    // written with it tells recovery it was refused.
    journal_->append(static_cast<uint8_t>(RecordType::kCancel), encode_cancel(seq));
    ++counters_.admin_refused;
    note_failure("admin mutation", committed.error().message, options_.clock->now());
    publish_status();
    return std::unexpected(committed.error().message);
  }
  journaled_ledger_seq_ = std::max(journaled_ledger_seq_, record.ledger_entry.seq);
  ++counters_.admin_durable;
  note_success(options_.clock->now());
  if (!raised_this_run_) {
    raised_this_run_ = true;
    raise_watermark_locked("first admin mutation of this run");
  }
  publish_status();
  return {};
}

std::expected<void, std::string> EmbeddedStore::checkpoint(Nanos now) {
  std::lock_guard lock(mutex_);
  auto done = checkpoint_locked(now);
  publish_status();
  return done;
}

std::expected<void, std::string> EmbeddedStore::checkpoint_locked(Nanos now) {
  if (!journal_) return std::unexpected("the store is not open");
  const Nanos started = options_.clock->now();
  if (auto pending = commit_pending_locked(); !pending) {
    ++counters_.checkpoint_failures;
    return pending;
  }
  // Numbered before any state is read: every charge whose ticket is this
  // number is in what follows (control/commit_gate.h).
  const uint64_t number = options_.number_checkpoint ? options_.number_checkpoint() : ++checkpoints_numbered_;
  counters_.checkpoints_begun = number;
  flush_ledger_and_holds_locked(now);
  const size_t entries = append_ledger_tail_locked();
  const size_t keys = append_dirty_counters_locked(now);
  append_id_and_subject_records_locked(now);
  if (journal_->pending_records() == 0) {
    if (options_.checkpoint_durable) options_.checkpoint_durable(number);
    counters_.checkpoint_durable = number;
    return {};
  }
  auto committed = journal_->commit();
  if (!committed) {
    ++counters_.checkpoint_failures;
    note_failure("checkpoint", committed.error().message, now);
    return std::unexpected(committed.error().message);
  }
  if (options_.checkpoint_durable) options_.checkpoint_durable(number);
  counters_.checkpoint_durable = number;
  note_success(now);
  if (!raised_this_run_) {
    raised_this_run_ = true;  // once per run (three fsyncs); snapshots and a clean stop raise it further
    raise_watermark_locked("first checkpoint of this run");
  }
  ++counters_.checkpoints;
  counters_.checkpoint_keys_last = keys;
  counters_.checkpoint_ledger_entries += entries;
  const uint64_t took_us = static_cast<uint64_t>((options_.clock->now() - started) / 1000);
  counters_.checkpoint_last_us = took_us;
  counters_.checkpoint_max_us = std::max(counters_.checkpoint_max_us, took_us);
  counters_.last_checkpoint_ms = static_cast<uint64_t>(now / kNanosPerMilli);
  return {};
}

std::expected<void, std::string> EmbeddedStore::final_checkpoint(Nanos now) {
  std::lock_guard lock(mutex_);
  auto done = checkpoint_locked(now);
  if (done) raise_watermark_locked("clean stop");
  publish_status();
  return done;
}

namespace {
// A failing snapshot is retried every tick: one line per interval, with a count.
LogLimiter& snapshot_failure_log() {
  static LogLimiter limiter;
  return limiter;
}
}  // namespace

void EmbeddedStore::tick(Nanos now) {
  std::lock_guard lock(mutex_);
  (void)checkpoint_locked(now);  // failures are counted and logged inside
  if (now - last_snapshot_ >= options_.snapshot_interval && !failing_) {
    if (auto done = snapshot_locked(now); done) spdlog::info("persistence: {}", *done);
    else snapshot_failure_log().error("snapshot", "persistence: snapshot failed: {}", done.error());
  }
  publish_status();
}

std::expected<std::string, std::string> EmbeddedStore::snapshot(Nanos now) {
  std::lock_guard lock(mutex_);
  auto done = snapshot_locked(now);
  publish_status();
  return done;
}

std::expected<std::string, std::string> EmbeddedStore::snapshot_now() {
  return snapshot(options_.clock->now());
}

std::expected<std::string, std::string> EmbeddedStore::snapshot_locked(Nanos now) {
  const Nanos started = options_.clock->now();
  last_snapshot_ = now;  // a failing snapshot is retried after another interval, not every tick
  auto fail = [&](std::string why) -> std::expected<std::string, std::string> {
    ++counters_.snapshot_failures;
    return std::unexpected(std::move(why));
  };
  if (auto c = checkpoint_locked(now); !c) return fail("checkpoint before the snapshot: " + c.error());
  if (auto r = journal_->rotate(true); !r) return fail(r.error().message);
  const uint64_t seq = journal_->last_durable_seq();
  files::SnapshotOptions snapshot_options{.fs = options_.fs, .status = &store_status_};
  auto writer = files::SnapshotWriter::create(options_.dir, seq, snapshot_options);
  if (!writer) return fail(writer.error().message);
  std::optional<files::StoreError> error;
  auto add = [&](RecordType type, std::string_view bytes) {
    if (error) return;
    if (auto r = writer->add(static_cast<uint8_t>(type), bytes); !r) error = r.error();
  };
  {
    Encoder meta;
    meta.u8(kPayloadVersion);
    meta.i64(now);
    add(RecordType::kMeta, meta.bytes());
  }
  size_t contracts = 0;
  for (ContractState* st : state_.all()) {
    ContractImage image;
    image.key = st->key();
    image.status = st->status();
    image.overridden = st->overridden();
    image.reason = st->reason();
    image.actions = st->actions();
    if (Account* account = st->account()) {
      AccountSnapshot snap = account->snapshot();
      image.has_account = true;
      image.wallet = snap.wallet;
      image.lots = std::move(snap.lots);
    }
    add(RecordType::kContract, encode_contract(image));
    ++contracts;
  }
  for (uint64_t after = 0;;) {
    std::vector<LedgerEntry> batch = state_.ledger().entries_after(after, kLedgerBatch);
    if (batch.empty()) break;
    add(RecordType::kLedgerEntries, encode_ledger_entries(batch));
    after = batch.back().seq;
  }
  std::vector<PaymentImage> payments;
  state_.payments().for_each([&](const std::string& id, const PaymentRecord& record) {
    payments.push_back(PaymentImage{id, record});
  });
  for (size_t i = 0; i < payments.size(); i += kLedgerBatch)
    add(RecordType::kPayments,
        encode_payments(std::span<const PaymentImage>(payments).subspan(i, std::min(kLedgerBatch, payments.size() - i))));
  CounterBatch batch;
  size_t keys = 0;
  engine_().table().for_each([&](Entry* e) {
    if (error || !worth_saving(*e, now)) return;
    batch.add_entry(*e);
    ++keys;
    if (batch.bytes() >= kBatchBytes) {
      add(RecordType::kCounters, batch.finish());
      batch.clear();
    }
  });
  if (batch.keys() > 0) add(RecordType::kCounters, batch.finish());
  // The hold set of the checkpoint above: consistent with the ledger written here.
  add(RecordType::kHolds, encode_holds(holds_set_));
  {
    const Emit emit = add;
    std::vector<DedupTable::Record> ids;
    engine_().dedup().for_each_live(now, [&](const DedupTable::Record& r) { ids.push_back(r); });
    emit_id_records(ids, emit);
    engine_().for_each_distinct_set([&](const std::string& contract, const std::string& limit, DistinctSubjects& set) {
      emit_members(contract, limit, set.members(now), emit);
    });
    engine_().for_each_subject_estimate([&](const std::string& contract, PeriodHll& hll) {
      emit_estimate(contract, hll.registers(now), emit);
    });
  }
  if (error) return fail(error->message);
  auto info = writer->finish();
  if (!info) return fail(info.error().message);
  size_t dropped = 0;
  // The journal is kept back to the previous snapshot, so if this one turns
  // out corrupt, recovery falls back to that one plus the journal.
  raise_watermark_locked("snapshot");
  if (auto d = journal_->drop_segments_before(previous_snapshot_seq_ + 1); d) dropped = *d;
  else spdlog::warn("persistence: snapshot {} written but old journal segments stay: {}", info->path, d.error().message);
  previous_snapshot_seq_ = seq;
  ++counters_.snapshots;
  counters_.snapshot_keys_last = keys;
  counters_.snapshot_last_ms = static_cast<uint64_t>((options_.clock->now() - started) / kNanosPerMilli);
  return fmt::format("snapshot {} at seq {}: {} contracts, {} keys, {} ledger entries, {} bytes in {} ms; {} journal "
                     "segments dropped",
                     info->path, seq, contracts, keys, state_.ledger().last_seq(), info->bytes,
                     counters_.snapshot_last_ms, dropped);
}

}  // namespace tollgate::persist
