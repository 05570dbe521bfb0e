#include "sdk/breaker/fault_detect.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include <grpc/support/log.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "proto/v1/fault_detector.pb.h"
#include "proto/v1/response.pb.h"
#include "sdk/control_plane_client.h"
#include "sdk/rule/wildcard.h"

namespace grpc_cpp_polaris {
namespace {

// Whether a rule's method (or api.path) leaves the method open.
bool AnyMethod(const v1::MatchString& match) { return IsWildcard(match.value().value()); }

const char* ProberFor(v1::FaultDetectRule::Protocol protocol) {
  switch (protocol) {
    case v1::FaultDetectRule::TCP:
      return "tcp";
    case v1::FaultDetectRule::HTTP:
      return "http";
    case v1::FaultDetectRule::UDP:
      return "udp";
    default:
      return "grpc";
  }
}

class FaultDetectRulesParser final : public RuleParser {
 public:
  absl::string_view name() const override { return FaultDetectRules::kParserName; }
  std::vector<ResourceType> sources() const override { return {ResourceType::kFaultDetector}; }
  absl::StatusOr<std::shared_ptr<const ParsedRules>> Parse(
      const ServiceKey& /*key*/, const ResourceAnswers& answers) const override {
    auto parsed = std::make_shared<FaultDetectRules>();
    const ResourceUpdatePtr& update = answers[ResourceIndex(ResourceType::kFaultDetector)];
    if (update == nullptr || update->answer == nullptr) {
      return std::shared_ptr<const ParsedRules>(parsed);
    }
    const v1::FaultDetector& detector = update->answer->faultdetector();
    for (int i = 0; i < detector.rules_size(); ++i) {
      const v1::FaultDetectRule& proto = detector.rules(i);
      const v1::FaultDetectRule::DestinationService& target = proto.target_service();
      // Method rules are for method breakers, not instance probes.
      if (!AnyMethod(target.method()) || !AnyMethod(target.api().path())) continue;
      FaultDetectRule rule;
      rule.id = proto.id().empty() ? proto.name() : proto.id();
      rule.target = ServiceKey{target.namespace_(), target.service()};
      rule.priority = proto.priority();
      ActiveProbeOptions& probe = rule.probe;
      probe.enabled = true;
      probe.protocol = ProberFor(proto.protocol());
      probe.interval = absl::Seconds(proto.interval() == 0 ? 10 : proto.interval());
      probe.timeout = absl::Milliseconds(proto.timeout() == 0 ? 1000 : proto.timeout());
      probe.port = proto.port();
      probe.send = proto.tcp_config().send();
      probe.receive.assign(proto.tcp_config().receive().begin(),
                           proto.tcp_config().receive().end());
      const std::string where = absl::StrCat("FAULT_DETECTOR rules[", i, "] (", rule.id, ")");
      absl::Status problem = probe.Validate(absl::StrCat(where, ": "));
      if (problem.ok()) {
        absl::StatusOr<const Prober*> prober = ProberRegistry::Global().Find(probe.protocol);
        if (!prober.ok()) {
          problem = absl::InvalidArgumentError(absl::StrCat(
              where, ": protocol ", v1::FaultDetectRule::Protocol_Name(proto.protocol()),
              " needs a prober: ", prober.status().message()));
        }
      }
      if (!problem.ok()) {
        gpr_log(GPR_ERROR, "polaris: ignoring a fault detect rule of %s: %s",
                update->key.ToString().c_str(), problem.ToString().c_str());
        parsed->rejected.push_back(std::string(problem.message()));
        continue;
      }
      parsed->rules.push_back(std::move(rule));
    }
    std::stable_sort(parsed->rules.begin(), parsed->rules.end(),
                     [](const FaultDetectRule& a, const FaultDetectRule& b) {
                       auto key = [](const FaultDetectRule& r) {
                         return std::make_tuple(IsWildcard(r.target.service_namespace),
                                                IsWildcard(r.target.service), r.priority, r.id);
                       };
                       return key(a) < key(b);
                     });
    return std::shared_ptr<const ParsedRules>(std::move(parsed));
  }
};

}  // namespace

ProberRegistry& ProberRegistry::Global() {
  static ProberRegistry* const registry = new ProberRegistry();
  return *registry;
}

absl::StatusOr<ProbeTarget> ProbeTargetOf(absl::string_view address, uint32_t port) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(absl::StrCat("'", address, "' is not host:port"));
  }
  ProbeTarget target;
  absl::string_view host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  target.host = std::string(host);
  if (!absl::SimpleAtoi(address.substr(colon + 1), &target.port) || target.port == 0 ||
      target.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("'", address, "' has no valid port"));
  }
  if (port != 0) target.port = port;
  return target;
}

bool FaultDetectRule::Covers(const ServiceKey& service) const {
  return NamesService(target.service, target.service_namespace, service);
}

const FaultDetectRule* FaultDetectRules::Find(const ServiceKey& service) const {
  for (const FaultDetectRule& rule : rules) {
    if (rule.Covers(service)) return &rule;
  }
  return nullptr;
}

std::unique_ptr<RuleParser> MakeFaultDetectRulesParser() {
  return std::make_unique<FaultDetectRulesParser>();
}

std::shared_ptr<const ActiveProbe> ActiveProbeFor(const ServiceKey& service,
                                                  const FaultDetectRules* rules,
                                                  const ActiveProbeOptions& options) {
  if (!options.enabled) return nullptr;
  const FaultDetectRule* rule = rules != nullptr ? rules->Find(service) : nullptr;
  const ActiveProbeOptions settings = rule != nullptr ? rule->probe : options;
  absl::StatusOr<const Prober*> prober = ProberRegistry::Global().Find(settings.protocol);
  if (!prober.ok()) {
    gpr_log(GPR_ERROR, "polaris: cannot probe instances of %s: %s", service.ToString().c_str(),
            prober.status().ToString().c_str());
    return nullptr;
  }
  auto probe = std::make_shared<ActiveProbe>();
  probe->interval = settings.interval;
  probe->run = [prober = *prober, settings](const std::string& address) -> absl::Status {
    absl::StatusOr<ProbeTarget> target = ProbeTargetOf(address, settings.port);
    if (!target.ok()) return target.status();
    return prober->Probe(*target, settings);
  };
  return probe;
}

}  // namespace grpc_cpp_polaris
