// Drives the mock control plane through a plain gRPC client of our protos.
#include "mockplane/control_plane.h"

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "mockplane/wait.h"
#include "proto/v1/code.pb.h"
#include "proto/v1/grpcapi.grpc.pb.h"

namespace grpc_cpp_polaris {
namespace mockplane {
namespace {

v1::DiscoverRequest DiscoverEcho() {
  v1::DiscoverRequest request;
  request.set_type(v1::DiscoverRequest::INSTANCE);
  request.mutable_service()->mutable_name()->set_value("Echo");
  request.mutable_service()->mutable_namespace_()->set_value("default");
  return request;
}

// An Echo instance on 127.0.0.1:port; ttl > 0 turns on heartbeat checking.
v1::Instance EchoInstance(uint32_t port, uint32_t ttl = 0, const std::string& host = "127.0.0.1") {
  v1::Instance instance;
  instance.mutable_service()->set_value("Echo");
  instance.mutable_namespace_()->set_value("default");
  instance.mutable_host()->set_value(host);
  instance.mutable_port()->set_value(port);
  if (ttl > 0) {
    instance.mutable_enable_health_check()->set_value(true);
    instance.mutable_health_check()->set_type(v1::HealthCheck::HEARTBEAT);
    instance.mutable_health_check()->mutable_heartbeat()->mutable_ttl()->set_value(ttl);
  }
  return instance;
}

class ControlPlaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto plane = ControlPlane::Start();
    ASSERT_TRUE(plane.ok()) << plane.status();
    plane_ = std::move(*plane);
    stub_ = v1::PolarisGRPC::NewStub(
        grpc::CreateChannel(plane_->address(), grpc::InsecureChannelCredentials()));
  }

  v1::Response Register(const std::string& host, uint32_t port, uint32_t ttl = 0) {
    grpc::ClientContext context;
    v1::Response response;
    EXPECT_TRUE(stub_->RegisterInstance(&context, EchoInstance(port, ttl, host), &response).ok());
    return response;
  }

