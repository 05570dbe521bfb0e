#include "sdk/lossless/warmup.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace grpc_cpp_polaris {

uint32_t WarmupShares::Apply(size_t index, uint32_t weight) const {
  if (index >= share.size() || share[index] >= 1) return weight;
  // (less a hair: 100 * 0.01 is 1.0000000000000002 in binary)
  const double scaled = std::ceil(static_cast<double>(weight) * share[index] - 1e-9);
  return std::max<uint32_t>(1, static_cast<uint32_t>(std::min<double>(scaled, weight)));
}

namespace {

// A registration time far ahead of the clock is not a small skew between
// hosts but a misread one (e.g. the server's local time read in another
// time zone): unknown, rather than an instance held at weight 1 for hours.
constexpr absl::Duration kMaxAhead = absl::Minutes(10);

bool Known(absl::Time created, absl::Time now) {
  return created != absl::InfinitePast() && created <= now + kMaxAhead;
}

}  // namespace

WarmupShares ComputeWarmup(const std::vector<Instance>& instances,
                           const std::function<const WarmupOptions*(const Instance&)>& plan_of,
                           absl::Time now) {
  WarmupShares result;
  // The plan of each instance warming now (null for the others), and per
  // plan: the instances it covers, and those warming.
  std::vector<const WarmupOptions*> warming_plan(instances.size(), nullptr);
  std::map<const WarmupOptions*, std::pair<size_t, size_t>> counts;
  bool any = false;
  for (size_t i = 0; i < instances.size(); ++i) {
    const WarmupOptions* plan = plan_of(instances[i]);
    if (plan == nullptr || plan->window <= absl::ZeroDuration()) continue;
    auto& [covered, warming] = counts[plan];
    ++covered;
    const absl::Time created = instances[i].created;
    if (Known(created, now) && now - created < plan->window) {
      warming_plan[i] = plan;
      ++warming;
      any = true;
    }
  }
  if (!any) return result;
  result.share.assign(instances.size(), 1.0);
  any = false;
  for (size_t i = 0; i < instances.size(); ++i) {
    const WarmupOptions* plan = warming_plan[i];
    if (plan == nullptr) continue;
    const absl::Time created = instances[i].created;
    const auto& [covered, warming] = counts[plan];
    if (plan->overload_protection && warming * 100 >= covered * plan->overload_threshold_percent) {
      // Held back from warming while too many warm; looked at again when
      // this one would have finished (others may finish first).
      result.next_update = std::min(result.next_update, created + plan->window);
      continue;
    }
    const absl::Duration age = std::max(now - created, absl::ZeroDuration());
    result.share[i] = std::pow(absl::FDivDuration(age, plan->window), plan->curvature);
    const absl::Duration step =
        std::clamp(plan->window / 20, absl::Milliseconds(100), absl::Seconds(5));
    result.next_update = std::min({result.next_update, now + step, created + plan->window});
    any = true;
  }
  if (!any) result.share.clear();  // (next_update stays: protection may lift)
  return result;
}

}  // namespace grpc_cpp_polaris
