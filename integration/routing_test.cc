// Routing through the public API: polaris:// channels against the mockplane
// and real echo backends, with rules pushed by the control plane and
// per-call input from client/call_options.h. Each test counts where calls
// land.
#include <functional>
#include <map>
#include <mutex>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "client/call_options.h"
#include "client/polaris_client.h"
#include "mockplane/control_plane.h"
#include "mockplane/echo_backend.h"
#include "mockplane/wait.h"
#include "proto/echo/echo.grpc.pb.h"
#include "proto/v1/routing.pb.h"
#include "sdk/context.h"
#include "sdk/router/routing_rules.h"
#include "sdk/router/rule_builders.h"
#include "integration/echo_service_fixture.h"

namespace grpc_cpp_polaris {
namespace {

using mockplane::ControlPlane;
using mockplane::EchoBackend;
using mockplane::WaitUntil;

using testing::kEcho;
using testing::Tally;

v1::MatchString Exact(const std::string& value,
                      v1::MatchString::MatchStringType type = v1::MatchString::EXACT) {
  return testing::Match(value, type);
}

v1::DestinationGroup Group(const std::string& env, uint32_t weight, uint32_t priority = 0) {
  return testing::Group(kEcho.service, "env", env, weight, priority);
}

using testing::Argument;

v1::RouteRule RuleRule(const std::string& id, uint32_t priority,
                       std::vector<v1::SourceMatch> arguments,
                       std::vector<v1::DestinationGroup> destinations) {
  return testing::RulePolicyRule(id, priority, std::move(arguments), std::move(destinations));
}

using RoutingTest = testing::EchoServiceTest;

TEST_F(RoutingTest, HeaderAndMethodMatchedCallsReachTheirGroup) {
  AddBackend("blue", {{"env", "blue"}});
  AddBackend("green", {{"env", "green"}});
  AddBackend("gray", {{"env", "gray"}});
  v1::Routing routing;
  *routing.add_rules() = RuleRule(
      "vip", 0,
      {Argument(v1::SourceMatch::HEADER, "x-user", Exact("^vip-", v1::MatchString::REGEX))},
      {Group("green", 100)});
  *routing.add_rules() =
      RuleRule("echo", 1, {Argument(v1::SourceMatch::METHOD, "", Exact("Echo"))},
               {Group("blue", 100)});
  plane_->SetRouting(kEcho, routing);
  auto stub = NewStub();
  Tally vip = Count(*stub, 100, [](grpc::ClientContext* context) {
    context->AddMetadata("x-user", "vip-42");
  });
  EXPECT_EQ(vip.by_backend["green"], 100) << vip.last_error;
  Tally plain = Count(*stub, 100, [](grpc::ClientContext* context) {
    context->AddMetadata("x-user", "bob");
  });
  EXPECT_EQ(plain.by_backend["blue"], 100) << plain.last_error;
  EXPECT_EQ(plain.failed + vip.failed, 0);
}

TEST_F(RoutingTest, GroupWeightsHoldWithinThreePercent) {
  AddBackend("blue-1", {{"env", "blue"}});
  AddBackend("blue-2", {{"env", "blue"}});
  AddBackend("green", {{"env", "green"}});
  v1::Routing routing;
  *routing.add_rules() = RuleRule("split", 0, {}, {Group("blue", 70), Group("green", 30)});
  plane_->SetRouting(kEcho, routing);
  auto stub = NewStub();
  constexpr int kCalls = 3000;
  Tally tally = Count(*stub, kCalls);
  ASSERT_EQ(tally.failed, 0) << tally.last_error;
  const double blue = (tally.by_backend["blue-1"] + tally.by_backend["blue-2"]) / double{kCalls};
  const double green = tally.by_backend["green"] / double{kCalls};
  EXPECT_NEAR(blue, 0.70, 0.03);
  EXPECT_NEAR(green, 0.30, 0.03);
  // Within the blue group, its instances share by their own weights (equal).
  EXPECT_NEAR(tally.by_backend["blue-1"] / double{kCalls}, 0.35, 0.03);
}

TEST_F(RoutingTest, PushedRuleTakesEffectAndABadOneLeavesItInForce) {
  AddBackend("blue", {{"env", "blue"}});
  AddBackend("green", {{"env", "green"}});
  auto stub = NewStub();
  Tally before = Count(*stub, 200);
  EXPECT_GT(before.by_backend["blue"], 0);
  EXPECT_GT(before.by_backend["green"], 0);

  v1::Routing routing;
  *routing.add_rules() = RuleRule("all-green", 0, {}, {Group("green", 100)});
  plane_->SetRouting(kEcho, routing);
  // Wait for the push itself: calls land on green only from then on.
  ASSERT_TRUE(WaitUntil([&] { return Count(*stub, 20).by_backend["green"] == 20; },
                        absl::Seconds(10)));
  Tally after = Count(*stub, 200);
  EXPECT_EQ(after.by_backend["green"], 200);

  // A malformed rule (a regex that does not compile): rejected, naming the
  // field; the last good rules stay in force.
  v1::Routing bad = routing;
  *bad.add_rules() = RuleRule(
      "broken", 1,
      {Argument(v1::SourceMatch::HEADER, "x-user", Exact("([", v1::MatchString::REGEX))},
      {Group("blue", 100)});
  ContextOptions observer_options;
  observer_options.control_plane.address = plane_->address();
  observer_options.learn_location = false;
  auto observer = Context::Create(observer_options);
  ASSERT_TRUE(observer.ok());
  std::mutex mu;
  std::string rejected;
  auto watch = (*observer)->WatchService(kEcho, [&](absl::StatusOr<ServiceViewPtr> view) {
    if (!view.ok()) return;
    std::lock_guard<std::mutex> lock(mu);
    auto it = (*view)->rejected.find(RoutingRules::kParserName);
    if (it != (*view)->rejected.end()) rejected = std::string(it->second.message());
  });
  plane_->SetRouting(kEcho, bad);
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return !rejected.empty();
      },
      absl::Seconds(10)));
  std::string why;
  {
    std::lock_guard<std::mutex> lock(mu);  // the observer may still be told
    why = rejected;
  }
  EXPECT_NE(why.find("(broken).routing_config.rules[0].sources[0].arguments[0].value"),
            std::string::npos)
      << why;
  Tally kept = Count(*stub, 200);
  EXPECT_EQ(kept.by_backend["green"], 200);
}

