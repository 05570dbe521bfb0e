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
#include "sdk/tsan.h"

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

// A bidi stream over raw bytes (the mock's Discover and rate-limit streams)
// whose gRPC operations tell ThreadSanitizer what they hand over to gRPC's
// threads (sdk/tsan.h). The read chain, the write chain and OnDone each have
// a key: a reaction starts with TsanReaction(read_key() or write_key(),
// done_key()), and OnDone with TsanAcquire(done_key()).
class AnnotatedBidiReactor : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 protected:
  void Read(grpc::ByteBuffer* in) {
    TsanRelease(read_key());
    StartRead(in);
  }
  void Write(const grpc::ByteBuffer* out) {
    TsanRelease(write_key());
    StartWrite(out);
  }
  void WriteAndFinish(const grpc::ByteBuffer* out, const grpc::Status& status) {
    TsanRelease(write_key());
    TsanRelease(done_key());
    StartWriteAndFinish(out, grpc::WriteOptions(), status);
  }
  void FinishWith(const grpc::Status& status) {
    TsanRelease(done_key());
    Finish(status);
  }
  // A reactor that owns itself; override for other ownership.
  void OnDone() override {
    TsanAcquire(done_key());
    delete this;
  }
  // Addresses inside this object: using one as a key reads no memory.
  const void* read_key() const { return &keys_[0]; }
  const void* write_key() const { return &keys_[1]; }
  const void* done_key() const { return &keys_[2]; }

 private:
  char keys_[3] = {};
};

// Logs, takes the method's fault, and finishes the call with `serve()`'s
// status (after the fault's delay), or with the fault's failure.
grpc::ServerUnaryReactor* ServeUnary(FaultInjector* faults, const RequestLog& log,
                                     const char* method, const google::protobuf::Message& request,
                                     std::function<absl::Status()> serve);

}  // namespace mockplane
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_MOCKPLANE_SERVING_H_
