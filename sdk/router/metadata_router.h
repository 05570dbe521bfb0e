// The "metadata" router: a call that carries destination metadata (set with
// SetDestinationMetadata) goes to the instances whose metadata has every one
// of those key/value pairs. When none has, MetadataRouterOptions::failover
// decides: fail the call (NOT_FOUND naming the metadata), every instance,
// the instances lacking a requested key, or those with the failover metadata.
#ifndef GRPC_CPP_POLARIS_SDK_ROUTER_METADATA_ROUTER_H_
#define GRPC_CPP_POLARIS_SDK_ROUTER_METADATA_ROUTER_H_

#include <memory>

#include "sdk/router/router.h"

namespace grpc_cpp_polaris {

std::unique_ptr<RouterFactory> MakeMetadataRouterFactory();

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_ROUTER_METADATA_ROUTER_H_
