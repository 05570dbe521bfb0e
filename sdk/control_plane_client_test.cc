#include "sdk/control_plane_client.h"

#include <iostream>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mockplane/control_plane.h"
#include "mockplane/wait.h"
#include "sdk/watch_recorder.h"

namespace grpc_cpp_polaris {
namespace {

using mockplane::ControlPlane;
using mockplane::WaitUntil;

const ServiceKey kEcho{"default", "Echo"};

InstanceRegistration Registration(uint32_t port, uint32_t weight = 100) {
  InstanceRegistration registration;
  registration.key = kEcho;
  registration.instance.host = "127.0.0.1";
  registration.instance.port = port;
  registration.instance.weight = weight;
  registration.instance.metadata = {{"env", "test"}};
  registration.ttl_seconds = 5;
  return registration;
}

class ControlPlaneClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto plane = ControlPlane::Start();
    ASSERT_TRUE(plane.ok()) << plane.status();
    plane_ = std::move(*plane);
    ControlPlaneOptions options;
    options.address = plane_->address();
    options.refresh_interval = absl::Seconds(30);  // pushes must do the work
    client_ = std::make_unique<ControlPlaneClient>(options);
  }

  std::unique_ptr<ControlPlane> plane_;
  std::unique_ptr<ControlPlaneClient> client_;
};

TEST_F(ControlPlaneClientTest, RegisterHeartbeatDeregister) {
  absl::StatusOr<std::string> id = client_->RegisterInstance(Registration(1001, 300));
  ASSERT_TRUE(id.ok()) << id.status();
  std::vector<Instance> instances = plane_->Instances(kEcho);
  ASSERT_EQ(instances.size(), 1u);
  EXPECT_EQ(instances[0].id, *id);
  EXPECT_EQ(instances[0].weight, 300u);
  EXPECT_EQ(instances[0].metadata.at("env"), "test");
  InstanceRef ref{kEcho, *id, "127.0.0.1", 1001, ""};
  EXPECT_TRUE(client_->Heartbeat(ref).ok());
  EXPECT_TRUE(client_->DeregisterInstance(ref).ok());
  EXPECT_TRUE(plane_->Instances(kEcho).empty());
  // Like a real server, the control plane accepts a few heartbeats of an
  // instance it does not know (it may be registering) before NotFound.
  absl::Status status;
  for (int i = 0; i < 5 && status.ok(); ++i) status = client_->Heartbeat(ref);
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
}

TEST_F(ControlPlaneClientTest, BadRegistrationNamesTheCode) {
  InstanceRegistration bad = Registration(1001);
  bad.key.service = "no spaces allowed";
  absl::StatusOr<std::string> id = client_->RegisterInstance(bad);
  ASSERT_FALSE(id.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(id.status()));
  EXPECT_NE(id.status().message().find("400120"), absl::string_view::npos) << id.status();
}

TEST_F(ControlPlaneClientTest, WatchDeliversSnapshotThenPushedChanges) {
  ASSERT_TRUE(client_->RegisterInstance(Registration(1001)).ok());
  WatchRecorder recorder;
  ControlPlaneClient::WatchId id = client_->Watch(kEcho, recorder.Callback());
  ASSERT_TRUE(WaitUntil([&] { return recorder.InstancesInLast() == 1; }, absl::Seconds(10)));
  ASSERT_TRUE(client_->RegisterInstance(Registration(1002)).ok());
  ASSERT_TRUE(WaitUntil([&] { return recorder.InstancesInLast() == 2; }, absl::Seconds(10)));
  // A second watcher of the same service gets the known snapshot at once.
  WatchRecorder second;
  ControlPlaneClient::WatchId id2 = client_->Watch(kEcho, second.Callback());
  EXPECT_EQ(second.InstancesInLast(), 2u);
  client_->Unwatch(id);
  const size_t seen = recorder.Updates().size();
  ASSERT_TRUE(client_->RegisterInstance(Registration(1003)).ok());
  ASSERT_TRUE(WaitUntil([&] { return second.InstancesInLast() == 3; }, absl::Seconds(10)));
  EXPECT_EQ(recorder.Updates().size(), seen);  // unwatched: nothing more
  client_->Unwatch(id2);
}

