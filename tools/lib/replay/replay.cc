#include "replay/replay.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

#include "calllog/admin_hook.h"
#include "config/config_loader.h"
#include "config/config_paths.h"
#include "config/units.h"
#include "control/engine_options.h"
#include "engine/admin_record.h"
#include "replay/replay_extras_json.h"

namespace tollgate::replay {
namespace {

double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

constexpr std::string_view kOtherKeys = "(key classes)";
constexpr Nanos kHour = 3600 * kNanosPerSecond;
// Records decoded at a time: a few hundred CallRecords (~40 KB) stay in cache.
constexpr size_t kChunk = 256;

// The 16 hex digits a logged hash stands in for (SUBJECT, ID) in replay:
// two digits a byte from a table, eight steps instead of sixteen (every call
// of a log with SUBJECTs pays it).
std::string_view hex(uint64_t v, char (&buffer)[16]) {
  static constexpr auto kPairs = [] {
    std::array<char, 512> pairs{};
    constexpr char kDigits[] = "0123456789abcdef";
    for (int b = 0; b < 256; ++b) {
      pairs[static_cast<size_t>(2 * b)] = kDigits[b >> 4];
      pairs[static_cast<size_t>(2 * b + 1)] = kDigits[b & 15];
    }
    return pairs;
  }();
  for (int i = 14; i >= 0; i -= 2, v >>= 8) std::memcpy(buffer + i, &kPairs[2 * (v & 0xff)], 2);
  return {buffer, 16};
}

// The name a flip is counted under: the deciding limit, else the code.
std::string flip_name(std::string_view limit, Code code) {
  if (!limit.empty()) return std::string(limit);
  std::string name(code_name(code));
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  return name;
}

// The config a generation mark recorded, loaded as the daemon loaded it
// (relative paths against the recorded file's directory).
std::expected<Config, std::string> recorded_config(const calllog::CallRecord& mark) {
  const std::string file(mark.key);
  auto config = parse_config(mark.text, file, config_base_dir(file));
  if (config) return std::move(*config);
  std::string all;
  for (const auto& e : config.error()) all += (all.empty() ? "" : "; ") + e.to_string();
  return std::unexpected(fmt::format("the config of generation {} (recorded from {}) does not load: {}", mark.cost,
                                     file, all));
}

}  // namespace

uint64_t ReplayReport::allowed_to_denied() const {
  uint64_t n = 0;
  for (const auto& [k, c] : contracts) n += c.flips.allowed_to_denied;
  return n;
}
uint64_t ReplayReport::denied_to_allowed() const {
  uint64_t n = 0;
  for (const auto& [k, c] : contracts) n += c.flips.denied_to_allowed;
  return n;
}
int64_t ReplayReport::money_delta_minor() const {
  int64_t n = 0;
  for (const auto& [k, c] : contracts) n += c.candidate_charged_minor - c.live_charged_minor;
  return n;
}

Replayer::Replayer(const Config&) {}

std::expected<std::unique_ptr<Replayer>, std::string> Replayer::create(const Config& candidate, Nanos start) {
  std::unique_ptr<Replayer> r(new Replayer(candidate));
  EngineOptions options = engine_options_from(candidate, 1);
  options.track_changes = false;  // nothing is persisted
  auto engine = Engine::create(options, r->reclaimer_, start, r->state_);
  if (!engine) {
    std::string all;
    for (const std::string& e : engine.error()) all += (all.empty() ? "" : "; ") + e;
    return std::unexpected("the candidate config does not build an engine: " + all);
  }
  r->engine_ = std::move(*engine);
  r->next_sweep_ = start;
  if (auto monitors = std::make_unique<ReplayMonitors>(candidate, r->report_.monitors); !monitors->empty())
    r->monitors_ = std::move(monitors);
  return r;
}

std::expected<std::unique_ptr<Replayer>, std::string> Replayer::create_following(const calllog::CallRecord& mark) {
  auto config = recorded_config(mark);
  if (!config) return std::unexpected(config.error());
  auto made = create(*config, mark.time);
  if (!made) return std::unexpected(made.error());
  // Following the generations the recorded monitor actions are applied as
  // they were live; the recorded config's own monitors must not act again.
  (*made)->monitors_.reset();
  (*made)->report_.monitors.clear();
  (*made)->following_ = true;
  (*made)->report_.generations = 1;
  (*made)->report_.currency_decimals = config->currency_decimals;
  return made;
}

// A generation mark: the daemon reloaded here. Following the generations,
// the engine switches exactly as the Reloader switched it (the same two
// steps, control/engine_options.h): the new engine takes over counters,
// holds, IDs and contract states, and the old one is retired.
void Replayer::switch_generation(const calllog::CallRecord& mark) {
  ++report_.generations;
  if (!following_) return;
  auto config = recorded_config(mark);
  if (!config) {
    error_ = config.error();
    return;
  }
  EngineOptions options = engine_options_from(*config, 1);
  options.track_changes = false;
  options.generation = static_cast<uint32_t>(mark.cost);
  auto fresh = engine_for_reload(options, reclaimer_, mark.time, state_, *engine_);
  if (!fresh) {
    std::string all;
    for (const std::string& e : fresh.error()) all += (all.empty() ? "" : "; ") + e;
    error_ = fmt::format("the config of generation {} does not build an engine: {}", mark.cost, all);
    return;
  }
  Engine* old = engine_.release();
  engine_ = std::move(*fresh);
  retire_engine(reclaimer_, [this]() -> Engine& { return *engine_; }, old, mark.time);
  reclaimer_.collect();  // no reader here: the old engine goes now
  ++epoch_;              // which keys are contracts is resolved again
  holds_open_ = true;    // the new engine took over the old one's holds
}

// SUSPEND/RESUME/TERMINATE, RESET, and (following the generations) monitor
// actions: applied by apply_admin_record, as the daemon applied them.
void Replayer::admin_change(const calllog::CallRecord& r) {
  if (r.kind == calllog::RecordKind::kAction && !following_) {
    ++report_.actions_ignored;
    return;
  }
  auto change = calllog::admin_change_of(r);
  if (!change) return;
  if (auto applied = apply_admin_record(*change, *engine_, state_); !applied) {
    report_.admin_errors.push_back(fmt::format("{}: admin change not applied: {}", r.key, applied.error()));
    return;
  }
  ++(r.kind == calllog::RecordKind::kAction ? report_.actions_applied : report_.admin_changes);
}

ContractReport& Replayer::contract_report(std::string_view key, bool is_contract) {
  const std::string_view name = is_contract ? key : kOtherKeys;
  auto it = report_index_.find(std::string(name));
  if (it != report_index_.end()) return *it->second;
  ContractReport& c = report_.contracts[std::string(name)];
  report_index_.emplace(std::string(name), &c);
  return c;
}

// Time moves on: expired holds are settled by their contract's policy, and
// idle keys are swept once a simulated second, as the daemon's timers do.
// Following the generations, holds expire where the log says the live
// timers expired them (kExpire), not at their deadlines.
// Without open holds (most logs: no CHECK ... HOLD) the hold heap is not
// asked at every record: `holds_open_` is false only when the heap was seen
// empty and nothing since could have opened a hold (a CHECK with HOLD, a
// group, an engine switch set it again).
void Replayer::advance(Nanos now) {
  if (!following_ && holds_open_) {
    const Nanos next = engine_->next_hold_expiry(0, now);  // INT64_MAX: none open
    if (next <= now) {
      engine_->expire_holds(0, now);
      holds_open_ = engine_->next_hold_expiry(0) != INT64_MAX;
    } else {
      holds_open_ = next != INT64_MAX;
    }
  }
  if (now >= next_sweep_) {
    engine_->sweep(now, 4096);
    reclaimer_.collect();
    next_sweep_ = now + kNanosPerSecond;
  }
}

Replayer::KeyState& Replayer::key_state(std::string_view key) {
  const uint64_t hash = CounterTable::hash_key(key);
  if ((key_states_.size() + 1) * 2 > key_index_.size()) {
    // Grown to stay at most half full: every state placed again by its hash.
    std::vector<KeySlot> grown(std::max<size_t>(1024, key_index_.size() * 2));
    const size_t mask = grown.size() - 1;
    for (KeyState& k : key_states_) {
      size_t i = k.hash & mask;
      while (grown[i].state != nullptr) i = (i + 1) & mask;
      grown[i] = {k.hash, &k};
    }
    key_index_ = std::move(grown);
  }
  const size_t mask = key_index_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    KeySlot& slot = key_index_[i];
    if (slot.state == nullptr) {
      KeyState& fresh = key_states_.emplace_back();
      fresh.hash = hash;
      fresh.key = key;
      slot = {hash, &fresh};
      return fresh;
    }
    if (slot.hash == hash && slot.state->key == key) return *slot.state;
  }
}

