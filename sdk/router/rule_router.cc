#include "sdk/router/rule_router.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "sdk/router/routing_rules.h"

namespace grpc_cpp_polaris {
namespace {

// Weights after splitting between groups are scaled to about this total.
constexpr double kScaledTotal = 2147483648.0;  // 2^31

class RuleRouter final : public Router {
 public:
  // `routes`: the callee's inbound routes, or else the caller's outbound
  // routes; `keep` holds the rules they point into.
  RuleRouter(std::vector<const RouteEntry*> routes,
             std::vector<std::shared_ptr<const RoutingRules>> keep, ServiceKey callee,
             RuleRouterOptions options)
      : routes_(std::move(routes)),
        keep_(std::move(keep)),
        callee_(std::move(callee)),
        options_(options) {}

  absl::string_view name() const override { return "rule"; }

  void CollectKeys(RouteKeys* keys) const override {
    for (const RouteEntry* entry : routes_) {
      const RouteEntry& route = *entry;
      for (const RouteSource& source : route.sources) {
        for (const CallMatch& match : source.arguments) AddCallAttributeKey(match.key, keys);
      }
      for (const RouteDestination& destination : route.destinations) {
        for (const auto& [key, matcher] : destination.metadata) {
          if (matcher.value_type() == StringMatcher::ValueType::kParameter) {
            AddCallAttributeKey(matcher.value(), keys);
          }
        }
      }
    }
  }

  absl::Status Route(const RouteState& state, const RouteRequest& request,
                     RouteOutcome* outcome) const override {
    Candidates* candidates = &outcome->candidates;
    for (const RouteEntry* entry : routes_) {
      const RouteEntry& route = *entry;
      if (!SourceMatches(route, state, request)) continue;
      if (RouteTo(route, state, request, candidates)) return absl::OkStatus();
    }
    if (options_.failover == RuleRouterOptions::Failover::kAll) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat("polaris: no routing rule of ", callee_.ToString(),
                     " matches the call to ", request.path, " (rule failover is none)"));
  }

 private:
  bool SourceMatches(const RouteEntry& route, const RouteState& state,
                     const RouteRequest& request) const {
    if (route.sources.empty()) return true;
    const ServiceKey& caller = state.caller->service;
    for (const RouteSource& source : route.sources) {
      // A caller without a service matches only "*" sources.
      if (!NamesService(source.service, source.service_namespace, caller)) continue;
      bool all = true;
      for (const CallMatch& match : source.arguments) {
        if (!match.matcher.Matches(CallAttribute(state, request, match.key))) {
          all = false;
          break;
        }
      }
      if (all) return true;
    }
    return false;
  }

  bool InstanceMatches(const RouteDestination& destination, const Instance& instance,
                       const RouteState& state, const RouteRequest& request) const {
    for (const auto& [key, matcher] : destination.metadata) {
      auto it = instance.metadata.find(key);
      std::optional<absl::string_view> value;
      if (it != instance.metadata.end()) value = it->second;
      if (matcher.value_type() == StringMatcher::ValueType::kParameter) {
        std::optional<absl::string_view> wanted = CallAttribute(state, request, matcher.value());
        if (!wanted.has_value() || !matcher.MatchesWith(value, *wanted)) return false;
      } else if (!matcher.Matches(value)) {
        return false;
      }
    }
    return true;
  }

