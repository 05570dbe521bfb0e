// The CIRCUIT_BREAKER rules of one service (upstream's v2 CircuitBreakerRule),
// parsed and validated once per change, as the breakers apply them.
//
// How a rule reads (as polaris-go and polaris-java read it, with gRPC's
// codes):
//   - level SERVICE, METHOD or INSTANCE (GROUP and UNKNOWN rules are kept
//     out); disabled rules are kept out;
//   - rule_matcher: the caller (source) and callee (destination) service
//     and namespace, each empty or "*" for any; METHOD rules cover the
//     calls whose path ("/package.Service/Method") matches a block's
//     api.path, or the deprecated destination.method;
//   - what fails: RET_CODE conditions match the gRPC status code as a
//     decimal string ("14" is UNAVAILABLE; OK never fails), DELAY
//     conditions a call slower than the value in ms; with conditions, a
//     call matching none succeeded; without any, the default failure codes
//     apply;
//   - when it opens: CONSECUTIVE_ERROR error_count failures in a row, or
//     ERROR_RATE error_percent % of the calls in the last `interval` s
//     (60 when 0) once there are minimum_request of them (several triggers:
//     the most sensitive of each kind; error_count 0 never trips); no
//     trigger: the default ones;
//   - recovery: open for sleep_window s (30 when 0), then consecutiveSuccess
//     probe calls (3 when 0) that must all succeed;
//   - max_ejection_percent (INSTANCE: the share of instances open at once;
//     0: the default), fallbackConfig, faultDetectConfig, regex_separate.
// block_configs, when present, take the place of the rule's own
// error_conditions, trigger_condition and destination.method (upstream's
// current format); their conditions and triggers are merged, and a block
// without a path covers every method. A rule with a bad field is left out
// (logged, and listed in `rejected`); the others apply.
#ifndef GRPC_CPP_POLARIS_SDK_BREAKER_BREAKER_RULES_H_
#define GRPC_CPP_POLARIS_SDK_BREAKER_BREAKER_RULES_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "sdk/breaker/breaker_events.h"
#include "sdk/governance_options.h"
#include "sdk/model.h"
#include "sdk/rule/string_matcher.h"
#include "sdk/service_view.h"

namespace grpc_cpp_polaris {

// What an open SERVICE or METHOD breaker answers instead of calling.
struct FallbackResponse {
  int32_t code = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct BreakerRule {
  std::string id;    // the rule's id, else its name
  BreakerLevel level = BreakerLevel::kInstance;
  ServiceKey source{"", ""};       // empty or "*" fields: any
  ServiceKey destination{"", ""};  // empty or "*" fields: any
  // METHOD level: the paths covered (any matching); empty: every method.
  std::vector<StringMatcher> methods;
  // METHOD level: one breaker per path matched (true), or one for all the
  // paths the rule covers (false).
  bool regex_separate = false;
  // What fails, when it opens, how it recovers, how much may be open.
  CircuitBreakingOptions options;
  // Probe the resource's instances (FAULT_DETECTOR rules) while it is open.
  bool fault_detect = false;
  std::optional<FallbackResponse> fallback;
  uint32_t priority = 0;

  // Whether calls of `caller` to `callee` are the rule's (methods aside).
  bool Covers(const ServiceKey& caller, const ServiceKey& callee) const;
  // METHOD level: whether the rule covers `path`.
  bool CoversMethod(absl::string_view path) const;
  // The status code of calls refused while the breaker is open: the
  // fallback's code when it is a gRPC code (1..16), else the gRPC code for
  // it as an HTTP status (gRPC's HTTP mapping: 503 is UNAVAILABLE);
  // UNAVAILABLE without a fallback.
  absl::StatusCode OpenCode() const;
};

class CircuitBreakerRules final : public ParsedRules {
 public:
  static constexpr absl::string_view kParserName = "circuit_breaker";

  // The enabled rules of supported levels, in upstream's order: priority
  // (lower first), then the more specific destination, then id.
  std::vector<BreakerRule> rules;
  // Why rules were left out (each names the rule and the bad field).
  std::vector<std::string> rejected;

  // The first rule of `level` for calls of `caller` to `callee`, or null.
  const BreakerRule* Find(BreakerLevel level, const ServiceKey& caller,
                          const ServiceKey& callee) const;
};

std::unique_ptr<RuleParser> MakeCircuitBreakerRulesParser();

// The message of calls refused by an open SERVICE breaker (`path` empty) or
// METHOD breaker, e.g. "polaris: the circuit breaker of service
// default/Echo is open (rule r1)", and back.
std::string BreakerRefusal(const ServiceKey& service, absl::string_view path,
                           absl::string_view rule_id);
struct ParsedRefusal {
  ServiceKey service;
  std::string rule_id;
};
std::optional<ParsedRefusal> ParseBreakerRefusal(absl::string_view message);

// The fallbacks of the SERVICE and METHOD rules in force, by service and
// rule id, for the fallback interceptor (client/fallback_interceptor.h):
// channels publish their service's rules as they apply them.
class FallbackDirectory {
 public:
  static FallbackDirectory& Global();
  // The fallbacks of `service`'s SERVICE and METHOD rules (replacing what
  // was published for it before).
  void Publish(const ServiceKey& service, const CircuitBreakerRules& rules);
  // The fallback of rule `rule_id` of `service`, if it has one.
  std::optional<FallbackResponse> Find(const ServiceKey& service,
                                       absl::string_view rule_id) const;

 private:
  mutable std::mutex mu_;
  std::map<ServiceKey, std::map<std::string, FallbackResponse, std::less<>>> fallbacks_;
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_BREAKER_BREAKER_RULES_H_