TEST_F(RoutingTest, DestinationMetadataInEachFailoverMode) {
  AddBackend("v1", {{"version", "1"}});
  AddBackend("v2", {{"version", "2"}, {"stable", "yes"}});
  AddBackend("plain", {});
  auto want = [](std::map<std::string, std::string> metadata) {
    return [metadata](grpc::ClientContext* context) {
      SetDestinationMetadata(context, metadata);
    };
  };
  {
    auto stub = NewStub();
    EXPECT_EQ(Count(*stub, 50, want({{"version", "2"}})).by_backend["v2"], 50);
    Tally none = Count(*stub, 10, want({{"version", "3"}}));
    EXPECT_EQ(none.failed, 10);
    EXPECT_NE(none.last_error.find("version=3"), std::string::npos) << none.last_error;
  }
  const std::vector<std::pair<MetadataRouterOptions::Failover, std::vector<std::string>>> modes = {
      {MetadataRouterOptions::Failover::kAll, {"plain", "v1", "v2"}},
      {MetadataRouterOptions::Failover::kNotKey, {"plain"}},
      {MetadataRouterOptions::Failover::kCustom, {"v2"}},
  };
  for (const auto& [mode, expected] : modes) {
    ClientOptions options;
    options.governance.metadata.failover = mode;
    options.governance.metadata.failover_metadata = {{"stable", "yes"}};
    ASSERT_TRUE(Init(options).ok());
    auto stub = NewStub();  // channels take the options in force when created
    Tally tally = Count(*stub, 150, want({{"version", "3"}}));
    ASSERT_EQ(tally.failed, 0) << tally.last_error;
    std::vector<std::string> reached;
    for (const auto& entry : tally.by_backend) reached.push_back(entry.first);
    EXPECT_EQ(reached, expected) << static_cast<int>(mode);
  }
}

