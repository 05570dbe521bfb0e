#include "sdk/balancer/weighted_random.h"

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "sdk/builtin_governance.h"

namespace grpc_cpp_polaris {
namespace {

TEST(WeightedRandomSelectorTest, EmptyWhenNoWeight) {
  EXPECT_TRUE(WeightedRandomSelector({}).empty());
  EXPECT_TRUE(WeightedRandomSelector({0, 0}).empty());
  EXPECT_FALSE(WeightedRandomSelector({0, 1}).empty());
  EXPECT_EQ(WeightedRandomSelector({0, 5, 7}).total_weight(), 12u);
}

// Feeds evenly spaced values over the whole 64-bit range, so that the shares
// are exact up to the spacing, with no randomness in the test.
std::vector<int> SweepShares(const std::vector<uint32_t>& weights, int steps_log2) {
  WeightedRandomSelector selector(weights);
  std::vector<int> hits(weights.size());
  const uint64_t step = uint64_t{1} << (64 - steps_log2);
  for (uint64_t k = 0; k < (uint64_t{1} << steps_log2); ++k) ++hits[selector.Select(k * step)];
  ++hits[selector.Select(UINT64_MAX)];
  return hits;
}

TEST(WeightedRandomSelectorTest, ExactSharesOverTheRandomRange) {
  const std::vector<uint32_t> weights = {1, 3, 0, 12, 0, 4};
  constexpr int kLog2 = 16;
  std::vector<int> hits = SweepShares(weights, kLog2);
  const double total = (1 << kLog2) + 1;
  for (size_t i = 0; i < weights.size(); ++i) {
    EXPECT_NEAR(hits[i] / total, weights[i] / 20.0, 1e-4) << "index " << i;
  }
  EXPECT_EQ(hits[2], 0);
  EXPECT_EQ(hits[4], 0);
}

TEST(WeightedRandomSelectorTest, ZeroWeightsNeverWinEvenAtTheEdges) {
  WeightedRandomSelector selector({0, 5, 0, 5, 0});
  for (uint64_t r : {uint64_t{0}, uint64_t{1}, UINT64_MAX / 5, UINT64_MAX / 2, UINT64_MAX - 1,
                     UINT64_MAX}) {
    const size_t index = selector.Select(r);
    EXPECT_TRUE(index == 1 || index == 3) << r;
  }
}

TEST(WeightedRandomSelectorTest, ManyInstancesWithSkewedWeights) {
  std::vector<uint32_t> weights(10000, 1);
  weights[1234] = 10000;  // half of all traffic
  std::vector<int> hits = SweepShares(weights, 20);
  EXPECT_NEAR(hits[1234] / double(1 << 20), 10000.0 / 19999, 1e-3);
  int others_max = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (i != 1234) others_max = std::max(others_max, hits[i]);
  }
  EXPECT_LE(others_max, 60);  // each expected about 52.4
}

TEST(WeightedRandomSelectorTest, SharesFollowWeightsWithFastRandom) {
  const std::vector<uint32_t> weights = {100, 200, 0, 700};
  WeightedRandomSelector selector(weights);
  std::vector<int> hits(weights.size());
  constexpr int kPicks = 200000;
  for (int i = 0; i < kPicks; ++i) ++hits[selector.Select(FastRandom())];
  EXPECT_EQ(hits[2], 0);
  for (size_t i = 0; i < weights.size(); ++i) {
    EXPECT_NEAR(hits[i] / static_cast<double>(kPicks), weights[i] / 1000.0, 0.01) << i;
  }
}

TEST(WeightedRandomSelectorTest, SingleInstanceAlwaysChosen) {
  WeightedRandomSelector selector({10000});
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(selector.Select(FastRandom()), 0u);
  EXPECT_EQ(selector.Select(UINT64_MAX), 0u);
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

TEST(FastRandomTest, PeekTellsTheNextDrawWithoutTakingIt) {
  FastRandom();  // seeded
  for (int i = 0; i < 100; ++i) {
    const uint64_t peeked = PeekFastRandom();
    EXPECT_EQ(PeekFastRandom(), peeked);
    EXPECT_EQ(FastRandom(), peeked);
  }
}

}  // namespace
}  // namespace grpc_cpp_polaris

namespace grpc_cpp_polaris {
namespace {

TEST(BalancerRegistryTest, WeightedRandomIsRegisteredAndFollowsWeights) {
  RegisterBuiltinGovernance();
  absl::StatusOr<const BalancerFactory*> factory =
      BalancerRegistry::Global().Find(BalancerRegistry::kDefault);
  ASSERT_TRUE(factory.ok()) << factory.status();
  Instance a, b;
  std::unique_ptr<Balancer> balancer = (*factory)->Build({{&a, 1}, {&b, 3}});
  // Half of the 64-bit range picks the column of `a` or its alias: sweep it.
  int picked_b = 0;
  constexpr int kSteps = 1 << 12;
  for (int i = 0; i < kSteps; ++i) {
    BalanceInput input;
    input.random = (UINT64_MAX / kSteps) * static_cast<uint64_t>(i);
    picked_b += balancer->Pick(input) == 1 ? 1 : 0;
  }
  EXPECT_NEAR(picked_b / static_cast<double>(kSteps), 0.75, 0.01);
}

TEST(BalancerRegistryTest, UnknownNameListsTheKnownOnes) {
  RegisterBuiltinGovernance();
  absl::StatusOr<const BalancerFactory*> factory = BalancerRegistry::Global().Find("nope");
  EXPECT_TRUE(absl::IsNotFound(factory.status()));
  EXPECT_NE(factory.status().message().find("weighted_random"), absl::string_view::npos);
}

}  // namespace
}  // namespace grpc_cpp_polaris
