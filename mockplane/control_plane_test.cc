// Drives the mock control plane through a plain gRPC client of our protos.
#include "mockplane/control_plane.h"

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

class ControlPlaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto plane = ControlPlane::Start();
    ASSERT_TRUE(plane.ok()) << plane.status();
    plane_ = std::move(*plane);
    stub_ = v1::PolarisGRPC::NewStub(
        grpc::CreateChannel(plane_->address(), grpc::InsecureChannelCredentials()));
  }

  v1::Response Register(const std::string& host, uint32_t port) {
    v1::Instance instance;
    instance.mutable_service()->set_value("Echo");
    instance.mutable_namespace_()->set_value("default");
    instance.mutable_host()->set_value(host);
    instance.mutable_port()->set_value(port);
    grpc::ClientContext context;
    v1::Response response;
    EXPECT_TRUE(stub_->RegisterInstance(&context, instance, &response).ok());
    return response;
  }

  std::unique_ptr<ControlPlane> plane_;
  std::unique_ptr<v1::PolarisGRPC::Stub> stub_;
};

TEST_F(ControlPlaneTest, ListensOnLoopback) {
  EXPECT_EQ(plane_->address().rfind("127.0.0.1:", 0), 0u);
  EXPECT_GT(plane_->port(), 0);
}

TEST_F(ControlPlaneTest, BadRequestsGetCodesNotCrashes) {
  v1::Response response = Register("127.0.0.1", 0);
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
  v1::Instance instance;
  instance.mutable_service()->set_value("Echo");
  instance.mutable_namespace_()->set_value("default");
  instance.mutable_host()->set_value("127.0.0.1");
  instance.mutable_port()->set_value(1001);
  instance.mutable_enable_health_check()->set_value(true);
  instance.mutable_health_check()->set_type(v1::HealthCheck::HEARTBEAT);
  instance.mutable_health_check()->mutable_heartbeat()->mutable_ttl()->set_value(1);
  grpc::ClientContext context;
  v1::Response response;
  ASSERT_TRUE(stub->RegisterInstance(&context, instance, &response).ok());
  const ServiceKey key{"default", "Echo"};
  clock.Advance(absl::Seconds(4));
  (*plane)->CheckHealthNow();
  ASSERT_EQ((*plane)->Instances(key).size(), 1u);
  EXPECT_FALSE((*plane)->Instances(key)[0].healthy);
}

}  // namespace
}  // namespace mockplane
}  // namespace grpc_cpp_polaris
