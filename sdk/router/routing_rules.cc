#include "sdk/router/routing_rules.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "proto/v1/response.pb.h"
#include "proto/v1/routing.pb.h"

namespace grpc_cpp_polaris {
namespace {

// "$header.X-User" → "$header.x-user": gRPC metadata keys are lowercase.
std::string NormaliseKey(const std::string& key) {
  constexpr absl::string_view kHeader = "$header.";
  if (absl::StartsWith(key, kHeader)) {
    return absl::StrCat(kHeader, absl::AsciiStrToLower(key.substr(kHeader.size())));
  }
  return key;
}

}  // namespace

absl::StatusOr<std::string> CallAttributeKey(const v1::SourceMatch& match,
                                             const std::string& field) {
  switch (match.type()) {
    case v1::SourceMatch::CUSTOM: return match.key();
    case v1::SourceMatch::METHOD: return std::string("$method");
    case v1::SourceMatch::HEADER: return NormaliseKey(absl::StrCat("$header.", match.key()));
    case v1::SourceMatch::QUERY: return absl::StrCat("$query.", match.key());
    case v1::SourceMatch::CALLER_IP: return std::string("$caller_ip");
    case v1::SourceMatch::PATH: return std::string("$path");
    case v1::SourceMatch::COOKIE: return absl::StrCat("$cookie.", match.key());
    case v1::SourceMatch::CALLER_METADATA: return absl::StrCat("$caller_metadata.", match.key());
    default:
      return absl::InvalidArgumentError(absl::StrCat(field, ".type: unknown SourceMatch type ",
                                                     static_cast<int>(match.type())));
  }
}

namespace {

absl::Status ParseMetadataMatchers(
    const google::protobuf::Map<std::string, v1::MatchString>& metadata, const std::string& field,
    bool normalise, std::vector<std::pair<std::string, StringMatcher>>* out) {
  // Sorted, so that messages and results do not depend on map order.
  std::vector<std::string> keys;
  for (const auto& entry : metadata) keys.push_back(entry.first);
  std::sort(keys.begin(), keys.end());
  for (const std::string& key : keys) {
    absl::StatusOr<StringMatcher> matcher =
        StringMatcher::FromProto(metadata.at(key), absl::StrCat(field, "[", key, "]"));
    if (!matcher.ok()) return matcher.status();
    out->emplace_back(normalise ? NormaliseKey(key) : key, *std::move(matcher));
  }
  return absl::OkStatus();
}

absl::StatusOr<RouteEntry> RouteFromV1(const v1::Route& proto, const std::string& field) {
  RouteEntry route;
  route.name = field;
  for (int i = 0; i < proto.sources_size(); ++i) {
    const v1::Source& source = proto.sources(i);
    RouteSource parsed;
    parsed.service = source.service().value();
    parsed.service_namespace = source.namespace_().value();
    std::vector<std::pair<std::string, StringMatcher>> matchers;
    absl::Status status = ParseMetadataMatchers(
        source.metadata(), absl::StrCat(field, ".sources[", i, "].metadata"), true, &matchers);
    if (!status.ok()) return status;
    for (auto& [key, matcher] : matchers) parsed.arguments.push_back({key, std::move(matcher)});
    route.sources.push_back(std::move(parsed));
  }
  for (int i = 0; i < proto.destinations_size(); ++i) {
    const v1::Destination& destination = proto.destinations(i);
    RouteDestination parsed;
    parsed.name = destination.name().value();
    parsed.service = destination.service().value();
    parsed.service_namespace = destination.namespace_().value();
    parsed.priority = destination.priority().value();
    // An unset weight counts as Polaris' default, 100; an explicit 0 takes no traffic.
    parsed.weight = destination.has_weight() ? destination.weight().value() : 100;
    parsed.isolate = destination.isolate().value();
    absl::Status status =
        ParseMetadataMatchers(destination.metadata(),
                              absl::StrCat(field, ".destinations[", i, "].metadata"), false,
                              &parsed.metadata);
    if (!status.ok()) return status;
    route.destinations.push_back(std::move(parsed));
  }
  return route;
}

absl::StatusOr<RouteSource> SourceFromV2(const v1::SourceService& proto, const std::string& field) {
  RouteSource source;
  source.service = proto.service();
  source.service_namespace = proto.namespace_();
  for (int i = 0; i < proto.arguments_size(); ++i) {
    const std::string argument_field = absl::StrCat(field, ".arguments[", i, "]");
    absl::StatusOr<std::string> key = CallAttributeKey(proto.arguments(i), argument_field);
    if (!key.ok()) return key.status();
    absl::StatusOr<StringMatcher> matcher =
        StringMatcher::FromProto(proto.arguments(i).value(), argument_field);
    if (!matcher.ok()) return matcher.status();
    source.arguments.push_back({*std::move(key), *std::move(matcher)});
  }
  return source;
}

absl::StatusOr<RouteDestination> DestinationFromV2(const v1::DestinationGroup& proto,
                                                   const std::string& field) {
  RouteDestination destination;
  destination.name = proto.name();
  destination.service = proto.service();
  destination.service_namespace = proto.namespace_();
  destination.priority = proto.priority();
  destination.weight = proto.weight();
  destination.isolate = proto.isolate();
  absl::Status status = ParseMetadataMatchers(proto.labels(), absl::StrCat(field, ".labels"),
                                              false, &destination.metadata);
  if (!status.ok()) return status;
  return destination;
}

// Unpacks `any` as T, accepting upstream's "type.googleapis.com/v1.T" and
// the console's older "v2." prefix.
template <typename T>
absl::Status UnpackConfig(const google::protobuf::Any& any, const std::string& field, T* out) {
  const std::string suffix = absl::StrCat(".", T::descriptor()->name());
  if (!absl::EndsWith(any.type_url(), suffix)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".routing_config: type_url '",
                                                   any.type_url(), "' is not a ",
                                                   T::descriptor()->full_name()));
  }
  if (!out->ParseFromString(any.value())) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".routing_config: not a valid ", T::descriptor()->full_name()));
  }
  return absl::OkStatus();
}

