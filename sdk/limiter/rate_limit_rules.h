// RATE_LIMIT rules of a service, parsed once by the seam for its servers'
// limiters (sdk/limiter/rate_limiter.h).
//
// Semantics, as upstream's SDKs read them:
// - a rule applies to calls of its service (service and namespace may be
//   "*") whose method matches `method` and that satisfy every argument;
// - disabled rules are left out; rules are ordered by priority (lower
//   first), then id; every rule a call matches must admit it;
// - QPS rules hold amounts, "maxAmount per validDuration" each (e.g. 100/s
//   and 1,000/min); CONCURRENCY rules a number of calls in flight;
// - action "reject" (the default) refuses a call over the limit; "unirate"
//   spaces calls evenly and queues a call up to `max_queue_delay`;
// - with `regex_combine` off, a rule whose arguments are not all exact keeps
//   one window per distinct combination of the matched values (e.g. one per
//   caller IP); with it on, one window for all.
#ifndef GRPC_CPP_POLARIS_SDK_LIMITER_RATE_LIMIT_RULES_H_
#define GRPC_CPP_POLARIS_SDK_LIMITER_RATE_LIMIT_RULES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "sdk/rule/inbound_call.h"
#include "sdk/rule/string_matcher.h"
#include "sdk/service_view.h"

namespace grpc_cpp_polaris {

struct RateLimitRule {
  enum class Resource { kQps, kConcurrency };
  enum class Scope { kGlobal, kLocal };
  enum class Action { kReject, kUniformQueue };
  enum class Failover { kLocal, kPass };
  // GLOBAL amounts: a total for the whole service, or each instance's own.
  enum class AmountMode { kGlobalTotal, kShareEqually };
  struct Amount {
    uint32_t max = 0;
    absl::Duration duration;
    bool operator==(const Amount& other) const {
      return max == other.max && duration == other.duration;
    }
  };

  std::string id;
  std::string name;
  std::string revision;
  uint32_t priority = 0;
  Resource resource = Resource::kQps;
  Scope scope = Scope::kLocal;
  Action action = Action::kReject;
  Failover failover = Failover::kLocal;
  AmountMode amount_mode = AmountMode::kGlobalTotal;
  // The service whose rules these are (a GLOBAL window's counter names it).
  ServiceKey service;
  // GLOBAL: the rate-limit server's service when the rule names both
  // namespace and service, else empty (the server's default applies).
  ServiceKey cluster;
  StringMatcher method;
  std::vector<ArgumentMatcher> arguments;
  // Each argument's name in GlobalLabels, as polaris-go writes it: the
  // proto's type name and the key as the rule writes it ("HEADER:X-User";
  // matching folds header keys to lower case), the type alone for METHOD
  // and CALLER_IP.
  std::vector<std::string> argument_labels;
  bool regex_combine = false;
  // QPS: at least one; duration in (0, 24 h] (whole seconds for GLOBAL
  // rules, as the rate-limit server counts); a max of 0 refuses every call.
  std::vector<Amount> amounts;
  // CONCURRENCY: calls in flight.
  uint32_t max_concurrency = 0;
  // kUniformQueue: the longest a call may wait for its turn (at most a
  // minute).
  absl::Duration max_queue_delay = absl::Seconds(1);
  // Sent as the refused call's status message when set.
  std::string custom_response;

  // "id" or "name (id)", for messages.
  std::string DisplayName() const;
  // Whether the call matches the method and every argument.
  bool Matches(const InboundCall& call) const;
  // Whether each distinct combination of argument values has its own window.
  bool WindowPerValue() const;
  // Whether `other` limits the same way (so a limiter may keep its state).
  bool SameLimits(const RateLimitRule& other) const;
  // The label string naming a GLOBAL window at the rate-limit server, as
  // polaris-go builds it so that Go and C++ servers of one service share
  // counters: the method, then "|" and the sorted arguments joined by "|",
  // each "TYPE:key:value" ("TYPE:value" for METHOD and CALLER_IP). Values
  // are the call's, or the rule's own where one window covers them all
  // (exact matchers, regex_combine). `call` is null for such a window.
  std::string GlobalLabels(const InboundCall* call) const;
};

class RateLimitRules final : public ParsedRules {
 public:
  static constexpr char kParserName[] = "ratelimit";
  std::vector<RateLimitRule> rules;
  // Why rules were left out (each names its rule and field).
  std::vector<std::string> rejected;
};

std::unique_ptr<RuleParser> MakeRateLimitRulesParser();

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_LIMITER_RATE_LIMIT_RULES_H_
