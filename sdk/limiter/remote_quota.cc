#include "sdk/limiter/remote_quota.h"

#include <algorithm>

namespace grpc_cpp_polaris {
namespace {

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

RemoteQuota::RemoteQuota(uint32_t max, absl::Duration duration, uint32_t instances)
    : max_(max),
      duration_ms_(std::max<int64_t>(1, absl::ToInt64Milliseconds(duration))),
      share_(CeilDiv(max, std::max<uint32_t>(1, instances))) {}

int64_t RemoteQuota::AllowanceIn(int64_t window) const {
  const uint64_t allowance = allowance_.load(std::memory_order_acquire);
  return SameWindow(allowance, window) && synced_once_.load(std::memory_order_relaxed)
             ? CountOf(allowance)
             : share_.load(std::memory_order_relaxed);
}

bool RemoteQuota::TryTake(int64_t server_ms, bool fresh) {
  int64_t window = WindowOf(server_ms);
  uint64_t state = admitted_.load(std::memory_order_relaxed);
  // A call that read the time just before a boundary others already
  // crossed counts in their window: an older tag never overwrites a newer.
  const uint64_t ahead = ((state >> kCountBits) - static_cast<uint64_t>(window)) & 0xFFFFFF;
  // (0: nothing admitted yet, no window.)
  if (state != 0 && ahead != 0 && ahead < 0x800000) window += static_cast<int64_t>(ahead);
  const int64_t allowance =
      fresh ? AllowanceIn(window)
            : std::min(share_.load(std::memory_order_relaxed), AllowanceIn(window));
  while (true) {
    const int64_t admitted = AdmittedIn(state, window);
    if (admitted >= allowance) {
      limited_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    if (admitted_.compare_exchange_weak(state, Pack(window, admitted + 1),
                                        std::memory_order_relaxed)) {
      return true;
    }
  }
}

void RemoteQuota::GiveBack(int64_t server_ms) {
  const int64_t window = WindowOf(server_ms);
  uint64_t state = admitted_.load(std::memory_order_relaxed);
  while (SameWindow(state, window) && CountOf(state) > 0) {
    if (admitted_.compare_exchange_weak(state, Pack(window, CountOf(state) - 1),
                                        std::memory_order_relaxed)) {
      return;
    }
  }
}

RemoteQuota::Usage RemoteQuota::Drain(int64_t server_ms) {
  Usage usage;
  usage.window = WindowOf(server_ms);
  const uint64_t state = admitted_.load(std::memory_order_relaxed);
  usage.admitted = AdmittedIn(state, usage.window);
  if (reported_window_ != usage.window) {
    reported_window_ = usage.window;
    reported_admitted_ = 0;
  }
  // A give-back after the last report can leave fewer admitted than reported.
  const int64_t used = std::max<int64_t>(0, usage.admitted - reported_admitted_);
  usage.used = static_cast<uint32_t>(std::min<int64_t>(used, UINT32_MAX));
  reported_admitted_ = std::max(reported_admitted_, usage.admitted);
  usage.limited = limited_.exchange(0, std::memory_order_relaxed);
  return usage;
}

void RemoteQuota::Undrain(const Usage& usage) {
  if (reported_window_ == usage.window) {
    reported_admitted_ = std::max<int64_t>(0, reported_admitted_ - usage.used);
  }
  limited_.fetch_add(usage.limited, std::memory_order_relaxed);
}

void RemoteQuota::SetInstances(uint32_t instances) {
  share_.store(CeilDiv(max_, std::max<uint32_t>(1, instances)), std::memory_order_relaxed);
}

void RemoteQuota::Apply(const Usage& usage, int64_t left, uint32_t clients, int64_t server_ms) {
  if (WindowOf(server_ms) != usage.window) return;  // that window is over
  // `left` misses what other clients admitted since they last reported.
  // What they reported between this answer and the previous one is their
  // use over one interval; on average half an interval of it is unreported.
  int64_t others = 0;
  if (answered_window_ == usage.window) {
    others = std::max<int64_t>(0, answered_left_ - left - usage.used);
  }
  answered_window_ = usage.window;
  answered_left_ = left;
  const int64_t part =
      CeilDiv(std::max<int64_t>(0, left - others / 2), clients == 0 ? 1 : clients);
  const int64_t allowance = std::min<int64_t>(usage.admitted + part, kCountMask);
  allowance_.store(Pack(usage.window, allowance), std::memory_order_release);
  synced_once_.store(true, std::memory_order_relaxed);
}

int64_t RemoteQuota::Remaining(int64_t server_ms) const {
  const int64_t window = WindowOf(server_ms);
  const int64_t admitted = AdmittedIn(admitted_.load(std::memory_order_relaxed), window);
  return std::max<int64_t>(0, AllowanceIn(window) - admitted);
}

bool RemoteQuota::Synced(int64_t server_ms) const {
  return synced_once_.load(std::memory_order_relaxed) &&
         SameWindow(allowance_.load(std::memory_order_acquire), WindowOf(server_ms));
}

bool RemoteQuota::Idle(int64_t server_ms) const {
  return AdmittedIn(admitted_.load(std::memory_order_relaxed), WindowOf(server_ms)) == 0;
}

GlobalQuotaSync::GlobalQuotaSync(Clock* clock)
    : clock_(clock),
      offset_ms_(absl::ToUnixMillis(absl::Now()) - clock->NowNanos() / 1000000) {}

}  // namespace grpc_cpp_polaris
