#include "sdk/limiter/rate_limit_rules.h"

#include <gtest/gtest.h>

#include "proto/v1/ratelimit.pb.h"
#include "proto/v1/response.pb.h"
#include "sdk/limiter/rule_builders_for_test.h"
#include "sdk/parse_for_test.h"
#include "sdk/rule/fake_inbound_call.h"

namespace grpc_cpp_polaris {
namespace {

const ServiceKey kKey{"default", "EchoService"};

v1::Rule QpsRule(const std::string& id, uint32_t max, int64_t seconds) {
  return testing::QpsRule(kKey, id, max, seconds);
}

absl::StatusOr<std::shared_ptr<const RateLimitRules>> Parse(std::vector<v1::Rule> rules) {
  v1::DiscoverResponse answer;
  for (v1::Rule& rule : rules) *answer.mutable_ratelimit()->add_rules() = std::move(rule);
  return testing::ParseAnswer<RateLimitRules>(*MakeRateLimitRulesParser(),
                                              ResourceType::kRateLimit, kKey, std::move(answer));
}

TEST(RateLimitRulesTest, ReadsAmountsActionsAndArguments) {
  v1::Rule qps = QpsRule("r1", 100, 1);
  v1::Amount* minute = qps.add_amounts();
  minute->mutable_maxamount()->set_value(1000);
  minute->mutable_validduration()->set_seconds(60);
  qps.mutable_name()->set_value("per-user");
  qps.mutable_action()->set_value("UNIRATE");
  qps.mutable_max_queue_delay()->set_value(3);
  qps.mutable_method()->mutable_value()->set_value("/echo.EchoService/Echo");
  v1::MatchArgument* user = qps.add_arguments();
  user->set_type(v1::MatchArgument::HEADER);
  user->set_key("x-user");
  user->mutable_value()->set_type(v1::MatchString::REGEX);
  user->mutable_value()->mutable_value()->set_value("^a");
  qps.mutable_customresponse()->set_body("slow down");

  v1::Rule concurrency = QpsRule("r0", 0, 0);
  concurrency.clear_amounts();
  concurrency.set_resource(v1::Rule::CONCURRENCY);
  concurrency.mutable_concurrencyamount()->set_maxamount(7);
  concurrency.mutable_priority()->set_value(0);
  qps.mutable_priority()->set_value(1);

  absl::StatusOr<std::shared_ptr<const RateLimitRules>> parsed = Parse({qps, concurrency});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const std::vector<RateLimitRule>& rules = (*parsed)->rules;
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].id, "r0");  // priority first
  EXPECT_EQ(rules[0].resource, RateLimitRule::Resource::kConcurrency);
  EXPECT_EQ(rules[0].max_concurrency, 7u);
  const RateLimitRule& rule = rules[1];
  EXPECT_EQ(rule.DisplayName(), "per-user (r1)");
  EXPECT_EQ(rule.action, RateLimitRule::Action::kUniformQueue);
  EXPECT_EQ(rule.max_queue_delay, absl::Seconds(3));
  ASSERT_EQ(rule.amounts.size(), 2u);
  EXPECT_EQ(rule.amounts[1].max, 1000u);
  EXPECT_EQ(rule.amounts[1].duration, absl::Minutes(1));
  EXPECT_EQ(rule.custom_response, "slow down");
  EXPECT_TRUE(rule.WindowPerValue());

  testing::FakeInboundCall call;
  call.headers["x-user"] = "alice";
  EXPECT_TRUE(rule.Matches(call));
  call.headers["x-user"] = "bob";
  EXPECT_FALSE(rule.Matches(call));
  call.headers["x-user"] = "alice";
  call.method_name = "/echo.EchoService/Other";
  EXPECT_FALSE(rule.Matches(call));
}

TEST(RateLimitRulesTest, ABareMethodNameMatchesTheMethodOfAnyService) {
  v1::Rule rule = QpsRule("r", 1, 1);
  rule.mutable_method()->mutable_value()->set_value("Echo");
  absl::StatusOr<std::shared_ptr<const RateLimitRules>> parsed = Parse({rule});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  testing::FakeInboundCall call;
  EXPECT_TRUE((*parsed)->rules[0].Matches(call));
  call.method_name = "/echo.EchoService/EchoStream";
  EXPECT_FALSE((*parsed)->rules[0].Matches(call));
}

