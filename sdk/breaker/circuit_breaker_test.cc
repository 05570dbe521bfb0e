#include "sdk/breaker/circuit_breaker.h"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace grpc_cpp_polaris {
namespace {

BreakerOptions Options() {
  BreakerOptions options;
  options.consecutive_failures = 5;
  options.error_rate_percent = 50;
  options.min_requests = 10;
  options.window = absl::Seconds(10);
  options.sleep_window = absl::Seconds(5);
  options.max_sleep_window = absl::Seconds(15);
  options.half_open_probes = 3;
  return options;
}

TEST(CircuitBreakerTest, ConsecutiveFailuresOpenAndASuccessResetsTheRun) {
  FakeClock clock;
  BreakerOptions options = Options();
  options.error_rate_percent = 0;  // this test: the run only
  CircuitBreaker breaker(options, &clock);
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(breaker.Record(true).has_value());
  EXPECT_FALSE(breaker.Record(false).has_value());  // the run starts again
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(breaker.Record(true).has_value());
  std::optional<BreakerTransition> opened = breaker.Record(true);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(opened->from, BreakerState::kClosed);
  EXPECT_EQ(opened->to, BreakerState::kOpen);
  EXPECT_NE(opened->reason.find("5 consecutive failures"), std::string::npos) << opened->reason;
  EXPECT_FALSE(breaker.Allow());
}

TEST(CircuitBreakerTest, ErrorRateOpensOnceTheWindowHoldsEnoughCalls) {
  FakeClock clock;
  BreakerOptions options = Options();
  options.consecutive_failures = 0;  // this test: the rate only
  CircuitBreaker breaker(options, &clock);
  // Alternating: 50% failures, but fewer than 10 calls do not open.
  for (int i = 0; i < 9; ++i) EXPECT_FALSE(breaker.Record(i % 2 == 0).has_value()) << i;
  std::optional<BreakerTransition> opened = breaker.Record(false);
  EXPECT_FALSE(opened.has_value());  // 10 calls, 5 failures: the 10th is a success
  opened = breaker.Record(true);     // 11 calls, 6 failures
  ASSERT_TRUE(opened.has_value());
  EXPECT_NE(opened->reason.find("6 of 11 calls failed"), std::string::npos) << opened->reason;
}

TEST(CircuitBreakerTest, FailuresOlderThanTheWindowDoNotCount) {
  FakeClock clock;
  BreakerOptions options = Options();
  options.consecutive_failures = 0;
  CircuitBreaker breaker(options, &clock);
  for (int i = 0; i < 9; ++i) breaker.Record(true);
  clock.Advance(absl::Seconds(11));  // all of them out of the window
  for (int i = 0; i < 9; ++i) EXPECT_FALSE(breaker.Record(false).has_value());
  EXPECT_FALSE(breaker.Record(true).has_value());  // 1 of 10
  EXPECT_EQ(breaker.state(), BreakerState::kClosed);
}

TEST(CircuitBreakerTest, SuccessesNeverOpen) {
  FakeClock clock;
  CircuitBreaker breaker(Options(), &clock);
  for (int i = 0; i < 10000; ++i) {
    ASSERT_TRUE(breaker.Allow());
    ASSERT_FALSE(breaker.Record(false).has_value());
    if (i % 100 == 0) clock.Advance(absl::Milliseconds(250));
  }
  EXPECT_EQ(breaker.state(), BreakerState::kClosed);
}

void OpenIt(CircuitBreaker& breaker) {
  for (int i = 0; i < 5; ++i) breaker.Record(true);
  ASSERT_EQ(breaker.state(), BreakerState::kOpen);
}

TEST(CircuitBreakerTest, HalfOpenAfterTheSleepWithExactlyNPermitsThenCloses) {
  FakeClock clock;
  CircuitBreaker breaker(Options(), &clock);
  OpenIt(breaker);
  clock.Advance(absl::Seconds(4));
  EXPECT_FALSE(breaker.Allow());
  clock.Advance(absl::Seconds(1));
  std::optional<BreakerTransition> half_open;
  EXPECT_TRUE(breaker.Allow(&half_open));
  ASSERT_TRUE(half_open.has_value());
  EXPECT_EQ(half_open->to, BreakerState::kHalfOpen);
  EXPECT_TRUE(breaker.Allow());
  EXPECT_TRUE(breaker.Allow());
  EXPECT_FALSE(breaker.Allow());  // three permits only
  EXPECT_FALSE(breaker.Record(false).has_value());
  EXPECT_FALSE(breaker.Record(false).has_value());
  std::optional<BreakerTransition> closed = breaker.Record(false);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->to, BreakerState::kClosed);
  EXPECT_TRUE(breaker.Allow());
  // The window starts afresh: 4 failures do not reopen it.
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(breaker.Record(true).has_value());
}

