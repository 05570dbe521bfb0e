// polaris:// channels end to end: resolver + policy inside real gRPC channels,
// against the mockplane and real echo backends on loopback.
#include <condition_variable>
#include <map>
#include <mutex>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "client/polaris_client.h"
#include "mockplane/control_plane.h"
#include "mockplane/echo_backend.h"
#include "mockplane/wait.h"
#include "sdk/tsan.h"
#include "proto/echo/echo.grpc.pb.h"
#include "sdk/control_plane_client.h"

namespace grpc_cpp_polaris {
namespace {

using mockplane::ControlPlane;
using mockplane::EchoBackend;
using mockplane::WaitUntil;

class PolarisChannelTest : public ::testing::Test {
 protected:
  void SetUp() override { StartPlane(mockplane::ControlPlaneOptions()); }

  void StartPlane(mockplane::ControlPlaneOptions options) {
    auto plane = ControlPlane::Start(options);
    ASSERT_TRUE(plane.ok()) << plane.status();
    plane_ = std::move(*plane);
    ControlPlaneOptions client_options;
    client_options.address = plane_->address();
    registrar_ = std::make_unique<ControlPlaneClient>(client_options);
  }

  // Starts a backend and registers it (without health check unless ttl > 0).
  std::string AddBackend(const std::string& name, uint32_t weight = 100,
                         const std::string& service_namespace = "default", uint32_t ttl = 0) {
    auto backend = EchoBackend::Start({name});
    EXPECT_TRUE(backend.ok()) << backend.status();
    InstanceRegistration registration;
    registration.key = ServiceKey{service_namespace, "Echo"};
    registration.instance.host = "127.0.0.1";
    registration.instance.port = (*backend)->port();
    registration.instance.weight = weight;
    registration.ttl_seconds = ttl;
    // Retried: right after a control-plane restart the first attempts may fail.
    absl::StatusOr<std::string> id;
    WaitUntil([&] { return (id = registrar_->RegisterInstance(registration)).ok(); },
              absl::Seconds(10), absl::Milliseconds(50));
    EXPECT_TRUE(id.ok()) << id.status();
    backends_.push_back(std::move(*backend));
    return id.value_or("");
  }

  std::shared_ptr<grpc::Channel> DialChannel(const std::string& target,
                                             const std::string& service_config = "") {
    grpc::ChannelArguments args;
    args.SetString(kControlPlaneAddressArg, plane_->address());
    if (!service_config.empty()) args.SetServiceConfigJSON(service_config);
    return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  }

  std::unique_ptr<echo::EchoServer::Stub> Dial(const std::string& target,
                                               const std::string& service_config = "") {
    return echo::EchoServer::NewStub(DialChannel(target, service_config));
  }

  static absl::StatusOr<std::string> Call(echo::EchoServer::Stub& stub,
                                          bool wait_for_ready = false) {
    return mockplane::CallEcho(stub, absl::Seconds(10), wait_for_ready);
  }

  static std::map<std::string, int> CallMany(echo::EchoServer::Stub& stub, int count) {
    std::map<std::string, int> answered;
    for (int i = 0; i < count; ++i) {
      absl::StatusOr<std::string> who = Call(stub);
      ++answered[who.ok() ? *who : "FAILED: " + who.status().ToString()];
    }
    return answered;
  }

