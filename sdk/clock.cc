#include "sdk/clock.h"

#include <time.h>

namespace grpc_cpp_polaris {
namespace {

class RealClock : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 absl::Time deadline, const std::function<bool()>& done) const override {
    return cv.wait_until(lock, absl::ToChronoTime(deadline), done);
  }
};

class CoarseClock : public RealClock {
 public:
  absl::Time Now() const override { return absl::FromUnixNanos(NowNanos()); }
  int64_t NowNanos() const override {
    timespec now;
    clock_gettime(CLOCK_REALTIME_COARSE, &now);
    return int64_t{now.tv_sec} * 1000000000 + now.tv_nsec;
  }
};

// Monotonic: never steps back when the wall clock is set. Now() counts from
// an arbitrary origin (boot); intervals only.
class SteadyCoarseClock : public Clock {
 public:
  absl::Time Now() const override { return absl::UnixEpoch() + absl::Nanoseconds(NowNanos()); }
  int64_t NowNanos() const override {
    timespec now;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    return int64_t{now.tv_sec} * 1000000000 + now.tv_nsec;
  }
};

}  // namespace

void Clock::SleepFor(absl::Duration duration) const {
  std::mutex mu;
  std::condition_variable never_notified;
  std::unique_lock<std::mutex> lock(mu);
  WaitUntil(lock, never_notified, Now() + duration, [] { return false; });
}

bool Clock::WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                      absl::Time deadline, const std::function<bool()>& done) const {
  while (!done()) {
    if (Now() >= deadline) return false;
    cv.wait_for(lock, std::chrono::milliseconds(1));
  }
  return true;
}

Clock* Clock::Real() {
  static Clock* const clock = new RealClock();
  return clock;
}

Clock* Clock::Coarse() {
  static Clock* const clock = new CoarseClock();
  return clock;
}

Clock* Clock::SteadyCoarse() {
  static Clock* const clock = new SteadyCoarseClock();
  return clock;
}

}  // namespace grpc_cpp_polaris
