#include "mockplane/naming_registry.h"

#include <map>
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
  v1::Instance bad_name = MakeInstance("10.0.0.1", 1);
  bad_name.mutable_service()->set_value("echo service");  // space: not [0-9A-Za-z-./:_]
  EXPECT_EQ(registry_.Register(bad_name).code().value(), v1::InvalidServiceName);
  v1::Instance no_namespace = MakeInstance("10.0.0.1", 1);
  no_namespace.clear_namespace_();
  EXPECT_EQ(registry_.Register(no_namespace).code().value(), v1::InvalidNamespaceName);
  EXPECT_EQ(registry_.Register(MakeInstance("", 1)).code().value(), v1::InvalidInstanceHost);
  EXPECT_EQ(registry_.Register(MakeInstance(std::string(129, 'h'), 1)).code().value(),
            v1::InvalidInstanceHost);
  v1::Instance no_port = MakeInstance("10.0.0.1", 1);
  no_port.clear_port();
  EXPECT_EQ(registry_.Register(no_port).code().value(), v1::InvalidInstancePort);
  EXPECT_EQ(registry_.Register(MakeInstance("10.0.0.1", 70000)).code().value(),
            v1::InvalidInstancePort);
  v1::Instance heavy = MakeInstance("10.0.0.1", 1);
  heavy.mutable_weight()->set_value(65536);
  EXPECT_EQ(registry_.Register(heavy).code().value(), v1::InvalidParameter);
  v1::Instance long_protocol = MakeInstance("10.0.0.1", 1);
  long_protocol.mutable_protocol()->set_value(std::string(33, 'p'));
  EXPECT_EQ(registry_.Register(long_protocol).code().value(), v1::InvalidInstanceProtocol);
  v1::Instance long_version = MakeInstance("10.0.0.1", 1);
  long_version.mutable_version()->set_value(std::string(33, 'v'));
  EXPECT_EQ(registry_.Register(long_version).code().value(), v1::InvalidInstanceVersion);
  v1::Instance too_much_metadata = MakeInstance("10.0.0.1", 1);
  for (int i = 0; i <= kMaxMetadataEntries; ++i) {
    (*too_much_metadata.mutable_metadata())["k" + std::to_string(i)] = "v";
  }
  EXPECT_EQ(registry_.Register(too_much_metadata).code().value(), v1::InvalidMetadata);
  v1::Instance long_key = MakeInstance("10.0.0.1", 1);
  (*long_key.mutable_metadata())[std::string(129, 'k')] = "v";
  EXPECT_EQ(registry_.Register(long_key).code().value(), v1::InvalidMetadata);
  v1::Instance long_value = MakeInstance("10.0.0.1", 1);
  (*long_value.mutable_metadata())["k"] = std::string(4097, 'v');
  EXPECT_EQ(registry_.Register(long_value).code().value(), v1::InvalidMetadata);
  EXPECT_TRUE(registry_.Instances(kEcho).empty());
}

// Real server (CreateInstanceModel): port 0 and weight up to 65535 are accepted.
TEST_F(NamingRegistryTest, RegisterAcceptsWhatTheRealServerAccepts) {
  EXPECT_EQ(registry_.Register(MakeInstance("10.0.0.1", 0)).code().value(), v1::ExecuteSuccess);
  v1::Instance heavy = MakeInstance("10.0.0.2", 1);
  heavy.mutable_weight()->set_value(65535);
  EXPECT_EQ(registry_.Register(heavy).code().value(), v1::ExecuteSuccess);
  EXPECT_EQ(registry_.Instances(kEcho).size(), 2u);
}

TEST_F(NamingRegistryTest, HealthCheckIsOnWithHeartbeatConfigUnlessExplicitlyOff) {
  // Heartbeat config, enable_health_check absent: on.
  v1::Instance implicit = MakeInstance("10.0.0.1", 1, 2);
  implicit.clear_enable_health_check();
  registry_.Register(implicit);
  // Heartbeat config with enable_health_check=false: off.
  v1::Instance off = MakeInstance("10.0.0.2", 1, 2);
  off.mutable_enable_health_check()->set_value(false);
  registry_.Register(off);
  // enable_health_check=true without a heartbeat config: off.
  v1::Instance no_config = MakeInstance("10.0.0.3", 1, 0);
  no_config.mutable_enable_health_check()->set_value(true);
  registry_.Register(no_config);
  clock_.Advance(absl::Seconds(7));  // > 3 x 2 s without heartbeats
  registry_.CheckHealth();
  std::map<std::string, bool> healthy;
  for (const Instance& instance : registry_.Instances(kEcho)) {
    healthy[instance.host] = instance.healthy;
  }
  EXPECT_FALSE(healthy["10.0.0.1"]);
  EXPECT_TRUE(healthy["10.0.0.2"]);
  EXPECT_TRUE(healthy["10.0.0.3"]);
}