  const ServiceKey kEcho{"default", "Echo"};
  std::unique_ptr<ControlPlane> plane_;
  std::unique_ptr<ControlPlaneClient> registrar_;
  std::vector<std::unique_ptr<EchoBackend>> backends_;
};

// Linking //client is all it takes: the polaris:// scheme resolves and the
// channel runs our policy without any service config.
TEST_F(PolarisChannelTest, LinkingRegistersTheResolverAndPolicy) {
  AddBackend("a");
  auto channel = DialChannel("polaris://Echo");
  auto stub = echo::EchoServer::NewStub(channel);
  ASSERT_EQ(Call(*stub).value_or("failed"), "a");
  EXPECT_EQ(channel->GetLoadBalancingPolicyName(), kPolarisLbPolicyName);
}

TEST_F(PolarisChannelTest, CallsReachEveryRegisteredInstance) {
  AddBackend("a");
  AddBackend("b");
  AddBackend("c");
  auto stub = Dial("polaris://Echo");
  std::map<std::string, int> answered = CallMany(*stub, 300);
  EXPECT_EQ(answered.size(), 3u);
  for (const char* name : {"a", "b", "c"}) EXPECT_GT(answered[name], 0) << name;
}

TEST_F(PolarisChannelTest, IsolatedAndZeroWeightInstancesGetNoCalls) {
  const std::string isolated = AddBackend("isolated");
  const std::string zero = AddBackend("zero");
  AddBackend("live");
  auto stub = Dial("polaris://Echo");
  // All three connected first: otherwise "only live answers" below could
  // hold because "zero" is still connecting, before its weight is 0.
  ASSERT_TRUE(WaitUntil([&] { return CallMany(*stub, 30).size() == 3; }, absl::Seconds(10)));
  ASSERT_TRUE(plane_->SetIsolate(kEcho, isolated, true));
  ASSERT_TRUE(plane_->SetWeight(kEcho, zero, 0));
  // The change is pushed; once the picker has it, only "live" answers.
  ASSERT_TRUE(WaitUntil([&] { return CallMany(*stub, 20) == std::map<std::string, int>{{"live", 20}}; },
                        absl::Seconds(10)));
  EXPECT_EQ(CallMany(*stub, 200), (std::map<std::string, int>{{"live", 200}}));
}

TEST_F(PolarisChannelTest, UnhealthyInstancesGetNoCalls) {
  FakeClock clock;
  mockplane::ControlPlaneOptions options;
  options.clock = &clock;
  options.health_check_interval = absl::Hours(1);
  StartPlane(options);
  AddBackend("silent", 100, "default", /*ttl=*/1);  // never heartbeats
  AddBackend("steady");
  auto stub = Dial("polaris://Echo");
  // Both connected first (see IsolatedAndZeroWeightInstancesGetNoCalls).
  ASSERT_TRUE(WaitUntil([&] { return CallMany(*stub, 30).size() == 2; }, absl::Seconds(10)));
  clock.Advance(absl::Seconds(4));
  plane_->CheckHealthNow();
  ASSERT_TRUE(WaitUntil([&] { return CallMany(*stub, 20) == std::map<std::string, int>{{"steady", 20}}; },
                        absl::Seconds(10)));
  EXPECT_EQ(CallMany(*stub, 200), (std::map<std::string, int>{{"steady", 200}}));
}

TEST_F(PolarisChannelTest, WeightChangesReachThePicker) {
  const std::string heavy = AddBackend("heavy", 1);
  AddBackend("light", 1);
  auto stub = Dial("polaris://Echo");
  ASSERT_TRUE(Call(*stub).ok());
  ASSERT_TRUE(plane_->SetWeight(kEcho, heavy, 10000));
  ASSERT_TRUE(WaitUntil([&] { return CallMany(*stub, 50)["heavy"] == 50; }, absl::Seconds(10)));
  std::map<std::string, int> answered = CallMany(*stub, 1000);
  EXPECT_GT(answered["heavy"], 985);  // expected 999.9 of 1000
}

TEST_F(PolarisChannelTest, NamespaceSelectsTheService) {
  AddBackend("prod", 100, "Production");
  AddBackend("dev", 100, "default");
  auto prod = Dial("polaris://Echo?namespace=Production");
  EXPECT_EQ(CallMany(*prod, 50), (std::map<std::string, int>{{"prod", 50}}));
  auto dev = Dial("polaris:///Echo");
  EXPECT_EQ(CallMany(*dev, 50), (std::map<std::string, int>{{"dev", 50}}));
}

TEST_F(PolarisChannelTest, MalformedTargetFailsNamingTheProblem) {
  auto stub = Dial("polaris://Echo?zone=z1");
  absl::StatusOr<std::string> result = Call(*stub);
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(absl::IsUnavailable(result.status()));
  EXPECT_NE(result.status().message().find("unknown query parameter 'zone'"),
            absl::string_view::npos)
      << result.status();
}

TEST_F(PolarisChannelTest, UnknownServiceFailsFastThenRecovers) {
  auto stub = Dial("polaris://Echo");
  absl::StatusOr<std::string> result = Call(*stub);
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(absl::IsUnavailable(result.status()));
  EXPECT_NE(result.status().message().find("default/Echo"), absl::string_view::npos)
      << result.status();
  AddBackend("late");
  ASSERT_TRUE(WaitUntil([&] { return Call(*stub).ok(); }, absl::Seconds(10)));
  EXPECT_EQ(*Call(*stub), "late");
}

TEST_F(PolarisChannelTest, WaitForReadyCallWaitsForTheFirstInstance) {
  auto channel = DialChannel("polaris://Echo");
  auto stub = echo::EchoServer::NewStub(channel);
  // The call starts while the service has no instance...
  grpc::ClientContext context;
  context.set_wait_for_ready(true);
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  echo::EchoRequest request;
  echo::EchoResponse response;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
  // The callback runs on a gRPC thread; sdk/tsan.h tells TSan it follows.
  TsanRelease(&mu);
  stub->async()->Echo(&context, &request, &response, [&](grpc::Status s) {
    TsanAcquire(&mu);
    std::lock_guard<std::mutex> lock(mu);
    status = std::move(s);
    done = true;
    cv.notify_all();
  });
  // ...and the channel has learnt that there is none (the resolver reported
  // the unknown service): the call is waiting, not failed.
  ASSERT_TRUE(WaitUntil([&] { return channel->GetState(false) == GRPC_CHANNEL_TRANSIENT_FAILURE; },
                        absl::Seconds(10)));
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_FALSE(done) << status.error_message();
  }
  AddBackend("first");
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return done; }));
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.instance(), "first");
}

