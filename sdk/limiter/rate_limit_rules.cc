#include "sdk/limiter/rate_limit_rules.h"

#include <algorithm>
#include <utility>

#include <grpc/support/log.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "proto/v1/ratelimit.pb.h"
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

absl::StatusOr<ArgumentMatcher::Attribute> AttributeOf(v1::MatchArgument::Type type) {
  using A = ArgumentMatcher::Attribute;
  switch (type) {
    case v1::MatchArgument::CUSTOM:
      return A::kCustom;
    case v1::MatchArgument::METHOD:
      return A::kMethod;
    case v1::MatchArgument::HEADER:
      return A::kHeader;
    case v1::MatchArgument::QUERY:
      return A::kQuery;
    case v1::MatchArgument::CALLER_SERVICE:
      return A::kCallerService;
    case v1::MatchArgument::CALLER_IP:
      return A::kCallerIp;
    case v1::MatchArgument::CALLER_METADATA:
      return A::kCallerMetadata;
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown type ", static_cast<int>(type)));
  }
}

absl::StatusOr<RateLimitRule> Build(const v1::Rule& proto, const std::string& where) {
  RateLimitRule rule;
  rule.id = proto.id().value();
  rule.name = proto.name().value();
  rule.revision = proto.revision().value();
  rule.priority = proto.priority().value();
  switch (proto.resource()) {
    case v1::Rule::QPS:
      rule.resource = RateLimitRule::Resource::kQps;
      break;
    case v1::Rule::CONCURRENCY:
      rule.resource = RateLimitRule::Resource::kConcurrency;
      break;
    default:
      return Bad(where, "resource", absl::StrCat("unknown value ", proto.resource()));
  }
  switch (proto.type()) {
    case v1::Rule::GLOBAL:
      rule.scope = RateLimitRule::Scope::kGlobal;
      break;
    case v1::Rule::LOCAL:
      rule.scope = RateLimitRule::Scope::kLocal;
      break;
    default:
      return Bad(where, "type", absl::StrCat("unknown value ", proto.type()));
  }
  rule.failover = proto.failover() == v1::Rule::FAILOVER_PASS ? RateLimitRule::Failover::kPass
                                                               : RateLimitRule::Failover::kLocal;
  rule.amount_mode = proto.amount_mode() == v1::Rule::SHARE_EQUALLY
                         ? RateLimitRule::AmountMode::kShareEqually
                         : RateLimitRule::AmountMode::kGlobalTotal;
  if (!proto.cluster().namespace_().value().empty() && !proto.cluster().service().value().empty()) {
    rule.cluster = ServiceKey{proto.cluster().namespace_().value(), proto.cluster().service().value()};
  }
  const std::string action = absl::AsciiStrToLower(proto.action().value());
  if (action.empty() || action == "reject") {
    rule.action = RateLimitRule::Action::kReject;
  } else if (action == "unirate") {
    rule.action = RateLimitRule::Action::kUniformQueue;
  } else {
    return Bad(where, "action",
               absl::StrCat("'", proto.action().value(), "' is neither REJECT nor UNIRATE"));
  }
  if (proto.has_max_queue_delay() && proto.max_queue_delay().value() > 0) {
    if (proto.max_queue_delay().value() > 60) {
      return Bad(where, "max_queue_delay",
                 absl::StrCat(proto.max_queue_delay().value(), " s exceeds a minute"));
    }
    rule.max_queue_delay = absl::Seconds(proto.max_queue_delay().value());
  }
  if (proto.has_method()) {
    absl::StatusOr<StringMatcher> method = StringMatcher::FromProto(proto.method(), "method");
    if (!method.ok()) return Bad(where, "", method.status().message());
    rule.method = *std::move(method);
  }
  // The arguments, or an older server's labels turned into arguments as
  // polaris-go turns them: "$method", "$caller_ip", "$header.K",
  // "$query.K", "$caller_service.K"; any other key is CUSTOM.
  struct Source {
    v1::MatchArgument::Type type;
    std::string key;
    const v1::MatchString* value;
    std::string field;
  };
  std::vector<Source> sources;
  for (int i = 0; i < proto.arguments_size(); ++i) {
    const v1::MatchArgument& argument = proto.arguments(i);
    sources.push_back(Source{argument.type(), argument.key(), &argument.value(),
                             absl::StrCat("arguments[", i, "]")});
  }
  if (proto.arguments_size() == 0) {
    std::vector<std::string> keys;
    for (const auto& [key, unused] : proto.labels()) keys.push_back(key);
    std::sort(keys.begin(), keys.end());
    for (const std::string& key : keys) {
      Source source{v1::MatchArgument::CUSTOM, key, &proto.labels().at(key),
                    absl::StrCat("labels[", key, "]")};
      absl::string_view rest = key;
      if (key == "$method") {
        source.type = v1::MatchArgument::METHOD;
        source.key.clear();
      } else if (key == "$caller_ip") {
        source.type = v1::MatchArgument::CALLER_IP;
        source.key.clear();
      } else if (absl::ConsumePrefix(&rest, "$header.")) {
        source.type = v1::MatchArgument::HEADER;
        source.key = std::string(rest);
      } else if (absl::ConsumePrefix(&rest, "$query.")) {
        source.type = v1::MatchArgument::QUERY;
        source.key = std::string(rest);
      } else if (absl::ConsumePrefix(&rest, "$caller_service.")) {
        source.type = v1::MatchArgument::CALLER_SERVICE;
        source.key = std::string(rest);
      }
      sources.push_back(std::move(source));
    }
  }
  for (const Source& source : sources) {
    absl::StatusOr<ArgumentMatcher::Attribute> attribute = AttributeOf(source.type);
    if (!attribute.ok()) return Bad(where, source.field + ".type", attribute.status().message());
    absl::StatusOr<StringMatcher> value =
        StringMatcher::FromProto(*source.value, source.field + ".value");
    if (!value.ok()) return Bad(where, "", value.status().message());
    rule.arguments.push_back(
        ArgumentMatcher{*attribute, KeyOf(*attribute, source.key), *std::move(value)});
    const std::string& type = v1::MatchArgument::Type_Name(source.type);
    rule.argument_labels.push_back(*attribute == ArgumentMatcher::Attribute::kMethod ||
                                           *attribute == ArgumentMatcher::Attribute::kCallerIp
                                       ? type
                                       : absl::StrCat(type, ":", source.key));
  }
  rule.regex_combine = proto.regex_combine().value();
  if (rule.resource == RateLimitRule::Resource::kQps) {
    if (proto.amounts_size() == 0) return Bad(where, "amounts", "is empty for a QPS rule");
    for (int i = 0; i < proto.amounts_size(); ++i) {
      const v1::Amount& amount = proto.amounts(i);
      const std::string field = absl::StrCat("amounts[", i, "]");
      if (!amount.has_maxamount()) return Bad(where, field + ".maxAmount", "is missing");
      const absl::Duration duration = absl::Seconds(amount.validduration().seconds()) +
                                      absl::Nanoseconds(amount.validduration().nanos());
      if (duration <= absl::ZeroDuration()) {
        return Bad(where, field + ".validDuration",
                   absl::StrCat("must be positive (got ", absl::FormatDuration(duration), ")"));
      }
      if (rule.scope == RateLimitRule::Scope::kGlobal &&
          (amount.validduration().nanos() != 0 || duration < absl::Seconds(1))) {
        return Bad(where, field + ".validDuration",
                   absl::StrCat("must be whole seconds for a GLOBAL rule (got ",
                                absl::FormatDuration(duration), ")"));
      }
      if (duration > absl::Hours(24)) {
        return Bad(where, field + ".validDuration",
                   absl::StrCat("exceeds a day (got ", absl::FormatDuration(duration), ")"));
      }
      rule.amounts.push_back(RateLimitRule::Amount{amount.maxamount().value(), duration});
    }
  } else {
    // As upstream: no amount means one call at a time.
    rule.max_concurrency = std::max<uint32_t>(1, proto.concurrencyamount().maxamount());
  }
  rule.custom_response = proto.customresponse().body();
  return rule;
}

