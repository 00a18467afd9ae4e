#include "engine/money/price_ladder.h"

#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

namespace tollgate {
namespace {

PriceLadder standard_ladder() {
  return *PriceLadder::create({{15'000'000, 80}, {10'000'000, 90}, {0, 100}});
}

// Verifies the highest step at or below the amount applies, at exact boundaries.
TEST(MoneyPriceLadder, StepBoundaries) {
  const PriceLadder ladder = standard_ladder();
  EXPECT_EQ(ladder.unit_price_for(0), 100);
  EXPECT_EQ(ladder.unit_price_for(1), 100);
  EXPECT_EQ(ladder.unit_price_for(9'999'999), 100);
  EXPECT_EQ(ladder.unit_price_for(10'000'000), 90);
  EXPECT_EQ(ladder.unit_price_for(14'999'999), 90);
  EXPECT_EQ(ladder.unit_price_for(15'000'000), 80);
  EXPECT_EQ(ladder.unit_price_for(std::numeric_limits<int64_t>::max()), 80);
  EXPECT_EQ(ladder.unit_price_for(-1), 100);
}

// Verifies steps given in any order are kept highest first.
TEST(MoneyPriceLadder, SortsSteps) {
  const auto ladder = PriceLadder::create({{0, 100}, {15'000'000, 80}, {10'000'000, 90}});
  ASSERT_TRUE(ladder.has_value());
  ASSERT_EQ(ladder->steps().size(), 3u);
  EXPECT_EQ(ladder->steps()[0], (PriceStep{15'000'000, 80}));
  EXPECT_EQ(ladder->steps()[2], (PriceStep{0, 100}));
  EXPECT_EQ(ladder->unit_price_for(12'000'000), 90);
}

// Verifies impossible ladders are refused.
TEST(MoneyPriceLadder, RejectsInvalid) {
  EXPECT_FALSE(PriceLadder::create({}).has_value());
  EXPECT_FALSE(PriceLadder::create({{10, 90}}).has_value());              // no 0 step
  EXPECT_FALSE(PriceLadder::create({{0, 0}}).has_value());                // free credits
  EXPECT_FALSE(PriceLadder::create({{0, -5}}).has_value());
  EXPECT_FALSE(PriceLadder::create({{0, 100}, {-1, 90}}).has_value());
  EXPECT_FALSE(PriceLadder::create({{0, 100}, {0, 90}}).has_value());     // duplicate step
  EXPECT_EQ(PriceLadder::flat(7).unit_price_for(123), 7);
}

}  // namespace
}  // namespace tollgate
