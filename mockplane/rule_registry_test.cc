#include "mockplane/rule_registry.h"

#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "proto/v1/code.pb.h"

namespace grpc_cpp_polaris {
namespace mockplane {
namespace {

const ServiceKey kEcho{"default", "Echo"};

v1::DiscoverRequest Ask(DiscoverType type, const std::string& revision = "") {
  v1::DiscoverRequest request;
  request.set_type(type);
  request.mutable_service()->mutable_name()->set_value("Echo");
  request.mutable_service()->mutable_namespace_()->set_value("default");
  if (!revision.empty()) request.mutable_service()->mutable_revision()->set_value(revision);
  return request;
}

TEST(RuleRegistryTest, ServesEachKindWithItsOwnRevision) {
  RuleRegistry rules;
  std::vector<std::pair<DiscoverType, ServiceKey>> changes;
  rules.SetChangeListener(
      [&](DiscoverType type, const ServiceKey& key) { changes.emplace_back(type, key); });
  // No rules yet: an empty answer.
  auto empty = rules.Discover(Ask(v1::DiscoverRequest::ROUTING));
  EXPECT_EQ(empty->code().value(), v1::ExecuteSuccess);
  EXPECT_FALSE(empty->has_routing());

  v1::Routing routing;
  routing.add_inbounds()->add_destinations()->mutable_weight()->set_value(100);
  rules.SetRouting(kEcho, routing);
  v1::CircuitBreaker breaker;
  breaker.add_rules()->set_name("cb-1");
  rules.SetCircuitBreaker(kEcho, breaker);
  // Routing also replaces the CUSTOM_ROUTE_RULE and NEARBY_ROUTE_RULE answers.
  ASSERT_EQ(changes.size(), 4u);
  EXPECT_EQ(changes[0], std::make_pair(v1::DiscoverRequest::ROUTING, kEcho));
  EXPECT_EQ(changes[1], std::make_pair(v1::DiscoverRequest::CUSTOM_ROUTE_RULE, kEcho));
  EXPECT_EQ(changes[2], std::make_pair(v1::DiscoverRequest::NEARBY_ROUTE_RULE, kEcho));
  EXPECT_EQ(changes[3], std::make_pair(v1::DiscoverRequest::CIRCUIT_BREAKER, kEcho));

  auto answer = rules.Discover(Ask(v1::DiscoverRequest::ROUTING));
  EXPECT_EQ(answer->code().value(), v1::ExecuteSuccess);
  EXPECT_EQ(answer->type(), v1::DiscoverResponse::ROUTING);
  ASSERT_EQ(answer->routing().inbounds_size(), 1);
  EXPECT_EQ(answer->routing().service().value(), "Echo");
  const std::string revision = answer->service().revision().value();
  EXPECT_EQ(answer->routing().revision().value(), revision);
  EXPECT_NE(rules.Revision(v1::DiscoverRequest::CIRCUIT_BREAKER, kEcho), revision);
  EXPECT_EQ(rules.Discover(Ask(v1::DiscoverRequest::ROUTING, revision))->code().value(),
            v1::DataNoChange);
  EXPECT_EQ(rules.Discover(Ask(v1::DiscoverRequest::CIRCUIT_BREAKER))
                ->circuitbreaker()
                .rules(0)
                .name(),
            "cb-1");

  rules.Clear(v1::DiscoverRequest::ROUTING, kEcho);
  auto cleared = rules.Discover(Ask(v1::DiscoverRequest::ROUTING, revision));
  EXPECT_EQ(cleared->code().value(), v1::ExecuteSuccess);
  EXPECT_FALSE(cleared->has_routing());
}

// As the real server's rateLimit2Client: every rule names the service it is
// served for and has an id and a revision (polaris-cpp INITs with the rule's
// own service, and keys its windows by id: without them its GLOBAL rules
// were refused by the rate-limit server and id-less rules shared a window).
TEST(RuleRegistryTest, RateLimitRulesCarryServiceIdAndRevision) {
  RuleRegistry rules;
  v1::RateLimit limits;
  limits.add_rules()->mutable_name()->set_value("a");
  limits.add_rules()->mutable_name()->set_value("b");
  v1::Rule* given = limits.add_rules();
  given->mutable_name()->set_value("c");
  given->mutable_id()->set_value("console-id");
  given->mutable_service()->set_value("Elsewhere");
  rules.SetRateLimit(kEcho, limits);
  auto answer = rules.Discover(Ask(v1::DiscoverRequest::RATE_LIMIT));
  ASSERT_EQ(answer->ratelimit().rules_size(), 3);
  std::set<std::string> ids;
  for (const v1::Rule& rule : answer->ratelimit().rules()) {
    EXPECT_EQ(rule.service().value(), "Echo");
    EXPECT_EQ(rule.namespace_().value(), "default");
    EXPECT_FALSE(rule.id().value().empty());
    EXPECT_FALSE(rule.revision().value().empty());
    ids.insert(rule.id().value());
  }
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(answer->ratelimit().rules(2).id().value(), "console-id");
  // Setting the same rules again keeps their ids and revisions (clients keep
  // their windows); a changed rule gets a new revision, the others keep
  // theirs, and an id does not depend on the rule's place.
  const v1::Rule first_a = answer->ratelimit().rules(0);
  const v1::Rule first_b = answer->ratelimit().rules(1);
  rules.SetRateLimit(kEcho, limits);
  auto again = rules.Discover(Ask(v1::DiscoverRequest::RATE_LIMIT));
  EXPECT_EQ(again->ratelimit().rules(0).id().value(), first_a.id().value());
  EXPECT_EQ(again->ratelimit().rules(0).revision().value(), first_a.revision().value());
  v1::RateLimit changed;
  *changed.add_rules() = limits.rules(1);
  *changed.add_rules() = limits.rules(0);
  changed.mutable_rules(1)->mutable_regex_combine()->set_value(true);
  rules.SetRateLimit(kEcho, changed);
  auto reordered = rules.Discover(Ask(v1::DiscoverRequest::RATE_LIMIT));
  EXPECT_EQ(reordered->ratelimit().rules(0).id().value(), first_b.id().value());
  EXPECT_EQ(reordered->ratelimit().rules(0).revision().value(), first_b.revision().value());
  EXPECT_EQ(reordered->ratelimit().rules(1).id().value(), first_a.id().value());
  EXPECT_NE(reordered->ratelimit().rules(1).revision().value(), first_a.revision().value());
  // Two rules of one name still get two ids.
  v1::RateLimit twins;
  twins.add_rules()->mutable_name()->set_value("t");
  twins.add_rules()->mutable_name()->set_value("t");
  rules.SetRateLimit(kEcho, twins);
  auto both = rules.Discover(Ask(v1::DiscoverRequest::RATE_LIMIT));
  EXPECT_NE(both->ratelimit().rules(0).id().value(), both->ratelimit().rules(1).id().value());
}

TEST(RuleRegistryTest, LoadsJsonRulesAllOrNothing) {
  RuleRegistry rules;
  ASSERT_TRUE(rules
                  .LoadJson(R"({"services": [
      {"service": "Echo",
       "routing": {"inbounds": [{"destinations": [{"metadata": {"env": {"value": {"value": "prod"}}},
                                                    "weight": 100}]}]},
       "rateLimit": {"rules": [{"name": "qps-100", "amounts": [{"maxAmount": 100,
                                                                "validDuration": "1s"}]}]}},
      {"service": "Other", "namespace": "prod",
       "circuitBreaker": {"rules": [{"name": "cb"}]}}]})")
                  .ok());
  EXPECT_EQ(rules.Discover(Ask(v1::DiscoverRequest::RATE_LIMIT))->ratelimit().rules(0).name().value(),
            "qps-100");
  EXPECT_EQ(rules.Discover(Ask(v1::DiscoverRequest::ROUTING))
                ->routing()
                .inbounds(0)
                .destinations(0)
                .metadata()
                .at("env")
                .value()
                .value(),
            "prod");
  const std::string before = rules.Revision(v1::DiscoverRequest::ROUTING, kEcho);

