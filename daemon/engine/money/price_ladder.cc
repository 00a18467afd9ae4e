#include "engine/money/price_ladder.h"

#include <algorithm>
#include <cstdlib>

namespace tollgate {

std::expected<PriceLadder, std::string> PriceLadder::create(std::vector<PriceStep> steps) {
  if (steps.empty()) return std::unexpected("price ladder has no steps");
  for (const PriceStep& step : steps) {
    if (step.prepay_from < 0) return std::unexpected("prepay_from must not be negative");
    if (step.unit_price <= 0) return std::unexpected("unit_price must be positive");
  }
  std::sort(steps.begin(), steps.end(), [](const PriceStep& a, const PriceStep& b) {
    return a.prepay_from > b.prepay_from;
  });
  for (size_t i = 1; i < steps.size(); ++i)
    if (steps[i].prepay_from == steps[i - 1].prepay_from)
      return std::unexpected("two steps have prepay_from " +
                             std::to_string(steps[i].prepay_from));
  if (steps.back().prepay_from != 0)
    return std::unexpected("price ladder needs a step with prepay_from 0");
  return PriceLadder(std::move(steps));
}

PriceLadder PriceLadder::flat(int64_t unit_price) {
  if (unit_price <= 0) std::abort();  // a caller bug, not input
  return PriceLadder({PriceStep{0, unit_price}});
}

int64_t PriceLadder::unit_price_for(int64_t amount) const {
  for (const PriceStep& step : steps_)
    if (step.prepay_from <= amount) return step.unit_price;
  return steps_.back().unit_price;
}

}  // namespace tollgate
