#include "sdk/router/lane_router.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "proto/v1/lane.pb.h"
#include "proto/v1/response.pb.h"

namespace grpc_cpp_polaris {
namespace {

constexpr char kServiceEntry[] = "polarismesh.cn/service";
constexpr char kGatewayEntry[] = "polarismesh.cn/gateway/spring-cloud-gateway";

template <typename Selector>
absl::StatusOr<LaneEntrySpec> EntryFrom(const Selector& selector, const std::string& field) {
  LaneEntrySpec entry;
  entry.service = ServiceKey{selector.namespace_(), selector.service()};
  std::vector<std::string> keys;
  for (const auto& label : selector.labels()) keys.push_back(label.first);
  std::sort(keys.begin(), keys.end());
  for (const std::string& key : keys) {
    absl::StatusOr<StringMatcher> matcher = StringMatcher::FromProto(
        selector.labels().at(key), absl::StrCat(field, ".selector.labels[", key, "]"));
    if (!matcher.ok()) return matcher.status();
    entry.labels.emplace_back(key, *std::move(matcher));
  }
  return entry;
}

absl::StatusOr<LaneGroupSpec> GroupFrom(const v1::LaneGroup& proto, const std::string& field) {
  LaneGroupSpec group;
  group.name = proto.name();
  for (int i = 0; i < proto.entries_size(); ++i) {
    const v1::TrafficEntry& entry = proto.entries(i);
    const std::string entry_field = absl::StrCat(field, ".entries[", i, "]");
    absl::StatusOr<LaneEntrySpec> parsed;
    if (entry.type() == kServiceEntry) {
      v1::ServiceSelector selector;
      if (!entry.selector().UnpackTo(&selector)) {
        return absl::InvalidArgumentError(
            absl::StrCat(entry_field, ".selector: not a v1.ServiceSelector (type_url '",
                         entry.selector().type_url(), "')"));
      }
      parsed = EntryFrom(selector, entry_field);
    } else if (entry.type() == kGatewayEntry) {
      v1::ServiceGatewaySelector selector;
      if (!entry.selector().UnpackTo(&selector)) {
        return absl::InvalidArgumentError(
            absl::StrCat(entry_field, ".selector: not a v1.ServiceGatewaySelector (type_url '",
                         entry.selector().type_url(), "')"));
      }
      parsed = EntryFrom(selector, entry_field);
    } else {
      continue;  // other gateways (e.g. TSE) never call through this SDK
    }
    if (!parsed.ok()) return parsed.status();
    group.entries.push_back(*std::move(parsed));
  }
  for (const v1::DestinationGroup& destination : proto.destinations()) {
    group.destinations.push_back(ServiceKey{
        destination.namespace_().empty() ? kDefaultNamespace : destination.namespace_(),
        destination.service()});
  }
  for (int i = 0; i < proto.rules_size(); ++i) {
    const v1::LaneRule& rule = proto.rules(i);
    const std::string rule_field = absl::StrCat(field, ".rules[", i, "] (", rule.name(), ")");
    LaneRuleSpec spec;
    spec.group = group.name;
    spec.name = rule.name();
    spec.tag = absl::StrCat(group.name, "/", rule.name());
    if (!rule.label_key().empty()) spec.label_key = rule.label_key();
    spec.label_value = rule.default_label_value();
    spec.enabled = rule.enable();
    spec.priority = rule.priority();
    switch (rule.match_mode()) {
      case v1::LaneRule::STRICT: spec.strict = true; break;
      case v1::LaneRule::PERMISSIVE: spec.strict = false; break;
      default:
        return absl::InvalidArgumentError(absl::StrCat(rule_field, ".match_mode: unknown mode ",
                                                       static_cast<int>(rule.match_mode())));
    }
    const v1::TrafficMatchRule& match = rule.traffic_match_rule();
    switch (match.matchmode()) {
      case v1::TrafficMatchRule::AND: spec.match_any = false; break;
      case v1::TrafficMatchRule::OR: spec.match_any = true; break;
      default:
        return absl::InvalidArgumentError(
            absl::StrCat(rule_field, ".traffic_match_rule.matchMode: unknown mode ",
                         static_cast<int>(match.matchmode())));
    }
    for (int j = 0; j < match.arguments_size(); ++j) {
      const std::string argument_field =
          absl::StrCat(rule_field, ".traffic_match_rule.arguments[", j, "]");
      absl::StatusOr<std::string> key = CallAttributeKey(match.arguments(j), argument_field);
      if (!key.ok()) return key.status();
      absl::StatusOr<StringMatcher> matcher =
          StringMatcher::FromProto(match.arguments(j).value(), argument_field);
      if (!matcher.ok()) return matcher.status();
      spec.arguments.push_back(CallMatch{*std::move(key), *std::move(matcher)});
    }
    if (rule.has_traffic_gray() && rule.traffic_gray().mode() == v1::TrafficGray::PERCENTAGE &&
        rule.traffic_gray().has_percentage()) {
      const int percent = rule.traffic_gray().percentage().percent();
      spec.gray_percent = static_cast<uint32_t>(std::clamp(percent, 0, 100));
    }
    group.rules.push_back(std::move(spec));
  }
  std::stable_sort(group.rules.begin(), group.rules.end(),
                   [](const LaneRuleSpec& a, const LaneRuleSpec& b) {
                     return a.priority < b.priority;
                   });
  return group;
}

class LaneRulesParser final : public RuleParser {
 public:
  absl::string_view name() const override { return LaneRules::kParserName; }
  std::vector<ResourceType> sources() const override { return {ResourceType::kLane}; }
  absl::StatusOr<std::shared_ptr<const ParsedRules>> Parse(
      const ServiceKey& /*key*/, const ResourceAnswers& answers) const override {
    auto rules = std::make_shared<LaneRules>();
    const ResourceUpdatePtr& lane = answers[ResourceIndex(ResourceType::kLane)];
    if (lane != nullptr && lane->answer != nullptr) {
      for (int i = 0; i < lane->answer->lanes_size(); ++i) {
        absl::StatusOr<LaneGroupSpec> group = GroupFrom(
            lane->answer->lanes(i),
            absl::StrCat("LANE lanes[", i, "] (", lane->answer->lanes(i).name(), ")"));
        if (!group.ok()) return group.status();
        rules->groups.push_back(*std::move(group));
      }
    }
    return std::shared_ptr<const ParsedRules>(std::move(rules));
  }
};

class LaneRouter final : public Router {
 public:
  LaneRouter(std::shared_ptr<const LaneRules> rules, ServiceKey callee,
             LaneRouterOptions options)
      : rules_(std::move(rules)), callee_(std::move(callee)), options_(options) {
    for (const LaneGroupSpec& group : rules_->groups) {
      bool destination = false;
      for (const ServiceKey& key : group.destinations) destination = destination || key == callee_;
      if (!destination) continue;
      for (const LaneRuleSpec& rule : group.rules) {
        lane_keys_.insert(rule.label_key);
        if (rule.enabled) enabled_lanes_.emplace_back(rule.label_key, rule.label_value);
      }
    }
  }

