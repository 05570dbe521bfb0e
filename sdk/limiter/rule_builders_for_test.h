// For tests and benchmarks: RATE_LIMIT rules as the control plane serves
// them.
#ifndef GRPC_CPP_POLARIS_SDK_LIMITER_RULE_BUILDERS_FOR_TEST_H_
#define GRPC_CPP_POLARIS_SDK_LIMITER_RULE_BUILDERS_FOR_TEST_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "proto/v1/ratelimit.pb.h"
#include "sdk/model.h"

namespace grpc_cpp_polaris {
namespace testing {

// A LOCAL QPS rule of `key`: `max` calls per `seconds`.
inline v1::Rule QpsRule(const ServiceKey& key, const std::string& id, uint32_t max,
                        int64_t seconds) {
  v1::Rule rule;
  rule.mutable_id()->set_value(id);
  rule.mutable_service()->set_value(key.service);
  rule.mutable_namespace_()->set_value(key.service_namespace);
  rule.set_type(v1::Rule::LOCAL);
  v1::Amount* amount = rule.add_amounts();
  amount->mutable_maxamount()->set_value(max);
  amount->mutable_validduration()->set_seconds(seconds);
  return rule;
}

// A CONCURRENCY rule of `key`: `max` calls in flight.
inline v1::Rule ConcurrencyRule(const ServiceKey& key, const std::string& id, uint32_t max) {
  v1::Rule rule = QpsRule(key, id, 0, 0);
  rule.clear_amounts();
  rule.set_resource(v1::Rule::CONCURRENCY);
  rule.mutable_concurrencyamount()->set_maxamount(max);
  return rule;
}

inline void AddArgument(v1::Rule& rule, v1::MatchArgument::Type type, const std::string& key,
                        const std::string& value,
                        v1::MatchString::MatchStringType match = v1::MatchString::EXACT) {
  v1::MatchArgument* argument = rule.add_arguments();
  argument->set_type(type);
  argument->set_key(key);
  argument->mutable_value()->set_type(match);
  argument->mutable_value()->mutable_value()->set_value(value);
}

inline v1::RateLimit Limits(std::vector<v1::Rule> rules) {
  v1::RateLimit limits;
  for (v1::Rule& rule : rules) *limits.add_rules() = std::move(rule);
  return limits;
}

}  // namespace testing
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_LIMITER_RULE_BUILDERS_FOR_TEST_H_
