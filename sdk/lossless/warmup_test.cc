#include "sdk/lossless/warmup.h"

#include <gtest/gtest.h>

namespace grpc_cpp_polaris {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(2000000000);

Instance Aged(absl::Duration age) {
  Instance instance;
  instance.created = kNow - age;
  return instance;
}

WarmupOptions Plan(absl::Duration window, double curvature) {
  WarmupOptions plan;
  plan.enabled = true;
  plan.window = window;
  plan.curvature = curvature;
  return plan;
}

TEST(WarmupTest, ShareFollowsTheCurveAndEndsWithTheWindow) {
  const WarmupOptions plan = Plan(absl::Seconds(100), 2);
  const std::vector<Instance> instances = {Aged(absl::Seconds(10)), Aged(absl::Seconds(50)),
                                           Aged(absl::Seconds(100)), Aged(absl::Hours(1))};
  WarmupShares shares = ComputeWarmup(instances, [&](const Instance&) { return &plan; }, kNow);
  ASSERT_EQ(shares.share.size(), 4u);
  EXPECT_DOUBLE_EQ(shares.share[0], 0.01);
  EXPECT_DOUBLE_EQ(shares.share[1], 0.25);
  EXPECT_DOUBLE_EQ(shares.share[2], 1);
  EXPECT_DOUBLE_EQ(shares.share[3], 1);
  EXPECT_EQ(shares.Apply(0, 100), 1u);
  EXPECT_EQ(shares.Apply(1, 100), 25u);
  EXPECT_EQ(shares.Apply(1, 3), 1u);  // ceil(0.75)
  EXPECT_EQ(shares.Apply(3, 100), 100u);
  // Steps of window / 20.
  EXPECT_EQ(shares.next_update, kNow + absl::Seconds(5));
}

TEST(WarmupTest, ANewInstanceStillGetsWeightOneAndTheLastStepEndsTheWindow) {
  const WarmupOptions plan = Plan(absl::Seconds(10), 1);
  WarmupShares shares = ComputeWarmup({Aged(absl::ZeroDuration()), Aged(absl::Milliseconds(9950))},
                                      [&](const Instance&) { return &plan; }, kNow);
  EXPECT_EQ(shares.Apply(0, 100), 1u);
  EXPECT_EQ(shares.Apply(1, 100), 100u);  // ceil(99.5)
  EXPECT_EQ(shares.next_update, kNow + absl::Milliseconds(50));
}

TEST(WarmupTest, AClockAheadOfTheInstanceCountsAsJustStarted) {
  const WarmupOptions plan = Plan(absl::Seconds(10), 1);
  WarmupShares shares = ComputeWarmup({Aged(-absl::Seconds(3))},
                                      [&](const Instance&) { return &plan; }, kNow);
  EXPECT_EQ(shares.Apply(0, 100), 1u);
  // Far ahead (another time zone's reading): unknown, full weight.
  shares = ComputeWarmup({Aged(-absl::Hours(8))}, [&](const Instance&) { return &plan; }, kNow);
  EXPECT_TRUE(shares.share.empty());
  EXPECT_EQ(shares.next_update, absl::InfiniteFuture());
}

TEST(WarmupTest, UnknownAgeNoPlanOrNothingWarmingMeansFullWeight) {
  const WarmupOptions plan = Plan(absl::Seconds(10), 1);
  Instance unknown;
  WarmupShares shares =
      ComputeWarmup({unknown, Aged(absl::Minutes(5))}, [&](const Instance&) { return &plan; }, kNow);
  EXPECT_TRUE(shares.share.empty());
  EXPECT_EQ(shares.next_update, absl::InfiniteFuture());
  shares = ComputeWarmup({Aged(absl::Seconds(1))}, [](const Instance&) { return nullptr; }, kNow);
  EXPECT_TRUE(shares.share.empty());
  EXPECT_EQ(shares.Apply(0, 7), 7u);
}

TEST(WarmupTest, OverloadProtectionHoldsNoneBackWhileTooManyWarm) {
  WarmupOptions plan = Plan(absl::Seconds(10), 1);
  plan.overload_protection = true;
  plan.overload_threshold_percent = 50;
  auto of = [&](const Instance&) { return &plan; };
  // 2 of 4 warming: 50 % >= 50 %: full weight, looked at again when the
  // first would have finished.
  WarmupShares shares = ComputeWarmup({Aged(absl::Seconds(2)), Aged(absl::Seconds(6)),
                                       Aged(absl::Hours(1)), Aged(absl::Hours(1))},
                                      of, kNow);
  EXPECT_TRUE(shares.share.empty());
  EXPECT_EQ(shares.next_update, kNow + absl::Seconds(4));
  // 1 of 4: it warms.
  shares = ComputeWarmup({Aged(absl::Seconds(2)), Aged(absl::Hours(1)), Aged(absl::Hours(1)),
                          Aged(absl::Hours(1))},
                         of, kNow);
  ASSERT_EQ(shares.share.size(), 4u);
  EXPECT_DOUBLE_EQ(shares.share[0], 0.2);
}

TEST(WarmupTest, EachInstanceFollowsItsOwnPlan) {
  const WarmupOptions slow = Plan(absl::Seconds(100), 1);
  const WarmupOptions fast = Plan(absl::Seconds(10), 1);
  std::vector<Instance> instances = {Aged(absl::Seconds(5)), Aged(absl::Seconds(5))};
  instances[1].metadata["fast"] = "1";
  WarmupShares shares = ComputeWarmup(
      instances,
      [&](const Instance& instance) { return instance.metadata.count("fast") ? &fast : &slow; },
      kNow);
  EXPECT_DOUBLE_EQ(shares.share[0], 0.05);
  EXPECT_DOUBLE_EQ(shares.share[1], 0.5);
  EXPECT_EQ(shares.next_update, kNow + absl::Milliseconds(500));
}

}  // namespace
}  // namespace grpc_cpp_polaris
