// For tests and benchmarks: builds upstream's routing messages in one line.
#ifndef GRPC_CPP_POLARIS_SDK_ROUTER_RULE_BUILDERS_H_
#define GRPC_CPP_POLARIS_SDK_ROUTER_RULE_BUILDERS_H_

#include <string>
#include <utility>
#include <vector>

#include "proto/v1/model.pb.h"
#include "proto/v1/lane.pb.h"
#include "proto/v1/routing.pb.h"

namespace grpc_cpp_polaris {
namespace testing {

inline v1::MatchString Match(const std::string& value,
                             v1::MatchString::MatchStringType type = v1::MatchString::EXACT) {
  v1::MatchString match;
  match.set_type(type);
  match.mutable_value()->set_value(value);
  return match;
}

inline v1::SourceMatch Argument(v1::SourceMatch::Type type, const std::string& key,
                                v1::MatchString value) {
  v1::SourceMatch argument;
  argument.set_type(type);
  argument.set_key(key);
  *argument.mutable_value() = std::move(value);
  return argument;
}

// A destination group of `service` (namespace "default"): the instances whose
// `label` is `value`.
inline v1::DestinationGroup Group(const std::string& service, const std::string& label,
                                  const std::string& value, uint32_t weight,
                                  uint32_t priority = 0) {
  v1::DestinationGroup group;
  group.set_service(service);
  group.set_namespace_("default");
  group.set_name(value);
  (*group.mutable_labels())[label] = Match(value);
  group.set_weight(weight);
  group.set_priority(priority);
  return group;
}

// A RulePolicy RouteRule with one sub-rule from any caller.
inline v1::RouteRule RulePolicyRule(const std::string& id, uint32_t priority,
                                    std::vector<v1::SourceMatch> arguments,
                                    std::vector<v1::DestinationGroup> destinations) {
  v1::RuleRoutingConfig config;
  v1::SubRuleRouting* sub = config.add_rules();
  sub->set_name(id);
  v1::SourceService* source = sub->add_sources();
  source->set_service("*");
  source->set_namespace_("*");
  for (v1::SourceMatch& argument : arguments) *source->add_arguments() = std::move(argument);
  for (v1::DestinationGroup& group : destinations) *sub->add_destinations() = std::move(group);
  v1::RouteRule rule;
  rule.set_id(id);
  rule.set_name(id);
  rule.set_enable(true);
  rule.set_priority(priority);
  rule.set_routing_policy(v1::RulePolicy);
  rule.mutable_routing_config()->PackFrom(config);
  return rule;
}

// A NearbyPolicy RouteRule for `service` (empty: any).
inline v1::RouteRule NearbyPolicyRule(const std::string& id,
                                      v1::NearbyRoutingConfig::LocationLevel level,
                                      const std::string& service = "") {
  v1::NearbyRoutingConfig config;
  config.set_service(service);
  config.set_namespace_(service.empty() ? "" : "default");
  config.set_match_level(level);
  v1::RouteRule rule;
  rule.set_id(id);
  rule.set_name(id);
  rule.set_enable(true);
  rule.set_routing_policy(v1::NearbyPolicy);
  rule.mutable_routing_config()->PackFrom(config);
  return rule;
}

// Lane group `name`, entered from `entry` (a service of namespace
// "default"), through `services`; its one rule `rule` tags calls whose
// header `header` is `value` and routes them to instances labelled
// lane=`value`, for `gray_percent` % of those calls.
inline v1::LaneGroup HeaderLaneGroup(const std::string& name, const std::string& entry,
                                     const std::vector<std::string>& services,
                                     const std::string& rule, const std::string& header,
                                     const std::string& value, int gray_percent = 100,
                                     v1::LaneRule::LaneMatchMode mode = v1::LaneRule::STRICT) {
  v1::LaneGroup group;
  group.set_name(name);
  v1::TrafficEntry* traffic_entry = group.add_entries();
  traffic_entry->set_type("polarismesh.cn/service");
  v1::ServiceSelector selector;
  selector.set_namespace_("default");
  selector.set_service(entry);
  traffic_entry->mutable_selector()->PackFrom(selector);
  for (const std::string& service : services) {
    v1::DestinationGroup* destination = group.add_destinations();
    destination->set_namespace_("default");
    destination->set_service(service);
  }
  v1::LaneRule* lane_rule = group.add_rules();
  lane_rule->set_name(rule);
  lane_rule->set_enable(true);
  lane_rule->set_default_label_value(value);
  lane_rule->set_match_mode(mode);
  *lane_rule->mutable_traffic_match_rule()->add_arguments() =
      Argument(v1::SourceMatch::HEADER, header, Match(value));
  if (gray_percent < 100) {
    lane_rule->mutable_traffic_gray()->set_mode(v1::TrafficGray::PERCENTAGE);
    lane_rule->mutable_traffic_gray()->mutable_percentage()->set_percent(gray_percent);
  }
  return group;
}

}  // namespace testing
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_ROUTER_RULE_BUILDERS_H_
