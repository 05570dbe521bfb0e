#include "sdk/breaker/breaker_rules.h"

#include <algorithm>
#include <string>
#include <tuple>
#include <utility>

#include <grpc/support/log.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "proto/v1/circuitbreaker.pb.h"
#include "proto/v1/response.pb.h"
#include "sdk/rule/status_code.h"
#include "sdk/rule/wildcard.h"

namespace grpc_cpp_polaris {
namespace {

// 0: exact, 1: wildcard (for ordering).
int Wild(absl::string_view value) { return IsWildcard(value) ? 1 : 0; }

// The conditions and triggers of a rule (or of all its blocks), merged.
struct Conditions {
  const google::protobuf::RepeatedPtrField<v1::ErrorCondition>* errors = nullptr;
  const google::protobuf::RepeatedPtrField<v1::TriggerCondition>* triggers = nullptr;
  std::string field;  // where they are, for messages
};

class Builder {
 public:
  Builder(const v1::CircuitBreakerRule& proto, std::string where)
      : proto_(proto), where_(std::move(where)) {}

  absl::StatusOr<std::optional<BreakerRule>> Build(const CircuitBreakingOptions& defaults) {
    if (!proto_.enable()) return std::optional<BreakerRule>();
    BreakerRule rule;
    rule.id = proto_.id().empty() ? proto_.name() : proto_.id();
    switch (proto_.level()) {
      case v1::SERVICE:
        rule.level = BreakerLevel::kService;
        break;
      case v1::METHOD:
        rule.level = BreakerLevel::kMethod;
        break;
      case v1::INSTANCE:
        rule.level = BreakerLevel::kInstance;
        break;
      case v1::GROUP:
      case v1::UNKNOWN:
        return std::optional<BreakerRule>();  // not supported (nor upstream)
      default:
        return Bad("level", absl::StrCat("unknown level ", static_cast<int>(proto_.level())));
    }
    const v1::RuleMatcher& matcher = proto_.rule_matcher();
    rule.source = ServiceKey{matcher.source().namespace_(), matcher.source().service()};
    rule.destination =
        ServiceKey{matcher.destination().namespace_(), matcher.destination().service()};
    rule.regex_separate = proto_.regex_separate();
    rule.priority = proto_.priority();
    rule.options = defaults;
    rule.options.enabled = true;

    // Conditions: the blocks', else the rule's own (deprecated) ones.
    std::vector<Conditions> conditions;
    if (proto_.block_configs_size() > 0) {
      bool every_method = false;  // a block without a path covers them all
      for (int i = 0; i < proto_.block_configs_size(); ++i) {
        const v1::BlockConfig& block = proto_.block_configs(i);
        const std::string field = absl::StrCat("block_configs[", i, "]");
        conditions.push_back({&block.error_conditions(), &block.trigger_conditions(), field});
        if (!block.has_api() || !block.api().has_path()) {
          every_method = true;
          continue;
        }
        absl::StatusOr<StringMatcher> path =
            StringMatcher::FromProto(block.api().path(), absl::StrCat(field, ".api.path"));
        if (!path.ok()) return Bad(path.status());
        if (path->MatchesAnything()) {
          every_method = true;
        } else {
          rule.methods.push_back(*std::move(path));
        }
      }
      if (every_method) rule.methods.clear();
    } else {
      conditions.push_back({&proto_.error_conditions(), &proto_.trigger_condition(), ""});
      if (matcher.destination().has_method()) {
        absl::StatusOr<StringMatcher> method = StringMatcher::FromProto(
            matcher.destination().method(), "rule_matcher.destination.method");
        if (!method.ok()) return Bad(method.status());
        if (!method->MatchesAnything()) rule.methods.push_back(*std::move(method));
      }
    }
    if (absl::Status status = ReadErrors(conditions, &rule.options); !status.ok()) return status;
    if (absl::Status status = ReadTriggers(conditions, &rule.options); !status.ok()) return status;

    const v1::RecoverCondition& recover = proto_.recovercondition();
    if (recover.sleep_window() > 0) {
      rule.options.instance.sleep_window = absl::Seconds(recover.sleep_window());
      rule.options.instance.max_sleep_window =
          std::max(rule.options.instance.sleep_window, defaults.instance.max_sleep_window);
    }
    if (recover.consecutivesuccess() > 1000) {
      return Bad("recoverCondition.consecutiveSuccess", "must be at most 1000");
    }
    if (recover.consecutivesuccess() > 0) {
      rule.options.instance.half_open_probes = recover.consecutivesuccess();
    }
    if (proto_.max_ejection_percent() > 100) {
      return Bad("max_ejection_percent", "must be in 0..100");
    }
    if (proto_.max_ejection_percent() > 0) {
      rule.options.max_open_percent = proto_.max_ejection_percent();
    }
    rule.fault_detect = proto_.faultdetectconfig().enable();
    if (proto_.fallbackconfig().enable()) {
      const v1::FallbackResponse& response = proto_.fallbackconfig().response();
      FallbackResponse fallback;
      fallback.code = response.code();
      for (const auto& header : response.headers()) {
        fallback.headers.emplace_back(header.key(), header.value());
      }
      fallback.body = response.body();
      rule.fallback = std::move(fallback);
    }
    if (absl::Status status = rule.options.Validate(""); !status.ok()) return Bad(status);
    return std::optional<BreakerRule>(std::move(rule));
  }

