// Per-call routing input for polaris:// channels, set on a grpc::ClientContext
// before the call starts. Each helper writes one metadata entry (keys in
// sdk/call_metadata.h), which the channel's policy reads when it picks, and
// which the server receives too.
//
//   grpc::ClientContext context;
//   grpc_cpp_polaris::SetRouteLabels(&context, {{"user-tier", "gold"}});
//   grpc_cpp_polaris::SetDestinationMetadata(&context, {{"version", "v2"}});
//   stub->Call(&context, request, &response);
//
// Call each helper at most once per context: gRPC appends metadata, it does
// not replace it.
#ifndef GRPC_CPP_POLARIS_CLIENT_CALL_OPTIONS_H_
#define GRPC_CPP_POLARIS_CLIENT_CALL_OPTIONS_H_

#include <map>
#include <string>

#include <grpcpp/client_context.h>
#include <grpcpp/server_context.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "sdk/call_metadata.h"

namespace grpc_cpp_polaris {

// Labels routing rules match: a rule argument of type CUSTOM with key K (or
// a v1 source metadata key K) matches labels[K].
void SetRouteLabels(grpc::ClientContext* context,
                    const std::map<std::string, std::string>& labels);

// Metadata the chosen instance must carry (the "metadata" router); what
// happens when none does is MetadataRouterOptions::failover.
void SetDestinationMetadata(grpc::ClientContext* context,
                            const std::map<std::string, std::string>& metadata);

// The key hash balancers place the call by.
void SetHashKey(grpc::ClientContext* context, absl::string_view key);

// The balancer of this call, by registered name ("weighted_random",
// "round_robin", "ring_hash", "maglev", "least_request", or one the
// application registered; grpc-go-polaris' camelCase names, e.g.
// "ringHash", work too), over the channel's. NotFound naming the known
// balancers for an unknown name (the call is left as it was).
absl::Status SetBalancer(grpc::ClientContext* context, absl::string_view balancer);

// Puts the call in a lane ("group/rule", as lane rules tag calls).
void SetLane(grpc::ClientContext* context, absl::string_view lane);

// The lane of an incoming call ("" when it has none).
std::string LaneOf(const grpc::ServerContextBase& incoming);

// Passes the lane of the call being served on to an outgoing call, so that
// a chain of services stays in the lane (grpc::ClientContext::
// FromServerContext copies no metadata). Works from unary and streaming
// handlers, sync or callback. Does nothing when the incoming call has no lane.
void PropagateLane(const grpc::ServerContextBase& incoming, grpc::ClientContext* outgoing);

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_CLIENT_CALL_OPTIONS_H_
