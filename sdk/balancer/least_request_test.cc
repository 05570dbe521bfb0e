#include "sdk/balancer/least_request.h"

#include <map>
#include <vector>

#include <gtest/gtest.h>

#include "sdk/balancer/balancer_test_util.h"
#include "sdk/balancer/weighted_random.h"
#include "sdk/stats/instance_stats.h"

namespace grpc_cpp_polaris {
namespace {

// Targets over `set` with stats of their own.
std::vector<BalanceTarget> WithStats(const testing::TargetSet& set,
                                     std::vector<InstanceStats>& stats) {
  std::vector<BalanceTarget> targets = set.targets();
  for (size_t i = 0; i < targets.size(); ++i) targets[i].stats = &stats[i];
  return targets;
}

std::map<size_t, int> Picks(const grpc_cpp_polaris::Balancer& balancer, int picks) {
  std::map<size_t, int> counts;
  for (int i = 0; i < picks; ++i) ++counts[balancer.Pick(BalanceInput{FastRandom(), 0})];
  return counts;
}

TEST(LeastRequestTest, AvoidsTheInstanceWithCallsPiledUp) {
  EXPECT_TRUE(testing::Balancer("least_request").uses_load());
  const testing::TargetSet set({100, 100, 100});
  std::vector<InstanceStats> stats(3);
  auto balancer = testing::Balancer("least_request").Build(WithStats(set, stats));
  stats[0].in_flight = 50;  // stuck
  stats[1].in_flight = 1;
  stats[2].in_flight = 2;
  const std::map<size_t, int> counts = Picks(*balancer, 30000);
  // Instance 0 only wins when all three draws are it: 1/27 of picks.
  EXPECT_NEAR(counts.at(0), 30000 / 27, 200);
  EXPECT_GT(counts.at(1), counts.at(2));
}

TEST(LeastRequestTest, IdleInstancesShareByWeight) {
  const testing::TargetSet set({100, 300});
  std::vector<InstanceStats> stats(2);
  auto balancer = testing::Balancer("least_request").Build(WithStats(set, stats));
  const std::map<size_t, int> counts = Picks(*balancer, 40000);
  // Ties go to the first draw: the weighted-random share.
  EXPECT_NEAR(counts.at(0), 10000, 500);
}

TEST(LeastRequestTest, LoadIsPerUnitOfWeight) {
  const testing::TargetSet set({100, 400});
  std::vector<InstanceStats> stats(2);
  auto balancer = testing::Balancer("least_request").Build(WithStats(set, stats));
  stats[0].in_flight = 2;  // 2 per 100
  stats[1].in_flight = 4;  // 1 per 100: less loaded for its weight
  const std::map<size_t, int> counts = Picks(*balancer, 40000);
  // Instance 0 wins only when drawn three times: (1/5)^3 of picks.
  EXPECT_NEAR(counts.at(0), 40000 / 125, 100);
}

TEST(LeastRequestTest, WithoutStatsItIsWeightedRandom) {
  const testing::TargetSet set({100, 300});
  auto balancer = testing::Balancer("least_request").Build(set.targets());
  EXPECT_NEAR(Picks(*balancer, 40000).at(0), 10000, 500);
}

}  // namespace
}  // namespace grpc_cpp_polaris