class RateLimitRulesParser final : public RuleParser {
 public:
  absl::string_view name() const override { return RateLimitRules::kParserName; }
  RuleAudience audience() const override { return RuleAudience::kCallee; }
  std::vector<ResourceType> sources() const override { return {ResourceType::kRateLimit}; }
  absl::StatusOr<std::shared_ptr<const ParsedRules>> Parse(
      const ServiceKey& key, const ResourceAnswers& answers) const override {
    auto parsed = std::make_shared<RateLimitRules>();
    const v1::DiscoverResponse* answer = AnswerOf(answers, ResourceType::kRateLimit);
    for (int i = 0; answer != nullptr && i < answer->ratelimit().rules_size(); ++i) {
      const v1::Rule& proto = answer->ratelimit().rules(i);
      if (proto.disable().value()) continue;
      if (!NamesService(proto.service().value(), proto.namespace_().value(), key)) continue;
      absl::StatusOr<RateLimitRule> rule =
          Build(proto, absl::StrCat("RATE_LIMIT rateLimit.rules[", i, "] (", proto.id().value(), ")"));
      if (rule.ok()) rule->service = key;
      KeepOrReject(std::move(rule), key, "rate limit", parsed->rules, parsed->rejected);
    }
    std::stable_sort(parsed->rules.begin(), parsed->rules.end(),
                     [](const RateLimitRule& a, const RateLimitRule& b) {
                       if (a.priority != b.priority) return a.priority < b.priority;
                       return a.id < b.id;
                     });
    return std::shared_ptr<const ParsedRules>(std::move(parsed));
  }
};

}  // namespace

