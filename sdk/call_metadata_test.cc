#include "sdk/call_metadata.h"

#include <gtest/gtest.h>

namespace grpc_cpp_polaris {
namespace {

TEST(CallMetadataTest, LabelsRoundTripWhateverTheyHold) {
  const std::map<std::string, std::string> labels = {
      {"env", "prod"}, {"a=b", "c&d"}, {"pct", "100%"}, {"utf8", "z\xc3\xbcrich"}, {"empty", ""}};
  const std::string encoded = EncodeLabels(labels);
  for (char c : encoded) EXPECT_TRUE(c >= 0x20 && c <= 0x7e) << encoded;
  absl::StatusOr<std::map<std::string, std::string>> decoded = DecodeLabels(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, labels);
  EXPECT_EQ(EncodeLabels({{"b", "2"}, {"a", "1"}}), "a=1&b=2");  // sorted: equal sets, equal strings
  EXPECT_TRUE(DecodeLabels("")->empty());
}

TEST(CallMetadataTest, MalformedValuesAreErrors) {
  EXPECT_FALSE(DecodeLabels("novalue").ok());
  EXPECT_FALSE(DecodeLabels("a=%4").ok());
  EXPECT_FALSE(DecodeLabels("a=%zz").ok());
}

}  // namespace
}  // namespace grpc_cpp_polaris
