#include "sdk/fault/fault_injection.h"

#include <gtest/gtest.h>

#include "proto/v1/fault_injection.pb.h"
#include "proto/v1/response.pb.h"
#include "sdk/call_metadata.h"
#include "sdk/parse_for_test.h"
#include "sdk/rule/fake_inbound_call.h"
#include "sdk/rule/status_code.h"

namespace grpc_cpp_polaris {
namespace {

const ServiceKey kKey{"default", "EchoService"};

v1::FaultInjection Rule(uint32_t abort_percent, uint32_t abort_code, uint32_t delay_percent,
                        uint32_t delay_ms) {
  v1::FaultInjection rule;
  rule.mutable_service()->set_value(kKey.service);
  rule.mutable_namespace_()->set_value(kKey.service_namespace);
  rule.mutable_enabled()->set_value(true);
  rule.mutable_abortfault()->set_abortpercent(abort_percent);
  rule.mutable_abortfault()->set_abortcode(abort_code);
  rule.mutable_delayfault()->set_delaypercent(delay_percent);
  rule.mutable_delayfault()->set_delay(delay_ms);
  return rule;
}

std::shared_ptr<const FaultInjectionRules> Parse(std::vector<v1::FaultInjection> rules) {
  v1::DiscoverResponse answer;
  for (v1::FaultInjection& rule : rules) *answer.add_faultinjection() = std::move(rule);
  auto parsed = testing::ParseAnswer<FaultInjectionRules>(
      *MakeFaultInjectionRulesParser(), ResourceType::kFaultInjection, kKey, std::move(answer));
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return *parsed;
}

// Rolls from a fixed sequence.
struct Rolls {
  std::vector<uint32_t> values;
  size_t next = 0;
  uint32_t operator()() { return values[next++ % values.size()]; }
};

TEST(FaultInjectionTest, AbortsAndDelaysTheirShareOfCalls) {
  auto rules = Parse({Rule(30, 503, 50, 200)});
  testing::FakeInboundCall call;
  Rolls low{{10, 10}};
  Fault both = rules->For(call, low);
  EXPECT_EQ(both.abort.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(both.abort.message(), "polaris: fault injected (abort) by FAULT_INJECTION faultInjection[0]");
  EXPECT_EQ(both.delay, absl::Milliseconds(200));
  Rolls high{{30, 50}};  // at the percentages: not hit
  EXPECT_FALSE(rules->For(call, high).any());
  Rolls delay_only{{99, 49}};
  Fault delayed = rules->For(call, delay_only);
  EXPECT_TRUE(delayed.abort.ok());
  EXPECT_EQ(delayed.delay, absl::Milliseconds(200));
  EXPECT_TRUE(rules->delays());
}

TEST(FaultInjectionTest, SourcesChooseTheCallers) {
  v1::FaultInjection rule = Rule(100, 14, 0, 0);
  v1::Source* source = rule.add_sources();
  source->mutable_service()->set_value("Gateway");
  (*source->mutable_metadata())["env"].mutable_value()->set_value("canary");
  auto rules = Parse({rule});
  Rolls zero{{0}};
  testing::FakeInboundCall call;
  EXPECT_FALSE(rules->For(call, zero).any());
  call.headers[kCallerServiceMetadataKey] = "Gateway";
  EXPECT_FALSE(rules->For(call, zero).any());
  call.headers[kCallerMetadataMetadataKey] = EncodeLabels({{"env", "canary"}});
  EXPECT_EQ(rules->For(call, zero).abort.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(rules->delays());
}

TEST(FaultInjectionTest, DisabledAndBadRulesAreLeftOutAndCodesMapLikeGrpc) {
  v1::FaultInjection disabled = Rule(100, 500, 0, 0);
  disabled.mutable_enabled()->set_value(false);
  v1::FaultInjection slow = Rule(0, 0, 100, 120'000);
  auto rules = Parse({disabled, slow});
  EXPECT_TRUE(rules->empty());
  ASSERT_EQ(rules->rejected.size(), 1u);
  EXPECT_EQ(rules->rejected[0], "FAULT_INJECTION faultInjection[1]: delayFault.delay 120000 ms exceeds a minute");
  EXPECT_EQ(StatusCodeOfRule(403), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(StatusCodeOfRule(429), absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusCodeOfRule(500), absl::StatusCode::kUnknown);
  EXPECT_EQ(StatusCodeOfRule(8), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(StatusCodeOfRule(0), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace grpc_cpp_polaris
