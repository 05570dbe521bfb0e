// The `polaris` load-balancing policy. Uses gRPC internals: channel plugins only.
#ifndef GRPC_CPP_POLARIS_CLIENT_INTERNAL_POLARIS_LB_H_
#define GRPC_CPP_POLARIS_CLIENT_INTERNAL_POLARIS_LB_H_

#include "src/core/lib/config/core_configuration.h"

namespace grpc_cpp_polaris {
namespace internal {

void RegisterPolarisLbPolicy(grpc_core::CoreConfiguration::Builder* builder);

}  // namespace internal
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_CLIENT_INTERNAL_POLARIS_LB_H_
