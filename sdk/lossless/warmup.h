// Warm-up: a newly registered instance takes a growing share of its weight
// over a window, so that caches, JIT-less but cold connection pools and
// lazily loaded state fill under a trickle of traffic, not a flood.
//
// An instance registered `age` ago, under a plan with `window` and
// `curvature`, takes min(1, (age / window)^curvature) of its weight (at
// least weight 1: it still gets a few calls); its age comes from the
// control plane (Instance::created; unknown, or more than 10 minutes ahead
// of `now`, e.g. read in the wrong time zone: no warm-up). With overload
// protection, when `overload_threshold_percent` % or more of the instances
// a plan covers are warming at once, none of them is held back (a fleet
// restarted together must not ramp every instance down at the same time).
// Plain computation over an instance list and a time: the caller rebuilds
// its picker at `next_update`.
#ifndef GRPC_CPP_POLARIS_SDK_LOSSLESS_WARMUP_H_
#define GRPC_CPP_POLARIS_SDK_LOSSLESS_WARMUP_H_

#include <functional>
#include <vector>

#include "absl/time/time.h"
#include "sdk/lossless/lossless_rules.h"
#include "sdk/model.h"

namespace grpc_cpp_polaris {

struct WarmupShares {
  // Per instance (same order), the share of its weight it takes now, in
  // (0, 1]; empty when no instance is warming.
  std::vector<double> share;
  // When the shares should be computed again (InfiniteFuture: never; no
  // instance is warming).
  absl::Time next_update = absl::InfiniteFuture();

  // `weight` scaled by instance `index`'s share (at least 1).
  uint32_t Apply(size_t index, uint32_t weight) const;
};

// `plan_of(instance)`: the plan covering it, or null (it takes its full
// weight). Shares change in steps of window / 20 (at least 100 ms, at most
// 5 s), and an instance's last step ends with its window.
WarmupShares ComputeWarmup(const std::vector<Instance>& instances,
                           const std::function<const WarmupOptions*(const Instance&)>& plan_of,
                           absl::Time now);

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_LOSSLESS_WARMUP_H_
