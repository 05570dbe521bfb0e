#include "sdk/balancer/maglev.h"

#include <gtest/gtest.h>

#include "sdk/balancer/balancer_test_util.h"
#include "sdk/balancer/hash_balancer_checks.h"

namespace grpc_cpp_polaris {
namespace {

TEST(MaglevTest, UsesTheCallsHash) { EXPECT_TRUE(testing::Balancer("maglev").uses_hash()); }

TEST(MaglevTest, AKeyStaysOnOneInstance) { testing::CheckKeysStay("maglev"); }

TEST(MaglevTest, LoadFollowsWeights) { testing::CheckLoadFollowsWeights("maglev", 0.05); }

TEST(MaglevTest, AddingOneOfNMovesLittleMoreThanItsShare) {
  const testing::Remap remap = testing::AddOneInstance("maglev", 10);
  EXPECT_LE(remap.moved, 1.0 / 11 + 0.05);
}

}  // namespace
}  // namespace grpc_cpp_polaris