std::string RateLimitRule::DisplayName() const {
  if (name.empty() || name == id) return id;
  return absl::StrCat(name, " (", id, ")");
}

bool RateLimitRule::Matches(const InboundCall& call) const {
  if (!MethodMatches(method, call.method())) return false;
  for (const ArgumentMatcher& argument : arguments) {
    if (!argument.Matches(call)) return false;
  }
  return true;
}

bool RateLimitRule::WindowPerValue() const {
  if (regex_combine) return false;
  if (!method.MatchesAnything() && method.type() != StringMatcher::Type::kExact) return true;
  for (const ArgumentMatcher& argument : arguments) {
    if (!argument.value.MatchesAnything() &&
        argument.value.type() != StringMatcher::Type::kExact) {
      return true;
    }
  }
  return false;
}

bool RateLimitRule::SameLimits(const RateLimitRule& other) const {
  return resource == other.resource && scope == other.scope && action == other.action &&
         amounts == other.amounts && max_concurrency == other.max_concurrency &&
         max_queue_delay == other.max_queue_delay && WindowPerValue() == other.WindowPerValue() &&
         failover == other.failover && amount_mode == other.amount_mode &&
         service == other.service && cluster == other.cluster;
}

std::string RateLimitRule::GlobalLabels(const InboundCall* call) const {
  // The rule's own text stands for every value it covers when it keeps one
  // window for them; otherwise the call's value names the window.
  auto value_of = [&](const StringMatcher& matcher,
                      std::optional<absl::string_view> call_value) -> std::string {
    if (call == nullptr || matcher.type() == StringMatcher::Type::kExact ||
        (regex_combine && matcher.type() != StringMatcher::Type::kExact)) {
      return matcher.value();
    }
    return std::string(call_value.value_or(""));
  };
  std::string labels;
  if (!method.MatchesAnything()) {
    labels = value_of(method, call == nullptr ? std::nullopt
                                              : std::optional<absl::string_view>(call->method()));
  }
  std::vector<std::string> entries;
  std::string buffer;
  for (size_t i = 0; i < arguments.size(); ++i) {
    const ArgumentMatcher& argument = arguments[i];
    const std::string value =
        value_of(argument.value, call == nullptr ? std::nullopt : argument.ValueOf(*call, &buffer));
    entries.push_back(absl::StrCat(argument_labels[i], ":", value));
  }
  std::sort(entries.begin(), entries.end());
  absl::StrAppend(&labels, "|", absl::StrJoin(entries, "|"));
  return labels;
}

std::unique_ptr<RuleParser> MakeRateLimitRulesParser() {
  return std::make_unique<RateLimitRulesParser>();
}

}  // namespace grpc_cpp_polaris
