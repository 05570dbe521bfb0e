#include "client/internal/call_id_filter.h"

#include <set>

#include <gtest/gtest.h>

namespace grpc_cpp_polaris {
namespace internal {
namespace {

TEST(CallIdTest, ParsesSixteenLowercaseHexDigitsOnly) {
  EXPECT_EQ(ParseCallId("00000000000000ff"), std::optional<uint64_t>(255));
  EXPECT_EQ(ParseCallId("ffffffffffffffff"), std::optional<uint64_t>(~uint64_t{0}));
  EXPECT_FALSE(ParseCallId("ff").has_value());
  EXPECT_FALSE(ParseCallId("00000000000000FF").has_value());
  EXPECT_FALSE(ParseCallId("000000000000000g").has_value());
  EXPECT_FALSE(ParseCallId("0000000000000000a").has_value());
}

TEST(CallIdTest, AttemptsAndRedrawsDrawApart) {
  std::set<uint64_t> seen;
  for (uint32_t attempt = 0; attempt < 8; ++attempt) {
    for (uint32_t draw = 0; draw < 6; ++draw) seen.insert(AttemptRandom(42, attempt, draw));
  }
  seen.insert(AttemptRandom(43, 0));
  EXPECT_EQ(seen.size(), 8u * 6u + 1u);
  EXPECT_EQ(AttemptRandom(42, 3, 1), AttemptRandom(42, 3, 1));  // replayable
}

TEST(CallIdTest, FindsARetryPolicyInAnyMethodConfig) {
  auto parse = [](const char* text) { return *grpc_core::Json::Parse(text); };
  EXPECT_TRUE(HasRetryPolicy(parse(
      R"({"methodConfig": [{"name": [{}]}, {"name": [{}], "retryPolicy": {}}]})")));
  EXPECT_FALSE(HasRetryPolicy(parse(R"({"methodConfig": [{"name": [{}], "timeout": "1s"}]})")));
  EXPECT_FALSE(HasRetryPolicy(parse(R"({"loadBalancingConfig": [{"polaris": {}}]})")));
  EXPECT_FALSE(HasRetryPolicy(parse(R"({"methodConfig": {}})")));
  EXPECT_FALSE(HasRetryPolicy(parse("[]")));
}

}  // namespace
}  // namespace internal
}  // namespace grpc_cpp_polaris
