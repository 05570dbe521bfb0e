// Test helpers: CIRCUIT_BREAKER rules as the control plane sends them.
#ifndef GRPC_CPP_POLARIS_SDK_BREAKER_BREAKER_RULE_BUILDERS_H_
#define GRPC_CPP_POLARIS_SDK_BREAKER_BREAKER_RULE_BUILDERS_H_

#include <cstdint>
#include <string>

#include "proto/v1/circuitbreaker.pb.h"
#include "sdk/model.h"

namespace grpc_cpp_polaris {
namespace testing {

// An enabled rule of `level` for calls from any caller to `destination`.
inline v1::CircuitBreakerRule* AddBreakerRule(v1::CircuitBreaker* cb, const std::string& id,
                                              v1::Level level, const ServiceKey& destination) {
  v1::CircuitBreakerRule* rule = cb->add_rules();
  rule->set_id(id);
  rule->set_enable(true);
  rule->set_level(level);
  rule->mutable_rule_matcher()->mutable_destination()->set_service(destination.service);
  rule->mutable_rule_matcher()->mutable_destination()->set_namespace_(
      destination.service_namespace);
  rule->mutable_rule_matcher()->mutable_source()->set_service("*");
  return rule;
}

// A RET_CODE condition on the gRPC code as a decimal string.
inline void AddRetCode(google::protobuf::RepeatedPtrField<v1::ErrorCondition>* conditions,
                       v1::MatchString::MatchStringType type, const std::string& value) {
  v1::ErrorCondition* condition = conditions->Add();
  condition->set_input_type(v1::ErrorCondition::RET_CODE);
  condition->mutable_condition()->set_type(type);
  condition->mutable_condition()->mutable_value()->set_value(value);
}

inline void AddConsecutive(google::protobuf::RepeatedPtrField<v1::TriggerCondition>* triggers,
                           uint32_t count) {
  v1::TriggerCondition* trigger = triggers->Add();
  trigger->set_trigger_type(v1::TriggerCondition::CONSECUTIVE_ERROR);
  trigger->set_error_count(count);
}

}  // namespace testing
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_BREAKER_BREAKER_RULE_BUILDERS_H_
