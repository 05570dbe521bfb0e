#include "mockplane/rule_registry.h"

#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/json_util.h>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "proto/mockplane/rules_file.pb.h"
#include "mockplane/wire_codes.h"
#include "proto/v1/code.pb.h"

namespace grpc_cpp_polaris {
namespace mockplane {
namespace {

v1::DiscoverResponse Header(DiscoverType type, const ServiceKey& key, v1::Code code,
                            const std::string& revision) {
  v1::DiscoverResponse response = WithCode<v1::DiscoverResponse>(code);
  response.set_type(static_cast<v1::DiscoverResponse::DiscoverResponseType>(type));
  response.mutable_service()->mutable_name()->set_value(key.service);
  response.mutable_service()->mutable_namespace_()->set_value(key.service_namespace);
  response.mutable_service()->mutable_revision()->set_value(revision);
  return response;
}

// The services a lane group is served to (upstream's cache/service/lane.go):
// its destinations, and the services its microservice and gateway entries
// select.
absl::StatusOr<std::vector<ServiceKey>> LaneServices(const v1::LaneGroup& group) {
  std::set<ServiceKey> keys;
  auto add = [&keys](const std::string& name_space, const std::string& service) {
    if (!service.empty()) keys.insert(ServiceKey{name_space.empty() ? kDefaultNamespace : name_space, service});
  };
  for (const v1::DestinationGroup& destination : group.destinations()) {
    add(destination.namespace_(), destination.service());
  }
  for (int i = 0; i < group.entries_size(); ++i) {
    const v1::TrafficEntry& entry = group.entries(i);
    if (entry.type() == "polarismesh.cn/service") {
      v1::ServiceSelector selector;
      if (!entry.selector().UnpackTo(&selector)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "lane group '", group.name(), "': entries[", i,
            "].selector is not a v1.ServiceSelector (type_url '", entry.selector().type_url(), "')"));
      }
      add(selector.namespace_(), selector.service());
    } else if (entry.type() == "polarismesh.cn/gateway/spring-cloud-gateway") {
      v1::ServiceGatewaySelector selector;
      if (!entry.selector().UnpackTo(&selector)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "lane group '", group.name(), "': entries[", i,
            "].selector is not a v1.ServiceGatewaySelector (type_url '",
            entry.selector().type_url(), "')"));
      }
      add(selector.namespace_(), selector.service());
    }
  }
  return std::vector<ServiceKey>(keys.begin(), keys.end());
}

// The types upstream's mainline server answers (apiserver/grpcserver/
// discover/v1/client_access.go); the others get InvalidDiscoverResource.
bool MainlineServes(DiscoverType type) {
  return type == v1::DiscoverRequest::ROUTING || type == v1::DiscoverRequest::CIRCUIT_BREAKER ||
         type == v1::DiscoverRequest::RATE_LIMIT || type == v1::DiscoverRequest::FAULT_DETECTOR;
}

}  // namespace

void RuleRegistry::SetChangeListener(ChangeListener listener) {
  std::lock_guard<std::mutex> lock(listener_mu_);
  listener_ = std::move(listener);
}

bool RuleRegistry::Serves(DiscoverType type) {
  switch (type) {
    case v1::DiscoverRequest::ROUTING:
    case v1::DiscoverRequest::CIRCUIT_BREAKER:
    case v1::DiscoverRequest::RATE_LIMIT:
    case v1::DiscoverRequest::FAULT_DETECTOR:
    case v1::DiscoverRequest::LANE:
    case v1::DiscoverRequest::CUSTOM_ROUTE_RULE:
    case v1::DiscoverRequest::NEARBY_ROUTE_RULE:
    case v1::DiscoverRequest::LOSSLESS:
    case v1::DiscoverRequest::BLOCK_ALLOW_RULE:
    case v1::DiscoverRequest::TRAFFIC_MIRRORING:
    case v1::DiscoverRequest::FAULT_INJECTION:
      return true;
    default:
      return false;
  }
}

void RuleRegistry::Store(DiscoverType type, const ServiceKey& key,
                         v1::DiscoverResponse response) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string revision = revisions_.Next();
    response.mutable_service()->mutable_revision()->set_value(revision);
    // The rule carries the revision too, as the real server's do.
    if (response.has_routing()) response.mutable_routing()->mutable_revision()->set_value(revision);
    if (response.has_ratelimit()) {
      response.mutable_ratelimit()->mutable_revision()->set_value(revision);
    }
    if (response.has_circuitbreaker()) {
      response.mutable_circuitbreaker()->mutable_revision()->set_value(revision);
    }
    if (response.has_faultdetector()) response.mutable_faultdetector()->set_revision(revision);
    rules_[{type, key}] = std::make_shared<const v1::DiscoverResponse>(std::move(response));
  }
  std::lock_guard<std::mutex> lock(listener_mu_);
  if (listener_) listener_(type, key);
}