  std::unique_ptr<ControlPlane> plane_;
  std::unique_ptr<v1::PolarisGRPC::Stub> stub_;
};

// The local addresses of a port's listening sockets, from the kernel's
// tables, as /proc/net/tcp{,6} write them ("0100007F" is 127.0.0.1; gRPC
// listens on IPv4 through v4-mapped IPv6 sockets).
std::vector<std::string> ListeningAddresses(int port) {
  std::vector<std::string> found;
  char wanted[8];
  snprintf(wanted, sizeof(wanted), "%04X", port);
  for (const char* path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream table(path);
    std::string line;
    std::getline(table, line);  // header
    while (std::getline(table, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      if (state != "0A") continue;  // LISTEN
      const size_t colon = local.find(':');
      if (local.substr(colon + 1) == wanted) found.push_back(local.substr(0, colon));
    }
  }
  return found;
}

bool AllLoopback(const std::vector<std::string>& addresses) {
  for (const std::string& address : addresses) {
    if (address != "0100007F" && address != "0000000000000000FFFF00000100007F") return false;
  }
  return !addresses.empty();
}

// As polaris-limiter does, the rate-limit server is an instance of
// Polaris/polaris.limiter, where stock clients look it up.
TEST_F(ControlPlaneTest, TheRateLimitServerRegistersItself) {
  const ServiceKey limiter{"Polaris", "polaris.limiter"};
  std::vector<Instance> instances = plane_->Instances(limiter);
  ASSERT_EQ(instances.size(), 1u);
  EXPECT_EQ(instances[0].Address(), plane_->ratelimit_address());
  EXPECT_EQ(instances[0].protocol, "grpc");
  // A fresh server registers it again; a stopped one leaves.
  ASSERT_TRUE(plane_->Restart(ControlPlane::RestartMode::kLoseState).ok());
  EXPECT_EQ(plane_->Instances(limiter).size(), 1u);
  plane_->StopRateLimitServer();
  EXPECT_TRUE(plane_->Instances(limiter).empty());
  // Not registered when told not to.
  ControlPlaneOptions options;
  options.limiter_service = ServiceKey{};
  auto quiet = ControlPlane::Start(options);
  ASSERT_TRUE(quiet.ok()) << quiet.status();
  EXPECT_TRUE((*quiet)->Instances(limiter).empty());
}

TEST_F(ControlPlaneTest, ListensOnLoopbackOnly) {
  const std::vector<std::string> naming = ListeningAddresses(plane_->port());
  EXPECT_TRUE(AllLoopback(naming)) << testing::PrintToString(naming);
  const int ratelimit_port = std::stoi(
      plane_->ratelimit_address().substr(plane_->ratelimit_address().rfind(':') + 1));
  const std::vector<std::string> ratelimit = ListeningAddresses(ratelimit_port);
  EXPECT_TRUE(AllLoopback(ratelimit)) << testing::PrintToString(ratelimit);
}

// grpc-go's default enforcement, as the real server: a client pinging every
// 100 ms is sent GOAWAY too_many_pings and its open stream ends.
TEST_F(ControlPlaneTest, TooFrequentKeepalivePingsAreRefused) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 100);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto stub = v1::PolarisGRPC::NewStub(
      grpc::CreateCustomChannel(plane_->address(), grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  auto stream = stub->Discover(&context);
  ASSERT_TRUE(stream->Write(DiscoverEcho()));
  v1::DiscoverResponse response;
  ASSERT_TRUE(stream->Read(&response));  // the answer; then only pings
  EXPECT_FALSE(stream->Read(&response));
  const grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}


TEST_F(ControlPlaneTest, BadRequestsGetCodesNotCrashes) {
  v1::Response response = Register("127.0.0.1", 70000);
  EXPECT_EQ(response.code().value(), v1::InvalidInstancePort);
  grpc::ClientContext context;
  v1::Instance empty;
  EXPECT_TRUE(stub_->Heartbeat(&context, empty, &response).ok());
  EXPECT_EQ(response.code().value(), v1::InvalidInstanceID);
}

TEST_F(ControlPlaneTest, DiscoverStreamAnswersAndPushesChanges) {
  ASSERT_EQ(Register("127.0.0.1", 1001).code().value(), v1::ExecuteSuccess);
  grpc::ClientContext context;
  auto stream = stub_->Discover(&context);
  v1::DiscoverRequest request = DiscoverEcho();
  ASSERT_TRUE(stream->Write(request));
  v1::DiscoverResponse response;
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.code().value(), v1::ExecuteSuccess);
  EXPECT_EQ(response.instances_size(), 1);
  const std::string revision = response.service().revision().value();

  // Asking again with the revision held: DataNoChange.
  request.mutable_service()->mutable_revision()->set_value(revision);
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.code().value(), v1::DataNoChange);

  // A change is pushed unasked.
  ASSERT_EQ(Register("127.0.0.1", 1002).code().value(), v1::ExecuteSuccess);
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.code().value(), v1::ExecuteSuccess);
  EXPECT_EQ(response.instances_size(), 2);
  EXPECT_NE(response.service().revision().value(), revision);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(ControlPlaneTest, UnknownServiceThenRegisteredIsPushed) {
  grpc::ClientContext context;
  auto stream = stub_->Discover(&context);
  v1::DiscoverRequest request = DiscoverEcho();
  ASSERT_TRUE(stream->Write(request));
  v1::DiscoverResponse response;
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.code().value(), v1::NotFoundResource);
  ASSERT_EQ(Register("127.0.0.1", 1001).code().value(), v1::ExecuteSuccess);
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.code().value(), v1::ExecuteSuccess);
  EXPECT_EQ(response.instances_size(), 1);
  context.TryCancel();
}

