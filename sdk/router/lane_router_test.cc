#include "sdk/router/lane_router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "proto/v1/lane.pb.h"
#include "sdk/router/router_test_util.h"

namespace grpc_cpp_polaris {
namespace {

using ::grpc_cpp_polaris::testing::MakeInstance;
using ::grpc_cpp_polaris::testing::HeaderLaneGroup;
using ::grpc_cpp_polaris::testing::RouterFixture;
using ::testing::UnorderedElementsAre;

// Lane group "release": entered from Gateway, through Echo; rule "gray"
// tags calls whose x-env header is "gray" and routes them to lane=gray.
v1::LaneGroup ReleaseGroup(int gray_percent = 100,
                           v1::LaneRule::LaneMatchMode mode = v1::LaneRule::STRICT) {
  return HeaderLaneGroup("release", "Gateway", {"Echo"}, "gray", "x-env", "gray", gray_percent,
                         mode);
}

class LaneRouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fixture_.SetInstances({MakeInstance("base-1"), MakeInstance("base-2"),
                           MakeInstance("gray-1", {{"lane", "gray"}}),
                           MakeInstance("blue-1", {{"lane", "blue"}})});
    fixture_.caller().service = ServiceKey{"default", "Gateway"};
  }
  absl::Status SetGroup(const v1::LaneGroup& group) {
    v1::DiscoverResponse answer;
    *answer.add_lanes() = group;
    return fixture_.SetAnswer(ResourceType::kLane, answer, LaneRules::kParserName);
  }
  static RouteRequest Call(const std::string& env, const std::string& lane = "") {
    RouteRequest request;
    if (!env.empty()) request.headers["x-env"] = env;
    request.lane = lane;
    return request;
  }

  RouterFixture fixture_;
};

TEST_F(LaneRouterTest, EntryTagsMatchingCallsIntoTheLane) {
  ASSERT_TRUE(SetGroup(ReleaseGroup()).ok());
  absl::StatusOr<RouteOutcome> tagged = fixture_.RouteFully(Call("gray"));
  ASSERT_TRUE(tagged.ok()) << tagged.status();
  EXPECT_EQ(tagged->lane_tag, "release/gray");
  ASSERT_EQ(tagged->candidates.size(), 1u);
  EXPECT_TRUE(tagged->candidates[0].enters_lane);
  EXPECT_THAT(fixture_.Ids(fixture_.Route(Call("gray"))), UnorderedElementsAre("gray-1"));
  // Untagged calls go to the baseline: no lane label at all.
  EXPECT_THAT(fixture_.Ids(fixture_.Route(Call("prod"))), UnorderedElementsAre("base-1", "base-2"));
}

TEST_F(LaneRouterTest, ACallArrivingWithATagStaysInItsLaneAnywhere) {
  ASSERT_TRUE(SetGroup(ReleaseGroup()).ok());
  fixture_.caller().service = ServiceKey{"default", "Middle"};  // not an entry
  absl::StatusOr<RouteOutcome> outcome = fixture_.RouteFully(Call("", "release/gray"));
  ASSERT_TRUE(outcome.ok());
  EXPECT_TRUE(outcome->lane_tag.empty());  // it carries its tag already
  EXPECT_THAT(fixture_.Ids(fixture_.Route(Call("", "release/gray"))),
              UnorderedElementsAre("gray-1"));
  // The short form, the lane's label value, names it too.
  EXPECT_THAT(fixture_.Ids(fixture_.Route(Call("", "gray"))), UnorderedElementsAre("gray-1"));
  // Not an entry: a matching header alone does not tag.
  EXPECT_THAT(fixture_.Ids(fixture_.Route(Call("gray"))), UnorderedElementsAre("base-1", "base-2"));
}

TEST_F(LaneRouterTest, StrictLaneWithoutInstancesFailsPermissiveFallsBack) {
  fixture_.SetInstances({MakeInstance("base-1"), MakeInstance("blue-1", {{"lane", "blue"}})});
  ASSERT_TRUE(SetGroup(ReleaseGroup()).ok());
  absl::StatusOr<Candidates> strict = fixture_.Route(Call("gray"));
  ASSERT_FALSE(strict.ok());
  EXPECT_THAT(std::string(strict.status().message()), ::testing::HasSubstr("release/gray"));
  ASSERT_TRUE(SetGroup(ReleaseGroup(100, v1::LaneRule::PERMISSIVE)).ok());
  EXPECT_THAT(fixture_.Ids(fixture_.Route(Call("gray"))), UnorderedElementsAre("base-1"));
}

TEST_F(LaneRouterTest, GrayPercentageSplitsTaggedAndBaselineTraffic) {
  ASSERT_TRUE(SetGroup(ReleaseGroup(/*gray_percent=*/30)).ok());
  absl::StatusOr<RouteOutcome> outcome = fixture_.RouteFully(Call("gray"));
  ASSERT_TRUE(outcome.ok());
  double lane = 0, total = 0;
  for (const Candidate& candidate : outcome->candidates) {
    total += candidate.weight;
    if (candidate.enters_lane) lane += candidate.weight;
  }
  EXPECT_NEAR(lane / total, 0.30, 1e-6);
  EXPECT_THAT(fixture_.Ids(outcome->candidates),
              UnorderedElementsAre("gray-1", "base-1", "base-2"));
}

TEST_F(LaneRouterTest, ExcludeEnabledLanesBaseline) {
  ASSERT_TRUE(SetGroup(ReleaseGroup()).ok());
  fixture_.options().lane.baseline = LaneRouterOptions::Baseline::kExcludeEnabledLanes;
  // blue is no enabled lane of this service: it serves baseline traffic.
  EXPECT_THAT(fixture_.Ids(fixture_.Route(Call("prod"))),
              UnorderedElementsAre("base-1", "base-2", "blue-1"));
}

TEST_F(LaneRouterTest, BadSelectorsAndEnumsNameTheField) {
  v1::LaneGroup bad = ReleaseGroup();
  bad.mutable_entries(0)->mutable_selector()->PackFrom(v1::LaneRule());
  absl::Status selector = SetGroup(bad);
  EXPECT_THAT(std::string(selector.message()),
              ::testing::HasSubstr("LANE lanes[0] (release).entries[0].selector"));
  bad = ReleaseGroup();
  bad.mutable_rules(0)->set_match_mode(static_cast<v1::LaneRule::LaneMatchMode>(7));
  EXPECT_THAT(std::string(SetGroup(bad).message()),
              ::testing::HasSubstr("rules[0] (gray).match_mode: unknown mode 7"));
}

}  // namespace
}  // namespace grpc_cpp_polaris
