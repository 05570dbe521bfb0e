// An injectable clock, so that TTLs, windows and timeouts are tested without
// sleeping.
#ifndef GRPC_CPP_POLARIS_SDK_CLOCK_H_
#define GRPC_CPP_POLARIS_SDK_CLOCK_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace grpc_cpp_polaris {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  // Now() in nanoseconds since the Unix epoch (cheaper for some clocks).
  virtual int64_t NowNanos() const { return absl::ToUnixNanos(Now()); }
  // Waits on `cv` (with `lock` held on entry and on return) until `done()`
  // holds or this clock reaches `deadline`; returns done(). The real clock
  // waits exactly; other clocks re-check their time every millisecond of
  // real time, so that a test advancing them wakes the waiter.
  virtual bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                         absl::Time deadline, const std::function<bool()>& done) const;
  // Returns once this clock has advanced by `duration`.
  void SleepFor(absl::Duration duration) const;
  // The process-wide real clock.
  static Clock* Real();
  // The real clock read coarsely (the kernel's tick, a few milliseconds;
  // several times cheaper to read): for call paths that time windows and
  // thresholds far longer than a tick. Waits exactly, as Real() does.
  static Clock* Coarse();
  // A coarse monotonic clock: it never steps when the wall clock is set
  // (NTP, an operator), which rate windows must not feel. Its Now() counts
  // from an arbitrary origin: for intervals only, not calendar time.
  static Clock* SteadyCoarse();
};

// A clock that moves only when told to. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::UnixEpoch() + absl::Hours(24 * 365 * 50))
      : now_(start) {}
  absl::Time Now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
  }

 private:
  mutable std::mutex mu_;
  absl::Time now_;
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_CLOCK_H_
