// Accepts TCP connections for a gRPC server itself, and hands each one to the
// server (grpc::AddInsecureChannelFromFd) once it has sent the HTTP/2 client
// preface. Doing the accepting ourselves gives what gRPC's listener lacks:
//   - a test can make the port refuse new connections while the connections
//     already open keep working;
//   - a connection that never sends the preface (a port scanner, a stuck or
//     hostile client) is closed after `handshake_timeout` instead of holding
//     a descriptor forever, and at most `max_pending_handshakes` wait at once
//     (the oldest is closed to make room);
//   - when accept4 fails for lack of descriptors or memory (EMFILE, ENFILE,
//     ENOBUFS, ENOMEM) the listening socket is left alone for a backoff that
//     doubles from 5 ms to 1 s, instead of being polled again at once (which
//     spins a core while the condition lasts).
#ifndef GRPC_CPP_POLARIS_MOCKPLANE_ACCEPTOR_H_
#define GRPC_CPP_POLARIS_MOCKPLANE_ACCEPTOR_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace grpc_cpp_polaris {
namespace mockplane {

struct AcceptorOptions {
  // A connection must send the 24-byte HTTP/2 preface within this time.
  absl::Duration handshake_timeout = absl::Seconds(10);
  // Connections waiting for their preface at once.
  size_t max_pending_handshakes = 1024;
};

class Acceptor {
 public:
  // Listens on host:port (0 picks a free port).
  static absl::StatusOr<std::unique_ptr<Acceptor>> Listen(const std::string& host, int port,
                                                          AcceptorOptions options = {});
  ~Acceptor();

  int port() const { return port_; }
  // Starts handing accepted connections to `server` (not owned; must
  // outlive Stop()).
  void Start(grpc::Server* server);
  // refuse: closes the listening socket, so that connecting fails;
  // !refuse: listens again on the same port.
  absl::Status RefuseNewConnections(bool refuse);
  // Stops accepting, closes the listening socket and the connections still
  // waiting for their preface. Idempotent.
  void Stop();

  // Counters, for tests and diagnostics.
  struct Stats {
    uint64_t handed_over = 0;       // connections given to the server
    uint64_t handshake_failures = 0;  // closed: timeout, garbage, EOF or evicted
    uint64_t accept_failures = 0;   // accept4 failed for lack of resources
  };
  Stats stats() const;

 private:
  struct Pending {
    int fd;
    absl::Time deadline;
    absl::Time next_peek;  // a partial preface is peeked again from then on
  };
  enum class Preface { kComplete, kPartial, kBad };

  Acceptor(std::string host, int port, AcceptorOptions options)
      : host_(std::move(host)), port_(port), options_(options) {}
  absl::Status OpenLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Loop();
  void Wake();
  // Accepts one connection into pending_; false if there was none (or
  // accept4 failed, which may start a backoff).
  bool AcceptOne(int listen_fd, absl::Time now);
  static Preface PeekPreface(int fd);
  void Reject(int fd);

  const std::string host_;
  int port_;
  const AcceptorOptions options_;
  grpc::Server* server_ = nullptr;
  int wake_pipe_[2] = {-1, -1};
  std::mutex mu_;
  int listen_fd_ ABSL_GUARDED_BY(mu_) = -1;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
  // Owned by the loop's thread.
  std::deque<Pending> pending_;
  absl::Duration accept_backoff_ = absl::ZeroDuration();
  absl::Time accept_resume_ = absl::InfinitePast();
  std::atomic<uint64_t> handed_over_{0};
  std::atomic<uint64_t> handshake_failures_{0};
  std::atomic<uint64_t> accept_failures_{0};
};

}  // namespace mockplane
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_MOCKPLANE_ACCEPTOR_H_
