#include "sdk/rule/string_matcher.h"

#include <cstdlib>

#include <gtest/gtest.h>

namespace grpc_cpp_polaris {
namespace {

using Type = StringMatcher::Type;
using ValueType = StringMatcher::ValueType;

StringMatcher Make(Type type, const std::string& value) {
  absl::StatusOr<StringMatcher> matcher = StringMatcher::Create(type, ValueType::kText, value, "f");
  EXPECT_TRUE(matcher.ok()) << matcher.status();
  return matcher.ok() ? *matcher : StringMatcher();
}

TEST(StringMatcherTest, EachType) {
  EXPECT_TRUE(Make(Type::kExact, "a").Matches("a"));
  EXPECT_FALSE(Make(Type::kExact, "a").Matches("ab"));
  EXPECT_FALSE(Make(Type::kExact, "a").Matches(std::nullopt));
  EXPECT_TRUE(Make(Type::kNotEquals, "a").Matches("b"));
  EXPECT_FALSE(Make(Type::kNotEquals, "a").Matches("a"));
  EXPECT_TRUE(Make(Type::kNotEquals, "a").Matches(std::nullopt));
  EXPECT_TRUE(Make(Type::kRegex, "^user-[0-9]+$").Matches("user-42"));
  EXPECT_FALSE(Make(Type::kRegex, "^user-[0-9]+$").Matches("user-x"));
  EXPECT_TRUE(Make(Type::kRegex, "vip").Matches("a-vip-b"));  // a search, not a full match
  EXPECT_TRUE(Make(Type::kIn, "a, b ,c").Matches("b"));
  EXPECT_FALSE(Make(Type::kIn, "a,b").Matches("ab"));
  EXPECT_TRUE(Make(Type::kNotIn, "a,b").Matches("c"));
  EXPECT_FALSE(Make(Type::kNotIn, "a,b").Matches("a"));
  EXPECT_TRUE(Make(Type::kNotIn, "a,b").Matches(std::nullopt));
  EXPECT_TRUE(Make(Type::kRange, "10~20").Matches("10"));
  EXPECT_TRUE(Make(Type::kRange, "10~20").Matches("20"));
  EXPECT_FALSE(Make(Type::kRange, "10~20").Matches("21"));
  EXPECT_FALSE(Make(Type::kRange, "10~20").Matches("x"));
  EXPECT_TRUE(Make(Type::kRange, "-5~5").Matches("-1"));
}

TEST(StringMatcherTest, EmptyAndStarMatchAnything) {
  EXPECT_TRUE(Make(Type::kExact, "").Matches(std::nullopt));
  EXPECT_TRUE(Make(Type::kRegex, "*").Matches("x"));
  EXPECT_TRUE(StringMatcher().MatchesAnything());
}

TEST(StringMatcherTest, BadValuesNameTheField) {
  absl::StatusOr<StringMatcher> regex =
      StringMatcher::Create(Type::kRegex, ValueType::kText, "(unclosed", "rules[0].value");
  ASSERT_FALSE(regex.ok());
  EXPECT_NE(regex.status().message().find("rules[0].value"), absl::string_view::npos);
  EXPECT_NE(regex.status().message().find("(unclosed"), absl::string_view::npos);
  for (const char* bad : {"1-2", "a~b", "5~1", "1~2~3"}) {
    absl::StatusOr<StringMatcher> range =
        StringMatcher::Create(Type::kRange, ValueType::kText, bad, "r");
    EXPECT_FALSE(range.ok()) << bad;
  }
  v1::MatchString proto;
  proto.set_type(static_cast<v1::MatchString::MatchStringType>(42));
  proto.mutable_value()->set_value("x");
  absl::StatusOr<StringMatcher> unknown = StringMatcher::FromProto(proto, "sources[0].metadata[env]");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("sources[0].metadata[env].type"),
            absl::string_view::npos)
      << unknown.status();
}

TEST(StringMatcherTest, VariableIsReadFromTheEnvironment) {
  setenv("POLARIS_MATCH_TEST_ENV", "prod", 1);
  absl::StatusOr<StringMatcher> matcher =
      StringMatcher::Create(Type::kExact, ValueType::kVariable, "POLARIS_MATCH_TEST_ENV", "f");
  ASSERT_TRUE(matcher.ok());
  EXPECT_TRUE(matcher->Matches("prod"));
  EXPECT_FALSE(matcher->Matches("test"));
  EXPECT_FALSE(StringMatcher::Create(Type::kExact, ValueType::kVariable,
                                     "POLARIS_MATCH_TEST_UNSET", "f")
                   .ok());
}

TEST(StringMatcherTest, ParameterComparesWithTheNamedValue) {
  absl::StatusOr<StringMatcher> matcher =
      StringMatcher::Create(Type::kExact, ValueType::kParameter, "user", "f");
  ASSERT_TRUE(matcher.ok());
  EXPECT_TRUE(matcher->MatchesWith("alice", "alice"));
  EXPECT_FALSE(matcher->MatchesWith("bob", "alice"));
  EXPECT_FALSE(matcher->MatchesWith(std::nullopt, "alice"));
}

}  // namespace
}  // namespace grpc_cpp_polaris