TEST_F(NamingRegistryTest, TtlOutsideRangeBecomesTheDefault) {
  for (uint32_t ttl : {61u, 1000u}) {
    v1::Instance instance = MakeInstance("10.0.0.1", ttl, ttl);
    ASSERT_EQ(registry_.Register(instance).code().value(), v1::ExecuteSuccess) << ttl;
  }
  v1::Instance zero = MakeInstance("10.0.0.1", 3, 0);
  zero.mutable_health_check()->mutable_heartbeat()->mutable_ttl()->set_value(0);
  ASSERT_EQ(registry_.Register(zero).code().value(), v1::ExecuteSuccess);
  // Default TTL 5 s: healthy at 15 s, unhealthy after.
  clock_.Advance(absl::Seconds(15));
  registry_.CheckHealth();
  for (const Instance& instance : registry_.Instances(kEcho)) EXPECT_TRUE(instance.healthy);
  clock_.Advance(absl::Milliseconds(1));
  registry_.CheckHealth();
  for (const Instance& instance : registry_.Instances(kEcho)) {
    EXPECT_FALSE(instance.healthy) << instance.port;
  }
}

TEST_F(NamingRegistryTest, HealthyIsAsRequestedDefaultTrueAndHostTrimmed) {
  v1::Instance sick = MakeInstance(" 10.0.0.1 ", 1, 5);
  sick.mutable_healthy()->set_value(false);
  v1::Response response = registry_.Register(sick);
  ASSERT_EQ(response.code().value(), v1::ExecuteSuccess);
  // The id is computed from the host as sent, the stored host is trimmed.
  EXPECT_EQ(response.instance().id().value(), NamingRegistry::InstanceId(kEcho, " 10.0.0.1 ", 1));
  registry_.Register(MakeInstance("10.0.0.2", 1, 5));
  std::map<std::string, Instance> by_host;
  for (const Instance& instance : registry_.Instances(kEcho)) by_host[instance.host] = instance;
  ASSERT_EQ(by_host.count("10.0.0.1"), 1u);
  EXPECT_FALSE(by_host["10.0.0.1"].healthy);
  EXPECT_TRUE(by_host["10.0.0.2"].healthy);
  EXPECT_EQ(by_host["10.0.0.2"].weight, 100u);
  EXPECT_FALSE(by_host["10.0.0.2"].isolate);
  // Its first heartbeat makes the health-checked one healthy.
  v1::Instance beat;
  beat.mutable_id()->set_value(response.instance().id().value());
  EXPECT_EQ(registry_.Heartbeat(beat).code().value(), v1::ExecuteSuccess);
  for (const Instance& instance : registry_.Instances(kEcho)) EXPECT_TRUE(instance.healthy);
}

// Fields the client model does not carry are served back as registered, and
// version, protocol and location also as metadata labels, as the real
// server's instance cache serves them (polaris-cpp read priority 0 where 1
// was registered, and found no rate-limit server without protocol=grpc).
TEST_F(NamingRegistryTest, DiscoverServesEveryRegisteredFieldAndInternalLabels) {
  v1::Instance request = MakeInstance("10.0.0.1", 8080);
  request.mutable_priority()->set_value(1);
  request.mutable_logic_set()->set_value("set-a");
  request.mutable_vpc_id()->set_value("vpc-1");
  request.mutable_version()->set_value("1.2.0");
  request.mutable_protocol()->set_value("grpc");
  request.mutable_location()->mutable_region()->set_value("south");
  request.mutable_location()->mutable_zone()->set_value("sz");
  (*request.mutable_metadata())["env"] = "green";
  ASSERT_EQ(registry_.Register(request).code().value(), v1::ExecuteSuccess);
  ASSERT_EQ(registry_.Register(MakeInstance("10.0.0.2", 8080, 0)).code().value(),
            v1::ExecuteSuccess);
  v1::DiscoverResponse answer = *registry_.Discover(DiscoverEcho());
  ASSERT_EQ(answer.instances_size(), 2);
  const v1::Instance& full = answer.instances(0).host().value() == "10.0.0.1"
                                 ? answer.instances(0)
                                 : answer.instances(1);
  const v1::Instance& bare = &full == &answer.instances(0) ? answer.instances(1)
                                                           : answer.instances(0);
  EXPECT_EQ(full.priority().value(), 1u);
  EXPECT_EQ(full.logic_set().value(), "set-a");
  EXPECT_EQ(full.vpc_id().value(), "vpc-1");
  EXPECT_TRUE(full.enable_health_check().value());
  EXPECT_EQ(full.health_check().heartbeat().ttl().value(), 5u);
  const std::map<std::string, std::string> labels(full.metadata().begin(),
                                                  full.metadata().end());
  EXPECT_EQ(labels, (std::map<std::string, std::string>{{"env", "green"},
                                                        {"version", "1.2.0"},
                                                        {"protocol", "grpc"},
                                                        {"region", "south"},
                                                        {"zone", "sz"},
                                                        {"campus", ""}}));
  // Nothing is made up for an instance registered without them.
  EXPECT_FALSE(bare.has_priority());
  EXPECT_FALSE(bare.has_health_check());
  EXPECT_TRUE(bare.metadata().empty());
}

