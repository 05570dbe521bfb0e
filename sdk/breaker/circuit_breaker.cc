#include "sdk/breaker/circuit_breaker.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace grpc_cpp_polaris {

absl::Status BreakerOptions::Validate(absl::string_view prefix) const {
  auto bad = [prefix](absl::string_view field, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(prefix, field, " ", why));
  };
  if (error_rate_percent > 100) return bad("error_rate_percent", "must be in 0..100");
  if (window < absl::Milliseconds(10)) return bad("window", "must be at least 10ms");
  if (sleep_window <= absl::ZeroDuration()) return bad("sleep_window", "must be positive");
  if (max_sleep_window < sleep_window) return bad("max_sleep_window", "is below sleep_window");
  if (half_open_probes == 0 || half_open_probes > 1000) {
    return bad("half_open_probes", "must be in 1..1000");
  }
  return absl::OkStatus();
}

const char* BreakerStateName(BreakerState state) {
  switch (state) {
    case BreakerState::kClosed:
      return "closed";
    case BreakerState::kOpen:
      return "open";
    case BreakerState::kHalfOpen:
      return "half-open";
  }
  return "?";
}

CircuitBreaker::CircuitBreaker(const BreakerOptions& options, const Clock* clock, OpenCap* cap)
    : options_(options),
      clock_(clock),
      cap_(cap),
      slice_nanos_(std::max<int64_t>(2, absl::ToInt64Nanoseconds(options.window) / kBuckets)),
      slice_reciprocal_(~uint64_t{0} / static_cast<uint64_t>(slice_nanos_)) {
  sleep_nanos_.store(absl::ToInt64Nanoseconds(options.sleep_window), std::memory_order_relaxed);
  Tick(NowNanos());
}

CircuitBreaker::~CircuitBreaker() {
  if (cap_ != nullptr && state() != BreakerState::kClosed) cap_->Closed();
}

int64_t CircuitBreaker::NowNanos() const { return clock_->NowNanos(); }

bool CircuitBreaker::Move(uint32_t round, BreakerState from, BreakerState to) {
  uint64_t expected = Word(round, from);
  return word_.compare_exchange_strong(expected, Word(round + 1, to), std::memory_order_acq_rel);
}

std::optional<BreakerTransition> CircuitBreaker::HalfOpen(uint32_t round, int32_t permits_left,
                                                          std::string reason) {
  // Only the winner of the move sets the permits, so that a round has
  // exactly `half_open_probes` of them. Until it has, the round's permits
  // read as the previous round's (none left): a racing TryProbe is refused.
  if (!Move(round, BreakerState::kOpen, BreakerState::kHalfOpen)) return std::nullopt;
  open_until_.store(std::numeric_limits<int64_t>::max(), std::memory_order_relaxed);
  probe_successes_.store(0, std::memory_order_relaxed);
  permits_.store(permits_left, std::memory_order_release);
  return BreakerTransition{BreakerState::kOpen, BreakerState::kHalfOpen, std::move(reason),
                           round + 1};
}

bool CircuitBreaker::Allow(std::optional<BreakerTransition>* transition) {
  const uint64_t word = word_.load(std::memory_order_acquire);
  const auto state = static_cast<BreakerState>(word & 3);
  if (state == BreakerState::kClosed) return true;
  if (state == BreakerState::kOpen) {
    if (NowNanos() < open_until_.load(std::memory_order_acquire)) return false;
    // The sleep is over: the first caller turns the breaker half-open and
    // takes the first permit.
    std::optional<BreakerTransition> half_open =
        HalfOpen(static_cast<uint32_t>(word >> 2),
                 static_cast<int32_t>(options_.half_open_probes) - 1, "sleep window over");
    if (half_open.has_value()) {
      if (transition != nullptr) *transition = std::move(half_open);
      return true;
    }
  }
  uint32_t round;
  return TryProbe(&round);
}

bool CircuitBreaker::TryProbe(uint32_t* round) {
  const uint64_t word = word_.load(std::memory_order_acquire);
  if (static_cast<BreakerState>(word & 3) != BreakerState::kHalfOpen) return false;
  int32_t left = permits_.load(std::memory_order_acquire);
  while (left > 0) {
    if (permits_.compare_exchange_weak(left, left - 1, std::memory_order_acq_rel)) {
      // A thread delayed across rounds may have taken a later round's
      // permit: it goes back, and this call is not a probe.
      if (word_.load(std::memory_order_acquire) != word) {
        ReturnPermit(static_cast<uint32_t>(word_.load(std::memory_order_acquire) >> 2));
        return false;
      }
      *round = static_cast<uint32_t>(word >> 2);
      return true;
    }
  }
  return false;
}