void RuleRegistry::SetRouting(const ServiceKey& key, v1::Routing routing) {
  routing.mutable_service()->set_value(key.service);
  routing.mutable_namespace_()->set_value(key.service_namespace);
  v1::DiscoverResponse custom =
      Header(v1::DiscoverRequest::CUSTOM_ROUTE_RULE, key, v1::ExecuteSuccess, "");
  v1::DiscoverResponse nearby =
      Header(v1::DiscoverRequest::NEARBY_ROUTE_RULE, key, v1::ExecuteSuccess, "");
  for (const v1::RouteRule& rule : routing.rules()) {
    if (rule.routing_policy() == v1::RulePolicy) *custom.add_customrouterules() = rule;
    if (rule.routing_policy() == v1::NearbyPolicy) *nearby.add_nearbyrouterules() = rule;
  }
  v1::DiscoverResponse response = Header(v1::DiscoverRequest::ROUTING, key, v1::ExecuteSuccess, "");
  *response.mutable_routing() = std::move(routing);
  Store(v1::DiscoverRequest::ROUTING, key, std::move(response));
  Store(v1::DiscoverRequest::CUSTOM_ROUTE_RULE, key, std::move(custom));
  Store(v1::DiscoverRequest::NEARBY_ROUTE_RULE, key, std::move(nearby));
}

void RuleRegistry::SetCircuitBreaker(const ServiceKey& key, v1::CircuitBreaker circuit_breaker) {
  circuit_breaker.mutable_service()->set_value(key.service);
  circuit_breaker.mutable_service_namespace()->set_value(key.service_namespace);
  v1::DiscoverResponse response =
      Header(v1::DiscoverRequest::CIRCUIT_BREAKER, key, v1::ExecuteSuccess, "");
  *response.mutable_circuitbreaker() = std::move(circuit_breaker);
  Store(v1::DiscoverRequest::CIRCUIT_BREAKER, key, std::move(response));
}

void RuleRegistry::SetRateLimit(const ServiceKey& key, v1::RateLimit rate_limit) {
  // As the real server's rateLimit2Client: every rule names the service it
  // is served for and has an id and a revision (clients key their windows
  // by them, polaris-go by revision too, and polaris-cpp INITs with the
  // rule's own service). What the console would have given is derived here:
  // the id from the rule's name (its place only when names repeat), the
  // revision from its content, so setting unchanged rules again keeps both.
  std::set<std::string> ids;
  for (int i = 0; i < rate_limit.rules_size(); ++i) {
    v1::Rule& rule = *rate_limit.mutable_rules(i);
    rule.mutable_service()->set_value(key.service);
    rule.mutable_namespace_()->set_value(key.service_namespace);
    if (rule.id().value().empty()) {
      const std::string base =
          absl::StrCat("ratelimit##", key.service_namespace, "##", key.service, "##",
                       rule.name().value());
      std::string id = Fnv1aHex(base);
      if (ids.count(id) > 0) id = Fnv1aHex(absl::StrCat(base, "##", i));
      rule.mutable_id()->set_value(id);
    }
    ids.insert(rule.id().value());
    if (rule.revision().value().empty()) {
      std::string content;
      google::protobuf::io::StringOutputStream stream(&content);
      google::protobuf::io::CodedOutputStream coded(&stream);
      coded.SetSerializationDeterministic(true);
      rule.SerializeToCodedStream(&coded);
      coded.Trim();
      rule.mutable_revision()->set_value(Fnv1aHex(content));
    }
  }
  v1::DiscoverResponse response =
      Header(v1::DiscoverRequest::RATE_LIMIT, key, v1::ExecuteSuccess, "");
  *response.mutable_ratelimit() = std::move(rate_limit);
  Store(v1::DiscoverRequest::RATE_LIMIT, key, std::move(response));
}

void RuleRegistry::SetFaultDetector(const ServiceKey& key, v1::FaultDetector fault_detector) {
  v1::DiscoverResponse response =
      Header(v1::DiscoverRequest::FAULT_DETECTOR, key, v1::ExecuteSuccess, "");
  *response.mutable_faultdetector() = std::move(fault_detector);
  Store(v1::DiscoverRequest::FAULT_DETECTOR, key, std::move(response));
}

