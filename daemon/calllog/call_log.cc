#include "calllog/call_log.h"

#include <xxhash.h>

#include <algorithm>
#include <cmath>

#include "calllog/segment.h"

namespace tollgate::calllog {

CallLog::CallLog(CallLogOptions options, int workers, files::FileSystem& fs)
    : options_(std::move(options)), fs_(fs) {
  sample_all_ = options_.sample >= 1.0;
  const double clamped = std::clamp(options_.sample, 0.0, 1.0);
  sample_threshold_ = clamped >= 1.0 ? UINT64_MAX : static_cast<uint64_t>(std::ldexp(clamped, 64));
  for (int i = 0; i <= workers; ++i) buffers_.push_back(std::make_unique<WorkerBuffer>(options_.buffer_bytes));
  release_at_.resize(buffers_.size());
  carried_.resize(buffers_.size());
  max_held_ = buffers_.size() * (buffers_.front()->capacity() / WorkerBuffer::kMinEntry);
}

CallLog::~CallLog() {
  if (thread_.joinable()) stop(0);
  close_segment();
}

bool CallLog::sampled(std::string_view key) const {
  return XXH3_64bits(key.data(), key.size()) < sample_threshold_;
}

std::expected<void, std::string> CallLog::open() {
  auto names = fs_.readdir(options_.dir);
  if (!names) return std::unexpected(names.error().message);
  std::vector<std::pair<int64_t, std::string>> found;
  for (const std::string& name : *names) {
    const int64_t seq = segment_sequence(name);
    if (seq >= 0) found.emplace_back(seq, name);
  }
  std::sort(found.begin(), found.end());
  std::lock_guard lock(stats_mutex_);
  for (const auto& [seq, name] : found) {
    const std::string path = options_.dir + "/" + name;
    uint64_t size = 0;
    if (auto f = fs_.open(path, O_RDONLY)) {
      if (auto s = fs_.size(*f)) size = *s;
      (void)fs_.close(*f);
    }
    closed_.push_back({path, size});
    stats_.disk_bytes += size;
    next_sequence_ = static_cast<uint64_t>(seq) + 1;
  }
  stats_.segments = closed_.size();
  return {};
}

void CallLog::record_admin(const CallRecord& r) {
  std::lock_guard lock(admin_mutex_);
  buffers_.back()->append(r);
}

void CallLog::mark_generation(uint32_t generation, Nanos now, std::string config_file, std::string config_text) {
  std::lock_guard lock(marks_mutex_);
  marks_.push_back({generation, now, std::move(config_file), std::move(config_text), false});
}

void CallLog::generation_drained(uint32_t generation) {
  std::lock_guard lock(marks_mutex_);
  for (Mark& m : marks_)
    if (m.generation <= generation) m.drained = true;
}

void CallLog::hold(const CallRecord& r, std::deque<Held>& into) {
  Held& h = into.emplace_back();  // a deque never moves its elements: the views stay valid
  h.record = r;
  h.record.text = {};
  h.strings.reserve(r.key.size() + r.channel.size() + r.purpose.size() + r.limit.size());
  h.strings.append(r.key).append(r.channel).append(r.purpose).append(r.limit);
  const char* p = h.strings.data();
  for (std::string_view* v : {&h.record.key, &h.record.channel, &h.record.purpose, &h.record.limit}) {
    *v = std::string_view(p, v->size());
    p += v->size();
  }
}

void CallLog::carry_open_group(size_t fresh, std::deque<Held>& into) {
  size_t start = staged_.size();
  while (start > fresh && staged_[start - 1].kind == RecordKind::kCheck) --start;
  if (start == fresh || staged_[start - 1].kind != RecordKind::kGroup) return;
  --start;  // the group's record
  const auto members = static_cast<int64_t>(staged_.size() - start - 1);
  if (members >= staged_[start].cost) return;  // whole
  for (size_t i = start; i < staged_.size(); ++i) hold(staged_[i], into);
  staged_.resize(start);
}

void CallLog::fail(std::string error) {
  std::lock_guard lock(stats_mutex_);
  stats_.last_error = std::move(error);
}

void CallLog::close_segment() {
  if (segment_.fd < 0) return;
  (void)fs_.fdatasync(segment_);
  (void)fs_.close(segment_);
  closed_.push_back({segment_.path, segment_size_});
  segment_ = files::FileHandle{};
  segment_size_ = 0;
}

bool CallLog::open_segment(Nanos now) {
  const std::string path = options_.dir + "/" + segment_name(next_sequence_++);
  auto f = fs_.open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND, 0640);
  if (!f) {
    fail(f.error().message);
    return false;
  }
  segment_ = *f;
  segment_size_ = 0;
  segment_opened_ = now;
  {
    std::lock_guard lock(stats_mutex_);
    ++stats_.segments;
  }
  if (!write_all(kSegmentHeader)) {
    // An empty or partial header: the reader reports it; start afresh next time.
    close_segment();
    return false;
  }
  return true;
}

