// Access control: a service's BLOCK_ALLOW_RULE rules, parsed once by the seam
// for its servers, and the decision for one call.
//
// Semantics, as upstream's SDKs decide:
// - enabled rules in the server's order, each with its configs in order;
// - a config matches a call when its api does (protocol empty, "*" or
//   "grpc"; method empty, "*" or POST, gRPC's HTTP method; path against
//   the gRPC method, see MethodMatches) and every argument does;
// - the first matching config decides: ALLOW_LIST admits, BLOCK_LIST denies;
// - a call no config matches is denied when an ALLOW_LIST config covers its
//   method (only listed callers may call it), admitted otherwise.
#ifndef GRPC_CPP_POLARIS_SDK_ACCESS_BLOCK_ALLOW_RULES_H_
#define GRPC_CPP_POLARIS_SDK_ACCESS_BLOCK_ALLOW_RULES_H_

#include <memory>
#include <string>
#include <vector>

#include "sdk/rule/inbound_call.h"
#include "sdk/rule/string_matcher.h"
#include "sdk/service_view.h"

namespace grpc_cpp_polaris {

struct AccessConfig {
  enum class Policy { kAllow, kBlock };
  Policy policy = Policy::kAllow;
  // False when the api names another protocol or HTTP method: never matches.
  bool api_applies = true;
  StringMatcher path;
  std::vector<ArgumentMatcher> arguments;

  // Whether its api is about the call's method.
  bool Covers(const InboundCall& call) const;
  // Whether it covers the call and every argument matches.
  bool Matches(const InboundCall& call) const;
};

struct AccessRule {
  std::string id;
  std::string name;
  std::vector<AccessConfig> configs;

  // "id" or "name (id)", for messages.
  std::string DisplayName() const;
};

class BlockAllowRules final : public ParsedRules {
 public:
  static constexpr char kParserName[] = "block_allow";

  // The rule that denies `call`, or null when it may proceed.
  const AccessRule* Denies(const InboundCall& call) const;
  bool empty() const { return rules.empty(); }

  std::vector<AccessRule> rules;
  // Why rules were left out (each names its rule and field).
  std::vector<std::string> rejected;
};

std::unique_ptr<RuleParser> MakeBlockAllowRulesParser();

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_ACCESS_BLOCK_ALLOW_RULES_H_