void RuleRegistry::SetLossless(const ServiceKey& key, v1::LosslessRule rule) {
  rule.set_service(key.service);
  rule.set_namespace_(key.service_namespace);
  v1::DiscoverResponse response = Header(v1::DiscoverRequest::LOSSLESS, key, v1::ExecuteSuccess, "");
  *response.add_losslessrulelist() = rule;
  *response.mutable_lossless() = std::move(rule);
  Store(v1::DiscoverRequest::LOSSLESS, key, std::move(response));
}

void RuleRegistry::SetBlockAllowList(const ServiceKey& key,
                                     std::vector<v1::BlockAllowListRule> rules) {
  v1::DiscoverResponse response =
      Header(v1::DiscoverRequest::BLOCK_ALLOW_RULE, key, v1::ExecuteSuccess, "");
  for (v1::BlockAllowListRule& rule : rules) *response.add_blockallowlistrule() = std::move(rule);
  Store(v1::DiscoverRequest::BLOCK_ALLOW_RULE, key, std::move(response));
}

void RuleRegistry::SetTrafficMirroring(const ServiceKey& key,
                                       std::vector<v1::TrafficMirroring> rules) {
  v1::DiscoverResponse response =
      Header(v1::DiscoverRequest::TRAFFIC_MIRRORING, key, v1::ExecuteSuccess, "");
  for (v1::TrafficMirroring& rule : rules) *response.add_trafficmirroring() = std::move(rule);
  Store(v1::DiscoverRequest::TRAFFIC_MIRRORING, key, std::move(response));
}

void RuleRegistry::SetFaultInjection(const ServiceKey& key,
                                     std::vector<v1::FaultInjection> rules) {
  v1::DiscoverResponse response =
      Header(v1::DiscoverRequest::FAULT_INJECTION, key, v1::ExecuteSuccess, "");
  for (v1::FaultInjection& rule : rules) *response.add_faultinjection() = std::move(rule);
  Store(v1::DiscoverRequest::FAULT_INJECTION, key, std::move(response));
}

absl::Status RuleRegistry::SetLaneGroup(v1::LaneGroup group) {
  if (group.name().empty()) return absl::InvalidArgumentError("lane group: name is required");
  absl::StatusOr<std::vector<ServiceKey>> services = LaneServices(group);
  if (!services.ok()) return services.status();
  std::lock_guard<std::mutex> lock(lanes_mu_);
  std::vector<ServiceKey> affected = *services;
  auto old = lane_groups_.find(group.name());
  if (old != lane_groups_.end()) {
    absl::StatusOr<std::vector<ServiceKey>> before = LaneServices(old->second);
    if (before.ok()) affected.insert(affected.end(), before->begin(), before->end());
  }
  lane_groups_[group.name()] = std::move(group);
  StoreLanes(affected);
  return absl::OkStatus();
}

void RuleRegistry::RemoveLaneGroup(const std::string& name) {
  std::lock_guard<std::mutex> lock(lanes_mu_);
  auto it = lane_groups_.find(name);
  if (it == lane_groups_.end()) return;
  absl::StatusOr<std::vector<ServiceKey>> before = LaneServices(it->second);
  lane_groups_.erase(it);
  if (before.ok()) StoreLanes(*before);
}

void RuleRegistry::StoreLanes(const std::vector<ServiceKey>& keys) {
  // Which services each group mentions, worked out once for all the keys.
  std::vector<std::pair<const v1::LaneGroup*, std::set<ServiceKey>>> mentions;
  for (const auto& entry : lane_groups_) {
    absl::StatusOr<std::vector<ServiceKey>> services = LaneServices(entry.second);
    if (!services.ok()) continue;
    mentions.emplace_back(&entry.second, std::set<ServiceKey>(services->begin(), services->end()));
  }
  const std::set<ServiceKey> unique(keys.begin(), keys.end());
  for (const ServiceKey& key : unique) {
    v1::DiscoverResponse response = Header(v1::DiscoverRequest::LANE, key, v1::ExecuteSuccess, "");
    for (const auto& [group, services] : mentions) {
      if (services.count(key) > 0) *response.add_lanes() = *group;
    }
    Store(v1::DiscoverRequest::LANE, key, std::move(response));
  }
}

void RuleRegistry::Clear(DiscoverType type, const ServiceKey& key) {
  Store(type, key, Header(type, key, v1::ExecuteSuccess, ""));
}

