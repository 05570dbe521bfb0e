// Lock-free rate windows for local limits, driven by a caller-supplied time
// in nanoseconds (a monotonic clock: a time that steps back holds the bucket
// shut for as long), so tests can drive them.
//
// TokenBucket is one amount: `max` calls per `duration`, refilled evenly
// (one call's worth every duration/max), holding at most `max`: a burst of
// `max` may pass at once, after which calls pass at the rate. It is a GCRA
// ("virtual scheduling"): the state is one atomic time, a take is one CAS.
//
// MultiBucket takes from several amounts at once (100/s and 1,000/min): all
// or none.
#ifndef GRPC_CPP_POLARIS_SDK_LIMITER_TOKEN_BUCKET_H_
#define GRPC_CPP_POLARIS_SDK_LIMITER_TOKEN_BUCKET_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/time/time.h"

namespace grpc_cpp_polaris {

class TokenBucket {
 public:
  // `max` calls per `duration` (finite, > 0; at most a day, as rules are).
  TokenBucket(uint32_t max, absl::Duration duration);

  TokenBucket(const TokenBucket&) = delete;
  TokenBucket& operator=(const TokenBucket&) = delete;

  // Takes one call's worth at `now_ns` if there is one.
  bool TryTake(int64_t now_ns);
  // Gives back a call's worth (a take undone because another bucket or
  // rule refused the call).
  void GiveBack();
  // Reserves the next evenly spaced slot at `now_ns`, no burst: returns how
  // long the caller must wait for it, or -1 (nothing reserved) when that
  // would be longer than `max_wait_ns`. For queueing ("unirate").
  int64_t Reserve(int64_t now_ns, int64_t max_wait_ns);

  // Takes the next call's worth whenever it comes, bursting as TryTake does:
  // returns how long until it is due (0: now), or -1 (nothing taken) when
  // that would be longer than `max_wait_ns`. For pacing stream messages.
  int64_t Take(int64_t now_ns, int64_t max_wait_ns);

  // Whether the bucket is full at `now_ns` (nothing taken lately).
  bool Full(int64_t now_ns) const { return full_at_.load(std::memory_order_relaxed) <= now_ns; }
  // Calls' worth available at `now_ns` (for tests and metrics).
  double Available(int64_t now_ns) const;
  int64_t interval_ns() const { return interval_ns_; }

 private:
  // Time one call's worth takes to refill, and how far ahead of now the
  // schedule may run (a full bucket).
  const int64_t interval_ns_;
  const int64_t burst_ns_;
  // The theoretical arrival time: when the bucket would be full again.
  std::atomic<int64_t> full_at_{INT64_MIN / 2};
};

class MultiBucket {
 public:
  struct Amount {
    uint32_t max;
    absl::Duration duration;
  };
  explicit MultiBucket(const std::vector<Amount>& amounts);

  // Takes from every bucket, or from none.
  bool TryTake(int64_t now_ns);
  // Gives back what TryTake took.
  void GiveBack();
  // Reserves an evenly spaced slot at the slowest amount's pace; see
  // TokenBucket::Reserve.
  int64_t Reserve(int64_t now_ns, int64_t max_wait_ns);
  // Gives back what Reserve reserved.
  void GiveBackReservation();
  // TokenBucket::Take on every bucket (all or none): the longest wait, or -1.
  int64_t Take(int64_t now_ns, int64_t max_wait_ns);
  size_t size() const { return buckets_.size(); }
  const TokenBucket& bucket(size_t i) const { return *buckets_[i]; }

 private:
  std::vector<std::unique_ptr<TokenBucket>> buckets_;
  TokenBucket* slowest_ = nullptr;
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_LIMITER_TOKEN_BUCKET_H_
