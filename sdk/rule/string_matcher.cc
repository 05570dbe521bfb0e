#include "sdk/rule/string_matcher.h"

#include <cstdlib>
#include <utility>

#include <re2/re2.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/ascii.h"

namespace grpc_cpp_polaris {

absl::StatusOr<StringMatcher> StringMatcher::Create(Type type, ValueType value_type,
                                                    std::string value, absl::string_view field) {
  StringMatcher matcher;
  matcher.type_ = type;
  matcher.value_type_ = value_type;
  if (value_type == ValueType::kVariable) {
    const char* env = std::getenv(value.c_str());
    if (env == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": VARIABLE '", value, "' is not set in the environment"));
    }
    value = env;
    matcher.value_type_ = ValueType::kText;
  }
  matcher.value_ = std::move(value);
  matcher.any_ = matcher.value_type_ == ValueType::kText &&
                 (matcher.value_.empty() || matcher.value_ == "*");
  if (matcher.any_ || matcher.value_type_ == ValueType::kParameter) return matcher;
  switch (type) {
    case Type::kExact:
    case Type::kNotEquals:
      break;
    case Type::kRegex: {
      RE2::Options options;
      options.set_log_errors(false);
      auto regex = std::make_shared<const re2::RE2>(matcher.value_, options);
      if (!regex->ok()) {
        return absl::InvalidArgumentError(absl::StrCat(field, ": REGEX '", matcher.value_,
                                                       "' does not compile: ", regex->error()));
      }
      matcher.regex_ = std::move(regex);
      break;
    }
    case Type::kIn:
    case Type::kNotIn:
      for (absl::string_view item : absl::StrSplit(matcher.value_, ',')) {
        matcher.items_.emplace_back(absl::StripAsciiWhitespace(item));
      }
      break;
    case Type::kRange: {
      std::vector<absl::string_view> ends = absl::StrSplit(matcher.value_, '~');
      if (ends.size() != 2 ||
          !absl::SimpleAtoi(absl::StripAsciiWhitespace(ends[0]), &matcher.low_) ||
          !absl::SimpleAtoi(absl::StripAsciiWhitespace(ends[1]), &matcher.high_) ||
          matcher.low_ > matcher.high_) {
        return absl::InvalidArgumentError(absl::StrCat(
            field, ": RANGE '", matcher.value_, "' is not LOW~HIGH with integers LOW <= HIGH"));
      }
      break;
    }
  }
  return matcher;
}

absl::StatusOr<StringMatcher> StringMatcher::FromProto(const v1::MatchString& proto,
                                                       absl::string_view field) {
  Type type;
  switch (proto.type()) {
    case v1::MatchString::EXACT: type = Type::kExact; break;
    case v1::MatchString::REGEX: type = Type::kRegex; break;
    case v1::MatchString::NOT_EQUALS: type = Type::kNotEquals; break;
    case v1::MatchString::IN: type = Type::kIn; break;
    case v1::MatchString::NOT_IN: type = Type::kNotIn; break;
    case v1::MatchString::RANGE: type = Type::kRange; break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".type: unknown MatchString type ", static_cast<int>(proto.type())));
  }
  ValueType value_type;
  switch (proto.value_type()) {
    case v1::MatchString::TEXT: value_type = ValueType::kText; break;
    case v1::MatchString::PARAMETER: value_type = ValueType::kParameter; break;
    case v1::MatchString::VARIABLE: value_type = ValueType::kVariable; break;
    default:
      return absl::InvalidArgumentError(absl::StrCat(field, ".value_type: unknown value type ",
                                                     static_cast<int>(proto.value_type())));
  }
  return Create(type, value_type, proto.value().value(), absl::StrCat(field, ".value"));
}

bool StringMatcher::MatchText(absl::string_view value) const {
  switch (type_) {
    case Type::kExact:
      return value == value_;
    case Type::kNotEquals:
      return value != value_;
    case Type::kRegex:
      return RE2::PartialMatch(re2::StringPiece(value.data(), value.size()), *regex_);
    case Type::kIn:
    case Type::kNotIn: {
      bool found = false;
      for (const std::string& item : items_) found = found || item == value;
      return type_ == Type::kIn ? found : !found;
    }
    case Type::kRange: {
      int64_t number;
      return absl::SimpleAtoi(value, &number) && number >= low_ && number <= high_;
    }
  }
  return false;
}

bool StringMatcher::Matches(std::optional<absl::string_view> value) const {
  if (any_) return true;
  if (value_type_ == ValueType::kParameter) return true;  // see MatchesWith
  if (!value.has_value()) return type_ == Type::kNotEquals || type_ == Type::kNotIn;
  return MatchText(*value);
}

bool StringMatcher::MatchesWith(std::optional<absl::string_view> value,
                                absl::string_view parameter) const {
  if (!value.has_value()) return false;
  switch (type_) {
    case Type::kNotEquals:
      return *value != parameter;
    default:
      return *value == parameter;
  }
}

}  // namespace grpc_cpp_polaris