  // A bad file changes nothing and names the problem.
  absl::Status unknown = rules.LoadJson(
      R"({"services": [{"service": "Echo", "routing": {}}, {"service": "X", "routng": {}}]})");
  EXPECT_TRUE(absl::IsInvalidArgument(unknown));
  EXPECT_NE(unknown.message().find("routng"), absl::string_view::npos) << unknown;
  absl::Status nameless = rules.LoadJson(R"({"services": [{"routing": {}}]})");
  EXPECT_NE(nameless.message().find("services[0].service is required"), absl::string_view::npos)
      << nameless;
  EXPECT_EQ(rules.Revision(v1::DiscoverRequest::ROUTING, kEcho), before);
}

TEST(RuleRegistryTest, LoadFileReportsPath) {
  RuleRegistry rules;
  absl::Status missing = rules.LoadFile("/nonexistent/rules.json");
  EXPECT_TRUE(absl::IsNotFound(missing));
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/rules.json";
  std::ofstream(path) << R"({"services": [{"service": "Echo", "routing": {"inbounds": [{}]}}]})";
  ASSERT_TRUE(rules.LoadFile(path).ok());
  EXPECT_EQ(rules.Discover(Ask(v1::DiscoverRequest::ROUTING))->routing().inbounds_size(), 1);
  std::ofstream(path) << "{not json";
  absl::Status bad = rules.LoadFile(path);
  EXPECT_NE(bad.message().find(path), absl::string_view::npos) << bad;
}

v1::RouteRule MakeRouteRule(const std::string& id, v1::RoutingPolicy policy) {
  v1::RouteRule rule;
  rule.set_id(id);
  rule.set_name(id);
  rule.set_enable(true);
  rule.set_routing_policy(policy);
  if (policy == v1::NearbyPolicy) {
    v1::NearbyRoutingConfig config;
    config.set_match_level(v1::NearbyRoutingConfig::ZONE);
    rule.mutable_routing_config()->PackFrom(config);
  } else {
    rule.mutable_routing_config()->PackFrom(v1::RuleRoutingConfig());
  }
  return rule;
}

TEST(RuleRegistryTest, RouteRulesAreServedInBothShapes) {
  RuleRegistry rules;
  v1::Routing routing;
  *routing.add_rules() = MakeRouteRule("custom-1", v1::RulePolicy);
  *routing.add_rules() = MakeRouteRule("nearby-1", v1::NearbyPolicy);
  *routing.add_rules() = MakeRouteRule("custom-2", v1::RulePolicy);
  rules.SetRouting(kEcho, routing);

  auto old_shape = rules.Discover(Ask(v1::DiscoverRequest::ROUTING));
  EXPECT_EQ(old_shape->routing().rules_size(), 3);
  auto custom = rules.Discover(Ask(v1::DiscoverRequest::CUSTOM_ROUTE_RULE));
  EXPECT_EQ(custom->type(), v1::DiscoverResponse::CUSTOM_ROUTE_RULE);
  ASSERT_EQ(custom->customrouterules_size(), 2);
  EXPECT_EQ(custom->customrouterules(0).id(), "custom-1");
  EXPECT_EQ(custom->customrouterules(1).id(), "custom-2");
  EXPECT_EQ(custom->nearbyrouterules_size(), 0);
  auto nearby = rules.Discover(Ask(v1::DiscoverRequest::NEARBY_ROUTE_RULE));
  ASSERT_EQ(nearby->nearbyrouterules_size(), 1);
  v1::NearbyRoutingConfig config;
  ASSERT_TRUE(nearby->nearbyrouterules(0).routing_config().UnpackTo(&config));
  EXPECT_EQ(config.match_level(), v1::NearbyRoutingConfig::ZONE);
  // Each shape has its own revision, and each answers DataNoChange for it.
  const std::string revision = nearby->service().revision().value();
  EXPECT_NE(revision, custom->service().revision().value());
  EXPECT_EQ(rules.Discover(Ask(v1::DiscoverRequest::NEARBY_ROUTE_RULE, revision))->code().value(),
            v1::DataNoChange);
}

v1::LaneGroup MakeLaneGroup(const std::string& name, const std::string& entry_service,
                            const std::string& destination_service) {
  v1::LaneGroup group;
  group.set_name(name);
  v1::TrafficEntry* entry = group.add_entries();
  entry->set_type("polarismesh.cn/service");
  v1::ServiceSelector selector;
  selector.set_namespace_("default");
  selector.set_service(entry_service);
  entry->mutable_selector()->PackFrom(selector);
  v1::DestinationGroup* destination = group.add_destinations();
  destination->set_namespace_("default");
  destination->set_service(destination_service);
  v1::LaneRule* rule = group.add_rules();
  rule->set_name("gray");
  rule->set_enable(true);
  rule->set_default_label_value("gray");
  return group;
}

TEST(RuleRegistryTest, LaneGroupsAreServedToEveryServiceTheyMention) {
  RuleRegistry rules;
  ASSERT_TRUE(rules.SetLaneGroup(MakeLaneGroup("chain", "Gateway", "Echo")).ok());
  auto echo = rules.Discover(Ask(v1::DiscoverRequest::LANE));
  EXPECT_EQ(echo->type(), v1::DiscoverResponse::LANE);
  ASSERT_EQ(echo->lanes_size(), 1);
  EXPECT_EQ(echo->lanes(0).rules(0).default_label_value(), "gray");
  v1::DiscoverRequest gateway = Ask(v1::DiscoverRequest::LANE);
  gateway.mutable_service()->mutable_name()->set_value("Gateway");
  EXPECT_EQ(rules.Discover(gateway)->lanes_size(), 1);
  v1::DiscoverRequest other = Ask(v1::DiscoverRequest::LANE);
  other.mutable_service()->mutable_name()->set_value("Other");
  EXPECT_EQ(rules.Discover(other)->lanes_size(), 0);

  // Moving the group's destination elsewhere removes it from Echo.
  const std::string revision = echo->service().revision().value();
  ASSERT_TRUE(rules.SetLaneGroup(MakeLaneGroup("chain", "Gateway", "Other")).ok());
  auto moved = rules.Discover(Ask(v1::DiscoverRequest::LANE, revision));
  EXPECT_EQ(moved->code().value(), v1::ExecuteSuccess);
  EXPECT_EQ(moved->lanes_size(), 0);
  EXPECT_EQ(rules.Discover(other)->lanes_size(), 1);
  rules.RemoveLaneGroup("chain");
  EXPECT_EQ(rules.Discover(other)->lanes_size(), 0);

  // A selector that is not what its entry type says is refused, by field.
  v1::LaneGroup bad = MakeLaneGroup("bad", "Gateway", "Echo");
  bad.mutable_entries(0)->mutable_selector()->PackFrom(v1::LaneRule());
  absl::Status status = rules.SetLaneGroup(bad);
  EXPECT_TRUE(absl::IsInvalidArgument(status));
  EXPECT_NE(status.message().find("entries[0].selector"), absl::string_view::npos) << status;
}

TEST(RuleRegistryTest, ServesLosslessBlockAllowMirroringAndFaultInjection) {
  RuleRegistry rules;
  v1::LosslessRule lossless;
  lossless.mutable_losslessonline()->mutable_warmup()->set_enable(true);
  lossless.mutable_losslessonline()->mutable_warmup()->set_intervalsecond(30);
  rules.SetLossless(kEcho, lossless);
  auto answer = rules.Discover(Ask(v1::DiscoverRequest::LOSSLESS));
  // Old and new servers' fields both carry it.
  EXPECT_EQ(answer->lossless().losslessonline().warmup().intervalsecond(), 30);
  ASSERT_EQ(answer->losslessrulelist_size(), 1);
  EXPECT_EQ(answer->losslessrulelist(0).service(), "Echo");

  v1::BlockAllowListRule block;
  block.set_name("deny-test");
  rules.SetBlockAllowList(kEcho, {block});
  EXPECT_EQ(rules.Discover(Ask(v1::DiscoverRequest::BLOCK_ALLOW_RULE))->blockallowlistrule(0).name(),
            "deny-test");
  v1::TrafficMirroring mirroring;
  mirroring.mutable_mirroringpercent()->set_value(5);
  rules.SetTrafficMirroring(kEcho, {mirroring});
  EXPECT_EQ(rules.Discover(Ask(v1::DiscoverRequest::TRAFFIC_MIRRORING))
                ->trafficmirroring(0)
                .mirroringpercent()
                .value(),
            5);
  v1::FaultInjection fault;
  fault.mutable_abortfault()->set_abortpercent(10);
  rules.SetFaultInjection(kEcho, {fault});
  EXPECT_EQ(
      rules.Discover(Ask(v1::DiscoverRequest::FAULT_INJECTION))->faultinjection(0).abortfault().abortpercent(),
      10u);
}

TEST(RuleRegistryTest, RulesFileCarriesEveryKind) {
  RuleRegistry rules;
  ASSERT_TRUE(rules
                  .LoadJson(R"({"services": [{"service": "Echo",
       "lossless": {"losslessOnline": {"warmup": {"enable": true, "intervalSecond": 10}}},
       "blockAllowList": [{"name": "allow-gw"}],
       "trafficMirroring": [{"mirroringPercent": 1}],
       "faultInjection": [{"delayFault": {"delayPercent": 50, "delay": 20}}]}],
     "laneGroups": [{"name": "g", "destinations": [{"service": "Echo", "namespace": "default"}],
                     "rules": [{"name": "r", "enable": true, "defaultLabelValue": "blue"}]}]})")
                  .ok());
  EXPECT_EQ(rules.Discover(Ask(v1::DiscoverRequest::LOSSLESS))->lossless().losslessonline().warmup().intervalsecond(), 10);
  EXPECT_EQ(rules.Discover(Ask(v1::DiscoverRequest::BLOCK_ALLOW_RULE))->blockallowlistrule_size(), 1);
  EXPECT_EQ(rules.Discover(Ask(v1::DiscoverRequest::TRAFFIC_MIRRORING))->trafficmirroring_size(), 1);
  EXPECT_EQ(rules.Discover(Ask(v1::DiscoverRequest::FAULT_INJECTION))->faultinjection(0).delayfault().delay(), 20u);
  EXPECT_EQ(rules.Discover(Ask(v1::DiscoverRequest::LANE))->lanes(0).rules(0).default_label_value(), "blue");
  absl::Status nameless = rules.LoadJson(R"({"laneGroups": [{"rules": []}]})");
  EXPECT_NE(nameless.message().find("lane_groups[0].name is required"), absl::string_view::npos)
      << nameless;
}

