// The LOSSLESS rules of one service (upstream's v1.LosslessRule), parsed and
// validated once per change: how instances come online (delayed
// registration, readiness, warm-up) and go offline.
//
// How a rule reads (as polaris-go and polaris-java read it):
//   - it covers the service's instances that carry any one of its metadata
//     pairs; a rule without metadata covers every instance no rule with
//     metadata covers (the first such rule; upstream uses the first rule
//     when none has metadata);
//   - losslessOnline.warmup: a new instance's weight ramps from 0 to its
//     full weight over intervalSecond seconds (it must be > 0 when
//     enabled), following (age / interval)^curvature (curvature 0 means 2,
//     as polaris-go has it); with enableOverloadProtection, no warm-up at
//     all while overloadProtectionThreshold % (50 when 0) or more of the
//     covered instances are warming;
//   - losslessOnline.delayRegister: register after intervalSecond s
//     (DELAY_BY_TIME) or once a health check passes (DELAY_BY_HEALTH_CHECK);
//     losslessOnline.readiness and losslessOffline: enabled or not.
// The rules are served both as `lossless` and as `losslessRuleList`; the
// list wins when present. A rule with a bad field is left out (logged, and
// listed in `rejected`); the others apply.
#ifndef GRPC_CPP_POLARIS_SDK_LOSSLESS_LOSSLESS_RULES_H_
#define GRPC_CPP_POLARIS_SDK_LOSSLESS_LOSSLESS_RULES_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "sdk/governance_options.h"
#include "sdk/model.h"
#include "sdk/service_view.h"

namespace grpc_cpp_polaris {

struct LosslessRule {
  std::string id;
  // The instances it covers: those carrying any of these pairs (empty: see
  // above).
  std::map<std::string, std::string> metadata;
  std::optional<WarmupOptions> warmup;  // set when enabled (`enabled` true)
  struct DelayRegister {
    enum class Strategy { kByTime, kByHealthCheck };
    Strategy strategy = Strategy::kByTime;
    absl::Duration delay = absl::ZeroDuration();  // kByTime
    std::string health_check_protocol;             // kByHealthCheck
    std::string health_check_method;
    std::string health_check_path;
    absl::Duration health_check_interval = absl::ZeroDuration();
  };
  std::optional<DelayRegister> delay_register;  // set when enabled
  bool readiness = false;
  bool offline = false;

  bool Covers(const Instance& instance) const;
};

class LosslessRules final : public ParsedRules {
 public:
  static constexpr absl::string_view kParserName = "lossless";

  // Rules with metadata first (in the order served), then those without.
  std::vector<LosslessRule> rules;
  // Why rules were left out (each names the rule and the bad field).
  std::vector<std::string> rejected;

  // The rule covering `instance`, or null.
  const LosslessRule* For(const Instance& instance) const;
};

std::unique_ptr<RuleParser> MakeLosslessRulesParser();

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_LOSSLESS_LOSSLESS_RULES_H_