TEST(CircuitBreakerTest, PermitsAreExactUnderConcurrency) {
  FakeClock clock;
  CircuitBreaker breaker(Options(), &clock);
  OpenIt(breaker);
  clock.Advance(absl::Seconds(5));
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) allowed += breaker.Allow() ? 1 : 0;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(allowed.load(), 3);
}

TEST(CircuitBreakerTest, AFailedProbeReopensForLongerUpToTheMaximum) {
  FakeClock clock;
  CircuitBreaker breaker(Options(), &clock);
  OpenIt(breaker);
  for (absl::Duration sleep : {absl::Seconds(5), absl::Seconds(10), absl::Seconds(15),
                               absl::Seconds(15)}) {
    clock.Advance(sleep - absl::Milliseconds(1));
    EXPECT_FALSE(breaker.Allow()) << sleep;
    clock.Advance(absl::Milliseconds(1));
    ASSERT_TRUE(breaker.Allow()) << sleep;
    std::optional<BreakerTransition> reopened = breaker.Record(true);
    ASSERT_TRUE(reopened.has_value());
    EXPECT_EQ(reopened->from, BreakerState::kHalfOpen);
    EXPECT_EQ(reopened->to, BreakerState::kOpen);
  }
}

TEST(CircuitBreakerTest, AnActiveProbeHalfOpensAtOnce) {
  FakeClock clock;
  CircuitBreaker breaker(Options(), &clock);
  OpenIt(breaker);
  // A probe of an earlier opening says nothing about this one.
  EXPECT_FALSE(breaker.ProbeSucceeded(breaker.round() - 1).has_value());
  std::optional<BreakerTransition> half_open = breaker.ProbeSucceeded(breaker.round());
  ASSERT_TRUE(half_open.has_value());
  EXPECT_EQ(half_open->to, BreakerState::kHalfOpen);
  EXPECT_TRUE(breaker.Allow());
  EXPECT_FALSE(breaker.ProbeSucceeded().has_value());  // not open any more
}

TEST(CircuitBreakerTest, TheCapLimitsHowManyOpen) {
  FakeClock clock;
  OpenCap cap(10, 30);  // 3 of 10
  std::vector<std::unique_ptr<CircuitBreaker>> breakers;
  for (int i = 0; i < 10; ++i) {
    breakers.push_back(std::make_unique<CircuitBreaker>(Options(), &clock, &cap));
  }
  int open = 0;
  for (auto& breaker : breakers) {
    for (int i = 0; i < 5; ++i) breaker->Record(true);
    open += breaker->state() == BreakerState::kOpen ? 1 : 0;
  }
  EXPECT_EQ(open, 3);
  EXPECT_EQ(cap.open(), 3);
  // One closes: another may open.
  clock.Advance(absl::Seconds(5));
  ASSERT_TRUE(breakers[0]->Allow());
  for (int i = 0; i < 3; ++i) breakers[0]->Record(false);  // (the first Allow took a permit)
  EXPECT_EQ(breakers[0]->state(), BreakerState::kClosed);
  EXPECT_EQ(cap.open(), 2);
  breakers[9]->Record(true);
  EXPECT_EQ(breakers[9]->state(), BreakerState::kOpen);
  breakers.clear();
  EXPECT_EQ(cap.open(), 0);
}

TEST(CircuitBreakerTest, OutcomesOfAnEarlierRoundDoNotCount) {
  FakeClock clock;
  CircuitBreaker breaker(Options(), &clock);
  const uint32_t closed_round = breaker.round();  // a long call starts here
  OpenIt(breaker);
  clock.Advance(absl::Seconds(5));
  ASSERT_TRUE(breaker.Allow());  // half-open
  // The long call ends now: it was let through while closed, so it is not
  // one of the probes, whatever its outcome.
  EXPECT_FALSE(breaker.Record(true, closed_round).has_value());
  EXPECT_FALSE(breaker.Record(false, closed_round).has_value());
  EXPECT_EQ(breaker.state(), BreakerState::kHalfOpen);
  for (int i = 0; i < 2; ++i) EXPECT_FALSE(breaker.Record(false).has_value());
  EXPECT_EQ(breaker.state(), BreakerState::kHalfOpen);  // 2 of 3 probes so far
  EXPECT_TRUE(breaker.Record(false).has_value());
  EXPECT_EQ(breaker.state(), BreakerState::kClosed);
}

