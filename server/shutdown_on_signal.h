// Graceful stop on SIGTERM / SIGINT: the first such signal runs
// PolarisServer::Shutdown() (NOT_SERVING, deregister, wait, drain, stop) on a
// thread of its own; later ones are ignored while it runs. The process's
// main thread typically waits on the server:
//
//   auto on_signal = grpc_cpp_polaris::ShutdownOnSignal::Install(polaris.get());
//   server->Wait();  // returns once the shutdown has stopped the server
//
// One per process at a time. The handler only writes to a pipe
// (async-signal-safe); the watcher thread does the rest.
//
// Best: call ShutdownOnSignal::BlockSignals() first thing in main(), before
// any thread starts. Threads inherit the blocked mask, the signal stays
// pending for the process, and the watcher reads it from a signalfd: no
// handler runs anywhere. Otherwise the kernel hands the signal to some
// thread that does not block it and the handler passes it on.
#ifndef GRPC_CPP_POLARIS_SERVER_SHUTDOWN_ON_SIGNAL_H_
#define GRPC_CPP_POLARIS_SERVER_SHUTDOWN_ON_SIGNAL_H_

#include <signal.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "server/polaris_server.h"

namespace grpc_cpp_polaris {

class ShutdownOnSignal {
 public:
  // Installs handlers for `signals` that shut `server` down (not owned; it
  // must outlive the returned object). FailedPrecondition if another is
  // installed.
  static absl::StatusOr<std::unique_ptr<ShutdownOnSignal>> Install(
      PolarisServer* server, std::vector<int> signals = {SIGTERM, SIGINT});
  // Restores the previous handlers; waits for a shutdown in progress.
  ~ShutdownOnSignal();

  // Blocks `signals` in the calling thread (and the threads it starts).
  static void BlockSignals(const std::vector<int>& signals = {SIGTERM, SIGINT});

  ShutdownOnSignal(const ShutdownOnSignal&) = delete;
  ShutdownOnSignal& operator=(const ShutdownOnSignal&) = delete;

  // The signal that started the shutdown, or 0.
  int signal() const { return signal_.load(); }

 private:
  ShutdownOnSignal(PolarisServer* server, std::vector<int> signals);
  void Watch();

  PolarisServer* const server_;
  const std::vector<int> signals_;
  std::vector<struct sigaction> previous_;
  std::atomic<int> signal_{0};
  std::thread watcher_;
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SERVER_SHUTDOWN_ON_SIGNAL_H_