void Replayer::start_block(size_t strings) { block_keys_.assign(strings, nullptr); }

void Replayer::recharge(const calllog::CallRecord& r, KeyState& key) {
  ++report_.recharges;
  if (!payments_.emplace(std::string(r.key), r.id_hash).second) {
    ++report_.recharges_repeated;
    return;
  }
  key.live_balance += r.cost;  // a recharge adds exactly its amount to the balance
  if (monitors_) monitors_->touch(r.key);
  ContractState* state = state_.find(r.key);
  Account* account = state != nullptr ? state->account() : nullptr;
  if (account == nullptr) {
    report_.recharge_errors.push_back(fmt::format("{}: RECHARGE {} not applied: the candidate gives it no pricing",
                                                  r.key, r.cost));
    return;
  }
  auto plan = account->plan_recharge(r.cost, r.time);
  if (plan) {
    if (auto added = account->add_lot(recharge_lot(*plan, r.time), plan->wallet); !added)
      plan = std::unexpected(added.error());
  }
  if (!plan) {
    report_.recharge_errors.push_back(fmt::format("{}: RECHARGE {} not applied: {}", r.key, r.cost, plan.error()));
    return;
  }
  key.candidate_balance += r.cost;
}

void Replayer::check(const calllog::CallRecord& r, KeyState& key, const Decision* decided) {
  char subject[16], id[16];
  CheckRequest request;
  request.key = r.key;
  request.cost = r.cost;
  request.channel = r.channel;
  request.purpose = r.purpose;
  if (r.subject_hash != 0) request.subject = hex(r.subject_hash, subject);
  if (r.id_hash != 0) request.id = hex(r.id_hash, id);
  request.hold_ms = r.hold_ms;
  request.wait_ms = r.wait_ms;
  if (r.hold_ms != -1) holds_open_ = true;  // it may open one (advance())
  if (key.epoch != epoch_) {
    key.is_contract = engine_->contract(r.key, key.hash) != nullptr;
    key.report = &contract_report(r.key, key.is_contract);
    key.epoch = epoch_;
  }
  const bool is_contract = key.is_contract;
  const Decision d = decided != nullptr ? *decided : engine_->check_with_hash(request, key.hash, r.time, 0);
  ++report_.calls;
  ContractReport& c = *key.report;
  if (monitors_ && is_contract) monitors_->touch(c.monitor_slot, r.key);
  ++c.calls;
  c.allowed_live += r.allowed;
  c.allowed_candidate += d.allowed;
  int64_t live_charge = 0, candidate_charge = 0;
  if (r.balance >= 0 || d.balance >= 0) {
    if (r.balance >= 0) {
      live_charge = key.live_balance - r.balance;
      key.live_balance = r.balance;
    }
    if (d.balance >= 0) {
      candidate_charge = key.candidate_balance - d.balance;
      key.candidate_balance = d.balance;
    }
    c.live_charged_minor += live_charge;
    c.candidate_charged_minor += candidate_charge;
    c.lots.charge(state_, r, live_charge, candidate_charge);
  }
  if (r.allowed == d.allowed) return;
  const bool to_denied = r.allowed;
  const std::string name = to_denied ? flip_name(d.limit, d.code) : flip_name(r.limit, r.code);
  const std::string code(to_denied ? code_name(d.code) : code_name(r.code));
  const int64_t money = candidate_charge - live_charge;
  for (FlipCounts* f : {&c.flips, &c.limits[name]}) {
    (to_denied ? f->allowed_to_denied : f->denied_to_allowed) += 1;
    f->money_delta_minor += money;
    ++f->codes[code];
  }
  if (c.first_flip == 0) c.first_flip = r.time;
  ++c.flips_by_hour[r.time - (r.time % kHour + kHour) % kHour];
  if (r.subject_hash != 0) c.subjects.insert(r.subject_hash);
}

