#include "sdk/access/block_allow_rules.h"

#include <gtest/gtest.h>

#include "proto/v1/block_allow_list.pb.h"
#include "proto/v1/response.pb.h"
#include "sdk/call_metadata.h"
#include "sdk/parse_for_test.h"
#include "sdk/rule/fake_inbound_call.h"

namespace grpc_cpp_polaris {
namespace {

const ServiceKey kKey{"default", "EchoService"};
using Argument = v1::BlockAllowConfig::MatchArgument;

v1::BlockAllowListRule Rule(const std::string& id, v1::BlockAllowConfig::BlockAllowPolicy policy,
                            Argument::Type type, const std::string& key, const std::string& value,
                            v1::MatchString::MatchStringType match = v1::MatchString::EXACT) {
  v1::BlockAllowListRule rule;
  rule.set_id(id);
  rule.set_service(kKey.service);
  rule.set_namespace_(kKey.service_namespace);
  rule.set_enable(true);
  v1::BlockAllowConfig* config = rule.add_blockallowconfig();
  config->set_blockallowpolicy(policy);
  Argument* argument = config->add_arguments();
  argument->set_type(type);
  argument->set_key(key);
  argument->mutable_value()->set_type(match);
  argument->mutable_value()->mutable_value()->set_value(value);
  return rule;
}

std::shared_ptr<const BlockAllowRules> Parse(std::vector<v1::BlockAllowListRule> rules) {
  v1::DiscoverResponse answer;
  for (v1::BlockAllowListRule& rule : rules) *answer.add_blockallowlistrule() = std::move(rule);
  auto parsed = testing::ParseAnswer<BlockAllowRules>(
      *MakeBlockAllowRulesParser(), ResourceType::kBlockAllowRule, kKey, std::move(answer));
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return *parsed;
}

TEST(BlockAllowRulesTest, ABlockListDeniesTheCallersItMatches) {
  auto rules = Parse({Rule("no-v6", v1::BlockAllowConfig::BLOCK_LIST, Argument::CALLER_IP, "",
                           "::1")});
  testing::FakeInboundCall call;
  call.ip = "::1";
  ASSERT_NE(rules->Denies(call), nullptr);
  EXPECT_EQ(rules->Denies(call)->DisplayName(), "no-v6");
  call.ip = "127.0.0.1";
  EXPECT_EQ(rules->Denies(call), nullptr);
}

TEST(BlockAllowRulesTest, AnAllowListAdmitsOnlyTheCallersItMatches) {
  auto rules = Parse({Rule("gateway-only", v1::BlockAllowConfig::ALLOW_LIST,
                           Argument::CALLER_SERVICE, "*", "Gateway")});
  testing::FakeInboundCall call;
  EXPECT_NE(rules->Denies(call), nullptr);  // no caller service: unlisted
  call.headers[kCallerServiceMetadataKey] = "Gateway";
  EXPECT_EQ(rules->Denies(call), nullptr);
  call.headers[kCallerServiceMetadataKey] = "Batch";
  EXPECT_NE(rules->Denies(call), nullptr);
}

TEST(BlockAllowRulesTest, TheFirstMatchingConfigDecides) {
  v1::BlockAllowListRule block = Rule("block-bob", v1::BlockAllowConfig::BLOCK_LIST,
                                      Argument::HEADER, "x-user", "bob");
  v1::BlockAllowListRule allow = Rule("allow-users", v1::BlockAllowConfig::ALLOW_LIST,
                                      Argument::HEADER, "x-user", ".+", v1::MatchString::REGEX);
  auto rules = Parse({block, allow});
  testing::FakeInboundCall call;
  call.headers["x-user"] = "bob";
  EXPECT_EQ(rules->Denies(call)->id, "block-bob");
  call.headers["x-user"] = "alice";
  EXPECT_EQ(rules->Denies(call), nullptr);
  call.headers.clear();
  EXPECT_EQ(rules->Denies(call)->id, "allow-users");
}

TEST(BlockAllowRulesTest, TheApiLimitsAConfigToItsMethods) {
  v1::BlockAllowListRule rule = Rule("no-echo", v1::BlockAllowConfig::BLOCK_LIST,
                                     Argument::CALLER_IP, "", "127.0.0.1");
  rule.mutable_blockallowconfig(0)->mutable_api()->mutable_path()->mutable_value()->set_value(
      "/echo.EchoService/Echo");
  v1::BlockAllowListRule http = Rule("http-only", v1::BlockAllowConfig::BLOCK_LIST,
                                     Argument::CALLER_IP, "", "127.0.0.1");
  http.mutable_blockallowconfig(0)->mutable_api()->set_protocol("HTTP");
  auto rules = Parse({rule, http});
  testing::FakeInboundCall call;
  EXPECT_EQ(rules->Denies(call)->id, "no-echo");
  call.method_name = "/echo.EchoService/EchoStream";
  EXPECT_EQ(rules->Denies(call), nullptr);
}

TEST(BlockAllowRulesTest, AnAllowListOfOneMethodLeavesOtherMethodsOpen) {
  v1::BlockAllowListRule admin = Rule("admin-only-gateway", v1::BlockAllowConfig::ALLOW_LIST,
                                      Argument::HEADER, "X-Role", "gateway");
  admin.mutable_blockallowconfig(0)->mutable_api()->mutable_path()->mutable_value()->set_value(
      "/echo.EchoService/Admin");
  auto rules = Parse({admin});
  testing::FakeInboundCall call;
  EXPECT_EQ(rules->Denies(call), nullptr);  // Echo: not the allow list's method
  call.method_name = "/echo.EchoService/Admin";
  EXPECT_EQ(rules->Denies(call)->id, "admin-only-gateway");
  call.headers["x-role"] = "gateway";  // the rule's key, lowered as gRPC sends it
  EXPECT_EQ(rules->Denies(call), nullptr);
}

TEST(BlockAllowRulesTest, DisabledAndBadRulesAreLeftOut) {
  v1::BlockAllowListRule disabled =
      Rule("disabled", v1::BlockAllowConfig::BLOCK_LIST, Argument::CALLER_IP, "", "127.0.0.1");
  disabled.set_enable(false);
  v1::BlockAllowListRule bad = Rule("bad", v1::BlockAllowConfig::BLOCK_LIST, Argument::CALLER_IP,
                                    "", "(", v1::MatchString::REGEX);
  auto rules = Parse({disabled, bad});
  EXPECT_TRUE(rules->empty());
  ASSERT_EQ(rules->rejected.size(), 1u);
  EXPECT_NE(rules->rejected[0].find("(bad): blockAllowConfig[0].arguments[0].value"),
            std::string::npos)
      << rules->rejected[0];
}

TEST(BlockAllowRulesTest, CalleeMetadataAndCustomArguments) {
  struct Call : testing::FakeInboundCall {
    std::optional<absl::string_view> CalleeMetadata(absl::string_view key) const override {
      if (key == "zone") return absl::string_view("blue");
      return std::nullopt;
    }
  };
  auto rules = Parse({Rule("blue-closed", v1::BlockAllowConfig::BLOCK_LIST,
                           Argument::CALLEE_METADATA, "zone", "blue"),
                      Rule("tenant", v1::BlockAllowConfig::BLOCK_LIST, Argument::CUSTOM,
                           "tenant", "t9")});
  Call call;
  EXPECT_EQ(rules->Denies(call)->id, "blue-closed");
  testing::FakeInboundCall plain;
  plain.headers[kCallerMetadataMetadataKey] = EncodeLabels({{"tenant", "t9"}});
  EXPECT_EQ(rules->Denies(plain)->id, "tenant");
}

}  // namespace
}  // namespace grpc_cpp_polaris