TEST_F(NamingRegistryTest, ReRegisteringKeepsAnOperatorsIsolationUnlessSet) {
  const std::string id = registry_.Register(MakeInstance("10.0.0.1", 1)).instance().id().value();
  ASSERT_TRUE(registry_.SetIsolate(kEcho, id, true));
  EXPECT_EQ(registry_.Register(MakeInstance("10.0.0.1", 1)).code().value(), v1::ExecuteSuccess);
  EXPECT_TRUE(registry_.Instances(kEcho)[0].isolate);
  v1::Instance unisolate = MakeInstance("10.0.0.1", 1);
  unisolate.mutable_isolate()->set_value(false);
  registry_.Register(unisolate);
  EXPECT_FALSE(registry_.Instances(kEcho)[0].isolate);
}

TEST_F(NamingRegistryTest, CapsAnswerMaximumCapacityExceeded) {
  NamingLimits limits;
  limits.max_instances_per_service = 2;
  limits.max_services_per_namespace = 1;
  NamingRegistry small(&clock_, limits);
  EXPECT_EQ(small.Register(MakeInstance("10.0.0.1", 1)).code().value(), v1::ExecuteSuccess);
  EXPECT_EQ(small.Register(MakeInstance("10.0.0.2", 1)).code().value(), v1::ExecuteSuccess);
  v1::Response full = small.Register(MakeInstance("10.0.0.3", 1));
  EXPECT_EQ(full.code().value(), v1::MaximumCapacityExceeded);
  EXPECT_NE(full.info().value().find("2 instances"), std::string::npos) << full.info().value();
  // Replacing an existing instance is not a new one.
  EXPECT_EQ(small.Register(MakeInstance("10.0.0.2", 1)).code().value(), v1::ExecuteSuccess);
  v1::Instance other = MakeInstance("10.0.0.1", 1);
  other.mutable_service()->set_value("Other");
  EXPECT_EQ(small.Register(other).code().value(), v1::MaximumCapacityExceeded);
  EXPECT_EQ(small.Instances(ServiceKey{"default", "Other"}).size(), 0u);
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
  // The real server: the first 4 heartbeats of an unknown id succeed.
  for (int i = 0; i < kUnknownHeartbeatGrace; ++i) {
    EXPECT_EQ(registry_.Heartbeat(unknown).code().value(), v1::ExecuteSuccess) << i;
  }
  EXPECT_EQ(registry_.Heartbeat(unknown).code().value(), v1::NotFoundResource);
  // Deregistering what is not there succeeds.
  EXPECT_EQ(registry_.Deregister(unknown).code().value(), v1::ExecuteSuccess);
  EXPECT_EQ(registry_.Heartbeat(v1::Instance()).code().value(), v1::InvalidInstanceID);
  // Without health checking, heartbeats are accepted and change nothing.
  v1::Instance unchecked = MakeInstance("10.0.0.1", 1, 0);
  unchecked.mutable_healthy()->set_value(false);
  const std::string id = registry_.Register(unchecked).instance().id().value();
  EXPECT_EQ(registry_.Heartbeat(MakeInstance("10.0.0.1", 1)).code().value(), v1::ExecuteSuccess);
  EXPECT_FALSE(registry_.Instances(kEcho)[0].healthy);
  EXPECT_EQ(registry_.HeartbeatCount(kEcho, id), 1u);
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
  EXPECT_FALSE(registry_.SetWeight(kEcho, id, 65536));
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
