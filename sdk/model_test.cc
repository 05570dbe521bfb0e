#include "sdk/model.h"

#include <gtest/gtest.h>

#include "sdk/proto_convert.h"

namespace grpc_cpp_polaris {
namespace {

TEST(InstanceTest, AddressBracketsIpv6) {
  Instance v4;
  v4.host = "127.0.0.1";
  v4.port = 8080;
  EXPECT_EQ(v4.Address(), "127.0.0.1:8080");
  Instance v6;
  v6.host = "::1";
  v6.port = 8080;
  EXPECT_EQ(v6.Address(), "[::1]:8080");
}

TEST(InstanceTest, RoutableNeedsHealthyNotIsolatedAndWeight) {
  Instance instance;
  EXPECT_TRUE(instance.Routable());
  instance.weight = 0;
  EXPECT_FALSE(instance.Routable());
  instance.weight = 1;
  instance.isolate = true;
  EXPECT_FALSE(instance.Routable());
  instance.isolate = false;
  instance.healthy = false;
  EXPECT_FALSE(instance.Routable());
}

TEST(ProtoConvertTest, RoundTripKeepsEveryField) {
  Instance instance;
  instance.id = "id-1";
  instance.host = "10.0.0.1";
  instance.port = 9090;
  instance.weight = 250;
  instance.healthy = false;
  instance.isolate = true;
  instance.protocol = "grpc";
  instance.version = "1.2.3";
  instance.metadata = {{"env", "prod"}, {"lane", "blue"}};
  instance.location = Location{"r", "z", "c"};
  v1::Instance proto;
  InstanceToProto(instance, &proto);
  Instance back = InstanceFromProto(proto);
  EXPECT_EQ(back.id, instance.id);
  EXPECT_EQ(back.Address(), instance.Address());
  EXPECT_EQ(back.weight, 250u);
  EXPECT_FALSE(back.healthy);
  EXPECT_TRUE(back.isolate);
  EXPECT_EQ(back.protocol, "grpc");
  EXPECT_EQ(back.version, "1.2.3");
  EXPECT_EQ(back.metadata, instance.metadata);
  EXPECT_EQ(back.location, instance.location);
}

TEST(ProtoConvertTest, UnsetWrappersTakeDefaults) {
  v1::Instance proto;
  proto.mutable_host()->set_value("h");
  Instance instance = InstanceFromProto(proto);
  EXPECT_EQ(instance.weight, 100u);
  EXPECT_TRUE(instance.healthy);
  EXPECT_FALSE(instance.isolate);
}

TEST(ProtoConvertTest, SnapshotFromDiscoverResponse) {
  v1::DiscoverResponse response;
  response.mutable_service()->mutable_name()->set_value("Echo");
  response.mutable_service()->mutable_namespace_()->set_value("ns");
  response.mutable_service()->mutable_revision()->set_value("rev-7");
  response.add_instances()->mutable_host()->set_value("a");
  response.add_instances()->mutable_host()->set_value("b");
  ServiceSnapshotPtr snapshot = SnapshotFromDiscoverResponse(response);
  EXPECT_EQ(snapshot->key, (ServiceKey{"ns", "Echo"}));
  EXPECT_EQ(snapshot->revision, "rev-7");
  ASSERT_EQ(snapshot->instances.size(), 2u);
  EXPECT_EQ(snapshot->instances[1].host, "b");
}

TEST(ProtoConvertTest, InstanceTimeInTheServersFormatAndOthers) {
  const absl::Time time = absl::FromUnixSeconds(1700000000);
  const std::string text = FormatInstanceTime(time);
  EXPECT_EQ(text.size(), 19u) << text;  // "2006-01-02 15:04:05"
  EXPECT_EQ(ParseInstanceTime(text), time);
  EXPECT_EQ(ParseInstanceTime("2023-11-14T22:13:20Z"), time);
  EXPECT_EQ(ParseInstanceTime("1700000000"), time);
  EXPECT_EQ(ParseInstanceTime("yesterday"), std::nullopt);
  EXPECT_EQ(ParseInstanceTime(""), std::nullopt);
  // Through the message: ctime both ways; absent or bad: unknown.
  Instance instance;
  instance.created = time;
  v1::Instance proto;
  InstanceToProto(instance, &proto);
  EXPECT_EQ(InstanceFromProto(proto).created, time);
  proto.mutable_ctime()->set_value("not a time");
  EXPECT_EQ(InstanceFromProto(proto).created, absl::InfinitePast());
  proto.clear_ctime();
  EXPECT_EQ(InstanceFromProto(proto).created, absl::InfinitePast());
}

}  // namespace
}  // namespace grpc_cpp_polaris
