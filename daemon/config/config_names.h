// The YAML spelling of every configuration enum, one table per enum. Parsing
// (config_loader) and printing (yaml_name, diffs) both read these tables.
#pragma once

#include <span>
#include <string_view>
#include <utility>

#include "config/config.h"

namespace tollgate {

template <typename Enum>
using EnumNames = std::span<const std::pair<std::string_view, Enum>>;

inline constexpr std::pair<std::string_view, LimitType> kLimitTypeNames[] = {
    {"token_bucket", LimitType::kTokenBucket},
    {"sliding_window", LimitType::kSlidingWindow},
    {"quota", LimitType::kQuota},
    {"concurrency", LimitType::kConcurrency},
    {"distinct_subjects", LimitType::kDistinctSubjects},
};
inline constexpr std::pair<std::string_view, Period> kPeriodNames[] = {
    {"hour", Period::kHour}, {"day", Period::kDay}, {"week", Period::kWeek}, {"month", Period::kMonth}};
inline constexpr std::pair<std::string_view, UnknownKeys> kUnknownKeysNames[] = {
    {"deny", UnknownKeys::kDeny}, {"allow", UnknownKeys::kAllow}};
inline constexpr std::pair<std::string_view, StorageMode> kStorageModeNames[] = {
    {"memory", StorageMode::kMemory}, {"embedded", StorageMode::kEmbedded}, {"redis", StorageMode::kRedis}};
inline constexpr std::pair<std::string_view, Durability> kDurabilityNames[] = {
    {"relaxed", Durability::kRelaxed}, {"strict", Durability::kStrict}};
inline constexpr std::pair<std::string_view, ContractStatus> kContractStatusNames[] = {
    {"active", ContractStatus::kActive},
    {"suspended", ContractStatus::kSuspended},
    {"terminated", ContractStatus::kTerminated}};
inline constexpr std::pair<std::string_view, HoldTimeoutPolicy> kHoldTimeoutNames[] = {
    {"commit", HoldTimeoutPolicy::kCommit}, {"cancel", HoldTimeoutPolicy::kCancel}};
inline constexpr std::pair<std::string_view, FailPolicy> kFailPolicyNames[] = {
    {"closed", FailPolicy::kClosed}, {"open", FailPolicy::kOpen}, {"local", FailPolicy::kLocal}};
inline constexpr std::pair<std::string_view, LogFormat> kLogFormatNames[] = {
    {"text", LogFormat::kText}, {"json", LogFormat::kJson}};
inline constexpr std::pair<std::string_view, LogLevel> kLogLevelNames[] = {
    {"debug", LogLevel::kDebug}, {"info", LogLevel::kInfo}, {"warn", LogLevel::kWarn}, {"error", LogLevel::kError}};

}  // namespace tollgate