TEST(RateLimitRulesTest, LeavesOutDisabledRulesAndRulesOfOtherServices) {
  v1::Rule disabled = QpsRule("disabled", 1, 1);
  disabled.mutable_disable()->set_value(true);
  v1::Rule other = QpsRule("other", 1, 1);
  other.mutable_service()->set_value("Other");
  v1::Rule any = QpsRule("any", 1, 1);
  any.mutable_service()->set_value("*");
  absl::StatusOr<std::shared_ptr<const RateLimitRules>> parsed = Parse({disabled, other, any});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ((*parsed)->rules.size(), 1u);
  EXPECT_EQ((*parsed)->rules[0].id, "any");
}

TEST(RateLimitRulesTest, ABadRuleIsLeftOutNamingItsField) {
  v1::Rule no_duration = QpsRule("no-duration", 1, 0);
  v1::Rule bad_action = QpsRule("bad-action", 1, 1);
  bad_action.mutable_action()->set_value("drop");
  v1::Rule bad_regex = QpsRule("bad-regex", 1, 1);
  v1::MatchArgument* argument = bad_regex.add_arguments();
  argument->set_type(v1::MatchArgument::CALLER_IP);
  argument->mutable_value()->set_type(v1::MatchString::REGEX);
  argument->mutable_value()->mutable_value()->set_value("(");
  v1::Rule no_amounts = QpsRule("no-amounts", 1, 1);
  no_amounts.clear_amounts();
  v1::Rule long_queue = QpsRule("long-queue", 1, 1);
  long_queue.mutable_max_queue_delay()->set_value(61);
  v1::Rule good = QpsRule("good", 1, 1);
  absl::StatusOr<std::shared_ptr<const RateLimitRules>> parsed =
      Parse({no_duration, bad_action, bad_regex, no_amounts, long_queue, good});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ((*parsed)->rules.size(), 1u);
  EXPECT_EQ((*parsed)->rules[0].id, "good");
  const std::vector<std::string>& rejected = (*parsed)->rejected;
  ASSERT_EQ(rejected.size(), 5u);
  EXPECT_NE(rejected[4].find("(long-queue): max_queue_delay 61 s exceeds a minute"),
            std::string::npos)
      << rejected[4];

  EXPECT_NE(rejected[0].find("rules[0] (no-duration): amounts[0].validDuration"),
            std::string::npos)
      << rejected[0];
  EXPECT_NE(rejected[1].find("action 'drop'"), std::string::npos) << rejected[1];
  EXPECT_NE(rejected[2].find("arguments[0].value"), std::string::npos) << rejected[2];
  EXPECT_NE(rejected[3].find("amounts is empty"), std::string::npos) << rejected[3];
}

// Older servers' labels become arguments as polaris-go makes them: "$method",
// "$caller_ip", "$header.K", "$query.K", "$caller_service.K", and any other
// key CUSTOM (a header, else caller metadata).
TEST(RateLimitRulesTest, OlderServersLabelsBecomeArgumentsAsInPolarisGo) {
  v1::Rule rule = QpsRule("r", 1, 1);
  rule.set_type(v1::Rule::GLOBAL);
  (*rule.mutable_labels())["x-tenant"].mutable_value()->set_value("t1");
  (*rule.mutable_labels())["$method"].mutable_value()->set_value("/echo.EchoService/Echo");
  (*rule.mutable_labels())["$caller_ip"].mutable_value()->set_value("10.0.0.1");
  (*rule.mutable_labels())["$header.X-User"].mutable_value()->set_value("bob");
  (*rule.mutable_labels())["$caller_service.default"].mutable_value()->set_value("Frontend");
  absl::StatusOr<std::shared_ptr<const RateLimitRules>> parsed = Parse({rule});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ((*parsed)->rules.size(), 1u);
  const RateLimitRule& parsed_rule = (*parsed)->rules[0];
  testing::FakeInboundCall call;
  call.ip = "10.0.0.1";
  call.headers["x-user"] = "bob";
  call.headers["polaris.request.caller.service"] = "Frontend";
  call.headers["polaris.request.caller.namespace"] = "default";
  EXPECT_FALSE(parsed_rule.Matches(call));
  call.headers["x-tenant"] = "t1";
  EXPECT_TRUE(parsed_rule.Matches(call));
  for (const char* missing : {"ip", "method", "caller"}) {
    testing::FakeInboundCall other = call;
    if (std::string(missing) == "ip") other.ip = "10.0.0.2";
    if (std::string(missing) == "method") other.method_name = "/echo.EchoService/Chat";
    if (std::string(missing) == "caller") {
      other.headers["polaris.request.caller.service"] = "Backoffice";
    }
    EXPECT_FALSE(parsed_rule.Matches(other)) << missing;
  }
  // Keys keep the rule's case in the counter's labels.
  EXPECT_EQ(parsed_rule.GlobalLabels(&call),
            "|CALLER_IP:10.0.0.1|CALLER_SERVICE:default:Frontend|CUSTOM:x-tenant:t1|"
            "HEADER:X-User:bob|METHOD:/echo.EchoService/Echo");
}

