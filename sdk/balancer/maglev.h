// The "maglev" balancer: Google's Maglev consistent hashing (Eisenbud et
// al., NSDI 2016), weighted.
//
// A lookup table of M slots (M prime, the first of 65,537 / 131,071 / ...
// / 4,194,301 at least 100 times the targets) is filled by the targets in
// turns, each claiming the next free slot of its own permutation of the
// table (offset and skip from StableHash(host:port), the same in every
// client); a target's share of slots follows its weight. A call takes the
// slot of its hash key's StableHash modulo M: one table read, no lock.
// Compared with ring_hash, picks are O(1) and the load spreads more evenly;
// membership changes move slightly more keys.
#ifndef GRPC_CPP_POLARIS_SDK_BALANCER_MAGLEV_H_
#define GRPC_CPP_POLARIS_SDK_BALANCER_MAGLEV_H_

#include <memory>

#include "sdk/balancer/balancer.h"

namespace grpc_cpp_polaris {

std::unique_ptr<BalancerFactory> MakeMaglevBalancerFactory();

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_BALANCER_MAGLEV_H_
