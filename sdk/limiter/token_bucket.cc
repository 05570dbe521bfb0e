#include "sdk/limiter/token_bucket.h"

#include <algorithm>
#include <memory>

namespace grpc_cpp_polaris {
namespace {

int64_t IntervalOf(uint32_t max, absl::Duration duration) {
  return std::max<int64_t>(1, absl::ToInt64Nanoseconds(duration) / std::max<uint32_t>(1, max));
}

}  // namespace

TokenBucket::TokenBucket(uint32_t max, absl::Duration duration)
    : interval_ns_(IntervalOf(max, duration)),
      burst_ns_(interval_ns_ * static_cast<int64_t>(std::max<uint32_t>(1, max) - 1)) {}

bool TokenBucket::TryTake(int64_t now_ns) {
  int64_t full_at = full_at_.load(std::memory_order_relaxed);
  while (true) {
    const int64_t start = std::max(full_at, now_ns);
    if (start - now_ns > burst_ns_) return false;
    if (full_at_.compare_exchange_weak(full_at, start + interval_ns_,
                                       std::memory_order_relaxed)) {
      return true;
    }
  }
}

int64_t TokenBucket::Take(int64_t now_ns, int64_t max_wait_ns) {
  int64_t full_at = full_at_.load(std::memory_order_relaxed);
  while (true) {
    const int64_t start = std::max(full_at, now_ns);
    // TryTake would succeed once start - now <= burst.
    const int64_t wait = std::max<int64_t>(0, start - burst_ns_ - now_ns);
    if (wait > max_wait_ns) return -1;
    if (full_at_.compare_exchange_weak(full_at, start + interval_ns_,
                                       std::memory_order_relaxed)) {
      return wait;
    }
  }
}

void TokenBucket::GiveBack() { full_at_.fetch_sub(interval_ns_, std::memory_order_relaxed); }

int64_t TokenBucket::Reserve(int64_t now_ns, int64_t max_wait_ns) {
  int64_t full_at = full_at_.load(std::memory_order_relaxed);
  while (true) {
    // No burst: a call's slot is one interval after the previous one.
    const int64_t slot = std::max(full_at, now_ns);
    const int64_t wait = slot - now_ns;
    if (wait > max_wait_ns) return -1;
    if (full_at_.compare_exchange_weak(full_at, slot + interval_ns_,
                                       std::memory_order_relaxed)) {
      return wait;
    }
  }
}

double TokenBucket::Available(int64_t now_ns) const {
  const int64_t full_at = full_at_.load(std::memory_order_relaxed);
  const int64_t ahead = std::max<int64_t>(0, full_at - now_ns);
  const double capacity = static_cast<double>(burst_ns_ + interval_ns_) / interval_ns_;
  return std::max(0.0, capacity - static_cast<double>(ahead) / interval_ns_);
}

MultiBucket::MultiBucket(const std::vector<Amount>& amounts) {
  for (const Amount& amount : amounts) {
    buckets_.push_back(std::make_unique<TokenBucket>(amount.max, amount.duration));
    if (slowest_ == nullptr || buckets_.back()->interval_ns() > slowest_->interval_ns()) {
      slowest_ = buckets_.back().get();
    }
  }
}

bool MultiBucket::TryTake(int64_t now_ns) {
  for (size_t i = 0; i < buckets_.size(); ++i) {
    if (!buckets_[i]->TryTake(now_ns)) {
      for (size_t j = 0; j < i; ++j) buckets_[j]->GiveBack();
      return false;
    }
  }
  return true;
}

void MultiBucket::GiveBack() {
  for (auto& bucket : buckets_) bucket->GiveBack();
}

int64_t MultiBucket::Take(int64_t now_ns, int64_t max_wait_ns) {
  int64_t longest = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    const int64_t wait = buckets_[i]->Take(now_ns, max_wait_ns);
    if (wait < 0) {
      for (size_t j = 0; j < i; ++j) buckets_[j]->GiveBack();
      return -1;
    }
    longest = std::max(longest, wait);
  }
  return longest;
}

void MultiBucket::GiveBackReservation() {
  if (slowest_ != nullptr) slowest_->GiveBack();
}

int64_t MultiBucket::Reserve(int64_t now_ns, int64_t max_wait_ns) {
  if (slowest_ == nullptr) return 0;
  return slowest_->Reserve(now_ns, max_wait_ns);
}

}  // namespace grpc_cpp_polaris
