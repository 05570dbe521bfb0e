#include "sdk/access/block_allow_rules.h"

#include <utility>

#include <grpc/support/log.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "proto/v1/block_allow_list.pb.h"
#include "proto/v1/response.pb.h"
#include "sdk/control_plane_client.h"
#include "sdk/rule/rule_list.h"
#include "sdk/rule/wildcard.h"

namespace grpc_cpp_polaris {
namespace {

absl::Status Bad(const std::string& where, absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": ", field, field.empty() ? "" : " ", why));
}

absl::StatusOr<ArgumentMatcher::Attribute> AttributeOf(v1::BlockAllowConfig::MatchArgument::Type type) {
  using A = ArgumentMatcher::Attribute;
  using T = v1::BlockAllowConfig::MatchArgument;
  switch (type) {
    case T::CUSTOM:
      return A::kCustom;
    case T::HEADER:
      return A::kHeader;
    case T::QUERY:
      return A::kQuery;
    case T::CALLER_SERVICE:
      return A::kCallerService;
    case T::CALLER_IP:
      return A::kCallerIp;
    case T::CALLER_METADATA:
      return A::kCallerMetadata;
    case T::CALLEE_METADATA:
      return A::kCalleeMetadata;
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown type ", static_cast<int>(type)));
  }
}

absl::StatusOr<AccessRule> Build(const v1::BlockAllowListRule& proto, const std::string& where) {
  AccessRule rule;
  rule.id = proto.id();
  rule.name = proto.name();
  for (int i = 0; i < proto.blockallowconfig_size(); ++i) {
    const v1::BlockAllowConfig& config = proto.blockallowconfig(i);
    const std::string field = absl::StrCat("blockAllowConfig[", i, "]");
    AccessConfig parsed;
    switch (config.blockallowpolicy()) {
      case v1::BlockAllowConfig::ALLOW_LIST:
        parsed.policy = AccessConfig::Policy::kAllow;
        break;
      case v1::BlockAllowConfig::BLOCK_LIST:
        parsed.policy = AccessConfig::Policy::kBlock;
        break;
      default:
        return Bad(where, field + ".blockAllowPolicy",
                   absl::StrCat("unknown value ", config.blockallowpolicy()));
    }
    const std::string& protocol = config.api().protocol();
    const std::string& method = config.api().method();
    parsed.api_applies = (IsWildcard(protocol) || absl::EqualsIgnoreCase(protocol, "grpc")) &&
                         (IsWildcard(method) || absl::EqualsIgnoreCase(method, "POST"));
    absl::StatusOr<StringMatcher> path =
        StringMatcher::FromProto(config.api().path(), field + ".api.path");
    if (!path.ok()) return Bad(where, "", path.status().message());
    parsed.path = *std::move(path);
    for (int j = 0; j < config.arguments_size(); ++j) {
      const v1::BlockAllowConfig::MatchArgument& argument = config.arguments(j);
      const std::string argument_field = absl::StrCat(field, ".arguments[", j, "]");
      absl::StatusOr<ArgumentMatcher::Attribute> attribute = AttributeOf(argument.type());
      if (!attribute.ok()) {
        return Bad(where, argument_field + ".type", attribute.status().message());
      }
      absl::StatusOr<StringMatcher> value =
          StringMatcher::FromProto(argument.value(), argument_field + ".value");
      if (!value.ok()) return Bad(where, "", value.status().message());
      parsed.arguments.push_back(
          ArgumentMatcher{*attribute, KeyOf(*attribute, argument.key()), *std::move(value)});
    }
    rule.configs.push_back(std::move(parsed));
  }
  return rule;
}

class BlockAllowRulesParser final : public RuleParser {
 public:
  absl::string_view name() const override { return BlockAllowRules::kParserName; }
  RuleAudience audience() const override { return RuleAudience::kCallee; }
  std::vector<ResourceType> sources() const override { return {ResourceType::kBlockAllowRule}; }
  absl::StatusOr<std::shared_ptr<const ParsedRules>> Parse(
      const ServiceKey& key, const ResourceAnswers& answers) const override {
    auto parsed = std::make_shared<BlockAllowRules>();
    const v1::DiscoverResponse* answer = AnswerOf(answers, ResourceType::kBlockAllowRule);
    for (int i = 0; answer != nullptr && i < answer->blockallowlistrule_size(); ++i) {
      const v1::BlockAllowListRule& proto = answer->blockallowlistrule(i);
      if (!proto.enable()) continue;
      if (!NamesService(proto.service(), proto.namespace_(), key)) continue;
      KeepOrReject(
          Build(proto, absl::StrCat("BLOCK_ALLOW_RULE blockAllowListRule[", i, "] (", proto.id(), ")")),
          key, "block/allow", parsed->rules, parsed->rejected);
    }
    return std::shared_ptr<const ParsedRules>(std::move(parsed));
  }
};

}  // namespace

bool AccessConfig::Covers(const InboundCall& call) const {
  return api_applies && MethodMatches(path, call.method());
}

bool AccessConfig::Matches(const InboundCall& call) const {
  if (!Covers(call)) return false;
  for (const ArgumentMatcher& argument : arguments) {
    if (!argument.Matches(call)) return false;
  }
  return true;
}

std::string AccessRule::DisplayName() const {
  if (name.empty() || name == id) return id;
  return absl::StrCat(name, " (", id, ")");
}

const AccessRule* BlockAllowRules::Denies(const InboundCall& call) const {
  const AccessRule* first_allow_list = nullptr;
  for (const AccessRule& rule : rules) {
    for (const AccessConfig& config : rule.configs) {
      if (!config.Covers(call)) continue;  // about other methods
      if (config.policy == AccessConfig::Policy::kAllow && first_allow_list == nullptr) {
        first_allow_list = &rule;
      }
      if (config.Matches(call)) {
        return config.policy == AccessConfig::Policy::kAllow ? nullptr : &rule;
      }
    }
  }
  // Unlisted callers: shut out by an allow list of this method, let in by
  // block lists only.
  return first_allow_list;
}

std::unique_ptr<RuleParser> MakeBlockAllowRulesParser() {
  return std::make_unique<BlockAllowRulesParser>();
}

}  // namespace grpc_cpp_polaris
