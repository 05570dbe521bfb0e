#include "sdk/balancer/balancer.h"


namespace grpc_cpp_polaris {

BalancerRegistry& BalancerRegistry::Global() {
  static BalancerRegistry* const registry = new BalancerRegistry();
  return *registry;
}

}  // namespace grpc_cpp_polaris