void Replayer::apply(const calllog::CallRecord& r) {
  if (group_.open && group_member(r)) return;
  apply(r, key_state(r.key));
}

void Replayer::apply(const calllog::CallRecord& r, uint32_t key_index) {
  if (group_.open && group_member(r)) return;
  KeyState*& key = block_keys_[key_index];
  if (key == nullptr) key = &key_state(r.key);
  apply(r, *key);
}

void Replayer::apply(const calllog::CallRecord& r, KeyState& key) {
  if (report_.first_time == 0) report_.first_time = r.time;
  report_.last_time = std::max(report_.last_time, r.time);
  advance(r.time);
  if (monitors_) monitors_->at(r.time, *engine_, state_);
  switch (r.kind) {
    case calllog::RecordKind::kCheck:
      check(r, key);
      break;
    case calllog::RecordKind::kSettle: {
      ++report_.settles;
      char id[16];
      // By lot price, a CANCEL's refund counts at the SETTLE on both sides
      // (replay_monitors.h, "Lots"), not in the next call's balance fall.
      const Account* account = key.report != nullptr ? key.report->lots.account(state_, r.key) : nullptr;
      const int64_t before = account != nullptr ? account->balance() : 0;
      (void)engine_->settle(r.key, hex(r.id_hash, id), r.allowed, r.time);
      if (monitors_) monitors_->touch(r.key);
      if (key.report != nullptr) {
        const int64_t refund = account != nullptr ? account->balance() - before : 0;
        key.candidate_balance += refund;
        key.report->candidate_charged_minor -= refund;
        const int64_t live_refund = key.report->lots.settle(r.id_hash, r.allowed, refund);
        key.live_balance += live_refund;
        key.report->live_charged_minor -= live_refund;
      }
      break;
    }
    case calllog::RecordKind::kRecharge:
      recharge(r, key);
      break;
    case calllog::RecordKind::kGeneration:
      switch_generation(r);
      break;
    case calllog::RecordKind::kStatus:
    case calllog::RecordKind::kReset:
    case calllog::RecordKind::kAction:
      admin_change(r);
      break;
    case calllog::RecordKind::kGroup:
      start_group(r);
      break;
    case calllog::RecordKind::kExpire:
      // Live, a worker's timer expired this many holds (earliest deadline
      // first) now; replay keeps all holds on one worker's heap.
      if (following_) report_.holds_expired += engine_->expire_holds(0, r.time, static_cast<size_t>(r.cost));
      break;
  }
}

