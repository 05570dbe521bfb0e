// Queueing for "unirate" rate limits, and pacing of stream messages. On
// gRPC 1.51 a server filter cannot suspend a call (its promise may not
// wait), so the governance filter only reserves the call's slot and notes
// the wait in the call's metadata; this interceptor holds the call there,
// on a timer (no thread blocked), and lets it proceed when its slot comes.
//
// On client- and bidi-streaming calls it also paces what the client sends:
// each message counts as a call of the QPS rules the stream matched when it
// opened (RateLimiter::MessagePacer), and one over the rate is held until
// its turn instead of being refused; HTTP/2 flow control then slows the
// sender.
//
// The key is the filter's own: whatever a client sends under it is removed
// before the filter looks at the call.
//
// The call goes on from the alarm's thread. For callback and async services
// that only starts the handler; a synchronous service's handler runs on that
// thread (one of gRPC's), outside the sync server's own pool.
#ifndef GRPC_CPP_POLARIS_SERVER_QUEUE_INTERCEPTOR_H_
#define GRPC_CPP_POLARIS_SERVER_QUEUE_INTERCEPTOR_H_

#include <memory>

#include <grpcpp/support/server_interceptor.h>

#include "absl/time/time.h"
#include "server/call_gate.h"

namespace grpc_cpp_polaris {

// The metadata key carrying a call's wait, in microseconds.
inline constexpr char kQueueWaitMetadataKey[] = "polaris.internal.queue-wait-us";
// The longest wait the interceptor honours.
inline constexpr absl::Duration kMaxQueueWait = absl::Minutes(1);

// Makes interceptors only for calls that may wait: while `gate` has queueing
// rules, and for streams whose messages a QPS rule may pace.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeQueueInterceptorFactory(
    std::shared_ptr<const CallGate> gate);

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SERVER_QUEUE_INTERCEPTOR_H_
