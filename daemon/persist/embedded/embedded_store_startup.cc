// EmbeddedStore's start-up safety, apart from checkpoints and snapshots: the
// directory lock, the identity file and its watermark, --recover=empty's dry
// run (the contract is in embedded_store.h). Runs under the store mutex.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "persist/embedded/embedded_store.h"
#include "persist/embedded/lost_records.h"
#include "persist/files/discarded.h"
#include "persist/files/snapshot.h"

namespace tollgate::persist {

std::expected<void, std::string> EmbeddedStore::open_directory_locked(Nanos now, uint64_t& required_seq) {
  files::FileSystem& fs = *options_.fs;
  const std::string& dir = options_.dir;
  if (auto made = fs.mkdir(dir); !made)
    return std::unexpected(fmt::format("storage.dir {}: {}", dir, made.error().message));
  auto locked = files::DirectoryLock::acquire(fs, dir);
  if (!locked) return std::unexpected(locked.error().message);
  lock_ = std::move(*locked);
  auto identity = files::read_identity(fs, dir);
  if (!identity) return std::unexpected(fmt::format("reading the identity of {}: {}", dir, identity.error().message));
  if (options_.recover == RecoverMode::kEmpty) {
    if (auto emptied = empty_if_unreadable_locked(*identity); !emptied) return emptied;
    identity = files::read_identity(fs, dir);
    if (!identity) return std::unexpected(fmt::format("reading the identity of {}: {}", dir, identity.error().message));
  }
  auto files = files::state_file_names(fs, dir);
  if (!files) return std::unexpected(fmt::format("listing {}: {}", dir, files.error().message));
  const std::string identity_path = files::join_path(dir, files::kIdentityFileName);
  const int64_t now_ms = now / kNanosPerMilli;
  switch (identity->state) {
    case files::IdentityRead::State::kValid:
      identity_ = identity->identity;
      identity_written_ = true;
      required_seq = identity_.durable_seq;
      spdlog::info("storage: store {} in {}, durable up to seq {} or beyond", identity_.id, dir, required_seq);
      return {};
    case files::IdentityRead::State::kUnreadable: {
      if (options_.recover == RecoverMode::kRefuse)
        return std::unexpected(fmt::format(
            "identity file {} is unreadable ({}); it marks {} as a store and says how far its state reaches, so "
            "without it a loss cannot be told apart. Not starting: restore the file, or run once with "
            "--recover=truncate (start from what the journal and snapshots hold; the damaged file is set aside in {}) "
            "or --recover=empty",
            identity_path, identity->problem, dir, files::discarded_dir(dir)));
      auto moved = files::move_to_discarded(fs, dir, {files::kIdentityFileName});
      if (!moved) return std::unexpected(fmt::format("setting {} aside: {}", identity_path, moved.error().message));
      spdlog::error("storage: identity file {} was unreadable ({}); --recover={}: moved to {}, starting from what the "
                    "journal and snapshots hold",
                    identity_path, identity->problem, recover_mode_name(options_.recover), moved->front());
      identity_ = files::new_store_identity(now_ms);
      return {};
    }
    case files::IdentityRead::State::kAbsent:
      identity_ = files::new_store_identity(now_ms);
      if (!files->empty()) {
        spdlog::info("storage: {} holds a store without identity file (written by an earlier tollgated); it is "
                     "written after recovery",
                     dir);
        return {};
      }
      // A first start: marked before the journal's first segment exists, so
      // from now on missing state is never taken for a new store.
      if (auto w = write_watermark_locked(0, /*lower=*/true); !w) return w;
      spdlog::info("storage: new store {} in {}", identity_.id, dir);
      return {};
  }
  return {};
}

std::expected<void, std::string> EmbeddedStore::empty_if_unreadable_locked(const files::IdentityRead& identity) {
  files::FileSystem& fs = *options_.fs;
  const std::string& dir = options_.dir;
  const files::SnapshotOptions quiet{.fs = options_.fs};
  auto failed = [&](const files::StoreError& e) {
    return std::unexpected(fmt::format("--recover=empty: reading {}: {}", dir, e.message));
  };
  // A dry run of recovery's checks; it changes nothing.
  std::string problem;
  if (identity.state == files::IdentityRead::State::kUnreadable)
    problem = "identity file unreadable: " + identity.problem;
  auto load = files::load_latest(dir, [](uint8_t, std::string_view) {}, quiet);
  if (!load) return failed(load.error());
  const uint64_t after = load->loaded ? load->loaded->seq : 0;
  auto scan = files::scan_journal(fs, dir, after, [](const files::RecordView&) {});
  if (!scan) return failed(scan.error());
  const uint64_t required = identity.state == files::IdentityRead::State::kValid ? identity.identity.durable_seq : 0;
  if (problem.empty() && scan->data_loss) problem = "journal corrupt: " + files::describe(*scan->data_loss);
  if (problem.empty())
    if (auto missing = files::missing_records(*scan, dir, after, required))
      problem = "journal corrupt: " + files::describe(*missing);
  if (problem.empty()) {
    spdlog::warn("storage: --recover=empty: the state in {} can be read whole; starting from it as usual (the option "
                 "changed nothing)",
                 dir);
    return {};
  }
  // Everything is set aside: say what that loses.
  LostRecords lost;
  auto again = files::load_latest(dir, [&](uint8_t type, std::string_view bytes) { lost.snapshot_record(type, bytes); },
                                  quiet);
  if (!again) return failed(again.error());
  const auto journal_record = [&](const files::RecordView& r) { lost.journal_record(r); };
  if (auto rescanned = files::scan_journal(fs, dir, after, journal_record, journal_record); !rescanned)
    return failed(rescanned.error());
  auto names = files::state_file_names(fs, dir);
  if (!names) return failed(names.error());
  if (identity.state != files::IdentityRead::State::kAbsent) names->push_back(files::kIdentityFileName);
  auto moved = files::move_to_discarded(fs, dir, *names);
  if (!moved)
    return std::unexpected(
        fmt::format("--recover=empty: setting the state of {} aside: {}", dir, moved.error().message));
  spdlog::error("storage: --recover=empty: the state in {} cannot be read whole ({}); all of it ({} files) is moved to "
                "{} and the daemon starts with no state",
                dir, problem, moved->size(), files::discarded_dir(dir));
  counters_.recovery_payments_lost = lost.log("set aside by --recover=empty");
  return {};
}

std::expected<void, std::string> EmbeddedStore::write_watermark_locked(uint64_t seq, bool lower) {
  if (identity_written_ && !lower && seq <= identity_.durable_seq) return {};
  files::StoreIdentity next = identity_;
  next.durable_seq = seq;
  if (auto w = files::write_identity(*options_.fs, options_.dir, next); !w)
    return std::unexpected(fmt::format("writing the identity file of {}: {}", options_.dir, w.error().message));
  identity_ = std::move(next);
  identity_written_ = true;
  return {};
}

void EmbeddedStore::raise_watermark_locked(std::string_view when) {
  if (!journal_) return;
  if (auto w = write_watermark_locked(journal_->last_durable_seq()); !w)
    spdlog::warn("persistence: {} ({}); a later start may not notice journal records removed while it was down",
                 w.error(), when);
}

}  // namespace tollgate::persist