TEST_F(ControlPlaneClientTest, UnknownServiceIsReportedThenRecovers) {
  WatchRecorder recorder;
  client_->Watch(ServiceKey{"default", "Missing"}, recorder.Callback());
  ASSERT_TRUE(WaitUntil([&] { return !recorder.Updates().empty(); }, absl::Seconds(10)));
  EXPECT_TRUE(absl::IsNotFound(recorder.Updates()[0].status()))
      << recorder.Updates()[0].status();
  InstanceRegistration late = Registration(1001);
  late.key.service = "Missing";
  ASSERT_TRUE(client_->RegisterInstance(late).ok());
  ASSERT_TRUE(WaitUntil([&] { return recorder.InstancesInLast() == 1; }, absl::Seconds(10)));
}

TEST_F(ControlPlaneClientTest, UnreachableControlPlaneIsReported) {
  ControlPlaneOptions options;
  options.address = "127.0.0.1:1";  // nothing listens there
  ControlPlaneClient client(options);
  WatchRecorder recorder;
  client.Watch(kEcho, recorder.Callback());
  ASSERT_TRUE(WaitUntil([&] { return !recorder.Updates().empty(); }, absl::Seconds(10)));
  EXPECT_TRUE(absl::IsUnavailable(recorder.Updates()[0].status()))
      << recorder.Updates()[0].status();
  EXPECT_NE(recorder.Updates()[0].status().message().find("127.0.0.1:1"), absl::string_view::npos);
}

TEST_F(ControlPlaneClientTest, StreamReconnectsAfterControlPlaneRestart) {
  ASSERT_TRUE(client_->RegisterInstance(Registration(1001)).ok());
  WatchRecorder recorder;
  client_->Watch(kEcho, recorder.Callback());
  ASSERT_TRUE(WaitUntil([&] { return recorder.InstancesInLast() == 1; }, absl::Seconds(10)));
  const int port = plane_->port();
  plane_.reset();
  mockplane::ControlPlaneOptions options;
  options.port = port;
  auto restarted = ControlPlane::Start(options);
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  plane_ = std::move(*restarted);
  // The new plane starts empty; once a server registers, the re-opened
  // stream delivers the new state.
  ASSERT_TRUE(client_->RegisterInstance(Registration(1002)).ok());
  ASSERT_TRUE(client_->RegisterInstance(Registration(1003)).ok());
  ASSERT_TRUE(WaitUntil([&] { return recorder.InstancesInLast() == 2; }, absl::Seconds(15)));
}

// A service "Big" whose answer is ~6 MB (70 instances x 64 metadata entries,
// the most allowed, x ~1.4 KB), over gRPC's default 4 MB receive limit, and
// the small Echo with one instance.
class BigServiceTest : public ControlPlaneClientTest {
 protected:
  void SetUp() override {
    ControlPlaneClientTest::SetUp();
    const absl::Time start = absl::Now();
    for (uint32_t i = 0; i < 70; ++i) {
      InstanceRegistration registration = Registration(2000 + i);
      registration.key = kBig;
      for (int m = 0; m < 63; ++m) {  // plus Registration()'s "env"
        registration.instance.metadata["key-" + std::to_string(m)] = std::string(1400, 'x');
      }
      absl::StatusOr<std::string> id = client_->RegisterInstance(registration);
      ASSERT_TRUE(id.ok()) << i << ": " << id.status() << " after "
                           << absl::FormatDuration(absl::Now() - start);
    }
    std::cerr << "registered 70 big instances in " << absl::FormatDuration(absl::Now() - start)
              << "\n";
    ASSERT_TRUE(client_->RegisterInstance(Registration(1001)).ok());
  }

  // The watches' callbacks write into the recorders below: stop them first.
  void TearDown() override { client_.reset(); }

  // Watches both services through `client`.
  void WatchBoth(ControlPlaneClient& client) {
    client.Watch(kBig, big_recorder_.Callback());
    client.Watch(kEcho, small_recorder_.Callback());
  }

  const ServiceKey kBig{"default", "Big"};
  WatchRecorder big_recorder_;
  WatchRecorder small_recorder_;
};

TEST_F(BigServiceTest, LargeAnswerIsServedAndOtherServicesKeepUpdating) {
  const absl::Time start = absl::Now();
  WatchBoth(*client_);
  ASSERT_TRUE(WaitUntil([&] { return big_recorder_.InstancesInLast() == 70; }, absl::Seconds(30)))
      << (big_recorder_.Updates().empty() ? "nothing"
                                          : big_recorder_.Updates().back().status().ToString());
  std::cerr << "6 MB answer delivered after " << absl::FormatDuration(absl::Now() - start) << "\n";
  ASSERT_TRUE(WaitUntil([&] { return small_recorder_.InstancesInLast() == 1; }, absl::Seconds(10)));
  const absl::Time change = absl::Now();
  ASSERT_TRUE(client_->RegisterInstance(Registration(1002)).ok());
  ASSERT_TRUE(WaitUntil([&] { return small_recorder_.InstancesInLast() == 2; }, absl::Seconds(10)));
  std::cerr << "other service's change seen after " << absl::FormatDuration(absl::Now() - change)
            << "\n";
}

