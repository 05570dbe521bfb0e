// For router tests: a service view built from instances and rule answers,
// routed through a RouterChain, with no network.
#ifndef GRPC_CPP_POLARIS_SDK_ROUTER_ROUTER_TEST_UTIL_H_
#define GRPC_CPP_POLARIS_SDK_ROUTER_ROUTER_TEST_UTIL_H_

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "proto/v1/response.pb.h"
#include "sdk/builtin_governance.h"
#include "sdk/router/router.h"
#include "sdk/router/rule_builders.h"
#include "sdk/router/routing_rules.h"

namespace grpc_cpp_polaris {
namespace testing {

inline Instance MakeInstance(const std::string& id, std::map<std::string, std::string> metadata = {},
                             Location location = {}, uint32_t weight = 100) {
  Instance instance;
  instance.id = id;
  instance.host = "127.0.0.1";
  instance.port = 1000;
  instance.weight = weight;
  instance.metadata = std::move(metadata);
  instance.location = std::move(location);
  return instance;
}

class RouterFixture {
 public:
  RouterFixture() {
    RegisterBuiltinGovernance();
    view_.key = ServiceKey{"default", "Echo"};
    SetInstances({});
  }

  void SetInstances(std::vector<Instance> instances) {
    auto snapshot = std::make_shared<ServiceSnapshot>();
    snapshot->key = view_.key;
    snapshot->instances = std::move(instances);
    available_.assign(snapshot->instances.size(), true);
    view_.instances = std::move(snapshot);
  }
  void SetAvailable(const std::string& id, bool available) {
    for (size_t i = 0; i < view_.instances->instances.size(); ++i) {
      if (view_.instances->instances[i].id == id) available_[i] = available;
    }
  }

  // Parses `answer` (any rule type) as the service's answer of `type`, with
  // the parser of `parser_name`; the previous answers of other types stay.
  absl::Status SetAnswer(ResourceType type, const v1::DiscoverResponse& answer,
                         absl::string_view parser_name = RoutingRules::kParserName) {
    auto update = std::make_shared<ResourceUpdate>();
    update->type = type;
    update->key = view_.key;
    update->answer = std::make_shared<const v1::DiscoverResponse>(answer);
    answers_[ResourceIndex(type)] = std::move(update);
    const RuleParser* parser = *RuleParserRegistry::Global().Find(parser_name);
    absl::StatusOr<std::shared_ptr<const ParsedRules>> parsed = parser->Parse(view_.key, answers_);
    if (!parsed.ok()) return parsed.status();
    view_.rules[std::string(parser_name)] = *parsed;
    return absl::OkStatus();
  }
  absl::Status SetRouting(const v1::Routing& routing) {
    v1::DiscoverResponse answer;
    *answer.mutable_routing() = routing;
    return SetAnswer(ResourceType::kRouting, answer);
  }

  CallerIdentity& caller() { return caller_; }
  GovernanceOptions& options() { return options_; }
  const ServiceView& view() const { return view_; }

  absl::StatusOr<std::unique_ptr<RouterChain>> Chain() const {
    return RouterChain::Build(view_, caller_, options_);
  }
  absl::StatusOr<Candidates> Route(const RouteRequest& request) const {
    absl::StatusOr<RouteOutcome> outcome = RouteFully(request);
    if (!outcome.ok()) return outcome.status();
    return outcome->candidates;
  }
  absl::StatusOr<RouteOutcome> RouteFully(const RouteRequest& request) const {
    absl::StatusOr<std::unique_ptr<RouterChain>> chain = Chain();
    if (!chain.ok()) return chain.status();
    RouteState state{&view_, &caller_, &available_};
    return (*chain)->Route(state, request);
  }
  // Each routed instance's share of the calls, by id.
  std::map<std::string, double> Shares(const Candidates& candidates) const {
    double total = 0;
    for (const Candidate& candidate : candidates) total += candidate.weight;
    std::map<std::string, double> shares;
    for (const Candidate& candidate : candidates) {
      shares[view_.instances->instances[candidate.index].id] += candidate.weight / total;
    }
    return shares;
  }
  std::vector<std::string> Ids(const Candidates& candidates) const {
    return Ids(absl::StatusOr<Candidates>(candidates));
  }
  std::vector<std::string> Ids(const absl::StatusOr<Candidates>& candidates) const {
    std::vector<std::string> ids;
    if (!candidates.ok()) return ids;
    for (const Candidate& candidate : *candidates) {
      ids.push_back(view_.instances->instances[candidate.index].id);
    }
    return ids;
  }

 private:
  ServiceView view_;
  ResourceAnswers answers_;
  CallerIdentity caller_;
  GovernanceOptions options_;
  std::vector<bool> available_;
};

}  // namespace testing
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_ROUTER_ROUTER_TEST_UTIL_H_
