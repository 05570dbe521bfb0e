// Governance rules the mock control plane serves through Discover, per
// service and type, each with its own revision: routing (v1 inbound/outbound
// routes and RouteRules), circuit breaking, rate limiting, fault detection,
// lanes, lossless, block/allow lists, traffic mirroring and fault injection.
// Set through the admin API or loaded from a JSON rules file
// (proto/mockplane/rules_file.proto). Thread-safe.
//
// RouteRules are served in both of upstream's shapes: inside ROUTING's
// `routing.rules` (older servers) and, split by policy, as CUSTOM_ROUTE_RULE
// `customRouteRules` (RulePolicy) and NEARBY_ROUTE_RULE `nearbyRouteRules`
// (NearbyPolicy). With `mainline_types_only`, the registry answers as
// upstream's mainline server does: the types it has no handler for (LANE,
// CUSTOM_ROUTE_RULE, NEARBY_ROUTE_RULE, LOSSLESS, BLOCK_ALLOW_RULE,
// TRAFFIC_MIRRORING, FAULT_INJECTION) get InvalidDiscoverResource in an
// answer typed ROUTING.
#ifndef GRPC_CPP_POLARIS_MOCKPLANE_RULE_REGISTRY_H_
#define GRPC_CPP_POLARIS_MOCKPLANE_RULE_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "mockplane/revision.h"
#include <vector>

#include "proto/v1/block_allow_list.pb.h"
#include "proto/v1/circuitbreaker.pb.h"
#include "proto/v1/fault_detector.pb.h"
#include "proto/v1/fault_injection.pb.h"
#include "proto/v1/lane.pb.h"
#include "proto/v1/lossless.pb.h"
#include "proto/v1/ratelimit.pb.h"
#include "proto/v1/traffic_mirroring.pb.h"
#include "proto/v1/request.pb.h"
#include "proto/v1/response.pb.h"
#include "proto/v1/routing.pb.h"
#include "sdk/model.h"

namespace grpc_cpp_polaris {
namespace mockplane {

class RuleRegistry {
 public:
  using DiscoverResponsePtr = std::shared_ptr<const v1::DiscoverResponse>;
  // Called after a rule changed, outside the registry's lock.
  using ChangeListener = std::function<void(DiscoverType, const ServiceKey&)>;

  explicit RuleRegistry(bool mainline_types_only = false)
      : mainline_types_only_(mainline_types_only) {}

  void SetChangeListener(ChangeListener listener);

  // Replace the service's rules of one kind; each bumps that revision.
  // SetRouting also replaces the service's CUSTOM_ROUTE_RULE and
  // NEARBY_ROUTE_RULE answers with `routing.rules` of those policies.
  void SetRouting(const ServiceKey& key, v1::Routing routing);
  void SetCircuitBreaker(const ServiceKey& key, v1::CircuitBreaker circuit_breaker);
  void SetRateLimit(const ServiceKey& key, v1::RateLimit rate_limit);
  void SetFaultDetector(const ServiceKey& key, v1::FaultDetector fault_detector);
  // Served both as `lossless` and as the one entry of `losslessRuleList`.
  void SetLossless(const ServiceKey& key, v1::LosslessRule rule);
  void SetBlockAllowList(const ServiceKey& key, std::vector<v1::BlockAllowListRule> rules);
  void SetTrafficMirroring(const ServiceKey& key, std::vector<v1::TrafficMirroring> rules);
  void SetFaultInjection(const ServiceKey& key, std::vector<v1::FaultInjection> rules);
  // Adds or replaces (by name) a lane group. As upstream does, a group is
  // served to every service it mentions: its destinations and its
  // ServiceSelector / ServiceGatewaySelector entries. InvalidArgument when a
  // selector cannot be read or the group has no name.
  absl::Status SetLaneGroup(v1::LaneGroup group);
  void RemoveLaneGroup(const std::string& name);
  // Removes the service's rules of one kind.
  void Clear(DiscoverType type, const ServiceKey& key);

  // Loads a rules file (JSON; see proto/mockplane/rules_file.proto). All or
  // nothing: on error nothing changes and the error names the bad part.
  absl::Status LoadJson(const std::string& json);
  absl::Status LoadFile(const std::string& path);

  // True for the kinds this registry answers.
  static bool Serves(DiscoverType type);
  // The answer to a rule request: DataNoChange for the current revision, the
  // rule otherwise (an empty one, revision "", for a service without rules of
  // that kind).
  DiscoverResponsePtr Discover(const v1::DiscoverRequest& request) const;
  std::string Revision(DiscoverType type, const ServiceKey& key) const;

 private:
  // Stores `response` (carrying the rule) as the new state of (type, key).
  void Store(DiscoverType type, const ServiceKey& key, v1::DiscoverResponse response);
  // Re-serves the LANE answers of `keys` from lane_groups_.
  void StoreLanes(const std::vector<ServiceKey>& keys);

  const bool mainline_types_only_;
  RevisionSource revisions_;
  mutable std::mutex mu_;
  std::map<std::pair<DiscoverType, ServiceKey>, DiscoverResponsePtr> rules_ ABSL_GUARDED_BY(mu_);
  std::mutex lanes_mu_;  // serialises lane updates; taken before mu_
  std::map<std::string, v1::LaneGroup> lane_groups_ ABSL_GUARDED_BY(lanes_mu_);
  std::mutex listener_mu_;
  ChangeListener listener_ ABSL_GUARDED_BY(listener_mu_);
};

}  // namespace mockplane
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_MOCKPLANE_RULE_REGISTRY_H_
