// The "least_request" balancer: the power of two choices on calls in flight,
// weight-aware.
//
// Each pick draws two different targets by weight when it can (the alias
// table of weighted_random; a second draw that repeats the first is drawn
// once more) and takes the one with fewer calls in flight per unit of weight (InstanceStats::in_flight, shared by
// every channel of the process to the service; ties go to the first draw).
// A slow or stuck instance accumulates calls in flight and so receives few
// new ones, without any knowledge of latency. Lock-free: two table reads and
// two atomic loads. Without stats it is weighted random.
#ifndef GRPC_CPP_POLARIS_SDK_BALANCER_LEAST_REQUEST_H_
#define GRPC_CPP_POLARIS_SDK_BALANCER_LEAST_REQUEST_H_

#include <memory>

#include "sdk/balancer/balancer.h"

namespace grpc_cpp_polaris {

std::unique_ptr<BalancerFactory> MakeLeastRequestBalancerFactory();

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_BALANCER_LEAST_REQUEST_H_
