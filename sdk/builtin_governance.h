// Registers the built-in governance algorithms (rule parsers, routers,
// balancers) with their registries. Idempotent and thread-safe; contexts call
// it, so applications need not, unless they use a registry directly.
#ifndef GRPC_CPP_POLARIS_SDK_BUILTIN_GOVERNANCE_H_
#define GRPC_CPP_POLARIS_SDK_BUILTIN_GOVERNANCE_H_

namespace grpc_cpp_polaris {

void RegisterBuiltinGovernance();

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_BUILTIN_GOVERNANCE_H_
