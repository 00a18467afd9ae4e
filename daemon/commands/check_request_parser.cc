#include "commands/check_request_parser.h"

#include <charconv>
#include <fmt/format.h>

#include "commands/command_table.h"

namespace tollgate {

static_assert(kMaxWaitMs * kNanosPerMilli <= TokenBucket::kMaxPacing, "WAIT beyond what a token bucket accepts as pacing");
static_assert((kMaxHoldMs + kMaxWaitMs) * kNanosPerMilli <= HoldTable::kMaxHoldSpan,
              "HOLD beyond what the hold table accepts as a legitimate expiry");

std::expected<int64_t, std::monostate> parse_int64(std::string_view s) {
  int64_t v = 0;
  if (s.empty() || s.size() > 20 || (s[0] == '+')) return std::unexpected(std::monostate{});
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::unexpected(std::monostate{});
  return v;
}

namespace {

enum Option : unsigned { kCost = 1, kChannel = 2, kPurpose = 4, kSubject = 8, kId = 16, kHold = 32, kWait = 64 };

struct OptionName {
  std::string_view name;
  Option option;
};
constexpr OptionName kOptions[] = {{"COST", kCost},       {"CHANNEL", kChannel}, {"PURPOSE", kPurpose},
                                   {"SUBJECT", kSubject}, {"ID", kId},           {"HOLD", kHold},
                                   {"WAIT", kWait}};

std::expected<int64_t, std::string> bounded(std::string_view option, std::string_view value, int64_t lo, int64_t hi) {
  auto v = parse_int64(value);
  if (!v || *v < lo || *v > hi)
    return std::unexpected(fmt::format("ERR {} must be an integer from {} to {}", option, lo, hi));
  return *v;
}

}  // namespace

std::expected<CheckRequest, std::string> parse_check_request(std::span<const std::string_view> args) {
  CheckRequest req;
  if (args.size() < 2) return std::unexpected("ERR wrong number of arguments");
  req.key = args[1];
  if (req.key.empty()) return std::unexpected("ERR the key must not be empty");
  unsigned seen = 0;
  for (size_t i = 2; i < args.size(); i += 2) {
    const OptionName* opt = nullptr;
    for (const auto& o : kOptions)
      if (equals_ignore_case(o.name, args[i])) opt = &o;
    if (opt == nullptr)
      return std::unexpected(fmt::format(
          "ERR unknown option '{}' (expected COST, CHANNEL, PURPOSE, SUBJECT, ID, HOLD or WAIT)",
          args[i].substr(0, 64)));
    if (i + 1 >= args.size()) return std::unexpected(fmt::format("ERR option {} needs a value", opt->name));
    if (seen & opt->option) return std::unexpected(fmt::format("ERR option {} given twice", opt->name));
    seen |= opt->option;
    std::string_view value = args[i + 1];
    switch (opt->option) {
      case kCost: {
        auto v = bounded("COST", value, 0, kMaxCost);
        if (!v) return std::unexpected(v.error());
        req.cost = *v;
        break;
      }
      case kHold: {
        auto v = bounded("HOLD", value, 1, kMaxHoldMs);
        if (!v) return std::unexpected(v.error());
        req.hold_ms = *v;
        break;
      }
      case kWait: {
        auto v = bounded("WAIT", value, 0, kMaxWaitMs);
        if (!v) return std::unexpected(v.error());
        req.wait_ms = *v;
        break;
      }
      case kChannel: req.channel = value; break;
      case kPurpose: req.purpose = value; break;
      case kSubject:
        if (value.empty() || value.size() > kMaxSubjectLength)
          return std::unexpected(fmt::format("ERR SUBJECT must be 1 to {} bytes", kMaxSubjectLength));
        req.subject = value;
        break;
      case kId:
        if (value.empty() || value.size() > kMaxIdLength)
          return std::unexpected(fmt::format("ERR ID must be 1 to {} bytes", kMaxIdLength));
        req.id = value;
        break;
    }
  }
  if ((seen & kHold) && !(seen & kId)) return std::unexpected("ERR HOLD requires ID");
  return req;
}

}  // namespace tollgate