void Replayer::finish() {
  if (group_.open) cut_group("the log ends");
  if (!monitors_) return;
  monitors_->finish(report_.last_time, *engine_, state_);
  report_.monitor_ticks = monitors_->ticks();
}

namespace {

// A generation mark kept past its block (the views point into `file`, `text`).
struct SavedMark {
  calllog::CallRecord record;
  std::string file, text;
  bool present = false;
  void save(const calllog::CallRecord& r) {
    file = r.key;
    text = r.text;
    record = r;
    record.key = file;
    record.text = text;
    present = true;
  }
};

// replay_log (a candidate) and replay_log_live (`candidate` null: the
// recorded generations).
std::expected<ReplayReport, std::string> run(const Config* candidate, const ReplayOptions& options) {
  auto segments = calllog::list_segments(options.log_dir);
  if (!segments) return std::unexpected(segments.error());
  if (segments->empty()) return std::unexpected("no call-log segments (calls-*.tgcl) in " + options.log_dir);
  const auto started = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration setup{};
  const double cpu_started = thread_cpu_seconds();
  double cpu_setup = 0;
  std::unique_ptr<Replayer> replayer;
  std::vector<calllog::SegmentProblem> problems;
  // Blocks are decoded a chunk at a time (calllog::BlockDecoder): the
  // chunk's records stay in cache while they are replayed.
  std::string raw;
  calllog::BlockDecoder decoder;
  std::vector<calllog::CallRecord> chunk;
  std::vector<uint32_t> keys;
  SavedMark mark;  // following: the last generation mark before `from`
  // Following, the blocks before `from` are read too: the mark in force at
  // `from` may be in any of them.
  const Nanos read_from = candidate != nullptr ? options.from : INT64_MIN;
  size_t done = 0;
  uint64_t blocks = 0;
  // One record of a block being replayed: builds the replayer at the first
  // record replayed, tells it each block's keys once.
  bool block_started = false;
  auto replay_record = [&](const calllog::CallRecord& r, uint32_t key) -> std::expected<void, std::string> {
    if (r.time > options.to) return {};
    if (r.time < options.from) {
      if (candidate == nullptr && r.kind == calllog::RecordKind::kGeneration) mark.save(r);
      return {};
    }
    if (!replayer) {
      const auto building = std::chrono::steady_clock::now();
      const double cpu_building = thread_cpu_seconds();
      std::expected<std::unique_ptr<Replayer>, std::string> made;
      if (candidate != nullptr) {
        made = Replayer::create(*candidate, r.time);
      } else if (r.kind == calllog::RecordKind::kGeneration) {
        made = Replayer::create_following(r);
      } else if (mark.present) {
        made = Replayer::create_following(mark.record);
      } else {
        return std::unexpected(fmt::format(
            "the call log in {} has no config generation record before its call at {} (a log written "
            "before tollgate recorded them?): give --config to replay it through a candidate config",
            options.log_dir, format_instant(r.time)));
      }
      if (!made) return std::unexpected(made.error());
      replayer = std::move(*made);
      setup += std::chrono::steady_clock::now() - building;  // tables allocated once: not replay speed
      cpu_setup += thread_cpu_seconds() - cpu_building;
      if (candidate == nullptr && r.kind == calllog::RecordKind::kGeneration) return {};  // it built the engine
    }
    if (!block_started) {
      replayer->start_block(decoder.strings().size());
      block_started = true;
    }
    replayer->apply(r, key);
    if (!replayer->error().empty()) return std::unexpected(replayer->error());
    return {};
  };
  for (const std::string& path : *segments) {
    auto reader = calllog::SegmentReader::open(path);
    if (!reader) problems.push_back(reader.error());
    while (reader && reader->next_block(raw, decoder, problems, read_from, options.to)) {
      ++blocks;
      block_started = false;
      while (decoder.remaining() > 0) {
        if (auto decoded = decoder.next(kChunk, chunk, keys); !decoded) {  // next_block checked it: not reached
          problems.push_back({path, 0, "block does not decode (" + decoded.error() + "); the rest skipped"});
          break;
        }
        for (size_t i = 0; i < chunk.size(); ++i)
          if (auto done_ok = replay_record(chunk[i], keys[i]); !done_ok) return std::unexpected(done_ok.error());
      }
    }
    if (options.progress) options.progress(++done, segments->size());
  }
  if (replayer) replayer->finish();
  ReplayReport report = replayer ? std::move(replayer->report()) : ReplayReport{};
  if (candidate != nullptr) report.currency_decimals = candidate->currency_decimals;
  report.segments = segments->size();
  report.blocks = blocks;
  problems.insert(problems.end(), report.problems.begin(), report.problems.end());  // cut groups
  report.problems = std::move(problems);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started - setup).count();
  report.cpu_seconds = thread_cpu_seconds() - cpu_started - cpu_setup;
  return report;
}

}  // namespace