 private:
  absl::Status Bad(absl::string_view field, absl::string_view why) const {
    return absl::InvalidArgumentError(absl::StrCat(where_, ": ", field, " ", why));
  }
  absl::Status Bad(const absl::Status& status) const {
    return absl::InvalidArgumentError(absl::StrCat(where_, ": ", status.message()));
  }
  static std::string At(const Conditions& c, absl::string_view name, int i) {
    return absl::StrCat(c.field, c.field.empty() ? "" : ".", name, "[", i, "]");
  }

  // RET_CODE conditions become the codes that fail (each matcher tried on
  // "1" .. "16"), DELAY ones the slow-call threshold (the lowest).
  absl::Status ReadErrors(const std::vector<Conditions>& all, CircuitBreakingOptions* options) {
    bool any = false;
    uint32_t mask = 0;
    int64_t slow_ms = -1;
    for (const Conditions& c : all) {
      for (int i = 0; i < c.errors->size(); ++i) {
        const v1::ErrorCondition& condition = c.errors->Get(i);
        const std::string field = At(c, "error_conditions", i);
        switch (condition.input_type()) {
          case v1::ErrorCondition::RET_CODE: {
            absl::StatusOr<StringMatcher> matcher =
                StringMatcher::FromProto(condition.condition(), absl::StrCat(field, ".condition"));
            if (!matcher.ok()) return Bad(matcher.status());
            for (int code = 1; code <= 16; ++code) {
              if (matcher->Matches(absl::StrCat(code))) mask |= uint32_t{1} << code;
            }
            any = true;
            break;
          }
          case v1::ErrorCondition::DELAY: {
            int64_t ms = 0;
            if (!absl::SimpleAtoi(condition.condition().value().value(), &ms) || ms <= 0) {
              return Bad(absl::StrCat(field, ".condition.value"),
                         absl::StrCat("'", condition.condition().value().value(),
                                      "' is not a positive number of milliseconds"));
            }
            slow_ms = slow_ms < 0 ? ms : std::min(slow_ms, ms);
            any = true;
            break;
          }
          default:
            return Bad(absl::StrCat(field, ".input_type"),
                       absl::StrCat("unknown input type ", static_cast<int>(condition.input_type())));
        }
      }
    }
    if (!any) return absl::OkStatus();  // the default codes
    options->failure_codes.clear();
    for (int code = 1; code <= 16; ++code) {
      if ((mask >> code & 1) != 0) options->failure_codes.push_back(static_cast<absl::StatusCode>(code));
    }
    options->slow_call = slow_ms < 0 ? absl::ZeroDuration() : absl::Milliseconds(slow_ms);
    return absl::OkStatus();
  }

