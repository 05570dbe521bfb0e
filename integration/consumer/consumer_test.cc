// Uses the public client, server and mockplane APIs from another workspace.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "client/polaris_client.h"
#include "mockplane/control_plane.h"
#include "mockplane/echo_backend.h"
#include "proto/echo/echo.grpc.pb.h"
#include "server/registration.h"

namespace {

TEST(ConsumerTest, DialsARegisteredServiceByName) {
  auto plane = grpc_cpp_polaris::mockplane::ControlPlane::Start();
  ASSERT_TRUE(plane.ok()) << plane.status();
  auto backend = grpc_cpp_polaris::mockplane::EchoBackend::Start({"consumer-backend"});
  ASSERT_TRUE(backend.ok()) << backend.status();
  grpc_cpp_polaris::RegisterOptions options;
  options.service = "ConsumerEcho";
  options.control_plane_address = (*plane)->address();
  auto registration =
      grpc_cpp_polaris::Register(*(*backend)->server(), (*backend)->port(), options);
  ASSERT_TRUE(registration.ok()) << registration.status();

  grpc::ChannelArguments args;
  args.SetString(grpc_cpp_polaris::kControlPlaneAddressArg, (*plane)->address());
  auto channel = grpc::CreateCustomChannel("polaris://ConsumerEcho",
                                           grpc::InsecureChannelCredentials(), args);
  auto stub = grpc_cpp_polaris::echo::EchoServer::NewStub(channel);
  absl::StatusOr<std::string> answer =
      grpc_cpp_polaris::mockplane::CallEcho(*stub, absl::Seconds(10));
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(*answer, "consumer-backend");
}

}  // namespace