absl::StatusOr<LocationLevel> LevelFromProto(v1::NearbyRoutingConfig::LocationLevel level,
                                             const std::string& field, LocationLevel unset) {
  switch (level) {
    case v1::NearbyRoutingConfig::UNKNOWN: return unset;
    case v1::NearbyRoutingConfig::CAMPUS: return LocationLevel::kCampus;
    case v1::NearbyRoutingConfig::ZONE: return LocationLevel::kZone;
    case v1::NearbyRoutingConfig::REGION: return LocationLevel::kRegion;
    case v1::NearbyRoutingConfig::ALL: return LocationLevel::kAll;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": unknown LocationLevel ", static_cast<int>(level)));
  }
}

class RoutingRulesParser final : public RuleParser {
 public:
  absl::string_view name() const override { return RoutingRules::kParserName; }
  std::vector<ResourceType> sources() const override {
    return {ResourceType::kRouting, ResourceType::kCustomRouteRule,
            ResourceType::kNearbyRouteRule};
  }

  absl::StatusOr<std::shared_ptr<const ParsedRules>> Parse(
      const ServiceKey& key, const ResourceAnswers& answers) const override {
    auto rules = std::make_shared<RoutingRules>();
    std::vector<std::pair<const v1::RouteRule*, std::string>> route_rules;  // with field names
    if (const ResourceUpdatePtr& routing = answers[ResourceIndex(ResourceType::kRouting)];
        routing != nullptr && routing->answer != nullptr) {
      const v1::Routing& proto = routing->answer->routing();
      for (int i = 0; i < proto.inbounds_size(); ++i) {
        absl::StatusOr<RouteEntry> route =
            RouteFromV1(proto.inbounds(i), absl::StrCat("ROUTING routing.inbounds[", i, "]"));
        if (!route.ok()) return route.status();
        rules->inbounds.push_back(*std::move(route));
      }
      for (int i = 0; i < proto.outbounds_size(); ++i) {
        absl::StatusOr<RouteEntry> route =
            RouteFromV1(proto.outbounds(i), absl::StrCat("ROUTING routing.outbounds[", i, "]"));
        if (!route.ok()) return route.status();
        rules->outbounds.push_back(*std::move(route));
      }
      for (int i = 0; i < proto.rules_size(); ++i) {
        route_rules.emplace_back(&proto.rules(i), absl::StrCat("ROUTING routing.rules[", i, "]"));
      }
    }
    if (const ResourceUpdatePtr& custom = answers[ResourceIndex(ResourceType::kCustomRouteRule)];
        custom != nullptr && custom->answer != nullptr) {
      for (int i = 0; i < custom->answer->customrouterules_size(); ++i) {
        route_rules.emplace_back(&custom->answer->customrouterules(i),
                                 absl::StrCat("CUSTOM_ROUTE_RULE customRouteRules[", i, "]"));
      }
    }
    if (const ResourceUpdatePtr& nearby = answers[ResourceIndex(ResourceType::kNearbyRouteRule)];
        nearby != nullptr && nearby->answer != nullptr) {
      for (int i = 0; i < nearby->answer->nearbyrouterules_size(); ++i) {
        route_rules.emplace_back(&nearby->answer->nearbyrouterules(i),
                                 absl::StrCat("NEARBY_ROUTE_RULE nearbyRouteRules[", i, "]"));
      }
    }
    // Lower priority first; stable, so served order breaks ties.
    std::stable_sort(route_rules.begin(), route_rules.end(), [](const auto& a, const auto& b) {
      return a.first->priority() < b.first->priority();
    });
    std::set<std::string> seen_ids;
    for (const auto& [rule, where] : route_rules) {
      if (!rule->enable()) continue;
      if (!rule->id().empty() && !seen_ids.insert(rule->id()).second) continue;
      const std::string field =
          absl::StrCat(where, " (", rule->name().empty() ? rule->id() : rule->name(), ")");
      absl::Status status = AddRouteRule(*rule, field, key, rules.get());
      if (!status.ok()) return status;
    }
    return std::shared_ptr<const ParsedRules>(std::move(rules));
  }