std::expected<ReplayReport, std::string> replay_log(const Config& candidate, const ReplayOptions& options) {
  return run(&candidate, options);
}

std::expected<ReplayReport, std::string> replay_log_live(const ReplayOptions& options) {
  return run(nullptr, options);
}

namespace {

nlohmann::json flips_json(const FlipCounts& f) {
  nlohmann::json j;
  j["allowed_to_denied"] = f.allowed_to_denied;
  j["denied_to_allowed"] = f.denied_to_allowed;
  j["money_delta_minor"] = f.money_delta_minor;
  j["codes"] = f.codes;
  return j;
}

std::pair<Nanos, uint64_t> busiest(const ContractReport& c) {
  std::pair<Nanos, uint64_t> best{0, 0};
  for (const auto& [hour, n] : c.flips_by_hour)
    if (n > best.second) best = {hour, n};
  return best;
}

}  // namespace

std::string report_json(const ReplayReport& report) {
  nlohmann::json j;
  j["calls"] = report.calls;
  j["allowed_to_denied"] = report.allowed_to_denied();
  j["denied_to_allowed"] = report.denied_to_allowed();
  j["money_delta_minor"] = report.money_delta_minor();
  j["settles"] = report.settles;
  j["recharges"] = report.recharges;
  j["generations"] = report.generations;
  j["admin_changes"] = report.admin_changes;
  j["monitor_actions_applied"] = report.actions_applied;
  j["monitor_actions_ignored"] = report.actions_ignored;
  j["holds_expired"] = report.holds_expired;
  j["groups"] = report.groups;
  j["segments"] = report.segments;
  j["from"] = report.calls > 0 ? format_instant(report.first_time) : "";
  j["to"] = report.calls > 0 ? format_instant(report.last_time) : "";
  j["seconds"] = report.seconds;
  j["calls_per_second"] = report.seconds > 0 ? static_cast<double>(report.calls) / report.seconds : 0.0;
  j["contracts"] = nlohmann::json::object();
  for (const auto& [key, c] : report.contracts) {
    nlohmann::json cj = flips_json(c.flips);
    cj["calls"] = c.calls;
    cj["allowed_live"] = c.allowed_live;
    cj["allowed_candidate"] = c.allowed_candidate;
    cj["money_delta_minor"] = c.candidate_charged_minor - c.live_charged_minor;
    cj["live_charged_minor"] = c.live_charged_minor;
    cj["candidate_charged_minor"] = c.candidate_charged_minor;
    cj["subjects_affected"] = c.subjects.size();
    cj["first_flip"] = c.first_flip != 0 ? format_instant(c.first_flip) : "";
    const auto [hour, n] = busiest(c);
    cj["busiest_hour"] = n > 0 ? format_instant(hour) : "";
    cj["busiest_hour_flips"] = n;
    cj["limits"] = nlohmann::json::object();
    for (const auto& [name, f] : c.limits) cj["limits"][name] = flips_json(f);
    cj["lots"] = lots_json(c.lots.by_price());
    auto fired = report.monitors.find(key);
    cj["monitors"] = monitors_json(fired != report.monitors.end() ? fired->second : decltype(fired->second){});
    j["contracts"][key] = std::move(cj);
  }
  for (const auto& [key, m] : report.monitors)  // fired without a call of its own (e.g. balance)
    if (!j["contracts"].contains(key)) j["contracts"][key]["monitors"] = monitors_json(m);
  j["monitor_ticks"] = report.monitor_ticks;
  j["problems"] = nlohmann::json::array();
  for (const auto& p : report.problems) j["problems"].push_back(p.text());
  for (const auto& e : report.recharge_errors) j["problems"].push_back(e);
  for (const auto& e : report.admin_errors) j["problems"].push_back(e);
  return j.dump(2);
}

