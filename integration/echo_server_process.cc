// A standalone EchoServerGRPC process for crash tests: it registers itself,
// heartbeats, prints "READY <port>" and serves until killed.
//
//   echo_server_process CONTROL_PLANE_ADDRESS NAME TTL_SECONDS
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "absl/time/time.h"
#include "mockplane/echo_backend.h"
#include "server/registration.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s CONTROL_PLANE_ADDRESS NAME TTL_SECONDS\n", argv[0]);
    return 2;
  }
  auto backend = grpc_cpp_polaris::mockplane::EchoBackend::Start({argv[2]});
  if (!backend.ok()) {
    std::fprintf(stderr, "%s\n", backend.status().ToString().c_str());
    return 1;
  }
  grpc_cpp_polaris::RegisterOptions options;
  options.service = "EchoServerGRPC";
  options.control_plane_address = argv[1];
  options.ttl = absl::Seconds(std::atoi(argv[3]));
  auto registration =
      grpc_cpp_polaris::Register(*(*backend)->server(), (*backend)->port(), options);
  if (!registration.ok()) {
    std::fprintf(stderr, "%s\n", registration.status().ToString().c_str());
    return 1;
  }
  std::printf("READY %d\n", (*backend)->port());
  std::fflush(stdout);
  for (;;) pause();
}
