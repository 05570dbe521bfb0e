#include "sdk/rule/inbound_call.h"

#include <gtest/gtest.h>

#include "sdk/call_metadata.h"
#include "sdk/rule/fake_inbound_call.h"

namespace grpc_cpp_polaris {
namespace {

using Attribute = ArgumentMatcher::Attribute;

ArgumentMatcher Argument(Attribute attribute, std::string key, std::string value,
                         StringMatcher::Type type = StringMatcher::Type::kExact) {
  return ArgumentMatcher{
      attribute, std::move(key),
      *StringMatcher::Create(type, StringMatcher::ValueType::kText, std::move(value), "value")};
}

TEST(ArgumentMatcherTest, ReadsEachAttribute) {
  testing::FakeInboundCall call;
  call.ip = "::1";
  call.headers = {{"x-user", "alice"},
                  {kCallerServiceMetadataKey, "Gateway"},
                  {kCallerNamespaceMetadataKey, "prod"},
                  {kCallerMetadataMetadataKey, EncodeLabels({{"env", "blue"}})}};
  EXPECT_TRUE(Argument(Attribute::kMethod, "", "/echo.EchoService/Echo").Matches(call));
  EXPECT_FALSE(Argument(Attribute::kMethod, "", "/echo.EchoService/Other").Matches(call));
  EXPECT_TRUE(Argument(Attribute::kHeader, "x-user", "alice").Matches(call));
  EXPECT_TRUE(Argument(Attribute::kCustom, "x-user", "alice").Matches(call));
  EXPECT_FALSE(Argument(Attribute::kHeader, "x-user", "bob").Matches(call));
  EXPECT_FALSE(Argument(Attribute::kHeader, "x-absent", "alice").Matches(call));
  EXPECT_TRUE(Argument(Attribute::kCallerService, "", "Gateway").Matches(call));
  EXPECT_TRUE(Argument(Attribute::kCallerService, "prod", "Gateway").Matches(call));
  EXPECT_FALSE(Argument(Attribute::kCallerService, "test", "Gateway").Matches(call));
  EXPECT_TRUE(Argument(Attribute::kCallerIp, "", "::1").Matches(call));
  EXPECT_TRUE(Argument(Attribute::kCallerMetadata, "env", "blue").Matches(call));
  EXPECT_FALSE(Argument(Attribute::kCallerMetadata, "env", "green").Matches(call));
  EXPECT_FALSE(Argument(Attribute::kQuery, "q", "1").Matches(call));
  // Absent values satisfy negations only.
  EXPECT_TRUE(Argument(Attribute::kHeader, "x-absent", "alice", StringMatcher::Type::kNotEquals)
                  .Matches(call));
  EXPECT_TRUE(Argument(Attribute::kCallerIp, "", "^::", StringMatcher::Type::kRegex).Matches(call));
}

TEST(ArgumentMatcherTest, AMalformedCallerMetadataValueCarriesNoLabels) {
  testing::FakeInboundCall call;
  call.headers = {{kCallerMetadataMetadataKey, "env=%zz"}};
  EXPECT_EQ(call.CallerMetadata("env"), std::nullopt);
}

}  // namespace
}  // namespace grpc_cpp_polaris