absl::Status RuleRegistry::LoadJson(const std::string& json) {
  RulesFile file;
  google::protobuf::util::JsonParseOptions options;
  auto parsed = google::protobuf::util::JsonStringToMessage(json, &file, options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("rules file: ", parsed.message().as_string()));
  }
  std::vector<std::pair<ServiceKey, const ServiceRules*>> entries;
  for (int i = 0; i < file.services_size(); ++i) {
    const ServiceRules& rules = file.services(i);
    if (rules.service().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("rules file: services[", i, "].service is required"));
    }
    ServiceKey key{rules.namespace_().empty() ? kDefaultNamespace : rules.namespace_(),
                   rules.service()};
    entries.emplace_back(std::move(key), &rules);
  }
  for (int i = 0; i < file.lane_groups_size(); ++i) {
    if (file.lane_groups(i).name().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("rules file: lane_groups[", i, "].name is required"));
    }
    absl::StatusOr<std::vector<ServiceKey>> services = LaneServices(file.lane_groups(i));
    if (!services.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("rules file: lane_groups[", i, "]: ", services.status().message()));
    }
  }
  // Everything parsed: apply.
  for (const auto& [key, rules] : entries) {
    if (rules->has_routing()) SetRouting(key, rules->routing());
    if (rules->has_circuit_breaker()) SetCircuitBreaker(key, rules->circuit_breaker());
    if (rules->has_rate_limit()) SetRateLimit(key, rules->rate_limit());
    if (rules->has_fault_detector()) SetFaultDetector(key, rules->fault_detector());
    if (rules->has_lossless()) SetLossless(key, rules->lossless());
    if (rules->block_allow_list_size() > 0) {
      SetBlockAllowList(key, {rules->block_allow_list().begin(), rules->block_allow_list().end()});
    }
    if (rules->traffic_mirroring_size() > 0) {
      SetTrafficMirroring(key,
                          {rules->traffic_mirroring().begin(), rules->traffic_mirroring().end()});
    }
    if (rules->fault_injection_size() > 0) {
      SetFaultInjection(key, {rules->fault_injection().begin(), rules->fault_injection().end()});
    }
  }
  for (const v1::LaneGroup& group : file.lane_groups()) {
    absl::Status status = SetLaneGroup(group);
    if (!status.ok()) return status;  // checked above: cannot fail here
  }
  return absl::OkStatus();
}

absl::Status RuleRegistry::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("rules file '", path, "' cannot be read"));
  std::stringstream content;
  content << in.rdbuf();
  absl::Status status = LoadJson(content.str());
  if (!status.ok()) return absl::Status(status.code(), absl::StrCat(path, ": ", status.message()));
  return absl::OkStatus();
}

RuleRegistry::DiscoverResponsePtr RuleRegistry::Discover(
    const v1::DiscoverRequest& request) const {
  const DiscoverType type = request.type();
  const ServiceKey key{request.service().namespace_().value(), request.service().name().value()};
  if (mainline_types_only_ && !MainlineServes(type)) {
    // Upstream's default case: the requested service echoed, typed ROUTING.
    v1::DiscoverResponse response = WithCode<v1::DiscoverResponse>(v1::InvalidDiscoverResource);
    response.set_type(v1::DiscoverResponse::ROUTING);
    *response.mutable_service() = request.service();
    return std::make_shared<const v1::DiscoverResponse>(std::move(response));
  }
  if (key.service.empty() || key.service_namespace.empty()) {
    return std::make_shared<const v1::DiscoverResponse>(Header(
        type, key, key.service.empty() ? v1::InvalidServiceName : v1::InvalidNamespaceName, ""));
  }
  DiscoverResponsePtr current;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = rules_.find({type, key});
    if (it != rules_.end()) current = it->second;
  }
  const std::string revision = current ? current->service().revision().value() : "";
  if (request.service().revision().value() == revision && !revision.empty()) {
    return std::make_shared<const v1::DiscoverResponse>(
        Header(type, key, v1::DataNoChange, revision));
  }
  if (current == nullptr) {
    return std::make_shared<const v1::DiscoverResponse>(
        Header(type, key, v1::ExecuteSuccess, ""));
  }
  return current;
}

std::string RuleRegistry::Revision(DiscoverType type, const ServiceKey& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = rules_.find({type, key});
  return it == rules_.end() ? "" : it->second->service().revision().value();
}

}  // namespace mockplane
}  // namespace grpc_cpp_polaris