std::string report_text(const ReplayReport& report, int decimals) {
  auto money = [decimals](int64_t minor) {
    std::string s = fmt::format("{:+d} minor units", minor);
    if (decimals > 0) {
      int64_t scale = 1;
      for (int i = 0; i < decimals; ++i) scale *= 10;
      const int64_t whole = (minor < 0 ? -minor : minor);
      s += fmt::format(" ({}{}.{:0{}d})", minor < 0 ? "-" : "+", whole / scale, whole % scale, decimals);
    }
    return s;
  };
  auto codes = [](const std::map<std::string, uint64_t>& m) {
    std::string s;
    for (const auto& [code, n] : m) s += fmt::format("{}{} {}", s.empty() ? "" : ", ", code, n);
    return s.empty() ? std::string() : " (" + s + ")";
  };
  std::string out;
  out += fmt::format("replayed {} calls, {} settles, {} recharges from {} segments", report.calls, report.settles,
                     report.recharges, report.segments);
  if (report.calls > 0)
    out += fmt::format(", {} .. {}", format_instant(report.first_time), format_instant(report.last_time));
  out += fmt::format(" in {:.3f} s ({:.0f} calls/s)\n", report.seconds,
                     report.seconds > 0 ? static_cast<double>(report.calls) / report.seconds : 0.0);
  if (report.generations > 0 || report.admin_changes > 0 || report.actions_applied > 0 || report.actions_ignored > 0)
    out += fmt::format("config generations {}, admin changes {}, monitor actions applied {} (ignored {})\n",
                       report.generations, report.admin_changes, report.actions_applied, report.actions_ignored);
  out += fmt::format("total: allowed -> denied {}, denied -> allowed {}, money {}\n", report.allowed_to_denied(),
                     report.denied_to_allowed(), money(report.money_delta_minor()));
  for (const auto& [key, c] : report.contracts) {
    out += fmt::format("\ncontract {}: {} calls, allowed live {} / candidate {}\n", key, c.calls, c.allowed_live,
                       c.allowed_candidate);
    out += fmt::format("  allowed -> denied {}, denied -> allowed {}{}\n", c.flips.allowed_to_denied,
                       c.flips.denied_to_allowed, codes(c.flips.codes));
    if (c.live_charged_minor != 0 || c.candidate_charged_minor != 0)
      out += fmt::format("  money: live charged {}, candidate {}, delta {}\n", c.live_charged_minor,
                         c.candidate_charged_minor, money(c.candidate_charged_minor - c.live_charged_minor));
    if (c.first_flip != 0) {
      const auto [hour, n] = busiest(c);
      out += fmt::format("  first flip {}, busiest hour {} ({} flips), end users affected {}\n",
                         format_instant(c.first_flip), format_instant(hour), n, c.subjects.size());
    }
    for (const auto& [name, f] : c.limits)
      out += fmt::format("  limit {}: allowed -> denied {}, denied -> allowed {}{}, money {}\n", name,
                         f.allowed_to_denied, f.denied_to_allowed, codes(f.codes), money(f.money_delta_minor));
    out += lots_text(c.lots.by_price(), decimals);
    if (auto fired = report.monitors.find(key); fired != report.monitors.end()) out += monitors_text(fired->second);
  }
  for (const auto& [key, m] : report.monitors)
    if (!report.contracts.contains(key)) out += fmt::format("\ncontract {}: no calls\n{}", key, monitors_text(m));
  if (!report.monitors.empty())
    out += "\nmonitor times follow the simulated clock (a tick per simulated second with calls): with the live\n"
           "monitors they fall within a second of the live firings, not necessarily on them\n";
  if (!report.problems.empty() || !report.recharge_errors.empty() || !report.admin_errors.empty())
    out += "\nproblems:\n";
  for (const auto& p : report.problems) out += "  " + p.text() + "\n";
  for (const auto& e : report.recharge_errors) out += "  " + e + "\n";
  for (const auto& e : report.admin_errors) out += "  " + e + "\n";
  return out;
}

}  // namespace tollgate::replay
