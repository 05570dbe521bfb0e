#include "sdk/router/routing_rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sdk/router/router_test_util.h"

namespace grpc_cpp_polaris {
namespace {

using ::grpc_cpp_polaris::testing::Match;
using ::grpc_cpp_polaris::testing::RouterFixture;

v1::RouteRule NearbyRouteRule(const std::string& id, v1::NearbyRoutingConfig::LocationLevel level,
                              uint32_t priority = 0) {
  v1::RouteRule rule = testing::NearbyPolicyRule(id, level, "Echo");
  rule.set_priority(priority);
  return rule;
}

v1::RouteRule HeaderRule(const std::string& id, const std::string& regex, uint32_t priority = 0) {
  return testing::RulePolicyRule(
      id, priority,
      {testing::Argument(v1::SourceMatch::HEADER, "X-User", Match(regex, v1::MatchString::REGEX))},
      {testing::Group("Echo", "env", "any", 100)});
}

std::shared_ptr<const RoutingRules> Rules(const RouterFixture& fixture) {
  return fixture.view().Rules<RoutingRules>();
}

TEST(RoutingRulesTest, BothShapesCountEachRuleOnce) {
  RouterFixture fixture;
  v1::Routing routing;  // an older server: everything inside ROUTING
  *routing.add_rules() = HeaderRule("custom-1", "^a");
  *routing.add_rules() = NearbyRouteRule("nearby-1", v1::NearbyRoutingConfig::REGION);
  ASSERT_TRUE(fixture.SetRouting(routing).ok());
  ASSERT_EQ(Rules(fixture)->inbounds.size(), 1u);
  ASSERT_EQ(Rules(fixture)->nearby.size(), 1u);
  EXPECT_EQ(Rules(fixture)->nearby[0].match_level, LocationLevel::kRegion);
  // A newer server sends them again under the new types: same ids, once.
  v1::DiscoverResponse custom;
  *custom.add_customrouterules() = HeaderRule("custom-1", "^a");
  *custom.add_customrouterules() = HeaderRule("custom-2", "^b", /*priority=*/1);
  ASSERT_TRUE(fixture.SetAnswer(ResourceType::kCustomRouteRule, custom).ok());
  v1::DiscoverResponse nearby;
  *nearby.add_nearbyrouterules() = NearbyRouteRule("nearby-1", v1::NearbyRoutingConfig::REGION);
  ASSERT_TRUE(fixture.SetAnswer(ResourceType::kNearbyRouteRule, nearby).ok());
  EXPECT_EQ(Rules(fixture)->inbounds.size(), 2u);
  EXPECT_EQ(Rules(fixture)->nearby.size(), 1u);
}

TEST(RoutingRulesTest, PriorityOrdersAndDisabledRulesAreSkipped) {
  RouterFixture fixture;
  v1::DiscoverResponse custom;
  *custom.add_customrouterules() = HeaderRule("late", "^late", 5);
  *custom.add_customrouterules() = HeaderRule("early", "^early", 1);
  v1::RouteRule disabled = HeaderRule("off", "^off", 0);
  disabled.set_enable(false);
  *custom.add_customrouterules() = disabled;
  ASSERT_TRUE(fixture.SetAnswer(ResourceType::kCustomRouteRule, custom).ok());
  ASSERT_EQ(Rules(fixture)->inbounds.size(), 2u);
  EXPECT_THAT(Rules(fixture)->inbounds[0].name, ::testing::HasSubstr("early"));
  EXPECT_THAT(Rules(fixture)->inbounds[1].name, ::testing::HasSubstr("late"));
}

TEST(RoutingRulesTest, BadRulesAreRejectedNamingTheField) {
  RouterFixture fixture;
  v1::DiscoverResponse custom;
  *custom.add_customrouterules() = HeaderRule("ok", "^a");
  *custom.add_customrouterules() = HeaderRule("broken", "(unclosed");
  absl::Status regex = fixture.SetAnswer(ResourceType::kCustomRouteRule, custom);
  ASSERT_FALSE(regex.ok());
  EXPECT_THAT(std::string(regex.message()),
              ::testing::HasSubstr("CUSTOM_ROUTE_RULE customRouteRules[1] (broken)"
                                   ".routing_config.rules[0].sources[0].arguments[0].value"));

  v1::DiscoverResponse unknown_enum;
  v1::RouteRule rule = HeaderRule("enum", "^a");
  v1::RuleRoutingConfig config;
  ASSERT_TRUE(rule.routing_config().UnpackTo(&config));
  config.mutable_rules(0)->mutable_sources(0)->mutable_arguments(0)->set_type(
      static_cast<v1::SourceMatch::Type>(99));
  rule.mutable_routing_config()->PackFrom(config);
  *unknown_enum.add_customrouterules() = rule;
  absl::Status type = fixture.SetAnswer(ResourceType::kCustomRouteRule, unknown_enum);
  ASSERT_FALSE(type.ok());
  EXPECT_THAT(std::string(type.message()),
              ::testing::HasSubstr("arguments[0].type: unknown SourceMatch type 99"));

  v1::DiscoverResponse wrong_any;
  v1::RouteRule mismatched = HeaderRule("any", "^a");
  mismatched.mutable_routing_config()->PackFrom(v1::NearbyRoutingConfig());
  *wrong_any.add_customrouterules() = mismatched;
  absl::Status any = fixture.SetAnswer(ResourceType::kCustomRouteRule, wrong_any);
  EXPECT_THAT(std::string(any.message()), ::testing::HasSubstr("is not a v1.RuleRoutingConfig"));

  v1::Routing v1_routing;
  (*v1_routing.add_inbounds()->add_sources()->mutable_metadata())["$header.uid"] =
      Match("1~x", v1::MatchString::RANGE);
  absl::Status range = fixture.SetRouting(v1_routing);
  EXPECT_THAT(std::string(range.message()),
              ::testing::HasSubstr("ROUTING routing.inbounds[0].sources[0].metadata[$header.uid]"));
}

TEST(RoutingRulesTest, NearbyRulesOfOtherServicesAreIgnored) {
  RouterFixture fixture;
  v1::DiscoverResponse nearby;
  v1::RouteRule other = NearbyRouteRule("other", v1::NearbyRoutingConfig::CAMPUS);
  v1::NearbyRoutingConfig config;
  ASSERT_TRUE(other.routing_config().UnpackTo(&config));
  config.set_service("Other");
  other.mutable_routing_config()->PackFrom(config);
  *nearby.add_nearbyrouterules() = other;
  ASSERT_TRUE(fixture.SetAnswer(ResourceType::kNearbyRouteRule, nearby).ok());
  EXPECT_TRUE(Rules(fixture)->nearby.empty());
}

}  // namespace
}  // namespace grpc_cpp_polaris
