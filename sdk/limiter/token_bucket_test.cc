#include "sdk/limiter/token_bucket.h"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace grpc_cpp_polaris {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kStart = 1'700'000'000 * kSecond;

TEST(TokenBucketTest, AFullBucketPassesItsBurstThenTheRate) {
  TokenBucket bucket(10, absl::Seconds(1));
  int passed = 0;
  for (int i = 0; i < 100; ++i) passed += bucket.TryTake(kStart);
  EXPECT_EQ(passed, 10);
  EXPECT_FALSE(bucket.TryTake(kStart + kSecond / 10 - 1));
  EXPECT_TRUE(bucket.TryTake(kStart + kSecond / 10));
  EXPECT_FALSE(bucket.TryTake(kStart + kSecond / 10));
}

TEST(TokenBucketTest, AdmitsItsRateOverALongRun) {
  TokenBucket bucket(100, absl::Seconds(1));
  // Drain the burst, then offer a call every millisecond for 5 s.
  while (bucket.TryTake(kStart)) {
  }
  int passed = 0;
  for (int64_t ms = 1; ms <= 5000; ++ms) passed += bucket.TryTake(kStart + ms * kSecond / 1000);
  EXPECT_EQ(passed, 500);
}

TEST(TokenBucketTest, RefillsUpToItsCapacityOnly) {
  TokenBucket bucket(5, absl::Seconds(1));
  EXPECT_TRUE(bucket.TryTake(kStart));
  EXPECT_TRUE(bucket.Full(kStart + kSecond / 5));
  EXPECT_DOUBLE_EQ(bucket.Available(kStart + 100 * kSecond), 5.0);
  int passed = 0;
  for (int i = 0; i < 20; ++i) passed += bucket.TryTake(kStart + 100 * kSecond);
  EXPECT_EQ(passed, 5);
}

TEST(TokenBucketTest, ReserveSpacesCallsEvenlyUpToTheLongestWait) {
  TokenBucket bucket(10, absl::Seconds(1));  // one every 100 ms
  EXPECT_EQ(bucket.Reserve(kStart, kSecond / 2), 0);
  EXPECT_EQ(bucket.Reserve(kStart, kSecond / 2), kSecond / 10);
  EXPECT_EQ(bucket.Reserve(kStart, kSecond / 2), 2 * kSecond / 10);
  for (int i = 3; i <= 5; ++i) EXPECT_EQ(bucket.Reserve(kStart, kSecond / 2), i * kSecond / 10);
  EXPECT_EQ(bucket.Reserve(kStart, kSecond / 2), -1);  // 600 ms > 500 ms
  EXPECT_EQ(bucket.Reserve(kStart + kSecond / 10, kSecond / 2), kSecond / 2);
}

TEST(MultiBucketTest, TakesFromEveryAmountOrFromNone) {
  // 3 per second, 4 per minute.
  MultiBucket buckets({{3, absl::Seconds(1)}, {4, absl::Minutes(1)}});
  EXPECT_TRUE(buckets.TryTake(kStart));
  EXPECT_TRUE(buckets.TryTake(kStart));
  EXPECT_TRUE(buckets.TryTake(kStart));
  EXPECT_FALSE(buckets.TryTake(kStart));  // the per-second amount is out
  // A second later the per-second amount has refilled; the failed take above
  // gave its minute token back, so one remains.
  EXPECT_TRUE(buckets.TryTake(kStart + kSecond));
  EXPECT_FALSE(buckets.TryTake(kStart + kSecond));
  EXPECT_FALSE(buckets.TryTake(kStart + 2 * kSecond));
  EXPECT_DOUBLE_EQ(buckets.bucket(0).Available(kStart + 2 * kSecond), 3.0);
}

TEST(TokenBucketTest, ConcurrentTakersShareTheBurstExactly) {
  TokenBucket bucket(1000, absl::Hours(1));
  std::atomic<int> passed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) passed += bucket.TryTake(kStart);
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(passed.load(), 1000);
}

TEST(TokenBucketTest, TakeBurstsThenSaysWhenTheNextTurnComes) {
  TokenBucket bucket(10, absl::Seconds(1));
  const int64_t ms = 1000000;
  for (int i = 0; i < 10; ++i) EXPECT_EQ(bucket.Take(0, 1000 * ms), 0) << i;
  EXPECT_EQ(bucket.Take(0, 1000 * ms), 100 * ms);
  EXPECT_EQ(bucket.Take(0, 1000 * ms), 200 * ms);
  // Beyond the longest wait: nothing taken.
  EXPECT_EQ(bucket.Take(0, 250 * ms), -1);
  EXPECT_EQ(bucket.Take(0, 1000 * ms), 300 * ms);
  EXPECT_FALSE(bucket.TryTake(0));
}

TEST(TokenBucketTest, MultiTakeWaitsForTheSlowestAmountAndTakesAllOrNone) {
  const int64_t ms = 1000000;
  MultiBucket buckets({{10, absl::Seconds(1)}, {2, absl::Seconds(1)}});
  EXPECT_EQ(buckets.Take(0, 1000 * ms), 0);
  EXPECT_EQ(buckets.Take(0, 1000 * ms), 0);
  EXPECT_EQ(buckets.Take(0, 1000 * ms), 500 * ms);  // the 2/s amount decides
  EXPECT_EQ(buckets.Take(0, 100 * ms), -1);
  // The 10/s bucket got back what the refused take had taken from it.
  EXPECT_NEAR(buckets.bucket(0).Available(0), 7.0, 1e-9);
}

}  // namespace
}  // namespace grpc_cpp_polaris
