#include "sdk/scheduler.h"

#include <atomic>
#include <functional>
#include <mutex>
#include <vector>

#include "gtest/gtest.h"
#include "mockplane/wait.h"

namespace grpc_cpp_polaris {
namespace {

// Waits (bounded, 10 s) until `done` holds.
bool Eventually(const std::function<bool()>& done) {
  return mockplane::WaitUntil(done, absl::Seconds(10), absl::Milliseconds(1));
}

TEST(SchedulerTest, RunsTasksInTimeOrderOnceTheClockReachesThem) {
  FakeClock clock;
  Scheduler scheduler(&clock);
  std::mutex mu;
  std::vector<int> ran;
  auto record = [&](int n) {
    return [&, n] {
      std::lock_guard<std::mutex> lock(mu);
      ran.push_back(n);
    };
  };
  const absl::Time start = clock.Now();
  scheduler.RunAt(start + absl::Seconds(2), record(2));
  scheduler.RunAt(start + absl::Seconds(1), record(1));
  scheduler.RunAt(start + absl::Seconds(1), record(11));  // same time: posted after 1
  scheduler.RunSoon(record(0));
  ASSERT_TRUE(Eventually([&] { return scheduler.pending() == 3; }));
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(ran, std::vector<int>({0}));
  }
  clock.Advance(absl::Seconds(1));
  ASSERT_TRUE(Eventually([&] { return scheduler.pending() == 1; }));
  clock.Advance(absl::Seconds(1));
  ASSERT_TRUE(Eventually([&] { return scheduler.pending() == 0; }));
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    return ran.size() == 4;
  }));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(ran, std::vector<int>({0, 1, 11, 2}));
}

TEST(SchedulerTest, CancelledTasksNeverRun) {
  FakeClock clock;
  Scheduler scheduler(&clock);
  std::atomic<int> ran{0};
  const uint64_t id = scheduler.RunAt(clock.Now() + absl::Seconds(1), [&] { ran += 1; });
  scheduler.RunAt(clock.Now() + absl::Seconds(1), [&] { ran += 10; });
  EXPECT_TRUE(scheduler.Cancel(id));
  EXPECT_FALSE(scheduler.Cancel(id));
  clock.Advance(absl::Seconds(1));
  ASSERT_TRUE(Eventually([&] { return ran.load() != 0; }));
  EXPECT_EQ(ran.load(), 10);
}

TEST(SchedulerTest, ATaskMayPostAnother) {
  Scheduler scheduler(Clock::Real());
  std::atomic<bool> second{false};
  scheduler.RunSoon([&] { scheduler.RunSoon([&] { second = true; }); });
  EXPECT_TRUE(Eventually([&] { return second.load(); }));
}

TEST(SchedulerTest, DestroyingDropsPendingTasks) {
  std::atomic<int> ran{0};
  {
    FakeClock clock;
    Scheduler scheduler(&clock);
    scheduler.RunAt(clock.Now() + absl::Hours(1), [&] { ++ran; });
  }
  EXPECT_EQ(ran.load(), 0);
}

}  // namespace
}  // namespace grpc_cpp_polaris
