// One counter limit of any counting type (token bucket, sliding window,
// calendar quota) behind a single non-virtual interface: a switch on the
// type, no virtual call on the hot path. Immutable after make() and shared by
// all threads; the state words are owned by the caller (words() of them).
// Every method has the thread-safety of the underlying type's method:
// init() is not thread-safe, everything else is.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <variant>

#include "engine/limits/limit_result.h"
#include "engine/limits/quota.h"
#include "engine/limits/sliding_window.h"
#include "engine/limits/token_bucket.h"
#include "tollgate/limit_spec.h"

namespace tollgate {

// A policy (a contract's limits, its per_subject set, or a key class) has at
// most this many counter limits (charges are tracked in 32-bit masks) and
// this many state words in all (Entry word counts are 16-bit).
inline constexpr size_t kMaxLimitsPerPolicy = 32;
inline constexpr int kMaxWordsPerPolicy = UINT16_MAX;

class Limiter {
  using Impl = std::variant<TokenBucket, SlidingWindow, Quota>;

  // A switch on the stored type (std::visit may compile to a jump table
  // through function pointers; this stays inlinable).
  template <typename F>
  decltype(auto) dispatch(F&& f) const {
    switch (impl_.index()) {
      case 0:
        return f(*std::get_if<0>(&impl_));
      case 1:
        return f(*std::get_if<1>(&impl_));
      default:
        return f(*std::get_if<2>(&impl_));
    }
  }

 public:
  // The most state words any counter limit needs (a sliding window's slices).
  static constexpr int kMaxWords = SlidingWindow::kMaxSubBuckets;

  // Builds the limiter for `spec`; quotas use `default_zone` when the spec
  // names none (and UTC when that is empty too). concurrency and
  // distinct_subjects are not counter limits and are refused.
  static std::expected<Limiter, std::string> make(const LimitSpec& spec,
                                                  std::string_view default_zone) {
    switch (spec.type) {
      case LimitType::kTokenBucket:
        return wrap(spec.type, TokenBucket::make(spec));
      case LimitType::kSlidingWindow:
        return wrap(spec.type, SlidingWindow::make(spec));
      case LimitType::kQuota:
        return wrap(spec.type, Quota::make(spec, default_zone.empty() ? "UTC" : default_zone));
      case LimitType::kConcurrency:
      case LimitType::kDistinctSubjects:
        break;
    }
    return std::unexpected("not a counter limit");
  }

  LimitType type() const { return type_; }
  int words() const { return dispatch([](const auto& l) { return l.words(); }); }
  int64_t capacity() const { return dispatch([](const auto& l) { return l.capacity(); }); }

  void init(std::atomic<uint64_t>* w, Nanos now) const {
    dispatch([&](const auto& l) { l.init(w, now); });
  }
  [[nodiscard]] LimitResult try_charge(std::atomic<uint64_t>* w, int64_t cost, Nanos now) const {
    return dispatch([&](const auto& l) { return l.try_charge(w, cost, now); });
  }
  // Pacing: token buckets reserve a slot up to `max_delay` ahead (see
  // TokenBucket::try_reserve); sliding windows and quotas are not paced and
  // answer exactly as try_charge (delay 0).
  [[nodiscard]] LimitResult try_reserve(std::atomic<uint64_t>* w, int64_t cost, Nanos now,
                                        Nanos max_delay) const {
    return dispatch([&](const auto& l) {
      if constexpr (requires { l.try_reserve(w, cost, now, max_delay); }) {
        return l.try_reserve(w, cost, now, max_delay);
      } else {
        return l.try_charge(w, cost, now);
      }
    });
  }
  // Whether try_reserve can answer with a delay (the limit is paced).
  bool paced() const { return type_ == LimitType::kTokenBucket; }
  // What try_charge (max_delay 0) or try_reserve would answer now; changes nothing.
  [[nodiscard]] LimitResult peek(const std::atomic<uint64_t>* w, int64_t cost, Nanos now,
                                 Nanos max_delay = 0) const {
    return dispatch([&](const auto& l) {
      if constexpr (requires { l.peek_reserve(w, cost, now, max_delay); }) {
        return l.peek_reserve(w, cost, now, max_delay);
      } else {
        return l.peek(w, cost, now);
      }
    });
  }
  void refund(std::atomic<uint64_t>* w, int64_t cost, Nanos charged_at, Nanos now) const {
    dispatch([&](const auto& l) { l.refund(w, cost, charged_at, now); });
  }
  [[nodiscard]] bool try_seal(std::atomic<uint64_t>* w, Nanos now) const {
    return dispatch([&](const auto& l) { return l.try_seal(w, now); });
  }
  void reset(std::atomic<uint64_t>* w, Nanos now) const {
    dispatch([&](const auto& l) { l.reset(w, now); });
  }

  // The concrete limiter, for callers that need type-specific details.
  template <typename T>
  const T* get() const {
    return std::get_if<T>(&impl_);
  }

 private:
  Limiter(LimitType type, Impl impl) : type_(type), impl_(std::move(impl)) {}

  template <typename T>
  static std::expected<Limiter, std::string> wrap(LimitType type,
                                                  std::expected<T, std::string> made) {
    if (!made) return std::unexpected(std::move(made.error()));
    return Limiter(type, Impl(std::in_place_type<T>, std::move(*made)));
  }

  LimitType type_;
  Impl impl_;
};

}  // namespace tollgate
