// A standalone EchoServerGRPC process for crash and shutdown tests.
//
//   echo_server_process CONTROL_PLANE_ADDRESS NAME TTL_SECONDS
//     registers itself, heartbeats, prints "READY <port>" and serves until
//     killed.
//   echo_server_process CONTROL_PLANE_ADDRESS NAME TTL_SECONDS governed
//     the same as a PolarisServer that stops gracefully on SIGTERM / SIGINT
//     (ShutdownOnSignal); prints "STOPPED <signal>" once the server has
//     stopped and exits 0.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include "absl/time/time.h"
#include "mockplane/echo_backend.h"
#include "server/polaris_server.h"
#include "server/registration.h"
#include "server/shutdown_on_signal.h"

namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "%s\n", status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const bool governed = argc == 5 && std::strcmp(argv[4], "governed") == 0;
  // Before any thread starts: the signal watcher alone takes SIGTERM.
  if (governed) grpc_cpp_polaris::ShutdownOnSignal::BlockSignals();
  if (argc != 4 && !governed) {
    std::fprintf(stderr, "usage: %s CONTROL_PLANE_ADDRESS NAME TTL_SECONDS [governed]\n", argv[0]);
    return 2;
  }
  grpc_cpp_polaris::RegisterOptions options;
  options.service = "EchoServerGRPC";
  options.control_plane_address = argv[1];
  options.ttl = absl::Seconds(std::atoi(argv[3]));
  grpc_cpp_polaris::mockplane::EchoBackend::Options backend_options;
  backend_options.name = argv[2];
  std::unique_ptr<grpc_cpp_polaris::PolarisServer> polaris;
  absl::Status installed;
  if (governed) {
    backend_options.prepare = [&](grpc::ServerBuilder& builder) {
      grpc_cpp_polaris::ServerOptions server_options;
      server_options.registration = options;
      server_options.registration.deregister_propagation_delay = absl::Milliseconds(500);
      auto made = grpc_cpp_polaris::PolarisServer::Install(builder, server_options);
      if (!made.ok()) {
        installed = made.status();
        return;
      }
      polaris = *std::move(made);
    };
  }
  auto backend = grpc_cpp_polaris::mockplane::EchoBackend::Start(backend_options);
  if (!backend.ok()) return Fail(backend.status());
  if (!installed.ok()) return Fail(installed);
  if (!governed) {
    auto registration =
        grpc_cpp_polaris::Register(*(*backend)->server(), (*backend)->port(), options);
    if (!registration.ok()) return Fail(registration.status());
    std::printf("READY %d\n", (*backend)->port());
    std::fflush(stdout);
    for (;;) pause();
  }
  if (absl::Status started = polaris->Start(*(*backend)->server(), (*backend)->port());
      !started.ok()) {
    return Fail(started);
  }
  auto on_signal = grpc_cpp_polaris::ShutdownOnSignal::Install(polaris.get());
  if (!on_signal.ok()) return Fail(on_signal.status());
  std::printf("READY %d\n", (*backend)->port());
  std::fflush(stdout);
  (*backend)->server()->Wait();  // until a signal's shutdown has stopped it
  std::printf("STOPPED %d\n", (*on_signal)->signal());
  std::fflush(stdout);
  return 0;
}
