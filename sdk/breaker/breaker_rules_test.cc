#include "sdk/breaker/breaker_rules.h"

#include <memory>

#include <gtest/gtest.h>

#include "proto/v1/circuitbreaker.pb.h"
#include "proto/v1/response.pb.h"
#include "sdk/breaker/breaker_rule_builders.h"
#include "sdk/parse_for_test.h"

namespace grpc_cpp_polaris {
namespace {

const ServiceKey kCallee{"default", "Echo"};
const ServiceKey kCaller{"default", "Front"};

absl::StatusOr<std::shared_ptr<const CircuitBreakerRules>> Parse(const v1::CircuitBreaker& cb) {
  v1::DiscoverResponse answer;
  *answer.mutable_circuitbreaker() = cb;
  return testing::ParseAnswer<CircuitBreakerRules>(*MakeCircuitBreakerRulesParser(),
                                                   ResourceType::kCircuitBreaker, kCallee, answer);
}

v1::CircuitBreakerRule* AddRule(v1::CircuitBreaker* cb, const std::string& id, v1::Level level) {
  return testing::AddBreakerRule(cb, id, level, kCallee);
}

TEST(CircuitBreakerRulesTest, ReadsConditionsTriggersRecoveryAndCap) {
  v1::CircuitBreaker cb;
  v1::CircuitBreakerRule* rule = AddRule(&cb, "r1", v1::INSTANCE);
  testing::AddRetCode(rule->mutable_error_conditions(), v1::MatchString::IN, "8,14");
  v1::ErrorCondition* delay = rule->add_error_conditions();
  delay->set_input_type(v1::ErrorCondition::DELAY);
  delay->mutable_condition()->mutable_value()->set_value("250");
  v1::TriggerCondition* consecutive = rule->add_trigger_condition();
  consecutive->set_trigger_type(v1::TriggerCondition::CONSECUTIVE_ERROR);
  consecutive->set_error_count(4);
  v1::TriggerCondition* rate = rule->add_trigger_condition();
  rate->set_trigger_type(v1::TriggerCondition::ERROR_RATE);
  rate->set_error_percent(30);
  rate->set_interval(20);
  rate->set_minimum_request(7);
  rule->mutable_recovercondition()->set_sleep_window(12);
  rule->mutable_recovercondition()->set_consecutivesuccess(5);
  rule->set_max_ejection_percent(34);
  absl::StatusOr<std::shared_ptr<const CircuitBreakerRules>> rules = Parse(cb);
  ASSERT_TRUE(rules.ok()) << rules.status();
  const BreakerRule* found = (*rules)->Find(BreakerLevel::kInstance, kCaller, kCallee);
  ASSERT_NE(found, nullptr);
  const CircuitBreakingOptions& options = found->options;
  EXPECT_EQ(options.failure_codes, (std::vector<absl::StatusCode>{
                                       absl::StatusCode::kResourceExhausted,
                                       absl::StatusCode::kUnavailable}));
  EXPECT_EQ(options.slow_call, absl::Milliseconds(250));
  EXPECT_EQ(options.instance.consecutive_failures, 4u);
  EXPECT_EQ(options.instance.error_rate_percent, 30u);
  EXPECT_EQ(options.instance.min_requests, 7u);
  EXPECT_EQ(options.instance.window, absl::Seconds(20));
  EXPECT_EQ(options.instance.sleep_window, absl::Seconds(12));
  EXPECT_EQ(options.instance.half_open_probes, 5u);
  EXPECT_EQ(options.max_open_percent, 34u);
  EXPECT_EQ((*rules)->Find(BreakerLevel::kService, kCaller, kCallee), nullptr);
}

TEST(CircuitBreakerRulesTest, BlocksTakeThePlaceOfTheDeprecatedFields) {
  v1::CircuitBreaker cb;
  v1::CircuitBreakerRule* rule = AddRule(&cb, "m", v1::METHOD);
  testing::AddRetCode(rule->mutable_error_conditions(), v1::MatchString::EXACT, "2");  // ignored
  v1::BlockConfig* block = rule->add_block_configs();
  block->mutable_api()->mutable_path()->set_type(v1::MatchString::REGEX);
  block->mutable_api()->mutable_path()->mutable_value()->set_value("/Echo$");
  testing::AddRetCode(block->mutable_error_conditions(), v1::MatchString::RANGE, "13~14");
  v1::TriggerCondition* consecutive = block->add_trigger_conditions();
  consecutive->set_trigger_type(v1::TriggerCondition::CONSECUTIVE_ERROR);
  consecutive->set_error_count(3);
  rule->mutable_fallbackconfig()->set_enable(true);
  rule->mutable_fallbackconfig()->mutable_response()->set_code(503);
  rule->mutable_fallbackconfig()->mutable_response()->set_body("later");
  auto* header = rule->mutable_fallbackconfig()->mutable_response()->add_headers();
  header->set_key("x-fallback");
  header->set_value("1");
  absl::StatusOr<std::shared_ptr<const CircuitBreakerRules>> rules = Parse(cb);
  ASSERT_TRUE(rules.ok()) << rules.status();
  const BreakerRule* found = (*rules)->Find(BreakerLevel::kMethod, kCaller, kCallee);
  ASSERT_NE(found, nullptr);
  EXPECT_TRUE(found->CoversMethod("/grpc_cpp_polaris.echo.EchoServer/Echo"));
  EXPECT_FALSE(found->CoversMethod("/grpc_cpp_polaris.echo.EchoServer/Chat"));
  EXPECT_EQ(found->options.failure_codes,
            (std::vector<absl::StatusCode>{absl::StatusCode::kInternal,
                                           absl::StatusCode::kUnavailable}));
  EXPECT_EQ(found->options.instance.consecutive_failures, 3u);
  EXPECT_EQ(found->options.instance.error_rate_percent, 0u);  // no rate trigger
  ASSERT_TRUE(found->fallback.has_value());
  EXPECT_EQ(found->fallback->code, 503);
  EXPECT_EQ(found->fallback->body, "later");
  ASSERT_EQ(found->fallback->headers.size(), 1u);
}

TEST(CircuitBreakerRulesTest, WithoutConditionsTheDefaultCodesApplyAndOkNeverFails) {
  v1::CircuitBreaker cb;
  AddRule(&cb, "plain", v1::INSTANCE);
  v1::CircuitBreakerRule* all = AddRule(&cb, "all", v1::SERVICE);
  testing::AddRetCode(all->mutable_error_conditions(), v1::MatchString::RANGE, "0~16");
  absl::StatusOr<std::shared_ptr<const CircuitBreakerRules>> rules = Parse(cb);
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_EQ((*rules)->Find(BreakerLevel::kInstance, kCaller, kCallee)->options.failure_codes,
            CircuitBreakingOptions().failure_codes);
  const std::vector<absl::StatusCode>& codes =
      (*rules)->Find(BreakerLevel::kService, kCaller, kCallee)->options.failure_codes;
  EXPECT_EQ(codes.size(), 16u);
  EXPECT_EQ(std::count(codes.begin(), codes.end(), absl::StatusCode::kOk), 0);
}

TEST(CircuitBreakerRulesTest, MatchingOrderAndSkippedRules) {
  v1::CircuitBreaker cb;
  v1::CircuitBreakerRule* wild = AddRule(&cb, "b-wild", v1::INSTANCE);
  wild->mutable_rule_matcher()->mutable_destination()->set_service("*");
  AddRule(&cb, "c-exact", v1::INSTANCE);
  v1::CircuitBreakerRule* other_caller = AddRule(&cb, "a-other", v1::INSTANCE);
  other_caller->mutable_rule_matcher()->mutable_source()->set_service("Other");
  AddRule(&cb, "d-disabled", v1::INSTANCE)->set_enable(false);
  AddRule(&cb, "e-group", v1::GROUP);
  v1::CircuitBreakerRule* urgent = AddRule(&cb, "z-urgent", v1::INSTANCE);
  urgent->set_priority(0);
  for (auto* rule : {wild, other_caller}) rule->set_priority(1);
  cb.mutable_rules(1)->set_priority(1);  // c-exact
  absl::StatusOr<std::shared_ptr<const CircuitBreakerRules>> rules = Parse(cb);
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_EQ((*rules)->rules.size(), 4u);  // disabled and GROUP left out
  EXPECT_EQ((*rules)->Find(BreakerLevel::kInstance, kCaller, kCallee)->id, "z-urgent");
  urgent->set_enable(false);
  rules = Parse(cb);
  ASSERT_TRUE(rules.ok());
  // Same priority: the exact destination before the wildcard; a rule for
  // another caller never matches.
  EXPECT_EQ((*rules)->Find(BreakerLevel::kInstance, kCaller, kCallee)->id, "c-exact");
  EXPECT_EQ((*rules)->Find(BreakerLevel::kInstance, {"default", "Other"}, kCallee)->id, "a-other");
  EXPECT_EQ((*rules)->Find(BreakerLevel::kInstance, kCaller, {"default", "Else"})->id, "b-wild");
}

TEST(CircuitBreakerRulesTest, RefusalMessagesNameTheServiceAndRuleAndParseBack) {
  const std::string service = BreakerRefusal(kCallee, "", "r-1");
  EXPECT_EQ(service, "polaris: the circuit breaker of service default/Echo is open (rule r-1)");
  const std::string method = BreakerRefusal(kCallee, "/p.S/M", "m (x)");
  EXPECT_EQ(method,
            "polaris: the circuit breaker of method /p.S/M of default/Echo is open (rule m (x))");
  for (const std::string& message : {service, method}) {
    std::optional<ParsedRefusal> parsed = ParseBreakerRefusal(message);
    ASSERT_TRUE(parsed.has_value()) << message;
    EXPECT_EQ(parsed->service, kCallee);
  }
  EXPECT_EQ(ParseBreakerRefusal(method)->rule_id, "m (x)");
  EXPECT_FALSE(ParseBreakerRefusal("connection refused").has_value());
  EXPECT_FALSE(ParseBreakerRefusal("polaris: the circuit breaker of nothing").has_value());
}

TEST(CircuitBreakerRulesTest, BadFieldsAreNamed) {
  // A bad rule is left out, naming the field; the good ones still apply.
  auto message = [](const v1::CircuitBreaker& cb) {
    absl::StatusOr<std::shared_ptr<const CircuitBreakerRules>> rules = Parse(cb);
    EXPECT_TRUE(rules.ok());
    EXPECT_EQ((*rules)->rules.size(), 1u);
    EXPECT_EQ((*rules)->rules[0].id, "good");
    return (*rules)->rejected.empty() ? std::string("ok") : (*rules)->rejected[0];
  };
  v1::CircuitBreaker cb;
  v1::CircuitBreakerRule* rule = AddRule(&cb, "bad", v1::INSTANCE);
  AddRule(&cb, "good", v1::SERVICE);
  v1::TriggerCondition* rate = rule->add_trigger_condition();
  rate->set_trigger_type(v1::TriggerCondition::ERROR_RATE);
  rate->set_error_percent(150);
  EXPECT_EQ(message(cb),
            "CIRCUIT_BREAKER rules[0] (bad): trigger_condition[0].error_percent must be in 1..100");
  rate->set_error_percent(50);
  v1::ErrorCondition* delay = rule->add_error_conditions();
  delay->set_input_type(v1::ErrorCondition::DELAY);
  delay->mutable_condition()->mutable_value()->set_value("soon");
  EXPECT_NE(message(cb).find("error_conditions[0].condition.value 'soon' is not a positive"),
            std::string::npos)
      << message(cb);
  delay->mutable_condition()->mutable_value()->set_value("10");
  testing::AddRetCode(rule->mutable_error_conditions(), v1::MatchString::REGEX, "(");
  EXPECT_NE(message(cb).find("error_conditions[1].condition"), std::string::npos) << message(cb);
  rule->mutable_error_conditions()->RemoveLast();
  rule->set_max_ejection_percent(101);
  EXPECT_NE(message(cb).find("max_ejection_percent must be in 0..100"), std::string::npos);
}

TEST(CircuitBreakerRulesTest, ABlockWithoutAPathCoversEveryMethod) {
  v1::CircuitBreaker cb;
  v1::CircuitBreakerRule* rule = AddRule(&cb, "m", v1::METHOD);
  rule->add_block_configs();  // no api: every method
  rule->add_block_configs()->mutable_api()->mutable_path()->mutable_value()->set_value("/p.S/A");
  absl::StatusOr<std::shared_ptr<const CircuitBreakerRules>> rules = Parse(cb);
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_TRUE((*rules)->rules[0].CoversMethod("/p.S/B"));
}

TEST(CircuitBreakerRulesTest, TriggersGivenReplaceTheDefaultsEvenOnesThatNeverTrip) {
  v1::CircuitBreaker cb;
  testing::AddConsecutive(AddRule(&cb, "never", v1::INSTANCE)->mutable_trigger_condition(), 0);
  absl::StatusOr<std::shared_ptr<const CircuitBreakerRules>> rules = Parse(cb);
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_EQ((*rules)->rules[0].options.instance.consecutive_failures, 0u);
  EXPECT_EQ((*rules)->rules[0].options.instance.error_rate_percent, 0u);
}

}  // namespace
}  // namespace grpc_cpp_polaris