TEST_F(ControlPlaneTest, HeartbeatExpiryWithFakeClock) {
  FakeClock clock;
  ControlPlaneOptions options;
  options.clock = &clock;
  options.health_check_interval = absl::Hours(1);  // checks only when told
  auto plane = ControlPlane::Start(options);
  ASSERT_TRUE(plane.ok());
  auto stub = v1::PolarisGRPC::NewStub(
      grpc::CreateChannel((*plane)->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::Response response;
  ASSERT_TRUE(stub->RegisterInstance(&context, EchoInstance(1001, /*ttl=*/1), &response).ok());
  const ServiceKey key{"default", "Echo"};
  clock.Advance(absl::Seconds(4));
  (*plane)->CheckHealthNow();
  ASSERT_EQ((*plane)->Instances(key).size(), 1u);
  EXPECT_FALSE((*plane)->Instances(key)[0].healthy);
}

}  // namespace
}  // namespace mockplane
}  // namespace grpc_cpp_polaris

namespace grpc_cpp_polaris {
namespace mockplane {
namespace {

class FaultInjectionTest : public ControlPlaneTest {
 protected:
  grpc::Status Heartbeat(const std::string& id, v1::Response* response) {
    v1::Instance instance;
    instance.mutable_id()->set_value(id);
    grpc::ClientContext context;
    return stub_->Heartbeat(&context, instance, response);
  }

  std::string RegisterWithTtl(uint32_t port) {
    return Register("127.0.0.1", port, /*ttl=*/1).instance().id().value();
  }
};

TEST_F(FaultInjectionTest, FailNextFailsExactlyThatManyRequests) {
  const std::string id = RegisterWithTtl(1001);
  plane_->faults().FailNext("Heartbeat", 2, absl::ResourceExhaustedError("busy"));
  v1::Response response;
  grpc::Status first = Heartbeat(id, &response);
  EXPECT_EQ(first.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(first.error_message(), "busy");
  EXPECT_EQ(Heartbeat(id, &response).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(Heartbeat(id, &response).ok());
  EXPECT_EQ(response.code().value(), v1::ExecuteSuccess);
  // Other methods were never affected.
  EXPECT_EQ(Register("127.0.0.1", 1002).code().value(), v1::ExecuteSuccess);
}

TEST_F(FaultInjectionTest, DelayNextAnswersLate) {
  plane_->faults().DelayNext("RegisterInstance", 1, absl::Milliseconds(300));
  absl::Time start = absl::Now();
  EXPECT_EQ(Register("127.0.0.1", 1001).code().value(), v1::ExecuteSuccess);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));
  // It was consumed: nothing is left to delay the next request.
  EXPECT_EQ(plane_->faults().Take("RegisterInstance").delay, absl::ZeroDuration());
}

TEST_F(FaultInjectionTest, FrozenHeartbeatsLetTheInstanceExpire) {
  const std::string id = RegisterWithTtl(1001);
  plane_->faults().FreezeHeartbeats(id);
  v1::Response response;
  EXPECT_EQ(Heartbeat(id, &response).error_code(), grpc::StatusCode::UNAVAILABLE);
  const ServiceKey key{"default", "Echo"};
  ASSERT_TRUE(WaitUntil([&] { return !plane_->Instances(key)[0].healthy; }, absl::Seconds(10)));
  plane_->faults().FreezeHeartbeats(id, false);
  EXPECT_TRUE(Heartbeat(id, &response).ok());
  EXPECT_TRUE(plane_->Instances(key)[0].healthy);
}

TEST_F(FaultInjectionTest, BreakDiscoverStreamsEndsThemWithUnavailable) {
  Register("127.0.0.1", 1001);
  grpc::ClientContext context;
  auto stream = stub_->Discover(&context);
  ASSERT_TRUE(stream->Write(DiscoverEcho()));
  v1::DiscoverResponse response;
  ASSERT_TRUE(stream->Read(&response));
  plane_->BreakDiscoverStreams();
  EXPECT_FALSE(stream->Read(&response));
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(status.error_message().find("broken by test"), std::string::npos);
}

TEST_F(FaultInjectionTest, DiscoverFaultsApplyPerRequest) {
  Register("127.0.0.1", 1001);
  plane_->faults().DelayNext("Discover", 1, absl::Milliseconds(300));
  grpc::ClientContext context;
  auto stream = stub_->Discover(&context);
  absl::Time start = absl::Now();
  ASSERT_TRUE(stream->Write(DiscoverEcho()));
  v1::DiscoverResponse response;
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));
  EXPECT_EQ(response.instances_size(), 1);
  plane_->faults().FailNext("Discover", 1, absl::InternalError("boom"));
  ASSERT_TRUE(stream->Write(DiscoverEcho()));
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::INTERNAL);
}

