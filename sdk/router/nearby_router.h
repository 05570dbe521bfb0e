// The "nearby" router: prefers instances where the caller runs. It starts at
// the match level (zone by default: same region and zone) and widens one
// level at a time (campus < zone < region < all) up to the maximum level
// while the current level has no instance, or while at least
// `unhealthy_percent_to_degrade` percent of its instances are unavailable.
// If no level qualifies, the narrowest level that has instances is used.
// An empty location field (on either side) matches any value.
//
// Active for a service with an enabled NearbyPolicy rule (whose levels
// apply), or for every service with NearbyRouterOptions::enabled. A caller
// whose location is unknown is not routed by location.
#ifndef GRPC_CPP_POLARIS_SDK_ROUTER_NEARBY_ROUTER_H_
#define GRPC_CPP_POLARIS_SDK_ROUTER_NEARBY_ROUTER_H_

#include <memory>

#include "sdk/router/router.h"

namespace grpc_cpp_polaris {

std::unique_ptr<RouterFactory> MakeNearbyRouterFactory();

// Whether `instance` is at `caller`'s location at `level`.
bool SameLocation(const Location& caller, const Location& instance, LocationLevel level);

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_ROUTER_NEARBY_ROUTER_H_