TEST_F(RoutingTest, NearbyStaysInTheZoneAndFailsOverWithoutFailedCalls) {
  plane_->SetClientLocation("127.0.0.1", Location{"r1", "zA", ""});
  AddBackend("a-1", {}, Location{"r1", "zA", "c1"});
  AddBackend("a-2", {}, Location{"r1", "zA", "c2"});
  AddBackend("b-1", {}, Location{"r1", "zB", "c3"});
  AddBackend("b-2", {}, Location{"r1", "zB", "c4"});
  ClientOptions options;
  options.governance.nearby.enabled = true;
  ASSERT_TRUE(Init(options).ok());
  auto stub = NewStub();
  // From the very first call: the channel waits for the caller's location.
  Tally healthy = Count(*stub, 200);
  EXPECT_EQ(healthy.by_backend["a-1"] + healthy.by_backend["a-2"], 200) << healthy.last_error;

  // Zone A goes down: calls fail over to zone B, none fails.
  backends_["a-1"]->Shutdown(absl::ZeroDuration());
  backends_["a-2"]->Shutdown(absl::ZeroDuration());
  Tally degraded = Count(*stub, 200);
  EXPECT_EQ(degraded.failed, 0) << degraded.last_error;
  EXPECT_EQ(degraded.by_backend["b-1"] + degraded.by_backend["b-2"], 200);

  // A healthy instance appears in zone A again: calls return to it.
  AddBackend("a-3", {}, Location{"r1", "zA", "c1"});
  ASSERT_TRUE(WaitUntil([&] { return Count(*stub, 10).by_backend["a-3"] == 10; },
                        absl::Seconds(10)));
  Tally recovered = Count(*stub, 200);
  EXPECT_EQ(recovered.by_backend["a-3"], 200);
  EXPECT_EQ(recovered.failed, 0);
}

TEST_F(RoutingTest, RouteLabelsMatchCustomArguments) {
  AddBackend("gold", {{"tier", "gold"}});
  AddBackend("basic", {{"tier", "basic"}});
  v1::Routing routing;
  v1::DestinationGroup gold;
  gold.set_service("Echo");
  (*gold.mutable_labels())["tier"] = Exact("gold");
  gold.set_weight(100);
  *routing.add_rules() = RuleRule(
      "gold-users", 0,
      {Argument(v1::SourceMatch::CUSTOM, "user-tier", Exact("gold,platinum", v1::MatchString::IN))},
      {gold});
  plane_->SetRouting(kEcho, routing);
  auto stub = NewStub();
  Tally tally = Count(*stub, 100, [](grpc::ClientContext* context) {
    SetRouteLabels(context, {{"user-tier", "platinum"}});
  });
  EXPECT_EQ(tally.by_backend["gold"], 100) << tally.last_error;
}

TEST_F(RoutingTest, TheCallersOutboundRoutesApplyWhenTheCalleeHasNone) {
  AddBackend("blue", {{"env", "blue"}});
  AddBackend("green", {{"env", "green"}});
  // A v1 outbound route of the caller, Gateway: its calls to Echo go to green.
  v1::Routing routing;
  v1::Route* route = routing.add_outbounds();
  v1::Source* source = route->add_sources();
  source->mutable_service()->set_value("Gateway");
  source->mutable_namespace_()->set_value("default");
  v1::Destination* destination = route->add_destinations();
  destination->mutable_service()->set_value("Echo");
  destination->mutable_namespace_()->set_value("default");
  (*destination->mutable_metadata())["env"] = Exact("green");
  plane_->SetRouting(ServiceKey{"default", "Gateway"}, routing);
  ClientOptions options;
  options.caller.service = ServiceKey{"default", "Gateway"};
  ASSERT_TRUE(Init(options).ok());
  auto stub = NewStub();
  // From the first call: the channel waits for the caller's rules too.
  Tally tally = Count(*stub, 100);
  EXPECT_EQ(tally.by_backend["green"], 100) << tally.last_error;
  // An inbound rule of the callee takes precedence.
  v1::Routing inbound;
  *inbound.add_rules() = RuleRule("to-blue", 0, {}, {Group("blue", 100)});
  plane_->SetRouting(kEcho, inbound);
  ASSERT_TRUE(WaitUntil([&] { return Count(*stub, 20).by_backend["blue"] == 20; },
                        absl::Seconds(10)));
}

// A middle tier: answers Echo and Chat by calling polaris://Echo itself,
// passing the lane on (PropagateLane), and reports "its name>downstream's".
class Relay final : public echo::EchoServer::Service {
 public:
  Relay(std::string name, const std::string& control_plane) : name_(std::move(name)) {
    grpc::ChannelArguments args;
    args.SetString(kControlPlaneAddressArg, control_plane);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    downstream_ = echo::EchoServer::NewStub(
        grpc::CreateCustomChannel("polaris://Echo", grpc::InsecureChannelCredentials(), args));
  }

  grpc::Status Echo(grpc::ServerContext* context, const echo::EchoRequest* /*request*/,
                    echo::EchoResponse* response) override {
    absl::StatusOr<std::string> next = CallDownstream(*context);
    if (!next.ok()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, next.status().ToString());
    response->set_instance(absl::StrCat(name_, ">", *next));
    return grpc::Status::OK;
  }

