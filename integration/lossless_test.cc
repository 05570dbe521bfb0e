// Lossless offline, the client's side: polaris:// channels health-check the
// instances (the resolver adds a healthCheckConfig to the application's
// service config), so an instance whose server says NOT_SERVING gets no new
// call even while the control plane still lists it, and gets calls again
// once it serves.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "integration/echo_service_fixture.h"
#include "mockplane/wait.h"

namespace grpc_cpp_polaris {
namespace {

using mockplane::WaitUntil;
using testing::Tally;

class LosslessTest : public testing::EchoServiceTest {};

TEST_F(LosslessTest, ANotServingInstanceGetsNoNewCallWhileStillRegistered) {
  AddBackend("a", {});
  AddBackend("b", {});
  auto stub = NewStub();
  Tally before = Count(*stub, 200);
  EXPECT_GT(before.by_backend["a"], 0);
  EXPECT_GT(before.by_backend["b"], 0);

  backends_["a"]->SetServing(false);
  ASSERT_TRUE(WaitUntil([&] { return Count(*stub, 20).by_backend.count("a") == 0; },
                        absl::Seconds(10)));
  Tally offline = Count(*stub, 300);
  EXPECT_EQ(offline.by_backend["a"], 0);
  EXPECT_EQ(offline.by_backend["b"], 300);
  EXPECT_EQ(plane_->Instances(testing::kEcho).size(), 2u);  // still registered

  backends_["a"]->SetServing(true);
  EXPECT_TRUE(WaitUntil([&] { return Count(*stub, 20).by_backend["a"] > 0; }, absl::Seconds(10)));
}

TEST_F(LosslessTest, TheApplicationsServiceConfigStillApplies) {
  AddBackend("a", {});
  AddBackend("b", {});
  // Round robin, from the application's config: exactly half each.
  auto stub = NewStub(R"({"loadBalancingConfig": [{"polaris": {"balancer": "round_robin"}}]})");
  ASSERT_TRUE(WaitUntil([&] { return Count(*stub, 2).by_backend.size() == 2; }, absl::Seconds(10)));
  Tally tally = Count(*stub, 100);
  EXPECT_EQ(tally.by_backend["a"], 50);
  EXPECT_EQ(tally.by_backend["b"], 50);
  backends_["b"]->SetServing(false);
  ASSERT_TRUE(WaitUntil([&] { return Count(*stub, 10).by_backend["a"] == 10; }, absl::Seconds(10)));
  EXPECT_EQ(Count(*stub, 50).by_backend["a"], 50);
}

TEST_F(LosslessTest, WithoutHealthCheckingANotServingInstanceStillGetsCalls) {
  ClientOptions options;
  options.governance.health_check.enabled = false;
  ASSERT_TRUE(Init(options).ok());
  AddBackend("a", {});
  AddBackend("b", {});
  backends_["a"]->SetServing(false);
  auto stub = NewStub();
  EXPECT_GT(Count(*stub, 200).by_backend["a"], 0);
}

}  // namespace
}  // namespace grpc_cpp_polaris
