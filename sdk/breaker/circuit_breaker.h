// One circuit breaker: the state machine that takes a failing resource (an
// instance, a method, a service) out of traffic and probes it back in.
//
//   closed --(consecutive failures, or error rate over the window)--> open
//   open --(sleep window elapsed)--> half-open
//   half-open --(all `half_open_probes` permitted calls succeed)--> closed
//   half-open --(a permitted call fails)--> open, for a longer sleep
//
// The call path is lock-free: Allow() and Record() use atomics only (the
// error-rate window is a ring of time buckets claimed by compare-and-swap),
// and read time from an injectable clock. A transition is returned to the
// caller, which reports it where it must (events, a work serializer).
// Half-open hands out exactly `half_open_probes` permits. Opening may be
// refused by a shared OpenCap (at most a share of a service's instances
// open at once).
#ifndef GRPC_CPP_POLARIS_SDK_BREAKER_CIRCUIT_BREAKER_H_
#define GRPC_CPP_POLARIS_SDK_BREAKER_CIRCUIT_BREAKER_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "sdk/clock.h"

namespace grpc_cpp_polaris {

struct BreakerOptions {
  // Opens after this many failures in a row (0: never for this reason).
  uint32_t consecutive_failures = 10;
  // Opens when at least `error_rate_percent` % of the calls in the last
  // `window` failed, once the window holds `min_requests` calls (0: never
  // for this reason).
  uint32_t error_rate_percent = 50;
  uint32_t min_requests = 10;
  absl::Duration window = absl::Seconds(60);
  // Open for `sleep_window`, doubled after each failed probe round, at
  // most `max_sleep_window`.
  absl::Duration sleep_window = absl::Seconds(30);
  absl::Duration max_sleep_window = absl::Minutes(5);
  // Calls let through while half-open; all must succeed to close.
  uint32_t half_open_probes = 3;

  // InvalidArgument naming the first bad field ("BreakerOptions.window ...").
  absl::Status Validate() const;
};

enum class BreakerState { kClosed, kOpen, kHalfOpen };
const char* BreakerStateName(BreakerState state);

struct BreakerTransition {
  BreakerState from;
  BreakerState to;
  std::string reason;  // e.g. "10 consecutive failures"
};

// How many of a group's breakers may be open at once (e.g. a third of a
// service's instances), shared by the group's breakers.
class OpenCap {
 public:
  // `members` breakers share the cap; at most `max_open` open at once.
  OpenCap(uint32_t members, uint32_t max_percent)
      : max_open_(static_cast<int64_t>(members) * max_percent / 100) {}
  bool TryOpen() {
    int64_t open = open_.load(std::memory_order_relaxed);
    while (open < max_open_) {
      if (open_.compare_exchange_weak(open, open + 1, std::memory_order_relaxed)) return true;
    }
    return false;
  }
  void Closed() { open_.fetch_sub(1, std::memory_order_relaxed); }
  int64_t open() const { return open_.load(std::memory_order_relaxed); }

 private:
  const int64_t max_open_;
  std::atomic<int64_t> open_{0};
};

class CircuitBreaker {
 public:
  // `options` must be valid; `clock` and `cap` (optional) outlive the breaker.
  CircuitBreaker(const BreakerOptions& options, const Clock* clock, OpenCap* cap = nullptr);
  ~CircuitBreaker();
  CircuitBreaker(const CircuitBreaker&) = delete;
  CircuitBreaker& operator=(const CircuitBreaker&) = delete;

  // Whether a call may go ahead: always when closed, never while open
  // (until the sleep window ends: then it turns half-open), and for the
  // first `half_open_probes` calls while half-open. A call allowed must be
  // recorded. May return a transition (open -> half-open).
  bool Allow(std::optional<BreakerTransition>* transition = nullptr);
  // The outcome of an allowed call. Returns the transition it caused, if any.
  std::optional<BreakerTransition> Record(bool failed);
  // Half-open at once (an active probe found the resource healthy).
  std::optional<BreakerTransition> ProbeSucceeded();

  BreakerState state() const { return state_.load(std::memory_order_acquire); }

 private:
  static constexpr int kBuckets = 10;
  struct Bucket {
    std::atomic<int64_t> epoch{-1};  // window slice index it counts for
    std::atomic<uint32_t> calls{0};
    std::atomic<uint32_t> failures{0};
  };

  int64_t NowNanos() const;
  void CountInWindow(bool failed, int64_t now);
  bool ErrorRateExceeded(int64_t now, uint32_t* calls, uint32_t* failures) const;
  std::optional<BreakerTransition> Open(BreakerState from, std::string reason, int64_t now);
  void ResetWindow();

  const BreakerOptions options_;
  const Clock* const clock_;
  OpenCap* const cap_;
  const int64_t slice_nanos_;
  std::atomic<BreakerState> state_{BreakerState::kClosed};
  std::atomic<uint32_t> consecutive_failures_{0};
  std::atomic<int64_t> open_until_{0};      // nanos since epoch
  std::atomic<int64_t> sleep_nanos_{0};     // current sleep window
  std::atomic<int32_t> permits_{0};         // half-open permits left
  std::atomic<uint32_t> probe_successes_{0};
  std::array<Bucket, kBuckets> buckets_;
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_BREAKER_CIRCUIT_BREAKER_H_