  grpc::Status Chat(grpc::ServerContext* context,
                    grpc::ServerReaderWriter<echo::EchoResponse, echo::EchoRequest>* stream) override {
    echo::EchoRequest request;
    while (stream->Read(&request)) {
      absl::StatusOr<std::string> next = CallDownstream(*context);
      if (!next.ok()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, next.status().ToString());
      echo::EchoResponse response;
      response.set_instance(absl::StrCat(name_, ">", *next));
      if (!stream->Write(response)) break;
    }
    return grpc::Status::OK;
  }

 private:
  absl::StatusOr<std::string> CallDownstream(const grpc::ServerContextBase& incoming) {
    grpc::ClientContext outgoing;
    outgoing.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    outgoing.set_wait_for_ready(true);
    PropagateLane(incoming, &outgoing);
    echo::EchoRequest request;
    echo::EchoResponse response;
    grpc::Status status = downstream_->Echo(&outgoing, request, &response);
    if (!status.ok()) return absl::UnavailableError(status.error_message());
    return response.instance().substr(0, response.instance().find('@'));
  }

  const std::string name_;
  std::unique_ptr<echo::EchoServer::Stub> downstream_;
};

class LaneTest : public RoutingTest {
 protected:
  // Starts a relay named `name` registered as Middle with `metadata`.
  void AddRelay(const std::string& name, std::map<std::string, std::string> metadata) {
    auto relay = std::make_unique<Relay>(name, plane_->address());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(relay.get());
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    ASSERT_NE(server, nullptr);
    InstanceRegistration registration;
    registration.key = ServiceKey{"default", "Middle"};
    registration.instance.host = "127.0.0.1";
    registration.instance.port = static_cast<uint32_t>(port);
    registration.instance.metadata = std::move(metadata);
    registration.ttl_seconds = 0;
    ASSERT_TRUE(registrar_->RegisterInstance(registration).ok());
    relays_.push_back(std::move(relay));
    servers_.push_back(std::move(server));
  }
  void TearDown() override {
    for (auto& server : servers_) server->Shutdown();
    RoutingTest::TearDown();
  }

  std::unique_ptr<echo::EchoServer::Stub> MiddleStub() {
    grpc::ChannelArguments args;
    args.SetString(kControlPlaneAddressArg, plane_->address());
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return echo::EchoServer::NewStub(
        grpc::CreateCustomChannel("polaris://Middle", grpc::InsecureChannelCredentials(), args));
  }

  std::vector<std::unique_ptr<Relay>> relays_;
  std::vector<std::unique_ptr<grpc::Server>> servers_;
};

TEST_F(LaneTest, ATaggedCallStaysInTheLaneAcrossTwoHopsUnaryAndStreaming) {
  ClientOptions options;
  options.caller.service = ServiceKey{"default", "Gateway"};  // the lane's entry
  ASSERT_TRUE(Init(options).ok());
  const v1::LaneGroup group =
      testing::HeaderLaneGroup("release", "Gateway", {"Middle", "Echo"}, "gray", "x-env", "gray");
  ASSERT_TRUE(plane_->SetLaneGroup(group).ok());
  AddBackend("echo-base", {});
  AddBackend("echo-gray", {{"lane", "gray"}});
  AddRelay("mid-base", {});
  AddRelay("mid-gray", {{"lane", "gray"}});

  auto stub = MiddleStub();
  Tally gray = Count(*stub, 100, [](grpc::ClientContext* context) {
    context->AddMetadata("x-env", "gray");
  });
  EXPECT_EQ(gray.by_backend["mid-gray>echo-gray"], 100) << gray.last_error;
  Tally plain = Count(*stub, 100);
  EXPECT_EQ(plain.by_backend["mid-base>echo-base"], 100) << plain.last_error;

  // A stream: every message's downstream call stays in the lane.
  grpc::ClientContext context;
  context.AddMetadata("x-env", "gray");
  context.set_wait_for_ready(true);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto stream = stub->Chat(&context);
  int in_lane = 0;
  for (int i = 0; i < 20; ++i) {
    echo::EchoRequest request;
    ASSERT_TRUE(stream->Write(request));
    echo::EchoResponse response;
    ASSERT_TRUE(stream->Read(&response));
    in_lane += response.instance() == "mid-gray>echo-gray" ? 1 : 0;
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(in_lane, 20);
}

}  // namespace
}  // namespace grpc_cpp_polaris