 private:
  static absl::Status AddRouteRule(const v1::RouteRule& rule, const std::string& field,
                                   const ServiceKey& key, RoutingRules* rules) {
    switch (rule.routing_policy()) {
      case v1::RulePolicy: {
        v1::RuleRoutingConfig config;
        absl::Status status = UnpackConfig(rule.routing_config(), field, &config);
        if (!status.ok()) return status;
        // Newer consoles write sub-rules; older ones one source/destination set.
        std::vector<std::pair<std::string, std::pair<const google::protobuf::RepeatedPtrField<
                                                         v1::SourceService>*,
                                                     const google::protobuf::RepeatedPtrField<
                                                         v1::DestinationGroup>*>>>
            parts;
        if (config.rules_size() > 0) {
          for (int i = 0; i < config.rules_size(); ++i) {
            parts.push_back({absl::StrCat(field, ".routing_config.rules[", i, "]"),
                             {&config.rules(i).sources(), &config.rules(i).destinations()}});
          }
        } else {
          parts.push_back(
              {absl::StrCat(field, ".routing_config"), {&config.sources(), &config.destinations()}});
        }
        for (const auto& [part_field, part] : parts) {
          RouteEntry route;
          route.name = part_field;
          bool inbound = false, outbound = false;
          for (int i = 0; i < part.first->size(); ++i) {
            absl::StatusOr<RouteSource> source =
                SourceFromV2(part.first->Get(i), absl::StrCat(part_field, ".sources[", i, "]"));
            if (!source.ok()) return source.status();
            outbound = outbound || (source->service == key.service &&
                                    source->service_namespace == key.service_namespace);
            route.sources.push_back(*std::move(source));
          }
          for (int i = 0; i < part.second->size(); ++i) {
            absl::StatusOr<RouteDestination> destination = DestinationFromV2(
                part.second->Get(i), absl::StrCat(part_field, ".destinations[", i, "]"));
            if (!destination.ok()) return destination.status();
            inbound = inbound ||
                      NamesService(destination->service, destination->service_namespace, key);
            route.destinations.push_back(*std::move(destination));
          }
          if (inbound) rules->inbounds.push_back(route);
          if (outbound) rules->outbounds.push_back(std::move(route));
        }
        return absl::OkStatus();
      }
      case v1::NearbyPolicy: {
        v1::NearbyRoutingConfig config;
        absl::Status status = UnpackConfig(rule.routing_config(), field, &config);
        if (!status.ok()) return status;
        if (!NamesService(config.service(), config.namespace_(), key)) return absl::OkStatus();
        NearbyRule nearby;
        nearby.name = field;
        absl::StatusOr<LocationLevel> match = LevelFromProto(
            config.match_level(), absl::StrCat(field, ".routing_config.match_level"),
            LocationLevel::kZone);
        if (!match.ok()) return match.status();
        absl::StatusOr<LocationLevel> max = LevelFromProto(
            config.max_match_level(), absl::StrCat(field, ".routing_config.max_match_level"),
            LocationLevel::kAll);
        if (!max.ok()) return max.status();
        if (*max < *match) {
          return absl::InvalidArgumentError(absl::StrCat(
              field, ".routing_config.max_match_level is narrower than match_level"));
        }
        nearby.match_level = *match;
        nearby.max_match_level = *max;
        rules->nearby.push_back(std::move(nearby));
        return absl::OkStatus();
      }
      case v1::MetadataPolicy:
        return absl::OkStatus();  // never served to clients by upstream
      default:
        return absl::InvalidArgumentError(absl::StrCat(field, ".routing_policy: unknown policy ",
                                                       static_cast<int>(rule.routing_policy())));
    }
  }
};

}  // namespace

std::unique_ptr<RuleParser> MakeRoutingRulesParser() {
  return std::make_unique<RoutingRulesParser>();
}

}  // namespace grpc_cpp_polaris
