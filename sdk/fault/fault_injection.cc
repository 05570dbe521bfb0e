#include "sdk/fault/fault_injection.h"

#include <algorithm>
#include <utility>

#include <grpc/support/log.h>

#include "absl/strings/str_cat.h"
#include "proto/v1/fault_injection.pb.h"
#include "proto/v1/response.pb.h"
#include "sdk/control_plane_client.h"
#include "sdk/rule/status_code.h"
#include "sdk/rule/rule_list.h"
#include "sdk/rule/wildcard.h"

namespace grpc_cpp_polaris {
namespace {

absl::StatusOr<FaultRule> Build(const v1::FaultInjection& proto, const std::string& name) {
  FaultRule rule;
  rule.name = name;
  for (int i = 0; i < proto.sources_size(); ++i) {
    const v1::Source& source = proto.sources(i);
    FaultSource parsed;
    parsed.service = source.service().value();
    parsed.service_namespace = source.namespace_().value();
    for (const auto& [key, value] : source.metadata()) {
      absl::StatusOr<StringMatcher> matcher =
          StringMatcher::FromProto(value, absl::StrCat("sources[", i, "].metadata[", key, "]"));
      if (!matcher.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(name, ": ", matcher.status().message()));
      }
      parsed.metadata.emplace(key, *std::move(matcher));
    }
    rule.sources.push_back(std::move(parsed));
  }
  rule.abort_percent = std::min<uint32_t>(100, proto.abortfault().abortpercent());
  rule.abort_code = StatusCodeOfRule(proto.abortfault().abortcode());
  rule.delay_percent = std::min<uint32_t>(100, proto.delayfault().delaypercent());
  rule.delay = absl::Milliseconds(proto.delayfault().delay());
  if (rule.delay_percent > 0 && rule.delay > absl::Minutes(1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": delayFault.delay ", proto.delayfault().delay(), " ms exceeds a minute"));
  }
  return rule;
}

class FaultInjectionRulesParser final : public RuleParser {
 public:
  absl::string_view name() const override { return FaultInjectionRules::kParserName; }
  RuleAudience audience() const override { return RuleAudience::kCallee; }
  std::vector<ResourceType> sources() const override { return {ResourceType::kFaultInjection}; }
  absl::StatusOr<std::shared_ptr<const ParsedRules>> Parse(
      const ServiceKey& key, const ResourceAnswers& answers) const override {
    auto parsed = std::make_shared<FaultInjectionRules>();
    const v1::DiscoverResponse* answer = AnswerOf(answers, ResourceType::kFaultInjection);
    for (int i = 0; answer != nullptr && i < answer->faultinjection_size(); ++i) {
      const v1::FaultInjection& proto = answer->faultinjection(i);
      if (!proto.enabled().value()) continue;
      if (!NamesService(proto.service().value(), proto.namespace_().value(), key)) continue;
      KeepOrReject(Build(proto, absl::StrCat("FAULT_INJECTION faultInjection[", i, "]")), key,
                   "fault injection", parsed->rules, parsed->rejected);
    }
    return std::shared_ptr<const ParsedRules>(std::move(parsed));
  }
};

}  // namespace

bool FaultRule::Applies(const InboundCall& call) const {
  if (sources.empty()) return true;
  std::string service_buffer, namespace_buffer;
  const absl::string_view service = call.CallerService(&service_buffer).value_or("");
  const absl::string_view space = call.CallerNamespace(&namespace_buffer).value_or("");
  for (const FaultSource& source : sources) {
    if (!WildcardMatches(source.service, service) ||
        !WildcardMatches(source.service_namespace, space)) {
      continue;
    }
    bool all = true;
    for (const auto& [key, matcher] : source.metadata) {
      std::optional<std::string> value = call.CallerMetadata(key);
      if (!matcher.Matches(value.has_value() ? std::optional<absl::string_view>(*value)
                                             : std::nullopt)) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;
}

bool FaultInjectionRules::delays() const {
  for (const FaultRule& rule : rules) {
    if (rule.delay_percent > 0 && rule.delay > absl::ZeroDuration()) return true;
  }
  return false;
}

std::unique_ptr<RuleParser> MakeFaultInjectionRulesParser() {
  return std::make_unique<FaultInjectionRulesParser>();
}

}  // namespace grpc_cpp_polaris
