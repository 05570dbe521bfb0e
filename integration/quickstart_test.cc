// The quickstart scenario, hermetically: three EchoServerGRPC servers register
// with the mockplane; a client dials polaris://EchoServerGRPC.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "client/polaris_client.h"
#include "mockplane/child_process.h"
#include "mockplane/control_plane.h"
#include "mockplane/echo_backend.h"
#include "mockplane/wait.h"
#include "proto/echo/echo.grpc.pb.h"
#include "server/registration.h"

namespace grpc_cpp_polaris {
namespace {

using mockplane::ControlPlane;
using mockplane::EchoBackend;
using mockplane::WaitUntil;

constexpr char kService[] = "EchoServerGRPC";

// An echo server in another process (integration/echo_server_process), so
// that it can really be killed; it prints "READY <port>" once registered.
std::unique_ptr<mockplane::ChildProcess> SpawnServer(const std::string& control_plane,
                                                     const std::string& name, int* port) {
  auto process = mockplane::ChildProcess::Start(
      {mockplane::RunfilesPath("integration/echo_server_process"), control_plane, name, "1"});
  if (!process.ok()) return nullptr;
  absl::StatusOr<std::string> ready = (*process)->ReadLine();
  if (!ready.ok() || std::sscanf(ready->c_str(), "READY %d", port) != 1) return nullptr;
  return std::move(*process);
}

struct InProcessServer {
  std::unique_ptr<EchoBackend> backend;
  std::unique_ptr<Registration> registration;
};

class QuickstartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto plane = ControlPlane::Start();
    ASSERT_TRUE(plane.ok()) << plane.status();
    plane_ = std::move(*plane);
    grpc::ChannelArguments args;
    args.SetString(kControlPlaneAddressArg, plane_->address());
    stub_ = echo::EchoServer::NewStub(grpc::CreateCustomChannel(
        absl::StrCat("polaris://", kService), grpc::InsecureChannelCredentials(), args));
  }

  void TearDown() override {
    // Servers go before the control plane they deregister from.
    servers_.clear();
  }

  InProcessServer& StartServer(const std::string& name, uint32_t weight = 100) {
    InProcessServer server;
    auto backend = EchoBackend::Start({name});
    EXPECT_TRUE(backend.ok()) << backend.status();
    server.backend = std::move(*backend);
    RegisterOptions options;
    options.service = kService;
    options.control_plane_address = plane_->address();
    options.weight = weight;
    options.deregister_propagation_delay = absl::Milliseconds(500);
    options.drain_timeout = absl::Seconds(2);
    auto registration = Register(*server.backend->server(), server.backend->port(), options);
    EXPECT_TRUE(registration.ok()) << registration.status();
    server.registration = std::move(*registration);
    servers_.push_back(std::move(server));
    return servers_.back();
  }

  absl::StatusOr<std::string> Call() { return mockplane::CallEcho(*stub_, absl::Seconds(5)); }

  // Calls until `instance` answered none of the last `streak` calls.
  bool WaitUntilNoCallsTo(const std::string& instance, int streak) {
    int clean = 0;
    return WaitUntil(
        [&] {
          absl::StatusOr<std::string> who = Call();
          clean = (who.ok() && *who != instance) ? clean + 1 : 0;
          return clean >= streak;
        },
        absl::Seconds(20), absl::ZeroDuration());
  }

  std::unique_ptr<ControlPlane> plane_;
  std::unique_ptr<echo::EchoServer::Stub> stub_;
  std::vector<InProcessServer> servers_;
};

// Sanitizers slow everything down several times (as gRPC's own tests scale
// their deadlines with grpc_test_slowdown_factor).
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kSlowdown = 5;
#else
constexpr int kSlowdown = 1;
#endif

// A real Polaris server routes a health-checked instance once it is
// registered (and its first heartbeat, sent by Register(), arrived): it is
// healthy as soon as Register() returns, and a client reaches it within a
// second.
TEST_F(QuickstartTest, NewServerIsRoutableWithinASecond) {
  InProcessServer& server = StartServer("new");
  const std::vector<Instance> instances = plane_->Instances(ServiceKey{"default", kService});
  ASSERT_EQ(instances.size(), 1u);
  EXPECT_EQ(instances[0].id, server.registration->instance_id());
  EXPECT_TRUE(instances[0].healthy);
  absl::StatusOr<std::string> who =
      mockplane::CallEcho(*stub_, kSlowdown * absl::Seconds(1), /*wait_for_ready=*/true);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(*who, "new");
}