  // Narrows `candidates` to the route's destinations; false when no group
  // of the route has an instance.
  bool RouteTo(const RouteEntry& route, const RouteState& state,
               const RouteRequest& request, Candidates* candidates) const {
    struct Group {
      const RouteDestination* destination;
      std::vector<size_t> members;  // positions in `candidates`
      bool available = false;
    };
    std::map<uint32_t, std::vector<Group>> by_priority;
    for (const RouteDestination& destination : route.destinations) {
      if (destination.weight == 0 || destination.isolate) continue;
      if (!NamesService(destination.service, destination.service_namespace, callee_)) continue;
      Group group{&destination, {}, false};
      for (size_t position = 0; position < candidates->size(); ++position) {
        const Candidate& candidate = (*candidates)[position];
        if (!InstanceMatches(destination, state.instance(candidate.index), state, request)) {
          continue;
        }
        group.members.push_back(position);
        group.available = group.available || state.Available(candidate.index);
      }
      if (!group.members.empty()) by_priority[destination.priority].push_back(std::move(group));
    }
    if (by_priority.empty()) return false;
    // The first priority with an available instance, else the first.
    std::vector<Group>* chosen = &by_priority.begin()->second;
    for (auto& [priority, groups] : by_priority) {
      bool available = false;
      for (const Group& group : groups) available = available || group.available;
      if (available) {
        chosen = &groups;
        break;
      }
    }
    // Within the priority, available groups share the calls by weight.
    bool any_available = false;
    for (const Group& group : *chosen) any_available = any_available || group.available;
    double total_group_weight = 0;
    for (const Group& group : *chosen) {
      if (group.available || !any_available) total_group_weight += group.destination->weight;
    }
    // By position in `candidates` (an instance may be in two groups, and a
    // lane may list one instance twice, entering the lane or not).
    std::map<size_t, double> weights;
    for (const Group& group : *chosen) {
      if (any_available && !group.available) continue;
      double member_total = 0;
      for (const auto& member : group.members) member_total += (*candidates)[member].weight;
      const double share = group.destination->weight / total_group_weight;
      for (const auto& member : group.members) {
        weights[member] += kScaledTotal * share * ((*candidates)[member].weight / member_total);
      }
    }
    Candidates routed;
    routed.reserve(weights.size());
    for (const auto& [position, weight] : weights) {
      Candidate candidate = (*candidates)[position];
      candidate.weight = static_cast<uint32_t>(std::max(1.0, weight));
      routed.push_back(candidate);
    }
    *candidates = std::move(routed);
    return true;
  }

  const std::vector<const RouteEntry*> routes_;
  const std::vector<std::shared_ptr<const RoutingRules>> keep_;
  const ServiceKey callee_;
  const RuleRouterOptions options_;
};

class RuleRouterFactory final : public RouterFactory {
 public:
  absl::string_view name() const override { return "rule"; }
  absl::StatusOr<std::unique_ptr<Router>> Build(const ServiceView& view,
                                                const CallerIdentity& caller,
                                                const GovernanceOptions& options) const override {
    // As upstream: the callee's inbound routes when it has any, else the
    // caller's outbound routes that lead to the callee.
    std::shared_ptr<const RoutingRules> inbound = view.Rules<RoutingRules>();
    if (inbound != nullptr && !inbound->inbounds.empty()) {
      std::vector<const RouteEntry*> routes;
      for (const RouteEntry& route : inbound->inbounds) routes.push_back(&route);
      return std::make_unique<RuleRouter>(std::move(routes),
                                          std::vector<std::shared_ptr<const RoutingRules>>{inbound},
                                          view.key, options.rule);
    }
    auto it = caller.rules.find(RoutingRules::kParserName);
    if (it == caller.rules.end() || it->second == nullptr) return nullptr;
    auto outbound = std::static_pointer_cast<const RoutingRules>(it->second);
    std::vector<const RouteEntry*> routes;
    for (const RouteEntry& route : outbound->outbounds) {
      for (const RouteDestination& destination : route.destinations) {
        if (NamesService(destination.service, destination.service_namespace, view.key)) {
          routes.push_back(&route);
          break;
        }
      }
    }
    if (routes.empty()) return nullptr;
    return std::make_unique<RuleRouter>(std::move(routes),
                                        std::vector<std::shared_ptr<const RoutingRules>>{outbound},
                                        view.key, options.rule);
  }
};

}  // namespace

std::unique_ptr<RouterFactory> MakeRuleRouterFactory() {
  return std::make_unique<RuleRouterFactory>();
}

}  // namespace grpc_cpp_polaris