TEST_F(FaultInjectionTest, StopRefusesAndRestartKeepsOrLosesState) {
  Register("127.0.0.1", 1001);
  const ServiceKey key{"default", "Echo"};
  const int port = plane_->port();
  plane_->Stop();
  EXPECT_FALSE(plane_->running());
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    v1::Response response;
    v1::Instance instance;
    EXPECT_EQ(stub_->Heartbeat(&context, instance, &response).error_code(),
              grpc::StatusCode::UNAVAILABLE);
  }
  ASSERT_TRUE(plane_->Restart(ControlPlane::RestartMode::kKeepState).ok());
  EXPECT_TRUE(plane_->running());
  EXPECT_EQ(plane_->port(), port);
  EXPECT_EQ(plane_->Instances(key).size(), 1u);
  // The same channel reconnects to the restarted server.
  EXPECT_TRUE(WaitUntil(
      [&] {
        grpc::ClientContext context;
        v1::Instance instance;
        instance.mutable_id()->set_value("any");
        v1::Response response;
        return stub_->Heartbeat(&context, instance, &response).ok();
      },
      absl::Seconds(10)));
  ASSERT_TRUE(plane_->Restart(ControlPlane::RestartMode::kLoseState).ok());
  EXPECT_EQ(plane_->port(), port);
  EXPECT_TRUE(plane_->Instances(key).empty());
}

TEST_F(FaultInjectionTest, RefusedNewConnectionsKeepOpenOnesWorking) {
  Register("127.0.0.1", 1001);  // stub_'s connection is open now
  ASSERT_TRUE(plane_->RefuseNewConnections(true).ok());
  // A new connection cannot be made (its own subchannel pool, so that it
  // does not share stub_'s connection)...
  grpc::ChannelArguments args;
  args.SetInt("grpc.use_local_subchannel_pool", 1);
  auto fresh =
      grpc::CreateCustomChannel(plane_->address(), grpc::InsecureChannelCredentials(), args);
  EXPECT_FALSE(fresh->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Milliseconds(500))));
  // ...while the open connection still serves.
  EXPECT_EQ(Register("127.0.0.1", 1002).code().value(), v1::ExecuteSuccess);
  ASSERT_TRUE(plane_->RefuseNewConnections(false).ok());
  EXPECT_TRUE(fresh->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(10))));
  EXPECT_EQ(plane_->Instances(ServiceKey{"default", "Echo"}).size(), 2u);
}

TEST(RequestLogTest, LogsEveryRequest) {
  std::mutex mu;
  std::vector<std::string> lines;
  ControlPlaneOptions options;
  options.request_log = [&](const std::string& line) {
    std::lock_guard<std::mutex> lock(mu);
    lines.push_back(line);
  };
  auto plane = ControlPlane::Start(options);
  ASSERT_TRUE(plane.ok());
  auto stub = v1::PolarisGRPC::NewStub(
      grpc::CreateChannel((*plane)->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::Instance instance;
  instance.mutable_id()->set_value("abc");
  v1::Response response;
  ASSERT_TRUE(stub->Heartbeat(&context, instance, &response).ok());
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("Heartbeat"), std::string::npos);
  EXPECT_NE(lines[0].find("abc"), std::string::npos);
}

}  // namespace
}  // namespace mockplane
}  // namespace grpc_cpp_polaris