TEST_F(QuickstartTest, CallsSpreadOverAllInstancesByWeight) {
  StartServer("w100", 100);
  StartServer("w200", 200);
  StartServer("w300", 300);
  constexpr int kCalls = 3000;
  std::map<std::string, int> answered;
  for (int i = 0; i < kCalls; ++i) {
    absl::StatusOr<std::string> who = Call();
    ASSERT_TRUE(who.ok()) << who.status();
    ++answered[*who];
  }
  ASSERT_EQ(answered.size(), 3u);
  // Expected shares 1/6, 2/6, 3/6; a binomial standard deviation is under 1%.
  EXPECT_NEAR(answered["w100"] / double(kCalls), 1 / 6.0, 0.04);
  EXPECT_NEAR(answered["w200"] / double(kCalls), 2 / 6.0, 0.04);
  EXPECT_NEAR(answered["w300"] / double(kCalls), 3 / 6.0, 0.04);
}

TEST_F(QuickstartTest, GracefulShutdownLosesNoCallAndStopsTraffic) {
  StartServer("a");
  StartServer("b");
  InProcessServer& leaving = StartServer("c");
  ASSERT_TRUE(WaitUntil([&] { return Call().value_or("") == "c"; }, absl::Seconds(10)));

  // Calls keep flowing while "c" deregisters, waits, drains and stops.
  std::atomic<bool> done{false};
  std::atomic<int> failures{0}, calls{0};
  std::thread caller([&] {
    while (!done.load()) {
      if (!Call().ok()) failures.fetch_add(1);
      calls.fetch_add(1);
    }
  });
  const int calls_before = calls.load();
  ASSERT_TRUE(leaving.registration->Shutdown().ok());
  const int calls_during = calls.load() - calls_before;
  const uint64_t served_by_c = leaving.backend->calls();
  // And 200 more after "c" is gone.
  const int calls_after_shutdown = calls.load();
  EXPECT_TRUE(WaitUntil([&] { return calls.load() >= calls_after_shutdown + 200; },
                        absl::Seconds(30)));
  done.store(true);
  caller.join();
  EXPECT_EQ(failures.load(), 0) << "of " << calls.load() << " calls";
  EXPECT_GT(calls_during, 0);  // the shutdown really overlapped traffic
  EXPECT_EQ(leaving.backend->calls(), served_by_c);
  EXPECT_EQ(plane_->Instances(ServiceKey{"default", kService}).size(), 2u);

  std::map<std::string, int> answered;
  for (int i = 0; i < 300; ++i) {
    absl::StatusOr<std::string> who = Call();
    ASSERT_TRUE(who.ok()) << who.status();
    ++answered[*who];
  }
  EXPECT_EQ(answered.size(), 2u);
  EXPECT_EQ(answered.count("c"), 0u);
}

TEST_F(QuickstartTest, DeregisteredInstanceGetsNoMoreCalls) {
  StartServer("a");
  InProcessServer& leaving = StartServer("b");
  ASSERT_TRUE(leaving.registration->Deregister().ok());
  ASSERT_TRUE(WaitUntilNoCallsTo("b", 50));
  const uint64_t served = leaving.backend->calls();
  for (int i = 0; i < 300; ++i) {
    absl::StatusOr<std::string> who = Call();
    ASSERT_TRUE(who.ok()) << who.status();
    EXPECT_EQ(*who, "a");
  }
  // Still up and serving, but picked no more.
  EXPECT_EQ(leaving.backend->calls(), served);
}

TEST_F(QuickstartTest, KilledServerStopsReceivingCallsWithoutFailuresAfterwards) {
  StartServer("a");
  StartServer("b");
  int doomed_port = 0;
  std::unique_ptr<mockplane::ChildProcess> doomed =
      SpawnServer(plane_->address(), "doomed", &doomed_port);
  ASSERT_NE(doomed, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return Call().value_or("") == "doomed"; }, absl::Seconds(10)));

  doomed->Stop(SIGKILL);  // no deregistration, no more heartbeats
  // Its connection fails at once: the picker drops it.
  ASSERT_TRUE(WaitUntilNoCallsTo("doomed", 50));
  std::map<std::string, int> answered;
  for (int i = 0; i < 300; ++i) {
    absl::StatusOr<std::string> who = Call();
    ASSERT_TRUE(who.ok()) << "call " << i << " after the kill: " << who.status();
    ++answered[*who];
  }
  EXPECT_EQ(answered.size(), 2u);
  // And its heartbeats stop: the control plane marks it unhealthy (3 x 1 s).
  const ServiceKey key{"default", kService};
  auto doomed_unhealthy = [&] {
    for (const Instance& instance : plane_->Instances(key)) {
      if (instance.port == static_cast<uint32_t>(doomed_port)) return !instance.healthy;
    }
    return false;
  };
  ASSERT_TRUE(WaitUntil(doomed_unhealthy, absl::Seconds(10)));
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(Call().ok()) << "call " << i;
}

}  // namespace
}  // namespace grpc_cpp_polaris
