#include "sdk/context.h"

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mockplane/control_plane.h"
#include "mockplane/wait.h"

namespace grpc_cpp_polaris {
namespace {

using mockplane::ControlPlane;
using mockplane::WaitUntil;

TEST(ContextTest, SharedPerConfiguration) {
  ContextOptions options;
  options.control_plane.address = "127.0.0.1:1";  // never reached
  options.learn_location = false;
  absl::StatusOr<std::shared_ptr<Context>> a = Context::Shared(options);
  absl::StatusOr<std::shared_ptr<Context>> b = Context::Shared(options);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());
  options.caller.service = ServiceKey{"default", "Gateway"};
  absl::StatusOr<std::shared_ptr<Context>> c = Context::Shared(options);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(a->get(), c->get());
  // Different callers, one connection to the control plane.
  EXPECT_EQ((*a)->control_plane(), (*c)->control_plane());

  // Values that read alike once joined are still different configurations.
  options.caller.metadata = {{"k", "v,x=y"}};
  absl::StatusOr<std::shared_ptr<Context>> d = Context::Shared(options);
  options.caller.metadata = {{"k", "v"}, {"x", "y"}};
  absl::StatusOr<std::shared_ptr<Context>> e = Context::Shared(options);
  ASSERT_TRUE(d.ok() && e.ok());
  EXPECT_NE(d->get(), e->get());
  EXPECT_EQ((*d)->caller()->metadata.size(), 1u);
  EXPECT_EQ((*e)->caller()->metadata.size(), 2u);
}

TEST(ControlPlaneOptionsTest, KeyTellsEveryFieldApart) {
  ControlPlaneOptions a;
  ControlPlaneOptions b;
  EXPECT_EQ(a.Key(), b.Key());
  b.rpc_timeout += absl::Milliseconds(1);
  EXPECT_NE(a.Key(), b.Key());
  b = a;
  b.max_discover_answer_bytes += 1;
  EXPECT_NE(a.Key(), b.Key());
  b = a;
  b.address = a.address + "|";
  EXPECT_NE(a.Key(), b.Key());
}

TEST(ContextTest, BadOptionsNameTheField) {
  ContextOptions options;
  options.governance.routers = {"rule", "nope"};
  absl::StatusOr<std::shared_ptr<Context>> context = Context::Shared(options);
  ASSERT_FALSE(context.ok());
  EXPECT_NE(context.status().message().find("GovernanceOptions.routers[1]"), std::string::npos)
      << context.status();
  EXPECT_NE(context.status().message().find("unknown router 'nope'"), std::string::npos);
  options = ContextOptions();
  options.governance.balancer = "ring";
  EXPECT_NE(Context::Shared(options).status().message().find("GovernanceOptions.balancer"),
            std::string::npos);
  options = ContextOptions();
  options.governance.nearby.match_level = LocationLevel::kRegion;
  options.governance.nearby.max_match_level = LocationLevel::kZone;
  EXPECT_NE(Context::Shared(options).status().message().find("nearby.max_match_level"),
            std::string::npos);
  options = ContextOptions();
  options.control_plane.address = "";
  EXPECT_NE(Context::Shared(options).status().message().find("ControlPlaneOptions.address"),
            std::string::npos);
}

TEST(ContextTest, LearnsTheCallersLocationAndTellsListeners) {
  auto plane = ControlPlane::Start();
  ASSERT_TRUE(plane.ok());
  (*plane)->SetClientLocation("127.0.0.1", Location{"r1", "zA", "c1"});
  ContextOptions options;
  options.control_plane.address = (*plane)->address();
  options.control_plane.rpc_timeout = absl::Milliseconds(100);
  options.caller.location.campus = "given";  // a given field wins
  // The control plane does not answer ReportClient until the listener is in
  // place.
  (*plane)->faults().FailNext("ReportClient", 1000000, absl::UnavailableError("not yet"));
  absl::StatusOr<std::shared_ptr<Context>> context = Context::Create(options);
  ASSERT_TRUE(context.ok());
  std::mutex mu;
  std::vector<std::string> zones_told;  // the zone each notification saw
  Context* raw = context->get();  // outlives the listener
  (*context)->AddCallerListener([&, raw] {
    std::lock_guard<std::mutex> lock(mu);
    zones_told.push_back(raw->caller()->location.zone);
  });
  EXPECT_TRUE((*context)->caller()->location.zone.empty());
  (*plane)->faults().Clear();
  ASSERT_TRUE(WaitUntil([&] { return (*context)->caller()->location.zone == "zA"; },
                        absl::Seconds(10)));
  EXPECT_EQ((*context)->caller()->location.region, "r1");
  EXPECT_EQ((*context)->caller()->location.campus, "given");
  EXPECT_EQ((*context)->caller()->ip, "127.0.0.1");
  // Told when the location was learned (and maybe before, when the first
  // attempt failed and the caller settled without it).
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return !zones_told.empty() && zones_told.back() == "zA";
      },
      absl::Seconds(10)));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_LE(zones_told.size(), 2u);
}

TEST(LocalAddressTowardsTest, LoopbackBothFamilies) {
  EXPECT_EQ(LocalAddressTowards("127.0.0.1:8091"), "127.0.0.1");
  EXPECT_EQ(LocalAddressTowards("[::1]:8091"), "::1");
  EXPECT_EQ(LocalAddressTowards("no-port"), "");
}

}  // namespace
}  // namespace grpc_cpp_polaris