TEST_F(BigServiceTest, AnswerOverTheLimitFailsOnlyThatService) {
  ControlPlaneOptions options;
  options.address = plane_->address();
  options.refresh_interval = absl::Milliseconds(200);  // re-asks must not break anything
  options.max_discover_answer_bytes = 1 << 20;
  ControlPlaneClient limited(options);
  WatchBoth(limited);
  ASSERT_TRUE(WaitUntil([&] { return !big_recorder_.Updates().empty(); }, absl::Seconds(30)));
  const absl::Status error = big_recorder_.Updates()[0].status();
  EXPECT_TRUE(absl::IsResourceExhausted(error)) << error;
  EXPECT_NE(error.message().find("max_discover_answer_bytes"), std::string::npos) << error;
  EXPECT_NE(error.message().find("default/Big"), std::string::npos) << error;
  ASSERT_TRUE(WaitUntil([&] { return small_recorder_.InstancesInLast() == 1; }, absl::Seconds(10)));
  for (uint32_t port = 1002; port <= 1004; ++port) {
    ASSERT_TRUE(client_->RegisterInstance(Registration(port)).ok());
    ASSERT_TRUE(WaitUntil([&] { return small_recorder_.InstancesInLast() == port - 1000; },
                          absl::Seconds(10)))
        << port;
  }
  // The big service is not fetched again while it does not change.
  const auto updates = big_recorder_.Updates();
  EXPECT_EQ(updates.size(), 1u) << (updates.size() > 1 ? updates[1].status().ToString() : "");
}

TEST_F(ControlPlaneClientTest, ReportClientReturnsLocation) {
  plane_->SetClientLocation("127.0.0.1", Location{"r1", "z1", "c1"});
  absl::StatusOr<Location> location = client_->ReportClient("127.0.0.1");
  ASSERT_TRUE(location.ok()) << location.status();
  EXPECT_EQ(location->zone, "z1");
}

// Collects what a WatchResource watch delivers.
class ResourceRecorder {
 public:
  ControlPlaneClient::ResourceCallback Callback() {
    return [this](absl::StatusOr<ResourceUpdatePtr> update) {
      std::lock_guard<std::mutex> lock(mu_);
      updates_.push_back(std::move(update));
    };
  }
  std::vector<absl::StatusOr<ResourceUpdatePtr>> Updates() {
    std::lock_guard<std::mutex> lock(mu_);
    return updates_;
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return updates_.size();
  }

 private:
  std::mutex mu_;
  std::vector<absl::StatusOr<ResourceUpdatePtr>> updates_;
};

v1::RouteRule NearbyRule(const std::string& id) {
  v1::RouteRule rule;
  rule.set_id(id);
  rule.set_enable(true);
  rule.set_routing_policy(v1::NearbyPolicy);
  rule.mutable_routing_config()->PackFrom(v1::NearbyRoutingConfig());
  return rule;
}

TEST_F(ControlPlaneClientTest, WatchesEachResourceTypeApartWithItsRevision) {
  v1::Routing routing;
  *routing.add_rules() = NearbyRule("nearby-1");
  plane_->SetRouting(kEcho, routing);
  ResourceRecorder routing_updates;
  ResourceRecorder nearby_updates;
  client_->WatchResource(ResourceType::kRouting, kEcho, routing_updates.Callback());
  client_->WatchResource(ResourceType::kNearbyRouteRule, kEcho, nearby_updates.Callback());
  ASSERT_TRUE(WaitUntil([&] { return routing_updates.size() >= 1 && nearby_updates.size() >= 1; },
                        absl::Seconds(10)));
  absl::StatusOr<ResourceUpdatePtr> nearby = nearby_updates.Updates()[0];
  ASSERT_TRUE(nearby.ok()) << nearby.status();
  EXPECT_EQ((*nearby)->type, ResourceType::kNearbyRouteRule);
  EXPECT_EQ((*nearby)->key, kEcho);
  ASSERT_NE((*nearby)->answer, nullptr);
  ASSERT_EQ((*nearby)->answer->nearbyrouterules_size(), 1);
  EXPECT_FALSE((*nearby)->revision.empty());
  absl::StatusOr<ResourceUpdatePtr> old_shape = routing_updates.Updates()[0];
  ASSERT_TRUE(old_shape.ok());
  EXPECT_EQ((*old_shape)->answer->routing().rules_size(), 1);
  EXPECT_NE((*old_shape)->revision, (*nearby)->revision);

  // A change is pushed to each watch, newest revision last.
  *routing.add_rules() = NearbyRule("nearby-2");
  plane_->SetRouting(kEcho, routing);
  ASSERT_TRUE(WaitUntil([&] { return nearby_updates.size() >= 2; }, absl::Seconds(10)));
  absl::StatusOr<ResourceUpdatePtr> changed = nearby_updates.Updates()[1];
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ((*changed)->answer->nearbyrouterules_size(), 2);
  EXPECT_NE((*changed)->revision, (*nearby)->revision);
}