TEST(RuleRegistryTest, MainlineModeAnswersNewTypesAsUpstreamDoes) {
  RuleRegistry rules(/*mainline_types_only=*/true);
  v1::Routing routing;
  *routing.add_rules() = MakeRouteRule("nearby-1", v1::NearbyPolicy);
  rules.SetRouting(kEcho, routing);
  EXPECT_EQ(rules.Discover(Ask(v1::DiscoverRequest::ROUTING))->code().value(), v1::ExecuteSuccess);
  for (DiscoverType type : {v1::DiscoverRequest::NEARBY_ROUTE_RULE, v1::DiscoverRequest::LANE,
                            v1::DiscoverRequest::CUSTOM_ROUTE_RULE, v1::DiscoverRequest::LOSSLESS}) {
    auto answer = rules.Discover(Ask(type));
    EXPECT_EQ(answer->code().value(), v1::InvalidDiscoverResource) << type;
    // Upstream's default case answers typed ROUTING, echoing the service.
    EXPECT_EQ(answer->type(), v1::DiscoverResponse::ROUTING);
    EXPECT_EQ(answer->service().name().value(), "Echo");
  }
}

TEST(RuleRegistryTest, RejectsRequestsWithoutService) {
  RuleRegistry rules;
  v1::DiscoverRequest request = Ask(v1::DiscoverRequest::ROUTING);
  request.mutable_service()->clear_name();
  EXPECT_EQ(rules.Discover(request)->code().value(), v1::InvalidServiceName);
}

}  // namespace
}  // namespace mockplane
}  // namespace grpc_cpp_polaris
