#include "sdk/router/nearby_router.h"

#include <utility>

#include "sdk/router/routing_rules.h"

namespace grpc_cpp_polaris {

bool SameLocation(const Location& caller, const Location& instance, LocationLevel level) {
  auto same = [](const std::string& a, const std::string& b) {
    return a.empty() || b.empty() || a == b;
  };
  switch (level) {
    case LocationLevel::kCampus:
      if (!same(caller.campus, instance.campus)) return false;
      [[fallthrough]];
    case LocationLevel::kZone:
      if (!same(caller.zone, instance.zone)) return false;
      [[fallthrough]];
    case LocationLevel::kRegion:
      return same(caller.region, instance.region);
    case LocationLevel::kAll:
      return true;
  }
  return true;
}

namespace {

class NearbyRouter final : public Router {
 public:
  NearbyRouter(LocationLevel match_level, LocationLevel max_match_level,
               uint32_t unhealthy_percent_to_degrade)
      : match_level_(match_level),
        max_match_level_(max_match_level),
        unhealthy_percent_to_degrade_(unhealthy_percent_to_degrade) {}

  absl::string_view name() const override { return "nearby"; }
  void CollectKeys(RouteKeys* /*keys*/) const override {}  // the caller's location only

  absl::Status Route(const RouteState& state, const RouteRequest& /*request*/,
                     RouteOutcome* outcome) const override {
    Candidates* candidates = &outcome->candidates;
    const Location& here = state.caller->location;
    if (here.region.empty() && here.zone.empty() && here.campus.empty()) return absl::OkStatus();
    Candidates fallback;
    for (int level = static_cast<int>(match_level_); level <= static_cast<int>(max_match_level_);
         ++level) {
      Candidates at_level;
      size_t unavailable = 0;
      for (const Candidate& candidate : *candidates) {
        if (!SameLocation(here, state.instance(candidate.index).location,
                          static_cast<LocationLevel>(level))) {
          continue;
        }
        at_level.push_back(candidate);
        if (!state.Available(candidate.index)) ++unavailable;
      }
      if (at_level.empty()) continue;
      if (unavailable * 100 < unhealthy_percent_to_degrade_ * at_level.size()) {
        *candidates = std::move(at_level);
        return absl::OkStatus();
      }
      if (fallback.empty()) fallback = std::move(at_level);
    }
    // No level is healthy enough: the narrowest that has instances.
    *candidates = std::move(fallback);
    return absl::OkStatus();
  }

 private:
  const LocationLevel match_level_;
  const LocationLevel max_match_level_;
  const uint32_t unhealthy_percent_to_degrade_;
};

class NearbyRouterFactory final : public RouterFactory {
 public:
  absl::string_view name() const override { return "nearby"; }
  absl::StatusOr<std::unique_ptr<Router>> Build(const ServiceView& view,
                                                const CallerIdentity& /*caller*/,
                                                const GovernanceOptions& options) const override {
    std::shared_ptr<const RoutingRules> rules = view.Rules<RoutingRules>();
    LocationLevel match = options.nearby.match_level;
    LocationLevel max = options.nearby.max_match_level;
    if (rules != nullptr && !rules->nearby.empty()) {
      match = rules->nearby.front().match_level;
      max = rules->nearby.front().max_match_level;
    } else if (!options.nearby.enabled) {
      return nullptr;
    }
    return std::make_unique<NearbyRouter>(match, max, options.nearby.unhealthy_percent_to_degrade);
  }
};

}  // namespace

std::unique_ptr<RouterFactory> MakeNearbyRouterFactory() {
  return std::make_unique<NearbyRouterFactory>();
}

}  // namespace grpc_cpp_polaris