TEST(CircuitBreakerTest, SleepOverHalfOpensOnlyTheRoundItWasSetFor) {
  FakeClock clock;
  CircuitBreaker breaker(Options(), &clock);
  for (int i = 0; i < 4; ++i) breaker.Record(true);
  std::optional<BreakerTransition> opened = breaker.Record(true);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(opened->round, breaker.round());
  EXPECT_EQ(breaker.open_until(), clock.Now() + absl::Seconds(5));
  // A timer of an older round does nothing.
  EXPECT_FALSE(breaker.SleepOver(opened->round - 1).has_value());
  std::optional<BreakerTransition> half_open = breaker.SleepOver(opened->round);
  ASSERT_TRUE(half_open.has_value());
  EXPECT_EQ(half_open->to, BreakerState::kHalfOpen);
  EXPECT_FALSE(breaker.SleepOver(opened->round).has_value());
  uint32_t round = 0;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(breaker.TryProbe(&round)) << i;
  EXPECT_EQ(round, half_open->round);
  EXPECT_FALSE(breaker.TryProbe(&round));
}

TEST(CircuitBreakerTest, AReturnedPermitCanBeTakenAgain) {
  FakeClock clock;
  CircuitBreaker breaker(Options(), &clock);
  OpenIt(breaker);
  ASSERT_TRUE(breaker.ProbeSucceeded().has_value());
  uint32_t round = 0;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(breaker.TryProbe(&round));
  EXPECT_FALSE(breaker.TryProbe(&round));
  breaker.ReturnPermit(round);  // a probe was cancelled
  EXPECT_TRUE(breaker.TryProbe(&round));
  breaker.ReturnPermit(round - 1);  // not this round's: ignored
  EXPECT_FALSE(breaker.TryProbe(&round));
}

TEST(CircuitBreakerTest, AFailedRoundLeavesNoPermitsToTheNext) {
  FakeClock clock;
  CircuitBreaker breaker(Options(), &clock);
  OpenIt(breaker);
  clock.Advance(absl::Seconds(5));
  ASSERT_TRUE(breaker.Allow());           // half-open, 2 permits left
  ASSERT_TRUE(breaker.Record(true).has_value());  // reopened
  uint32_t round = 0;
  EXPECT_FALSE(breaker.TryProbe(&round));
  EXPECT_FALSE(breaker.Allow());
}

TEST(CircuitBreakerTest, ASecondFailureOfTheSameRoundChangesNothing) {
  FakeClock clock;
  CircuitBreaker breaker(Options(), &clock);
  OpenIt(breaker);
  ASSERT_TRUE(breaker.ProbeSucceeded().has_value());
  uint32_t round = 0;
  ASSERT_TRUE(breaker.TryProbe(&round));
  ASSERT_TRUE(breaker.TryProbe(&round));
  EXPECT_TRUE(breaker.Record(true, round).has_value());   // reopens: 10 s
  EXPECT_FALSE(breaker.Record(true, round).has_value());  // the same round: nothing
  EXPECT_EQ(breaker.open_until(), clock.Now() + absl::Seconds(10));
}

TEST(OpenCapTest, AtLeastOneUnlessZeroPercentAndFollowsTheMembers) {
  OpenCap cap(3, 30);
  EXPECT_EQ(cap.max_open(), 1);
  cap.SetMembers(10);
  EXPECT_EQ(cap.max_open(), 3);
  OpenCap none(10, 0);
  EXPECT_EQ(none.max_open(), 0);
  EXPECT_FALSE(none.TryOpen());
}

TEST(BreakerOptionsTest, ValidateNamesTheField) {
  BreakerOptions options = Options();
  EXPECT_TRUE(options.Validate().ok());
  options.half_open_probes = 0;
  EXPECT_NE(options.Validate().message().find("BreakerOptions.half_open_probes"),
            std::string::npos);
  options = Options();
  options.max_sleep_window = absl::Seconds(1);
  EXPECT_NE(options.Validate().message().find("max_sleep_window"), std::string::npos);
  options = Options();
  options.error_rate_percent = 101;
  EXPECT_NE(options.Validate().message().find("error_rate_percent"), std::string::npos);
}

}  // namespace
}  // namespace grpc_cpp_polaris
