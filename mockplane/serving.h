// What every mock service does with a unary request: log it, apply the
// injected fault for its method (delay, failure), then serve it.
#ifndef GRPC_CPP_POLARIS_MOCKPLANE_SERVING_H_
#define GRPC_CPP_POLARIS_MOCKPLANE_SERVING_H_

#include <functional>
#include <string>

#include <google/protobuf/message.h>
#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "mockplane/fault_injector.h"

namespace grpc_cpp_polaris {
namespace mockplane {

// The mock's services and registries are built on one thread and called on
// gRPC's, which start serving through synchronization ThreadSanitizer cannot
// see: ControlPlane releases this key once they are built, and every handler
// calls TsanAcquire(&tsan_services_built_key) first (see sdk/tsan.h).
inline char tsan_services_built_key = 0;

// Receives one line per request ("Heartbeat {id { value: ... }}"); may be empty.
using RequestLog = std::function<void(const std::string&)>;

inline grpc::Status ToGrpc(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

// Requests are logged on one line of at most about this many characters.
inline constexpr size_t kMaxLoggedRequestChars = 1024;
void LogRequest(const RequestLog& log, const char* method,
                const google::protobuf::Message& request);

// Logs, takes the method's fault, and finishes the call with `serve()`'s
// status (after the fault's delay), or with the fault's failure.
grpc::ServerUnaryReactor* ServeUnary(FaultInjector* faults, const RequestLog& log,
                                     const char* method, const google::protobuf::Message& request,
                                     std::function<absl::Status()> serve);

}  // namespace mockplane
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_MOCKPLANE_SERVING_H_
