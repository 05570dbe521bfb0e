// Quickstart: three EchoServerGRPC servers register themselves with a Polaris
// control plane (the embedded mockplane here; a real cluster in production),
// a client dials polaris://EchoServerGRPC and its calls are balanced over the
// live instances. Then one server leaves gracefully and the client keeps
// working on the other two without a failed call.
//
// Exits 0 when every call succeeded, all three instances answered before the
// departure and only the remaining two after it.

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/polaris_client.h"
#include "mockplane/control_plane.h"
#include "mockplane/echo_backend.h"
#include "proto/echo/echo.grpc.pb.h"
#include "server/registration.h"

namespace {

using grpc_cpp_polaris::mockplane::ControlPlane;
using grpc_cpp_polaris::mockplane::EchoBackend;

constexpr char kService[] = "EchoServerGRPC";

struct EchoServer {
  std::unique_ptr<EchoBackend> backend;
  std::unique_ptr<grpc_cpp_polaris::Registration> registration;
};

// Makes `count` calls, printing the first `print` of them; returns who
// answered how often ("FAILED: ..." for failed calls).
std::map<std::string, int> Call(grpc_cpp_polaris::echo::EchoServer::Stub& stub, int count,
                                int print, int* failures) {
  std::map<std::string, int> answered;
  for (int i = 1; i <= count; ++i) {
    absl::StatusOr<std::string> answer =
        grpc_cpp_polaris::mockplane::CallEcho(stub, absl::Seconds(5));
    const std::string who =
        answer.ok() ? *answer : absl::StrCat("FAILED: ", answer.status().message());
    if (!answer.ok()) ++*failures;
    ++answered[who];
    if (i <= print) std::printf("  call %2d answered by %s\n", i, who.c_str());
  }
  return answered;
}

void PrintShares(const std::map<std::string, int>& answered, int total) {
  for (const auto& entry : answered) {
    std::printf("  %-40s %4d calls (%.0f%%)\n", entry.first.c_str(), entry.second,
                100.0 * entry.second / total);
  }
}

}  // namespace

int main() {
  // 1. A control plane. In production: a Polaris cluster's address instead.
  auto plane = ControlPlane::Start();
  if (!plane.ok()) {
    std::fprintf(stderr, "mockplane: %s\n", plane.status().ToString().c_str());
    return 1;
  }
  std::printf("mock Polaris control plane on %s\n", (*plane)->address().c_str());

  // 2. Three servers register themselves.
  std::vector<EchoServer> servers;
  for (int i = 1; i <= 3; ++i) {
    EchoServer server;
    auto backend = EchoBackend::Start({absl::StrCat("instance-", i)});
    if (!backend.ok()) {
      std::fprintf(stderr, "%s\n", backend.status().ToString().c_str());
      return 1;
    }
    server.backend = std::move(*backend);
    grpc_cpp_polaris::RegisterOptions options;
    options.service = kService;
    options.control_plane_address = (*plane)->address();
    options.deregister_propagation_delay = absl::Milliseconds(300);
    auto registration =
        grpc_cpp_polaris::Register(*server.backend->server(), server.backend->port(), options);
    if (!registration.ok()) {
      std::fprintf(stderr, "register: %s\n", registration.status().ToString().c_str());
      return 1;
    }
    server.registration = std::move(*registration);
    std::printf("%s registered as %s:%d (id %s)\n", server.backend->name().c_str(),
                server.registration->host().c_str(), server.registration->port(),
                server.registration->instance_id().c_str());
    servers.push_back(std::move(server));
  }

  // 3. A client dials the service by name.
  grpc_cpp_polaris::ClientOptions client_options;
  client_options.control_plane_address = (*plane)->address();
  if (absl::Status status = grpc_cpp_polaris::Init(client_options); !status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    return 1;
  }
  auto channel = grpc::CreateChannel(absl::StrCat("polaris://", kService),
                                     grpc::InsecureChannelCredentials());
  auto stub = grpc_cpp_polaris::echo::EchoServer::NewStub(channel);

  int failures = 0;
  constexpr int kCalls = 300;
  std::printf("\nclient: %d calls to polaris://%s\n", kCalls, kService);
  std::map<std::string, int> before = Call(*stub, kCalls, 9, &failures);
  std::printf("  ...\n");
  PrintShares(before, kCalls);

  // 4. One server leaves gracefully: deregister, let clients notice, drain, stop.
  EchoServer& leaving = servers.back();
  std::printf("\n%s leaves gracefully (deregister, wait, drain, stop)\n",
              leaving.backend->name().c_str());
  if (absl::Status status = leaving.registration->Shutdown(); !status.ok()) {
    std::fprintf(stderr, "shutdown: %s\n", status.ToString().c_str());
    return 1;
  }

  std::printf("\nclient: %d more calls\n", kCalls);
  std::map<std::string, int> after = Call(*stub, kCalls, 6, &failures);
  std::printf("  ...\n");
  PrintShares(after, kCalls);

  const bool all_three_before = before.size() == 3;
  const bool remaining_after = after.size() == 2 && after.count(leaving.backend->name()) == 0;
  const bool ok = failures == 0 && all_three_before && remaining_after;
  std::printf("\n%s: %d failed calls; %zu instances answered before, %zu after\n",
              ok ? "OK" : "FAILED", failures, before.size(), after.size());
  return ok ? 0 : 1;
}
