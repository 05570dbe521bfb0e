#include "sdk/router/rule_router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sdk/router/router_test_util.h"

namespace grpc_cpp_polaris {
namespace {

using ::grpc_cpp_polaris::testing::MakeInstance;
using ::grpc_cpp_polaris::testing::Match;
using ::grpc_cpp_polaris::testing::RouterFixture;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

v1::SourceMatch Argument(v1::SourceMatch::Type type, const std::string& key,
                         const std::string& value,
                         v1::MatchString::MatchStringType match = v1::MatchString::EXACT) {
  return testing::Argument(type, key, Match(value, match));
}

v1::DestinationGroup Group(const std::string& env, uint32_t weight, uint32_t priority = 0) {
  return testing::Group("Echo", "env", env, weight, priority);
}

v1::RouteRule RuleRule(const std::string& id, uint32_t priority,
                       std::vector<v1::SourceMatch> arguments,
                       std::vector<v1::DestinationGroup> destinations) {
  return testing::RulePolicyRule(id, priority, std::move(arguments), std::move(destinations));
}

class RuleRouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fixture_.SetInstances({MakeInstance("blue-1", {{"env", "blue"}}),
                           MakeInstance("blue-2", {{"env", "blue"}}),
                           MakeInstance("green-1", {{"env", "green"}}),
                           MakeInstance("gray-1", {{"env", "gray"}})});
  }

  RouteRequest Call(const std::string& path, std::map<std::string, std::string> headers = {}) {
    RouteRequest request;
    request.path = path;
    request.headers = std::move(headers);
    return request;
  }

  RouterFixture fixture_;
};

TEST_F(RuleRouterTest, HeaderAndMethodSelectTheGroup) {
  v1::Routing routing;
  *routing.add_rules() = RuleRule(
      "vip", 0, {Argument(v1::SourceMatch::HEADER, "X-User", "^vip-", v1::MatchString::REGEX)},
      {Group("green", 100)});
  *routing.add_rules() =
      RuleRule("say", 1, {Argument(v1::SourceMatch::METHOD, "", "Say")}, {Group("blue", 100)});
  ASSERT_TRUE(fixture_.SetRouting(routing).ok());

  EXPECT_THAT(fixture_.Ids(fixture_.Route(Call("/echo.Echo/Say", {{"x-user", "vip-7"}}))),
              ElementsAre("green-1"));
  EXPECT_THAT(fixture_.Ids(fixture_.Route(Call("/echo.Echo/Say", {{"x-user", "bob"}}))),
              UnorderedElementsAre("blue-1", "blue-2"));
  // No rule matches: every instance (failover "all", upstream's default).
  EXPECT_EQ(fixture_.Ids(fixture_.Route(Call("/echo.Echo/Other"))).size(), 4u);
  // The chain reads exactly the header and the path.
  auto chain = fixture_.Chain();
  ASSERT_TRUE(chain.ok());
  EXPECT_EQ((*chain)->keys().headers, std::set<std::string>{"x-user"});
  EXPECT_TRUE((*chain)->keys().path);
}

TEST_F(RuleRouterTest, FailoverNoneFailsUnmatchedCalls) {
  v1::Routing routing;
  *routing.add_rules() =
      RuleRule("say", 0, {Argument(v1::SourceMatch::METHOD, "", "Say")}, {Group("blue", 100)});
  ASSERT_TRUE(fixture_.SetRouting(routing).ok());
  fixture_.options().rule.failover = RuleRouterOptions::Failover::kNone;
  absl::StatusOr<Candidates> routed = fixture_.Route(Call("/echo.Echo/Other"));
  ASSERT_FALSE(routed.ok());
  EXPECT_NE(routed.status().message().find("no routing rule of default/Echo"),
            absl::string_view::npos)
      << routed.status();
}

