#include "sdk/lossless/lossless_rules.h"

#include <memory>

#include <gtest/gtest.h>

#include "proto/v1/lossless.pb.h"
#include "proto/v1/response.pb.h"
#include "sdk/parse_for_test.h"

namespace grpc_cpp_polaris {
namespace {

const ServiceKey kEcho{"default", "Echo"};

std::shared_ptr<const LosslessRules> Parse(const v1::DiscoverResponse& answer) {
  absl::StatusOr<std::shared_ptr<const LosslessRules>> parsed = testing::ParseAnswer<LosslessRules>(
      *MakeLosslessRulesParser(), ResourceType::kLossless, kEcho, answer);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? *parsed : nullptr;
}

v1::LosslessRule Warmup(const std::string& id, int32_t seconds, int32_t curvature = 0) {
  v1::LosslessRule rule;
  rule.set_id(id);
  rule.mutable_losslessonline()->mutable_warmup()->set_enable(true);
  rule.mutable_losslessonline()->mutable_warmup()->set_intervalsecond(seconds);
  rule.mutable_losslessonline()->mutable_warmup()->set_curvature(curvature);
  return rule;
}

Instance WithMetadata(std::map<std::string, std::string> metadata) {
  Instance instance;
  instance.metadata = std::move(metadata);
  return instance;
}

TEST(LosslessRulesTest, ReadsWarmupWithUpstreamDefaults) {
  v1::DiscoverResponse answer;
  v1::LosslessRule rule = Warmup("w1", 30);
  rule.mutable_losslessonline()->mutable_warmup()->set_enableoverloadprotection(true);
  *answer.mutable_lossless() = rule;
  std::shared_ptr<const LosslessRules> rules = Parse(answer);
  ASSERT_EQ(rules->rules.size(), 1u);
  const LosslessRule* found = rules->For(Instance{});
  ASSERT_NE(found, nullptr);
  ASSERT_TRUE(found->warmup.has_value());
  EXPECT_TRUE(found->warmup->enabled);
  EXPECT_EQ(found->warmup->window, absl::Seconds(30));
  EXPECT_EQ(found->warmup->curvature, 2);  // 0 means 2, as polaris-go has it
  EXPECT_TRUE(found->warmup->overload_protection);
  EXPECT_EQ(found->warmup->overload_threshold_percent, 50u);
}

TEST(LosslessRulesTest, TheListWinsAndMetadataRulesComeFirst) {
  v1::DiscoverResponse answer;
  *answer.mutable_lossless() = Warmup("single", 99);
  *answer.add_losslessrulelist() = Warmup("general", 10, 1);
  v1::LosslessRule canary = Warmup("canary", 60, 3);
  (*canary.mutable_metadata())["env"] = "canary";
  *answer.add_losslessrulelist() = canary;
  std::shared_ptr<const LosslessRules> rules = Parse(answer);
  ASSERT_EQ(rules->rules.size(), 2u);
  EXPECT_EQ(rules->rules[0].id, "canary");
  EXPECT_EQ(rules->For(WithMetadata({{"env", "canary"}}))->id, "canary");
  EXPECT_EQ(rules->For(WithMetadata({{"env", "prod"}}))->id, "general");
  EXPECT_EQ(rules->For(WithMetadata({}))->warmup->curvature, 1);
}

TEST(LosslessRulesTest, ABadRuleIsLeftOutNamingTheField) {
  v1::DiscoverResponse answer;
  *answer.add_losslessrulelist() = Warmup("zero", 0);
  v1::LosslessRule threshold = Warmup("threshold", 10);
  threshold.mutable_losslessonline()->mutable_warmup()->set_overloadprotectionthreshold(101);
  *answer.add_losslessrulelist() = threshold;
  *answer.add_losslessrulelist() = Warmup("good", 10);
  std::shared_ptr<const LosslessRules> rules = Parse(answer);
  ASSERT_EQ(rules->rules.size(), 1u);
  EXPECT_EQ(rules->rules[0].id, "good");
  ASSERT_EQ(rules->rejected.size(), 2u);
  EXPECT_NE(rules->rejected[0].find("losslessRuleList[0] (zero): losslessOnline.warmup.intervalSecond"),
            std::string::npos)
      << rules->rejected[0];
  EXPECT_NE(rules->rejected[1].find("overloadProtectionThreshold"), std::string::npos);
}

TEST(LosslessRulesTest, ReadsDelayRegisterReadinessAndOffline) {
  v1::DiscoverResponse answer;
  v1::LosslessRule rule;
  rule.set_id("online");
  v1::DelayRegister* delay = rule.mutable_losslessonline()->mutable_delayregister();
  delay->set_enable(true);
  delay->set_strategy(v1::DelayRegister::DELAY_BY_HEALTH_CHECK);
  delay->set_healthcheckpath("/ready");
  delay->set_healthcheckintervalsecond("5");
  rule.mutable_losslessonline()->mutable_readiness()->set_enable(true);
  rule.mutable_losslessoffline()->set_enable(true);
  *answer.mutable_lossless() = rule;
  std::shared_ptr<const LosslessRules> rules = Parse(answer);
  ASSERT_EQ(rules->rules.size(), 1u);
  const LosslessRule& parsed = rules->rules[0];
  EXPECT_FALSE(parsed.warmup.has_value());
  ASSERT_TRUE(parsed.delay_register.has_value());
  EXPECT_EQ(parsed.delay_register->strategy, LosslessRule::DelayRegister::Strategy::kByHealthCheck);
  EXPECT_EQ(parsed.delay_register->health_check_path, "/ready");
  EXPECT_EQ(parsed.delay_register->health_check_interval, absl::Seconds(5));
  EXPECT_TRUE(parsed.readiness);
  EXPECT_TRUE(parsed.offline);
}

TEST(LosslessRulesTest, NoAnswerMeansNoRules) {
  ResourceAnswers answers;
  absl::StatusOr<std::shared_ptr<const ParsedRules>> parsed =
      MakeLosslessRulesParser()->Parse(kEcho, answers);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(std::static_pointer_cast<const LosslessRules>(*parsed)->rules.empty());
}

}  // namespace
}  // namespace grpc_cpp_polaris
