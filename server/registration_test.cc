#include "server/registration.h"

#include <memory>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "mockplane/control_plane.h"
#include "mockplane/echo_backend.h"
#include "mockplane/wait.h"

namespace grpc_cpp_polaris {
namespace {

using mockplane::ControlPlane;
using mockplane::EchoBackend;
using mockplane::WaitUntil;

class RegistrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto plane = ControlPlane::Start();
    ASSERT_TRUE(plane.ok()) << plane.status();
    plane_ = std::move(*plane);
    auto backend = EchoBackend::Start({"server-under-test"});
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = std::move(*backend);
    options_.service = "Echo";
    options_.control_plane_address = plane_->address();
  }

  std::vector<Instance> Registered() { return plane_->Instances(kEcho); }

  const ServiceKey kEcho{"default", "Echo"};
  std::unique_ptr<ControlPlane> plane_;
  std::unique_ptr<EchoBackend> backend_;
  RegisterOptions options_;
};

TEST_F(RegistrationTest, RegistersWithOptionsAndAutoDetectedHost) {
  options_.weight = 321;
  options_.metadata = {{"env", "test"}};
  options_.location = Location{"r1", "z1", "c1"};
  options_.version = "1.0.0";
  auto registration = Register(*backend_->server(), backend_->port(), options_);
  ASSERT_TRUE(registration.ok()) << registration.status();
  // The control plane is on loopback, so that is the address it is reached from.
  EXPECT_EQ((*registration)->host(), "127.0.0.1");
  std::vector<Instance> instances = Registered();
  ASSERT_EQ(instances.size(), 1u);
  const Instance& instance = instances[0];
  EXPECT_EQ(instance.id, (*registration)->instance_id());
  EXPECT_EQ(instance.port, static_cast<uint32_t>(backend_->port()));
  EXPECT_EQ(instance.weight, 321u);
  EXPECT_EQ(instance.metadata.at("env"), "test");
  EXPECT_EQ(instance.location.zone, "z1");
  EXPECT_EQ(instance.protocol, "grpc");
  EXPECT_EQ(instance.version, "1.0.0");
}

TEST_F(RegistrationTest, HeartbeatsKeepTheInstanceHealthyPastThreeTtls) {
  options_.ttl = absl::Seconds(1);
  auto registration = Register(*backend_->server(), backend_->port(), options_);
  ASSERT_TRUE(registration.ok()) << registration.status();
  absl::SleepFor(absl::Milliseconds(3500));  // > 3 x TTL, real clock
  ASSERT_EQ(Registered().size(), 1u);
  EXPECT_TRUE(Registered()[0].healthy);
  EXPECT_EQ((*registration)->failed_heartbeats(), 0u);
}

TEST_F(RegistrationTest, DeregisterRemovesAndIsIdempotent) {
  auto registration = Register(*backend_->server(), backend_->port(), options_);
  ASSERT_TRUE(registration.ok());
  EXPECT_TRUE((*registration)->Deregister().ok());
  EXPECT_TRUE(Registered().empty());
  EXPECT_TRUE((*registration)->Deregister().ok());
}

TEST_F(RegistrationTest, DestructionDeregisters) {
  {
    auto registration = Register(*backend_->server(), backend_->port(), options_);
    ASSERT_TRUE(registration.ok());
    EXPECT_EQ(Registered().size(), 1u);
  }
  EXPECT_TRUE(Registered().empty());
}

TEST_F(RegistrationTest, ShutdownDeregistersThenStopsTheServer) {
  options_.deregister_propagation_delay = absl::Milliseconds(50);
  options_.drain_timeout = absl::Seconds(1);
  auto registration = Register(*backend_->server(), backend_->port(), options_);
  ASSERT_TRUE(registration.ok());
  EXPECT_TRUE((*registration)->Shutdown().ok());
  EXPECT_TRUE(Registered().empty());
  // The server no longer accepts calls.
  auto channel = grpc::CreateChannel(backend_->address(), grpc::InsecureChannelCredentials());
  EXPECT_FALSE(channel->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Milliseconds(300))));
}

TEST_F(RegistrationTest, ReRegistersWhenTheControlPlaneForgetsIt) {
  options_.ttl = absl::Seconds(1);
  auto registration = Register(*backend_->server(), backend_->port(), options_);
  ASSERT_TRUE(registration.ok());
  const int port = plane_->port();
  plane_.reset();  // restart without state on the same port
  mockplane::ControlPlaneOptions options;
  options.port = port;
  auto restarted = ControlPlane::Start(options);
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  plane_ = std::move(*restarted);
  ASSERT_TRUE(WaitUntil([&] { return Registered().size() == 1; }, absl::Seconds(10)));
  EXPECT_EQ(Registered()[0].id, (*registration)->instance_id());
}

TEST_F(RegistrationTest, BadOptionsNameTheField) {
  auto expect_error = [&](const RegisterOptions& options, int port, const std::string& field) {
    auto registration = Register(*backend_->server(), port, options);
    ASSERT_FALSE(registration.ok());
    EXPECT_TRUE(absl::IsInvalidArgument(registration.status()));
    EXPECT_NE(registration.status().message().find(field), absl::string_view::npos)
        << registration.status();
  };
  RegisterOptions options = options_;
  options.service = "";
  expect_error(options, backend_->port(), "RegisterOptions.service");
  options = options_;
  options.weight = 10001;
  expect_error(options, backend_->port(), "RegisterOptions.weight");
  options = options_;
  options.ttl = absl::Seconds(61);
  expect_error(options, backend_->port(), "RegisterOptions.ttl");
  options = options_;
  options.ttl = absl::Milliseconds(1500);
  expect_error(options, backend_->port(), "RegisterOptions.ttl");
  expect_error(options_, 0, "port 0");
  EXPECT_TRUE(Registered().empty());
}

TEST_F(RegistrationTest, ControlPlaneRejectionIsReturned) {
  options_.control_plane_address = "127.0.0.1:1";  // nothing listens there
  auto registration = Register(*backend_->server(), backend_->port(), options_);
  ASSERT_FALSE(registration.ok());
  EXPECT_TRUE(absl::IsUnavailable(registration.status())) << registration.status();
}

TEST(LocalHostForTest, LoopbackAndErrors) {
  EXPECT_EQ(LocalHostFor("127.0.0.1:8091").value_or(""), "127.0.0.1");
  EXPECT_EQ(LocalHostFor("[::1]:8091").value_or(""), "::1");
  EXPECT_FALSE(LocalHostFor("no-port").ok());
}

}  // namespace
}  // namespace grpc_cpp_polaris