TEST_F(PolarisChannelTest, UnknownLbConfigFieldIsReported) {
  AddBackend("a");
  auto stub = Dial("polaris://Echo", R"({"loadBalancingConfig": [{"polaris": {"bogus": 1}}]})");
  absl::StatusOr<std::string> result = Call(*stub);
  // gRPC refuses a channel whose default service config does not parse; it
  // logs our message ("polaris LB config: unknown field 'bogus'") and fails
  // calls with INVALID_ARGUMENT.
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(result.status())) << result.status();
}

TEST_F(PolarisChannelTest, ExplicitPolarisLbConfigWorks) {
  AddBackend("a");
  auto stub = Dial("polaris://Echo", R"({"loadBalancingConfig": [{"polaris": {}}]})");
  EXPECT_EQ(CallMany(*stub, 10), (std::map<std::string, int>{{"a", 10}}));
}

TEST_F(PolarisChannelTest, ControlPlaneOutageKeepsTheLastInstances) {
  AddBackend("a");
  AddBackend("b");
  auto stub = Dial("polaris://Echo");
  ASSERT_TRUE(WaitUntil([&] { return CallMany(*stub, 20).size() == 2; }, absl::Seconds(10)));
  plane_->Stop();
  std::map<std::string, int> during = CallMany(*stub, 100);
  EXPECT_EQ(during["a"] + during["b"], 100) << "calls failed while the control plane was down";
  ASSERT_TRUE(plane_->Restart(ControlPlane::RestartMode::kKeepState).ok());
  // The Discover stream reconnects and later changes arrive again.
  ASSERT_FALSE(AddBackend("c").empty());
  ASSERT_TRUE(WaitUntil([&] { return CallMany(*stub, 30)["c"] > 0; }, absl::Seconds(15)));
}

TEST_F(PolarisChannelTest, BrokenDiscoverStreamIsReopened) {
  AddBackend("a");
  auto stub = Dial("polaris://Echo");
  ASSERT_TRUE(Call(*stub).ok());
  plane_->BreakDiscoverStreams();
  AddBackend("b");
  ASSERT_TRUE(WaitUntil([&] { return CallMany(*stub, 30)["b"] > 0; }, absl::Seconds(10)));
  EXPECT_EQ(CallMany(*stub, 100).size(), 2u);
}

TEST_F(PolarisChannelTest, InitRejectsBadAddress) {
  ClientOptions options;
  options.control_plane_address = "no-port";
  absl::Status status = Init(options);
  EXPECT_TRUE(absl::IsInvalidArgument(status));
  EXPECT_NE(status.message().find("control_plane_address"), absl::string_view::npos);
  EXPECT_EQ(GetClientOptions().control_plane_address, "127.0.0.1:8091");
}

}  // namespace
}  // namespace grpc_cpp_polaris