  absl::string_view name() const override { return "lane"; }

  void CollectKeys(RouteKeys* keys) const override {
    keys->lane = true;
    for (const LaneGroupSpec& group : rules_->groups) {
      for (const LaneRuleSpec& rule : group.rules) {
        for (const CallMatch& match : rule.arguments) AddCallAttributeKey(match.key, keys);
      }
    }
  }

  absl::Status Route(const RouteState& state, const RouteRequest& request,
                     RouteOutcome* outcome) const override {
    Candidates& candidates = outcome->candidates;
    const LaneRuleSpec* rule = nullptr;
    bool tagged_here = false;
    if (!request.lane.empty()) {
      rule = FindRule(request.lane);
    } else {
      rule = EntryRule(state, request);
      tagged_here = rule != nullptr;
    }
    Candidates baseline = Baseline(state, candidates);
    if (rule == nullptr) {
      if (!lane_keys_.empty()) candidates = std::move(baseline);
      return absl::OkStatus();
    }
    Candidates lane;
    if (Destination(*rule)) {
      for (const Candidate& candidate : candidates) {
        const Instance& instance = state.instance(candidate.index);
        auto it = instance.metadata.find(rule->label_key);
        if (it != instance.metadata.end() && it->second == rule->label_value) {
          lane.push_back(candidate);
        }
      }
      if (lane.empty() && rule->strict) {
        return absl::FailedPreconditionError(
            absl::StrCat("polaris: lane '", rule->tag, "' is strict and has no instance of ",
                         callee_.ToString()));
      }
    }
    if (lane.empty()) lane = baseline;  // permissive, or not a destination
    if (!tagged_here) {
      candidates = std::move(lane);  // the call carries its tag already
      return absl::OkStatus();
    }
    // Tagged here: gray_percent of the calls enter the lane (and carry the
    // tag), the others stay on the baseline, as weighted shares.
    outcome->lane_tag = rule->tag;
    const double in_lane = rule->gray_percent / 100.0;
    Candidates mixed;
    Scale(lane, in_lane, /*enters_lane=*/true, &mixed);
    Scale(baseline, 1.0 - in_lane, /*enters_lane=*/false, &mixed);
    candidates = std::move(mixed);
    return absl::OkStatus();
  }

