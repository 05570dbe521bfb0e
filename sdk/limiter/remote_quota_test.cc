#include "sdk/limiter/remote_quota.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace grpc_cpp_polaris {
namespace {

constexpr int64_t kSecond = 1000;
// Some time well past the epoch, at the start of a one-second window.
constexpr int64_t kStart = 1'700'000'000'000;

int Admit(RemoteQuota& quota, int64_t at, int calls) {
  int admitted = 0;
  for (int i = 0; i < calls; ++i) admitted += quota.TryTake(at) ? 1 : 0;
  return admitted;
}

TEST(RemoteQuotaTest, BeforeAnyAnswerEachInstanceHasItsShareRoundedUp) {
  RemoteQuota quota(100, absl::Seconds(1), 3);
  EXPECT_EQ(Admit(quota, kStart, 50), 34);
  EXPECT_FALSE(quota.Synced(kStart));
  // The next window starts afresh.
  EXPECT_EQ(Admit(quota, kStart + kSecond, 50), 34);
}

TEST(RemoteQuotaTest, AnAnswerAllowsWhatWasAdmittedPlusAPartOfWhatIsLeft) {
  RemoteQuota quota(300, absl::Seconds(1), 3);
  ASSERT_EQ(Admit(quota, kStart, 20), 20);
  RemoteQuota::Usage usage = quota.Drain(kStart + 1);
  EXPECT_EQ(usage.used, 20u);
  EXPECT_EQ(usage.admitted, 20);
  EXPECT_EQ(usage.window, (kStart + 1) / kSecond);
  // Others used 150: 130 left, this instance may take ceil(130 / 3) more.
  quota.Apply(usage, 130, 3, kStart + 2);
  EXPECT_TRUE(quota.Synced(kStart + 2));
  EXPECT_EQ(quota.Remaining(kStart + 3), 44);
  EXPECT_EQ(Admit(quota, kStart + 3, 100), 44);
  // Nothing left: no more until the next window, which starts at the share.
  quota.Apply(quota.Drain(kStart + 4), -5, 3, kStart + 4);
  EXPECT_EQ(Admit(quota, kStart + 5, 10), 0);
  EXPECT_EQ(Admit(quota, kStart + kSecond, 200), 100);
}

TEST(RemoteQuotaTest, UnknownClientCountCountsAsOne) {
  RemoteQuota quota(300, absl::Seconds(1), 3);
  quota.Apply(quota.Drain(kStart), 300, 0, kStart);
  EXPECT_EQ(quota.Remaining(kStart), 300);
}

TEST(RemoteQuotaTest, AnAnswerForAWindowThatIsOverIsIgnored) {
  RemoteQuota quota(300, absl::Seconds(1), 3);
  RemoteQuota::Usage usage = quota.Drain(kStart + kSecond - 1);
  quota.Apply(usage, 0, 3, kStart + kSecond);
  EXPECT_FALSE(quota.Synced(kStart + kSecond));
  EXPECT_EQ(quota.Remaining(kStart + kSecond), 100);
}

TEST(RemoteQuotaTest, ReportsCountOnlyWhatIsNewAndRefusals) {
  RemoteQuota quota(10, absl::Seconds(1), 1);
  Admit(quota, kStart, 4);
  RemoteQuota::Usage first = quota.Drain(kStart);
  EXPECT_EQ(first.used, 4u);
  EXPECT_EQ(first.limited, 0u);
  Admit(quota, kStart + 1, 9);  // 6 admitted, 3 refused
  RemoteQuota::Usage second = quota.Drain(kStart + 2);
  EXPECT_EQ(second.used, 6u);
  EXPECT_EQ(second.limited, 3u);
  EXPECT_EQ(second.admitted, 10);
  // A new window reports from zero.
  Admit(quota, kStart + kSecond, 2);
  RemoteQuota::Usage third = quota.Drain(kStart + kSecond);
  EXPECT_EQ(third.used, 2u);
  EXPECT_EQ(third.limited, 0u);
  // Nothing new.
  EXPECT_EQ(quota.Drain(kStart + kSecond + 1).used, 0u);
}

TEST(RemoteQuotaTest, GiveBackReturnsACallOfTheSameWindowOnly) {
  RemoteQuota quota(2, absl::Seconds(1), 1);
  ASSERT_EQ(Admit(quota, kStart, 2), 2);
  quota.GiveBack(kStart);
  EXPECT_EQ(Admit(quota, kStart, 2), 1);
  quota.GiveBack(kStart + kSecond);  // another window: nothing to give back
  EXPECT_EQ(Admit(quota, kStart, 1), 0);
}

TEST(RemoteQuotaTest, ALateCallCountsInTheWindowOthersAlreadyStarted) {
  RemoteQuota quota(3, absl::Seconds(1), 1);
  ASSERT_EQ(Admit(quota, kStart + kSecond, 2), 2);
  // A call that read the time just before the boundary: it does not reset
  // the new window's count.
  EXPECT_TRUE(quota.TryTake(kStart + kSecond - 1));
  EXPECT_FALSE(quota.TryTake(kStart + kSecond));
}

TEST(RemoteQuotaTest, ConcurrentTakesNeverExceedTheAllowance) {
  RemoteQuota quota(1000, absl::Seconds(1), 1);
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] { admitted += Admit(quota, kStart, 400); });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(admitted.load(), 1000);
  EXPECT_EQ(quota.Drain(kStart).limited, 600u);
}

