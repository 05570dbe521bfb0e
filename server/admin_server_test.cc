#include "server/admin_server.h"

#include <atomic>

#include <gtest/gtest.h>

#include "server/admin_client_for_test.h"

namespace grpc_cpp_polaris {
namespace {

using testing::AdminRequestForTest;

TEST(AdminServerTest, ServesItsHandlersByExactPath) {
  std::atomic<int> calls{0};
  auto server = AdminServer::Start(
      AdminOptions{}, {{"/hello", [&](const AdminRequest& request) {
                          ++calls;
                          return AdminResponse{200, "hello " + request.method};
                        }},
                       {"/busy", [](const AdminRequest&) { return AdminResponse{503, "busy"}; }}});
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);
  EXPECT_EQ(AdminRequestForTest((*server)->port(), "GET", "/hello"),
            std::make_pair(200, std::string("hello GET")));
  EXPECT_EQ(AdminRequestForTest((*server)->port(), "POST", "/hello"),
            std::make_pair(200, std::string("hello POST")));
  EXPECT_EQ(AdminRequestForTest((*server)->port(), "GET", "/busy").first, 503);
  EXPECT_EQ(AdminRequestForTest((*server)->port(), "GET", "/hello/more").first, 404);
  EXPECT_EQ(AdminRequestForTest((*server)->port(), "GET", "/").first, 404);
  EXPECT_EQ(calls.load(), 2);
}

TEST(AdminServerTest, BadOptionsAreNamed) {
  AdminOptions options;
  options.address = "localhost";
  EXPECT_EQ(AdminServer::Start(options, {}).status().message(),
            "AdminOptions.address 'localhost' is not host:port (port 0..65535)");
  options = AdminOptions{};
  options.threads = 0;
  EXPECT_EQ(AdminServer::Start(options, {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AdminServer::Start(AdminOptions{}, {{"nope", [](const AdminRequest&) {
                                                   return AdminResponse{};
                                                 }}})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(AdminServerTest, APortInUseIsUnavailable) {
  auto first = AdminServer::Start(AdminOptions{}, {});
  ASSERT_TRUE(first.ok()) << first.status();
  AdminOptions options;
  options.address = "127.0.0.1:" + std::to_string((*first)->port());
  EXPECT_EQ(AdminServer::Start(options, {}).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace grpc_cpp_polaris
