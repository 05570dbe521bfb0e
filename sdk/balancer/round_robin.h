// The "round_robin" balancer: smooth weighted round robin without a lock.
//
// Built once per candidate set: each target gets a number of turns per
// cycle proportional to its weight (its weight itself when the weights sum
// to at most 65,536, else scaled, at least one turn), and the turns are laid
// out evenly over the cycle (target i's k-th turn at (k + phase_i) / turns_i,
// the phases spread by the golden ratio so targets don't bunch at the start).
// A pick is one relaxed atomic increment and one table read: calls on all
// threads take the cycle's turns in order. Memory: one uint32 per turn, at
// most max(2 * 65,536, 2 * targets).
#ifndef GRPC_CPP_POLARIS_SDK_BALANCER_ROUND_ROBIN_H_
#define GRPC_CPP_POLARIS_SDK_BALANCER_ROUND_ROBIN_H_

#include <memory>

#include "sdk/balancer/balancer.h"

namespace grpc_cpp_polaris {

std::unique_ptr<BalancerFactory> MakeRoundRobinBalancerFactory();

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_BALANCER_ROUND_ROBIN_H_
