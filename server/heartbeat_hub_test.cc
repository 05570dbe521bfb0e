#include "server/heartbeat_hub.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "mockplane/wait.h"

namespace grpc_cpp_polaris {
namespace {

using mockplane::WaitUntil;

TEST(HeartbeatHubTest, OneThreadBeatsEveryTaskEveryIntervalByItsClock) {
  HeartbeatHub hub;
  FakeClock clock;
  std::atomic<int> a{0}, b{0};
  const absl::Time start = clock.Now();
  const uint64_t first =
      hub.Add(&clock, start + absl::Seconds(5), absl::Seconds(5), [&](bool) { ++a; });
  const uint64_t second =
      hub.Add(&clock, start + absl::Seconds(2), absl::Seconds(10), [&](bool) { ++b; });
  EXPECT_EQ(hub.tasks(), 2u);
  clock.Advance(absl::Seconds(2));
  ASSERT_TRUE(WaitUntil([&] { return b == 1; }, absl::Seconds(30)));
  EXPECT_EQ(a, 0);
  clock.Advance(absl::Seconds(3));  // t = 5
  ASSERT_TRUE(WaitUntil([&] { return a == 1; }, absl::Seconds(30)));
  clock.Advance(absl::Seconds(5));  // t = 10
  ASSERT_TRUE(WaitUntil([&] { return a == 2; }, absl::Seconds(30)));
  clock.Advance(absl::Seconds(2));  // t = 12
  ASSERT_TRUE(WaitUntil([&] { return b == 2; }, absl::Seconds(30)));
  EXPECT_EQ(a, 2);
  hub.Remove(first);
  hub.Remove(second);
  EXPECT_EQ(hub.tasks(), 0u);
}

TEST(HeartbeatHubTest, ReregisterBeatsAtOnceWithTheFlag) {
  HeartbeatHub hub;
  FakeClock clock;
  std::atomic<int> plain{0}, reregistered{0};
  const uint64_t id = hub.Add(&clock, clock.Now() + absl::Hours(1), absl::Hours(1),
                              [&](bool reregister) { ++(reregister ? reregistered : plain); });
  hub.Reregister(id);
  ASSERT_TRUE(WaitUntil([&] { return reregistered == 1; }, absl::Seconds(30)));
  EXPECT_EQ(plain, 0);
  hub.Remove(id);
}

TEST(HeartbeatHubTest, RemoveWaitsForARunningBeatAndTheThreadEndsWithTheLastTask) {
  HeartbeatHub hub;
  FakeClock clock;
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, release = false;
  std::atomic<bool> finished{false};
  const uint64_t id = hub.Add(&clock, clock.Now(), absl::Hours(1), [&](bool) {
    std::unique_lock<std::mutex> lock(mu);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    finished = true;
  });
  EXPECT_TRUE(hub.running());
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return entered; }));
  }
  std::atomic<bool> finished_before_removed{false};
  std::thread remover([&] {
    hub.Remove(id);
    finished_before_removed = finished.load();
  });
  // Remove is waiting for the beat, and the task is still there.
  ASSERT_TRUE(WaitUntil([&] { return hub.waiting_removals() == 1; }, absl::Seconds(30)));
  EXPECT_EQ(hub.tasks(), 1u);
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  remover.join();
  // Remove returned only after the beat had finished.
  EXPECT_TRUE(finished_before_removed);
  EXPECT_FALSE(hub.running());
  // A new task starts the thread again.
  std::atomic<int> beats{0};
  const uint64_t again = hub.Add(&clock, clock.Now(), absl::Hours(1), [&](bool) { ++beats; });
  ASSERT_TRUE(WaitUntil([&] { return beats == 1; }, absl::Seconds(30)));
  hub.Remove(again);
}

}  // namespace
}  // namespace grpc_cpp_polaris
