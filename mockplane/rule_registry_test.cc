#include "mockplane/rule_registry.h"

#include <cstdio>
#include <fstream>
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
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0], std::make_pair(v1::DiscoverRequest::ROUTING, kEcho));

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

TEST(RuleRegistryTest, RejectsRequestsWithoutService) {
  RuleRegistry rules;
  v1::DiscoverRequest request = Ask(v1::DiscoverRequest::ROUTING);
  request.mutable_service()->clear_name();
  EXPECT_EQ(rules.Discover(request)->code().value(), v1::InvalidServiceName);
}

}  // namespace
}  // namespace mockplane
}  // namespace grpc_cpp_polaris
