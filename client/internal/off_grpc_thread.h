// Runs clean-up work on a thread of our own, never on one of gRPC's.
//
// The resolver's last references to a governance context (and through it a
// control-plane connection) go away in ShutdownLocked, which gRPC may call on
// one of its executor threads. Tearing a connection down there deadlocks:
// cancelling its stream queues work on that very executor thread, which is
// then busy waiting for the stream's thread to finish. So the resolver hands
// those references to this thread instead.
#ifndef GRPC_CPP_POLARIS_CLIENT_INTERNAL_OFF_GRPC_THREAD_H_
#define GRPC_CPP_POLARIS_CLIENT_INTERNAL_OFF_GRPC_THREAD_H_

#include <functional>

namespace grpc_cpp_polaris {
namespace internal {

// Queues `work` for the clean-up thread (started on first use); returns at
// once. Work runs in order, one item at a time.
void RunOffGrpcThreads(std::function<void()> work);

}  // namespace internal
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_CLIENT_INTERNAL_OFF_GRPC_THREAD_H_
