#include "client/weighted_random.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

namespace grpc_cpp_polaris {
namespace {

TEST(WeightedRandomSelectorTest, EmptyWhenNoWeight) {
  EXPECT_TRUE(WeightedRandomSelector({}).empty());
  EXPECT_TRUE(WeightedRandomSelector({0, 0}).empty());
  EXPECT_FALSE(WeightedRandomSelector({0, 1}).empty());
}

TEST(WeightedRandomSelectorTest, EdgesOfTheRandomRangeAndZeroWeights) {
  WeightedRandomSelector selector({0, 5, 0, 5, 0});
  EXPECT_EQ(selector.total_weight(), 10u);
  EXPECT_EQ(selector.Select(0), 1u);
  EXPECT_EQ(selector.Select(UINT64_MAX), 3u);
  EXPECT_EQ(selector.Select(UINT64_MAX / 2), 1u);      // point 4 of 10
  EXPECT_EQ(selector.Select(UINT64_MAX / 2 + 1), 3u);  // point 5 of 10
}

TEST(WeightedRandomSelectorTest, SharesFollowWeights) {
  const std::vector<uint32_t> weights = {100, 200, 0, 700};
  WeightedRandomSelector selector(weights);
  std::vector<int> hits(weights.size());
  constexpr int kPicks = 200000;
  for (int i = 0; i < kPicks; ++i) ++hits[selector.Select(FastRandom())];
  EXPECT_EQ(hits[2], 0);
  for (size_t i = 0; i < weights.size(); ++i) {
    const double expected = weights[i] / 1000.0;
    EXPECT_NEAR(hits[i] / static_cast<double>(kPicks), expected, 0.01) << "index " << i;
  }
}

TEST(WeightedRandomSelectorTest, SingleInstanceAlwaysChosen) {
  WeightedRandomSelector selector({10000});
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(selector.Select(FastRandom()), 0u);
}

TEST(FastRandomTest, LooksUniformOverBits) {
  int ones[64] = {};
  constexpr int kDraws = 20000;
  for (int i = 0; i < kDraws; ++i) {
    const uint64_t value = FastRandom();
    for (int bit = 0; bit < 64; ++bit) ones[bit] += (value >> bit) & 1;
  }
  for (int bit = 0; bit < 64; ++bit) EXPECT_NEAR(ones[bit], kDraws / 2, kDraws / 20) << bit;
}

}  // namespace
}  // namespace grpc_cpp_polaris
