// The server filter that puts a CallGate (server/call_gate.h) in front of
// every call of a server: on gRPC 1.51 only a filter can end a server call
// with a status of its own before the application sees it (interceptors
// cannot: hijacking is client-only, and TryCancel gives the client
// CANCELLED). A call the gate refuses ends with the gate's status; a call
// it queues goes on with its wait noted for the queue interceptor
// (server/queue_interceptor.h), which holds it; a call holding concurrency
// permits gives them back whenever and however it ends.
//
// The filter sits only on servers built with the gate's argument
// (AddCallGate); it reads the caller's IP once per connection. This target
// and the client's channel plugins are the only code that includes gRPC's
// internal headers; this header itself does not.
#ifndef GRPC_CPP_POLARIS_SERVER_INTERNAL_GOVERNANCE_FILTER_H_
#define GRPC_CPP_POLARIS_SERVER_INTERNAL_GOVERNANCE_FILTER_H_

#include <memory>

#include <grpcpp/support/channel_arguments.h>

#include "server/call_gate.h"

namespace grpc_cpp_polaris {
namespace internal {

// Makes the servers built with `args` run every call through `gate`.
void AddCallGate(grpc::ChannelArguments* args, std::shared_ptr<const CallGate> gate);

}  // namespace internal
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SERVER_INTERNAL_GOVERNANCE_FILTER_H_
