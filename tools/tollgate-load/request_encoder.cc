#include "request_encoder.h"

#include <charconv>
#include <cmath>
#include <string_view>

namespace tollgate::load {

namespace {

constexpr std::string_view kPing = "*1\r\n$4\r\nPING\r\n";

void append_bulk(std::string& out, std::string_view value) {
  out += '$';
  out += std::to_string(value.size());
  out += "\r\n";
  out += value;
  out += "\r\n";
}

}  // namespace

const char* command_name(CommandKind kind) {
  switch (kind) {
    case CommandKind::kCheck: return "check";
    case CommandKind::kPeek: return "peek";
    case CommandKind::kPing: return "ping";
    case CommandKind::kMix: return "mix";
  }
  return "?";
}

RequestEncoder::RequestEncoder(const LoadOptions& options, uint64_t seed)
    : options_(options), rng_(seed) {
  if (options.distribution == KeyDistribution::kZipf) zipf_.emplace(options.keys, options.zipf_skew);
  // A PEEK is sent when a uniform 64-bit draw falls below peek_threshold_.
  if (options.command == CommandKind::kPeek || (options.command == CommandKind::kMix && options.peek_ratio >= 1.0)) {
    peek_threshold_ = UINT64_MAX;
  } else if (options.command == CommandKind::kMix) {
    peek_threshold_ = static_cast<uint64_t>(options.peek_ratio * 0x1p64);
  }
  int argc = 2;
  if (options.cost != 1) {
    argc += 2;
    append_bulk(tail_, "COST");
    append_bulk(tail_, std::to_string(options.cost));
  }
  if (!options.channel.empty()) {
    argc += 2;
    append_bulk(tail_, "CHANNEL");
    append_bulk(tail_, options.channel);
  }
  if (!options.purpose.empty()) {
    argc += 2;
    append_bulk(tail_, "PURPOSE");
    append_bulk(tail_, options.purpose);
  }
  if (options.subjects > 0) {
    argc += 2;
    append_bulk(subject_name_, "SUBJECT");
  }
  const std::string count = "*" + std::to_string(argc) + "\r\n";
  check_head_ = count;
  append_bulk(check_head_, "CHECK");
  peek_head_ = count;
  append_bulk(peek_head_, "PEEK");
}

uint64_t RequestEncoder::next_key() {
  return zipf_ ? zipf_->sample(rng_) : rng_.next_below(options_.keys);
}

// Appends "$<len>\r\n<prefix><number>\r\n" without a temporary string.
void RequestEncoder::append_bulk_number(std::string& out, std::string_view prefix, uint64_t number) {
  char digits[20];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), number);
  const size_t digit_count = static_cast<size_t>(end - digits);
  char length[24];
  const auto [length_end, ec2] = std::to_chars(length, length + sizeof(length), prefix.size() + digit_count);
  out += '$';
  out.append(length, length_end);
  out += "\r\n";
  out += prefix;
  out.append(digits, digit_count);
  out += "\r\n";
}

void RequestEncoder::append_next(std::string& out) {
  if (options_.command == CommandKind::kPing) {
    out += kPing;
    return;
  }
  const bool peek = peek_threshold_ == UINT64_MAX || (peek_threshold_ != 0 && rng_() < peek_threshold_);
  out += peek ? peek_head_ : check_head_;
  append_bulk_number(out, options_.key_prefix, next_key());
  out += tail_;
  if (options_.subjects > 0) {
    out += subject_name_;
    append_bulk_number(out, "s", rng_.next_below(options_.subjects));
  }
}

}  // namespace tollgate::load
