// The gRPC metadata keys grpc-cpp-polaris reads and writes on calls, named
// once here; the client's per-call helpers write them and the server side
// reads the same keys. Keys shared with grpc-go-polaris are spelt as it
// does (gRPC metadata keys are lowercase).
//
//   polaris.request.caller.service     the calling service (grpc-go-polaris)
//   polaris.request.caller.namespace   its namespace (grpc-go-polaris)
//   polaris.request.caller.metadata    its metadata, encoded below
//   (polaris:// channels send these three on every call when
//   ClientOptions::caller names a service; a value the application set on
//   the call itself is kept)
//   polaris.request.route-labels       per-call routing labels, encoded below
//   polaris.request.dst-metadata       destination metadata the instances
//                                      must carry, encoded below
//   polaris.balancer.request.hashkey   the hash key of hash balancers
//                                      (grpc-go-polaris' hashKey)
//   polaris.balancer.request.lbpolicy  the balancer of this call, by name
//                                      (grpc-go-polaris' lbPolicy)
//   service-lane                       the lane tag, "group/rule" (upstream's
//                                      traffic stain label)
#ifndef GRPC_CPP_POLARIS_SDK_CALL_METADATA_H_
#define GRPC_CPP_POLARIS_SDK_CALL_METADATA_H_

#include <atomic>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace grpc_cpp_polaris {

inline constexpr char kCallerServiceMetadataKey[] = "polaris.request.caller.service";
inline constexpr char kCallerNamespaceMetadataKey[] = "polaris.request.caller.namespace";
inline constexpr char kCallerMetadataMetadataKey[] = "polaris.request.caller.metadata";
inline constexpr char kRouteLabelsMetadataKey[] = "polaris.request.route-labels";
inline constexpr char kDestinationMetadataKey[] = "polaris.request.dst-metadata";
inline constexpr char kHashKeyMetadataKey[] = "polaris.balancer.request.hashkey";
inline constexpr char kBalancerMetadataKey[] = "polaris.balancer.request.lbpolicy";
inline constexpr char kLaneMetadataKey[] = "service-lane";
// A random id per call (16 hex digits), the same on each of its attempts:
// sent by polaris:// channels whose service config has a retry policy.
inline constexpr char kCallIdMetadataKey[] = "polaris.call-id";

// Whether a call of this process has chosen its own balancer (SetBalancer,
// client/call_options.h): until one has, picks do not look for
// kBalancerMetadataKey (a metadata lookup per call saved).
namespace call_metadata_internal {
inline std::atomic<bool> per_call_balancer{false};
}  // namespace call_metadata_internal
inline void NotePerCallBalancer() {
  call_metadata_internal::per_call_balancer.store(true, std::memory_order_relaxed);
}
inline bool PerCallBalancerUsed() {
  return call_metadata_internal::per_call_balancer.load(std::memory_order_relaxed);
}

// Labels as one metadata value: "k1=v1&k2=v2", sorted by key, with '%', '&',
// '=' and bytes outside printable ASCII percent-encoded, so that equal label
// sets are equal strings and any key or value survives.
std::string EncodeLabels(const std::map<std::string, std::string>& labels);
// InvalidArgument naming the problem for a malformed value.
absl::StatusOr<std::map<std::string, std::string>> DecodeLabels(absl::string_view encoded);

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_CALL_METADATA_H_