void CircuitBreaker::ReturnPermit(uint32_t round) {
  if (word_.load(std::memory_order_acquire) == Word(round, BreakerState::kHalfOpen)) {
    permits_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void CircuitBreaker::Tick(int64_t now) {
  const int64_t slice = SliceOf(now);
  Bucket& bucket = buckets_[static_cast<size_t>(slice % kBuckets)];
  int64_t epoch = bucket.epoch.load(std::memory_order_acquire);
  if (epoch != slice && bucket.epoch.compare_exchange_strong(epoch, slice,
                                                             std::memory_order_acq_rel)) {
    // This bucket now counts a new slice (failures racing with the reset
    // may be lost: the window is an estimate).
    bucket.started_at.store(started(), std::memory_order_relaxed);
    bucket.failures.store(0, std::memory_order_relaxed);
  }
}

bool CircuitBreaker::ErrorRateExceeded(int64_t now, uint64_t* calls, uint32_t* failures) const {
  const int64_t slice = SliceOf(now);
  // Calls: those started since the oldest slice of the window was claimed.
  uint64_t since = base_started_.load(std::memory_order_relaxed);
  int64_t oldest = slice + 1;
  *failures = 0;
  for (const Bucket& bucket : buckets_) {
    const int64_t epoch = bucket.epoch.load(std::memory_order_acquire);
    if (epoch > slice - kBuckets && epoch <= slice) {
      *failures += bucket.failures.load(std::memory_order_relaxed);
      if (epoch < oldest) {
        oldest = epoch;
        since = bucket.started_at.load(std::memory_order_relaxed);
      }
    }
  }
  *calls = (started() - since) & (~uint64_t{0} >> (kInFlightBits + 1));
  return *calls >= options_.min_requests && *calls > 0 &&
         uint64_t{*failures} * 100 >= *calls * options_.error_rate_percent;
}

void CircuitBreaker::ResetWindow() {
  for (Bucket& bucket : buckets_) bucket.epoch.store(-1, std::memory_order_release);
  base_started_.store(started(), std::memory_order_relaxed);
  consecutive_failures_.store(0, std::memory_order_relaxed);
}

std::optional<BreakerTransition> CircuitBreaker::Open(uint32_t round, BreakerState from,
                                                     std::string reason, int64_t now) {
  if (from == BreakerState::kClosed && cap_ != nullptr && !cap_->TryOpen()) {
    return std::nullopt;  // enough of the group is open already: stays closed
  }
  const int64_t base = absl::ToInt64Nanoseconds(options_.sleep_window);
  const int64_t sleep =
      from == BreakerState::kHalfOpen
          ? std::min(sleep_nanos_.load(std::memory_order_relaxed) * 2,
                     absl::ToInt64Nanoseconds(options_.max_sleep_window))
          : base;
  // Only the winner of the move writes the sleep (two probes failing
  // together must double it once). Until it has, the opening's end reads as
  // "not yet known": nobody half-opens it early.
  if (!Move(round, from, BreakerState::kOpen)) {
    if (from == BreakerState::kClosed && cap_ != nullptr) cap_->Closed();  // another won
    return std::nullopt;
  }
  sleep_nanos_.store(sleep, std::memory_order_relaxed);
  open_until_.store(now + sleep, std::memory_order_release);
  // A half-open round's unused permits end with it.
  if (from == BreakerState::kHalfOpen) permits_.store(0, std::memory_order_release);
  return BreakerTransition{
      from, BreakerState::kOpen,
      absl::StrCat(reason, "; open for ", absl::FormatDuration(absl::Nanoseconds(sleep))),
      round + 1};
}

std::optional<BreakerTransition> CircuitBreaker::Record(bool failed, uint32_t round) {
  const uint64_t word = word_.load(std::memory_order_acquire);
  if (static_cast<uint32_t>(word >> 2) != round) return std::nullopt;  // an earlier round's call
  const auto state = static_cast<BreakerState>(word & 3);
  if (state == BreakerState::kHalfOpen) {
    if (failed) {
      return Open(round, BreakerState::kHalfOpen, "a half-open probe failed", NowNanos());
    }
    if (probe_successes_.fetch_add(1, std::memory_order_acq_rel) + 1 <
        options_.half_open_probes) {
      return std::nullopt;
    }
    if (!Move(round, BreakerState::kHalfOpen, BreakerState::kClosed)) return std::nullopt;
    ResetWindow();
    sleep_nanos_.store(absl::ToInt64Nanoseconds(options_.sleep_window), std::memory_order_relaxed);
    if (cap_ != nullptr) cap_->Closed();
    return BreakerTransition{BreakerState::kHalfOpen, BreakerState::kClosed,
                             absl::StrCat(options_.half_open_probes, " probes succeeded"),
                             round + 1};
  }
  if (state == BreakerState::kOpen) return std::nullopt;
  if (!failed) {
    // Read first: most calls succeed, and a store on every call would make
    // the calls of all threads contend for this line.
    if (consecutive_failures_.load(std::memory_order_relaxed) != 0) {
      consecutive_failures_.store(0, std::memory_order_relaxed);
    }
    return std::nullopt;
  }
  const int64_t now = NowNanos();
  Tick(now);
  buckets_[static_cast<size_t>(SliceOf(now) % kBuckets)].failures.fetch_add(
      1, std::memory_order_relaxed);
  const uint32_t run = consecutive_failures_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (options_.consecutive_failures > 0 && run >= options_.consecutive_failures) {
    return Open(round, BreakerState::kClosed, absl::StrCat(run, " consecutive failures"), now);
  }
  uint64_t calls = 0;
  uint32_t failures = 0;
  if (options_.error_rate_percent > 0 && ErrorRateExceeded(now, &calls, &failures)) {
    return Open(round, BreakerState::kClosed,
                absl::StrCat(failures, " of ", calls, " calls failed within ",
                             absl::FormatDuration(options_.window)),
                now);
  }
  return std::nullopt;
}

std::optional<BreakerTransition> CircuitBreaker::SleepOver(uint32_t round) {
  return HalfOpen(round, static_cast<int32_t>(options_.half_open_probes), "sleep window over");
}

std::optional<BreakerTransition> CircuitBreaker::ProbeSucceeded(std::optional<uint32_t> round) {
  const uint64_t word = word_.load(std::memory_order_acquire);
  if (static_cast<BreakerState>(word & 3) != BreakerState::kOpen) return std::nullopt;
  return HalfOpen(round.value_or(static_cast<uint32_t>(word >> 2)),
                  static_cast<int32_t>(options_.half_open_probes), "an active probe succeeded");
}

}  // namespace grpc_cpp_polaris
