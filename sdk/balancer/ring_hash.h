// The "ring_hash" balancer: consistent hashing on a ring (Karger et al.).
//
// Each target owns points on a 64-bit ring, at StableHash(host:port, k), so
// every client of a service places an instance at the same points. A call
// goes to the owner of the first point at or after its hash key's
// StableHash (BalanceInput::hash), wrapping around. The number of points a
// target owns depends only on its own weight (320 per weight 100, at least
// 1, at most 4,096; fewer per weight on services of over 3,276 instances,
// so that a ring stays under about a million points): adding or removing
// an instance moves only the keys on its own points, about 1/N of them.
// A pick is a binary search: no lock, no allocation.
#ifndef GRPC_CPP_POLARIS_SDK_BALANCER_RING_HASH_H_
#define GRPC_CPP_POLARIS_SDK_BALANCER_RING_HASH_H_

#include <memory>

#include "sdk/balancer/balancer.h"

namespace grpc_cpp_polaris {

std::unique_ptr<BalancerFactory> MakeRingHashBalancerFactory();

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_BALANCER_RING_HASH_H_
