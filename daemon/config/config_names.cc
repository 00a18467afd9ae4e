#include "config/config_names.h"

namespace tollgate {
namespace {

template <typename Enum, size_t N>
std::string_view name_in(const std::pair<std::string_view, Enum> (&table)[N], Enum value) {
  for (const auto& [name, entry] : table) {
    if (entry == value) return name;
  }
  return "?";
}

}  // namespace

std::string_view yaml_name(LimitType type) { return name_in(kLimitTypeNames, type); }
std::string_view yaml_name(Period period) { return name_in(kPeriodNames, period); }
std::string_view yaml_name(UnknownKeys value) { return name_in(kUnknownKeysNames, value); }
std::string_view yaml_name(StorageMode mode) { return name_in(kStorageModeNames, mode); }
std::string_view yaml_name(Durability value) { return name_in(kDurabilityNames, value); }
std::string_view yaml_name(ContractStatus status) { return name_in(kContractStatusNames, status); }
std::string_view yaml_name(HoldTimeoutPolicy policy) { return name_in(kHoldTimeoutNames, policy); }
std::string_view yaml_name(FailPolicy policy) { return name_in(kFailPolicyNames, policy); }
std::string_view yaml_name(LogFormat format) { return name_in(kLogFormatNames, format); }
std::string_view yaml_name(LogLevel level) { return name_in(kLogLevelNames, level); }

}  // namespace tollgate