  absl::Status ReadTriggers(const std::vector<Conditions>& all, CircuitBreakingOptions* options) {
    bool consecutive = false;
    bool rate = false;
    bool any = false;
    BreakerOptions& breaker = options->instance;
    for (const Conditions& c : all) {
      for (int i = 0; i < c.triggers->size(); ++i) {
        const v1::TriggerCondition& trigger = c.triggers->Get(i);
        any = true;
        const std::string field =
            At(c, c.field.empty() ? "trigger_condition" : "trigger_conditions", i);
        switch (trigger.trigger_type()) {
          case v1::TriggerCondition::CONSECUTIVE_ERROR:
            if (trigger.error_count() == 0) break;  // never trips (as upstream)
            breaker.consecutive_failures =
                consecutive ? std::min(breaker.consecutive_failures, trigger.error_count())
                            : trigger.error_count();
            consecutive = true;
            break;
          case v1::TriggerCondition::ERROR_RATE: {
            if (trigger.error_percent() == 0 || trigger.error_percent() > 100) {
              return Bad(absl::StrCat(field, ".error_percent"), "must be in 1..100");
            }
            if (rate && trigger.error_percent() >= breaker.error_rate_percent) break;
            breaker.error_rate_percent = trigger.error_percent();
            breaker.min_requests = trigger.minimum_request();
            breaker.window = absl::Seconds(trigger.interval() == 0 ? 60 : trigger.interval());
            rate = true;
            break;
          }
          default:
            return Bad(absl::StrCat(field, ".trigger_type"),
                       absl::StrCat("unknown trigger type ", static_cast<int>(trigger.trigger_type())));
        }
      }
    }
    // The triggers given replace the defaults (one that never trips, such
    // as error_count 0, included); without any, the defaults stay.
    if (any && !rate) breaker.error_rate_percent = 0;
    if (any && !consecutive) breaker.consecutive_failures = 0;
    return absl::OkStatus();
  }