TEST(RateLimitRulesTest, ReadsGlobalModeAndCluster) {
  v1::Rule rule = QpsRule("g1", 100, 1);
  rule.set_type(v1::Rule::GLOBAL);
  rule.set_amount_mode(v1::Rule::SHARE_EQUALLY);
  rule.set_failover(v1::Rule::FAILOVER_PASS);
  rule.mutable_cluster()->mutable_namespace_()->set_value("Polaris");
  rule.mutable_cluster()->mutable_service()->set_value("limiter-b");
  v1::Rule half_cluster = QpsRule("g2", 100, 1);
  half_cluster.set_type(v1::Rule::GLOBAL);
  half_cluster.mutable_cluster()->mutable_service()->set_value("limiter-b");
  auto parsed = Parse({rule, half_cluster});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ((*parsed)->rules.size(), 2u);
  const RateLimitRule& g1 = (*parsed)->rules[0];
  EXPECT_EQ(g1.scope, RateLimitRule::Scope::kGlobal);
  EXPECT_EQ(g1.amount_mode, RateLimitRule::AmountMode::kShareEqually);
  EXPECT_EQ(g1.failover, RateLimitRule::Failover::kPass);
  EXPECT_EQ(g1.cluster, (ServiceKey{"Polaris", "limiter-b"}));
  EXPECT_EQ(g1.service, kKey);
  // Only a cluster naming both is one.
  EXPECT_TRUE((*parsed)->rules[1].cluster.service.empty());
}

TEST(RateLimitRulesTest, AGlobalRuleCountsInWholeSeconds) {
  v1::Rule rule = QpsRule("g1", 100, 1);
  rule.set_type(v1::Rule::GLOBAL);
  rule.mutable_amounts(0)->mutable_validduration()->set_nanos(500000000);
  auto parsed = Parse({rule});
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE((*parsed)->rules.empty());
  ASSERT_EQ((*parsed)->rejected.size(), 1u);
  EXPECT_NE((*parsed)->rejected[0].find("amounts[0].validDuration must be whole seconds"),
            std::string::npos)
      << (*parsed)->rejected[0];
}

TEST(RateLimitRulesTest, GlobalLabelsAreWhatPolarisGoSends) {
  // No method, no argument.
  auto bare = Parse({QpsRule("g0", 10, 1)});
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ((*bare)->rules[0].GlobalLabels(nullptr), "|");

  v1::Rule rule = QpsRule("g1", 10, 1);
  rule.mutable_method()->mutable_value()->set_value("/echo.EchoService/Echo");
  // Header keys match whatever their case; the label keeps the rule's.
  testing::AddArgument(rule, v1::MatchArgument::HEADER, "X-User", "^u", v1::MatchString::REGEX);
  testing::AddArgument(rule, v1::MatchArgument::CALLER_IP, "", "10.0.0.1");
  testing::AddArgument(rule, v1::MatchArgument::CUSTOM, "app", "shop");
  auto parsed = Parse({rule});
  ASSERT_TRUE(parsed.ok());
  const RateLimitRule& g1 = (*parsed)->rules[0];
  testing::FakeInboundCall call;
  call.headers["x-user"] = "u42";
  call.headers["app"] = "shop";
  call.ip = "10.0.0.1";
  // The method, then the sorted arguments: exact ones by the rule's value,
  // others by the call's.
  EXPECT_EQ(g1.GlobalLabels(&call),
            "/echo.EchoService/Echo|CALLER_IP:10.0.0.1|CUSTOM:app:shop|HEADER:X-User:u42");
  // regex_combine: one window, named by the rule's own pattern.
  rule.mutable_regex_combine()->set_value(true);
  auto combined = Parse({rule});
  ASSERT_TRUE(combined.ok());
  EXPECT_EQ((*combined)->rules[0].GlobalLabels(nullptr),
            "/echo.EchoService/Echo|CALLER_IP:10.0.0.1|CUSTOM:app:shop|HEADER:X-User:^u");
}

}  // namespace
}  // namespace grpc_cpp_polaris
