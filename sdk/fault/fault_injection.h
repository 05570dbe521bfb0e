// Fault injection for drills: a service's FAULT_INJECTION rules, parsed once
// by the seam for its servers, and the fault (if any) for one call.
//
// Semantics, as polaris-java's fault flow applies them:
// - enabled rules, in the order served; the first rule that injects
//   anything into a call decides it;
// - a rule applies to callers matching any of its sources (service and
//   namespace, "*" or empty for any, and every metadata matcher against the
//   caller's metadata); no source: every caller;
// - abortFault: abortPercent % (0..100, more counts as 100) of the calls end
//   at once with abortCode; delayFault: delayPercent % of the calls wait
//   `delay` ms first; both may hit one call.
// abortCode is an HTTP status or a gRPC code (StatusCodeOfRule,
// sdk/rule/status_code.h).
#ifndef GRPC_CPP_POLARIS_SDK_FAULT_FAULT_INJECTION_H_
#define GRPC_CPP_POLARIS_SDK_FAULT_FAULT_INJECTION_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "sdk/rule/inbound_call.h"
#include "sdk/rule/string_matcher.h"
#include "sdk/service_view.h"

namespace grpc_cpp_polaris {

struct FaultSource {
  std::string service;  // "" or "*": any
  std::string service_namespace;
  std::map<std::string, StringMatcher> metadata;
};

struct FaultRule {
  std::string name;  // "FAULT_INJECTION faultInjection[i]" (rules have no id)
  std::vector<FaultSource> sources;
  uint32_t abort_percent = 0;
  absl::StatusCode abort_code = absl::StatusCode::kUnavailable;
  uint32_t delay_percent = 0;
  absl::Duration delay;

  bool Applies(const InboundCall& call) const;
};

// What to do to one call.
struct Fault {
  absl::Status abort;  // not OK: end the call with it
  absl::Duration delay;
  bool any() const { return !abort.ok() || delay > absl::ZeroDuration(); }
};

class FaultInjectionRules final : public ParsedRules {
 public:
  static constexpr char kParserName[] = "fault_injection";

  // The fault for `call`; `roll` draws a number in [0, 100) per question.
  template <typename Roll>
  Fault For(const InboundCall& call, Roll&& roll) const {
    for (const FaultRule& rule : rules) {
      if (!rule.Applies(call)) continue;
      Fault fault;
      if (rule.abort_percent > 0 && roll() < rule.abort_percent) {
        fault.abort = absl::Status(rule.abort_code,
                                   "polaris: fault injected (abort) by " + rule.name);
      }
      if (rule.delay_percent > 0 && roll() < rule.delay_percent) fault.delay = rule.delay;
      if (fault.any()) return fault;
    }
    return Fault{};
  }
  bool delays() const;
  bool empty() const { return rules.empty(); }

  std::vector<FaultRule> rules;
  std::vector<std::string> rejected;
};

std::unique_ptr<RuleParser> MakeFaultInjectionRulesParser();

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_FAULT_FAULT_INJECTION_H_
