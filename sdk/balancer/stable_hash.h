// A 64-bit string hash that is the same in every process and build: hash
// balancers place instances and keys with it, so that every client of a
// service sends a key to the same instance. Not for adversarial input.
#ifndef GRPC_CPP_POLARIS_SDK_BALANCER_STABLE_HASH_H_
#define GRPC_CPP_POLARIS_SDK_BALANCER_STABLE_HASH_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace grpc_cpp_polaris {

// `seed` lets one value give several independent hashes (e.g. an instance's
// points on a ring).
uint64_t StableHash(absl::string_view value, uint64_t seed = 0);

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_BALANCER_STABLE_HASH_H_