namespace grpc_cpp_polaris {
namespace mockplane {
namespace {

TEST_F(ControlPlaneTest, RulesAreServedAndPushedOverDiscover) {
  grpc::ClientContext context;
  auto stream = stub_->Discover(&context);
  v1::DiscoverRequest request = DiscoverEcho();
  request.set_type(v1::DiscoverRequest::CIRCUIT_BREAKER);
  ASSERT_TRUE(stream->Write(request));
  v1::DiscoverResponse response;
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.type(), v1::DiscoverResponse::CIRCUIT_BREAKER);
  EXPECT_FALSE(response.has_circuitbreaker());

  v1::CircuitBreaker breaker;
  breaker.add_rules()->set_name("consecutive-5");
  plane_->SetCircuitBreaker(ServiceKey{"default", "Echo"}, breaker);
  ASSERT_TRUE(stream->Read(&response));  // pushed
  EXPECT_EQ(response.code().value(), v1::ExecuteSuccess);
  ASSERT_EQ(response.circuitbreaker().rules_size(), 1);
  EXPECT_EQ(response.circuitbreaker().rules(0).name(), "consecutive-5");
  context.TryCancel();
}

TEST_F(ControlPlaneTest, BadDiscoverRequestsGetCodes) {
  grpc::ClientContext context;
  auto stream = stub_->Discover(&context);
  v1::DiscoverResponse response;
  v1::DiscoverRequest nameless = DiscoverEcho();
  nameless.set_type(v1::DiscoverRequest::ROUTING);
  nameless.mutable_service()->clear_name();
  ASSERT_TRUE(stream->Write(nameless));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.code().value(), v1::InvalidServiceName);
  v1::DiscoverRequest clusters = DiscoverEcho();
  clusters.set_type(v1::DiscoverRequest::CLUSTER);
  ASSERT_TRUE(stream->Write(clusters));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.code().value(), v1::InvalidDiscoverResource);
  v1::DiscoverRequest unknown_service = DiscoverEcho();
  ASSERT_TRUE(stream->Write(unknown_service));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.code().value(), v1::NotFoundResource);
  // The stream survives bad requests.
  Register("127.0.0.1", 1001);
  ASSERT_TRUE(stream->Read(&response));  // the pushed instance
  EXPECT_EQ(response.instances_size(), 1);
  context.TryCancel();
}

TEST_F(ControlPlaneTest, ServicesListIsPushedWhenAServiceAppears) {
  grpc::ClientContext context;
  auto stream = stub_->Discover(&context);
  v1::DiscoverRequest request;
  request.set_type(v1::DiscoverRequest::SERVICES);
  request.mutable_service()->mutable_namespace_()->set_value("default");
  ASSERT_TRUE(stream->Write(request));
  v1::DiscoverResponse response;
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.services_size(), 0);
  Register("127.0.0.1", 1001);
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_EQ(response.services_size(), 1);
  EXPECT_EQ(response.services(0).name().value(), "Echo");
  context.TryCancel();
}

TEST(ControlPlaneRulesFileTest, PreloadsAndRejectsBadFiles) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/rules.json";
  std::ofstream(path) << R"({"services": [{"service": "Echo", "rateLimit": {"rules": [{}]}}]})";
  ControlPlaneOptions options;
  options.rules_file = path;
  auto plane = ControlPlane::Start(options);
  ASSERT_TRUE(plane.ok()) << plane.status();
  auto stub = v1::PolarisGRPC::NewStub(
      grpc::CreateChannel((*plane)->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  auto stream = stub->Discover(&context);
  v1::DiscoverRequest request = DiscoverEcho();
  request.set_type(v1::DiscoverRequest::RATE_LIMIT);
  ASSERT_TRUE(stream->Write(request));
  v1::DiscoverResponse response;
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.ratelimit().rules_size(), 1);
  context.TryCancel();

  std::ofstream(path) << R"({"services": [{"service": "Echo", "rateLimits": {}}]})";
  auto bad = ControlPlane::Start(options);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("rateLimits"), absl::string_view::npos) << bad.status();
}

}  // namespace
}  // namespace mockplane
}  // namespace grpc_cpp_polaris
