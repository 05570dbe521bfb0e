// Lanes (upstream's LANE rules): a lane group names the services a lane runs
// through (its destinations) and where traffic enters it (its entries: the
// caller services whose calls may be tagged). The "lane" router:
//
//  - tags a call at an entry: when the caller is one of a group's entry
//    services, the group's enabled rules (traffic entry rules first, then by
//    priority) are matched against the call's attributes (AND or OR of their
//    arguments); the first that matches tags the call "group/rule", for the
//    rule's gray percentage of calls. A tagged call carries the tag to the
//    server in the `service-lane` metadata, and the server passes it on with
//    PropagateLane;
//  - routes a tagged call (tagged here, or arriving with `service-lane`) to
//    the instances of the lane: metadata `label_key` (default "lane") equal
//    to the rule's default_label_value; when the service has none, a STRICT
//    lane fails the call and a PERMISSIVE one falls back to the baseline;
//  - routes an untagged call to the baseline: instances without a lane label
//    (LaneRouterOptions::kOnlyUntagged), or all but those of enabled lanes.
//
// A service that no lane group names as destination is not touched, except
// for tagging calls at an entry.
#ifndef GRPC_CPP_POLARIS_SDK_ROUTER_LANE_ROUTER_H_
#define GRPC_CPP_POLARIS_SDK_ROUTER_LANE_ROUTER_H_

#include <memory>
#include <string>
#include <vector>

#include "sdk/router/router.h"
#include "sdk/router/routing_rules.h"

namespace grpc_cpp_polaris {

struct LaneRuleSpec {
  std::string group;
  std::string name;
  std::string tag;  // "group/rule"
  std::string label_key = "lane";
  std::string label_value;  // default_label_value
  bool strict = true;       // LaneMatchMode STRICT (upstream's default)
  bool enabled = false;
  uint32_t priority = 0;
  bool match_any = false;  // TrafficMatchRule OR (AND otherwise)
  std::vector<CallMatch> arguments;
  // Share of matching calls tagged, 0..100 (PERCENTAGE gray; 100 without).
  uint32_t gray_percent = 100;
};

struct LaneEntrySpec {
  ServiceKey service;  // "*" fields match any
  std::vector<std::pair<std::string, StringMatcher>> labels;  // on the caller's metadata
};

struct LaneGroupSpec {
  std::string name;
  std::vector<LaneEntrySpec> entries;
  std::vector<ServiceKey> destinations;
  std::vector<LaneRuleSpec> rules;  // entry-matching order
};

struct LaneRules : ParsedRules {
  static constexpr absl::string_view kParserName = "lanes";
  std::vector<LaneGroupSpec> groups;
};

// The "lanes" parser: reads LANE.
std::unique_ptr<RuleParser> MakeLaneRulesParser();
std::unique_ptr<RouterFactory> MakeLaneRouterFactory();

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_ROUTER_LANE_ROUTER_H_
