#include "mockplane/naming_registry.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "proto/v1/code.pb.h"

namespace grpc_cpp_polaris {
namespace mockplane {
namespace {

v1::Instance MakeInstance(const std::string& host, uint32_t port, uint32_t ttl = 5) {
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

v1::DiscoverRequest DiscoverEcho(const std::string& revision = "") {
  v1::DiscoverRequest request;
  request.set_type(v1::DiscoverRequest::INSTANCE);
  request.mutable_service()->mutable_name()->set_value("Echo");
  request.mutable_service()->mutable_namespace_()->set_value("default");
  if (!revision.empty()) request.mutable_service()->mutable_revision()->set_value(revision);
  return request;
}

const ServiceKey kEcho{"default", "Echo"};

class NamingRegistryTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  NamingRegistry registry_{&clock_};
};

TEST_F(NamingRegistryTest, RegisterAssignsStableIdAndDefaults) {
  v1::Response response = registry_.Register(MakeInstance("10.0.0.1", 8080));
  ASSERT_EQ(response.code().value(), v1::ExecuteSuccess);
  const std::string id = response.instance().id().value();
  EXPECT_EQ(id, NamingRegistry::InstanceId(kEcho, "10.0.0.1", 8080));
  std::vector<Instance> instances = registry_.Instances(kEcho);
  ASSERT_EQ(instances.size(), 1u);
  EXPECT_EQ(instances[0].weight, 100u);
  EXPECT_TRUE(instances[0].healthy);
  EXPECT_FALSE(instances[0].isolate);
  // Registering again replaces, never duplicates.
  EXPECT_EQ(registry_.Register(MakeInstance("10.0.0.1", 8080)).instance().id().value(), id);
  EXPECT_EQ(registry_.Instances(kEcho).size(), 1u);
}

TEST_F(NamingRegistryTest, RegisterRejectsBadRequestsWithRealCodes) {
  v1::Instance no_service = MakeInstance("10.0.0.1", 1);
  no_service.clear_service();
  EXPECT_EQ(registry_.Register(no_service).code().value(), v1::InvalidServiceName);
  v1::Instance no_namespace = MakeInstance("10.0.0.1", 1);
  no_namespace.clear_namespace_();
  EXPECT_EQ(registry_.Register(no_namespace).code().value(), v1::InvalidNamespaceName);
  EXPECT_EQ(registry_.Register(MakeInstance("", 1)).code().value(), v1::InvalidInstanceHost);
  EXPECT_EQ(registry_.Register(MakeInstance("10.0.0.1", 0)).code().value(),
            v1::InvalidInstancePort);
  EXPECT_EQ(registry_.Register(MakeInstance("10.0.0.1", 70000)).code().value(),
            v1::InvalidInstancePort);
  v1::Instance heavy = MakeInstance("10.0.0.1", 1);
  heavy.mutable_weight()->set_value(10001);
  EXPECT_EQ(registry_.Register(heavy).code().value(), v1::InvalidParameter);
  EXPECT_EQ(registry_.Register(MakeInstance("10.0.0.1", 1, 61)).code().value(),
            v1::InvalidParameter);
  v1::Instance too_much_metadata = MakeInstance("10.0.0.1", 1);
  for (int i = 0; i <= kMaxMetadataEntries; ++i) {
    (*too_much_metadata.mutable_metadata())["k" + std::to_string(i)] = "v";
  }
  EXPECT_EQ(registry_.Register(too_much_metadata).code().value(), v1::InvalidMetadata);
  EXPECT_TRUE(registry_.Instances(kEcho).empty());
}

TEST_F(NamingRegistryTest, DiscoverAnswersDataNoChangeForCurrentRevision) {
  EXPECT_EQ(registry_.Discover(DiscoverEcho())->code().value(), v1::NotFoundResource);
  registry_.Register(MakeInstance("10.0.0.1", 1));
  v1::DiscoverResponse first = *registry_.Discover(DiscoverEcho());
  ASSERT_EQ(first.code().value(), v1::ExecuteSuccess);
  ASSERT_EQ(first.instances_size(), 1);
  const std::string revision = first.service().revision().value();
  EXPECT_FALSE(revision.empty());
  v1::DiscoverResponse again = *registry_.Discover(DiscoverEcho(revision));
  EXPECT_EQ(again.code().value(), v1::DataNoChange);
  EXPECT_EQ(again.instances_size(), 0);
  registry_.Register(MakeInstance("10.0.0.2", 1));
  v1::DiscoverResponse changed = *registry_.Discover(DiscoverEcho(revision));
  EXPECT_EQ(changed.code().value(), v1::ExecuteSuccess);
  EXPECT_EQ(changed.instances_size(), 2);
  EXPECT_NE(changed.service().revision().value(), revision);
}

TEST_F(NamingRegistryTest, DiscoverRejectsBadRequests) {
  v1::DiscoverRequest routing = DiscoverEcho();
  routing.set_type(v1::DiscoverRequest::UNKNOWN);
  EXPECT_EQ(registry_.Discover(routing)->code().value(), v1::InvalidDiscoverResource);
  v1::DiscoverRequest nameless = DiscoverEcho();
  nameless.mutable_service()->clear_name();
  EXPECT_EQ(registry_.Discover(nameless)->code().value(), v1::InvalidServiceName);
}

TEST_F(NamingRegistryTest, InstanceTurnsUnhealthyAfterThreeTtlsWithoutHeartbeat) {
  const std::string id = registry_.Register(MakeInstance("10.0.0.1", 1, 2)).instance().id().value();
  clock_.Advance(absl::Seconds(5));
  registry_.CheckHealth();
  EXPECT_TRUE(registry_.Instances(kEcho)[0].healthy);  // 5 s < 3 x 2 s
  v1::Instance beat;
  beat.mutable_id()->set_value(id);
  EXPECT_EQ(registry_.Heartbeat(beat).code().value(), v1::ExecuteSuccess);
  clock_.Advance(absl::Seconds(6));
  registry_.CheckHealth();
  EXPECT_TRUE(registry_.Instances(kEcho)[0].healthy);  // exactly 3 x TTL: not yet
  const std::string before = registry_.Revision(kEcho);
  clock_.Advance(absl::Milliseconds(1));
  registry_.CheckHealth();
  EXPECT_FALSE(registry_.Instances(kEcho)[0].healthy);
  EXPECT_NE(registry_.Revision(kEcho), before);
  // A heartbeat brings it back.
  EXPECT_EQ(registry_.Heartbeat(beat).code().value(), v1::ExecuteSuccess);
  EXPECT_TRUE(registry_.Instances(kEcho)[0].healthy);
}

TEST_F(NamingRegistryTest, HeartbeatAndDeregisterOfUnknownInstances) {
  v1::Instance unknown;
  unknown.mutable_id()->set_value("nope");
  EXPECT_EQ(registry_.Heartbeat(unknown).code().value(), v1::NotFoundInstance);
  EXPECT_EQ(registry_.Deregister(unknown).code().value(), v1::NotFoundInstance);
  EXPECT_EQ(registry_.Heartbeat(v1::Instance()).code().value(), v1::InvalidInstanceID);
  registry_.Register(MakeInstance("10.0.0.1", 1, 0));
  EXPECT_EQ(registry_.Heartbeat(MakeInstance("10.0.0.1", 1)).code().value(),
            v1::HealthCheckNotOpen);
}

TEST_F(NamingRegistryTest, ChangesNotifyInstanceAndServicesListeners) {
  std::vector<std::pair<DiscoverType, ServiceKey>> changes;
  registry_.SetChangeListener(
      [&](DiscoverType type, const ServiceKey& key) { changes.emplace_back(type, key); });
  registry_.Register(MakeInstance("10.0.0.1", 1));
  // A new service changes its namespace's list of services, and the
  // namespaces, too.
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].first, v1::DiscoverRequest::INSTANCE);
  EXPECT_EQ(changes[1].first, v1::DiscoverRequest::SERVICES);
  EXPECT_EQ(changes[1].second, (ServiceKey{"default", ""}));
  EXPECT_EQ(changes[2].first, v1::DiscoverRequest::NAMESPACES);
  EXPECT_EQ(registry_.Deregister(MakeInstance("10.0.0.1", 1)).code().value(),
            v1::ExecuteSuccess);
  EXPECT_TRUE(registry_.Instances(kEcho).empty());
  ASSERT_EQ(changes.size(), 4u);
  EXPECT_EQ(changes[3], std::make_pair(v1::DiscoverRequest::INSTANCE, kEcho));
}

TEST_F(NamingRegistryTest, DiscoverServicesListsANamespace) {
  registry_.Register(MakeInstance("10.0.0.1", 1));
  v1::Instance other = MakeInstance("10.0.0.2", 1);
  other.mutable_service()->set_value("Other");
  registry_.Register(other);
  v1::Instance elsewhere = MakeInstance("10.0.0.3", 1);
  elsewhere.mutable_namespace_()->set_value("prod");
  registry_.Register(elsewhere);
  v1::DiscoverRequest request;
  request.set_type(v1::DiscoverRequest::SERVICES);
  request.mutable_service()->mutable_namespace_()->set_value("default");
  auto response = registry_.Discover(request);
  EXPECT_EQ(response->code().value(), v1::ExecuteSuccess);
  EXPECT_EQ(response->type(), v1::DiscoverResponse::SERVICES);
  ASSERT_EQ(response->services_size(), 2);
  EXPECT_EQ(response->services(0).name().value(), "Echo");
  EXPECT_EQ(response->services(1).name().value(), "Other");
  request.mutable_service()->mutable_revision()->set_value(response->service().revision().value());
  EXPECT_EQ(registry_.Discover(request)->code().value(), v1::DataNoChange);
}

TEST_F(NamingRegistryTest, DiscoverNamespacesAlwaysHasDefault) {
  v1::DiscoverRequest request;
  request.set_type(v1::DiscoverRequest::NAMESPACES);
  auto empty = registry_.Discover(request);
  ASSERT_EQ(empty->namespaces_size(), 1);
  EXPECT_EQ(empty->namespaces(0).name().value(), "default");
  v1::Instance prod = MakeInstance("10.0.0.1", 1);
  prod.mutable_namespace_()->set_value("prod");
  registry_.Register(prod);
  auto listed = registry_.Discover(request);
  ASSERT_EQ(listed->namespaces_size(), 2);
  EXPECT_EQ(listed->namespaces(1).name().value(), "prod");
  EXPECT_EQ(listed->namespaces(1).total_service_count().value(), 1u);
  request.mutable_service()->mutable_revision()->set_value(listed->service().revision().value());
  EXPECT_EQ(registry_.Discover(request)->code().value(), v1::DataNoChange);
}

TEST_F(NamingRegistryTest, AdminIsolateAndWeight) {
  const std::string id = registry_.Register(MakeInstance("10.0.0.1", 1)).instance().id().value();
  EXPECT_TRUE(registry_.SetIsolate(kEcho, id, true));
  EXPECT_TRUE(registry_.SetWeight(kEcho, id, 0));
  EXPECT_FALSE(registry_.SetWeight(kEcho, id, 10001));
  EXPECT_FALSE(registry_.SetIsolate(kEcho, "nope", true));
  Instance instance = registry_.Instances(kEcho)[0];
  EXPECT_TRUE(instance.isolate);
  EXPECT_EQ(instance.weight, 0u);
  v1::DiscoverRequest healthy_only = DiscoverEcho();
  healthy_only.mutable_filter()->set_onlyhealthyinstance(true);
  EXPECT_EQ(registry_.Discover(healthy_only)->instances_size(), 1);
}

TEST_F(NamingRegistryTest, ReportClientReturnsConfiguredLocation) {
  registry_.SetClientLocation("10.0.0.9", Location{"ap-guangzhou", "ap-guangzhou-3", "c1"});
  v1::Client client;
  client.mutable_host()->set_value("10.0.0.9");
  v1::Response response = registry_.ReportClient(client);
  EXPECT_EQ(response.code().value(), v1::ExecuteSuccess);
  EXPECT_EQ(response.client().location().zone().value(), "ap-guangzhou-3");
  EXPECT_EQ(registry_.ReportClient(v1::Client()).code().value(), v1::InvalidParameter);
}

}  // namespace
}  // namespace mockplane
}  // namespace grpc_cpp_polaris