bool CallLog::write_all(std::string_view bytes) {
  const uint64_t before = segment_size_;
  while (!bytes.empty()) {
    auto n = fs_.write(segment_, bytes);
    if (!n || *n == 0) {
      fail(n ? "write " + segment_.path + ": wrote nothing" : n.error().message);
      // Cut the partial frame off so that the segment stays whole; if even
      // that fails the reader will report the truncated tail.
      if (segment_size_ != before && !fs_.ftruncate(segment_, before)) {
        segment_size_ = before;
        close_segment();
        return false;
      }
      segment_size_ = before;
      return false;
    }
    bytes.remove_prefix(*n);
    segment_size_ += *n;
    std::lock_guard lock(stats_mutex_);
    stats_.disk_bytes += *n;
  }
  return true;
}

void CallLog::enforce_max_bytes() {
  std::lock_guard lock(stats_mutex_);
  while (!closed_.empty() && stats_.disk_bytes > static_cast<uint64_t>(options_.max_bytes)) {
    const Closed oldest = closed_.front();
    closed_.pop_front();
    if (auto gone = fs_.unlink(oldest.path); !gone) {
      stats_.last_error = gone.error().message;
      continue;  // not counted as freed; retried never (it stays out of the list)
    }
    stats_.disk_bytes -= std::min(stats_.disk_bytes, oldest.size);
    --stats_.segments;
    ++stats_.segments_deleted;
  }
}

