#include "mockplane/rule_registry.h"

#include <fstream>
#include <sstream>
#include <vector>

#include <google/protobuf/util/json_util.h>

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

}  // namespace

void RuleRegistry::SetChangeListener(ChangeListener listener) {
  std::lock_guard<std::mutex> lock(listener_mu_);
  listener_ = std::move(listener);
}

bool RuleRegistry::Serves(DiscoverType type) {
  return type == v1::DiscoverRequest::ROUTING || type == v1::DiscoverRequest::CIRCUIT_BREAKER ||
         type == v1::DiscoverRequest::RATE_LIMIT || type == v1::DiscoverRequest::FAULT_DETECTOR;
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
  v1::DiscoverResponse response = Header(v1::DiscoverRequest::ROUTING, key, v1::ExecuteSuccess, "");
  *response.mutable_routing() = std::move(routing);
  Store(v1::DiscoverRequest::ROUTING, key, std::move(response));
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
  // Everything parsed: apply.
  for (const auto& [key, rules] : entries) {
    if (rules->has_routing()) SetRouting(key, rules->routing());
    if (rules->has_circuit_breaker()) SetCircuitBreaker(key, rules->circuit_breaker());
    if (rules->has_rate_limit()) SetRateLimit(key, rules->rate_limit());
    if (rules->has_fault_detector()) SetFaultDetector(key, rules->fault_detector());
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
