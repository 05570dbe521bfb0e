// Polaris' MatchString, validated and compiled once: how a rule compares one
// value (a header, a caller label, an instance's metadata) with what the rule
// wants. Shared by every capability whose rules match values (routing, circuit
// breaking, rate limiting, access control).
//
// Semantics (as upstream's SDKs): an empty value or "*" matches anything;
// EXACT and NOT_EQUALS compare whole strings; REGEX is an RE2 search anywhere
// in the value; IN and NOT_IN take a comma-separated list (items trimmed);
// RANGE takes "LOW~HIGH", integers, both ends included. A value that is
// absent never matches, except NOT_EQUALS and NOT_IN, which it satisfies.
//
// Matches() may run a regular expression: call it when building results, not
// per call.
#ifndef GRPC_CPP_POLARIS_SDK_RULE_STRING_MATCHER_H_
#define GRPC_CPP_POLARIS_SDK_RULE_STRING_MATCHER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/v1/model.pb.h"

namespace re2 {
class RE2;
}

namespace grpc_cpp_polaris {

class StringMatcher {
 public:
  enum class Type { kExact, kRegex, kNotEquals, kIn, kNotIn, kRange };
  // TEXT compares with the value itself; PARAMETER names a label of the
  // caller whose value is compared (destination matching); VARIABLE names an
  // environment variable, read when the rule is parsed.
  enum class ValueType { kText, kParameter, kVariable };

  // InvalidArgument naming `field` (e.g. "rules[0].sources[1].arguments[0].value")
  // for a regex that does not compile, a malformed RANGE, an unknown enum.
  static absl::StatusOr<StringMatcher> Create(Type type, ValueType value_type, std::string value,
                                              absl::string_view field);
  static absl::StatusOr<StringMatcher> FromProto(const v1::MatchString& proto,
                                                 absl::string_view field);
  // Matches anything.
  StringMatcher() = default;

  Type type() const { return type_; }
  ValueType value_type() const { return value_type_; }
  const std::string& value() const { return value_; }
  bool MatchesAnything() const { return any_; }

  // Whether `value` (nullopt when absent) satisfies the matcher.
  bool Matches(std::optional<absl::string_view> value) const;
  // For PARAMETER matchers: compares `value` with `parameter`, the value the
  // matcher's own value names (exact comparison, or as the type says).
  bool MatchesWith(std::optional<absl::string_view> value, absl::string_view parameter) const;

 private:
  bool MatchText(absl::string_view value) const;

  Type type_ = Type::kExact;
  ValueType value_type_ = ValueType::kText;
  std::string value_;
  bool any_ = true;
  std::shared_ptr<const re2::RE2> regex_;
  std::vector<std::string> items_;  // IN / NOT_IN
  int64_t low_ = 0, high_ = 0;      // RANGE
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_RULE_STRING_MATCHER_H_
