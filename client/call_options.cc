#include "client/call_options.h"

#include "sdk/balancer/balancer.h"
#include "sdk/builtin_governance.h"

namespace grpc_cpp_polaris {

void SetRouteLabels(grpc::ClientContext* context,
                    const std::map<std::string, std::string>& labels) {
  context->AddMetadata(kRouteLabelsMetadataKey, EncodeLabels(labels));
}

void SetDestinationMetadata(grpc::ClientContext* context,
                            const std::map<std::string, std::string>& metadata) {
  context->AddMetadata(kDestinationMetadataKey, EncodeLabels(metadata));
}

void SetHashKey(grpc::ClientContext* context, absl::string_view key) {
  context->AddMetadata(kHashKeyMetadataKey, std::string(key));
}

absl::Status SetBalancer(grpc::ClientContext* context, absl::string_view balancer) {
  RegisterBuiltinGovernance();
  if (FindBalancerByCallName(balancer) == nullptr) {
    absl::StatusOr<const BalancerFactory*> known = BalancerRegistry::Global().Find(balancer);
    return known.status();
  }
  NotePerCallBalancer();
  context->AddMetadata(kBalancerMetadataKey, std::string(balancer));
  return absl::OkStatus();
}

void SetLane(grpc::ClientContext* context, absl::string_view lane) {
  context->AddMetadata(kLaneMetadataKey, std::string(lane));
}

std::string LaneOf(const grpc::ServerContextBase& incoming) {
  const auto& metadata = incoming.client_metadata();
  auto it = metadata.find(kLaneMetadataKey);
  if (it == metadata.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

void PropagateLane(const grpc::ServerContextBase& incoming, grpc::ClientContext* outgoing) {
  const std::string lane = LaneOf(incoming);
  if (!lane.empty()) SetLane(outgoing, lane);
}

}  // namespace grpc_cpp_polaris
