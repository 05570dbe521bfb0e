// The kinds of per-service resource the Polaris control plane serves on the
// Discover stream, as the SDK names them. Each is watched separately, keyed
// by (type, service), and carries its own revision.
#ifndef GRPC_CPP_POLARIS_SDK_RESOURCE_H_
#define GRPC_CPP_POLARIS_SDK_RESOURCE_H_

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"

namespace grpc_cpp_polaris {

enum class ResourceType : uint8_t {
  kInstance,          // the service's instances
  kRouting,           // v1 routes, and older servers' RouteRules (routing.rules)
  kCircuitBreaker,
  kRateLimit,
  kFaultDetector,
  kNearbyRouteRule,   // RouteRules of NearbyPolicy (newer servers)
  kLane,              // lane groups that involve the service
  kCustomRouteRule,   // RouteRules of RulePolicy (newer servers)
  kBlockAllowRule,
  kLossless,
  kTrafficMirroring,
  kFaultInjection,
};
inline constexpr size_t kResourceTypeCount = 12;

// Upstream's name, e.g. "NEARBY_ROUTE_RULE".
absl::string_view ResourceTypeName(ResourceType type);
// The value of v1.DiscoverRequest.DiscoverRequestType (and of the response's
// type, which uses the same numbers).
int ResourceTypeToWire(ResourceType type);
std::optional<ResourceType> ResourceTypeFromWire(int wire);

inline size_t ResourceIndex(ResourceType type) { return static_cast<size_t>(type); }

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_RESOURCE_H_
