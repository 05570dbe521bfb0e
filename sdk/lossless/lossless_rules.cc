#include "sdk/lossless/lossless_rules.h"

#include <utility>

#include <grpc/support/log.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "proto/v1/lossless.pb.h"
#include "proto/v1/response.pb.h"
#include "sdk/control_plane_client.h"

namespace grpc_cpp_polaris {
namespace {

absl::Status Bad(const std::string& where, absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", field, " ", why));
}

absl::StatusOr<LosslessRule> Build(const v1::LosslessRule& proto, const std::string& where) {
  LosslessRule rule;
  rule.id = proto.id();
  rule.metadata.insert(proto.metadata().begin(), proto.metadata().end());
  const v1::LosslessOnline& online = proto.losslessonline();
  if (online.warmup().enable()) {
    const v1::Warmup& warmup = online.warmup();
    WarmupOptions plan;
    plan.enabled = true;
    if (warmup.intervalsecond() <= 0) {
      return Bad(where, "losslessOnline.warmup.intervalSecond",
                 absl::StrCat("must be > 0 when warm-up is enabled (got ",
                              warmup.intervalsecond(), ")"));
    }
    plan.window = absl::Seconds(warmup.intervalsecond());
    if (warmup.curvature() < 0 || warmup.curvature() > 100) {
      return Bad(where, "losslessOnline.warmup.curvature",
                 absl::StrCat("must be in 0..100 (got ", warmup.curvature(), ")"));
    }
    plan.curvature = warmup.curvature() == 0 ? 2 : warmup.curvature();
    plan.overload_protection = warmup.enableoverloadprotection();
    const int32_t threshold = warmup.overloadprotectionthreshold();
    if (threshold < 0 || threshold > 100) {
      return Bad(where, "losslessOnline.warmup.overloadProtectionThreshold",
                 absl::StrCat("must be a percentage, 0..100 (got ", threshold, ")"));
    }
    plan.overload_threshold_percent = threshold == 0 ? 50 : static_cast<uint32_t>(threshold);
    rule.warmup = plan;
  }
  if (online.delayregister().enable()) {
    const v1::DelayRegister& delay = online.delayregister();
    LosslessRule::DelayRegister parsed;
    switch (delay.strategy()) {
      case v1::DelayRegister::DELAY_BY_TIME:
        if (delay.intervalsecond() < 0) {
          return Bad(where, "losslessOnline.delayRegister.intervalSecond",
                     absl::StrCat("must not be negative (got ", delay.intervalsecond(), ")"));
        }
        parsed.delay = absl::Seconds(delay.intervalsecond());
        break;
      case v1::DelayRegister::DELAY_BY_HEALTH_CHECK: {
        parsed.strategy = LosslessRule::DelayRegister::Strategy::kByHealthCheck;
        parsed.health_check_protocol = delay.healthcheckprotocol();
        parsed.health_check_method = delay.healthcheckmethod();
        parsed.health_check_path = delay.healthcheckpath();
        int64_t seconds = 0;
        if (!delay.healthcheckintervalsecond().empty() &&
            (!absl::SimpleAtoi(delay.healthcheckintervalsecond(), &seconds) || seconds < 0)) {
          return Bad(where, "losslessOnline.delayRegister.healthCheckIntervalSecond",
                     absl::StrCat("must be a number of seconds (got '",
                                  delay.healthcheckintervalsecond(), "')"));
        }
        parsed.health_check_interval = absl::Seconds(seconds);
        break;
      }
      default:
        return Bad(where, "losslessOnline.delayRegister.strategy",
                   absl::StrCat("unknown strategy ", static_cast<int>(delay.strategy())));
    }
    rule.delay_register = parsed;
  }
  rule.readiness = online.readiness().enable();
  rule.offline = proto.losslessoffline().enable();
  return rule;
}

class LosslessRulesParser final : public RuleParser {
 public:
  absl::string_view name() const override { return LosslessRules::kParserName; }
  // Callers warm new instances up; servers delay their registration.
  RuleAudience audience() const override { return RuleAudience::kBoth; }
  std::vector<ResourceType> sources() const override { return {ResourceType::kLossless}; }
  absl::StatusOr<std::shared_ptr<const ParsedRules>> Parse(
      const ServiceKey& /*key*/, const ResourceAnswers& answers) const override {
    auto parsed = std::make_shared<LosslessRules>();
    const ResourceUpdatePtr& update = answers[ResourceIndex(ResourceType::kLossless)];
    if (update == nullptr || update->answer == nullptr) {
      return std::shared_ptr<const ParsedRules>(parsed);
    }
    const v1::DiscoverResponse& answer = *update->answer;
    std::vector<std::pair<const v1::LosslessRule*, std::string>> protos;
    if (answer.losslessrulelist_size() > 0) {
      for (int i = 0; i < answer.losslessrulelist_size(); ++i) {
        protos.emplace_back(&answer.losslessrulelist(i), absl::StrCat("losslessRuleList[", i, "]"));
      }
    } else if (answer.has_lossless()) {
      protos.emplace_back(&answer.lossless(), "lossless");
    }
    std::vector<LosslessRule> general;
    for (const auto& [proto, field] : protos) {
      absl::StatusOr<LosslessRule> rule =
          Build(*proto, absl::StrCat("LOSSLESS ", field, " (", proto->id(), ")"));
      if (!rule.ok()) {
        gpr_log(GPR_ERROR, "polaris: ignoring a lossless rule of %s: %s",
                update->key.ToString().c_str(), rule.status().ToString().c_str());
        parsed->rejected.push_back(std::string(rule.status().message()));
        continue;
      }
      (rule->metadata.empty() ? general : parsed->rules).push_back(*std::move(rule));
    }
    for (LosslessRule& rule : general) parsed->rules.push_back(std::move(rule));
    return std::shared_ptr<const ParsedRules>(std::move(parsed));
  }
};

}  // namespace

bool LosslessRule::Covers(const Instance& instance) const {
  if (metadata.empty()) return true;
  for (const auto& [key, value] : metadata) {
    auto it = instance.metadata.find(key);
    if (it != instance.metadata.end() && it->second == value) return true;
  }
  return false;
}

const LosslessRule* LosslessRules::For(const Instance& instance) const {
  for (const LosslessRule& rule : rules) {
    if (rule.Covers(instance)) return &rule;
  }
  return nullptr;
}

std::unique_ptr<RuleParser> MakeLosslessRulesParser() {
  return std::make_unique<LosslessRulesParser>();
}

}  // namespace grpc_cpp_polaris