size_t CallLog::flush(Nanos now) {
  // The marks due now (drained, in order) and the oldest still draining,
  // whose generation and later ones are held (header, "Generations").
  std::vector<Mark> due;
  bool draining = false;
  uint32_t draining_generation = 0;
  bool workers_gone = false;
  {
    std::lock_guard lock(marks_mutex_);
    workers_gone = all_drained_;
    while (!marks_.empty() && (marks_.front().drained || all_drained_)) {
      due.push_back(std::move(marks_.front()));
      marks_.pop_front();
    }
    if (!marks_.empty()) {
      draining = true;
      draining_generation = marks_.front().generation;
    }
  }
  // Held records are bounded by what the rings themselves hold: past that
  // the rings are left to fill (and drop, counted) until the mark is due.
  const bool collect = !draining || held_.size() < max_held_;
  staged_.clear();
  // A group of CHECKs whose last members were not yet appended when its
  // ring was collected waits (copied) for the next flush (header, "Groups").
  std::vector<std::deque<Held>> carried(buffers_.size());
  if (collect) {
    carried.swap(carried_);
    for (size_t i = 0; i < buffers_.size(); ++i) {
      for (const Held& h : carried[i]) staged_.push_back(h.record);
      const size_t fresh = staged_.size();
      release_at_[i] = buffers_[i]->collect(staged_);
      if (!workers_gone) carry_open_group(fresh, carried_[i]);
    }
  }
  if (!draining) {
    // A mark queued while the rings were being collected: its records may
    // be among them (it was queued before its engine was published, so
    // before any of them was appended) and wait for it. Whether a mark is
    // drained is read before collecting (a drain seen only now may have
    // older records still unread in the rings); whether one exists, after.
    std::lock_guard lock(marks_mutex_);
    if (!marks_.empty()) {
      draining = true;
      draining_generation = marks_.front().generation;
    }
  }
  const bool aged = segment_.fd >= 0 && now - segment_opened_ >= options_.segment_age;
  if (staged_.empty() && held_.empty() && due.empty()) {
    if (collect)
      for (size_t i = 0; i < buffers_.size(); ++i) buffers_[i]->release(release_at_[i]);  // all carried
    if (aged) close_segment();
    return 0;
  }
  const uint32_t base = written_generation_;  // also restored if this block is lost
  for (CallRecord& r : staged_)
    r.generation = base + static_cast<uint8_t>(static_cast<uint8_t>(r.generation) - static_cast<uint8_t>(base));
  std::deque<Held> held = std::move(held_);  // older than anything collected now; freed after encoding
  held_.clear();
  if (!held.empty()) {
    std::vector<CallRecord> earlier;
    earlier.reserve(held.size() + staged_.size());
    for (const Held& h : held) earlier.push_back(h.record);
    earlier.insert(earlier.end(), staged_.begin(), staged_.end());
    staged_.swap(earlier);
  }
  std::stable_sort(staged_.begin(), staged_.end(), [](const CallRecord& a, const CallRecord& b) {
    return a.generation != b.generation ? a.generation < b.generation : a.time < b.time;
  });
  encoder_.clear();
  size_t next_mark = 0;
  auto add_mark = [&](const Mark& m) {
    CallRecord r;
    r.kind = RecordKind::kGeneration;
    r.time = m.time;
    r.key = m.file;
    r.text = m.text;
    r.cost = m.generation;
    r.allowed = true;
    encoder_.add(r);
    written_generation_ = m.generation;
  };
  for (const CallRecord& r : staged_) {
    while (next_mark < due.size() && due[next_mark].generation <= r.generation) add_mark(due[next_mark++]);
    if (draining && r.generation >= draining_generation) {
      hold(r, held_);
    } else {
      encoder_.add(r);
    }
  }
  while (next_mark < due.size()) add_mark(due[next_mark++]);
  const size_t n = encoder_.count();
  if (collect)
    for (size_t i = 0; i < buffers_.size(); ++i) buffers_[i]->release(release_at_[i]);  // copied or held
  if (n == 0) {  // everything waits for its generation's mark
    if (aged) close_segment();
    return 0;
  }
  encoder_.finish(raw_);
  frame_.clear();
  bool written = false;
  if (auto framed = append_frame(raw_, static_cast<uint32_t>(n), encoder_.first_time(), encoder_.last_time(),
                                 options_.level, frame_);
      !framed) {
    fail(framed.error());
  } else {
    if (segment_.fd >= 0 &&
        (aged || segment_size_ + frame_.size() > static_cast<uint64_t>(options_.segment_bytes)))
      close_segment();
    if (segment_.fd >= 0 || open_segment(now)) written = write_all(frame_);
  }
  {
    std::lock_guard lock(stats_mutex_);
    if (written) {
      stats_.recorded += n;
      ++stats_.blocks;
      stats_.raw_bytes += raw_.size();
      stats_.bytes_written += frame_.size();
    } else {
      stats_.dropped_write += n;
    }
  }
  if (!written && !due.empty()) {
    // The records are lost (counted), but a lost mark would let later
    // records replay under the wrong config: the marks go out again first.
    std::lock_guard lock(marks_mutex_);
    for (auto it = due.rbegin(); it != due.rend(); ++it) {
      it->drained = true;
      marks_.push_front(std::move(*it));
    }
    written_generation_ = base;
  }
  enforce_max_bytes();
  return written ? n : 0;
}

void CallLog::start(const Clock& clock) {
  thread_ = std::thread([this, &clock] {
    std::unique_lock lock(thread_mutex_);
    while (!stopping_) {
      wake_.wait_for(lock, std::chrono::nanoseconds(options_.flush_interval),
                     [this] { return stopping_ || wake_requested_; });
      if (stopping_) break;
      wake_requested_ = false;
      lock.unlock();
      flush(clock.now());
      lock.lock();
    }
  });
}

void CallLog::stop(Nanos now) {
  if (thread_.joinable()) {
    {
      std::lock_guard lock(thread_mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  {
    std::lock_guard lock(marks_mutex_);
    all_drained_ = true;  // the workers are gone: nothing older can arrive
  }
  flush(now);
  close_segment();
}

void CallLog::wake() {
  {
    std::lock_guard lock(thread_mutex_);
    wake_requested_ = true;
  }
  wake_.notify_all();
}

CallLogStats CallLog::stats() const {
  std::lock_guard lock(stats_mutex_);
  CallLogStats s = stats_;
  for (const auto& b : buffers_) s.dropped_buffer += b->dropped();
  return s;
}

}  // namespace tollgate::calllog
