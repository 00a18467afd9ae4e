// A price ladder: the size of one top-up picks the unit price of its credits
// (README, "Contracts and prepaid money", `pricing:`). Immutable value once built; thread-safe to read;
// copyable (a few steps).
#pragma once

#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <vector>

namespace tollgate {

// Top-ups of at least `prepay_from` minor units buy credits at `unit_price`
// minor units each (unless a higher step also applies).
struct PriceStep {
  int64_t prepay_from = 0;
  int64_t unit_price = 0;
  friend bool operator==(const PriceStep&, const PriceStep&) = default;
};

class PriceLadder {
 public:
  // Validates and builds a ladder. Steps may come in any order; they are kept
  // sorted descending by prepay_from. Errors: no steps, a negative
  // prepay_from, a unit_price <= 0, two steps with the same prepay_from, or
  // no step at 0 (every top-up must have a price).
  [[nodiscard]] static std::expected<PriceLadder, std::string> create(
      std::vector<PriceStep> steps);

  // A one-step ladder: every credit costs `unit_price` (> 0).
  [[nodiscard]] static PriceLadder flat(int64_t unit_price);

  // The unit price of the highest step whose prepay_from <= amount. Amounts
  // below 0 get the price of the 0 step.
  [[nodiscard]] int64_t unit_price_for(int64_t amount) const;

  // Steps, highest prepay_from first.
  [[nodiscard]] std::span<const PriceStep> steps() const { return steps_; }

 private:
  explicit PriceLadder(std::vector<PriceStep> steps) : steps_(std::move(steps)) {}
  std::vector<PriceStep> steps_;
};

}  // namespace tollgate
