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

// Which optional keys calls of this process may carry, so that picks look
// up only those (a metadata lookup per call saved for each one never used):
// kBalancerMetadataKey once a call has chosen its own balancer
// (SetBalancer, client/call_options.h), kCallIdMetadataKey once a channel
// gives its calls ids (client/internal/call_id_filter.h).
namespace call_metadata_internal {
inline constexpr uint32_t kPerCallBalancer = 1;
inline constexpr uint32_t kCallIds = 2;
inline std::atomic<uint32_t> used_keys{0};
}  // namespace call_metadata_internal
inline void NotePerCallBalancer() {
  call_metadata_internal::used_keys.fetch_or(call_metadata_internal::kPerCallBalancer,
                                             std::memory_order_relaxed);
}
inline void NoteCallIds() {
  call_metadata_internal::used_keys.fetch_or(call_metadata_internal::kCallIds,
                                             std::memory_order_relaxed);
}
inline uint32_t UsedCallKeys() {
  return call_metadata_internal::used_keys.load(std::memory_order_relaxed);
}
inline bool PerCallBalancerUsed() {
  return (UsedCallKeys() & call_metadata_internal::kPerCallBalancer) != 0;
}
inline bool CallIdsUsed() { return (UsedCallKeys() & call_metadata_internal::kCallIds) != 0; }

// Labels as one metadata value: "k1=v1&k2=v2", sorted by key, with '%', '&',
// '=' and bytes outside printable ASCII percent-encoded, so that equal label
// sets are equal strings and any key or value survives.
std::string EncodeLabels(const std::map<std::string, std::string>& labels);
// InvalidArgument naming the problem for a malformed value.
absl::StatusOr<std::map<std::string, std::string>> DecodeLabels(absl::string_view encoded);

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_CALL_METADATA_H_
