// Accepts TCP connections for a gRPC server itself, so that a test can make
// the port refuse new connections while connections already open keep
// working (gRPC's own listener cannot pause). Accepted sockets are handed to
// the server with grpc::AddInsecureChannelFromFd.
#ifndef GRPC_CPP_POLARIS_MOCKPLANE_ACCEPTOR_H_
#define GRPC_CPP_POLARIS_MOCKPLANE_ACCEPTOR_H_

#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace grpc_cpp_polaris {
namespace mockplane {

class Acceptor {
 public:
  // Listens on host:port (0 picks a free port).
  static absl::StatusOr<std::unique_ptr<Acceptor>> Listen(const std::string& host, int port);
  ~Acceptor();

  int port() const { return port_; }
  // Starts handing accepted connections to `server` (not owned; must
  // outlive Stop()).
  void Start(grpc::Server* server);
  // refuse: closes the listening socket, so that connecting fails;
  // !refuse: listens again on the same port.
  absl::Status RefuseNewConnections(bool refuse);
  // Stops accepting and closes the listening socket. Idempotent.
  void Stop();

 private:
  Acceptor(std::string host, int port) : host_(std::move(host)), port_(port) {}
  absl::Status OpenLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Loop();
  void Wake();

  const std::string host_;
  int port_;
  grpc::Server* server_ = nullptr;
  int wake_pipe_[2] = {-1, -1};
  std::mutex mu_;
  int listen_fd_ ABSL_GUARDED_BY(mu_) = -1;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace mockplane
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_MOCKPLANE_ACCEPTOR_H_