 private:
  static void Scale(const Candidates& part, double share, bool enters_lane, Candidates* out) {
    if (share <= 0 || part.empty()) return;
    double total = 0;
    for (const Candidate& candidate : part) total += candidate.weight;
    for (Candidate candidate : part) {
      candidate.weight = static_cast<uint32_t>(
          std::max(1.0, 2147483648.0 * share * (candidate.weight / total)));
      candidate.enters_lane = enters_lane;
      out->push_back(candidate);
    }
  }

  bool Destination(const LaneRuleSpec& rule) const {
    for (const LaneGroupSpec& group : rules_->groups) {
      if (group.name != rule.group) continue;
      for (const ServiceKey& key : group.destinations) {
        if (key == callee_) return true;
      }
    }
    return false;
  }

  // The rule a tag names: "group/rule", or a rule's default label value.
  const LaneRuleSpec* FindRule(const std::string& tag) const {
    for (const LaneGroupSpec& group : rules_->groups) {
      for (const LaneRuleSpec& rule : group.rules) {
        if (rule.enabled && (rule.tag == tag || rule.label_value == tag)) return &rule;
      }
    }
    return nullptr;
  }

  // The first enabled rule of a group the caller enters that the call matches.
  const LaneRuleSpec* EntryRule(const RouteState& state, const RouteRequest& request) const {
    const CallerIdentity& caller = *state.caller;
    for (const LaneGroupSpec& group : rules_->groups) {
      bool entry = false;
      for (const LaneEntrySpec& spec : group.entries) {
        if (caller.service.service.empty() || !NamesService(spec.service.service, spec.service.service_namespace, caller.service)) continue;
        bool labels = true;
        for (const auto& [key, matcher] : spec.labels) {
          auto it = caller.metadata.find(key);
          std::optional<absl::string_view> value;
          if (it != caller.metadata.end()) value = it->second;
          labels = labels && matcher.Matches(value);
        }
        entry = entry || labels;
      }
      if (!entry) continue;
      for (const LaneRuleSpec& rule : group.rules) {
        if (!rule.enabled || rule.arguments.empty() || rule.gray_percent == 0) continue;
        bool matched = !rule.match_any;
        for (const CallMatch& match : rule.arguments) {
          const bool one = match.matcher.Matches(CallAttribute(state, request, match.key));
          matched = rule.match_any ? (matched || one) : (matched && one);
        }
        if (matched) return &rule;
      }
    }
    return nullptr;
  }

  Candidates Baseline(const RouteState& state, const Candidates& candidates) const {
    Candidates baseline;
    for (const Candidate& candidate : candidates) {
      const Instance& instance = state.instance(candidate.index);
      bool in_lane = false;
      if (options_.baseline == LaneRouterOptions::Baseline::kOnlyUntagged) {
        for (const std::string& key : lane_keys_) in_lane = in_lane || instance.metadata.count(key);
      } else {
        for (const auto& [key, value] : enabled_lanes_) {
          auto it = instance.metadata.find(key);
          in_lane = in_lane || (it != instance.metadata.end() && it->second == value);
        }
      }
      if (!in_lane) baseline.push_back(candidate);
    }
    return baseline;
  }

  const std::shared_ptr<const LaneRules> rules_;
  const ServiceKey callee_;
  const LaneRouterOptions options_;
  std::set<std::string> lane_keys_;  // label keys of the lanes through the callee
  std::vector<std::pair<std::string, std::string>> enabled_lanes_;
};

class LaneRouterFactory final : public RouterFactory {
 public:
  absl::string_view name() const override { return "lane"; }
  absl::StatusOr<std::unique_ptr<Router>> Build(const ServiceView& view,
                                                const CallerIdentity& /*caller*/,
                                                const GovernanceOptions& options) const override {
    std::shared_ptr<const LaneRules> rules = view.Rules<LaneRules>();
    if (rules == nullptr || rules->groups.empty()) return nullptr;
    return std::make_unique<LaneRouter>(std::move(rules), view.key, options.lane);
  }
};

}  // namespace

std::unique_ptr<RuleParser> MakeLaneRulesParser() { return std::make_unique<LaneRulesParser>(); }

std::unique_ptr<RouterFactory> MakeLaneRouterFactory() {
  return std::make_unique<LaneRouterFactory>();
}

}  // namespace grpc_cpp_polaris
