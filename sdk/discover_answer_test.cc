#include "sdk/discover_answer.h"

#include <string>

#include <gtest/gtest.h>

#include "proto/v1/code.pb.h"

namespace grpc_cpp_polaris {
namespace {

v1::DiscoverResponse Answer(const std::string& service, int instances) {
  v1::DiscoverResponse response;
  response.mutable_code()->set_value(v1::ExecuteSuccess);
  response.set_type(v1::DiscoverResponse::INSTANCE);
  response.mutable_service()->mutable_name()->set_value(service);
  response.mutable_service()->mutable_namespace_()->set_value("default");
  response.mutable_service()->mutable_revision()->set_value("rev-1");
  for (int i = 0; i < instances; ++i) {
    v1::Instance* instance = response.add_instances();
    instance->mutable_host()->set_value("10.0.0." + std::to_string(i));
    instance->mutable_port()->set_value(8080);
  }
  return response;
}

TEST(DiscoverAnswerTest, DecodesAWholeAnswer) {
  const std::string bytes = Answer("Echo", 3).SerializeAsString();
  DiscoverAnswer answer = DecodeDiscoverAnswer(bytes, bytes.size(), bytes.size());
  ASSERT_TRUE(answer.status.ok()) << answer.status;
  EXPECT_TRUE(answer.has_header);
  EXPECT_EQ(answer.response.instances_size(), 3);
  EXPECT_EQ(answer.response.instances(2).host().value(), "10.0.0.2");
}

TEST(DiscoverAnswerTest, OversizedAnswerKeepsItsHeaderAndNamesTheLimit) {
  const std::string bytes = Answer("Big", 1000).SerializeAsString();
  // Only a prefix is handed over, as the client does for answers over the limit.
  DiscoverAnswer answer = DecodeDiscoverAnswer(bytes.substr(0, 200), bytes.size(), 1000);
  EXPECT_TRUE(absl::IsResourceExhausted(answer.status)) << answer.status;
  EXPECT_NE(answer.status.message().find("max_discover_answer_bytes"), std::string::npos);
  EXPECT_NE(answer.status.message().find(std::to_string(bytes.size())), std::string::npos);
  ASSERT_TRUE(answer.has_header);
  EXPECT_EQ(answer.response.service().name().value(), "Big");
  EXPECT_EQ(answer.response.service().revision().value(), "rev-1");
  EXPECT_EQ(answer.response.instances_size(), 0);
}

TEST(DiscoverAnswerTest, MalformedInstanceIsNamedAndTheHeaderSurvives) {
  std::string bytes = Answer("Bad", 2).SerializeAsString();
  // A third instance whose body is a truncated field: tag of host (field 2,
  // length-delimited) claiming 100 bytes that are not there.
  const std::string broken_instance = std::string("\x12\x64", 2) + "short";
  bytes += std::string("\x2a", 1) + static_cast<char>(broken_instance.size()) + broken_instance;
  DiscoverAnswer answer = DecodeDiscoverAnswer(bytes, bytes.size(), 1 << 20);
  EXPECT_TRUE(absl::IsInvalidArgument(answer.status)) << answer.status;
  EXPECT_NE(answer.status.message().find("DiscoverResponse.instances[2]"), std::string::npos)
      << answer.status;
  ASSERT_TRUE(answer.has_header);
  EXPECT_EQ(answer.response.service().name().value(), "Bad");
  EXPECT_EQ(answer.response.instances_size(), 0);
}

TEST(DiscoverAnswerTest, TruncatedAnswerIsReported) {
  const std::string bytes = Answer("Cut", 5).SerializeAsString();
  const std::string cut = bytes.substr(0, bytes.size() - 3);
  DiscoverAnswer answer = DecodeDiscoverAnswer(cut, cut.size(), 1 << 20);
  EXPECT_TRUE(absl::IsInvalidArgument(answer.status));
  EXPECT_NE(answer.status.message().find("truncated"), std::string::npos) << answer.status;
  EXPECT_TRUE(answer.has_header);
  EXPECT_EQ(answer.response.service().name().value(), "Cut");
}

TEST(DiscoverAnswerTest, GarbageHasNoHeader) {
  const std::string garbage = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff";
  DiscoverAnswer answer = DecodeDiscoverAnswer(garbage, garbage.size(), 1 << 20);
  EXPECT_FALSE(answer.status.ok());
  EXPECT_FALSE(answer.has_header);
}

}  // namespace
}  // namespace grpc_cpp_polaris