TEST_F(RuleRouterTest, GroupsShareByWeightAndInstancesByTheirs) {
  v1::Routing routing;
  *routing.add_rules() = RuleRule("split", 0, {}, {Group("blue", 80), Group("green", 20)});
  ASSERT_TRUE(fixture_.SetRouting(routing).ok());
  absl::StatusOr<Candidates> routed = fixture_.Route(Call("/echo.Echo/Say"));
  ASSERT_TRUE(routed.ok());
  std::map<std::string, double> shares = fixture_.Shares(*routed);
  EXPECT_NEAR(shares["blue-1"], 0.40, 1e-6);
  EXPECT_NEAR(shares["blue-2"], 0.40, 1e-6);
  EXPECT_NEAR(shares["green-1"], 0.20, 1e-6);
  EXPECT_EQ(shares.count("gray-1"), 0u);
}

TEST_F(RuleRouterTest, LowerPriorityFirstAndFailsOverWhenItHasNoAvailableInstance) {
  v1::Routing routing;
  *routing.add_rules() = RuleRule("prio", 0, {}, {Group("green", 100, 0), Group("blue", 100, 1)});
  ASSERT_TRUE(fixture_.SetRouting(routing).ok());
  EXPECT_THAT(fixture_.Ids(fixture_.Route(Call("/echo.Echo/Say"))), ElementsAre("green-1"));
  fixture_.SetAvailable("green-1", false);
  EXPECT_THAT(fixture_.Ids(fixture_.Route(Call("/echo.Echo/Say"))),
              UnorderedElementsAre("blue-1", "blue-2"));
  // Nothing available anywhere: recover-all keeps the first priority's group.
  fixture_.SetAvailable("blue-1", false);
  fixture_.SetAvailable("blue-2", false);
  EXPECT_THAT(fixture_.Ids(fixture_.Route(Call("/echo.Echo/Say"))), ElementsAre("green-1"));
  fixture_.options().recover_all = false;
  EXPECT_TRUE(fixture_.Ids(fixture_.Route(Call("/echo.Echo/Say"))).empty());
}

TEST_F(RuleRouterTest, IsolatedAndZeroWeightGroupsTakeNothing) {
  v1::DestinationGroup isolated = Group("green", 100);
  isolated.set_isolate(true);
  v1::Routing routing;
  *routing.add_rules() = RuleRule("iso", 0, {}, {isolated, Group("gray", 0), Group("blue", 10)});
  ASSERT_TRUE(fixture_.SetRouting(routing).ok());
  EXPECT_THAT(fixture_.Ids(fixture_.Route(Call("/echo.Echo/Say"))),
              UnorderedElementsAre("blue-1", "blue-2"));
}

TEST_F(RuleRouterTest, CallerServiceAndLabelsAndParameterDestinations) {
  v1::Routing routing;
  v1::Route* route = routing.add_inbounds();
  v1::Source* source = route->add_sources();
  source->mutable_service()->set_value("Gateway");
  source->mutable_namespace_()->set_value("default");
  (*source->mutable_metadata())["tenant"] = Match("acme");
  v1::Destination* destination = route->add_destinations();
  // PARAMETER: the instance's env must equal the call's "want-env" label.
  v1::MatchString parameter = Match("want-env");
  parameter.set_value_type(v1::MatchString::PARAMETER);
  (*destination->mutable_metadata())["env"] = parameter;
  ASSERT_TRUE(fixture_.SetRouting(routing).ok());

  RouteRequest request = Call("/echo.Echo/Say");
  request.labels = {{"tenant", "acme"}, {"want-env", "gray"}};
  // Not the Gateway: the route does not apply, every instance.
  EXPECT_EQ(fixture_.Ids(fixture_.Route(request)).size(), 4u);
  fixture_.caller().service = ServiceKey{"default", "Gateway"};
  EXPECT_THAT(fixture_.Ids(fixture_.Route(request)), ElementsAre("gray-1"));
  // The caller's own metadata stands in for a label the call lacks.
  request.labels.erase("tenant");
  fixture_.caller().metadata["tenant"] = "acme";
  EXPECT_THAT(fixture_.Ids(fixture_.Route(request)), ElementsAre("gray-1"));
}

}  // namespace
}  // namespace grpc_cpp_polaris
