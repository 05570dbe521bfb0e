#include "client/target.h"

#include <gtest/gtest.h>

namespace grpc_cpp_polaris {
namespace {

TEST(ParsePolarisTargetTest, ServiceAsAuthorityDefaultsNamespace) {
  absl::StatusOr<ServiceKey> key = ParsePolarisTarget({"EchoServerGRPC", "", {}});
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->service, "EchoServerGRPC");
  EXPECT_EQ(key->service_namespace, "default");
}

TEST(ParsePolarisTargetTest, ServiceAsPathWithNamespace) {
  absl::StatusOr<ServiceKey> key =
      ParsePolarisTarget({"", "/echo.v2-svc", {{"namespace", "Production"}}});
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->service, "echo.v2-svc");
  EXPECT_EQ(key->service_namespace, "Production");
}

void ExpectError(const TargetUri& uri, const std::string& mentions) {
  absl::StatusOr<ServiceKey> key = ParsePolarisTarget(uri);
  ASSERT_FALSE(key.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(key.status()));
  EXPECT_NE(key.status().message().find(mentions), absl::string_view::npos) << key.status();
}

TEST(ParsePolarisTargetTest, RejectsMalformedTargetsNamingThePart) {
  ExpectError({"", "", {}}, "service name is empty");
  ExpectError({"", "/", {}}, "service name is empty");
  ExpectError({"host", "/Echo", {}}, "both authority 'host' and path '/Echo'");
  ExpectError({"Echo", "", {{"zone", "z1"}}}, "unknown query parameter 'zone'");
  ExpectError({"Echo", "", {{"namespace", ""}}}, "namespace is empty");
  ExpectError({"Echo", "", {{"namespace", "a"}, {"namespace", "b"}}}, "given twice");
  ExpectError({"Echo Server", "", {}}, "has character ' '");
  ExpectError({"Echo", "", {{"namespace", "a/b"}}}, "namespace 'a/b' has character '/'");
  ExpectError({std::string(129, 'a'), "", {}}, "longer than 128");
}

}  // namespace
}  // namespace grpc_cpp_polaris
