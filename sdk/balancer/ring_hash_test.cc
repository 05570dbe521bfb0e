#include "sdk/balancer/ring_hash.h"

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sdk/balancer/balancer_test_util.h"
#include "sdk/balancer/hash_balancer_checks.h"
#include "sdk/balancer/stable_hash.h"

namespace grpc_cpp_polaris {
namespace {

TEST(RingHashTest, UsesTheCallsHash) {
  EXPECT_TRUE(testing::Balancer("ring_hash").uses_hash());
}

TEST(RingHashTest, AKeyStaysOnOneInstance) { testing::CheckKeysStay("ring_hash"); }

TEST(RingHashTest, LoadFollowsWeights) { testing::CheckLoadFollowsWeights("ring_hash", 0.25); }

TEST(RingHashTest, AddingOneOfNMovesOnlyItsShare) {
  // On a ring, the keys that move all move to the new instance.
  const testing::Remap remap = testing::AddOneInstance("ring_hash", 10);
  EXPECT_LE(remap.moved, 1.0 / 11 + 0.05);
  EXPECT_EQ(remap.moved_elsewhere, 0.0);
}

TEST(RingHashTest, LargeServicesKeepTheRingBounded) {
  std::vector<uint32_t> weights(20000, 100);
  const testing::TargetSet set(weights);
  auto balancer = testing::Balancer("ring_hash").Build(set.targets());
  std::map<size_t, int> counts;
  for (int i = 0; i < 200000; ++i) {
    ++counts[balancer->Pick(BalanceInput{0, StableHash("key-" + std::to_string(i))})];
  }
  EXPECT_GT(counts.size(), 15000u);  // most instances get keys
}

}  // namespace
}  // namespace grpc_cpp_polaris
