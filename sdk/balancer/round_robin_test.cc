#include "sdk/balancer/round_robin.h"

#include <map>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "sdk/balancer/balancer_test_util.h"

namespace grpc_cpp_polaris {
namespace {

using testing::TargetSet;

TEST(RoundRobinTest, EachCycleGivesEveryTargetItsWeightInTurns) {
  const TargetSet set({1, 2, 3});
  std::unique_ptr<grpc_cpp_polaris::Balancer> balancer =
      testing::Balancer("round_robin").Build(set.targets());
  EXPECT_FALSE(testing::Balancer("round_robin").uses_hash());
  for (int cycle = 0; cycle < 100; ++cycle) {
    std::map<size_t, int> counts;
    for (int i = 0; i < 6; ++i) ++counts[balancer->Pick(BalanceInput{})];
    EXPECT_EQ(counts, (std::map<size_t, int>{{0, 1}, {1, 2}, {2, 3}})) << cycle;
  }
}

TEST(RoundRobinTest, TurnsAreSpreadNotBunched) {
  // Weights 1 and 9: the light target's turn comes once per ten calls, and
  // the heavy one never takes more than nine in a row.
  const TargetSet set({9, 1});
  auto balancer = testing::Balancer("round_robin").Build(set.targets());
  int run = 0, longest = 0;
  for (int i = 0; i < 1000; ++i) {
    run = balancer->Pick(BalanceInput{}) == 0 ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  EXPECT_EQ(longest, 9);
  // Equal weights alternate.
  const TargetSet even({100, 100, 100});
  auto rotation = testing::Balancer("round_robin").Build(even.targets());
  size_t previous = rotation->Pick(BalanceInput{});
  for (int i = 0; i < 300; ++i) {
    const size_t picked = rotation->Pick(BalanceInput{});
    EXPECT_NE(picked, previous);
    previous = picked;
  }
}

TEST(RoundRobinTest, LargeWeightsAreScaledAndEveryTargetKeepsATurn) {
  std::vector<uint32_t> weights(1000, 1000);
  weights[0] = 1;  // tiny next to the others: still a turn per cycle
  const TargetSet set(weights);
  auto balancer = testing::Balancer("round_robin").Build(set.targets());
  std::map<size_t, int> counts;
  for (int i = 0; i < 200000; ++i) ++counts[balancer->Pick(BalanceInput{})];
  EXPECT_GE(counts[0], 1);
  EXPECT_EQ(counts.size(), 1000u);
  EXPECT_NEAR(counts[500], 200, 10);
}

TEST(RoundRobinTest, ThreadsShareTheCycle) {
  const TargetSet set({1, 3});
  auto balancer = testing::Balancer("round_robin").Build(set.targets());
  std::vector<int> counts[2] = {std::vector<int>(2), std::vector<int>(2)};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) ++counts[t][balancer->Pick(BalanceInput{})];
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(counts[0][0] + counts[1][0], 10000);
  EXPECT_EQ(counts[0][1] + counts[1][1], 30000);
}

}  // namespace
}  // namespace grpc_cpp_polaris