TEST(ControlPlaneClientMainlineTest, TypesTheServerLacksAreReportedOnceAndRoutingStillWorks) {
  mockplane::ControlPlaneOptions plane_options;
  plane_options.mainline_discover_types_only = true;
  std::atomic<int> lane_requests{0};
  plane_options.request_log = [&lane_requests](const std::string& line) {
    if (line.find("Discover") != std::string::npos && line.find("LANE") != std::string::npos) {
      ++lane_requests;
    }
  };
  auto plane = ControlPlane::Start(plane_options);
  ASSERT_TRUE(plane.ok()) << plane.status();
  v1::Routing routing;
  routing.add_inbounds();
  (*plane)->SetRouting(kEcho, routing);
  ControlPlaneOptions options;
  options.address = (*plane)->address();
  options.refresh_interval = absl::Milliseconds(50);  // many re-asks
  ControlPlaneClient client(options);
  ResourceRecorder routing_updates;
  ResourceRecorder lane_updates;
  client.WatchResource(ResourceType::kLane, kEcho, lane_updates.Callback());
  client.WatchResource(ResourceType::kRouting, kEcho, routing_updates.Callback());
  ASSERT_TRUE(WaitUntil([&] { return routing_updates.size() >= 1 && lane_updates.size() >= 1; },
                        absl::Seconds(10)));
  // The server's answer is typed ROUTING, but it is LANE's error, not ROUTING's.
  absl::StatusOr<ResourceUpdatePtr> lanes = lane_updates.Updates()[0];
  ASSERT_FALSE(lanes.ok());
  EXPECT_NE(lanes.status().message().find("LANE"), absl::string_view::npos) << lanes.status();
  EXPECT_NE(lanes.status().message().find("400004"), absl::string_view::npos) << lanes.status();
  // Ten more refreshes re-ask, and the same error is not delivered again.
  const int asked = lane_requests.load();
  ASSERT_TRUE(WaitUntil([&] { return lane_requests.load() >= asked + 10; }, absl::Seconds(10)));
  EXPECT_EQ(lane_updates.size(), 1u);
  for (const auto& update : routing_updates.Updates()) {
    ASSERT_TRUE(update.ok()) << update.status();
    EXPECT_EQ((*update)->answer->routing().inbounds_size(), 1);
  }
}

// Real servers (and the mock) refuse pings closer than 5 minutes.
TEST(ControlPlaneOptionsTest, DefaultKeepaliveIsWithinTheServersEnforcement) {
  EXPECT_GE(ControlPlaneOptions().keepalive_time,
            mockplane::ControlPlaneOptions().min_client_ping_interval);
  EXPECT_TRUE(ControlPlaneOptions().Validate().ok());
  ControlPlaneOptions bad;
  bad.keepalive_time = absl::Seconds(1);
  EXPECT_NE(bad.Validate().message().find("ControlPlaneOptions.keepalive_time"),
            std::string::npos);
  bad = ControlPlaneOptions();
  bad.max_discover_answer_bytes = 0;
  EXPECT_NE(bad.Validate().message().find("max_discover_answer_bytes"), std::string::npos);
}

TEST(StatusFromPolarisCodeTest, MapsCodes) {
  EXPECT_TRUE(StatusFromPolarisCode(200000, "", "x").ok());
  EXPECT_TRUE(StatusFromPolarisCode(200001, "", "x").ok());
  EXPECT_TRUE(absl::IsNotFound(StatusFromPolarisCode(400303, "", "x")));
  EXPECT_TRUE(absl::IsInvalidArgument(StatusFromPolarisCode(400132, "bad port", "x")));
  EXPECT_TRUE(absl::IsUnavailable(StatusFromPolarisCode(500000, "", "x")));
  EXPECT_NE(StatusFromPolarisCode(400132, "bad port", "Register").message().find("bad port"),
            absl::string_view::npos);
}

}  // namespace
}  // namespace grpc_cpp_polaris
