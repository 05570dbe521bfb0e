// A ready-made backend for tests, examples and benchmarks: a gRPC server on a
// loopback port serving grpc_cpp_polaris.echo.EchoServer, which answers every
// call (Echo) and every message of a stream (Chat) with the backend's name so
// that callers can see who served them.
#ifndef GRPC_CPP_POLARIS_MOCKPLANE_ECHO_BACKEND_H_
#define GRPC_CPP_POLARIS_MOCKPLANE_ECHO_BACKEND_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/echo/echo.grpc.pb.h"

#include <grpcpp/support/status.h>

namespace grpc {
class Server;
class ServerBuilder;
}  // namespace grpc

namespace grpc_cpp_polaris {
namespace mockplane {

class EchoBackend {
 public:
  struct Options {
    std::string name;
    std::string host = "127.0.0.1";
    int port = 0;  // 0 picks a free port
    // How long each Echo takes to answer (a timer, not a blocked thread).
    absl::Duration latency = absl::ZeroDuration();
    // Runs on the builder before the server is built (e.g. to install a
    // PolarisServer's governance).
    std::function<void(grpc::ServerBuilder&)> prepare;
  };

  static absl::StatusOr<std::unique_ptr<EchoBackend>> Start(Options options);
  ~EchoBackend();

  const std::string& name() const { return options_.name; }
  int port() const { return port_; }
  std::string address() const;
  grpc::Server* server() { return server_.get(); }
  // Calls answered so far (a stream counts once).
  uint64_t calls() const { return calls_->load(); }
  // Streams open now.
  int64_t open_streams() const;
  // Fault knobs for failover tests, effective for calls arriving after:
  // Echo fails with `code` (OK: answers normally), after `latency`.
  void SetFailure(grpc::StatusCode code);
  void SetLatency(absl::Duration latency);
  // What the backend's gRPC health service (grpc.health.v1, on for every
  // backend) answers for the whole server: SERVING or NOT_SERVING.
  void SetServing(bool serving);
  // Stops accepting calls; in-flight calls get until `deadline` to finish.
  void Shutdown(absl::Duration deadline);

 private:
  class Service;
  explicit EchoBackend(Options options);

  const Options options_;
  std::shared_ptr<std::atomic<uint64_t>> calls_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool shut_down_ = false;
};

// One Echo call; returns the name of the backend that answered, or the
// call's status.
absl::StatusOr<std::string> CallEcho(echo::EchoServer::Stub& stub,
                                     absl::Duration timeout = absl::Seconds(10),
                                     bool wait_for_ready = false);

}  // namespace mockplane
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_MOCKPLANE_ECHO_BACKEND_H_