  const v1::CircuitBreakerRule& proto_;
  const std::string where_;
};

class CircuitBreakerRulesParser final : public RuleParser {
 public:
  absl::string_view name() const override { return CircuitBreakerRules::kParserName; }
  std::vector<ResourceType> sources() const override { return {ResourceType::kCircuitBreaker}; }
  absl::StatusOr<std::shared_ptr<const ParsedRules>> Parse(
      const ServiceKey& /*key*/, const ResourceAnswers& answers) const override {
    auto rules = std::make_shared<CircuitBreakerRules>();
    const ResourceUpdatePtr& update = answers[ResourceIndex(ResourceType::kCircuitBreaker)];
    if (update == nullptr || update->answer == nullptr) return std::shared_ptr<const ParsedRules>(rules);
    const v1::CircuitBreaker& breaker = update->answer->circuitbreaker();
    // The settings a rule leaves out are the defaults of the built-in
    // breaker (GovernanceOptions' own defaults).
    const CircuitBreakingOptions defaults;
    for (int i = 0; i < breaker.rules_size(); ++i) {
      const v1::CircuitBreakerRule& proto = breaker.rules(i);
      Builder builder(proto, absl::StrCat("CIRCUIT_BREAKER rules[", i, "] (",
                                          proto.id().empty() ? proto.name() : proto.id(), ")"));
      absl::StatusOr<std::optional<BreakerRule>> rule = builder.Build(defaults);
      if (!rule.ok()) {
        // One bad rule is left out (logged, and kept in `rejected`); the
        // service's other rules still apply.
        gpr_log(GPR_ERROR, "polaris: ignoring a circuit breaker rule of %s: %s",
                update->key.ToString().c_str(), rule.status().ToString().c_str());
        rules->rejected.push_back(std::string(rule.status().message()));
        continue;
      }
      if (rule->has_value()) rules->rules.push_back(**std::move(rule));
    }
    std::stable_sort(rules->rules.begin(), rules->rules.end(),
                     [](const BreakerRule& a, const BreakerRule& b) {
                       auto key = [](const BreakerRule& r) {
                         return std::make_tuple(r.priority, Wild(r.destination.service_namespace),
                                                r.destination.service_namespace,
                                                Wild(r.destination.service),
                                                r.destination.service, r.id);
                       };
                       return key(a) < key(b);
                     });
    return std::shared_ptr<const ParsedRules>(std::move(rules));
  }
};

}  // namespace

bool BreakerRule::Covers(const ServiceKey& caller, const ServiceKey& callee) const {
  return NamesService(destination.service, destination.service_namespace, callee) &&
         NamesService(source.service, source.service_namespace, caller);
}

bool BreakerRule::CoversMethod(absl::string_view path) const {
  if (methods.empty()) return true;
  for (const StringMatcher& method : methods) {
    if (method.Matches(path)) return true;
  }
  return false;
}

absl::StatusCode BreakerRule::OpenCode() const {
  if (!fallback.has_value()) return absl::StatusCode::kUnavailable;
  return StatusCodeOfRule(fallback->code);
}

const BreakerRule* CircuitBreakerRules::Find(BreakerLevel level, const ServiceKey& caller,
                                             const ServiceKey& callee) const {
  for (const BreakerRule& rule : rules) {
    if (rule.level == level && rule.Covers(caller, callee)) return &rule;
  }
  return nullptr;
}

std::unique_ptr<RuleParser> MakeCircuitBreakerRulesParser() {
  return std::make_unique<CircuitBreakerRulesParser>();
}

namespace {
constexpr absl::string_view kRefusalPrefix = "polaris: the circuit breaker of ";
constexpr absl::string_view kRefusalRule = " is open (rule ";
}  // namespace

std::string BreakerRefusal(const ServiceKey& service, absl::string_view path,
                           absl::string_view rule_id) {
  return path.empty()
             ? absl::StrCat(kRefusalPrefix, "service ", service.ToString(), kRefusalRule, rule_id,
                            ")")
             : absl::StrCat(kRefusalPrefix, "method ", path, " of ", service.ToString(),
                            kRefusalRule, rule_id, ")");
}

std::optional<ParsedRefusal> ParseBreakerRefusal(absl::string_view message) {
  if (!absl::StartsWith(message, kRefusalPrefix) || !absl::EndsWith(message, ")")) {
    return std::nullopt;
  }
  const size_t open = message.rfind(kRefusalRule);
  if (open == absl::string_view::npos) return std::nullopt;
  ParsedRefusal refusal;
  refusal.rule_id = std::string(message.substr(
      open + kRefusalRule.size(), message.size() - 1 - open - kRefusalRule.size()));
  const absl::string_view before = message.substr(0, open);
  const size_t space = before.rfind(' ');
  const absl::string_view service = before.substr(space + 1);
  const size_t slash = service.find('/');
  if (slash == absl::string_view::npos) return std::nullopt;
  refusal.service = ServiceKey{std::string(service.substr(0, slash)),
                               std::string(service.substr(slash + 1))};
  return refusal;
}

FallbackDirectory& FallbackDirectory::Global() {
  static FallbackDirectory* const directory = new FallbackDirectory();
  return *directory;
}

void FallbackDirectory::Publish(const ServiceKey& service, const CircuitBreakerRules& rules) {
  std::map<std::string, FallbackResponse, std::less<>> fallbacks;
  for (const BreakerRule& rule : rules.rules) {
    if (rule.level != BreakerLevel::kInstance && rule.fallback.has_value()) {
      fallbacks.emplace(rule.id, *rule.fallback);
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (fallbacks.empty()) {
    fallbacks_.erase(service);
  } else {
    fallbacks_[service] = std::move(fallbacks);
  }
}

std::optional<FallbackResponse> FallbackDirectory::Find(const ServiceKey& service,
                                                        absl::string_view rule_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = fallbacks_.find(service);
  if (it == fallbacks_.end()) return std::nullopt;
  auto rule = it->second.find(rule_id);
  if (rule == it->second.end()) return std::nullopt;
  return rule->second;
}

}  // namespace grpc_cpp_polaris
