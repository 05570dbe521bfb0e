#include "server/registration.h"

#include <atomic>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "mockplane/control_plane.h"
#include "mockplane/echo_backend.h"
#include "mockplane/wait.h"
#include "server/heartbeat_hub.h"

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

TEST_F(RegistrationTest, FirstHeartbeatGoesOutWithTheRegistration) {
  FakeClock clock;  // never advanced: no heartbeat is due by time
  options_.clock = &clock;
  options_.ttl = absl::Seconds(60);
  auto registration = Register(*backend_->server(), backend_->port(), options_);
  ASSERT_TRUE(registration.ok()) << registration.status();
  EXPECT_EQ(plane_->HeartbeatCount(kEcho, (*registration)->instance_id()), 1u);
}

TEST_F(RegistrationTest, HeartbeatsEveryTtlKeepTheInstanceHealthy) {
  FakeClock plane_clock;
  mockplane::ControlPlaneOptions plane_options;
  plane_options.clock = &plane_clock;
  auto plane = ControlPlane::Start(plane_options);
  ASSERT_TRUE(plane.ok()) << plane.status();
  plane_ = std::move(*plane);
  options_.control_plane_address = plane_->address();
  FakeClock clock;
  options_.clock = &clock;
  options_.ttl = absl::Seconds(2);
  auto registration = Register(*backend_->server(), backend_->port(), options_);
  ASSERT_TRUE(registration.ok()) << registration.status();
  const std::string id = (*registration)->instance_id();
  for (uint64_t beats = 2; beats <= 6; ++beats) {
    clock.Advance(absl::Seconds(2));
    ASSERT_TRUE(WaitUntil([&] { return plane_->HeartbeatCount(kEcho, id) >= beats; },
                          absl::Seconds(10)))
        << beats;
    plane_clock.Advance(absl::Seconds(2));
    plane_->CheckHealthNow();
    ASSERT_TRUE(Registered()[0].healthy) << beats;  // 10 s > 3 x TTL in all
  }
  EXPECT_EQ((*registration)->failed_heartbeats(), 0u);
  // Without heartbeats it would not have been.
  plane_clock.Advance(absl::Seconds(6) + absl::Milliseconds(1));
  plane_->CheckHealthNow();
  EXPECT_FALSE(Registered()[0].healthy);
}

TEST_F(RegistrationTest, DeregisterRemovesAndIsIdempotent) {
  auto registration = Register(*backend_->server(), backend_->port(), options_);
  ASSERT_TRUE(registration.ok());
  EXPECT_TRUE((*registration)->Deregister().ok());
  EXPECT_TRUE(Registered().empty());
  EXPECT_TRUE((*registration)->Deregister().ok());
}

TEST_F(RegistrationTest, DeregisterTriesAgainWhileTheControlPlaneIsUnavailable) {
  auto registration = Register(*backend_->server(), backend_->port(), options_);
  ASSERT_TRUE(registration.ok());
  plane_->faults().FailNext("DeregisterInstance", 2, absl::UnavailableError("restarting"));
  EXPECT_TRUE((*registration)->Deregister().ok());
  EXPECT_TRUE(Registered().empty());
}

TEST_F(RegistrationTest, DeregisterGivesUpAfterThreeUnavailableAnswers) {
  auto registration = Register(*backend_->server(), backend_->port(), options_);
  ASSERT_TRUE(registration.ok());
  plane_->faults().FailNext("DeregisterInstance", 3, absl::UnavailableError("down"));
  EXPECT_TRUE(absl::IsUnavailable((*registration)->Deregister()));
  EXPECT_EQ(Registered().size(), 1u);
}

TEST_F(RegistrationTest, AllRegistrationsWithAControlPlaneShareOneHeartbeatThread) {
  auto first = Register(*backend_->server(), backend_->port(), options_);
  ASSERT_TRUE(first.ok());
  RegisterOptions other = options_;
  other.service = "Other";
  auto second = Register(*backend_->server(), backend_->port(), other);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(HeartbeatHub::For(options_.control_plane_address).tasks(), 2u);
  EXPECT_TRUE(HeartbeatHub::For(options_.control_plane_address).running());
  first->reset();
  second->reset();
  EXPECT_EQ(HeartbeatHub::For(options_.control_plane_address).tasks(), 0u);
  EXPECT_FALSE(HeartbeatHub::For(options_.control_plane_address).running());
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

TEST_F(RegistrationTest, RegistersAgainAsSoonAsARestartedControlPlaneIsBack) {
  FakeClock clock;  // heartbeats never fall due: the reconnection alone must do it
  options_.clock = &clock;
  options_.ttl = absl::Seconds(5);
  auto registration = Register(*backend_->server(), backend_->port(), options_);
  ASSERT_TRUE(registration.ok());
  ASSERT_TRUE(plane_->Restart(ControlPlane::RestartMode::kLoseState).ok());
  EXPECT_TRUE(Registered().empty());
  // Within 2 x TTL; in practice within the reconnect backoff (1 s at most).
  const absl::Time start = absl::Now();
  ASSERT_TRUE(WaitUntil([&] { return Registered().size() == 1; }, absl::Seconds(10)));
  std::cerr << "registered again " << absl::FormatDuration(absl::Now() - start)
            << " after the restart\n";
  EXPECT_EQ(Registered()[0].id, (*registration)->instance_id());
}

TEST_F(RegistrationTest, RegisterWaitsForAControlPlaneThatIsComingBack) {
  auto registration = Register(*backend_->server(), backend_->port(), options_);
  ASSERT_TRUE(registration.ok());
  plane_->Stop();
  // The shared client sees the control plane down...
  EXPECT_FALSE((*registration)->Deregister().ok());
  ASSERT_TRUE(plane_->Restart(ControlPlane::RestartMode::kLoseState).ok());
  // ...and the next call waits for the reconnection instead of failing fast.
  auto again = Register(*backend_->server(), backend_->port(), options_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(Registered().size(), 1u);
}

TEST_F(RegistrationTest, ConcurrentDeregisterAndShutdownAreSafe) {
  options_.deregister_propagation_delay = absl::ZeroDuration();
  options_.drain_timeout = absl::Seconds(1);
  auto registration = Register(*backend_->server(), backend_->port(), options_);
  ASSERT_TRUE(registration.ok());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      absl::Status status =
          i % 2 == 0 ? (*registration)->Shutdown() : (*registration)->Deregister();
      if (status.ok()) ++ok;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_TRUE(Registered().empty());
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
  options_.service = "echo service";  // the control plane allows no space in names
  auto registration = Register(*backend_->server(), backend_->port(), options_);
  ASSERT_FALSE(registration.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(registration.status())) << registration.status();
  EXPECT_NE(registration.status().message().find("400120"), absl::string_view::npos)
      << registration.status();
}

TEST(LocalHostForTest, LoopbackAndErrors) {
  EXPECT_EQ(LocalHostFor("127.0.0.1:8091").value_or(""), "127.0.0.1");
  EXPECT_EQ(LocalHostFor("[::1]:8091").value_or(""), "::1");
  EXPECT_FALSE(LocalHostFor("no-port").ok());
}

}  // namespace
}  // namespace grpc_cpp_polaris
