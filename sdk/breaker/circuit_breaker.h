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
// open at once). Every transition starts a new round; a call's outcome
// counts only in the round it was let through in.
#ifndef GRPC_CPP_POLARIS_SDK_BREAKER_CIRCUIT_BREAKER_H_
#define GRPC_CPP_POLARIS_SDK_BREAKER_CIRCUIT_BREAKER_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>

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

  // InvalidArgument naming the first bad field, after `prefix`
  // ("BreakerOptions.window ...").
  absl::Status Validate(absl::string_view prefix = "BreakerOptions.") const;
};

enum class BreakerState { kClosed, kOpen, kHalfOpen };
const char* BreakerStateName(BreakerState state);

struct BreakerTransition {
  BreakerState from;
  BreakerState to;
  std::string reason;  // e.g. "10 consecutive failures"
  // The breaker's round after the transition (see CircuitBreaker::round).
  uint32_t round = 0;
};

// How many of a group's breakers may be open at once (e.g. half of a
// service's instances), shared by the group's breakers: `max_percent` % of
// the members, rounded down but at least one (as Envoy's outlier detection
// does, so that one bad instance of a small service can still be ejected);
// 0 % opens none.
class OpenCap {
 public:
  OpenCap(uint32_t members, uint32_t max_percent) : max_percent_(max_percent) {
    SetMembers(members);
  }
  // The group's size changed (instances came or went).
  void SetMembers(uint32_t members) {
    int64_t max_open = static_cast<int64_t>(members) * max_percent_ / 100;
    if (max_open == 0 && max_percent_ > 0 && members > 0) max_open = 1;
    max_open_.store(max_open, std::memory_order_relaxed);
  }
  bool TryOpen() {
    int64_t open = open_.load(std::memory_order_relaxed);
    while (open < max_open_.load(std::memory_order_relaxed)) {
      if (open_.compare_exchange_weak(open, open + 1, std::memory_order_relaxed)) return true;
    }
    return false;
  }
  void Closed() { open_.fetch_sub(1, std::memory_order_relaxed); }
  int64_t open() const { return open_.load(std::memory_order_relaxed); }
  int64_t max_open() const { return max_open_.load(std::memory_order_relaxed); }

 private:
  const uint32_t max_percent_;
  std::atomic<int64_t> max_open_{0};
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
  // Takes one of the half-open permits (false when not half-open or none is
  // left), and tells the round the permit belongs to.
  bool TryProbe(uint32_t* round);
  // Calls are counted from start to end (CallStarted, CallEnded), one
  // atomic add at each end: the error rate's window counts the calls
  // started in it, and the calls in flight tell an owner when the breaker
  // may be destroyed (Retire).
  void CallStarted() {
    calls_.fetch_add(kOneStarted + 1, std::memory_order_relaxed);
  }
  // True when this was the last call in flight of a retired breaker: the
  // caller then destroys it (nothing else may touch it).
  bool CallEnded() {
    const uint64_t before = calls_.fetch_sub(1, std::memory_order_acq_rel);
    return (before & kRetired) != 0 && (before & kInFlightMask) == 1;
  }
  // The owner lets go: true when no call is in flight (the owner destroys
  // it now); otherwise the last CallEnded returns true.
  bool Retire() {
    const uint64_t before = calls_.fetch_or(kRetired, std::memory_order_acq_rel);
    return (before & kInFlightMask) == 0;
  }
  int64_t in_flight() const {
    return static_cast<int64_t>(calls_.load(std::memory_order_relaxed) & kInFlightMask);
  }
  // The outcome of a call let through in `round` (a call of an earlier
  // round, e.g. one still running from before the breaker opened, does not
  // count); call before CallEnded. Successes read no clock. Returns the
  // transition it caused, if any.
  std::optional<BreakerTransition> Record(bool failed, uint32_t round);
  // Record(false, round) when that changes nothing (closed, no failure run:
  // most calls), inline; false when Record must run.
  bool QuietSuccess(uint32_t round) const {
    return word_.load(std::memory_order_acquire) == Word(round, BreakerState::kClosed) &&
           consecutive_failures_.load(std::memory_order_relaxed) == 0;
  }
  // One whole call ending now: started, recorded and ended (for tests).
  std::optional<BreakerTransition> Record(bool failed) {
    CallStarted();
    std::optional<BreakerTransition> transition = Record(failed, round());
    CallEnded();
    return transition;
  }
  // Notes how many calls had started by `now`, for the error-rate window.
  // The owner calls it about once per window / 10 (ServiceBreakers does,
  // on its scheduler); failures and the constructor call it too.
  void Tick(int64_t now_nanos);
  // A permitted probe of `round` ended without an outcome (cancelled,
  // abandoned): its permit goes back.
  void ReturnPermit(uint32_t round);
  // The sleep window of `round` (the round an opening returned) is over:
  // half-open, with all `half_open_probes` permits. Nothing if the breaker
  // moved on since.
  std::optional<BreakerTransition> SleepOver(uint32_t round);
  // Half-open at once (an active probe found the resource healthy), if
  // still open in `round` (default: whatever round it is open in).
  std::optional<BreakerTransition> ProbeSucceeded(std::optional<uint32_t> round = std::nullopt);

