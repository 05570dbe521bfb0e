// The routing rules of one service, parsed and validated once per change:
// upstream's v1 routes (ROUTING inbounds/outbounds) and RouteRules (v2:
// RulePolicy and NearbyPolicy), whether they arrive inside ROUTING's
// `routing.rules` (older servers) or as CUSTOM_ROUTE_RULE / NEARBY_ROUTE_RULE
// answers (newer ones). A rule that arrives both ways counts once (by id).
//
// Call attributes are named as upstream flattens them: "$method" (the bare
// gRPC method name), "$path" (the full "/package.Service/Method"),
// "$header.<key>", "$caller_ip", "$caller_metadata.<key>", "$query.<key>"
// and "$cookie.<key>" (never present on gRPC calls); any other key is a
// custom label (set per call with SetRouteLabels, else the caller's metadata).
#ifndef GRPC_CPP_POLARIS_SDK_ROUTER_ROUTING_RULES_H_
#define GRPC_CPP_POLARIS_SDK_ROUTER_ROUTING_RULES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "proto/v1/routing.pb.h"
#include "sdk/governance_options.h"
#include "sdk/rule/string_matcher.h"
#include "sdk/rule/wildcard.h"  // NamesService, which the rules' users call
#include "sdk/service_view.h"

namespace grpc_cpp_polaris {

// One condition on a call attribute.
struct CallMatch {
  std::string key;  // flattened, see above
  StringMatcher matcher;
};

// Who a route applies to.
struct RouteSource {
  std::string service;  // "*" or empty: any caller
  std::string service_namespace;
  std::vector<CallMatch> arguments;  // all must match
};

// Where a route sends calls: the instances whose metadata matches.
struct RouteDestination {
  std::string name;
  std::string service;  // "*" or empty: the callee
  std::string service_namespace;
  std::vector<std::pair<std::string, StringMatcher>> metadata;  // all must match
  uint32_t priority = 0;  // lower first
  uint32_t weight = 0;
  bool isolate = false;
};

struct RouteEntry {
  std::string name;  // for messages: the rule's id or name
  std::vector<RouteSource> sources;  // any may match
  std::vector<RouteDestination> destinations;
};

struct NearbyRule {
  std::string name;
  LocationLevel match_level = LocationLevel::kZone;
  LocationLevel max_match_level = LocationLevel::kAll;
};

struct RoutingRules : ParsedRules {
  static constexpr absl::string_view kParserName = "routing";
  // Routes whose callee is this service, in the order they are tried: v1
  // inbounds as served, then RulePolicy rules by priority.
  std::vector<RouteEntry> inbounds;
  // Routes whose caller is this service.
  std::vector<RouteEntry> outbounds;
  // Enabled NearbyPolicy rules of this service (the first one applies).
  std::vector<NearbyRule> nearby;
};

// The flattened call attribute a SourceMatch reads ("$header.x-user", ...);
// InvalidArgument naming `field` for an unknown type.
absl::StatusOr<std::string> CallAttributeKey(const v1::SourceMatch& match,
                                             const std::string& field);

// The "routing" parser: reads ROUTING, CUSTOM_ROUTE_RULE and
// NEARBY_ROUTE_RULE.
std::unique_ptr<RuleParser> MakeRoutingRulesParser();

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_ROUTER_ROUTING_RULES_H_
