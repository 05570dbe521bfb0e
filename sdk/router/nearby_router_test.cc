#include "sdk/router/nearby_router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sdk/router/router_test_util.h"

namespace grpc_cpp_polaris {
namespace {

using ::grpc_cpp_polaris::testing::MakeInstance;
using ::grpc_cpp_polaris::testing::RouterFixture;
using ::testing::UnorderedElementsAre;

class NearbyRouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fixture_.SetInstances({MakeInstance("a-1", {}, {"r1", "zA", "c1"}),
                           MakeInstance("a-2", {}, {"r1", "zA", "c2"}),
                           MakeInstance("a-3", {}, {"r1", "zA", "c2"}),
                           MakeInstance("a-4", {}, {"r1", "zA", "c2"}),
                           MakeInstance("b-1", {}, {"r1", "zB", "c3"}),
                           MakeInstance("far-1", {}, {"r2", "zC", "c4"})});
    fixture_.caller().location = {"r1", "zA", "c1"};
    fixture_.options().nearby.enabled = true;
  }
  std::vector<std::string> Route() { return fixture_.Ids(fixture_.Route(RouteRequest())); }

  RouterFixture fixture_;
};

TEST_F(NearbyRouterTest, SameZoneWhileItHasAvailableInstances) {
  EXPECT_THAT(Route(), UnorderedElementsAre("a-1", "a-2", "a-3", "a-4"));
  fixture_.SetAvailable("a-1", false);
  fixture_.SetAvailable("a-2", false);
  fixture_.SetAvailable("a-3", false);
  // Default threshold 100%: the zone is kept while any instance is available.
  EXPECT_THAT(Route(), UnorderedElementsAre("a-4"));
  fixture_.SetAvailable("a-4", false);
  EXPECT_THAT(Route(), UnorderedElementsAre("b-1"));  // the region
  fixture_.SetAvailable("b-1", false);
  EXPECT_THAT(Route(), UnorderedElementsAre("far-1"));  // anywhere
}

TEST_F(NearbyRouterTest, DegradesWhenTheUnavailableShareReachesTheThreshold) {
  fixture_.options().nearby.unhealthy_percent_to_degrade = 50;
  fixture_.SetAvailable("a-1", false);
  EXPECT_THAT(Route(), UnorderedElementsAre("a-2", "a-3", "a-4"));  // 25% unavailable
  fixture_.SetAvailable("a-2", false);
  // 50% of the zone: the region (2 of 5 unavailable) is taken, minus
  // the unavailable ones.
  EXPECT_THAT(Route(), UnorderedElementsAre("a-3", "a-4", "b-1"));
}

TEST_F(NearbyRouterTest, MaxLevelBoundsTheDegradation) {
  fixture_.options().nearby.max_match_level = LocationLevel::kRegion;
  for (const char* id : {"a-1", "a-2", "a-3", "a-4", "b-1"}) fixture_.SetAvailable(id, false);
  // Neither zone nor region qualifies: the narrowest with instances, the
  // zone; recover-all then keeps it since nothing there is available.
  EXPECT_THAT(Route(), UnorderedElementsAre("a-1", "a-2", "a-3", "a-4"));
}

TEST_F(NearbyRouterTest, CampusLevelAndRuleLevels) {
  fixture_.options().nearby.match_level = LocationLevel::kCampus;
  EXPECT_THAT(Route(), UnorderedElementsAre("a-1"));
  // A NearbyPolicy rule from the control plane sets the levels.
  v1::NearbyRoutingConfig config;
  config.set_match_level(v1::NearbyRoutingConfig::REGION);
  v1::RouteRule rule;
  rule.set_id("n");
  rule.set_enable(true);
  rule.set_routing_policy(v1::NearbyPolicy);
  rule.mutable_routing_config()->PackFrom(config);
  v1::Routing routing;
  *routing.add_rules() = rule;
  ASSERT_TRUE(fixture_.SetRouting(routing).ok());
  fixture_.options().nearby.enabled = false;  // the rule enables it
  EXPECT_THAT(Route(), UnorderedElementsAre("a-1", "a-2", "a-3", "a-4", "b-1"));
}

TEST_F(NearbyRouterTest, UnknownCallerLocationIsNotRouted) {
  fixture_.caller().location = {};
  EXPECT_EQ(Route().size(), 6u);
}

}  // namespace
}  // namespace grpc_cpp_polaris
