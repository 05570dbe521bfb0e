#include "sdk/resource.h"

namespace grpc_cpp_polaris {
namespace {

struct TypeInfo {
  ResourceType type;
  absl::string_view name;
  int wire;
};

constexpr TypeInfo kTypes[kResourceTypeCount] = {
    {ResourceType::kInstance, "INSTANCE", 1},
    {ResourceType::kRouting, "ROUTING", 3},
    {ResourceType::kCircuitBreaker, "CIRCUIT_BREAKER", 5},
    {ResourceType::kRateLimit, "RATE_LIMIT", 4},
    {ResourceType::kFaultDetector, "FAULT_DETECTOR", 13},
    {ResourceType::kNearbyRouteRule, "NEARBY_ROUTE_RULE", 102},
    {ResourceType::kLane, "LANE", 100},
    {ResourceType::kCustomRouteRule, "CUSTOM_ROUTE_RULE", 101},
    {ResourceType::kBlockAllowRule, "BLOCK_ALLOW_RULE", 104},
    {ResourceType::kLossless, "LOSSLESS", 103},
    {ResourceType::kTrafficMirroring, "TRAFFIC_MIRRORING", 105},
    {ResourceType::kFaultInjection, "FAULT_INJECTION", 106},
};

}  // namespace

absl::string_view ResourceTypeName(ResourceType type) { return kTypes[ResourceIndex(type)].name; }

int ResourceTypeToWire(ResourceType type) { return kTypes[ResourceIndex(type)].wire; }

std::optional<ResourceType> ResourceTypeFromWire(int wire) {
  for (const TypeInfo& info : kTypes) {
    if (info.wire == wire) return info.type;
  }
  return std::nullopt;
}

}  // namespace grpc_cpp_polaris