  BreakerState state() const {
    return static_cast<BreakerState>(word_.load(std::memory_order_acquire) & 3);
  }
  // State and round from one read (they change together).
  std::pair<BreakerState, uint32_t> StateAndRound() const {
    const uint64_t word = word_.load(std::memory_order_acquire);
    return {static_cast<BreakerState>(word & 3), static_cast<uint32_t>(word >> 2)};
  }
  // Counts the breaker's transitions: calls remember the round they were
  // let through in, so that their outcomes count only for that round.
  uint32_t round() const {
    return static_cast<uint32_t>(word_.load(std::memory_order_acquire) >> 2);
  }
  // When the current opening ends (meaningful while open).
  absl::Time open_until() const {
    return absl::FromUnixNanos(open_until_.load(std::memory_order_acquire));
  }

 private:
  static constexpr int kBuckets = 10;
  struct Bucket {
    std::atomic<int64_t> epoch{-1};  // window slice index it counts for
    std::atomic<uint64_t> started_at{0};  // calls started when it was claimed
    std::atomic<uint32_t> failures{0};
  };
  // calls_: [calls started: 39 bits][retired: 1 bit][in flight: 24 bits].
  // The started count wraps harmlessly (off the top; windows take
  // differences); a call adds kOneStarted + 1 and subtracts 1.
  static constexpr int kInFlightBits = 24;
  static constexpr uint64_t kInFlightMask = (uint64_t{1} << kInFlightBits) - 1;
  static constexpr uint64_t kRetired = uint64_t{1} << kInFlightBits;
  static constexpr uint64_t kOneStarted = uint64_t{1} << (kInFlightBits + 1);
  uint64_t started() const {
    return calls_.load(std::memory_order_relaxed) >> (kInFlightBits + 1);
  }
  static uint64_t Word(uint32_t round, BreakerState state) {
    return (uint64_t{round} << 2) | static_cast<uint64_t>(state);
  }

  int64_t NowNanos() const;
  // Moves from (round, from) to (round + 1, to); false if the breaker is no
  // longer there.
  bool Move(uint32_t round, BreakerState from, BreakerState to);
  std::optional<BreakerTransition> HalfOpen(uint32_t round, int32_t permits_left,
                                            std::string reason);
  bool ErrorRateExceeded(int64_t now, uint64_t* calls, uint32_t* failures) const;
  std::optional<BreakerTransition> Open(uint32_t round, BreakerState from, std::string reason,
                                        int64_t now);
  void ResetWindow();

  // What every call reads, first. (round << 2) | state, changed together
  // by compare-and-swap.
  std::atomic<uint64_t> word_{0};
  std::atomic<uint64_t> calls_{0};
  std::atomic<uint32_t> consecutive_failures_{0};
  const BreakerOptions options_;
  const Clock* const clock_;
  OpenCap* const cap_;
  const int64_t slice_nanos_;
  // 2^64 / slice_nanos_: a slice index is a multiplication, not a division.
  const uint64_t slice_reciprocal_;
  int64_t SliceOf(int64_t now) const {
    return static_cast<int64_t>(
        (static_cast<unsigned __int128>(static_cast<uint64_t>(now)) * slice_reciprocal_) >> 64);
  }
  // Nanos since epoch; "not yet known" (the maximum) between an opening's
  // move and its winner's store, and outside openings.
  std::atomic<int64_t> open_until_{std::numeric_limits<int64_t>::max()};
  std::atomic<int64_t> sleep_nanos_{0};     // current sleep window
  std::atomic<int32_t> permits_{0};         // half-open permits left
  std::atomic<uint32_t> probe_successes_{0};
  // Calls started when the window was last reset (the baseline when no
  // bucket in the window has been claimed).
  std::atomic<uint64_t> base_started_{0};
  std::array<Bucket, kBuckets> buckets_;
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_BREAKER_CIRCUIT_BREAKER_H_