// A rate-limit server's counter for one fixed window, as polaris-limiter
// keeps it: reports add to it, answers say what is left.
struct FakeCounter {
  int64_t window = -1;
  int64_t used = 0;
  int64_t Report(int64_t at_window, uint32_t used_now, int64_t max) {
    if (at_window != window) {
      window = at_window;
      used = 0;
    }
    used += used_now;
    return max - used;
  }
};

// Three instances with the given demand per 10 ms step, each reporting every
// 100 ms (staggered), over `seconds`; returns the calls admitted in total.
int64_t Simulate(uint32_t max, const std::vector<int>& demand, int seconds) {
  std::vector<std::unique_ptr<RemoteQuota>> quotas;
  for (size_t i = 0; i < demand.size(); ++i) {
    quotas.push_back(std::make_unique<RemoteQuota>(max, absl::Seconds(1), demand.size()));
  }
  FakeCounter counter;
  int64_t admitted = 0;
  for (int64_t step = 0; step < seconds * 100; ++step) {
    const int64_t now = kStart + step * 10;
    for (size_t i = 0; i < quotas.size(); ++i) {
      admitted += Admit(*quotas[i], now, demand[i]);
      if ((step + static_cast<int64_t>(i) * 3) % 10 == 0) {
        RemoteQuota::Usage usage = quotas[i]->Drain(now + 1);
        const int64_t left = counter.Report(usage.window, usage.used, max);
        quotas[i]->Apply(usage, left, quotas.size(), now + 2);
      }
    }
  }
  return admitted;
}

TEST(RemoteQuotaTest, ThreeInstancesWithEqualDemandAdmitTheTotal) {
  // 3 x 2 calls / 10 ms = 600/s offered against 300/s.
  const int64_t admitted = Simulate(300, {2, 2, 2}, 5);
  EXPECT_NEAR(admitted, 1500, 30);
}

TEST(RemoteQuotaTest, OneBusyInstanceTakesWhatTheIdleOnesLeave) {
  // 400/s offered at one instance, 100/s at another, none at the third,
  // against 300/s: the busy one gets far more than its share of 100.
  const int64_t admitted = Simulate(300, {4, 1, 0}, 5);
  EXPECT_NEAR(admitted, 1500, 30);
}

TEST(RemoteQuotaTest, WithoutAnswersEachInstanceKeepsToItsShare) {
  RemoteQuota quota(300, absl::Seconds(1), 3);
  int64_t admitted = 0;
  for (int64_t step = 0; step < 500; ++step) admitted += Admit(quota, kStart + step * 10, 4);
  EXPECT_EQ(admitted, 500);  // 100 per window for 5 s
}

}  // namespace
}  // namespace grpc_cpp_polaris
